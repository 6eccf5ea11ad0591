/**
 * Engine benchmark: raw schedule + dispatch rate of sim/engine/engine.ts.
 *
 * (a) steady: a population of ~1000 pending events; every handler schedules one more at
 *     now + a pseudo-random delay, so the heap stays at its working-set size (the shape
 *     of a busy SoC model). Reports millions of events per wall-clock second.
 * (b) burst: schedule 1M events at random ticks into an empty engine, then drain.
 *
 * Delays come from a table filled once by the seeded Rng, so the loop measures the
 * engine, not the RNG. Run compiled: `npx tsc -p tsconfig.build.json && node
 * dist/bench/engine.bench.js`.
 */
import { Engine } from '../sim/engine/engine';
import { Rng } from '../sim/engine/rng';
import { BareHeap } from './bareHeap';
import { formatResult, type BenchResult } from './result';

const DELAY_TABLE_SIZE = 1 << 16; // power of two, indexed with a mask

function delayTable(seed: number, maxDelay: number): Int32Array {
  const rng = new Rng(seed);
  const t = new Int32Array(DELAY_TABLE_SIZE);
  for (let i = 0; i < t.length; i++) t[i] = 1 + rng.nextInt(maxDelay);
  return t;
}

function seconds(start: bigint): number {
  return Number(process.hrtime.bigint() - start) / 1e9;
}

/** Steady population: returns wall seconds spent dispatching `events` events. */
function steady(population: number, events: number, delays: Int32Array): { secs: number; dispatched: number } {
  const engine = new Engine();
  const mask = delays.length - 1;
  let k = 0;
  const tick = (): void => {
    engine.scheduleIn(delays[k++ & mask], tick);
  };
  for (let i = 0; i < population; i++) engine.schedule(delays[k++ & mask], tick);
  const start = process.hrtime.bigint();
  engine.runEvents(events);
  return { secs: seconds(start), dispatched: engine.eventsDispatched };
}

/** The same steady workload on the bare typed-array heap (the reference, bench/bareHeap.ts). */
function steadyBare(population: number, events: number, delays: Int32Array): { secs: number; dispatched: number } {
  const heap = new BareHeap();
  const mask = delays.length - 1;
  let k = 0;
  const tick = (): void => {
    heap.scheduleIn(delays[k++ & mask], tick);
  };
  for (let i = 0; i < population; i++) heap.scheduleIn(delays[k++ & mask], tick);
  const start = process.hrtime.bigint();
  heap.run(events);
  return { secs: seconds(start), dispatched: heap.dispatched };
}

/** Burst: schedule `n` events at random ticks, then drain them all. */
function burst(n: number, delays: Int32Array): { scheduleSecs: number; drainSecs: number } {
  const engine = new Engine();
  const mask = delays.length - 1;
  let sink = 0;
  const fn = (arg: number): void => {
    sink += arg;
  };
  const t0 = process.hrtime.bigint();
  // Spread ticks over a wide range: delay table value times a stride varying with i.
  for (let i = 0; i < n; i++) engine.schedule(delays[i & mask] * ((i >>> 16) + 1), fn, i & 7);
  const scheduleSecs = seconds(t0);
  const t1 = process.hrtime.bigint();
  engine.runUntilIdle();
  const drainSecs = seconds(t1);
  if (sink < 0 || engine.eventsDispatched !== n) throw new Error('burst bench: lost events');
  return { scheduleSecs, drainSecs };
}

export function runEngineBench(): BenchResult[] {
  const results: BenchResult[] = [];
  const delays = delayTable(12345, 2000);

  // Warm-up so the JIT has optimised the heap before timing.
  steady(1000, 500_000, delays);
  steadyBare(1000, 500_000, delays);
  burst(100_000, delays);

  const POP = 1000;
  const N = 5_000_000;
  // Best of 5, engine and reference interleaved so that machine noise hits both alike.
  let best = Infinity, bestBare = Infinity;
  for (let r = 0; r < 5; r++) {
    best = Math.min(best, steady(POP, N, delays).secs);
    bestBare = Math.min(bestBare, steadyBare(POP, N, delays).secs);
  }
  results.push({
    name: 'engine.steady.rate', value: N / best / 1e6, unit: 'M events/s',
    note: `${N / 1e6}M events, ~${POP} pending, best of 5, ${(best * 1e3).toFixed(0)} ms`,
  });
  results.push({
    name: 'engine.bare_heap.steady.rate', value: N / bestBare / 1e6, unit: 'M events/s',
    note: `reference: bare typed-array binary heap (bench/bareHeap.ts), same workload, best of 5`,
  });
  results.push({
    name: 'engine.steady.vs_bare_heap', value: bestBare / best, unit: '×',
    note: 'engine rate / bare-heap rate (issue 16 target >= 0.85)',
  });

  const B = 1_000_000;
  let bestSched = Infinity, bestDrain = Infinity, bestTotal = Infinity;
  for (let r = 0; r < 3; r++) {
    const { scheduleSecs, drainSecs } = burst(B, delays);
    bestSched = Math.min(bestSched, scheduleSecs);
    bestDrain = Math.min(bestDrain, drainSecs);
    bestTotal = Math.min(bestTotal, scheduleSecs + drainSecs);
  }
  results.push({ name: 'engine.burst.schedule', value: B / bestSched / 1e6, unit: 'M events/s', note: `${B / 1e6}M events into an empty heap` });
  results.push({ name: 'engine.burst.drain', value: B / bestDrain / 1e6, unit: 'M events/s', note: `${B / 1e6}M pending at start` });
  results.push({ name: 'engine.burst.total', value: bestTotal * 1e3, unit: 'ms', note: `schedule + drain ${B / 1e6}M events, best of 3` });
  return results;
}

if (require.main === module) {
  for (const r of runEngineBench()) console.log(formatResult(r));
}
