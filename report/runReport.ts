import type { StatsDump } from '../sim/engine/stats';
import { formatHeadlineValue, headline } from '../scenario/headline';
import { chartId, numberCell, type Report, type ReportCell, type ReportChart, type ReportSection, type ReportTable } from './model';
import { loadedOf, type RunData } from './runData';
import { barsSpec, histogramSpec, shareBarsSpec, type ShareRow } from './specs';
import { timeSeriesSection } from './timeSeriesSection';
import { pageTableSections } from './pageTableReport';

/**
 * The report of one run directory. Every figure is a stat of stats.json or a ratio of
 * them, named in its cell, so the page can be checked against the stats.
 */
export function runReport(run: RunData): Report {
  const { meta, stats } = run;
  const loaded = loadedOf(run);
  const mmus = [...(loaded.soc.iommus ?? []), ...(loaded.soc.cpuMmus ?? [])].map((m) => m.name);
  const units = jobUnits(loaded.scenario.jobs);
  // Rates are over the measured window, as in the headline: simulated time less the warm-up.
  const measuredNs = num(stats, 'sim.time_ns') - loaded.scenario.warmup / 1000;
  return {
    title: `socsim run: ${meta.scenario}`,
    subtitle: [
      `scenario ${meta.scenario} (${meta.source}) on SoC ${meta.soc}, seed ${meta.seed}, ${meta.mode} mode${meta.overrides.length ? `, overrides ${meta.overrides.join(' ')}` : ''}`,
      `simulated ${meta.sim_time} (${meta.stop_reason}), ${meta.events} events, ${meta.host_seconds.toFixed(2)} s host time; socsim ${meta.socsim_version}${meta.git_commit ? ` (${meta.git_commit.slice(0, 12)})` : ''}, config hash ${meta.config_hash}`,
    ],
    sections: [
      headlineSection(run),
      ...mmus.map((m) => tlbSection(stats, m)).filter((s): s is ReportSection => s !== null),
      latencySection(stats, mmus, units, loaded.soc.memories.map((m) => m.name)),
      ...loaded.soc.memories.map((m) => dramSection(stats, m.name, measuredNs)).filter((s): s is ReportSection => s !== null),
      faultSection(stats, mmus),
      timeSeriesSection(run.timeseries, stats),
      ...pageTableSections(run.pageTables),
      { title: 'Resolved config', tables: [], charts: [], details: { summary: 'config.json: the SoC and scenario that ran (defaults, overrides and run options folded in)', text: JSON.stringify(run.config, null, 2) } },
    ],
  };
}

function headlineSection(run: RunData): ReportSection {
  const rows = headline(run.stats, loadedOf(run));
  return {
    title: 'Headline',
    note: 'As `socsim run` prints it: each figure is a stat, or the stated ratio of stats.',
    tables: [{
      columns: ['figure', 'value', 'from'],
      rows: rows.map((r) => [{ text: r.label }, { text: `${formatHeadlineValue(r.value)}${r.unit ? ` ${r.unit}` : ''}`, value: r.value, stat: r.stat }, { text: r.stat }]),
    }],
    charts: [],
  };
}

/** Device and core names the scenario's jobs drive (the translation units of interest). */
function jobUnits(jobs: readonly object[]): string[] {
  const out = new Set<string>();
  for (const j of jobs) {
    const u = 'device' in j ? j.device : 'core' in j ? j.core : undefined;
    if (typeof u === 'string') out.add(u);
  }
  return [...out];
}

