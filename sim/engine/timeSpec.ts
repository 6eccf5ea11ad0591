import { z } from 'zod';
import { mustBe, Time } from './spec';
import { MAX_DELAY_PS, PS_PER_S } from './time';

/**
 * Spec pieces for config values that become periods and delays (DESIGN.md "Time"):
 * each keeps its period or delay within MAX_DELAY_PS (2^40 ps, about 1.1 s) and at least
 * 1 ps, so no derived tick is infinite, zero where it must not be, or past 2^53 ps.
 */

/** Slowest event rate: 1 per second (a period of 10^12 ps <= 2^40 ps). */
export const MIN_RATE_HZ = 1;
/** Fastest event rate: 10^12 per second (a period of 1 ps). */
export const MAX_RATE_HZ = PS_PER_S;

/** Events per second (frames, refreshes, packets): a number from 1 to 10^12. */
export function rateHz() {
  const rule = mustBe('a rate from 1 to 10^12 per second (a period from 1 ps to 1 s)');
  return z.number(rule).min(MIN_RATE_HZ, rule).max(MAX_RATE_HZ, rule);
}

/** Events per microsecond: a number from 10^-6 (one a second) to 10^6 (one a picosecond). */
export function ratePerUs() {
  const rule = mustBe('a rate from 0.000001 to 1000000 per microsecond (a period from 1 ps to 1 s)');
  return z.number(rule).min(MIN_RATE_HZ / 1e6, rule).max(MAX_RATE_HZ / 1e6, rule);
}

/** A delay (a Time: "10us", ps as a number) of at most MAX_DELAY_PS. */
export const Delay = Time.refine((ps) => ps <= MAX_DELAY_PS, mustBe(`a delay of at most 2^40 ps (${MAX_DELAY_PS} ps, about 1.1 s)`));
