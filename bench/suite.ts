/**
 * The scenario benchmark suite (issue 7, items 3 and 4): every bundled scenario
 * (soc-configs/scenarios/*.json) is run and two kinds of figures are taken from it.
 *
 * - counts: per translation unit (every `soc.<unit>` with an `l2tlb`): TLB lookups,
 *   hits and misses (L1 summed over the unit's device inputs and per input, L2), walks,
 *   walk memory reads, walk faults, mean and p99 walk latency, translation faults,
 *   invalidation commands at the unit (`soc.<unit>.cmd.*`, `soc.<unit>.l2tlb.invalidations`)
 *   and from the kernel (`kernel.<unit>.pgtable.inval_cmds`/`sync_cmds`,
 *   `kernel.<unit>.pgtable.tlbi_ops`). Keys are the stat names of `socsim run --stats json`,
 *   except the L1 sums `soc.<unit>.l1tlb.*`. The simulation is deterministic, so any
 *   change of a count (walk latency included: it is simulated time) is a change of
 *   behaviour and the comparison with the baseline gates on it.
 * - speed: host figures of the same run: `host_ms` (process.hrtime around `runLoaded`,
 *   so the kernel boot and buffer fills are included), `events` (`sim.events`) and
 *   `events_per_s`, `bus_txns` (transactions the crossbars granted to slaves, the
 *   kernel's atomic-path page-table writes included) and `bus_txns_per_s`. Noisy:
 *   reported, never gated.
 *
 * Plus a fixed micro-run (`micro`): atomic IOMMU translations per host second on TLB
 * hits (the shape of bench/translation.bench.ts's `translation.atomic.tlb_hit`).
 *
 * `quick` runs each scenario only to `quickUntil(name)` of simulated time, so CI can
 * smoke the whole suite in seconds; the counts of a quick run are as deterministic as
 * those of a full one. The committed bench/baseline.json is a quick run.
 *
 * JSON shape (the output of `socsim bench --json` and of bench/baseline.json):
 *   { version, quick, scenarios: { <file name without .json>: { until_ps, counts, speed } },
 *     micro: { <name>: { counts, speed } } }
 */
import * as fs from 'fs';
import * as path from 'path';
import { runLoaded, type RunOutput } from '../scenario/run';
import { loadScenario } from '../scenario/load';
import { parseOverride } from '../scenario/overrides';
import type { StatsDump, StatValue } from '../sim/engine/stats';
import { PS_PER_US, type Tick } from '../sim/engine/time';
import { bundled } from './paths';
import { atomicTranslations } from './translation.bench';

/** Bumped when the meaning or the names of the figures change (old baselines then differ). */
export const SUITE_VERSION = 1;

export type CountValue = number | null;

export interface ScenarioFigures {
  /** Simulated stop time of a quick run (ps); null: the scenario's own `until` or its end. */
  until_ps: number | null;
  counts: Record<string, CountValue>;
  speed: Record<string, number>;
}

export interface MicroFigures {
  counts: Record<string, CountValue>;
  speed: Record<string, number>;
}

export interface SuiteResult {
  version: number;
  quick: boolean;
  /** `--set` overrides applied to every scenario; absent when none (counts are only comparable under the same ones). */
  overrides?: string[];
  scenarios: Record<string, ScenarioFigures>;
  micro: Record<string, MicroFigures>;
}

export interface SuiteOptions {
  quick?: boolean;
  /** Bundled scenario names (file names without `.json`; `.json` is accepted) or users' scenario files; default all bundled. */
  scenarios?: string[];
  /** Scenarios directory; default soc-configs/scenarios. */
  dir?: string;
  /** `--set` overrides applied to every scenario. */
  sets?: readonly string[];
}

// ---------------------------------------------------------------------------------
// Scenarios and quick mode

