import * as path from 'path';
import { CsvSyntaxError, parseCsv } from '../sim/engine/statsCsv';
import { statsFilter, StatsSelectError } from '../sim/engine/statsSelect';
import { readInputText } from '../sim/engine/inputFile';
import { SWEEP_FILES } from '../scenario/sweep';
import { axisPaths, checkSweepSpec, type SweepSpec } from '../scenario/sweepSpec';
import { chartId, numberCell, ReportInputError, type Report, type ReportChart, type ReportSection } from './model';
import { readJson } from './runData';
import { sweepLineSpec, type SeriesPoint } from './specs';

/** The columns of results.csv before the stats (docs/experiments.md). */
const FIXED_AFTER_AXES = ['seed', 'status', 'hash', 'error'];

export interface SweepReportOptions {
  /** Globs selecting the stats to plot; default: every stat column that differs between points. */
  statsFilter?: readonly string[];
  /** The parameter on the x axis; default the spec's first axis (the scenario when it has none). */
  x?: string;
}

export interface SweepData {
  spec: SweepSpec;
  axes: string[];
  statColumns: string[];
  rows: Record<string, string>[];
}

export function readSweepData(dir: string): SweepData {
  const spec = checkSweepSpec(readJson(path.join(dir, SWEEP_FILES.spec)), path.join(dir, SWEEP_FILES.spec));
  const file = path.join(dir, SWEEP_FILES.results);
  let records: string[][];
  try {
    records = parseCsv(readInputText(file, Infinity));
  } catch (e) {
    if (e instanceof CsvSyntaxError) throw new ReportInputError(`${file}: ${e.message}`);
    throw new ReportInputError(`cannot read ${file}: ${(e as Error).message} (has the sweep finished?)`);
  }
  const axes = axisPaths(spec);
  const fixed = ['scenario', ...axes, ...FIXED_AFTER_AXES];
  const header = records[0] ?? [];
  if (fixed.some((c, i) => header[i] !== c)) throw new ReportInputError(`${file}: expected the columns ${fixed.join(',')} first (as ${SWEEP_FILES.spec} describes the sweep)`);
  const rows = records.slice(1).map((r, i) => {
    if (r.length !== header.length) throw new ReportInputError(`${file}:${i + 2}: ${r.length} cells, the header has ${header.length}`);
    return Object.fromEntries(header.map((h, j) => [h, r[j]]));
  });
  return { spec, axes, statColumns: header.slice(fixed.length), rows };
}

export function sweepReport(dir: string, data: SweepData, opts: SweepReportOptions = {}): Report {
  const { spec, axes, rows } = data;
  const ok = rows.filter((r) => r.status === 'ok');
  const x = opts.x ?? axes[0] ?? 'scenario';
  if (x !== 'scenario' && !axes.includes(x)) throw new ReportInputError(`--x ${x}: not an axis of this sweep (axes: ${axes.length ? axes.join(', ') : 'none'}; or scenario)`);
  // Paths that move with x (its zipped group) are not series: they are x in other words.
  const group = spec.zip.find((g) => x in g);
  const seriesAxes = axes.filter((a) => a !== x && !(group && a in group));
  const seriesKeys = [...(x === 'scenario' ? [] : ['scenario']), ...seriesAxes];

  let stats: string[];
  if (opts.statsFilter?.length) {
    try {
      stats = data.statColumns.filter(statsFilter(data.statColumns, opts.statsFilter));
    } catch (e) {
      if (e instanceof StatsSelectError) throw new ReportInputError(`${e.message} (among the ${data.statColumns.length} stat columns of results.csv)`);
      throw e;
    }
  } else {
    stats = data.statColumns.filter((c) => new Set(ok.map((r) => r[c])).size > 1);
  }

  const numericX = ok.every((r) => r[x] !== '' && Number.isFinite(Number(r[x])));
  const charts: ReportChart[] = [];
  for (const stat of stats) {
    const points = seriesPoints(ok, x, seriesKeys, stat, numericX);
    if (points.length) charts.push({ id: chartId(stat), title: stat, spec: sweepLineSpec(points, x, shortName(stat), numericX) });
  }
  const failed = rows.filter((r) => r.status !== 'ok');
  const overview: ReportSection = {
    title: 'Sweep',
    note: spec.description,
    tables: [{
      columns: ['points', 'ok', 'failed', 'x axis', 'series by', 'stats plotted'],
      rows: [[numberCell(rows.length, 'results.csv rows'), numberCell(ok.length, 'status ok'), numberCell(failed.length, 'status error'), { text: x }, { text: seriesKeys.join(' × ') || '—' }, { text: `${stats.length} of ${data.statColumns.length}` }]],
    }],
    charts: [],
  };
  const sections: ReportSection[] = [overview];
  if (failed.length) {
    sections.push({ title: 'Failed points', tables: [{ columns: ['scenario', ...axes, 'seed', 'hash', 'error'], rows: failed.map((r) => ['scenario', ...axes, 'seed', 'hash', 'error'].map((c) => ({ text: r[c] }))) }], charts: [] });
  }
  sections.push({
    title: 'Stats against the swept parameter',
    note: `A line per series (${seriesKeys.join(' × ') || 'one series'}): the mean over seeds, with the band from the minimum to the maximum. ${opts.statsFilter?.length ? `Stats: ${opts.statsFilter.join(', ')}.` : 'Stats: every results.csv stat column that differs between points.'}`,
    tables: [],
    charts,
  });
  sections.push({ title: 'Sweep spec', tables: [], charts: [], details: { summary: `${SWEEP_FILES.spec}: the sweep as run`, text: JSON.stringify(spec, null, 2) } });
  return { title: `socsim sweep: ${path.basename(path.resolve(dir))}`, subtitle: [`${dir}: ${spec.scenarios.join(', ')}; axes ${axes.join(', ') || 'none'}`], sections };
}

/** Per (series, x): mean, min and max over the points' seeds; points without the stat are skipped. */
function seriesPoints(rows: readonly Record<string, string>[], x: string, seriesKeys: readonly string[], stat: string, numericX: boolean): SeriesPoint[] {
  const acc = new Map<string, SeriesPoint & { sum: number }>();
  for (const r of rows) {
    if (r[stat] === '') continue;
    const v = Number(r[stat]);
    const series = seriesKeys.map((k) => (k === 'scenario' ? r[k] : `${shortName(k)}=${r[k]}`)).join(', ') || 'all';
    const key = `${series}\u0000${r[x]}`;
    const p = acc.get(key);
    if (p) {
      p.sum += v;
      p.n++;
      p.min = Math.min(p.min, v);
      p.max = Math.max(p.max, v);
    } else acc.set(key, { series, x: numericX ? Number(r[x]) : r[x], sum: v, n: 1, min: v, max: v, mean: v });
  }
  return [...acc.values()].map(({ sum, ...p }) => ({ ...p, mean: sum / p.n }));
}

/** The last two segments of a dotted path (enough to tell stats and axes apart in a legend). */
function shortName(p: string): string {
  return p.split('.').slice(-2).join('.');
}
