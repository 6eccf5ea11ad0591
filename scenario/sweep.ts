import { ensureDirectory } from '../sim/engine/outputFile';
import * as path from 'path';
import { ConfigError } from '../sim/engine/errors';
import { hashJson } from '../sim/soc/builder';
import type { LoadedScenario } from './load';
import { resolveScenario } from './resolve';
import { readRunError, readRunMeta, RUN_FILES, runConfigHash, runErrorText, writeFileAtomic, writeRunError } from './runDir';
import { writePointFiles } from './pointRun';
import { LocalRunner, type PointRunner } from './sweepBackend';
import { defaultHostMemoryLimit } from './hostMemory';
import * as fs from 'fs';
import { axisPaths, expandSweep, sweepSampling, type SweepPoint, type SweepSpec } from './sweepSpec';
import { readPointStats, resultsCsv, statColumns, type PointResult } from './sweepResults';

/**
 * `socsim sweep`: every point of a spec, each in its own run directory
 * `OUT/points/<hash>/` (hash = the resolved config's hash, seed included), run in
 * parallel (worker processes here, or workers behind a queue: scenario/sweepBackend.ts),
 * then `OUT/results.csv`. A point whose directory already
 * holds a finished run (meta.json) is not run again, so an interrupted sweep resumes
 * where it stopped; failed points are tried again, and so are finished points without
 * the timeseries.csv a sampling sweep (spec.sample) asks for.
 */

export interface SweepOptions {
  outDir: string;
  /** Worker processes (local backend). */
  jobs: number;
  /** Where points run, given how many there are to run; default: `jobs` local worker processes. */
  backend?: (toRun: number) => PointRunner | Promise<PointRunner>;
  /** Host-memory limit per point in bytes; default half of this machine's memory shared by the workers. */
  maxHostMemory?: number;
  /** Progress callbacks (the CLI draws the bar). */
  onPlanned?: (p: { total: number; toRun: number; finished: number; failedToResolve: number }) => void;
  onPointDone?: (r: PointResult & { hostSeconds: number; done: number; toRun: number }) => void;
  /** Aborting stops waiting for points (local workers are killed); runSweep then resolves with `interrupted`. */
  signal?: AbortSignal;
}

export interface SweepResult {
  results: PointResult[];
  /** Point directories run by this invocation (the others were finished before). */
  ran: number;
  skipped: number;
  failed: number;
  interrupted: boolean;
  axes: string[];
  columns: string[];
  resultsFile: string | null;
  workersStarted: number;
}

export const SWEEP_FILES = { spec: 'sweep.json', results: 'results.csv', points: 'points' } as const;

interface Planned {
  point: SweepPoint;
  hash: string;
  loaded: LoadedScenario | null;
  /** Why the point's config could not be resolved. */
  error: string | null;
}

/** Resolves every point (overrides checked like a file); a point that does not resolve is a failed point. */
function plan(points: readonly SweepPoint[]): Planned[] {
  return points.map((point) => {
    try {
      const loaded = resolveScenario(point.scenario, point.sets);
      return { point, hash: runConfigHash(loaded), loaded, error: null };
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      // No resolved config to hash: the directory is named after what the point asked for.
      return { point, hash: `x${hashJson({ scenario: point.scenario, sets: point.sets }).slice(1)}`, loaded: null, error: e.message };
    }
  });
}

export async function runSweep(spec: SweepSpec, opts: SweepOptions): Promise<SweepResult> {
  const pointsDir = path.join(opts.outDir, SWEEP_FILES.points);
  ensureDirectory(pointsDir);
  writeFileAtomic(path.join(opts.outDir, SWEEP_FILES.spec), JSON.stringify(spec, null, 2) + '\n');
  const planned = plan(expandSweep(spec));
  const sample = sweepSampling(spec);

  // One run per distinct config: two points that resolve alike share a directory.
  const toRun = new Map<string, Planned>();
  let finished = 0;
  for (const p of planned) {
    const dir = path.join(pointsDir, p.hash);
    if (p.loaded === null) {
      writeRunError(dir, { kind: 'config', message: p.error!, source: p.point.scenario, seed: p.point.seed, overrides: p.point.sets, started_at: new Date().toISOString() });
    } else if (readRunMeta(dir) && (!sample || fs.existsSync(path.join(dir, RUN_FILES.timeseries)))) {
      finished++;
    } else if (!toRun.has(p.hash)) {
      toRun.set(p.hash, p);
    }
  }
  const failedToResolve = planned.filter((p) => p.loaded === null).length;
  opts.onPlanned?.({ total: planned.length, toRun: toRun.size, finished, failedToResolve });

  const pool = opts.backend ? await opts.backend(toRun.size) : new LocalRunner(Math.max(1, Math.min(opts.jobs, toRun.size)));
  // Points run side by side: by default each gets its share of the machine's limit.
  const maxHostMemory = opts.maxHostMemory ?? Math.floor(defaultHostMemoryLimit() / Math.max(1, Math.min(opts.jobs, toRun.size)));
  let interrupted = false;
  const onAbort = () => {
    interrupted = true;
    pool.kill();
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort);
  let done = 0;
  try {
    await Promise.all([...toRun.values()].map(async (p) => {
      const dir = path.join(pointsDir, p.hash);
      const task = { hash: p.hash, loaded: p.loaded!, maxHostMemory, ...(sample ? { sample } : {}) };
      const reply = await pool.run(task);
      if (interrupted) return;
      if (reply.files) {
        writePointFiles(dir, reply.files);
      } else {
        // No files: the worker died (or the queue refused the point) before it could record the failure itself.
        writePointFiles(dir, { [RUN_FILES.error]: runErrorText({ kind: 'internal', message: reply.error!, source: p.loaded!.file, seed: p.loaded!.scenario.seed, overrides: p.loaded!.overrides, started_at: new Date().toISOString() }) });
      }
      await pool.collected(task);
      done++;
      opts.onPointDone?.({ ...result(p, dir), hostSeconds: reply.hostSeconds, done, toRun: toRun.size });
    }));
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await pool.close();
  }

  const results = planned.map((p) => result(p, path.join(pointsDir, p.hash)));
  const axes = axisPaths(spec);
  const common = { ran: done, skipped: finished, axes, workersStarted: pool.started, interrupted, results };
  if (interrupted) return { ...common, failed: 0, columns: [], resultsFile: null };
  const stats = readPointStats(pointsDir, results);
  const columns = statColumns(stats, spec.stats);
  const resultsFile = path.join(opts.outDir, SWEEP_FILES.results);
  writeFileAtomic(resultsFile, resultsCsv(results, axes, columns, stats));
  return { ...common, failed: results.filter((r) => r.status !== 'ok').length, columns, resultsFile };
}

/** A point's outcome as its directory records it. */
function result(p: Planned, dir: string): PointResult {
  const meta = readRunMeta(dir);
  if (meta) return { point: p.point, hash: p.hash, status: 'ok', seed: meta.seed, error: null };
  const err = readRunError(dir);
  return {
    point: p.point, hash: p.hash, status: 'error', seed: p.loaded?.scenario.seed ?? p.point.seed,
    error: err?.message ?? p.error ?? 'no result (the point did not finish)',
  };
}
