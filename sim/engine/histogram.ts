import { SimInvariantError } from './errors';

/**
 * A log-linear (HDR-style) histogram: every power-of-two range [2^e, 2^(e+1)) from 2^-16
 * to 2^64 (in ns: 15 fs to 585 years) is split into 128 equal sub-buckets, so a bucket
 * is at most 1/128 of its lower edge wide; values in [0, 2^-16) share the first bucket.
 * Nothing saturates: a value outside [0, 2^64) is a socsim bug and throws.
 *
 * Min, max, mean and the sample count are exact. A quantile is the midpoint of the
 * bucket holding the nearest-rank sample, with the bucket's edges narrowed to [min, max],
 * so it always lies within [min, max], is exact when all samples are equal, and is
 * within half a bucket of the exact nearest-rank quantile x: |error| ≤ x/256 (0.4%) for
 * x ≥ 2^-16, and below 2^-16 absolute for smaller x (bucket 0 reports its lower end, so
 * a quantile that falls among zeros is 0).
 *
 * Written for the hot path (`sample` runs per memory access): one Float64Array of
 * counts allocated up front (80 KiB); the bucket index is read from the value's IEEE 754
 * exponent and top 7 mantissa bits, and values below 2^-16 (zeros) are moved to bucket 0
 * with integer ops, not a branch (zeros come at random, a branch on them mispredicts);
 * no allocation, no Math.log2. bench/stats.bench.ts compares it with hdr-histogram-js
 * and the earlier linear layout.
 */

/** Sub-buckets per power of two: 2^SUB_BITS. */
const SUB_BITS = 7;
const SUB = 1 << SUB_BITS;
/** The first power of two with log-linear buckets; [0, 2^EMIN) is bucket 0. */
const EMIN = -16;
/** Values must be below 2^EMAX. */
const EMAX = 64;
/** Buckets: [0, 2^EMIN), then SUB per power of two in [EMIN, EMAX). */
export const HISTOGRAM_BUCKETS = 1 + (EMAX - EMIN) * SUB;
/**
 * The top 32 bits of a double, shifted right by 20 - SUB_BITS, are
 * `biasedExponent * SUB + topMantissaBits` (plus 2^18 when negative); subtracting this
 * gives the bucket index (≤ 0 below 2^EMIN).
 */
const INDEX_BASE = (1023 + EMIN) * SUB - 1;

/** Scratch for reading a double's bits (module-level: no allocation per sample). */
const F64 = new Float64Array(1);
const U32 = new Uint32Array(F64.buffer);
/** The word holding the sign, exponent and top mantissa bits. */
const HI = (() => {
  F64[0] = 2; // 0x4000000000000000: only the high word is non-zero
  return U32[1] !== 0 ? 1 : 0;
})();

/**
 * The bucket of v; HISTOGRAM_BUCKETS or more when v is negative, NaN or too big (the
 * sign bit or an out-of-range exponent lands it there).
 */
export function bucketIndex(v: number): number {
  F64[0] = v + 0; // -0 → +0
  const i = (U32[HI] >>> (20 - SUB_BITS)) - INDEX_BASE;
  return i & ~(i >> 31); // below 2^EMIN: 0
}

/** The lower edge of bucket `i` (inclusive). */
export function bucketLow(i: number): number {
  if (i === 0) return 0;
  const j = i - 1;
  return 2 ** ((j >> SUB_BITS) + EMIN) * (1 + (j & (SUB - 1)) / SUB);
}

/** The upper edge of bucket `i` (exclusive): the next bucket's lower edge. */
export function bucketHigh(i: number): number {
  return bucketLow(i + 1);
}

/**
 * The rank (1-based) of the q-quantile of n samples, nearest-rank: ceil(q·n), at least
 * 1. The product is nudged down by a few ulps so that 0.99·100 is rank 99, not 100.
 */
export function nearestRank(q: number, n: number): number {
  const x = q * n;
  return Math.max(1, Math.ceil(x - x * 1e-12));
}

export class Histogram {
  /** counts[i]: samples in [bucketLow(i), bucketHigh(i)). */
  readonly counts = new Float64Array(HISTOGRAM_BUCKETS);
  samples = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;

  constructor(readonly name: string, readonly desc: string) {}

  sample(v: number): void {
    F64[0] = v + 0; // -0 → +0
    let i = (U32[HI] >>> (20 - SUB_BITS)) - INDEX_BASE;
    i &= ~(i >> 31); // below 2^EMIN: bucket 0
    if (i >= HISTOGRAM_BUCKETS) this.outOfRange(v); // negative, NaN or ≥ 2^64
    this.counts[i]++;
    this.samples++;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }

  mean(): number {
    return this.samples === 0 ? NaN : this.sum / this.samples;
  }

  /**
   * The q-quantile (0 ≤ q ≤ 1): exactly min for q = 0 and max for q = 1; otherwise the
   * midpoint of the bucket holding the nearest-rank sample, narrowed to [min, max]
   * (bucket 0, [0, 2^-16), gives its narrowed lower edge). NaN when empty.
   */
  quantile(q: number): number {
    if (this.samples === 0) return NaN;
    if (q <= 0) return this.min;
    if (q >= 1) return this.max;
    const rank = nearestRank(q, this.samples);
    const last = bucketIndex(this.max);
    let acc = 0;
    for (let i = bucketIndex(this.min); i <= last; i++) {
      acc += this.counts[i];
      if (acc >= rank) {
        const lo = Math.max(this.min, bucketLow(i));
        if (i === 0) return lo; // [0, 2^-16): zeros in practice (idle queues), so not 2^-17
        const hi = Math.min(this.max, bucketHigh(i));
        return lo + (hi - lo) / 2;
      }
    }
    return this.max; // unreachable: the max's bucket holds the last sample
  }

  /** The non-empty buckets in ascending order: lower edges, upper edges, counts. */
  nonEmptyBuckets(): { lo: number[]; hi: number[]; counts: number[] } {
    const out = { lo: [] as number[], hi: [] as number[], counts: [] as number[] };
    if (this.samples === 0) return out;
    const last = bucketIndex(this.max);
    for (let i = bucketIndex(this.min); i <= last; i++) {
      const c = this.counts[i];
      if (c === 0) continue;
      out.lo.push(bucketLow(i));
      out.hi.push(bucketHigh(i));
      out.counts.push(c);
    }
    return out;
  }

  reset(): void {
    if (this.samples > 0) this.counts.fill(0, bucketIndex(this.min), bucketIndex(this.max) + 1);
    this.samples = 0;
    this.sum = 0;
    this.min = Infinity;
    this.max = -Infinity;
  }

  private outOfRange(v: number): never {
    throw new SimInvariantError(`histogram ${this.name}: sample ${v} is outside [0, 2^${EMAX})`);
  }
}