/** Per MMU: each TLB's lookups split into hits per page size and misses; walks per 1000 translations. */
function tlbSection(stats: StatsDump, mmu: string): ReportSection | null {
  const at = `soc.${mmu}`;
  if (!(num(stats, `${at}.translations`) > 0)) return null;
  const tlbs: { name: string; key: string }[] = [];
  for (const k of Object.keys(stats)) {
    const m = new RegExp(`^${escape(at)}\\.([^.]+)\\.l1tlb\\.lookups$`).exec(k);
    if (m && num(stats, k) > 0) tlbs.push({ name: `${m[1]} L1 TLB`, key: `${at}.${m[1]}.l1tlb` });
  }
  if (num(stats, `${at}.l2tlb.lookups`) > 0) tlbs.push({ name: 'L2 TLB (shared)', key: `${at}.l2tlb` });
  const sizes = [...new Set(tlbs.flatMap((t) => Object.keys(stats).filter((k) => k.startsWith(`${t.key}.hits_`)).map((k) => k.slice(`${t.key}.hits_`.length))))]
    .sort((a, b) => pageBytes(a) - pageBytes(b));
  const table: ReportTable = { columns: ['TLB', 'lookups', 'hit rate', ...sizes.map((s) => `hits ${s}`), 'misses'], rows: [] };
  const shares: ShareRow[] = [];
  for (const t of tlbs) {
    const lookups = num(stats, `${t.key}.lookups`);
    const row: ReportCell[] = [{ text: t.name }, numberCell(lookups, `${t.key}.lookups`), percentCell(stats, `${t.key}.hit_rate`)];
    for (const s of sizes) {
      const k = `${t.key}.hits_${s}`;
      row.push(numberCell(k in stats ? num(stats, k) : null, k));
      if (num(stats, k) > 0) shares.push({ bar: t.name, part: `hits ${s}`, share: num(stats, k) / lookups });
    }
    row.push(numberCell(num(stats, `${t.key}.misses`), `${t.key}.misses`));
    shares.push({ bar: t.name, part: 'misses', share: num(stats, `${t.key}.misses`) / lookups });
    table.rows.push(row);
  }
  const translations = num(stats, `${at}.translations`);
  const walks = num(stats, `${at}.walker.walks`);
  const walkTable: ReportTable = {
    columns: ['translations', 'walks', 'walks per 1000 translations', 'walk memory reads', 'walk latency p50 (ns)', 'walk latency p99 (ns)'],
    rows: [[
      numberCell(translations, `${at}.translations`),
      numberCell(walks, `${at}.walker.walks`),
      numberCell((1000 * walks) / translations, `1000 × ${at}.walker.walks / ${at}.translations`),
      numberCell(numOrNull(stats, `${at}.walker.mem_reads`), `${at}.walker.mem_reads`),
      numberCell(numOrNull(stats, `${at}.walker.latency_ns.p50`), `${at}.walker.latency_ns.p50`),
      numberCell(numOrNull(stats, `${at}.walker.latency_ns.p99`), `${at}.walker.latency_ns.p99`),
    ]],
  };
  const title = `${mmu}: TLBs and walks`;
  return {
    title,
    note: `Each TLB's lookups split into hits by page size and misses (${at}.<unit>.l1tlb.*, ${at}.l2tlb.*); walks from ${at}.walker.*.`,
    tables: [table, walkTable],
    charts: [{ id: chartId(`${mmu} tlb lookups`), title: `${mmu}: TLB lookups by outcome`, spec: shareBarsSpec(shares, 'share of lookups') }],
  };
}

/** Walk and device/memory access latency distributions, from the histograms' buckets. */
function latencySection(stats: StatsDump, mmus: readonly string[], units: readonly string[], memories: readonly string[]): ReportSection {
  const hists: { name: string; key: string }[] = [];
  for (const m of mmus) hists.push({ name: `${m} walk latency`, key: `soc.${m}.walker.latency_ns` });
  for (const u of units) {
    for (const k of Object.keys(stats)) {
      const m = new RegExp(`^soc\\.${escape(u)}\\.([^.]*latency_ns)\\.samples$`).exec(k);
      if (m) hists.push({ name: `${u} ${m[1].replace(/_ns$/, '').replace(/_/g, ' ')}`, key: `soc.${u}.${m[1]}` });
    }
  }
  for (const m of memories) hists.push({ name: `${m} access latency`, key: `soc.${m}.latency_ns` });
  const used = hists.filter((h) => num(stats, `${h.key}.samples`) > 0);
  const cols = ['samples', 'mean', 'p50', 'p90', 'p99', 'max'];
  const charts: ReportChart[] = [];
  for (const h of used) {
    const lo = stats[`${h.key}.bucket_lo`], hi = stats[`${h.key}.bucket_hi`], counts = stats[`${h.key}.bucket_counts`];
    if (!Array.isArray(lo) || !Array.isArray(hi) || !Array.isArray(counts) || !lo.length) continue;
    charts.push({ id: chartId(h.name), title: `${h.name} (${h.key})`, spec: histogramSpec(lo.map((l, i) => ({ lo: l, hi: hi[i], count: counts[i] })), 'ns') });
  }
  return {
    title: 'Latency distributions',
    note: 'In ns; the charts are the histograms\' non-empty buckets (bucket_lo..bucket_hi, bucket_counts).',
    tables: [{ columns: ['distribution', ...cols], rows: used.map((h) => [{ text: h.name, stat: h.key }, ...cols.map((c) => numberCell(numOrNull(stats, `${h.key}.${c}`), `${h.key}.${c}`))]) }],
    charts,
  };
}

