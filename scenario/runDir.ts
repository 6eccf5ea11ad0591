import * as fs from 'fs';
import * as path from 'path';
import { hashJson } from '../sim/soc/builder';
import { statsToCsv } from '../sim/engine/statsCsv';
import type { AccessMode } from '../sim/engine/accessMode';
import type { Tick } from '../sim/engine/time';
import type { LoadedScenario } from './load';
import type { RunOutput } from './run';
import { gitCommit, socsimVersion } from './provenance';
import { pageTablesText } from './pageTables';
import { ensureDirectory, writeFileAtomic } from '../sim/engine/outputFile';
import { timeSeriesToCsv } from '../sim/engine/timeSeries';

/**
 * Run directories (`socsim run --out DIR`, and each point of a sweep):
 *
 *   config.json  the fully resolved {soc, scenario} that ran (defaults, overrides and the
 *                run's seed, until and mode folded in)
 *   stats.json   every stat, as `--stats json` prints it
 *   stats.csv    the same stats as `stat,value` CSV
 *   trace.jsonl  the trace, when one was asked for (trace.json for the chrome format)
 *   timeseries.csv  stats every interval, with --sample-interval (sim/engine/timeSeries.ts)
 *   pagetables.json  every active translation context's page tables when the jobs ended
 *                (`run --out` only; scenario/pageTables.ts)
 *   meta.json    provenance and outcome; written LAST
 *   error.json   instead of the stats and meta, when the run failed (sweeps)
 *
 * Every file is written under a temporary name in DIR and renamed into place, so no
 * reader ever sees half a file; meta.json is renamed last, so a directory without it is
 * an incomplete run (interrupted, or failed) whatever else it holds.
 */

export const RUN_FILES = {
  config: 'config.json',
  stats: 'stats.json',
  csv: 'stats.csv',
  meta: 'meta.json',
  error: 'error.json',
  timeseries: 'timeseries.csv',
  pageTables: 'pagetables.json',
} as const;

/** Trace file name inside a run directory, by trace format. */
export const TRACE_FILES = { jsonl: 'trace.jsonl', chrome: 'trace.json' } as const;

export const RUN_META_FORMAT = 'socsim-run';
export const RUN_META_VERSION = 1;

export interface RunMeta {
  format: typeof RUN_META_FORMAT;
  version: typeof RUN_META_VERSION;
  status: 'ok';
  socsim_version: string;
  git_commit: string | null;
  node_version: string;
  scenario: string;
  soc: string;
  /** The scenario file (or bundled scenario) the run was resolved from. */
  source: string;
  seed: number;
  mode: AccessMode;
  overrides: readonly string[];
  /** hashJson of config.json: the same config and seed always give the same hash. */
  config_hash: string;
  started_at: string;
  host_seconds: number;
  sim_time_ps: Tick;
  sim_time: string;
  events: number;
  stop_reason: string;
  jobs: { name: string; kind: string; status: string; done: boolean; verified: boolean | null }[];
  /** Trace file name inside the directory, or the path it was written to, or null. */
  trace: string | null;
}

/** What a failed run leaves in error.json. */
export interface RunErrorRecord {
  format: typeof RUN_META_FORMAT;
  version: typeof RUN_META_VERSION;
  status: 'error';
  /** `config` for bad input (a ConfigError: exit status 1), `internal` for a socsim bug. */
  kind: 'config' | 'internal';
  message: string;
  source: string;
  seed: number | null;
  overrides: readonly string[];
  started_at: string;
}

/**
 * The loaded scenario with a run's seed, stop time and access mode written into it, so
 * that config.json alone reproduces the run and its hash covers them.
 */
export function withRunOptions(loaded: LoadedScenario, o: { seed?: number; until?: Tick; mode?: AccessMode }): LoadedScenario {
  const scenario = { ...loaded.scenario };
  if (o.seed !== undefined) scenario.seed = o.seed;
  if (o.until !== undefined) scenario.until = o.until;
  if (o.mode !== undefined) scenario.mode = o.mode;
  return { ...loaded, scenario };
}

/** The config a run directory records: what the run was built from. */
export function runConfig(loaded: LoadedScenario): { soc: LoadedScenario['soc']; scenario: LoadedScenario['scenario'] } {
  return { soc: loaded.soc, scenario: loaded.scenario };
}

/** Hash of a run's config (the same as RunOutput.configHash). */
export function runConfigHash(loaded: LoadedScenario): string {
  return hashJson(runConfig(loaded));
}

/** Writes `text` to `file` through a temporary file in the same directory and a rename (sim/engine/outputFile.ts). */
export { writeFileAtomic };


/** The meta.json of a complete run in `dir`, or null (no directory, incomplete, unreadable). */
export function readRunMeta(dir: string): RunMeta | null {
  try {
    const meta = JSON.parse(fs.readFileSync(path.join(dir, RUN_FILES.meta), 'utf8')) as RunMeta;
    return meta.format === RUN_META_FORMAT && meta.status === 'ok' ? meta : null;
  } catch {
    return null;
  }
}

