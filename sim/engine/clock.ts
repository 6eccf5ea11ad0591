import { SimInvariantError } from './errors';
import { PS_PER_S, type Tick } from './time';

/**
 * A clock domain: every clocked part belongs to one and speaks in its own cycles.
 *
 * Edge n falls at tick round(n × 10^12 / f). For frequencies whose period is not a whole
 * number of picoseconds (1.2 GHz → 833.33 ps) the edges are therefore 833 or 834 ps
 * apart but never drift: edge 3 is exactly 2500 ps. gem5 instead rounds the period
 * (833 ps), which loses 0.04% per cycle; we prefer exact long-run frequency.
 */
export class ClockDomain {
  /** Exact period in picoseconds; fractional for some frequencies. */
  readonly periodPs: number;
  /**
   * The period when it is a whole number of ps, else 0. Edge n is then exactly n·p and
   * the edge arithmetic below is one division (tick < 2^53 is an integer, so tick / p
   * cannot round across an integer); hot paths rely on this.
   */
  private intPeriod: number;

  constructor(
    readonly name: string,
    readonly frequencyHz: number,
  ) {
    if (!(frequencyHz > 0) || frequencyHz > PS_PER_S) {
      throw new SimInvariantError(`clock ${name}: frequency ${frequencyHz} Hz outside (0, 1 THz]`);
    }
    this.periodPs = PS_PER_S / frequencyHz;
    this.intPeriod = Number.isInteger(this.periodPs) ? this.periodPs : 0;
  }

  /** A domain with period `periodPs` exactly (10^12 / (10^12 / p) is not always p). */
  static fromPeriodPs(name: string, periodPs: number): ClockDomain {
    const d = new ClockDomain(name, PS_PER_S / periodPs);
    (d as { periodPs: number }).periodPs = periodPs;
    d.intPeriod = Number.isInteger(periodPs) ? periodPs : 0;
    return d;
  }

  /** Tick at which edge `cycle` (an integer, counted from tick 0) falls. */
  cycleToTick(cycle: number): Tick {
    const p = this.intPeriod;
    return p > 0 ? cycle * p : Math.round(cycle * this.periodPs);
  }

  /** Duration in ticks of `cycles` cycles (an integer count of whole ticks). */
  cyclesToTicks(cycles: number): Tick {
    return Math.round(cycles * this.periodPs);
  }

  /** Number of the last edge at or before `tick` (so edge cycleAt(t) <= t < edge cycleAt(t)+1). */
  cycleAt(tick: Tick): number {
    const p = this.intPeriod;
    if (p > 0) return Math.floor(tick / p);
    // round(n·p) <= t  ⇔  n·p < t + 0.5 (Math.round rounds halves up).
    let n = Math.ceil((tick + 0.5) / this.periodPs) - 1;
    // Guard the floating-point boundary both ways; at most one step is ever needed.
    if (this.cycleToTick(n) > tick) n--;
    else if (this.cycleToTick(n + 1) <= tick) n++;
    return n;
  }

  /**
   * Whole cycles in a duration of `ticks` (floor), for reporting durations in this
   * domain: the largest n with cyclesToTicks(n) <= ticks, so that
   * ticksToCycles(cyclesToTicks(n)) === n even when the period is fractional
   * (at 1.2 GHz one cycle is 833 ticks, and 833 ticks is one cycle).
   */
  ticksToCycles(ticks: Tick): number {
    return this.cycleAt(ticks);
  }

  /** Number of the first edge at or after `tick`. */
  ceilCycle(tick: Tick): number {
    const p = this.intPeriod;
    if (p > 0) return Math.ceil(tick / p);
    const n = this.cycleAt(tick);
    return this.cycleToTick(n) === tick ? n : n + 1;
  }

  /** The first edge at or after `tick`. */
  nextEdge(tick: Tick): Tick {
    const n = this.cycleAt(tick);
    const t = this.cycleToTick(n);
    return t === tick ? t : this.cycleToTick(n + 1);
  }

  /** The edge `cycles` cycles after the first edge at or after `tick`. */
  edgeAfter(tick: Tick, cycles: number): Tick {
    const p = this.intPeriod;
    if (p > 0) return (Math.ceil(tick / p) + cycles) * p;
    return this.cycleToTick(this.ceilCycle(tick) + cycles);
  }
}