/**
 * Simulated time a quick run stops at, per bundled scenario: long enough for every
 * translation unit the scenario uses to translate thousands of times and walk (where
 * it walks at all), short enough that the whole quick suite takes a few seconds (the
 * host time of most runs is dominated by booting the kernel and filling buffers).
 * - default, mobile-display: 200 us. Their devices are direct-mapped (no translation),
 *   so only the speed figures matter.
 * - minimal-cpu-trace: 50 us, the whole trace (it ends at ~3 us).
 * - GPU sweeps (dgpu-*, mobile-gpu-texture-*), mobile-display-gpu-contention and
 *   mobile-camera-codec: 500 us (~18 K-52 K L1 lookups; 64-12.5 K walks).
 * - server-io-*: 1 ms (~1 K packets at 1 Mpps, ~9 K offered at 9 Mpps; the storage
 *   scatter-gather job ends before).
 */
export const QUICK_UNTIL_PS: Readonly<Record<string, Tick>> = Object.freeze({
  'default': 200 * PS_PER_US,
  'dgpu-gf100-texture-128k': 500 * PS_PER_US,
  'dgpu-gf100-texture-4k': 500 * PS_PER_US,
  'minimal-cpu-trace': 50 * PS_PER_US,
  'mobile-camera-codec': 500 * PS_PER_US,
  'mobile-display-gpu-contention': 500 * PS_PER_US,
  'mobile-display': 200 * PS_PER_US,
  'mobile-gpu-texture-2m': 500 * PS_PER_US,
  'mobile-gpu-texture-4k': 500 * PS_PER_US,
  'mobile-gpu-texture-64k': 500 * PS_PER_US,
  'server-io-nic-lazy': 1000 * PS_PER_US,
  'server-io-nic-ring-1024': 1000 * PS_PER_US,
  'server-io-nic-ring-32': 1000 * PS_PER_US,
  'server-io-nic-strict': 1000 * PS_PER_US,
  'server-io-nic-tx': 1000 * PS_PER_US,
  'server-io-storage-sg': 1000 * PS_PER_US,
});

/** Quick-mode stop time of a scenario not in QUICK_UNTIL_PS (a newly bundled one). */
export const QUICK_UNTIL_DEFAULT_PS: Tick = 500 * PS_PER_US;

export function quickUntil(name: string): Tick {
  return ownValue(QUICK_UNTIL_PS, name) ?? QUICK_UNTIL_DEFAULT_PS;
}

export interface ScenarioFile {
  /** File name without `.json`: the key in the results. */
  name: string;
  file: string;
}

/** The bundled scenarios (or those of `dir`), sorted by file name. */
export function listScenarios(dir = bundled('scenarios')): ScenarioFile[] {
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()
    .map((f) => ({ name: f.slice(0, -'.json'.length), file: path.join(dir, f) }));
}

/** Thrown for a scenario that is neither a file nor bundled, or two chosen scenarios of one name. */
export class UnknownScenarioError extends Error {}

/**
 * The chosen scenarios: an existing file is a user's scenario (keyed by its file name
 * without `.json`), anything else a bundled name.
 */
export function selectScenarios(all: ScenarioFile[], names: string[] | undefined): ScenarioFile[] {
  if (!names || names.length === 0) return all;
  const chosen = names.map((n) => {
    const key = path.basename(n).replace(/\.json$/, '');
    if (fs.existsSync(n) && fs.statSync(n).isFile()) return { name: key, file: path.resolve(n) };
    const s = all.find((e) => e.name === key);
    if (!s) throw new UnknownScenarioError(`unknown scenario "${n}": not a file, and not bundled (bundled: ${all.map((e) => e.name).join(', ')})`);
    return s;
  });
  const seen = new Set<string>();
  for (const s of chosen) {
    if (seen.has(s.name)) throw new UnknownScenarioError(`two scenarios are named "${s.name}": results are keyed by file name, so rename one`);
    seen.add(s.name);
  }
  return chosen;
}

// ---------------------------------------------------------------------------------
// Counts

const num = (v: StatValue | undefined): CountValue => (typeof v === 'number' ? v : null);

/** Translation units: `soc.<unit>` with an `l2tlb`, sorted. */
export function translationUnits(stats: StatsDump): string[] {
  const units: string[] = [];
  for (const k of Object.keys(stats)) {
    const m = /^soc\.([^.]+)\.l2tlb\.lookups$/.exec(k);
    if (m) units.push(m[1]);
  }
  return units.sort();
}

