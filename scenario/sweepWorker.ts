import { ConfigError } from '../sim/engine/errors';
import type { LoadedScenario } from './load';
import { runLoaded } from './run';
import { clearRunDir, writeRunDir, writeRunError } from './runDir';

/**
 * A sweep worker process (forked by scenario/sweepPool.ts). It runs one point at a time:
 * the parent sends the resolved scenario and the point's directory, the worker runs it,
 * writes the run directory (or error.json) and answers. It stays up for the next point,
 * so process start and module loading are paid once per worker, not per point.
 */

export interface WorkerRequest {
  id: number;
  dir: string;
  loaded: LoadedScenario;
  /** The point's host-memory limit in bytes (scenario/hostMemory.ts). */
  maxHostMemory?: number;
}

export interface WorkerReply {
  id: number;
  ok: boolean;
  hostSeconds: number;
  error?: string;
}

/** Runs one point into `dir`; never throws (a failure is recorded in error.json). */
export function runPoint(req: WorkerRequest): WorkerReply {
  const startedAt = new Date();
  const t0 = process.hrtime.bigint();
  const seconds = () => Number(process.hrtime.bigint() - t0) / 1e9;
  try {
    clearRunDir(req.dir);
    const out = runLoaded(req.loaded, {
      maxHostMemory: req.maxHostMemory,
      // The parent is gone (killed): stop instead of finishing a point nobody collects.
      onProgress: () => {
        if (process.send && !process.connected) process.exit(1);
      },
    });
    writeRunDir(req.dir, out, { startedAt, hostSeconds: seconds() });
    return { id: req.id, ok: true, hostSeconds: seconds() };
  } catch (e) {
    const config = e instanceof ConfigError;
    const message = config ? (e as Error).message : `internal error (a bug in socsim): ${(e as Error)?.stack ?? String(e)}`;
    writeRunError(req.dir, {
      kind: config ? 'config' : 'internal', message, source: req.loaded.file,
      seed: req.loaded.scenario.seed, overrides: req.loaded.overrides, started_at: startedAt.toISOString(),
    });
    return { id: req.id, ok: false, hostSeconds: seconds(), error: message };
  }
}

if (require.main === module) {
  process.on('message', (req: WorkerRequest) => {
    process.send!(runPoint(req));
  });
  process.on('disconnect', () => process.exit(0));
}
