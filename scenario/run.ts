import { createSimContext } from '../sim/engine/context';
import { Priority, type RunResult } from '../sim/engine/engine';
import type { StatsDump } from '../sim/engine/stats';
import type { Tick } from '../sim/engine/time';
import { TRACE_CATEGORIES, Tracer, type TraceCategory, type TraceWriter } from '../sim/engine/trace';
import { ChromeTraceWriter, createTraceWriter, socMasterNames, type TraceOutputFormat } from '../sim/engine/chromeTrace';
import type { TraceWindow } from '../sim/engine/traceWindow';
import { buildSoc, hashJson, type Soc } from '../sim/soc/builder';
import * as path from 'path';
import { ConfigError, formatJsonPath, SimTimeLimitError } from '../sim/engine/errors';
import { registerHandlerOwners } from '../sim/engine/handlerOwners';
import type { SimContext } from '../sim/engine/context';
import type { Rng } from '../sim/engine/rng';
import { DeviceContexts, type DeviceBuffer } from '../drivers/devices/buffers';
import { DeviceDriver } from '../drivers/devices/driver';
import { KernelError } from '../drivers/errno';
import { bootPlatform, type Platform } from '../drivers/platform';
import { JobResourceError, type JobEnv } from './jobSpec';
import { applyFill, startJob, type JobResult } from './jobs';
import { checkJobsSupportMode, loadScenario, needsPlatform, type LoadedScenario } from './load';
import type { AccessMode } from '../sim/engine/accessMode';
import { checkRunHostMemory } from './hostMemory';
import { TimeSeriesSampler, type SampleOptions, type TimeSeries } from '../sim/engine/timeSeries';
import { pageTablesDoc, type PageTablesDoc } from './pageTables';
import { checkFastForward, FastForward, fastForwardOn, type FastForwardReport } from './fastForward';

export interface RunOptions {
  /** Overrides the scenario's seed. */
  seed?: number;
  /** Overrides the scenario's access mode. */
  mode?: AccessMode;
  /** Overrides the scenario's stop time (ps). */
  until?: Tick;
  /** Trace destination: a file path or a writer (tests use MemoryTraceWriter). */
  tracePath?: string;
  /** Format of the file at tracePath: socsim JSON Lines (default) or Chrome trace-event JSON (Perfetto). */
  traceFormat?: TraceOutputFormat;
  traceWriter?: TraceWriter;
  traceCategories?: readonly TraceCategory[];
  /** Only records in this window (`--trace-window`); header and end record always. */
  traceWindow?: TraceWindow;
  /** Refuse the run (ConfigError) when its host-memory estimate exceeds this many bytes; default half of the machine's memory (scenario/hostMemory.ts). */
  maxHostMemory?: number;
  /** Record selected stats every interval (`--sample-interval`); RunOutput.timeseries. */
  sample?: SampleOptions;
  /** Read every active context's page tables when the jobs end (RunOutput.pageTables; pagetables.json of `run --out`). */
  pageTables?: boolean;
  /** Called when the jobs end, before teardown (drivers unmap, TLBs are invalidated): reads the hardware as the jobs left it (tests, checks). */
  beforeTeardown?: (soc: Soc) => void;
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
  /** The booted kernel, when the scenario needed one (buffers or device jobs). */
  platform: Platform | null;
  /** The time series, when RunOptions.sample asked for one. */
  timeseries: TimeSeries | null;
  /** With RunOptions.pageTables: the page tables as the jobs left them (before teardown); else null. */
  pageTables: PageTablesDoc | null;
  /** With a fast-forward (scenario fastForward / fastForwardAccesses): what the atomic phase did; else null. */
  fastForward: FastForwardReport | null;
}


