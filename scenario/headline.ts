import type { StatsDump } from '../sim/engine/stats';
import { formatStatValue } from '../sim/engine/stats';
import type { LoadedScenario } from './load';
import type { RunOutput } from './run';

/**
 * The headline of a run: the few figures that matter for its jobs, printed before the
 * stats table. Every figure is read from the run's stats snapshot (the dump the table
 * and JSON show), either one stat or a stated ratio of stats, so it can be checked
 * against the dump; which stats are used follows from the scenario's jobs (their
 * devices or cores) and the SoC's MMUs and memories.
 */

/** `value = scale × Σ num / (Σ den − denOffset)`; with no `den` the divisor is 1. */
export interface HeadlineSource {
  num: string[];
  den: string[];
  scale: number;
  denOffset: number;
}

export interface HeadlineRow {
  label: string;
  /** Null when a divisor is zero or a stat is null (e.g. a hit rate with no lookups). */
  value: number | null;
  unit: string;
  /** The source written out, e.g. `1000 × soc.iommu.walker.walks / soc.iommu.translations`. */
  stat: string;
  source: HeadlineSource;
}

/** A device's byte counters, any of which a device may have (summed for its bandwidth). */
const BYTE_COUNTERS = ['bytes_read', 'bytes_written', 'bytes', 'rx_bytes', 'tx_bytes', 'bytes_copied'];

export function headlineOf(r: RunOutput): HeadlineRow[] {
  return headline(r.stats, r.loaded);
}

export function headline(dump: StatsDump, loaded: LoadedScenario): HeadlineRow[] {
  const rows: HeadlineRow[] = [];
  const has = (k: string): boolean => k in dump && !Array.isArray(dump[k]);
  const add = (label: string, unit: string, source: Partial<HeadlineSource> & { num: string[] }): void => {
    const src: HeadlineSource = { den: [], scale: 1, denOffset: 0, ...source };
    const value = evaluate(dump, src);
    if (value !== null) rows.push({ label, value, unit, stat: describe(src), source: src });
  };
  // Rates are over the measured window: the run's simulated time less the warm-up.
  const warmupNs = loaded.scenario.warmup / 1000;

  const units = new Set<string>();
  for (const job of loaded.scenario.jobs) {
    const unit = 'device' in job ? job.device : 'core' in job ? job.core : undefined;
    if (typeof unit !== 'string') continue;
    units.add(unit);
    const at = `soc.${unit}`;
    const who = `${unit} (job ${job.name})`;
    if (has(`${at}.throughput_GBps`)) add(`${who} bandwidth`, 'GB/s', { num: [`${at}.throughput_GBps`] });
    else if (dump[`scenario.${job.name}.bandwidth_GBps`] != null) add(`${who} bandwidth`, 'GB/s', { num: [`scenario.${job.name}.bandwidth_GBps`] });
    else {
      const bytes = BYTE_COUNTERS.map((c) => `${at}.${c}`).filter(has);
      if (bytes.length) add(`${who} bandwidth`, 'GB/s', { num: bytes, den: ['sim.time_ns'], denOffset: warmupNs });
    }
    for (const h of childHistograms(dump, at, /latency_ns$/)) {
      const what = h.slice(at.length + 1).replace(/_ns$/, '').replace(/_/g, ' ');
      add(`${who} ${what} p50`, 'ns', { num: [`${h}.p50`] });
      add(`${who} ${what} p99`, 'ns', { num: [`${h}.p99`] });
    }
  }

  for (const m of loaded.soc.memories) {
    const k = `soc.${m.name}.bandwidth_GBps`;
    if (has(k) && dump[k] !== 0) add(`${m.name} bandwidth`, 'GB/s', { num: [k] });
  }

  const mmus = [...(loaded.soc.iommus ?? []), ...(loaded.soc.cpuMmus ?? [])].map((m) => m.name);
  for (const m of mmus) {
    const used = [...units].filter((u) => has(`soc.${m}.${u}.l1tlb.hit_rate`));
    if (!used.length) continue;
    for (const u of used) add(`${m} ${u} L1 TLB hit rate`, '%', { num: [`soc.${m}.${u}.l1tlb.hit_rate`], scale: 100 });
    add(`${m} L2 TLB hit rate`, '%', { num: [`soc.${m}.l2tlb.hit_rate`], scale: 100 });
    add(`${m} walks per 1000 translations`, '', { num: [`soc.${m}.walker.walks`], den: [`soc.${m}.translations`], scale: 1000 });
    add(`${m} faults`, '', { num: [`soc.${m}.faults`] });
    add(`${m} commands (invalidations, syncs)`, '', { num: [`soc.${m}.commands`] });
    add(`${m} kernel IOTLB invalidations`, '', { num: [`kernel.${m}.pgtable.inval_cmds`] });
    add(`${m} kernel TLBI operations`, '', { num: [`kernel.${m}.pgtable.tlbi_ops`] });
  }
  for (const u of units) add(`${u} nvkm TLB flushes`, '', { num: [`kernel.${u}.nvkm.flushes`] });
  return rows;
}

/** The source's value in `dump`; null when a stat is missing or null, or the divisor is not positive. */
export function evaluate(dump: StatsDump, src: HeadlineSource): number | null {
  const sum = (keys: string[]): number | null => {
    let s = 0;
    for (const k of keys) {
      const v = dump[k];
      if (typeof v !== 'number') return null;
      s += v;
    }
    return s;
  };
  const num = sum(src.num);
  if (num === null) return null;
  if (!src.den.length) return src.scale * num;
  const den = sum(src.den);
  if (den === null || den - src.denOffset <= 0) return null;
  return (src.scale * num) / (den - src.denOffset);
}

function describe(src: HeadlineSource): string {
  const group = (keys: string[]): string => (keys.length > 1 ? `(${keys.join(' + ')})` : keys[0]);
  let s = group(src.num);
  if (src.den.length) s += ` / ${src.denOffset ? `(${src.den.join(' + ')} − ${src.denOffset})` : group(src.den)}`;
  return src.scale === 1 ? s : `${src.scale} × ${s}`;
}

/** Histograms directly under `prefix` whose names match `re` (found by their `.samples` key). */
function childHistograms(dump: StatsDump, prefix: string, re: RegExp): string[] {
  const out: string[] = [];
  for (const k of Object.keys(dump)) {
    if (!k.startsWith(`${prefix}.`) || !k.endsWith('.samples')) continue;
    const h = k.slice(0, -'.samples'.length);
    if (!h.slice(prefix.length + 1).includes('.') && re.test(h)) out.push(h);
  }
  return out;
}

/** The headline as aligned text: label, value and unit, and the stats it comes from. */
export function formatHeadline(rows: readonly HeadlineRow[]): string {
  const vals = rows.map((r) => `${formatHeadlineValue(r.value)}${r.unit ? ` ${r.unit}` : ''}`);
  const w0 = Math.max(0, ...rows.map((r) => r.label.length));
  const w1 = Math.max(0, ...vals.map((v) => v.length));
  return ['headline (from the stats below)', ...rows.map((r, i) => `  ${r.label.padEnd(w0)}  ${vals[i].padStart(w1)}   ${r.stat}`)].join('\n');
}

/** Four significant digits (integers exactly): a headline is for reading; the table has the rest. */
export function formatHeadlineValue(v: number | null): string {
  if (v === null || Number.isInteger(v)) return formatStatValue(v);
  return Math.abs(v) >= 1000 ? v.toFixed(0) : Number(v.toPrecision(4)).toString();
}
