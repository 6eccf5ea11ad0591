import { ADDR_LIMIT } from './addr';

/** Simulated time: an integer count of picoseconds (DESIGN.md "Time"). */
export type Tick = number;

export const PS_PER_NS = 1000;
export const PS_PER_US = 1e6;
export const PS_PER_MS = 1e9;
export const PS_PER_S = 1e12;

/** Nanoseconds (may be fractional) → whole ticks, rounded to the nearest picosecond. */
export function nsToTicks(ns: number): Tick {
  return Math.round(ns * PS_PER_NS);
}

export function ticksToNs(t: Tick): number {
  return t / PS_PER_NS;
}

/** ceil(x / d) for non-negative integers x, d with x < 2^53 (exact, unlike Math.ceil of a rounded quotient). */
export function ceilDiv(x: number, d: number): number {
  let q = Math.floor(x / d);
  if (q * d < x) q++;
  else if (q > 0 && (q - 1) * d >= x) q--;
  return q;
}

/** floor(x / d) for non-negative integers x, d with x < 2^53 (exact). */
export function floorDiv(x: number, d: number): number {
  let q = Math.floor(x / d);
  if (q * d > x) q--;
  else if ((q + 1) * d <= x) q++;
  return q;
}

/**
 * ceil(m × 10^12 / rate): the tick of the m-th edge of a `rate` Hz sequence (frames,
 * lines, packet arrivals). Exact for an integer rate while m × (10^12 mod rate) < 2^53;
 * otherwise in floating point.
 */
export function ceilRatio(m: number, rate: number): Tick {
  if (Number.isSafeInteger(rate)) {
    const q = Math.floor(PS_PER_S / rate);
    const r = PS_PER_S - q * rate;
    if (m * r < ADDR_LIMIT) return m * q + ceilDiv(m * r, rate);
  }
  return Math.ceil((m * PS_PER_S) / rate);
}

/**
 * Simulated time ends before 2^53 ps (about 2.5 hours): ticks are exact integers below
 * it. The engine refuses to schedule an event at or past it (SimTimeLimitError).
 */
export const TIME_LIMIT_PS = 2 ** 53;

/**
 * The longest period or delay one config value may give: 2^40 ps (about 1.1 s). The
 * spec bounds keep every such value below it (clocks of at least 1 MHz, latencies of at
 * most 2^20 cycles, rates of at least 1 Hz, delays of at most 2^40 ps), so a derived
 * delay is a small sum of them, far below TIME_LIMIT_PS; only a long run can reach it.
 */
export const MAX_DELAY_PS = 2 ** 40;
