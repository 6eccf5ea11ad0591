import type { SampleOptions } from '../sim/engine/timeSeries';
import type { LoadedScenario } from './load';
import type { PointOutcome } from './pointRun';
import { WorkerPool } from './sweepPool';

/**
 * Where a sweep's points run: the one thing the local and queue backends do differently.
 * The sweep plans, skips finished points, writes each point's files, draws progress and
 * writes results.csv the same way whichever backend answers.
 */

export interface PointTask {
  /** The point's directory name: its resolved config's hash (seed included). */
  hash: string;
  loaded: LoadedScenario;
  /** The point's host-memory limit in bytes (scenario/hostMemory.ts); default: the runner's. */
  maxHostMemory?: number;
  /** Sampling into the point's timeseries.csv (sweep --sample-interval). */
  sample?: SampleOptions;
}

export interface PointRunner {
  /** Runs a point somewhere and answers with its files (never rejects). */
  run(task: PointTask): Promise<PointOutcome>;
  /** The point's files are written: the backend may forget it. */
  collected(task: PointTask): Promise<void>;
  /** Every task has been answered: release processes and connections. */
  close(): Promise<void>;
  /** Interrupt: answer every pending task at once (unrun, or left running elsewhere). */
  kill(): void;
  /** Worker processes this backend started here (the sweep bench reports it). */
  readonly started: number;
}

/** The default backend: forked worker processes on this machine (scenario/sweepPool.ts). */
export class LocalRunner implements PointRunner {
  private readonly pool: WorkerPool;

  constructor(size: number) {
    this.pool = new WorkerPool(size);
  }

  get started(): number {
    return this.pool.started;
  }

  run(task: PointTask): Promise<PointOutcome> {
    return this.pool.run({ loaded: task.loaded, maxHostMemory: task.maxHostMemory, ...(task.sample ? { sample: task.sample } : {}) });
  }

  async collected(): Promise<void> {}

  async close(): Promise<void> {
    this.pool.close();
  }

  kill(): void {
    this.pool.kill();
  }
}
