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
    // An inline SoC is part of the scenario: its leaves are among the scenario's mutants.
    if (typeof doc.soc !== 'string') continue;
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
  const inline = typeof scenario.soc !== 'string';
  let soc = socOf(m.scenario, scenario);
  let sc: Record<string, unknown> = scenario;
  if (m.target === 'soc') soc = setAt(soc, m.path, m.value) as Record<string, unknown>;
  else sc = setAt(scenario, m.path, m.value) as Record<string, unknown>;
  const socOut = path.join(dir, 'soc.json');
  if (!inline) fs.writeFileSync(socOut, JSON.stringify(soc));
  // Trace files and other relative inputs stay where the bundled scenario has them.
  const rebase = (v: unknown) => (typeof v === 'string' && !path.isAbsolute(v) ? path.resolve(path.dirname(m.scenario), v) : v);
  if (Array.isArray(sc.jobs)) sc.jobs = sc.jobs.map((j: Record<string, unknown>) => (j && typeof j === 'object' && 'trace' in j ? { ...j, trace: rebase(j.trace) } : j));
  const out = path.join(dir, 'scenario.json');
  fs.writeFileSync(out, JSON.stringify(inline ? sc : { ...sc, soc: socOut }));
  return out;
}

/** The scenario's SoC config: inline, or read from the file it names. */
function socOf(scenarioFile: string, sc: { soc: unknown }): Record<string, unknown> {
  return typeof sc.soc === 'string' ? JSON.parse(fs.readFileSync(path.resolve(path.dirname(scenarioFile), sc.soc), 'utf8')) : sc.soc as Record<string, unknown>;
}

export function describeMutant(m: Mutant): string {
  return `${path.basename(m.scenario)} ${m.target}.${m.path.join('.')} = ${JSON.stringify(m.value)}`;
}

/**
 * Name mutants (issue 15, item 4): each kind of user-chosen name, renamed everywhere it
 * is referenced, to a hostile name. Names that pass the rules must run; the rest must be
 * refused with the JSON path.
 */
export type NameKind = 'soc' | 'scenario' | 'clock' | 'bus' | 'memory' | 'bridge' | 'iommu' | 'cpuMmu' | 'core' | 'device' | 'job' | 'buffer';

export interface NameMutant {
  scenario: string;
  kind: NameKind;
  /** The bundled name that is renamed. */
  from: string;
  to: string;
  /** Rename only the references (a name nothing declares): must be refused as unknown. */
  dangling?: boolean;
}

/** Prototype keys, separators, blanks, control characters, unicode and overlong names. */
export const HOSTILE_NAMES: readonly string[] = [
  'constructor', '__proto__', 'toString', 'hasOwnProperty', 'valueOf', '', ' ', 'a.b', 'a/b', 'a\nb', 'ñandú', 'x'.repeat(200),
];

/** Where each kind of name is declared (the list it lives in) and the fields that refer to it. */
const NAME_SITES: Record<Exclude<NameKind, 'soc' | 'scenario' | 'clock' | 'core'>, { doc: 'soc' | 'scenario'; list: string; refs: string[] }> = {
  bus: { doc: 'soc', list: 'buses', refs: ['bus', 'from', 'to'] },
  memory: { doc: 'soc', list: 'memories', refs: [] },
  bridge: { doc: 'soc', list: 'bridges', refs: [] },
  iommu: { doc: 'soc', list: 'iommus', refs: ['iommu'] },
  cpuMmu: { doc: 'soc', list: 'cpuMmus', refs: [] },
  device: { doc: 'soc', list: 'devices', refs: ['device'] },
  job: { doc: 'scenario', list: 'jobs', refs: [] },
  buffer: { doc: 'scenario', list: 'buffers', refs: ['buffer'] },
};

/** Replaces string values `from` under any of `keys`, anywhere in `node` (notes excepted). */
function renameRefs(node: unknown, keys: readonly string[], from: string, to: string): unknown {
  if (Array.isArray(node)) return node.map((n) => renameRefs(n, keys, from, to));
  if (!node || typeof node !== 'object') return node;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(node)) {
    if (k === 'notes') out[k] = v;
    else if (keys.includes(k) && v === from) out[k] = to;
    else out[k] = renameRefs(v, keys, from, to);
  }
  return out;
}

/** The names of a kind that a SoC and scenario declare. */
function declaredNames(kind: NameKind, soc: Record<string, any>, sc: Record<string, any>): string[] {
  if (kind === 'soc') return [soc.name];
  if (kind === 'scenario') return [sc.name];
  if (kind === 'clock') return Object.keys(soc.clocks ?? {});
  if (kind === 'core') return (soc.cpuMmus ?? []).flatMap((m: any) => (m.cores ?? []).map((c: any) => c.name));
  const site = NAME_SITES[kind];
  return ((site.doc === 'soc' ? soc : sc)[site.list] ?? []).map((e: any) => e.name);
}

