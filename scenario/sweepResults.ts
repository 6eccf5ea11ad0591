import * as fs from 'fs';
import * as path from 'path';
import type { StatsDump } from '../sim/engine/stats';
import { csvCell } from '../sim/engine/statsCsv';
import { statsFilter } from '../sim/engine/statsSelect';
import { RUN_FILES } from './runDir';
import type { AxisValue, SweepPoint } from './sweepSpec';

/**
 * results.csv: one row per point in grid order, whatever order the points finished in
 * and whether they ran now or in an earlier (interrupted) sweep. Columns: scenario, one
 * per axis, seed, status, hash, error, then the selected stats (sorted).
 */

export interface PointResult {
  point: SweepPoint;
  /** The point's directory name under points/. */
  hash: string;
  status: 'ok' | 'error';
  /** The seed the point ran with (the scenario's own when the sweep sets none). */
  seed: number | null;
  error: string | null;
}

/** Reads the stats of the ok points (one read per directory). */
export function readPointStats(pointsDir: string, results: readonly PointResult[]): Map<string, StatsDump> {
  const stats = new Map<string, StatsDump>();
  for (const r of results) {
    if (r.status !== 'ok' || stats.has(r.hash)) continue;
    stats.set(r.hash, JSON.parse(fs.readFileSync(path.join(pointsDir, r.hash, RUN_FILES.stats), 'utf8')) as StatsDump);
  }
  return stats;
}

/**
 * The stat columns: the scalar stats of any ok point that the globs select (all when
 * none), sorted; globs as for `run --stats-filter`. A glob that selects no stat is an
 * error (StatsSelectError) unless no point succeeded (then there are no names to match).
 */
export function statColumns(stats: ReadonlyMap<string, StatsDump>, globs: readonly string[]): string[] {
  const names = new Set<string>();
  for (const dump of stats.values()) for (const [k, v] of Object.entries(dump)) if (!Array.isArray(v)) names.add(k);
  if (names.size === 0) return [];
  const sorted = [...names].sort();
  return sorted.filter(statsFilter(sorted, globs));
}

const cell = (v: AxisValue | number | string | null | undefined): string =>
  v === null || v === undefined ? '' : csvCell(String(v));

export function resultsCsv(results: readonly PointResult[], axes: readonly string[], columns: readonly string[], stats: ReadonlyMap<string, StatsDump>): string {
  const lines = [['scenario', ...axes, 'seed', 'status', 'hash', 'error', ...columns].map(csvCell).join(',')];
  for (const r of results) {
    const params = new Map(r.point.params);
    const dump = stats.get(r.hash);
    lines.push([
      cell(r.point.scenario), ...axes.map((a) => cell(params.get(a))), cell(r.seed), r.status, r.hash, cell(r.error),
      ...columns.map((c) => cell(dump?.[c] as number | null | undefined)),
    ].join(','));
  }
  return lines.join('\n') + '\n';
}

/** Stat columns whose value differs between ok points: what the summary shows by default. */
export function varyingColumns(columns: readonly string[], stats: ReadonlyMap<string, StatsDump>): string[] {
  const dumps = [...stats.values()];
  return columns.filter((c) => dumps.some((d) => d[c] !== dumps[0][c]));
}
