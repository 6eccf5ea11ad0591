import { Cmd } from '../../../sim/bus/transaction';
import { MemoryTraceWriter, Tracer } from '../../../sim/engine/trace';
import { getFormat } from '../../../sim/mmu/format';
import type { WalkCacheParams } from '../../../sim/mmu/walkCache';
import { iommuParams, MEM_BASE, MmuRig } from '../../helpers/mmuRig';

const PAGE = 0x1000;

/** Walk caches on every table level of a format. */
function allWalkCaches(formatName: string): WalkCacheParams[] {
  const f = getFormat(formatName);
  return f.levels
    .filter((_l, i) => i !== f.smallLeaf && i !== f.largeLeaf)
    .map((l) => ({ level: l.name, entries: 16, ways: 16, latencyCycles: 0 }));
}

describe.each([
  ['nv-gp100', 5],
  ['nv-gf100', 2],
  ['arm-lpae-4k', 4],
])('walker on %s', (formatName, levels) => {
  test(`a cold 4 KiB walk reads ${levels} entries; with warm walk caches it reads 1`, () => {
    const rig = new MmuRig(getFormat(formatName), iommuParams({ walker: { slots: 2, stepCycles: 0, walkCaches: allWalkCaches(formatName) } }));
    const va = 0x40_0000_0000 % 2 ** rig.format.vaBits;
    rig.tables.map(va, MEM_BASE, 12);
    rig.tables.map(va + PAGE, MEM_BASE + PAGE, 12);
    expect(rig.tables.translate(va).reads).toBe(levels); // the reference walk agrees
    const { master } = rig.device([{ cmd: Cmd.Read, addr: va, size: 64 }, { cmd: Cmd.Read, addr: va + PAGE, size: 64 }]);
    master.start();
    rig.run();
    expect(master.completed.map((c) => c.status)).toEqual([1, 1]);
    expect(rig.stat('soc.iommu.walker.walks')).toBe(2);
    // First walk: every level. Second: the deepest walk cache hits, one leaf read.
    expect(rig.stat('soc.iommu.walker.mem_reads')).toBe(levels + 1);
  });

  test('without walk caches every walk reads every level', () => {
    const rig = new MmuRig(getFormat(formatName));
    rig.tables.map(0, MEM_BASE, 12);
    rig.tables.map(PAGE, MEM_BASE + PAGE, 12);
    const { master } = rig.device([{ cmd: Cmd.Read, addr: 0, size: 64 }, { cmd: Cmd.Read, addr: PAGE, size: 64 }]);
    master.start();
    rig.run();
    expect(rig.stat('soc.iommu.walker.mem_reads')).toBe(2 * levels);
  });
});

test('walk latency equals the sum of the walker\'s PTE-read latencies observed on the bus', () => {
  const writer = new MemoryTraceWriter();
  const tracer = new Tracer(writer, ['bus', 'walk']);
  const rig = new MmuRig(getFormat('nv-gp100'), iommuParams(), 37, tracer);
  tracer.start({ configHash: 'test', seed: 5 });
  rig.tables.map(0x1234_5000, MEM_BASE + 0x10_0000, 12);
  const { master } = rig.device([{ cmd: Cmd.Read, addr: 0x1234_5000, size: 64 }]);
  master.start();
  rig.run();
  const records = writer.lines.slice(1).map((l) => JSON.parse(l));
  const walkerReads = records.filter((r) => r.cat === 'bus' && r.master === 100);
  expect(walkerReads).toHaveLength(5);
  const readRecs = records.filter((r) => r.cat === 'walk' && r.ev === undefined);
  expect(readRecs).toHaveLength(5);
  const sumOfReads = walkerReads.reduce((a, r) => a + r.lat_ps, 0);
  // One done record per walk: its start and latency as the walker measured them.
  const done = records.filter((r) => r.cat === 'walk' && r.ev === 'done');
  expect(done).toEqual([expect.objectContaining({ start: readRecs[0].t, reads: 5, outcome: 'page', lat_ps: sumOfReads, t: readRecs[0].t + sumOfReads })]);
  const hist = rig.ctx.stats.dump();
  expect(hist['soc.iommu.walker.latency_ns.samples']).toBe(1);
  expect((hist['soc.iommu.walker.latency_ns.mean'] as number) * 1000).toBe(sumOfReads);
  // Each read crosses the crossbar both ways around the 37-cycle memory.
  for (const r of walkerReads) expect(r.lat_ps).toBeGreaterThan(37_000);
});

test('stepCycles adds walker work before each read', () => {
  const latency = (step: number) => {
    const rig = new MmuRig(getFormat('arm-lpae-4k'), iommuParams({ walker: { slots: 1, stepCycles: step, walkCaches: [] } }));
    rig.tables.map(0x5000, MEM_BASE, 12);
    const { master } = rig.device([{ cmd: Cmd.Read, addr: 0x5000, size: 64 }]);
    master.start();
    rig.run();
    return rig.ctx.stats.dump()['soc.iommu.walker.latency_ns.mean'] as number;
  };
  expect(latency(3) - latency(0)).toBe(4 * 3); // 4 reads × 3 cycles × 1 ns
});

