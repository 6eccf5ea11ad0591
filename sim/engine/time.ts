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