/** A memory's row-buffer outcomes and its bandwidth, in total and per channel. */
function dramSection(stats: StatsDump, mem: string, measuredNs: number): ReportSection | null {
  const at = `soc.${mem}`;
  if (!(`${at}.row_hits` in stats)) return null;
  const outcome = ['row_hits', 'row_misses', 'row_conflicts'];
  const total: ReportTable = {
    columns: ['reads', 'writes', ...outcome.map((o) => o.replace('_', ' ')), 'row hit rate', 'bandwidth (GB/s)'],
    rows: [[
      numberCell(numOrNull(stats, `${at}.reads`), `${at}.reads`),
      numberCell(numOrNull(stats, `${at}.writes`), `${at}.writes`),
      ...outcome.map((o) => numberCell(numOrNull(stats, `${at}.${o}`), `${at}.${o}`)),
      percentCell(stats, `${at}.row_hit_rate`),
      numberCell(numOrNull(stats, `${at}.bandwidth_GBps`), `${at}.bandwidth_GBps`),
    ]],
  };
  const channels = Object.keys(stats).map((k) => new RegExp(`^${escape(at)}\\.(ch\\d+)\\.bytes$`).exec(k)?.[1]).filter((c): c is string => !!c)
    .sort((a, b) => Number(a.slice(2)) - Number(b.slice(2)));
  const perChannel: ReportTable = { columns: ['channel', 'bytes', 'bandwidth (GB/s)'], rows: [] };
  for (const c of channels) {
    const bytes = num(stats, `${at}.${c}.bytes`);
    perChannel.rows.push([{ text: c }, numberCell(bytes, `${at}.${c}.bytes`), numberCell(measuredNs > 0 ? bytes / measuredNs : null, `${at}.${c}.bytes / measured ns`)]);
  }
  const charts: ReportChart[] = [{
    id: chartId(`${mem} row outcomes`),
    title: `${mem}: row-buffer outcomes`,
    spec: barsSpec(outcome.map((o) => ({ label: o.replace('_', ' '), value: num(stats, `${at}.${o}`) })), 'accesses'),
  }];
  if (channels.length && measuredNs > 0) {
    charts.push({ id: chartId(`${mem} channel bandwidth`), title: `${mem}: bandwidth per channel`, spec: barsSpec(channels.map((c) => ({ label: c, value: num(stats, `${at}.${c}.bytes`) / measuredNs })), 'GB/s') });
  }
  return {
    title: `${mem}: DRAM`,
    note: `Row-buffer outcomes and bandwidth (${at}.*); per-channel bandwidth is bytes over the measured time (simulated time less the warm-up).`,
    tables: channels.length ? [total, perChannel] : [total],
    charts,
  };
}

/** Translation faults, IOMMU commands (invalidations, syncs) and the kernel's invalidations and flushes that happened. */
function faultSection(stats: StatsDump, mmus: readonly string[]): ReportSection {
  const mmuRe = new RegExp(`^soc\\.(${mmus.map(escape).join('|')})\\.(faults|fault_queue_overflows|commands|cmd\\.[^.]+|[^.]+\\.faults|walker\\.faults)$`);
  const kernelRe = /^kernel\.(.+\.)?(inval_cmds|sync_cmds|tlbi_ops|flushes|fq_flushes|fq_full_flushes|fq_timer_flushes|errors|warnings)$/;
  const keys = Object.keys(stats).filter((k) => (mmus.length && mmuRe.test(k)) || kernelRe.test(k));
  // MMU-wide fault counts always (a zero is news too); the rest only when they happened.
  const shown = keys.filter((k) => num(stats, k) !== 0 || mmus.some((m) => k === `soc.${m}.faults`));
  return {
    title: 'Faults and invalidations',
    note: 'Translation faults, IOMMU commands and the kernel\'s invalidations and flushes; counters that stayed 0 are left out (MMU fault counts are always shown).',
    tables: [{ columns: ['stat', 'value'], rows: shown.map((k) => [{ text: k }, numberCell(numOrNull(stats, k), k)]) }],
    charts: [],
  };
}

function percentCell(stats: StatsDump, key: string): ReportCell {
  const v = numOrNull(stats, key);
  return { text: v === null ? '—' : `${formatHeadlineValue(100 * v)} %`, value: v, stat: key };
}

function num(stats: StatsDump, key: string): number {
  const v = stats[key];
  return typeof v === 'number' ? v : 0;
}

function numOrNull(stats: StatsDump, key: string): number | null {
  const v = stats[key];
  return typeof v === 'number' ? v : null;
}

/** Bytes of a page-size suffix such as 4KiB or 2MiB (for sorting). */
function pageBytes(s: string): number {
  const m = /^(\d+)([KMG]i)?B$/.exec(s);
  if (!m) return Infinity;
  return Number(m[1]) * ({ Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3 }[m[2] ?? ''] ?? 1);
}

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
