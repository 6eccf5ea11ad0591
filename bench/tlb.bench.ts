/**
 * TLB benchmark: raw lookup rate of sim/mmu/tlb.ts (stats and replacement updates
 * included, as an owner would call it).
 *
 * (a) 4way64.hit: 64 entries, 4-way, 4 KiB pages only, every lookup hits.
 * (b) 4way64.2sizes.hit: 64 entries, 4-way, [4 KiB, 2 MiB]; 32 entries of each size,
 *     half the lookups hit 4 KiB pages (one set scan), half 2 MiB pages (two scans).
 * (c) fa32.hit: 32 entries fully associative, 4 KiB pages, every lookup hits.
 * (d) 4way64.miss_fill: 64 entries, 4-way, uniform over 256 pages: lookup, and on a
 *     miss insert (the owner's refill after a walk); ~25% hits.
 *
 * Addresses come from a table filled once by the seeded Rng (above 2^32, so the
 * number paths are the real ones), so the loop measures the TLB, not the RNG. Run
 * compiled: `npx tsc -p tsconfig.build.json && node dist/bench/tlb.bench.js`.
 */
import { createSimContext } from '../sim/engine/context';
import { Rng } from '../sim/engine/rng';
import { Perm } from '../sim/mmu/perms';
import { Tlb, type TlbParams } from '../sim/mmu/tlb';
import { formatResult, type BenchResult } from './result';

const TABLE_SIZE = 1 << 16; // power of two, indexed with a mask
const BASE = 2 ** 40;
const PA = 2 ** 44;
const K4 = 4096;
const M2 = 2 ** 21;

interface Workload {
  name: string;
  note: string;
  params: TlbParams;
  /** Fill the TLB before timing. */
  setUp(tlb: Tlb): void;
  /** Virtual addresses to look up, cycled through. */
  vas: Float64Array;
  /** Insert the 4 KiB page on a miss. */
  refill: boolean;
}

function table(seed: number, gen: (rng: Rng) => number): Float64Array {
  const rng = new Rng(seed);
  const t = new Float64Array(TABLE_SIZE);
  for (let i = 0; i < t.length; i++) t[i] = gen(rng);
  return t;
}

function base(p: Partial<TlbParams>): TlbParams {
  return { entries: 64, ways: 4, replacement: 'lru', latencyCycles: 1, pageSizes: [2 ** 12], mshrs: 4, ...p };
}

function workloads(): Workload[] {
  return [
    {
      name: 'tlb.4way64.hit',
      note: '64 entries 4-way lru, 4KiB, all hits',
      params: base({}),
      setUp: (tlb) => { for (let p = 0; p < 64; p++) tlb.insert(1, BASE + p * K4, 12, PA + p * K4, Perm.Read); },
      vas: table(1, (r) => BASE + r.nextInt(64) * K4 + r.nextInt(K4)),
      refill: false,
    },
    {
      name: 'tlb.4way64.2sizes.hit',
      note: '64 entries 4-way lru, 32x4KiB + 32x2MiB, all hits, half on each size',
      params: base({ pageSizes: [2 ** 12, 2 ** 21] }),
      setUp: (tlb) => {
        for (let p = 0; p < 32; p++) tlb.insert(1, BASE + p * K4, 12, PA + p * K4, Perm.Read);
        for (let p = 0; p < 32; p++) tlb.insert(1, BASE + (p + 1) * M2, 21, PA + (p + 1) * M2, Perm.Read);
      },
      vas: table(2, (r) => (r.nextInt(2) === 0
        ? BASE + r.nextInt(32) * K4 + r.nextInt(K4)
        : BASE + (1 + r.nextInt(32)) * M2 + r.nextInt(M2))),
      refill: false,
    },
    {
      name: 'tlb.fa32.hit',
      note: '32 entries fully associative lru, 4KiB, all hits',
      params: base({ entries: 32, ways: 32 }),
      setUp: (tlb) => { for (let p = 0; p < 32; p++) tlb.insert(1, BASE + p * K4, 12, PA + p * K4, Perm.Read); },
      vas: table(3, (r) => BASE + r.nextInt(32) * K4 + r.nextInt(K4)),
      refill: false,
    },
    {
      name: 'tlb.4way64.miss_fill',
      note: '64 entries 4-way lru, uniform over 256 4KiB pages, insert on miss',
      params: base({}),
      setUp: () => {},
      vas: table(4, (r) => BASE + r.nextInt(256) * K4 + r.nextInt(K4)),
      refill: true,
    },
  ];
}

/*
 * One function per loop shape: V8 inlines lookup() into each (a call that is not
 * inlined boxes va, a double, into a new heap number), and its inlining budget is per
 * optimised function.
 */

/** `n` lookups that are expected to hit; returns hits. */
function hitLoop(tlb: Tlb, vas: Float64Array, n: number, sink: Float64Array): number {
  const mask = vas.length - 1;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    if (tlb.lookup(1, vas[i & mask])) {
      hits++;
      // A typed-array accumulator: a double loop variable would be boxed per iteration.
      sink[0] += tlb.hitPa;
    }
  }
  return hits;
}

/** `n` lookups, inserting the 4 KiB page on each miss; returns hits. */
function fillLoop(tlb: Tlb, vas: Float64Array, n: number, sink: Float64Array): number {
  const mask = vas.length - 1;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const va = vas[i & mask];
    if (tlb.lookup(1, va)) {
      hits++;
      sink[0] += tlb.hitPa;
    } else {
      const page = va - (va % K4);
      tlb.insert(1, page, 12, page - BASE + PA, Perm.Read);
    }
  }
  return hits;
}

/** Runs `n` lookups on a fresh TLB; returns wall seconds and hits. */
function run(w: Workload, n: number): { secs: number; hits: number } {
  const tlb = new Tlb(createSimContext(1), 'bench.tlb', w.params);
  w.setUp(tlb);
  const sink = new Float64Array(1);
  const start = process.hrtime.bigint();
  const hits = w.refill ? fillLoop(tlb, w.vas, n, sink) : hitLoop(tlb, w.vas, n, sink);
  const secs = Number(process.hrtime.bigint() - start) / 1e9;
  if (!(sink[0] > 0) && hits > 0) throw new Error('tlb bench: lost results');
  return { secs, hits };
}

export function runTlbBench(): BenchResult[] {
  const results: BenchResult[] = [];
  const N = 10_000_000;
  for (const w of workloads()) {
    run(w, 1_000_000); // warm-up so the JIT has optimised the loop
    let best = Infinity;
    let hits = 0;
    for (let r = 0; r < 3; r++) {
      const res = run(w, N);
      best = Math.min(best, res.secs);
      hits = res.hits;
    }
    if (!w.refill && hits !== N) throw new Error(`${w.name}: expected every lookup to hit, got ${hits}/${N}`);
    results.push({
      name: w.name,
      value: N / best / 1e6,
      unit: 'M lookups/s',
      note: `${w.note}, hit rate ${(hits / N).toFixed(3)}, ${N / 1e6}M lookups, best of 3`,
    });
  }
  return results;
}

if (require.main === module) {
  for (const r of runTlbBench()) console.log(formatResult(r));
}