/** Device inputs of a unit: `soc.<unit>.<input>.l1tlb`, sorted. */
export function unitInputs(stats: StatsDump, unit: string): string[] {
  const re = new RegExp(`^soc\\.${unit}\\.([^.]+)\\.l1tlb\\.lookups$`);
  const inputs: string[] = [];
  for (const k of Object.keys(stats)) {
    const m = re.exec(k);
    if (m) inputs.push(m[1]);
  }
  return inputs.sort();
}

const TLB_FIELDS = ['lookups', 'hits', 'misses'] as const;
const WALKER_FIELDS = ['walks', 'mem_reads', 'faults', 'latency_ns.mean', 'latency_ns.p99'] as const;

/** The deterministic figures of one run, keyed by stat name (see the file comment). */
export function collectCounts(stats: StatsDump): Record<string, CountValue> {
  const c: Record<string, CountValue> = {};
  const put = (key: string) => {
    if (Object.hasOwn(stats, key)) c[key] = num(stats[key]);
  };
  for (const u of translationUnits(stats)) {
    const p = `soc.${u}`;
    const inputs = unitInputs(stats, u);
    for (const f of TLB_FIELDS) {
      c[`${p}.l1tlb.${f}`] = inputs.reduce((a, i) => a + (num(stats[`${p}.${i}.l1tlb.${f}`]) ?? 0), 0);
    }
    for (const i of inputs) for (const f of TLB_FIELDS) put(`${p}.${i}.l1tlb.${f}`);
    for (const f of TLB_FIELDS) put(`${p}.l2tlb.${f}`);
    for (const f of WALKER_FIELDS) put(`${p}.walker.${f}`);
    put(`${p}.faults`);
    for (const k of Object.keys(stats)) if (k.startsWith(`${p}.cmd.`)) put(k);
    put(`${p}.l2tlb.invalidations`);
    put(`kernel.${u}.pgtable.inval_cmds`);
    put(`kernel.${u}.pgtable.sync_cmds`);
    put(`kernel.${u}.pgtable.tlbi_ops`);
  }
  return c;
}

/**
 * Transactions the crossbars granted to their slaves, summed over every crossbar: the
 * output ports are those with `stalled_ps` (inputs have none). A transaction that
 * crosses a bridge counts once per crossbar.
 */
export function busTransactions(out: RunOutput): number {
  let n = 0;
  for (const bus of out.soc.buses.keys()) {
    const prefix = `soc.${bus}.`;
    for (const [k, v] of Object.entries(out.stats)) {
      if (!k.startsWith(prefix) || !k.endsWith('.transactions')) continue;
      const port = k.slice(prefix.length, -'.transactions'.length);
      if (!port.includes('.') && `${prefix}${port}.stalled_ps` in out.stats && typeof v === 'number') n += v;
    }
  }
  return n;
}

/** Three significant digits: speed figures are noisy, more digits only churn the baseline. */
function sig(x: number): number {
  return Number.isFinite(x) ? Number(x.toPrecision(3)) : 0;
}

export function runScenario(s: ScenarioFile, quick: boolean, sets: readonly string[] = []): ScenarioFigures {
  const loaded = loadScenario(s.file, sets.map(parseOverride));
  const until = quick ? Math.min(quickUntil(s.name), loaded.scenario.until ?? Infinity) : undefined;
  const t0 = process.hrtime.bigint();
  const out = runLoaded(loaded, until !== undefined ? { until } : {});
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  const events = out.events;
  const txns = busTransactions(out);
  return {
    until_ps: until ?? null,
    counts: collectCounts(out.stats),
    speed: {
      host_ms: sig(secs * 1e3),
      events,
      events_per_s: sig(events / secs),
      bus_txns: txns,
      bus_txns_per_s: sig(txns / secs),
    },
  };
}

// ---------------------------------------------------------------------------------
// Micro-run: atomic translations

/**
 * Atomic IOMMU translations per host second: 16 pages in a 64-entry L1 TLB, so after
 * the first 16 walks every translation hits (translation only: the bus side is a
 * sink). The rig of translation.bench.ts's `translation.atomic.tlb_hit`.
 */
