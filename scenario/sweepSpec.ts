import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { Time } from '../sim/engine/spec';
import { parseSampleInterval, SampleOptionError, type SampleOptions } from '../sim/engine/timeSeries';
import { parseWithSchema, readJsonFile } from '../sim/soc/loadJson';

/**
 * The sweep spec (docs/experiments.md): which scenarios, the overrides every point
 * shares, the axes to vary and the seeds. `socsim sweep --spec FILE` reads it; the
 * command-line flags build the same object.
 */

/** A parameter value as JSON: what `--set path=value` would set. */
const AxisValue = z.union([z.number(), z.string(), z.boolean(), z.null()]);
const AxisValues = z.array(AxisValue).min(1);
const Seed = z.number().int().nonnegative().max(2 ** 32 - 1);

export const SweepSpecSchema = z.strictObject({
  $schema: z.string().optional(),
  description: z.string().optional(),
  scenarios: z.array(z.string().min(1)).min(1)
    .describe('scenario files (relative to this spec) or bundled scenario names; each is swept over the whole grid'),
  set: z.array(z.string().min(1)).default([])
    .describe('overrides every point gets, "path=value" as with --set (applied before the axes)'),
  grid: z.record(z.string().min(1), AxisValues).default({})
    .describe('one axis per override path: every combination of the values is a point (first axis varies slowest)'),
  zip: z.array(z.record(z.string().min(1), AxisValues)).default([])
    .describe('groups of paths that move together (e.g. a fully associative TLB\'s entries and ways): the lists of a group have one length, and each group is one axis, after the grid\'s'),
  seeds: z.union([z.number().int().min(1).max(10000), z.array(Seed).min(1)]).optional()
    .describe('N: seeds 1..N; a list: those seeds. The innermost axis. Default: each scenario\'s own seed'),
  until: z.string().optional()
    .describe('stop time of every point (scenario.until), e.g. "100us"'),
  stats: z.array(z.string().min(1)).default([])
    .describe('stat name globs (* any characters) that become results.csv columns; default: every scalar stat'),
  sample: z.strictObject({
    interval: z.string().describe('simulated time per sample, e.g. "1us" (as run --sample-interval)'),
    stats: z.array(z.string().min(1)).min(1).optional().describe('counters and gauges to sample (globs, as run --sample-stats); default: bandwidth, TLB misses, walks, faults, invalidations, queue depths'),
  }).optional()
    .describe('a time series per point: OUT/points/<hash>/timeseries.csv, as run --out DIR --sample-interval writes'),
}).superRefine((s, ctx) => {
  s.zip.forEach((group, g) => {
    const entries = Object.entries(group);
    if (entries.length === 0) ctx.addIssue({ code: 'custom', path: ['zip', g], message: 'name at least one path' });
    const n = entries[0]?.[1].length;
    for (const [p, values] of entries) {
      if (values.length !== n) ctx.addIssue({ code: 'custom', path: ['zip', g, p], message: `a zipped group moves together: ${values.length} values here, ${n} for "${entries[0][0]}"` });
    }
  });
  const seen = new Set<string>();
  const axes = [...Object.keys(s.grid).map((p) => ['grid', p]), ...s.zip.flatMap((g, i) => Object.keys(g).map((p) => ['zip', i, p]))];
  for (const at of axes) {
    const p = at[at.length - 1] as string;
    if (seen.has(p)) ctx.addIssue({ code: 'custom', path: at, message: `"${p}" is already an axis` });
    seen.add(p);
    if (!/^(soc|scenario)\./.test(p)) ctx.addIssue({ code: 'custom', path: at, message: `an axis is an override path starting with "soc." or "scenario.", got "${p}"` });
    if (p === 'scenario.seed') ctx.addIssue({ code: 'custom', path: at, message: 'vary seeds with "seeds"' });
  }
  if (s.sample !== undefined) {
    try {
      parseSampleInterval(s.sample.interval);
    } catch (e) {
      if (!(e instanceof SampleOptionError)) throw e;
      ctx.addIssue({ code: 'custom', path: ['sample', 'interval'], message: e.message.replace(/^--sample-interval: /, '') });
    }
  }
  // As with --until, a bare number is refused rather than read as picoseconds.
  if (s.until !== undefined && (/^\s*[\d.]+\s*$/.test(s.until) || !Time.safeParse(s.until).success)) {
    ctx.addIssue({ code: 'custom', path: ['until'], message: `a time with its unit, e.g. "100us", got ${JSON.stringify(s.until)}` });
  }
});

