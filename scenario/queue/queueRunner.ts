import * as fs from 'fs';
import { Job, Queue, QueueEvents } from 'bullmq';
import { ConfigError } from '../../sim/engine/errors';
import type { PointOutcome } from '../pointRun';
import { RUN_FILES, runErrorText } from '../runDir';
import type { PointRunner, PointTask } from '../sweepBackend';
import { outcomeOfResult, POINT_JOB_NAME, pointJobId, pointJobOf } from './pointJob';
import { checkReachable, QUEUE_NAME, queueConnection, quietErrors } from './redis';
import type { QueueTarget } from './queueUrl';

/**
 * The queue backend of `socsim sweep --queue` (the coordinator's side): one BullMQ job
 * per point, id `point-<hash>`, so enqueueing a point again (a restarted coordinator, two
 * sweeps sharing a point) joins the job already there. A job that finished before this
 * coordinator started is collected at once; one that failed before is retried (as the
 * local backend retries failed points). Results are the job's return value; the sweep
 * writes them and the job is then removed.
 */

/** Finished jobs nobody collected (an abandoned sweep) are dropped after a week. */
const KEEP_SECONDS = 7 * 24 * 3600;
/** How often a waiting point's job state is read, in case its completion event was missed. */
const POLL_MS = 10_000;

export class QueueRunner implements PointRunner {
  readonly started = 0;
  private readonly inputs = new Map<string, Buffer>();
  private closing = false;

  private constructor(private readonly target: QueueTarget, private readonly queue: Queue, private readonly events: QueueEvents, private readonly warn: (text: string) => void) {}

  /** Connects (failing fast with a redacted message when the server cannot be reached). */
  static async open(target: QueueTarget, warn: (text: string) => void): Promise<QueueRunner> {
    await checkReachable(target);
    const queue = new Queue(QUEUE_NAME, { connection: queueConnection(target) });
    const events = new QueueEvents(QUEUE_NAME, { connection: queueConnection(target) });
    quietErrors(target, warn, queue, events);
    await Promise.all([queue.waitUntilReady(), events.waitUntilReady()]);
    return new QueueRunner(target, queue, events, warn);
  }

  async run(task: PointTask): Promise<PointOutcome> {
    let payload;
    try {
      payload = pointJobOf(task.hash, task.loaded, (f) => this.readInput(f), task.sample);
    } catch (e) {
      // An absolute input path, or an input that cannot be read: this point fails, the sweep goes on.
      const config = e instanceof ConfigError;
      const message = config ? e.message : `cannot read the point's input files: ${(e as Error)?.message ?? String(e)}`;
      const text = runErrorText({ kind: config ? 'config' : 'internal', message, source: task.loaded.file, seed: task.loaded.scenario.seed, overrides: task.loaded.overrides, started_at: new Date().toISOString() });
      return { ok: false, hostSeconds: 0, files: { [RUN_FILES.error]: text }, error: message };
    }
    try {
      const job = await this.queue.add(POINT_JOB_NAME, payload, {
        jobId: pointJobId(task.hash, task.sample), attempts: 1,
        removeOnComplete: { age: KEEP_SECONDS }, removeOnFail: { age: KEEP_SECONDS },
      });
      // Added before, and failed then (a bad worker, a stall limit): this sweep tries it again.
      if (await job.getState() === 'failed') await job.retry('failed', { resetAttemptsMade: true, resetAttemptsStarted: true });
      return outcomeOfResult(task.hash, await this.finished(job));
    } catch (e) {
      const message = this.target.redact((e as Error)?.message ?? String(e));
      return { ok: false, hostSeconds: 0, files: null, error: this.closing ? 'not collected (interrupted)' : `the queue gave up on this point: ${message}` };
    }
  }

  /**
   * The job's return value (rejects with its failure reason). Its completion event says so
   * at once; a poll of its state covers an event this coordinator missed (the events
   * stream is trimmed, the connection dropped).
   */
  private async finished(job: Job): Promise<unknown> {
    const event = job.waitUntilFinished(this.events);
    event.catch(() => {});
    for (;;) {
      let timer: NodeJS.Timeout | undefined;
      const tick = new Promise<'poll'>((resolve) => {
        timer = setTimeout(() => resolve('poll'), POLL_MS);
      });
      const first = await Promise.race([event.then((v) => ({ v })), tick]).finally(() => clearTimeout(timer));
      if (first !== 'poll') return first.v;
      if (this.closing) throw new Error('closing');
      const now = await Job.fromId(this.queue, job.id!);
      if (!now) throw new Error('the job was removed from the queue');
      const state = await now.getState();
      if (state === 'completed') return now.returnvalue;
      if (state === 'failed') throw new Error(now.failedReason);
    }
  }

  private readInput(file: string): Buffer {
    let b = this.inputs.get(file);
    if (!b) {
      b = fs.readFileSync(file);
      this.inputs.set(file, b);
    }
    return b;
  }

  async collected(task: PointTask): Promise<void> {
    try {
      await (await Job.fromId(this.queue, pointJobId(task.hash, task.sample)))?.remove();
    } catch (e) {
      // Locked by a worker that runs it again (two sweeps on one point): it expires on its own.
      this.warn(`sweep: could not remove finished job ${pointJobId(task.hash, task.sample)}: ${this.target.redact((e as Error).message)}\n`);
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.allSettled([this.events.close(), this.queue.close()]);
  }

  /** Stops waiting; the jobs stay in the queue, and a coordinator started later collects them. */
  kill(): void {
    void this.close();
  }
}