test('walks beyond the slot count wait for a free slot', () => {
  const rig = new MmuRig(getFormat('arm-lpae-4k'), iommuParams({ walker: { slots: 1, stepCycles: 0, walkCaches: [] } }));
  const reqs = [];
  for (let i = 0; i < 4; i++) {
    rig.tables.map(i * 2 ** 30, MEM_BASE + i * PAGE, 12); // different L1 entries: no sharing
    reqs.push({ cmd: Cmd.Read, addr: i * 2 ** 30, size: 64 });
  }
  const { master } = rig.device(reqs, { maxOutstanding: 4 });
  master.start();
  rig.run();
  expect(master.completed.every((c) => c.status === 1)).toBe(true);
  expect(rig.stat('soc.iommu.walker.walks')).toBe(4);
  expect(rig.stat('soc.iommu.walker.slot_waits')).toBe(3);
});

describe('walk slots are first come, first served', () => {
  /**
   * One walk slot, 4 L2 MSHRs, 12 reads to 12 pages whose walks share nothing. Walks
   * 1-3 wait for the slot (their misses hold MSHRs); the rest wait for an MSHR. When a
   * walk ends, its MSHR goes to the next queued miss, whose walk must queue behind the
   * three waiting ones, not take the slot they are waiting for.
   */
  function run(n = 12): { rig: MmuRig; order: number[] } {
    const rig = new MmuRig(getFormat('arm-lpae-4k'), iommuParams({
      l2Tlb: { entries: 256, ways: 8, replacement: 'lru', latencyCycles: 3, pageSizes: [2 ** 12, 2 ** 21], mshrs: 4 },
      walker: { slots: 1, stepCycles: 0, walkCaches: [] },
    }));
    const reqs = [];
    for (let i = 0; i < n; i++) {
      rig.tables.map(i * 2 ** 30, MEM_BASE + i * PAGE, 12); // different L1 entries: no sharing
      reqs.push({ cmd: Cmd.Read, addr: i * 2 ** 30, size: 64 });
    }
    const { master } = rig.device(reqs, { maxOutstanding: 12 });
    master.start();
    rig.run();
    expect(master.completed.every((c) => c.status === 1)).toBe(true);
    return { rig, order: master.completed.map((c) => c.addr / 2 ** 30) };
  }

  test('walks end in the order their misses arrived', () => {
    const { order } = run();
    expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  });

  test('a queue that never empties keeps its order when the walker drops its served prefix', () => {
    // 3 walks wait for the slot from the first miss to the last: the queue's served
    // prefix is dropped every 64 or so walks, and the order must survive it.
    const { rig, order } = run(300);
    expect(order).toEqual(Array.from({ length: 300 }, (_, i) => i));
    expect(rig.stat('soc.iommu.walker.slot_waits')).toBe(299);
  });

  test('walker.slot_wait_ns: one sample per walk; no walk waits longer than the walks queued ahead of it take', () => {
    const { rig } = run();
    const d = rig.ctx.stats.dump();
    expect(d['soc.iommu.walker.slot_wait_ns.samples']).toBe(12);
    expect(d['soc.iommu.walker.slot_wait_ns.min']).toBe(0); // the first walk finds the slot free
    expect(rig.stat('soc.iommu.walker.slot_waits')).toBe(11);
    // Every walk here is the same 4 reads (a few ns apart with bus contention). A walk waits
    // at most for the one in progress and the (mshrs - slots) = 3 waiting ahead of it;
    // in the steady state it waits for those 3 (its MSHR came free when one ended).
    const wait = d['soc.iommu.walker.slot_wait_ns.max'] as number;
    expect(wait).toBeLessThanOrEqual(4 * (d['soc.iommu.walker.latency_ns.max'] as number));
    expect(wait).toBeGreaterThanOrEqual(3 * (d['soc.iommu.walker.latency_ns.min'] as number));
  });
});

test('walk caches skip levels: the deepest level whose VA prefix hits decides how many reads a walk needs', () => {
  const caches = [
    { level: 'L0', entries: 4, ways: 4, latencyCycles: 0 },
    { level: 'L1', entries: 8, ways: 4, latencyCycles: 0 },
    { level: 'L2', entries: 32, ways: 8, latencyCycles: 0 },
  ];
  const rig = new MmuRig(getFormat('arm-lpae-4k'), iommuParams({ walker: { slots: 1, stepCycles: 0, walkCaches: caches } }));
  const GiB = 2 ** 30;
  const base = 0x40 * GiB;
  // a: cold (4 reads); b: same 2 MiB region (PDE cache hit: 1 read); c: same 1 GiB, other
  // 2 MiB (PDPTE cache hit: 2 reads); d: same 512 GiB, other 1 GiB (PML4E cache hit: 3 reads).
  const vas = [base, base + PAGE, base + 2 ** 21, base + GiB];
  vas.forEach((va, i) => rig.tables.map(va, MEM_BASE + i * PAGE, 12));
  const reads: number[] = [];
  for (const va of vas) {
    const before = rig.stat('soc.iommu.walker.mem_reads');
    const { master } = rig.device([{ cmd: Cmd.Read, addr: va, size: 64 }]);
    master.start();
    rig.run();
    expect(master.completed[0].status).toBe(1);
    reads.push(rig.stat('soc.iommu.walker.mem_reads') - before);
  }
  expect(reads).toEqual([4, 1, 2, 3]);
  expect([rig.stat('soc.iommu.walker.walk_cache.l2.hits'), rig.stat('soc.iommu.walker.walk_cache.l1.hits'), rig.stat('soc.iommu.walker.walk_cache.l0.hits')]).toEqual([1, 1, 1]);
});
