import * as os from 'os';
import type { Argv } from 'yargs';
import { parseQueueUrl, QueueUrlError } from '../scenario/queue/queueUrl';
import { parseTime, UnitError } from '../sim/engine/units';

/** Where the command writes (the CLI's stdout and stderr, or test collectors). */
export interface WorkerIO {
  out(text: string): void;
  err(text: string): void;
}

class WorkerUsageError extends Error {}

/** `socsim worker` options. */
export function workerOptions<T>(y: Argv<T>) {
  return y
    .option('queue', { type: 'string', demandOption: true, describe: 'the Redis server of the sweeps to serve: redis://[:password@]host[:port][/db] (as given to socsim sweep --queue)' })
    .option('concurrency', { type: 'number', describe: 'points run at once, each in its own process (default: the number of cores)' })
    .option('stalled-after', { type: 'string', default: '30s', describe: 'a point whose worker stops answering (killed, machine down) goes back to the queue after this long; use the same value on every worker' })
    .example('$0 worker --queue redis://:secret@10.0.0.5:6379', 'serve the sweeps of the coordinator whose Redis is on 10.0.0.5, one point per core')
    .example('$0 worker --queue redis://127.0.0.1:6379/2 --concurrency 2', 'two points at a time, Redis database 2');
}

export interface WorkerArgs {
  queue: string;
  concurrency?: number;
  'stalled-after': string;
}

/** Runs until SIGTERM/SIGINT: the first finishes the running points, a second hands them back to the queue. */
export async function workerCommand(args: WorkerArgs, io: WorkerIO): Promise<number> {
  let target;
  let stalledAfterMs: number;
  try {
    target = parseQueueUrl(args.queue);
    if (args.concurrency !== undefined && !(Number.isInteger(args.concurrency) && args.concurrency >= 1)) {
      throw new WorkerUsageError(`--concurrency: a number of points at once (1, 2, …), got ${args.concurrency}`);
    }
    stalledAfterMs = stalledAfter(args['stalled-after']);
  } catch (e) {
    if (!(e instanceof QueueUrlError) && !(e instanceof WorkerUsageError)) throw e;
    io.err(`socsim: ${e.message}\nTry 'socsim worker --help'.\n`);
    return 1;
  }
  // Loaded here, not at start-up: only `socsim worker` and `sweep --queue` need BullMQ.
  const { startQueueWorker } = await import('../scenario/queue/queueWorker');
  let handle;
  try {
    handle = await startQueueWorker(target, { concurrency: args.concurrency ?? os.availableParallelism(), stalledAfterMs, log: io.err });
  } catch (e) {
    if ((e as Error)?.name !== 'QueueUnreachable') throw e;
    io.err(`socsim: ${target.redact((e as Error).message)}\n`);
    return 1;
  }
  const h = handle;
  await new Promise<void>((resolve) => {
    let signals = 0;
    const onSignal = () => {
      signals++;
      if (signals > 2) return;
      void h.stop(signals === 2).then(() => {
        process.off('SIGTERM', onSignal);
        process.off('SIGINT', onSignal);
        resolve();
      });
    };
    process.on('SIGTERM', onSignal);
    process.on('SIGINT', onSignal);
  });
  io.err('socsim worker: stopped\n');
  return 0;
}

/** `--stalled-after 30s`: a time with its unit, at least 1 s (locks are renewed at half of it). */
function stalledAfter(text: string): number {
  let ps: number;
  try {
    if (/^\s*[\d.]+\s*$/.test(text)) throw new UnitError(`give a unit, e.g. ${text.trim()}s`);
    ps = parseTime(text);
  } catch (e) {
    throw new WorkerUsageError(`--stalled-after: ${(e as Error).message}`);
  }
  const ms = ps / 1e9;
  if (ms < 1000) throw new WorkerUsageError(`--stalled-after: at least 1s, got ${text}`);
  return Math.round(ms);
}