export function atomicTranslationMicro(n: number): MicroFigures {
  const { secs, stats: st } = atomicTranslations(n, true);
  return {
    counts: {
      translations: st.value('soc.iommu.translations'),
      'l1tlb.hits': st.value('soc.iommu.dev.l1tlb.hits'),
      'l1tlb.misses': st.value('soc.iommu.dev.l1tlb.misses'),
      'walker.walks': st.value('soc.iommu.walker.walks'),
      'walker.mem_reads': st.value('soc.iommu.walker.mem_reads'),
    },
    speed: { host_ms: sig(secs * 1e3), translations_per_s: sig(n / secs) },
  };
}

/** Translations per timed loop of the micro-run (one more loop warms up). */
export const MICRO_TRANSLATIONS = { quick: 200_000, full: 5_000_000 } as const;

// ---------------------------------------------------------------------------------
// The suite

export function runSuite(opts: SuiteOptions = {}): SuiteResult {
  const quick = opts.quick ?? false;
  const chosen = selectScenarios(listScenarios(opts.dir), opts.scenarios);
  const scenarios: Record<string, ScenarioFigures> = Object.create(null); // keyed by users' file names
  const sets = opts.sets ?? [];
  for (const s of chosen) scenarios[s.name] = runScenario(s, quick, sets);
  const micro = { 'translation.atomic.tlb_hit': atomicTranslationMicro(quick ? MICRO_TRANSLATIONS.quick : MICRO_TRANSLATIONS.full) };
  return { version: SUITE_VERSION, quick, ...(sets.length > 0 ? { overrides: [...sets] } : {}), scenarios, micro };
}

// ---------------------------------------------------------------------------------
// Comparison with a baseline

export interface CountChange {
  /** Scenario name, or `micro:<name>`. */
  scenario: string;
  /** Stat name; '' when the whole scenario is missing on one side. */
  metric: string;
  baseline: CountValue | undefined;
  now: CountValue | undefined;
  /** (now - baseline) / baseline × 100; null when it has no meaning (0 or null baseline, missing side). */
  deltaPct: number | null;
  /** What happened, for lines that are not a plain value change. */
  note?: string;
}

export interface SpeedDelta {
  scenario: string;
  metric: string;
  baseline: number;
  now: number;
  deltaPct: number | null;
}

export interface Comparison {
  /** False when the baseline's version or mode differs: nothing is then compared. */
  comparable: boolean;
  reason?: string;
  /** Count figures compared (equal or not). */
  countsCompared: number;
  countChanges: CountChange[];
  speed: SpeedDelta[];
}

function deltaPct(base: CountValue | undefined, now: CountValue | undefined): number | null {
  if (typeof base !== 'number' || typeof now !== 'number' || base === 0) return null;
  return ((now - base) / base) * 100;
}

/** Equal, allowing for the last bits of a double (counts are integers; latencies are not). */
function sameCount(a: CountValue | undefined, b: CountValue | undefined): boolean {
  if (a === b) return true;
  if (typeof a !== 'number' || typeof b !== 'number') return false;
  return Math.abs(a - b) <= 1e-9 * Math.max(Math.abs(a), Math.abs(b));
}

function compareCounts(scenario: string, base: Record<string, CountValue>, now: Record<string, CountValue>, out: Comparison): void {
  const keys = [...new Set([...Object.keys(base), ...Object.keys(now)])].sort();
  for (const k of keys) {
    const inBase = Object.hasOwn(base, k);
    const inNow = Object.hasOwn(now, k);
    out.countsCompared++;
    if (inBase && inNow && sameCount(base[k], now[k])) continue;
    const change: CountChange = { scenario, metric: k, baseline: inBase ? base[k] : undefined, now: inNow ? now[k] : undefined, deltaPct: deltaPct(base[k], now[k]) };
    if (!inBase) change.note = 'not in the baseline';
    else if (!inNow) change.note = 'no longer reported';
    out.countChanges.push(change);
  }
}

function compareSpeed(scenario: string, base: Record<string, number>, now: Record<string, number>, out: Comparison): void {
  for (const k of Object.keys(now)) {
    if (!Object.hasOwn(base, k) || typeof base[k] !== 'number') continue;
    out.speed.push({ scenario, metric: k, baseline: base[k], now: now[k], deltaPct: deltaPct(base[k], now[k]) });
  }
}

