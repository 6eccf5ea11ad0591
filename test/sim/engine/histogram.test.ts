import { SimInvariantError } from '../../../sim/engine/errors';
import { bucketHigh, bucketIndex, bucketLow, Histogram, HISTOGRAM_BUCKETS } from '../../../sim/engine/histogram';
import { Rng } from '../../../sim/engine/rng';
import { StatsRegistry } from '../../../sim/engine/stats';

/** Values below this share bucket 0; from it up, the error bound is relative. */
const TINY = 2 ** -16;

/** The dumped percentiles as fractions num/den, so exact ranks need no floating point. */
const PERCENTILES: [number, number, number][] = [[0.5, 1, 2], [0.9, 9, 10], [0.99, 99, 100], [0.999, 999, 1000]];

/** The exact nearest-rank quantile num/den of `sorted`: the ceil(n·num/den)-th smallest. */
function exactQuantile(sorted: number[], num: number, den: number): number {
  const rank = Math.max(1, Math.floor((sorted.length * num + den - 1) / den));
  return sorted[rank - 1];
}

/** The stated error bound: half a bucket, x/256 from 2^-16 up, under 2^-16 below. */
function bound(x: number): number {
  return (x >= TINY ? x / 256 : TINY) * (1 + 1e-12);
}

function filled(values: number[]): Histogram {
  const h = new Histogram('h', '');
  for (const v of values) h.sample(v);
  return h;
}

/** Checks every dumped percentile of `values` against the exact one; returns the worst relative error. */
function checkPercentiles(values: number[]): number {
  const h = filled(values);
  const sorted = [...values].sort((a, b) => a - b);
  let worst = 0;
  for (const [q, num, den] of PERCENTILES) {
    const exact = exactQuantile(sorted, num, den);
    const got = h.quantile(q);
    expect({ q, err: Math.abs(got - exact) <= bound(exact) }).toEqual({ q, err: true });
    if (exact > 0) worst = Math.max(worst, Math.abs(got - exact) / exact);
  }
  return worst;
}

describe('log-linear layout', () => {
  test('every value lies in its bucket; buckets are at most 1/128 of their lower edge wide', () => {
    const rng = new Rng(7);
    for (let k = 0; k < 20_000; k++) {
      const v = 2 ** (rng.nextFloat() * 90 - 26); // 2^-26 .. 2^64
      if (v >= 2 ** 64) continue;
      const i = bucketIndex(v);
      const ok = i >= 0 && i < HISTOGRAM_BUCKETS && bucketLow(i) <= v && v < bucketHigh(i)
        && (i === 0 || bucketHigh(i) - bucketLow(i) <= bucketLow(i) / 128);
      if (!ok) throw new Error(`${v}: bucket ${i} [${bucketLow(i)}, ${bucketHigh(i)})`);
    }
    // Edges increase, bucket 0 is [0, 2^-16), the last ends at 2^64.
    for (let i = 1; i < HISTOGRAM_BUCKETS; i++) if (!(bucketLow(i) > bucketLow(i - 1))) throw new Error(`edge ${i} does not increase`);
    expect([bucketLow(0), bucketHigh(0)]).toEqual([0, TINY]);
    expect(bucketHigh(HISTOGRAM_BUCKETS - 1)).toBe(2 ** 64);
    expect(bucketIndex(0)).toBe(0);
    expect(bucketIndex(-0)).toBe(0);
    // Values that are powers of two or 1/128 steps above start their bucket.
    expect(bucketLow(bucketIndex(96))).toBe(96);
    expect(bucketLow(bucketIndex(97))).toBe(97);
    expect(bucketLow(bucketIndex(1e9))).toBeLessThanOrEqual(1e9);
  });

  test('values from 0 to beyond 1 s (in ns) are recorded; negative, NaN and ≥ 2^64 are socsim bugs', () => {
    const h = new Histogram('soc.x.latency_ns', '');
    for (const v of [0, 1e-9, 0.027, 1, 5000, 1e9, 3.6e12, 2 ** 63]) h.sample(v);
    expect(h.samples).toBe(8);
    expect(h.max).toBe(2 ** 63);
    expect(h.quantile(0.9)).toBe(2 ** 63); // the top bucket narrowed to the max
    for (const bad of [-1, -1e-300, NaN, Infinity, 2 ** 64]) {
      expect(() => h.sample(bad)).toThrow(SimInvariantError);
      expect(() => h.sample(bad)).toThrow(/soc\.x\.latency_ns: sample .* is outside \[0, 2\^64\)/);
    }
    expect(h.samples).toBe(8); // a refused sample changes nothing
    expect(h.max).toBe(2 ** 63);
  });
});

