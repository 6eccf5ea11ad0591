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
