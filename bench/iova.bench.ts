/**
 * IOVA allocator benchmark (drivers/dma/iova.ts): alloc + free pairs per second.
 *
 * (a) cached: alloc_iova_fast + free_iova_fast of 1 page; after the first pair every
 *     allocation is an rcache hit (the issue 5 target is > 2 M pairs/s).
 * (b) dma_40bit: iommu_dma_alloc_iova + iommu_dma_free_iova of 4 KiB for a 40-bit
 *     device (32-bit attempt first), the path iommu-dma map/unmap takes.
 * (c) tree: alloc_iova + free_iova of 1 page (no cache): the rbtree path, with
 *     `live` ranges already allocated below 4 GiB.
 * (d) tree.mixed: like (c) but a window of 64 live ranges of 1..40 pages, freeing the
 *     oldest, so searches walk past holes and frees land all over the tree.
 *
 * Prints; never asserts. Run compiled:
 * `npx tsc -p tsconfig.build.json && node dist/bench/iova.bench.js`.
 */
import { IovaDomain, iommuDmaAllocIova, iommuDmaFreeIova } from '../drivers/dma/iova';
import { Rng } from '../sim/engine/rng';
import type { BenchResult } from './result';

const G = 4096;
const LIM32 = 0xfffff;
const MASK40 = 2 ** 40 - 1;

function populated(live: number): IovaDomain {
  const d = new IovaDomain(G, 1);
  for (let i = 0; i < live; i++) d.allocIova(1, LIM32, true);
  return d;
}

function timed(pairs: number, loop: (n: number) => void): number {
  loop(Math.min(pairs, 50_000)); // warm up the JIT
  const t0 = process.hrtime.bigint();
  loop(pairs);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return pairs / s;
}

export function runIovaBench(pairs = 2_000_000): BenchResult[] {
  const out: BenchResult[] = [];

  {
    const d = populated(1024);
    const rate = timed(pairs, (n) => {
      for (let i = 0; i < n; i++) d.freeIovaFast(d.allocIovaFast(1, LIM32, true)!, 1);
    });
    out.push({ name: 'iova.cached.alloc_free_1p', value: rate / 1e6, unit: 'M pairs/s', note: 'alloc_iova_fast + free_iova_fast, rcache hits, 1024 live ranges' });
  }

  {
    const d = populated(1024);
    const rate = timed(pairs, (n) => {
      for (let i = 0; i < n; i++) iommuDmaFreeIova(d, iommuDmaAllocIova(d, G, MASK40)!, G);
    });
    out.push({ name: 'iova.dma_40bit.alloc_free_4k', value: rate / 1e6, unit: 'M pairs/s', note: 'iommu_dma_alloc_iova + free, 40-bit mask, 32-bit first, rcache hits' });
  }

  for (const live of [1024, 16384]) {
    const d = populated(live);
    const n0 = Math.max(100_000, Math.floor(pairs / 4));
    const rate = timed(n0, (n) => {
      for (let i = 0; i < n; i++) d.freeIova(d.allocIova(1, LIM32, true)!);
    });
    out.push({ name: `iova.tree.alloc_free_1p.live${live}`, value: rate / 1e6, unit: 'M pairs/s', note: `alloc_iova + free_iova, no cache, ${live} live ranges` });
  }

  {
    const d = populated(16384);
    const rng = new Rng(5);
    const sizes = new Int32Array(4096);
    for (let i = 0; i < sizes.length; i++) sizes[i] = 1 + rng.nextInt(40);
    const ring = new Float64Array(64);
    let head = 0;
    for (let i = 0; i < ring.length; i++) ring[i] = d.allocIova(sizes[i], LIM32, true)!;
    const n0 = Math.max(100_000, Math.floor(pairs / 4));
    const rate = timed(n0, (n) => {
      for (let i = 0; i < n; i++) {
        d.freeIova(ring[head]);
        ring[head] = d.allocIova(sizes[i & 4095], LIM32, true)!;
        head = (head + 1) & 63;
      }
    });
    out.push({ name: 'iova.tree.mixed_sizes', value: rate / 1e6, unit: 'M pairs/s', note: 'alloc_iova 1..40 pages + free_iova of the oldest of 64, 16384 other live ranges' });
  }
  return out;
}

if (require.main === module) {
  const { formatResult } = require('./result') as typeof import('./result');
  for (const r of runIovaBench()) console.log(formatResult(r));
}