describe('percentiles of known distributions, within x/256 of the exact nearest-rank quantile', () => {
  const N = 20_000;

  test('constant: every percentile is the value itself', () => {
    const h = filled(Array.from({ length: N }, () => 42.5));
    for (const [q] of PERCENTILES) expect(h.quantile(q)).toBe(42.5);
    expect(h.quantile(0)).toBe(42.5);
    expect(h.quantile(1)).toBe(42.5);
  });

  test('uniform 0..1000 ns at 1 ps resolution', () => {
    const rng = new Rng(1);
    const worst = checkPercentiles(Array.from({ length: N }, () => rng.nextInt(1_000_000) / 1000));
    expect(worst).toBeLessThan(1 / 256);
  });

  test('bimodal: 70% near 80 ns, 30% near 2 µs', () => {
    const rng = new Rng(2);
    const values = Array.from({ length: N }, () => (rng.nextFloat() < 0.7 ? 75 + rng.nextInt(10_000) / 1000 : 1900 + rng.nextInt(200_000) / 1000));
    checkPercentiles(values);
    const h = filled(values);
    expect(h.quantile(0.5)).toBeLessThan(86); // in the low mode, not between the modes
    expect(h.quantile(0.9)).toBeGreaterThan(1890);
  });

  test('long tail to 100 µs: exponential body, Pareto tail', () => {
    const rng = new Rng(3);
    const values = Array.from({ length: N }, () => {
      const u = rng.nextFloat();
      const ns = u < 0.97 ? 50 - 100 * Math.log(1 - rng.nextFloat()) : 500 / (1 - rng.nextFloat()) ** (1 / 1.1);
      return Math.min(100_000, Math.round(ns * 1000) / 1000);
    });
    values.push(100_000);
    checkPercentiles(values);
    const h = filled(values);
    expect(h.max).toBe(100_000);
    expect(h.quantile(0.999)).toBeGreaterThan(2000); // the tail is seen, not clipped at a guessed range
  });

  test('idle queues: mostly zeros with a few sub-ns delays give p50 0, not a value above the mean', () => {
    // The crossbar queue_delay_ns had p50 0.514 with mean 0.027.
    const values = [...Array.from({ length: 950 }, () => 0), ...Array.from({ length: 50 }, (_v, i) => 0.5 + i / 1000)];
    const h = filled(values);
    expect(h.quantile(0.5)).toBe(0);
    expect(h.quantile(0.9)).toBe(0);
    expect(h.mean()).toBeCloseTo(0.02623, 5);
    checkPercentiles(values);
  });
});

