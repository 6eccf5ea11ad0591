/**
 * Histogram benchmark: samples recorded per second by socsim's log-linear Histogram
 * (sim/engine/histogram.ts), by hdr-histogram-js (the library the issue suggested), and
 * by the fixed linear-bucket layout socsim used before, for reference. `h.sample(x)`
 * runs per memory access in several models, so this is a hot path.
 *
 * The values are latencies in ns at 1 ps resolution (what the models record): 20%
 * zeros (idle queue delays), 60% in 50–150 ns, 19% up to 2 µs, 1% up to 100 µs. They
 * come from a table filled once by the seeded Rng, so the loop measures the histogram.
 * hdr-histogram-js records integers only, so it is given the value in ps
 * (`Math.round(ns * 1000)`), 2 significant digits (the same 1/128 sub-bucket width as
 * socsim's), its JS build: its WebAssembly build needs an async initialisation the
 * synchronous simulator does not have. Run compiled: `npm run bench`, or
 * `node dist/bench/stats.bench.js`.
 */
import * as hdr from 'hdr-histogram-js';
import { Histogram } from '../sim/engine/histogram';
import { Rng } from '../sim/engine/rng';
import { formatResult, type BenchResult } from './result';

const TABLE_SIZE = 1 << 20; // power of two, indexed with a mask

function valueTable(seed: number): Float64Array {
  const rng = new Rng(seed);
  const t = new Float64Array(TABLE_SIZE);
  for (let i = 0; i < t.length; i++) {
    const u = rng.nextFloat();
    const ps = u < 0.2 ? 0 : u < 0.8 ? 50_000 + rng.nextInt(100_000) : u < 0.99 ? 150_000 + rng.nextInt(1_850_000) : 2_000_000 + rng.nextInt(98_000_000);
    t[i] = ps / 1000;
  }
  return t;
}

/** The layout socsim used before: fixed linear buckets plus an overflow bucket (10 ns × 200). */
class LinearHistogram {
  readonly counts = new Float64Array(201);
  samples = 0;
  sum = 0;
  min = Infinity;
  max = -Infinity;
  sample(v: number): void {
    let i = Math.floor(v / 10);
    if (i < 0) i = 0;
    else if (i > 200) i = 200;
    this.counts[i] += 1;
    this.samples += 1;
    this.sum += v;
    if (v < this.min) this.min = v;
    if (v > this.max) this.max = v;
  }
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

type Recorder = (values: Float64Array, n: number) => number;

const ownLoop: Recorder = (values, n) => {
  const h = new Histogram('bench', '');
  const mask = values.length - 1;
  for (let i = 0; i < n; i++) h.sample(values[i & mask]);
  return h.samples;
};

const hdrLoop: Recorder = (values, n) => {
  const h = hdr.build({ numberOfSignificantValueDigits: 2, bitBucketSize: 64 });
  const mask = values.length - 1;
  for (let i = 0; i < n; i++) h.recordValue(Math.round(values[i & mask] * 1000));
  return h.totalCount;
};

const linearLoop: Recorder = (values, n) => {
  const h = new LinearHistogram();
  const mask = values.length - 1;
  for (let i = 0; i < n; i++) h.sample(values[i & mask]);
  return h.samples;
};

/** Best of `runs`: samples per second. */
function rate(loop: Recorder, values: Float64Array, n: number, runs: number): number {
  loop(values, n / 10); // warm-up
  let best = Infinity;
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    const got = loop(values, n);
    best = Math.min(best, seconds(t0));
    if (got !== n) throw new Error(`stats bench: recorded ${got} of ${n} samples`);
  }
  return n / best;
}

/** Time to compute what a stats dump reads from one histogram (4 percentiles, buckets). */
function dumpMicros(values: Float64Array): number {
  const h = new Histogram('bench', '');
  for (let i = 0; i < values.length; i++) h.sample(values[i]);
  const reps = 200;
  let sink = 0;
  const t0 = process.hrtime.bigint();
  for (let r = 0; r < reps; r++) {
    for (const q of [0.5, 0.9, 0.99, 0.999]) sink += h.quantile(q);
    sink += h.nonEmptyBuckets().counts.length;
  }
  const secs = seconds(t0);
  if (!(sink > 0)) throw new Error('stats bench: empty dump');
  return (secs / reps) * 1e6;
}

export function runStatsBench(): BenchResult[] {
  const values = valueTable(2024);
  const N = 20_000_000;
  const note = `${N / 1e6}M samples, best of 3`;
  return [
    { name: 'stats.histogram.loglinear', value: rate(ownLoop, values, N, 3) / 1e6, unit: 'M samples/s', note: `socsim log-linear, ${note}` },
    { name: 'stats.histogram.hdr_histogram_js', value: rate(hdrLoop, values, N, 3) / 1e6, unit: 'M samples/s', note: `hdr-histogram-js JS build, ps integers, ${note}` },
    { name: 'stats.histogram.linear_before', value: rate(linearLoop, values, N, 3) / 1e6, unit: 'M samples/s', note: `previous fixed linear buckets, ${note}` },
    { name: 'stats.histogram.dump', value: dumpMicros(values), unit: 'µs', note: 'p50/p90/p99/p999 + non-empty buckets of one histogram of 1M samples' },
  ];
}

if (require.main === module) {
  for (const r of runStatsBench()) console.log(formatResult(r));
}