function ownValue<T>(o: Record<string, T> | undefined, key: string): T | undefined {
  return o && Object.hasOwn(o, key) ? o[key] : undefined;
}

/**
 * Compares a run with a baseline. Scenarios of the run missing from the baseline, and
 * (unless `partial`: the run chose its scenarios) baseline scenarios the run lacks, are
 * count changes: the baseline must be updated on purpose.
 */
export function compareWithBaseline(now: SuiteResult, base: SuiteResult, partial = false): Comparison {
  const out: Comparison = { comparable: true, countsCompared: 0, countChanges: [], speed: [] };
  if (base.version !== now.version) {
    out.comparable = false;
    out.reason = `the baseline is version ${base.version}, this suite is version ${now.version}`;
  } else if (base.quick !== now.quick) {
    out.comparable = false;
    out.reason = `the baseline is a ${base.quick ? 'quick' : 'full'} run, this is a ${now.quick ? 'quick' : 'full'} run`;
  } else if (JSON.stringify(base.overrides ?? []) !== JSON.stringify(now.overrides ?? [])) {
    out.comparable = false;
    const list = (o: string[] | undefined) => (o?.length ? o.map((x) => `--set ${x}`).join(' ') : 'no overrides');
    out.reason = `the baseline was run with ${list(base.overrides)}, this run with ${list(now.overrides)}`;
  }
  if (!out.comparable) return out; // neither counts nor speed mean anything across modes or versions
  const names = [...new Set([...Object.keys(now.scenarios), ...(partial ? [] : Object.keys(base.scenarios ?? {}))])].sort();
  for (const name of names) {
    // Scenario names are users' names ("constructor" is one): own properties only.
    const b = ownValue(base.scenarios, name);
    const n = ownValue(now.scenarios, name);
    if (b && n) {
      compareCounts(name, b.counts, n.counts, out);
      compareSpeed(name, b.speed, n.speed, out);
    } else {
      out.countChanges.push({ scenario: name, metric: '', baseline: undefined, now: undefined, deltaPct: null, note: b ? 'scenario not run (no longer bundled?)' : 'scenario not in the baseline' });
    }
  }
  for (const [name, n] of Object.entries(now.micro)) {
    const b = ownValue(base.micro, name);
    if (!b) continue;
    compareCounts(`micro:${name}`, b.counts, n.counts, out);
    compareSpeed(`micro:${name}`, b.speed, n.speed, out);
  }
  return out;
}

// ---------------------------------------------------------------------------------
// Formatting

export function formatNumber(v: CountValue | undefined): string {
  if (v === undefined) return '-';
  if (v === null) return 'null';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1e5 ? v.toExponential(3) : String(Number(v.toPrecision(6)));
}

export function formatDelta(d: number | null): string {
  if (d === null) return 'n/a';
  return `${d >= 0 ? '+' : ''}${d.toFixed(2)}%`;
}

/** `scenario: metric: baseline X, now Y, delta Z%`: one line per count change. */
export function formatCountChange(c: CountChange): string {
  if (c.metric === '') return `${c.scenario}: ${c.note}`;
  const note = c.note ? ` (${c.note})` : '';
  return `${c.scenario}: ${c.metric}: baseline ${formatNumber(c.baseline)}, now ${formatNumber(c.now)}, delta ${formatDelta(c.deltaPct)}${note}`;
}