describe('percentiles never leave [min, max]', () => {
  /** A random sample set of one of several shapes, including tiny fractions and zeros. */
  function sampleSet(rng: Rng): number[] {
    const n = 1 + rng.nextInt(rng.nextFloat() < 0.5 ? 8 : 400);
    const shape = rng.nextInt(6);
    return Array.from({ length: n }, () => {
      switch (shape) {
        case 0: return rng.nextFloat() < 0.6 ? 0 : rng.nextInt(1000) / 1000; // queue delays
        case 1: return 2 ** (rng.nextFloat() * 30 - 30); // 1e-9 .. 1: tiny fractions
        case 2: return 88 + rng.nextInt(12_000) / 1000; // a narrow band (the NIC case)
        case 3: return rng.nextFloat() < 0.5 ? 1e-6 : 1e9; // extremes
        case 4: return 2 ** (rng.nextFloat() * 40); // 1 .. 1e12
        default: return rng.nextInt(3); // small integers, with ties
      }
    });
  }

  test('property: 2000 seeded random sets, every percentile in [min, max], within the bound, monotone in q', () => {
    const rng = new Rng(12);
    const qs = [0.001, 0.01, 0.1, 0.25, 0.5, 0.75, 0.9, 0.99, 0.999];
    for (let k = 0; k < 2000; k++) {
      const values = sampleSet(rng);
      const h = filled(values);
      const sorted = [...values].sort((a, b) => a - b);
      expect(h.min).toBe(sorted[0]);
      expect(h.max).toBe(sorted[sorted.length - 1]);
      expect(h.quantile(0)).toBe(h.min);
      expect(h.quantile(1)).toBe(h.max);
      let prev = -Infinity;
      for (const q of qs) {
        const got = h.quantile(q);
        const ok = got >= h.min && got <= h.max && got >= prev;
        if (!ok) throw new Error(`set ${k} (${values.length} values, min ${h.min}, max ${h.max}): q ${q} gave ${got}, previous ${prev}`);
        prev = got;
      }
      for (const [q, num, den] of PERCENTILES) {
        const exact = exactQuantile(sorted, num, den);
        const got = h.quantile(q);
        if (!(Math.abs(got - exact) <= bound(exact))) throw new Error(`set ${k}: p${q * 100} ${got}, exact ${exact}`);
      }
    }
  });
});

describe('dump and reset', () => {
  test('non-empty buckets as parallel arrays: ascending, covering every sample, counts summing to samples', () => {
    const r = new StatsRegistry();
    const h = r.histogram('soc.lat_ns', '');
    const rng = new Rng(5);
    const values = Array.from({ length: 5000 }, () => (rng.nextFloat() < 0.1 ? 0 : 2 ** (rng.nextFloat() * 20 - 4)));
    for (const v of values) h.sample(v);
    const d = r.dump();
    const lo = d['soc.lat_ns.bucket_lo'] as number[];
    const hi = d['soc.lat_ns.bucket_hi'] as number[];
    const counts = d['soc.lat_ns.bucket_counts'] as number[];
    expect(lo.length).toBe(counts.length);
    expect(hi.length).toBe(counts.length);
    expect(counts.every((c) => c > 0)).toBe(true);
    expect(counts.reduce((a, c) => a + c, 0)).toBe(5000);
    for (let i = 0; i < lo.length; i++) {
      expect(lo[i] < hi[i]).toBe(true);
      if (i > 0) expect(lo[i] >= hi[i - 1]).toBe(true);
    }
    // Each bucket's count is the number of samples within its edges.
    for (let i = 0; i < lo.length; i += 17) {
      expect(values.filter((v) => v >= lo[i] && v < hi[i]).length).toBe(counts[i]);
    }
    expect(lo[0]).toBe(0);
  });

  test('reset(): empty again, and later samples give what a fresh histogram gives', () => {
    const r = new StatsRegistry();
    const h = r.histogram('a', '');
    const fresh = new StatsRegistry();
    const g = fresh.histogram('a', '');
    for (const v of [1e6, 3, 0, 0.5]) h.sample(v);
    r.reset();
    expect(h.samples).toBe(0);
    expect(h.sum).toBe(0);
    expect(h.quantile(0.5)).toBeNaN();
    expect(h.nonEmptyBuckets().counts).toEqual([]);
    expect(h.counts.every((c) => c === 0)).toBe(true);
    for (const v of [7, 8, 9, 100]) {
      h.sample(v);
      g.sample(v);
    }
    expect(r.dump()).toEqual(fresh.dump());
    expect(r.dump()['a.p50']).toBeCloseTo(8.03125, 10); // rank 2: the midpoint of [8, 8.0625)
  });
});