/** Boots the platform, probes a driver per device with buffers, and obtains and fills the buffers. */
function bootDevices(ctx: SimContext, soc: Soc, loaded: LoadedScenario, mode: AccessMode, rng: Rng): JobEnv {
  const { scenario } = loaded;
  const k = scenario.kernel;
  const platform = bootPlatform(soc, {
    iommuStrict: k.iommuStrict, dmaDebug: k.dmaDebug,
    ...(k.swiotlbSize !== undefined ? { swiotlbSize: k.swiotlbSize } : {}),
    ...(k.cmaSize !== undefined ? { cmaSize: k.cmaSize } : {}),
    ...(k.iommuPassthrough !== undefined ? { iommuPassthrough: k.iommuPassthrough } : {}),
    ...(k.hypervisor !== undefined ? { hypervisor: k.hypervisor } : {}),
  });
  const contexts = new DeviceContexts(platform);
  const drivers = new Map<string, DeviceDriver>();
  const buffers = new Map<string, DeviceBuffer>();
  const atExit: Array<() => void> = [];
  scenario.buffers.forEach((b, i) => {
    let drv = drivers.get(b.device);
    if (!drv) {
      drv = new DeviceDriver(`socsim_${soc.attachPoint(b.device).config.kind}`, contexts, b.device);
      drv.probe();
      drivers.set(b.device, drv);
      atExit.push(() => drv!.remove());
    }
    let buf: DeviceBuffer;
    try {
      buf = drv.obtain({ name: b.name, device: b.device, size: b.size, via: b.via, direction: b.direction, pageSize: b.pageSize });
    } catch (e) {
      if (e instanceof KernelError) throw new ConfigError(loaded.file, formatJsonPath('scenario', ['buffers', i]), `the kernel could not provide buffer "${b.name}": ${e.message}`);
      throw e;
    }
    if (b.fill) {
      // The fill is written straight to memory (as a loader would): first flush the CPU
      // cache over it so no cached line shadows it, then hand it to the device.
      for (const [pa, bytes] of buf.backing) {
        platform.kcpu.flushRange(pa, bytes);
        applyFill(soc, { kind: 'fill', addr: pa, bytes, pattern: b.fill }, rng);
      }
      buf.syncForDevice();
    }
    buffers.set(b.name, buf);
  });
  return { ctx, soc, mode, platform, buffers, scenarioDir: path.dirname(loaded.file), atExit };
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
  const steps = runSteps(loaded, opts);
  for (let s = steps.next(); ; s = steps.next()) if (s.done) return s.value;
}

/** Stops a run between slices (RunStop.stop); the trace ends with reason "interrupted". */
export class RunInterrupted extends Error {
  /** Simulated time and events dispatched when the run stopped. */
  tick: Tick = 0;
  events = 0;
  constructor(readonly signal: string) {
    super(`interrupted by ${signal}`);
    this.name = 'RunInterrupted';
  }
}

/** Asked between slices whether to stop: the name of the signal that asks, or null. */
export type RunStop = () => string | null;

/**
 * runLoaded that returns to the event loop between slices of events (so signal handlers
 * run) and stops when `stop()` names a signal: the trace gets its end record (reason
 * "interrupted"), is flushed and closed, and the promise rejects with RunInterrupted.
 */
export async function runLoadedInterruptible(loaded: LoadedScenario, opts: RunOptions, stop: RunStop): Promise<RunOutput> {
  const steps = runSteps(loaded, opts);
  for (let s = steps.next(); ; ) {
    if (s.done) return s.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
    const signal = stop();
    s = signal === null ? steps.next() : steps.throw(new RunInterrupted(signal));
  }
}