/** The error.json of a failed run in `dir`, or null. */
export function readRunError(dir: string): RunErrorRecord | null {
  try {
    const rec = JSON.parse(fs.readFileSync(path.join(dir, RUN_FILES.error), 'utf8')) as RunErrorRecord;
    return rec.format === RUN_META_FORMAT && rec.status === 'error' ? rec : null;
  } catch {
    return null;
  }
}

/**
 * Makes `dir` ready for a new run: creates it and removes what an earlier run left
 * (meta.json first, so the directory reads as incomplete at once). The caller decides
 * beforehand whether an existing complete run may be replaced.
 */
export function clearRunDir(dir: string): void {
  ensureDirectory(dir);
  for (const f of [RUN_FILES.meta, RUN_FILES.error, RUN_FILES.stats, RUN_FILES.csv, RUN_FILES.config, RUN_FILES.timeseries, RUN_FILES.pageTables, ...Object.values(TRACE_FILES)]) {
    fs.rmSync(path.join(dir, f), { force: true });
  }
}

export interface RunDirInfo {
  startedAt: Date;
  hostSeconds: number;
  /**
   * The trace written during the run: a temporary file inside the directory (renamed to
   * its final name here, before meta.json) or a path outside it (recorded as given).
   */
  trace?: { written: string; final: string } | null;
}

/** A run directory's files as text (what a sweep point's worker sends back). */
export interface RunDirTexts {
  config: string;
  stats: string;
  csv: string;
  meta: RunMeta;
}

/** The files of a finished run, as text; `trace` is the meta.json trace entry (null: none). */
export function runDirTexts(out: RunOutput, info: { startedAt: Date; hostSeconds: number; trace: string | null }): RunDirTexts {
  const { loaded } = out;
  const meta: RunMeta = {
    format: RUN_META_FORMAT,
    version: RUN_META_VERSION,
    status: 'ok',
    socsim_version: socsimVersion(),
    git_commit: gitCommit(),
    node_version: process.version,
    scenario: loaded.scenario.name,
    soc: loaded.soc.name,
    source: loaded.file,
    seed: out.seed,
    mode: loaded.scenario.mode,
    overrides: loaded.overrides,
    config_hash: out.configHash,
    started_at: info.startedAt.toISOString(),
    host_seconds: info.hostSeconds,
    sim_time_ps: out.endTick,
    sim_time: formatPs(out.endTick),
    events: out.events,
    stop_reason: out.stopReason,
    jobs: out.jobs.map((j) => ({ name: j.name, kind: j.kind, status: j.status, done: j.done, verified: j.verified })),
    trace: info.trace,
  };
  return {
    config: JSON.stringify(runConfig(loaded), null, 2) + '\n',
    stats: JSON.stringify(out.stats, null, 2) + '\n',
    csv: statsToCsv(out.stats),
    meta,
  };
}

/** Writes a finished run's files into `dir` (created if needed), meta.json last. */
export function writeRunDir(dir: string, out: RunOutput, info: RunDirInfo): RunMeta {
  ensureDirectory(dir);
  const trace = info.trace ? (path.dirname(path.resolve(info.trace.final)) === path.resolve(dir) ? path.basename(info.trace.final) : info.trace.final) : null;
  const texts = runDirTexts(out, { startedAt: info.startedAt, hostSeconds: info.hostSeconds, trace });
  writeFileAtomic(path.join(dir, RUN_FILES.config), texts.config);
  writeFileAtomic(path.join(dir, RUN_FILES.stats), texts.stats);
  writeFileAtomic(path.join(dir, RUN_FILES.csv), texts.csv);
  if (out.timeseries) writeFileAtomic(path.join(dir, RUN_FILES.timeseries), timeSeriesToCsv(out.timeseries));
  if (out.pageTables) writeFileAtomic(path.join(dir, RUN_FILES.pageTables), pageTablesText(out.pageTables));
  if (info.trace && info.trace.written !== info.trace.final) fs.renameSync(info.trace.written, info.trace.final);
  writeFileAtomic(path.join(dir, RUN_FILES.meta), JSON.stringify(texts.meta, null, 2) + '\n');
  return texts.meta;
}

/** error.json's text for a failed run. */
export function runErrorText(rec: Omit<RunErrorRecord, 'format' | 'version' | 'status'>): string {
  const full: RunErrorRecord = { format: RUN_META_FORMAT, version: RUN_META_VERSION, status: 'error', ...rec };
  return JSON.stringify(full, null, 2) + '\n';
}

/** Records a failed run in `dir`/error.json (no stats, no meta: the directory stays incomplete). */
export function writeRunError(dir: string, rec: Omit<RunErrorRecord, 'format' | 'version' | 'status'>): void {
  ensureDirectory(dir);
  writeFileAtomic(path.join(dir, RUN_FILES.error), runErrorText(rec));
}

/** Simulated time, readable: the largest unit that keeps at least one integer digit. */
export function formatPs(ps: number): string {
  if (ps >= 1e9) return `${ps / 1e9} ms`;
  if (ps >= 1e6) return `${ps / 1e6} us`;
  if (ps >= 1e3) return `${ps / 1e3} ns`;
  return `${ps} ps`;
}
