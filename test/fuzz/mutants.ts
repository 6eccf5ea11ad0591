/**
 * Config mutants for the "validate accepts ⇒ run runs" check (issue 11): every numeric
 * and enum field of every bundled SoC config and scenario, set to each hostile value.
 */
import * as fs from 'fs';
import * as path from 'path';

export const CONFIG_DIR = path.resolve(__dirname, '..', '..', 'soc-configs');

export type JsonPath = (string | number)[];

export interface Mutant {
  /** The bundled scenario that is run (its SoC file is mutated when `target` is 'soc'). */
  scenario: string;
  target: 'soc' | 'scenario';
  path: JsonPath;
  value: unknown;
}

/**
 * 0, -1, 1.5, 1e308 and "x" (issue 11), plus values that tend to break cross-field rules
 * (ways dividing entries, FIFOs at least a burst, powers of two), a plausible but small
 * memory size (16 MiB: below the kernel's default CMA region) and a huge size.
 */
export const HOSTILE_VALUES: readonly unknown[] = [
  0, -1, 1.5, 1e308, 'x', 3, 32, 2 ** 24, 2 ** 40,
  // Tiny and huge-but-finite: periods of 1e-300 Hz, denormals, the end of exact integers, a 32-bit sign bit.
  1e-300, Number.MIN_VALUE, 2 ** 53, 2 ** 31,
];

/** Enum-valued property names, read from the generated JSON Schemas (so new enums are covered without editing this file). */
export function enumProperties(): Set<string> {
  const names = new Set<string>();
  const visit = (node: unknown, key: string | null): void => {
    if (Array.isArray(node)) { node.forEach((n) => visit(n, key)); return; }
    if (!node || typeof node !== 'object') return;
    const o = node as Record<string, unknown>;
    if (key && (Array.isArray(o.enum) || 'const' in o) && key !== 'kind') names.add(key);
    for (const [k, v] of Object.entries(o)) {
      if (k === 'properties' && v && typeof v === 'object') for (const [pk, pv] of Object.entries(v)) visit(pv, pk);
      else visit(v, key);
    }
  };
  for (const f of ['schema.json', 'scenario.schema.json']) visit(JSON.parse(fs.readFileSync(path.join(CONFIG_DIR, f), 'utf8')), null);
  return names;
}

/** Leaves worth mutating: numbers, quantity strings ("4KiB", "1GHz", "0x8000_0000", "10us") and enum values. */
export function mutableLeaves(doc: unknown, enums: Set<string>): JsonPath[] {
  const out: JsonPath[] = [];
  const walk = (node: unknown, at: JsonPath): void => {
    const key = at[at.length - 1];
    if (key === 'notes' || key === '$schema' || key === 'description') return;
    if (Array.isArray(node)) { node.forEach((n, i) => walk(n, [...at, i])); return; }
    if (node && typeof node === 'object') { for (const [k, v] of Object.entries(node)) walk(v, [...at, k]); return; }
    if (typeof node === 'number') out.push(at);
    else if (typeof node === 'string' && (/^[0-9]/.test(node) || (typeof key === 'string' && enums.has(key)))) out.push(at);
  };
  walk(doc, []);
  return out;
}

export function setAt(doc: unknown, at: JsonPath, value: unknown): unknown {
  const copy = JSON.parse(JSON.stringify(doc));
  let node = copy;
  for (const k of at.slice(0, -1)) node = node[k];
  node[at[at.length - 1]] = value;
  return copy;
}

/** Every mutant of every bundled scenario and of the SoC file of the first scenario that uses it. */
export function allMutants(): Mutant[] {
  const enums = enumProperties();
  const dir = path.join(CONFIG_DIR, 'scenarios');
  const scenarios = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort();
  const socDone = new Set<string>();
  const out: Mutant[] = [];
  for (const s of scenarios) {
    const file = path.join(dir, s);
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    for (const at of mutableLeaves(doc, enums)) for (const value of HOSTILE_VALUES) out.push({ scenario: file, target: 'scenario', path: at, value });
    const socFile = path.resolve(dir, doc.soc);
    if (socDone.has(socFile)) continue;
    socDone.add(socFile);
    const soc = JSON.parse(fs.readFileSync(socFile, 'utf8'));
    for (const at of mutableLeaves(soc, enums)) for (const value of HOSTILE_VALUES) out.push({ scenario: file, target: 'soc', path: at, value });
  }
  return out;
}

/** Writes the mutant's scenario (and SoC) into `dir`; returns the scenario path. */
export function writeMutant(m: Mutant, dir: string): string {
  const scenario = JSON.parse(fs.readFileSync(m.scenario, 'utf8'));
  const socFile = path.resolve(path.dirname(m.scenario), scenario.soc);
  let soc = JSON.parse(fs.readFileSync(socFile, 'utf8'));
  let sc: Record<string, unknown> = scenario;
  if (m.target === 'soc') soc = setAt(soc, m.path, m.value);
  else sc = setAt(scenario, m.path, m.value) as Record<string, unknown>;
  const socOut = path.join(dir, 'soc.json');
  fs.writeFileSync(socOut, JSON.stringify(soc));
  // Trace files and other relative inputs stay where the bundled scenario has them.
  const rebase = (v: unknown) => (typeof v === 'string' && !path.isAbsolute(v) ? path.resolve(path.dirname(m.scenario), v) : v);
  if (Array.isArray(sc.jobs)) sc.jobs = sc.jobs.map((j: Record<string, unknown>) => (j && typeof j === 'object' && 'trace' in j ? { ...j, trace: rebase(j.trace) } : j));
  const out = path.join(dir, 'scenario.json');
  fs.writeFileSync(out, JSON.stringify({ ...sc, soc: socOut }));
  return out;
}

export function describeMutant(m: Mutant): string {
  return `${path.basename(m.scenario)} ${m.target}.${m.path.join('.')} = ${JSON.stringify(m.value)}`;
}
