/**
 * The project's import graph, read from the TypeScript sources (type-only imports
 * included: a cycle of types still couples two modules), for the layering tests.
 */
import * as fs from 'fs';
import * as path from 'path';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');

/** Production folders, top layer first; a module may import only from its own layer or those below it. */
export const LAYERS = ['cli', 'report', 'bench', 'scenario', 'drivers', 'sim'] as const;

/** Every `.ts` file under `dirs` (relative to the repo root), as repo-relative paths without extension. */
export function sourceModules(dirs: readonly string[]): string[] {
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const e of fs.readdirSync(path.join(REPO_ROOT, dir), { withFileTypes: true })) {
      const rel = path.posix.join(dir, e.name);
      if (e.isDirectory()) walk(rel);
      else if (e.name.endsWith('.ts') && !e.name.endsWith('.d.ts')) out.push(rel.slice(0, -3));
    }
  };
  for (const d of dirs) {
    if (d.endsWith('.ts')) out.push(d.slice(0, -3));
    else walk(d);
  }
  return out.sort();
}

const IMPORT_RE = /(?:^|\n)\s*(?:import|export)\s+(?:type\s+)?(?:[^'";]*?\s+from\s+)?['"]([^'"]+)['"]|require\(\s*['"]([^'"]+)['"]\s*\)/g;

/** The relative imports of module `mod` (repo-relative, no extension), resolved to modules. */
export function importsOf(mod: string): string[] {
  const text = fs.readFileSync(path.join(REPO_ROOT, `${mod}.ts`), 'utf8');
  const out = new Set<string>();
  for (const m of text.matchAll(IMPORT_RE)) {
    const spec = m[1] ?? m[2];
    if (!spec.startsWith('.')) continue;
    const target = path.posix.normalize(path.posix.join(path.posix.dirname(mod), spec));
    if (fs.existsSync(path.join(REPO_ROOT, `${target}.ts`))) out.add(target);
    else if (fs.existsSync(path.join(REPO_ROOT, target, 'index.ts'))) out.add(`${target}/index`);
    else if (!fs.existsSync(path.join(REPO_ROOT, target))) throw new Error(`${mod}: cannot resolve import "${spec}"`);
  }
  return [...out].sort();
}

/** Strongly connected components with more than one module (or a self-import): the import cycles. */
export function findCycles(graph: ReadonlyMap<string, readonly string[]>): string[][] {
  let index = 0;
  const idx = new Map<string, number>();
  const low = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const cycles: string[][] = [];
  const visit = (v: string) => {
    idx.set(v, index);
    low.set(v, index++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!idx.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) {
        low.set(v, Math.min(low.get(v)!, idx.get(w)!));
      }
    }
    if (low.get(v) === idx.get(v)) {
      const scc: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        scc.push(w);
      } while (w !== v);
      if (scc.length > 1 || (graph.get(v) ?? []).includes(v)) cycles.push(scc.sort());
    }
  };
  for (const v of graph.keys()) if (!idx.has(v)) visit(v);
  return cycles;
}