/** The SoC and scenario with one name renamed at its declaration and at every reference. */
export function renameIn(kind: NameKind, soc: Record<string, any>, sc: Record<string, any>, from: string, to: string, dangling = false): { soc: Record<string, any>; scenario: Record<string, any> } {
  soc = JSON.parse(JSON.stringify(soc));
  sc = JSON.parse(JSON.stringify(sc));
  const rename = (e: any) => (e.name === from && !dangling ? { ...e, name: to } : e);
  if (kind === 'soc') soc.name = to;
  else if (kind === 'scenario') sc.name = to;
  else if (kind === 'clock') {
    // Keep the key order: a clock's position does not matter, but a stable order keeps configs diffable.
    soc.clocks = Object.fromEntries(Object.entries(soc.clocks).map(([k, v]) => [k === from && !dangling ? to : k, v]));
    soc = renameRefs(soc, ['clock'], from, to) as Record<string, any>;
  } else if (kind === 'core') {
    soc.cpuMmus = soc.cpuMmus.map((m: any) => ({ ...m, cores: (m.cores ?? []).map(rename) }));
    sc = renameRefs(sc, ['core'], from, to) as Record<string, any>;
  } else {
    const site = NAME_SITES[kind];
    const doc = site.doc === 'soc' ? soc : sc;
    doc[site.list] = doc[site.list].map(rename);
    soc = renameRefs(soc, site.refs, from, to) as Record<string, any>;
    sc = renameRefs(sc, site.refs, from, to) as Record<string, any>;
  }
  return { soc, scenario: sc };
}

/** Kinds of names that other fields refer to. */
const NAME_REFERENCED: readonly NameKind[] = ['clock', 'bus', 'iommu', 'core', 'device', 'buffer'];

/** For each kind of name, the first bundled scenario that declares one (its first name), renamed to each hostile name. */
export function nameMutants(names: readonly string[] = HOSTILE_NAMES): NameMutant[] {
  const dir = path.join(CONFIG_DIR, 'scenarios');
  const kinds: NameKind[] = ['soc', 'scenario', 'clock', 'bus', 'memory', 'bridge', 'iommu', 'cpuMmu', 'core', 'device', 'job', 'buffer'];
  const out: NameMutant[] = [];
  for (const kind of kinds) {
    // default.json last: its 16 MiB random fill takes seconds before time zero.
    const files = fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort((a, b) => Number(a === 'default.json') - Number(b === 'default.json') || a.localeCompare(b));
    for (const s of files) {
      const file = path.join(dir, s);
      const sc = JSON.parse(fs.readFileSync(file, 'utf8'));
      const soc = socOf(file, sc);
      const declared = declaredNames(kind, soc, sc);
      if (!declared.length) continue;
      // A referenced kind: the first scenario that refers to the name (a CPU core some job runs on).
      const referenced = JSON.stringify(renameIn(kind, soc, sc, declared[0], 'renamed', true)) !== JSON.stringify({ soc, scenario: sc });
      if (NAME_REFERENCED.includes(kind) && !referenced) continue;
      for (const to of names) out.push({ scenario: file, kind, from: declared[0], to });
      if (NAME_REFERENCED.includes(kind)) for (const to of names) out.push({ scenario: file, kind, from: declared[0], to, dangling: true });
      break;
    }
  }
  return out;
}

/** Writes a name mutant's scenario and SoC into `dir`; returns the scenario path. */
export function writeNameMutant(m: NameMutant, dir: string): string {
  const sc = JSON.parse(fs.readFileSync(m.scenario, 'utf8'));
  const inline = typeof sc.soc !== 'string';
  const r = renameIn(m.kind, socOf(m.scenario, sc), sc, m.from, m.to, m.dangling);
  const socOut = path.join(dir, 'soc.json');
  if (!inline) fs.writeFileSync(socOut, JSON.stringify(r.soc));
  const rebase = (v: unknown) => (typeof v === 'string' && !path.isAbsolute(v) ? path.resolve(path.dirname(m.scenario), v) : v);
  const jobs = r.scenario.jobs.map((j: Record<string, unknown>) => ('trace' in j ? { ...j, trace: rebase(j.trace) } : j));
  const out = path.join(dir, 'scenario.json');
  fs.writeFileSync(out, JSON.stringify({ ...r.scenario, jobs, soc: inline ? r.soc : socOut }));
  return out;
}

export function describeNameMutant(m: NameMutant): string {
  const to = m.to.length > 20 ? `${JSON.stringify(m.to.slice(0, 8))}… (${m.to.length} chars)` : JSON.stringify(m.to);
  return `${path.basename(m.scenario)} ${m.kind} "${m.from}" → ${to}${m.dangling ? ' (references only)' : ''}`;
}
