import { createSimContext } from '../sim/engine/context';
import { Priority, type RunResult } from '../sim/engine/engine';
import type { StatsDump } from '../sim/engine/stats';
import type { Tick } from '../sim/engine/time';
import { FileTraceWriter, TRACE_CATEGORIES, Tracer, type TraceCategory, type TraceWriter } from '../sim/engine/trace';
import { buildSoc, hashJson, type AccessMode, type Soc } from '../sim/soc/builder';
import { applyFill, startJob, type JobResult } from './jobs';
import { loadScenario, type LoadedScenario } from './scenario';

export interface RunOptions {
  /** Overrides the scenario's seed. */
  seed?: number;
  /** Overrides the scenario's access mode. */
  mode?: AccessMode;
  /** Overrides the scenario's stop time (ps). */
  until?: Tick;
  /** Trace destination: a file path or a writer (tests use MemoryTraceWriter). */
  tracePath?: string;
  traceWriter?: TraceWriter;
  traceCategories?: readonly TraceCategory[];
  /** Called between slices of events with the jobs' mean progress in [0, 1]. */
  onProgress?: (fraction: number, tick: Tick) => void;
}

export interface RunOutput {
  loaded: LoadedScenario;
  soc: Soc;
  stats: StatsDump;
  jobs: JobResult[];
  endTick: Tick;
  events: number;
  stopReason: RunResult;
  seed: number;
  configHash: string;
}

/** Events dispatched between progress callbacks (and stop-condition checks). */
const SLICE_EVENTS = 1 << 18;

/**
 * Runs a scenario file to completion (or to its `until`) and returns its stats. This is
 * the one entry point the CLI, the benchmarks and the tests share.
 */
export function run(scenarioFile: string, opts: RunOptions = {}): RunOutput {
  return runLoaded(loadScenario(scenarioFile), opts);
}

export function runLoaded(loaded: LoadedScenario, opts: RunOptions = {}): RunOutput {
  const { scenario } = loaded;
  const seed = opts.seed ?? scenario.seed;
  const until = opts.until ?? scenario.until;
  const writer = opts.traceWriter ?? (opts.tracePath ? new FileTraceWriter(opts.tracePath) : null);
  const tracer = new Tracer(writer, opts.traceCategories ?? TRACE_CATEGORIES);
  const ctx = createSimContext(seed, tracer);
  const configHash = hashJson({ soc: loaded.soc, scenario });

  try {
    const mode = opts.mode ?? scenario.mode;
    const soc = buildSoc(ctx, loaded.soc, loaded.socFile, { mode });
    tracer.start({ configHash, seed, scenario: scenario.name, soc: loaded.soc.name, mode });
    ctx.stats.formula('sim.time_ns', 'simulated time at the end of the run, ns', () => ctx.engine.now / 1000);
    ctx.stats.formula('sim.events', 'events dispatched', () => ctx.engine.eventsDispatched);

    const initRng = ctx.rng.fork('scenario.init');
    for (const fill of scenario.init) applyFill(soc, fill, initRng);
    const jobs = scenario.jobs.map((j) => startJob(ctx, soc, j));
    if (scenario.warmup > 0) ctx.engine.schedule(scenario.warmup, () => ctx.stats.reset(), undefined, Priority.Control);

    // The stop event runs after every other event of its tick (Priority.Late).
    if (until !== undefined) ctx.engine.schedule(until, () => ctx.engine.stop(), undefined, Priority.Late);
    let stopReason: RunResult;
    do {
      stopReason = ctx.engine.runEvents(SLICE_EVENTS);
      opts.onProgress?.(jobs.reduce((a, j) => a + j.progress(), 0) / jobs.length, ctx.engine.now);
    } while (stopReason === 'count');
    if (stopReason === 'stopped') stopReason = 'limit';

    return {
      loaded, soc, seed, configHash, stopReason,
      jobs: jobs.map((j) => j.result()),
      stats: ctx.stats.dump(),
      endTick: ctx.engine.now,
      events: ctx.engine.eventsDispatched,
    };
  } finally {
    tracer.close();
  }
}
