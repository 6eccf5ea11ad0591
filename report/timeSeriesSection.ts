import type { StatsDump } from '../sim/engine/stats';
import { TIME_COLUMNS } from '../sim/engine/timeSeries';
import { chartId, numberCell, type ReportChart, type ReportSection, type ReportTable } from './model';
import { timeLineSpec, type TimePoint } from './specs';

/** timeseries.csv as the report reads it (sim/engine/timeSeries.ts). */
export interface TimeSeriesData {
  columns: string[];
  rows: number[][];
}

/** Rows drawn per chart at most: longer series are merged into this many bins (noted on the page). */
const MAX_POINTS = 1000;

interface Group {
  /** Chart id suffix (file name of the SVG). */
  id: string;
  title: string;
  unit: string;
  /** Sampled counters (deltas) this chart shows, as rates. */
  match: RegExp;
  /** Rate per row from a delta and the interval in ns. */
  rate: (delta: number, intervalNs: number) => number;
}

const GROUPS: readonly Group[] = [
  { id: 'bandwidth', title: 'Bandwidth', unit: 'GB/s', match: /\.(bytes_read|bytes_written|bytes)$/, rate: (d, ns) => d / ns },
  { id: 'tlb-misses-per-us', title: 'TLB misses per µs', unit: 'misses per µs', match: /\.l[12]tlb\.misses$/, rate: (d, ns) => (1000 * d) / ns },
  { id: 'walks-per-us', title: 'Walks per µs', unit: 'walks per µs', match: /\.walker\.walks$/, rate: (d, ns) => (1000 * d) / ns },
  { id: 'faults-invalidations-per-us', title: 'Faults and invalidations per µs', unit: 'per µs', match: /\.(faults|inval_cmds|tlbi_ops|invalidate_[a-z]+)$/, rate: (d, ns) => (1000 * d) / ns },
];

/** How to get the section when the run directory has no time series. */
export const NO_TIME_SERIES_NOTE = 'No timeseries.csv in this run directory: run with --sample-interval 1us (and --out DIR) to record bandwidth, TLB misses, walks and queue depths over time.';

/**
 * Over-time charts from timeseries.csv: a line per sampled counter (as a rate over each
 * interval) or gauge (its level at the interval's end). Columns that are stats of
 * stats.json are counters; the others are gauges (queue depths, walk slots in use).
 * Series that stayed 0 are left out; a table gives each shown counter's total over the
 * rows (the final stat when there was no warm-up reset) and its peak rate.
 */
export function timeSeriesSection(ts: TimeSeriesData | null, stats: StatsDump): ReportSection {
  const title = 'Over time';
  if (!ts) return { title, note: NO_TIME_SERIES_NOTE, tables: [], charts: [] };
  const end = ts.columns.indexOf(TIME_COLUMNS[0]), len = ts.columns.indexOf(TIME_COLUMNS[1]);
  const bins = binsOf(ts.rows.length);
  const charts: ReportChart[] = [];
  const table: ReportTable = { columns: ['series', 'total over the rows', 'peak rate', 'unit'], rows: [] };
  for (const g of GROUPS) {
    const cols = ts.columns.map((c, i) => ({ c, i })).filter(({ c, i }) => i >= 2 && c in stats && g.match.test(c) && ts.rows.some((r) => r[i] !== 0));
    if (!cols.length) continue;
    const points: TimePoint[] = [];
    for (const { c, i } of cols) {
      let total = 0, peak = -Infinity;
      for (const b of bins) {
        let d = 0, ns = 0;
        for (let k = b.from; k < b.to; k++) { d += ts.rows[k][i]; ns += ts.rows[k][len]; }
        total += d;
        const v = ns > 0 ? g.rate(d, ns) : 0;
        peak = Math.max(peak, v);
        points.push({ series: c, t: ts.rows[b.to - 1][end], value: v });
      }
      table.rows.push([{ text: c }, numberCell(total, `sum of timeseries.csv ${c}`), numberCell(peak, `peak ${g.unit}: timeseries.csv ${c}`), { text: g.unit }]);
    }
    charts.push({ id: chartId(`over time ${g.id}`), title: `${g.title} (${g.unit})`, spec: timeLineSpec(points, g.unit) });
  }
  const gauges = ts.columns.map((c, i) => ({ c, i })).filter(({ c, i }) => i >= 2 && !(c in stats) && ts.rows.some((r) => r[i] !== 0));
  if (gauges.length) {
    const points: TimePoint[] = [];
    for (const { c, i } of gauges) {
      for (const b of bins) {
        let peak = 0;
        for (let k = b.from; k < b.to; k++) peak = Math.max(peak, ts.rows[k][i]);
        points.push({ series: c, t: ts.rows[b.to - 1][end], value: peak });
      }
    }
    charts.push({ id: chartId('over time queue depths'), title: 'Queue depths and walk slots in use (level at each interval end)', spec: timeLineSpec(points, 'entries') });
  }
  const merged = bins.length < ts.rows.length ? ` The ${ts.rows.length} rows are drawn as ${bins.length} points: rates over merged rows, gauges at their peak.` : '';
  const interval = ts.rows.length ? ts.rows[0][len] : 0;
  return {
    title,
    note: `From timeseries.csv (${ts.rows.length} rows, ${interval} ns each): counters as rates over each interval, gauges as their level at the interval's end; series that stayed 0 are left out.${merged}`,
    tables: table.rows.length ? [table] : [],
    charts,
  };
}

function binsOf(rows: number): { from: number; to: number }[] {
  const per = Math.max(1, Math.ceil(rows / MAX_POINTS));
  const out: { from: number; to: number }[] = [];
  for (let from = 0; from < rows; from += per) out.push({ from, to: Math.min(rows, from + per) });
  return out;
}