/** Left-aligned first columns, right-aligned numbers. */
export function alignTable(header: string[], rows: string[][], leftCols = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (i < leftCols ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n');
}

const sumCmds = (c: Record<string, CountValue>, p: string): number | undefined => {
  const keys = Object.keys(c).filter((k) => k.startsWith(`${p}.cmd.invalidate_`));
  return keys.length ? keys.reduce((a, k) => a + (c[k] ?? 0), 0) : undefined;
};

/** The counts table: one row per translation unit and one per device input. */
export function formatCountsTable(r: SuiteResult): string {
  const header = ['scenario', 'unit', 'l1 lookups', 'l1 hits', 'l1 misses', 'l2 lookups', 'l2 hits', 'l2 misses',
    'walks', 'walk reads', 'walk ns mean', 'walk ns p99', 'faults', 'inval cmds', 'kernel inval'];
  const rows: string[][] = [];
  const f = (v: CountValue | undefined) => (typeof v === 'number' && !Number.isInteger(v) ? v.toFixed(1) : formatNumber(v));
  for (const [name, s] of Object.entries(r.scenarios)) {
    const c = s.counts;
    const units = [...new Set(Object.keys(c).map((k) => /^soc\.([^.]+)\.l2tlb\./.exec(k)?.[1]).filter((u): u is string => !!u))].sort();
    for (const u of units) {
      const p = `soc.${u}`;
      const kernel = c[`kernel.${u}.pgtable.inval_cmds`] ?? c[`kernel.${u}.pgtable.tlbi_ops`];
      rows.push([name, u, f(c[`${p}.l1tlb.lookups`]), f(c[`${p}.l1tlb.hits`]), f(c[`${p}.l1tlb.misses`]),
        f(c[`${p}.l2tlb.lookups`]), f(c[`${p}.l2tlb.hits`]), f(c[`${p}.l2tlb.misses`]),
        f(c[`${p}.walker.walks`]), f(c[`${p}.walker.mem_reads`]), f(c[`${p}.walker.latency_ns.mean`]), f(c[`${p}.walker.latency_ns.p99`]),
        f(c[`${p}.faults`]), f(sumCmds(c, p)), f(kernel)]);
      const inputs = [...new Set(Object.keys(c).map((k) => new RegExp(`^${p.replace('.', '\\.')}\\.([^.]+)\\.l1tlb\\.lookups$`).exec(k)?.[1]).filter((i): i is string => !!i))].sort();
      for (const i of inputs) {
        if (!c[`${p}.${i}.l1tlb.lookups`]) continue; // idle inputs: the unit row has them
        rows.push(['', `  ${u}.${i}`, f(c[`${p}.${i}.l1tlb.lookups`]), f(c[`${p}.${i}.l1tlb.hits`]), f(c[`${p}.${i}.l1tlb.misses`]),
          '', '', '', '', '', '', '', '', '', '']);
      }
    }
  }
  return alignTable(header, rows, 2);
}

const si = (v: number | undefined): string => {
  if (v === undefined) return '-';
  if (v >= 1e6) return `${Number((v / 1e6).toPrecision(3))}M`;
  if (v >= 1e3) return `${Number((v / 1e3).toPrecision(3))}K`;
  return String(Number(v.toPrecision(3)));
};

/** The speed table; with a comparison, each rate also shows its baseline and delta. */
export function formatSpeedTable(r: SuiteResult, cmp?: Comparison): string {
  const base = (scenario: string, metric: string) => cmp?.speed.find((d) => d.scenario === scenario && d.metric === metric);
  const withBase = (scenario: string, metric: string, v: number) => {
    const d = base(scenario, metric);
    return d ? [si(v), si(d.baseline), formatDelta(d.deltaPct)] : [si(v), '-', '-'];
  };
  const header = ['scenario', 'until', 'host ms', 'events', 'events/s', 'base', 'delta', 'bus txns', 'txns/s', 'base', 'delta'];
  const rows: string[][] = [];
  for (const [name, s] of Object.entries(r.scenarios)) {
    rows.push([name, s.until_ps === null ? 'full' : `${s.until_ps / PS_PER_US}us`, s.speed.host_ms.toFixed(0), String(s.speed.events),
      ...withBase(name, 'events_per_s', s.speed.events_per_s), String(s.speed.bus_txns), ...withBase(name, 'bus_txns_per_s', s.speed.bus_txns_per_s)]);
  }
  const micro = Object.entries(r.micro).map(([name, m]) => {
    const d = base(`micro:${name}`, 'translations_per_s');
    return `micro ${name}: ${si(m.speed.translations_per_s)} translations/s` +
      (d ? ` (baseline ${si(d.baseline)}, delta ${formatDelta(d.deltaPct)})` : '') + `, ${m.counts.translations} translations, ${m.counts['walker.walks']} walks`;
  });
  return [alignTable(header, rows, 2), ...micro].join('\n');
}