export type SweepSpec = z.output<typeof SweepSpecSchema>;

/** The sampling every point of `spec` does, or undefined (the spec is checked: the interval parses). */
export function sweepSampling(spec: SweepSpec): SampleOptions | undefined {
  if (spec.sample === undefined) return undefined;
  return { intervalPs: parseSampleInterval(spec.sample.interval), ...(spec.sample.stats ? { stats: spec.sample.stats } : {}) };
}
export type AxisValue = z.output<typeof AxisValue>;

/**
 * Reads a sweep spec; its scenario paths are made relative to the current directory
 * (a name that is not a file there is left as is: a bundled scenario).
 */
export function loadSweepSpec(file: string): SweepSpec {
  const spec = parseWithSchema(SweepSpecSchema, readJsonFile(file, 'sweep'), file, 'sweep');
  const dir = path.dirname(file);
  return { ...spec, scenarios: spec.scenarios.map((s) => (fs.existsSync(path.join(dir, s)) ? path.join(dir, s) : s)) };
}

/** Checks a spec built from flags (errors name the flag through `label`). */
export function checkSweepSpec(spec: unknown, label: string): SweepSpec {
  return parseWithSchema(SweepSpecSchema, spec, label, 'sweep');
}

/** One point of a sweep, in grid order. */
export interface SweepPoint {
  index: number;
  /** As the spec names it (the results.csv column). */
  scenario: string;
  /** Axis path → value, in axis order. */
  params: [string, AxisValue][];
  /** The seed set on the point, or null for the scenario's own. */
  seed: number | null;
  /** The overrides that make this point: the spec's, then until, the axes, the seed. */
  sets: string[];
}

/** Writes a value as `--set` reads it back: JSON, except strings that do not parse as JSON. */
export function overrideText(p: string, v: AxisValue): string {
  if (typeof v === 'string') {
    let parses = true;
    try {
      JSON.parse(v);
    } catch {
      parses = false;
    }
    return `${p}=${parses ? JSON.stringify(v) : v}`;
  }
  return `${p}=${JSON.stringify(v)}`;
}

/** The axis paths in column order: the grid's, then each zipped group's. */
export function axisPaths(spec: SweepSpec): string[] {
  return [...Object.keys(spec.grid), ...spec.zip.flatMap((g) => Object.keys(g))];
}

export function seedsOf(spec: SweepSpec): (number | null)[] {
  if (spec.seeds === undefined) return [null];
  if (typeof spec.seeds === 'number') return Array.from({ length: spec.seeds }, (_, i) => i + 1);
  return spec.seeds;
}

/**
 * Every point, in a fixed order: scenarios (outermost), the grid axes in order, the
 * zipped groups, then seeds (innermost). results.csv rows follow this order.
 */
export function expandSweep(spec: SweepSpec): SweepPoint[] {
  // Each axis is a list of steps; a step sets one or more paths.
  const axes: [string, AxisValue][][][] = [
    ...Object.entries(spec.grid).map(([p, values]) => values.map((v): [string, AxisValue][] => [[p, v]])),
    ...spec.zip.map((group) => {
      const entries = Object.entries(group);
      return entries[0][1].map((_, i) => entries.map(([p, values]): [string, AxisValue] => [p, values[i]]));
    }),
  ];
  let combos: [string, AxisValue][][] = [[]];
  for (const axis of axes) combos = combos.flatMap((c) => axis.map((step) => [...c, ...step]));
  const fixed = [...spec.set, ...(spec.until !== undefined ? [`scenario.until=${spec.until}`] : [])];
  const points: SweepPoint[] = [];
  for (const scenario of spec.scenarios) {
    for (const params of combos) {
      for (const seed of seedsOf(spec)) {
        points.push({
          index: points.length, scenario, params, seed,
          sets: [...fixed, ...params.map(([p, v]) => overrideText(p, v)), ...(seed === null ? [] : [`scenario.seed=${seed}`])],
        });
      }
    }
  }
  return points;
}
