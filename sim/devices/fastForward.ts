import type { Tick } from '../engine/time';

/**
 * Fast-forward (gem5's fast-forward with drain-and-switch): a device built in atomic
 * mode runs the start of its job through the atomic path in bounded batches, parks at
 * a drain point once its phase says so, and continues in timing mode from its next
 * access when the run switches.
 *
 * A **drain point** is a moment between two of the device's atomic batches at which
 * every access it has performed has completed at its estimated tick: the next batch's
 * event (a batch's successor is scheduled no earlier than its longest estimated round
 * trip), or the start of a job. Atomic accesses hold nothing in the hardware (no queue
 * entry, no walk, no DRAM request in flight), so when every device with work is parked
 * or idle nothing is in flight anywhere: that is the switch point.
 */
export interface FastForwardDevice {
  /** Whether the device has work: a running or queued job (parked or not). */
  readonly busy: boolean;
  /**
   * Attaches the run's atomic phase (before any job starts; the device must be built in
   * atomic mode). From then on the device batches its atomic accesses (at most
   * `phase.budget()` per batch) and asks `phase.parkHere(now)` at every drain point.
   */
  beginFastForward(phase: AtomicPhase): void;
  /**
   * The switch: from now on the device runs in timing mode. A job it was running
   * continues from its next access (scheduled as an event at the current tick); a job
   * that starts later starts in timing mode.
   */
  resumeTiming(): void;
}

export function isFastForwardDevice(m: unknown): m is FastForwardDevice {
  const d = m as Partial<FastForwardDevice> | null;
  return d !== null && typeof d === 'object' && typeof d.beginFastForward === 'function' && typeof d.resumeTiming === 'function';
}

/**
 * One device's share of the atomic phase: when it must park (at the first drain point at
 * or after `untilTick`, or once it has performed `maxAccesses` atomic accesses), and
 * the count of accesses it performed. `changed` tells the run's switch that the device
 * parked or went idle.
 */
export class AtomicPhase {
  /** Atomic accesses (bus transactions) the device performed before parking. */
  accesses = 0;
  parked = false;

  constructor(
    readonly untilTick: Tick,
    readonly maxAccesses: number,
    private readonly changed: () => void,
  ) {}

  /** Accesses the next batch may perform (Infinity without an access limit). */
  budget(): number {
    return this.maxAccesses - this.accesses;
  }

  /**
   * Called by the device at a drain point: true when it is (now) parked, and then it
   * issues nothing until resumeTiming().
   */
  parkHere(now: Tick): boolean {
    if (this.parked) return true;
    if (now < this.untilTick && this.accesses < this.maxAccesses) return false;
    this.parked = true;
    this.changed();
    return true;
  }

  /** Called by the device when its last job ended during the atomic phase. */
  idle(): void {
    this.changed();
  }
}
