import { defaultHostMemoryLimit } from '../hostMemory';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { UnrecoverableError, Worker, type Job } from 'bullmq';
import { WorkerPool } from '../sweepPool';
import { acceptPointJob, BadPointJob, POINT_JOB_NAME, pointResultOf, type PointResult } from './pointJob';
import { checkReachable, QUEUE_NAME, queueConnection, quietErrors } from './redis';
import type { QueueTarget } from './queueUrl';

/**
 * `socsim worker --queue URL`: takes points off the queue and runs them in forked
 * worker processes (scenario/sweepPool.ts, as a local sweep does), so this process only
 * talks to Redis and its locks stay renewed however long a point runs. A point's result
 * is the job's return value (its run-directory files as text); nothing is written here
 * but the input files of running points, in a scratch directory removed at exit.
 *
 * A worker that dies (SIGKILL, power) stops renewing its jobs' locks: after
 * `stalledAfterMs` another worker moves them back to the queue (BullMQ's stalled-job
 * check), at most MAX_STALLS times per point before the point fails.
 */

/** How often a point may lose its worker before it is failed (a point that kills workers must not loop). */
export const MAX_STALLS = 2;

export interface QueueWorkerOptions {
  concurrency: number;
  /** A running point whose worker has not renewed its lock for this long goes back to the queue. */
  stalledAfterMs: number;
  /** One line per point and per event, for the worker's stderr. */
  log: (text: string) => void;
}

export interface QueueWorkerHandle {
  /**
   * Graceful: take no new points, finish the running ones, then close. `now`: hand the
   * running points back to the queue at once (another worker takes them) and close.
   */
  stop(now: boolean): Promise<void>;
}

export async function startQueueWorker(target: QueueTarget, opts: QueueWorkerOptions): Promise<QueueWorkerHandle> {
  await checkReachable(target);
  const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-worker-'));
  const pool = new WorkerPool(opts.concurrency);
  // This machine's limit, shared by the points it runs side by side.
  const maxHostMemory = Math.floor(defaultHostMemoryLimit() / Math.max(1, opts.concurrency));
  const running = new Map<string, { job: Job; token: string }>();

  const processor = async (job: Job, token?: string): Promise<PointResult> => {
    const id = job.id ?? '?';
    let accepted;
    try {
      if (job.name !== POINT_JOB_NAME) throw new BadPointJob(`not a socsim point job (name "${job.name}")`);
      accepted = acceptPointJob(job.data, scratch);
    } catch (e) {
      if (!(e instanceof BadPointJob)) throw e;
      opts.log(`rejected job ${id}: ${e.message}\n`);
      // Unrecoverable: no retry, the job fails with this reason; this worker carries on.
      throw new UnrecoverableError(e.message);
    }
    running.set(id, { job, token: token ?? '' });
    opts.log(`start ${accepted.job.hash} ${accepted.loaded.scenario.name} seed ${accepted.loaded.scenario.seed}\n`);
    try {
      const reply = await pool.run({ loaded: accepted.loaded, display: accepted.display, maxHostMemory, ...(accepted.job.sample ? { sample: accepted.job.sample } : {}) });
      // Handed back to the queue (stop now): another worker runs it; this answer is void.
      if (handedBack) return pointResultOf(accepted.job.hash, reply);
      const scenario = accepted.loaded.scenario.name;
      opts.log(`${reply.ok ? 'ok' : 'error'} ${accepted.job.hash} ${scenario} seed ${accepted.loaded.scenario.seed} (${reply.hostSeconds.toFixed(2)} s)${reply.error ? `: ${reply.error.split('\n')[0]}` : ''}\n`);
      return pointResultOf(accepted.job.hash, reply);
    } finally {
      running.delete(id);
    }
  };

  const worker = new Worker(QUEUE_NAME, processor, {
    connection: queueConnection(target),
    concurrency: opts.concurrency,
    lockDuration: opts.stalledAfterMs,
    stalledInterval: Math.max(500, Math.round(opts.stalledAfterMs / 2)),
    maxStalledCount: MAX_STALLS,
  });
  quietErrors(target, opts.log, worker);
  await worker.waitUntilReady();
  opts.log(`socsim worker: serving ${target.shown} (queue ${QUEUE_NAME}), ${opts.concurrency} point(s) at a time; SIGTERM finishes the running points and exits\n`);

  let stopping: Promise<void> | null = null;
  let handedBack = false;
  const cleanup = () => fs.rmSync(scratch, { recursive: true, force: true });
  return {
    stop(now: boolean): Promise<void> {
      if (now) {
        opts.log(`returning ${running.size} running point(s) to the queue\n`);
        handedBack = true;
        return (async () => {
          await Promise.allSettled([...running.values()].map(({ job, token }) => job.moveToWait(token)));
          await worker.close(true);
          pool.kill();
          cleanup();
        })();
      }
      stopping ??= (async () => {
        opts.log(`finishing ${running.size} running point(s), taking no new ones\n`);
        await worker.close();
        pool.close();
        cleanup();
      })();
      return stopping;
    },
  };
}
