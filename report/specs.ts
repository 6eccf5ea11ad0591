/**
 * Vega-Lite spec builders. Every spec has its data inline and a fixed size, so the same
 * spec renders in the page (vega-embed) and to SVG in Node (vega's View.toSVG).
 */

type Spec = Record<string, unknown>;

const WIDTH = 520;
const HEIGHT = 220;
const SCHEMA = 'https://vega.github.io/schema/vega-lite/v6.json';

export interface Bucket {
  lo: number;
  hi: number;
  count: number;
}

/**
 * A histogram from its non-empty buckets. The stats' buckets are HDR buckets (hundreds,
 * of unequal width), drawn as hairlines at chart size; they are summed into at most
 * `bins` equal bins over their range (a bucket counts in the bin holding its midpoint).
 */
export function histogramSpec(buckets: readonly Bucket[], unit: string, bins = 40): Spec {
  return {
    $schema: SCHEMA,
    width: WIDTH,
    height: HEIGHT,
    data: { values: rebin(buckets, bins) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      x: { field: 'lo', type: 'quantitative', title: unit, scale: { zero: false } },
      x2: { field: 'hi' },
      // A ranged x makes a bar horizontal: the bars' height needs its own baseline.
      y: { field: 'count', type: 'quantitative', title: 'samples' },
      y2: { datum: 0 },
    },
  };
}

export function rebin(buckets: readonly Bucket[], bins: number): Bucket[] {
  if (buckets.length <= bins) return buckets.map((b) => ({ ...b }));
  const lo = Math.min(...buckets.map((b) => b.lo));
  const hi = Math.max(...buckets.map((b) => b.hi));
  const w = (hi - lo) / bins;
  const out = Array.from({ length: bins }, (_, i) => ({ lo: lo + i * w, hi: lo + (i + 1) * w, count: 0 }));
  for (const b of buckets) out[Math.min(bins - 1, Math.floor(((b.lo + b.hi) / 2 - lo) / w))].count += b.count;
  return out.filter((b) => b.count > 0);
}

export interface ShareRow {
  /** The bar (e.g. `gpu L1 TLB`). */
  bar: string;
  /** The stacked part (e.g. `hits 4KiB`, `misses`). */
  part: string;
  share: number;
}

/** Horizontal stacked bars of shares (0..1): TLB lookups split into hits per page size and misses. */
export function shareBarsSpec(rows: readonly ShareRow[], title: string): Spec {
  const bars = new Set(rows.map((r) => r.bar)).size;
  return {
    $schema: SCHEMA,
    width: WIDTH,
    height: Math.max(40, 28 * bars),
    data: { values: rows.map((r) => ({ ...r })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'bar', type: 'nominal', title: null, sort: null },
      x: { field: 'share', type: 'quantitative', title, axis: { format: '%' }, scale: { domain: [0, 1] } },
      color: { field: 'part', type: 'nominal', title: null, sort: null },
      order: { field: 'part' },
    },
  };
}

export interface ValueRow {
  label: string;
  value: number;
}

/** One bar per label. */
export function barsSpec(rows: readonly ValueRow[], title: string): Spec {
  return {
    $schema: SCHEMA,
    width: WIDTH,
    height: Math.max(40, 24 * rows.length),
    data: { values: rows.map((r) => ({ ...r })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'label', type: 'nominal', title: null, sort: null },
      x: { field: 'value', type: 'quantitative', title },
    },
  };
}

export interface SeriesPoint {
  series: string;
  x: number | string;
  mean: number;
  min: number;
  max: number;
  n: number;
}

/** A line per series against the swept parameter: the mean over seeds, with min..max as a band. */
export function sweepLineSpec(points: readonly SeriesPoint[], xTitle: string, yTitle: string, numericX: boolean): Spec {
  const x = { field: 'x', type: numericX ? 'quantitative' : 'ordinal', title: xTitle, ...(numericX ? { scale: { zero: false } } : { sort: null }) };
  const color = { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 1, labelLimit: 600 } };
  return {
    $schema: SCHEMA,
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ ...p })) },
    encoding: { x, color },
    layer: [
      { mark: { type: 'area', opacity: 0.2 }, encoding: { y: { field: 'min', type: 'quantitative', title: yTitle, scale: { zero: false } }, y2: { field: 'max' } } },
      { mark: { type: 'line', point: true, tooltip: true }, encoding: { y: { field: 'mean', type: 'quantitative', title: yTitle } } },
    ],
  };
}

export interface TimePoint {
  series: string;
  /** Interval end, ns. */
  t: number;
  value: number;
}

/** A line per series over simulated time (timeseries.csv). */
export function timeLineSpec(points: readonly TimePoint[], yTitle: string): Spec {
  return {
    $schema: SCHEMA,
    width: WIDTH,
    height: HEIGHT,
    data: { values: points.map((p) => ({ ...p })) },
    mark: { type: 'line', tooltip: true, interpolate: 'step-before' },
    encoding: {
      x: { field: 't', type: 'quantitative', title: 'simulated time (ns, interval end)' },
      y: { field: 'value', type: 'quantitative', title: yTitle },
      color: { field: 'series', type: 'nominal', title: null, legend: { orient: 'bottom', columns: 2, labelLimit: 400 } },
    },
  };
}

export interface OccupancyRow {
  /** The bar: a table level (e.g. `PD0 (1 table)`). */
  level: string;
  /** `valid`, `sparse`, `invalid LPTE` or `empty`. */
  part: string;
  /** Share of the level's entries (0..1). */
  share: number;
  /** Entries of this part. */
  entries: number;
}

const OCCUPANCY_PARTS = ['valid', 'sparse', 'invalid LPTE', 'empty'];
const OCCUPANCY_COLORS = ['#4c78a8', '#54a24b', '#e45756', '#d9d9d9'];

/** Page-table occupancy: a bar per level, its entries stacked valid, sparse, invalid, empty (in that order, fixed colours). */
export function occupancySpec(rows: readonly OccupancyRow[]): Spec {
  const levels = new Set(rows.map((r) => r.level)).size;
  return {
    $schema: SCHEMA,
    width: WIDTH,
    height: Math.max(40, 28 * levels),
    data: { values: rows.map((r) => ({ ...r, rank: OCCUPANCY_PARTS.indexOf(r.part) })) },
    mark: { type: 'bar', tooltip: true },
    encoding: {
      y: { field: 'level', type: 'nominal', title: null, sort: null },
      x: { field: 'share', type: 'quantitative', title: 'share of the level\'s entries', axis: { format: '%' }, scale: { domain: [0, 1] } },
      color: { field: 'part', type: 'nominal', title: null, scale: { domain: OCCUPANCY_PARTS, range: OCCUPANCY_COLORS } },
      order: { field: 'rank' },
      tooltip: [{ field: 'level' }, { field: 'part' }, { field: 'entries', type: 'quantitative' }, { field: 'share', type: 'quantitative', format: '.2%' }],
    },
  };
}
