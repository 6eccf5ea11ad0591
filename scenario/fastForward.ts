import { Priority } from '../sim/engine/engine';
import { ConfigError, formatJsonPath, SimInvariantError } from '../sim/engine/errors';
import type { SimContext } from '../sim/engine/context';
import type { Tick } from '../sim/engine/time';
import type { Soc } from '../sim/soc/builder';
import { AtomicPhase, isFastForwardDevice, type FastForwardDevice } from '../sim/devices/fastForward';
import { jobKind } from './jobRegistry';
import type { AccessMode } from '../sim/engine/accessMode';
import type { Scenario } from './schema';

/**
 * Fast-forward (gem5's practice): the run starts in atomic mode, every device with a
 * job issuing its accesses through the atomic path in bounded batches, which warms the
 * functional state (memory, page tables, TLBs, walk caches, CPU cache, DRAM open rows)
 * exactly as those accesses leave it. Then the run drains and switches:
 *
 * - A device **parks** at its first drain point (sim/devices/fastForward.ts: between two
 *   atomic batches, once all its accesses have completed at their estimated ticks) at or
 *   after `fastForward` (a simulated time), or once it has performed
 *   `fastForwardAccesses` atomic accesses. A parked device issues nothing.
 * - The **switch** happens at the first tick at which at least one device is parked and
 *   every device with a job is parked or idle (its jobs over, or not started yet). Nothing
 *   is in flight then. At the switch the stats are reset (as `warmup` does) and every
 *   device continues in timing mode from its next access; jobs that start later start in
 *   timing mode. A device that parked early waits (in simulated time) for the others.
 * - Counts of the atomic phase are kept apart in `sim.fast_forward.*` (formulas, which a
 *   reset leaves alone): `switched`, `time_ns` (the switch tick), `accesses` (atomic
 *   accesses of the jobs' devices), `events`. Host seconds are not a stat (stats are
 *   deterministic): RunOutput.fastForward.hostSeconds.
 * - When every job ends before the switch, there is none: `switched` is 0 and the stats
 *   cover the atomic run.
 */

export interface FastForwardReport {
  switched: boolean;
  /** The switch tick (or the end of the run when there was none). */
  switchTick: Tick;
  /** Atomic accesses of the jobs' devices before the switch. */
  accesses: number;
  /** Events dispatched before the switch. */
  events: number;
  /** Host seconds from the first event to the switch. */
  hostSeconds: number;
}

/** Whether the scenario asks for a fast-forward. */
export function fastForwardOn(s: Scenario): boolean {
  return s.fastForward !== undefined || s.fastForwardAccesses !== undefined;
}

/** Where a scenario's fast-forward came from, for error messages. */
export interface FastForwardSource {
  /** e.g. `the scenario's "fastForward"` or `--fast-forward`. */
  what: string;
  /** Where the mode came from when it is not the scenario's. */
  modeFrom?: string;
}

/**
 * Checks a fast-forward against the scenario (run and validate share it): one of the two
 * limits, a timing run, a stop time after the fast-forward time, and every job's device
 * able to fast-forward.
 */
export function checkFastForward(s: Scenario, mode: AccessMode, file: string, from: FastForwardSource): void {
  if (!fastForwardOn(s)) return;
  const at = (p: (string | number)[]) => formatJsonPath('scenario', p);
  if (s.fastForward !== undefined && s.fastForwardAccesses !== undefined) {
    throw new ConfigError(file, at(['fastForwardAccesses']), 'give fastForward (a simulated time) or fastForwardAccesses (a count), not both');
  }
  if (mode !== 'timing') {
    throw new ConfigError(file, at(['mode']), `${from.what} switches the run from atomic to timing mode, so the run's mode must be timing, but ${from.modeFrom ?? 'the scenario\'s "mode"'} asks for ${mode}`);
  }
  if (s.fastForward !== undefined && s.until !== undefined && s.until <= s.fastForward) {
    throw new ConfigError(file, at(['until']), `must be after the fast-forward time (${`${s.fastForward / 1e6} us`}), got ${`${s.until / 1e6} us`}: the run would end before switching to timing mode`);
  }
  s.jobs.forEach((j, i) => {
    const entry = jobKind(j.kind);
    if (entry.fastForward === true) return;
    const target = entry.target.field === 'core' ? `core "${String(j.core)}"` : `device "${String(j.device)}"`;
    throw new ConfigError(file, at(['jobs', i, 'kind']), `job "${j.name}" (${j.kind}) on ${target} cannot fast-forward, which ${from.what} asks for: ${entry.fastForward}`);
  });
}

/**
 * The scenario with a fast-forward given on the command line (`--fast-forward`,
 * `--fast-forward-accesses`), checked; the option replaces the scenario's own.
 */
