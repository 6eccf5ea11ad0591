import * as path from 'path';
import { ConfigError } from '../sim/engine/errors';
import { timeSeriesToCsv, type SampleOptions } from '../sim/engine/timeSeries';
import type { LoadedScenario } from './load';
import { runLoaded } from './run';
import { clearRunDir, RUN_FILES, runDirTexts, runErrorText, writeFileAtomic } from './runDir';

/**
 * One sweep point, run to the text of its run-directory files. Where it runs (a local
 * worker process, a queue worker on another machine) only moves these texts; the sweep
 * writes them into OUT/points/<hash>/ itself, so every backend leaves the same layout.
 */

/** A point's run-directory files by name (config/stats/csv/meta, and timeseries.csv when sampled, when it ran; error.json when it failed). */
export type PointFiles = Partial<Record<(typeof RUN_FILES)[keyof typeof RUN_FILES], string>>;

export interface PointOutcome {
  ok: boolean;
  hostSeconds: number;
  /** The files to write; null when the point produced none (its worker died, the queue refused it). */
  files: PointFiles | null;
  error?: string;
}

/**
 * How the point is named outside the process that runs it: a queue worker runs a copy of
 * the scenario in a scratch directory, but meta.json and error messages name the
 * coordinator's file (`file`), with each scratch path in `rewrite` put back as it was.
 */
export interface PointDisplay {
  file: string;
  rewrite: [scratch: string, original: string][];
}

/** Runs one point (sampled into timeseries.csv with `sample`); never throws (a failure becomes error.json). */
export function runPoint(loaded: LoadedScenario, display?: PointDisplay, maxHostMemory?: number, sample?: SampleOptions): PointOutcome {
  const startedAt = new Date();
  const t0 = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - t0) / 1e9;
  const shown = (text: string) => (display ? display.rewrite.reduce((t, [from, to]) => t.split(from).join(to), text) : text);
  const source = display?.file ?? loaded.file;
  try {
    const out = runLoaded(loaded, {
      maxHostMemory,
      ...(sample ? { sample } : {}),
      // The parent is gone (killed): stop instead of finishing a point nobody collects.
      onProgress: () => {
        if (process.send && !process.connected) process.exit(1);
      },
    });
    const hostSeconds = seconds();
    const texts = runDirTexts({ ...out, loaded: { ...out.loaded, file: source } }, { startedAt, hostSeconds, trace: null });
    return {
      ok: true, hostSeconds,
      files: {
        [RUN_FILES.config]: texts.config, [RUN_FILES.stats]: texts.stats, [RUN_FILES.csv]: texts.csv,
        ...(out.timeseries ? { [RUN_FILES.timeseries]: timeSeriesToCsv(out.timeseries) } : {}),
        [RUN_FILES.meta]: JSON.stringify(texts.meta, null, 2) + '\n',
      },
    };
  } catch (e) {
    const config = e instanceof ConfigError;
    const message = shown(config ? (e as Error).message : `internal error (a bug in socsim): ${(e as Error)?.stack ?? String(e)}`);
    const text = runErrorText({
      kind: config ? 'config' : 'internal', message, source,
      seed: loaded.scenario.seed, overrides: loaded.overrides, started_at: startedAt.toISOString(),
    });
    return { ok: false, hostSeconds: seconds(), files: { [RUN_FILES.error]: text }, error: message };
  }
}

/** Write order: meta.json last, so the directory reads as complete only once everything is in. */
const ORDER = [RUN_FILES.config, RUN_FILES.stats, RUN_FILES.csv, RUN_FILES.timeseries, RUN_FILES.error, RUN_FILES.meta] as const;

/** Replaces what `dir` held with a point's files, each written atomically, meta.json last. */
export function writePointFiles(dir: string, files: PointFiles): void {
  clearRunDir(dir);
  for (const name of ORDER) {
    const text = files[name];
    if (text !== undefined) writeFileAtomic(path.join(dir, name), text);
  }
}