/** The run, yielding between slices of events. */
function* runSteps(loaded: LoadedScenario, opts: RunOptions): Generator<void, RunOutput, void> {
  const { scenario } = loaded;
  const seed = opts.seed ?? scenario.seed;
  const until = opts.until ?? scenario.until;
  // Before anything is built or a trace file is created: a config too big for the host is refused with its dominating field.
  checkRunHostMemory(loaded, opts.maxHostMemory);
  const writer = opts.traceWriter ?? (opts.tracePath ? createTraceWriter(opts.tracePath, opts.traceFormat ?? 'jsonl') : null);
  const tracer = new Tracer(writer, opts.traceCategories ?? TRACE_CATEGORIES, opts.traceWindow ?? null);
  const ctx = createSimContext(seed, tracer);
  const configHash = hashJson({ soc: loaded.soc, scenario });

  try {
    const mode = opts.mode ?? scenario.mode;
    checkJobsSupportMode(scenario, mode, loaded.file, opts.mode ? '--mode atomic' : 'the scenario\'s "mode"');
    const ffOn = fastForwardOn(scenario);
    checkFastForward(scenario, mode, loaded.file, { what: 'fast-forward', ...(opts.mode ? { modeFrom: `--mode ${opts.mode}` } : {}) });
    // A fast-forward builds the devices in atomic mode; the switch turns them to timing.
    const buildMode: AccessMode = ffOn ? 'atomic' : mode;
    const soc = buildSoc(ctx, loaded.soc, loaded.socFile, { mode: buildMode });
    if (writer instanceof ChromeTraceWriter) writer.setMasterNames(socMasterNames(soc));
    registerHandlerOwners(soc);
    tracer.start({ configHash, seed, scenario: scenario.name, soc: loaded.soc.name, mode, ...(loaded.overrides.length > 0 ? { overrides: loaded.overrides } : {}),
      ...(scenario.fastForward !== undefined ? { fastForward: scenario.fastForward } : {}),
      ...(scenario.fastForwardAccesses !== undefined ? { fastForwardAccesses: scenario.fastForwardAccesses } : {}) });
    ctx.stats.formula('sim.time_ns', 'simulated time at the end of the run, ns', () => ctx.engine.now / 1000);
    ctx.stats.formula('sim.events', 'events dispatched', () => ctx.engine.eventsDispatched);

    const initRng = ctx.rng.fork('scenario.init');
    for (const fill of scenario.init) applyFill(soc, fill, initRng);
    const devices = needsPlatform(scenario) ? bootDevices(ctx, soc, loaded, buildMode, initRng) : null;
    const env: JobEnv = devices ?? { ctx, soc, mode: buildMode, platform: null, buffers: new Map(), scenarioDir: path.dirname(loaded.file), atExit: [] };
    // Before the jobs start: each job's device gets its atomic phase.
    const fastForward = ffOn ? new FastForward(ctx, soc, scenario) : null;
    const jobs = scenario.jobs.map((j) => startJob(env, j));
    if (scenario.warmup > 0) ctx.engine.schedule(scenario.warmup, () => ctx.stats.reset(), undefined, Priority.Control);

    // The stop event runs after every other event of its tick (Priority.Late).
    if (until !== undefined) ctx.engine.schedule(until, () => ctx.engine.stop(), undefined, Priority.Late);
    // Counters and gauges registered by now are the ones a time series can select.
    const sampler = opts.sample ? new TimeSeriesSampler(ctx.stats, opts.sample) : null;
    // Built and booted: from here a stop signal can be answered (cli/interrupt.ts arms its handlers now).
    yield;
    let stopReason: RunResult;
    try {
      do {
        stopReason = sampler ? sampler.runSlice(ctx.engine, SLICE_EVENTS) : ctx.engine.runEvents(SLICE_EVENTS);
        if (stopReason === 'stopped' && fastForward?.takeSwitchBreak()) stopReason = 'count';
        opts.onProgress?.(jobs.reduce((a, j) => a + j.progress(), 0) / jobs.length, ctx.engine.now);
        if (stopReason === 'count') yield;
      } while (stopReason === 'count');
    } catch (e) {
      if (!(e instanceof JobResourceError)) throw e;
      const i = scenario.jobs.findIndex((j) => j.name === e.job);
      throw new ConfigError(loaded.file, formatJsonPath('scenario', ['jobs', i]), `the kernel ran out of resources for job "${e.job}": ${e.cause.message}`);
    }
    if (stopReason === 'stopped') stopReason = 'limit';

    const output: RunOutput = {
      loaded, soc, seed, configHash, stopReason,
      jobs: jobs.map((j) => j.result()),
      stats: ctx.stats.dump(),
      endTick: ctx.engine.now,
      events: ctx.engine.eventsDispatched,
      platform: devices?.platform ?? null,
      timeseries: sampler ? sampler.finish(ctx.engine.now) : null,
      // Read like the stats, before teardown unmaps the buffers; reading changes no stat.
      pageTables: opts.pageTables ? pageTablesDoc(soc) : null,
      fastForward: fastForward ? fastForward.report() : null,
    };
    opts.beforeTeardown?.(soc);
    // Teardown after the stats are taken: processes exit, drivers are removed (their
    // buffers unmapped and freed; dma-debug reports any leak to the kernel log).
    if (devices) for (const f of devices.atExit.reverse()) f();
    tracer.end(ctx.engine.now, stopReason === 'idle' ? 'complete' : 'until', { events: ctx.engine.eventsDispatched });
    return output;
  } catch (caught) {
    const e = caught instanceof SimTimeLimitError ? timeLimitConfigError(loaded.file, caught) : caught;
    // The trace says how it ended, whatever the exit path (issue 15: honest partial output).
    if (e instanceof RunInterrupted) {
      e.tick = ctx.engine.now;
      e.events = ctx.engine.eventsDispatched;
      tracer.end(ctx.engine.now, 'interrupted', { events: ctx.engine.eventsDispatched, signal: e.signal });
    } else {
      tracer.end(ctx.engine.now, 'error', { events: ctx.engine.eventsDispatched, error: e instanceof Error ? e.message : String(e) });
    }
    throw e;
  } finally {
    tracer.close();
  }
}

/** A run that would pass 2^53 ps is bad input (its delays or job lengths), reported on the scenario. */
function timeLimitConfigError(file: string, e: SimTimeLimitError): ConfigError {
  return new ConfigError(file, 'scenario', `the run would pass the end of simulated time: ${e.message}; give an earlier "until", fewer frames or packets, or shorter delays`);
}
