import type { SampleOptions } from '../sim/engine/timeSeries';
import type { LoadedScenario } from './load';
import { runPoint, type PointDisplay, type PointOutcome } from './pointRun';

/**
 * A sweep worker process (forked by scenario/sweepPool.ts). It runs one point at a time:
 * the parent sends the resolved scenario, the worker runs it and answers with the text
 * of the point's run-directory files (scenario/pointRun.ts), which the sweep writes. It
 * stays up for the next point, so process start and module loading are paid once per
 * worker, not per point.
 */

export interface WorkerRequest {
  id: number;
  loaded: LoadedScenario;
  display?: PointDisplay;
  /** The point's host-memory limit in bytes (scenario/hostMemory.ts). */
  maxHostMemory?: number;
  /** Sampling into timeseries.csv (sweep --sample-interval). */
  sample?: SampleOptions;
}

export interface WorkerReply extends PointOutcome {
  id: number;
}

if (require.main === module) {
  process.on('message', (req: WorkerRequest) => {
    process.send!({ id: req.id, ...runPoint(req.loaded, req.display, req.maxHostMemory, req.sample) } satisfies WorkerReply);
  });
  process.on('disconnect', () => process.exit(0));
}