export function withFastForward<L extends { file: string; scenario: Scenario }>(loaded: L, o: { time?: Tick; accesses?: number }, mode: AccessMode | undefined, option: string): L {
  if (o.time === undefined && o.accesses === undefined) return loaded;
  const scenario = { ...loaded.scenario };
  delete scenario.fastForward;
  delete scenario.fastForwardAccesses;
  if (o.time !== undefined) scenario.fastForward = o.time;
  if (o.accesses !== undefined) scenario.fastForwardAccesses = o.accesses;
  checkFastForward(scenario, mode ?? scenario.mode, loaded.file, { what: option, ...(mode !== undefined ? { modeFrom: `--mode ${mode}` } : {}) });
  return { ...loaded, scenario };
}

/** The run's fast-forward: one AtomicPhase per device with a job, and the switch. */
export class FastForward {
  private readonly phases: AtomicPhase[] = [];
  private readonly devices: FastForwardDevice[] = [];
  private switchPending = false;
  private switched = false;
  private switchTick: Tick = 0;
  private eventsAtSwitch = 0;
  private hostSeconds = 0;
  private readonly hostStart = process.hrtime.bigint();

  /** Attaches a phase to every job's device (before the jobs start) and registers `sim.fast_forward.*`. */
  constructor(private readonly ctx: SimContext, soc: Soc, s: Scenario) {
    const untilTick = s.fastForward ?? Infinity;
    const maxAccesses = s.fastForwardAccesses ?? Infinity;
    const seen = new Set<unknown>();
    for (const j of s.jobs) {
      const model = jobKind(j.kind).target.field === 'core' ? soc.core(j.core as string) : soc.device(j.device as string);
      if (seen.has(model)) continue;
      seen.add(model);
      if (!isFastForwardDevice(model)) throw new SimInvariantError(`job ${j.name}: its device model cannot fast-forward (the scenario loader checks this)`);
      const phase = new AtomicPhase(untilTick, maxAccesses, this.onChanged);
      model.beginFastForward(phase);
      this.devices.push(model);
      this.phases.push(phase);
    }
    const st = ctx.stats;
    st.formula('sim.fast_forward.switched', '1 when the run switched from atomic (fast-forward) to timing mode', () => (this.switched ? 1 : 0));
    st.formula('sim.fast_forward.time_ns', 'simulated time run in atomic mode before the switch, ns', () => (this.switched ? this.switchTick : ctx.engine.now) / 1000);
    st.formula('sim.fast_forward.accesses', 'atomic accesses of the jobs\' devices before the switch', () => this.accesses());
    st.formula('sim.fast_forward.events', 'events dispatched before the switch', () => (this.switched ? this.eventsAtSwitch : ctx.engine.eventsDispatched));
  }

  report(): FastForwardReport {
    const now = this.ctx.engine.now;
    return {
      switched: this.switched,
      switchTick: this.switched ? this.switchTick : now,
      accesses: this.accesses(),
      events: this.switched ? this.eventsAtSwitch : this.ctx.engine.eventsDispatched,
      hostSeconds: this.switched ? this.hostSeconds : Number(process.hrtime.bigint() - this.hostStart) / 1e9,
    };
  }

  private accesses(): number {
    let n = 0;
    for (const p of this.phases) n += p.accesses;
    return n;
  }

  /** A device parked or went idle: switch (at this tick, before its other events) when all are. */
  private readonly onChanged = (): void => {
    if (this.switched || this.switchPending) return;
    if (!this.phases.some((p) => p.parked)) return;
    for (let i = 0; i < this.devices.length; i++) if (!this.phases[i].parked && this.devices[i].busy) return;
    this.switchPending = true;
    this.ctx.engine.schedule(this.ctx.engine.now, this.onSwitch, undefined, Priority.Control);
  };

  private readonly onSwitch = (): void => {
    const engine = this.ctx.engine;
    this.switched = true;
    this.switchTick = engine.now;
    this.ctx.stats.reset();
    for (const d of this.devices) d.resumeTiming();
    // Ends the engine's slice here, so that the run loop reads the exact event count
    // (the engine totals a slice's events when it returns): see takeSwitchBreak.
    this.sliceBreak = true;
    engine.stop();
  };

  private sliceBreak = false;

  /**
   * Called by the run loop when a slice ended 'stopped': true when the switch stopped it
   * (the run goes on), after recording the atomic phase's events (the switch event is
   * its last) and host time.
   */
  takeSwitchBreak(): boolean {
    if (!this.sliceBreak) return false;
    this.sliceBreak = false;
    this.eventsAtSwitch = this.ctx.engine.eventsDispatched;
    this.hostSeconds = Number(process.hrtime.bigint() - this.hostStart) / 1e9;
    return true;
  }
}
