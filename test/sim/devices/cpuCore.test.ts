import * as path from 'path';
import { connectPorts } from '../../../sim/bus/port';
import { Cmd, Status } from '../../../sim/bus/transaction';
import { SimInvariantError } from '../../../sim/engine/errors';
import { getFormat } from '../../../sim/mmu/format';
import type { CpuCacheParams } from '../../../sim/devices/cpuCache';
import { CpuCore, storePatternByte, CpuCoreParamsSpec, type CpuCoreParams, type CpuTraceResult } from '../../../sim/devices/cpuCore';
import { TraceOp, fileLines, parseLackey, type TraceRecord } from '../../../sim/devices/memTrace';
import { CacheRig, MEM_BASE } from '../../helpers/cacheRig';
import { TABLE_ARENA } from '../../helpers/mmuRig';
import { PageTableBuilder } from '../../../sim/mmu/pageTableBuilder';

const lpae = getFormat('arm-lpae-4k');
/** 32 KiB, 8 ways, 64-byte lines: nothing in these traces is evicted. */
const CACHE: CpuCacheParams = { sizeBytes: 32768, ways: 8, lineBytes: 64, hitLatencyCycles: 2, mshrs: 4, maxOutstanding: 16 };
const PAGE = 4096;
const L = TraceOp.Load;
const S = TraceOp.Store;
const M = TraceOp.Modify;

const rec = (op: TraceOp, addr: number, size: number, gap = 0): TraceRecord => ({ op, addr, size, gap });

/**
 * A CacheRig (1 GHz crossbar, 20-cycle memory, CPU MMU with a 32-entry L1 DTLB per core
 * and a 256-entry L2 TLB, a CPU cache) with translation on, a page table mapping
 * `pages` (VA page → every other 4 KiB frame from MEM_BASE + 1 MiB), and a CpuCore on
 * a new MMU core port "core0".
 */
function coreRig(pages: number[], params: Partial<CpuCoreParams> = {}) {
  const rig = new CacheRig(CACHE, 20);
  const tables = new PageTableBuilder(rig.mem, lpae, TABLE_ARENA);
  const pa = new Map<number, number>();
  pages.forEach((vpn, i) => {
    // Every other frame, so neighbouring virtual pages are not physically contiguous.
    pa.set(vpn, MEM_BASE + 0x10_0000 + 2 * i * PAGE);
    tables.map(vpn * PAGE, MEM_BASE + 0x10_0000 + 2 * i * PAGE, 12);
  });
  const core = new CpuCore(rig.ctx, 'soc.core0', rig.clock, 60, { maxOutstanding: 1, lineBytes: 64, ...params });
  connectPorts(core.port, rig.mmu.addCore('core0'));
  rig.mmu.setContext(tables.root, 1);
  const run = (records: Iterable<TraceRecord>): CpuTraceResult => {
    let result: CpuTraceResult | null = null;
    core.runTrace(records, (r) => (result = r));
    rig.ctx.engine.runUntilIdle();
    if (!result) throw new Error('trace did not complete');
    return result;
  };
  const stat = (name: string) => rig.stat(name);
  /** Bytes at `va` as the CPU would read them now (through the MMU and the cache, functionally). */
  const readVa = (va: number, n: number) => {
    const r = rig.cpu.master.functional({ cmd: Cmd.Read, addr: va, size: n });
    expect(r.status).toBe(Status.Ok);
    return Array.from(r.data);
  };
  return { rig, core, run, stat, readVa, pa };
}

/** Pages (4 KiB page numbers) touched by the records, in first-touch order. */
function pagesOf(records: TraceRecord[]): number[] {
  const seen = new Set<number>();
  for (const r of records) {
    seen.add(Math.floor(r.addr / PAGE));
    seen.add(Math.floor((r.addr + r.size - 1) / PAGE));
  }
  return [...seen];
}

/** What memory should hold after the records: the last store to each byte, with the core's pattern. */
function expectedStores(records: TraceRecord[], skip: (r: TraceRecord) => boolean = () => false): Map<number, number> {
  const bytes = new Map<number, number>();
  let seq = 0;
  for (const r of records) {
    if (r.op !== S && r.op !== M) continue;
    if (skip(r)) continue;
    for (let i = 0; i < r.size; i++) bytes.set(r.addr + i, storePatternByte(seq, r.addr + i));
    seq++;
  }
  return bytes;
}

const BASE = 0x40_0000; // VA of page 0x400
// Five pages; one load crosses a cache line, one store crosses a page.
const SYNTH: TraceRecord[] = [
  rec(L, BASE + 0x000, 8),
  rec(S, BASE + 0x040, 8),
  rec(L, BASE + 0x1000, 4),
  rec(M, BASE + 0x2010, 4),
  rec(L, BASE + 0x008, 8), // same line as the first: a cache hit, an L1 TLB hit
  rec(L, BASE + 0x3c, 8), // crosses the line at 0x40
  rec(S, BASE + 0x3ffc, 8), // crosses into page 0x404
  rec(L, BASE + 0x2010, 4), // reads the modify's bytes back
];
const SYNTH_PAGES = [0x400, 0x401, 0x402, 0x403, 0x404];

describe('CpuCore replaying a synthetic trace', () => {
  test('exact load/store/byte counts, one walk per page, splits at line and page boundaries', () => {
    expect(pagesOf(SYNTH)).toEqual(SYNTH_PAGES);
    const { rig, run, stat, readVa } = coreRig(SYNTH_PAGES);
    const r = run(SYNTH);
    // Counted by hand: loads L×5 + M's load; stores S×2 + M's store.
    expect(r).toMatchObject({ records: 8, loads: 6, stores: 3, fetches: 0, faults: 0, errors: 0 });
    const bytes = SYNTH.reduce((n, x) => n + (x.op === M ? 2 : 1) * x.size, 0);
    expect(bytes).toBe(56); // 8+8+4+2×4+8+8+8+4
    expect(r.bytes).toBe(bytes);
    expect(stat('soc.core0.loads')).toBe(6);
    expect(stat('soc.core0.stores')).toBe(3);
    expect(stat('soc.core0.bytes')).toBe(56);
    // 9 accesses, two of them split in two: 11 transactions, each one TLB lookup.
    expect(stat('soc.core0.split_accesses')).toBe(2);
    expect(stat('soc.core0.page_crossings')).toBe(1);
    expect(stat('soc.core0.transactions')).toBe(11);
    expect(stat('soc.cpu.core0.l1tlb.lookups')).toBe(11);
    // maxOutstanding 1: no concurrent misses, so each page misses the (large enough) TLBs once.
    expect(stat('soc.cpu.core0.l1tlb.misses')).toBe(5);
    expect(stat('soc.cpu.l2tlb.misses')).toBe(5);
    expect(stat('soc.cpu.walker.walks')).toBe(5);
    expect(stat('soc.cpu.walker.faults')).toBe(0);
    // Lines: 0x400000, 0x400040, 0x401000, 0x402000, 0x403fc0, 0x404000 → 6 misses; 5 hits.
    expect(stat('soc.cpu.cache.misses')).toBe(6);
    expect(stat('soc.cpu.cache.hits')).toBe(5);
    expect(rig.ctx.stats.dump()['soc.core0.latency_ns.samples']).toBe(9); // one per access
    // The stored bytes are in memory (through the cache), with the core's pattern.
    for (const [va, b] of expectedStores(SYNTH)) expect(readVa(va, 1)[0]).toBe(b);
  });

  test('a fault on an unmapped page is counted, the record skipped, and the replay goes on', () => {
    const trace: TraceRecord[] = [
      rec(L, BASE, 8),
      rec(L, 0x90_0000, 4), // unmapped
      rec(S, BASE + 0x100, 8),
      rec(M, 0x90_0010, 4), // unmapped: the load faults, its store is dropped
      rec(S, BASE + 0xffc, 8), // second half on page 0x401, unmapped here
      rec(L, BASE + 0x200, 4),
    ];
    const { rig, run, stat, readVa } = coreRig([0x400]);
    const r = run(trace);
    expect(r).toMatchObject({ records: 6, loads: 4, stores: 2, faults: 3, errors: 0 });
    // Bytes: L 8 + S 8 + the mapped half (4) of the page-crossing store + L 4.
    expect(r.bytes).toBe(24);
    expect(stat('soc.core0.faults')).toBe(3);
    expect(stat('soc.core0.modify_stores_skipped')).toBe(1);
    expect(stat('soc.cpu.core0.faults')).toBe(3);
    expect(rig.mmu.faults.map((f) => [f.address, f.access, f.reason])).toEqual([
      [0x90_0000, 'read', expect.any(String)],
      [0x90_0010, 'read', expect.any(String)],
      [BASE + 0x1000, 'write', expect.any(String)],
    ]);
    // Unmapped pages are walked every time (nothing is cached): 1 good walk + 3 faulting walks.
    expect(stat('soc.cpu.walker.walks')).toBe(4);
    expect(stat('soc.cpu.walker.faults')).toBe(3);
    // Records after the faults were performed.
    const want = expectedStores(trace, (x) => x.op === M);
    expect(readVa(BASE + 0x100, 8)).toEqual([...Array(8).keys()].map((i) => want.get(BASE + 0x100 + i)));
    expect(readVa(BASE + 0xffc, 4)).toEqual([0, 1, 2, 3].map((i) => want.get(BASE + 0xffc + i)));
  });

  test('atomic and timing give the same counts, TLB and cache behaviour and memory', () => {
    const trace = [...SYNTH, rec(L, 0x90_0000, 4), rec(M, BASE + 0x1ffe, 4)];
    const pages = SYNTH_PAGES;
    const names = [
      'soc.core0.records', 'soc.core0.loads', 'soc.core0.stores', 'soc.core0.bytes', 'soc.core0.faults',
      'soc.core0.transactions', 'soc.core0.split_accesses', 'soc.core0.page_crossings', 'soc.core0.modify_stores_skipped',
      'soc.cpu.core0.l1tlb.misses', 'soc.cpu.core0.l1tlb.hits', 'soc.cpu.l2tlb.misses', 'soc.cpu.walker.walks',
      'soc.cpu.walker.faults', 'soc.cpu.cache.hits', 'soc.cpu.cache.misses',
    ];
    const runMode = (mode: 'timing' | 'atomic') => {
      const c = coreRig(pages, { mode });
      const r = c.run(trace);
      const mem = c.readVa(BASE, 4 * PAGE + 64);
      return { r, stats: names.map((n) => c.stat(n)), mem, events: c.rig.ctx.engine.eventsDispatched };
    };
    const t = runMode('timing');
    const a = runMode('atomic');
    expect(a.stats).toEqual(t.stats);
    expect(t.stats.slice(0, 5)).toEqual([10, 8, 4, 56 + 2 * 4, 1]);
    expect(a.mem).toEqual(t.mem);
    // Atomic mode: the start event (which runs the one batch) and the completion; no event per access.
    expect(a.events).toBe(2);
    expect(t.events).toBeGreaterThan(50);
    // Its time estimate is of the same order as the timing run's (idle latencies, no queueing).
    const ta = a.r.endTick - a.r.startTick;
    const tt = t.r.endTick - t.r.startTick;
    expect(ta).toBeGreaterThan(tt * 0.5);
    expect(ta).toBeLessThanOrEqual(tt * 1.5);
  });
});

describe('CpuCore timing', () => {
  test('blocking core: time = Σ gaps + Σ latencies; cycles and accesses_per_kcycle follow', () => {
    // N loads of one line: the first misses everything, the others hit the L1 TLB and the cache.
    const N = 10;
    const G = 7;
    const trace = Array.from({ length: N }, (_v, i) => rec(L, BASE + 8 * (i % 8), 8, G));
    const { rig, run, stat } = coreRig([0x400]);
    const r = run(trace);
    const h = rig.ctx.stats.dump();
    const miss = h['soc.core0.latency_ns.max'] as number;
    const hit = h['soc.core0.latency_ns.min'] as number;
    // A hit: L1 TLB (1 cycle) then the cache's tag lookup (hitLatencyCycles 2) at 1 GHz.
    expect(hit).toBe(3);
    expect(miss).toBeGreaterThan(50);
    expect(h['soc.core0.latency_ns.samples']).toBe(N);
    // Every record waits for the previous one, then computes G cycles (1 ns each), then issues.
    expect(r.endTick - r.startTick).toBe((N * G + miss + (N - 1) * hit) * 1000);
    expect(stat('soc.core0.cycles')).toBe((r.endTick - r.startTick) / 1000);
    expect(stat('soc.core0.accesses_per_kcycle')).toBeCloseTo((N * 1000) / stat('soc.core0.cycles'), 9);
    // cyclesBetween adds to each record's gap.
    const c2 = coreRig([0x400], { cyclesBetween: 5 });
    const r2 = c2.run(trace);
    expect(r2.endTick - r2.startTick - (r.endTick - r.startTick)).toBe(N * 5 * 1000);
    // Atomic mode follows the same rule with its estimated (idle) latencies.
    const c3 = coreRig([0x400], { mode: 'atomic' });
    const r3 = c3.run(trace);
    const d3 = c3.rig.ctx.stats.dump();
    const sum = (d3['soc.core0.latency_ns.mean'] as number) * N;
    expect(r3.endTick - r3.startTick).toBe(Math.round((N * G + sum) * 1000));
  });

  test("a modify's store waits for its load, even with slots free", () => {
    const { rig, run } = coreRig([0x400], { maxOutstanding: 4 });
    run([rec(L, BASE + 0xf00, 4)]); // translate the page
    rig.ctx.stats.reset();
    const r = run([rec(M, BASE + 0x80, 8)]); // a cold line
    const d = rig.ctx.stats.dump();
    expect(d['soc.core0.latency_ns.samples']).toBe(2);
    const load = d['soc.core0.latency_ns.max'] as number;
    const store = d['soc.core0.latency_ns.min'] as number;
    expect(store).toBe(3); // the store hits the line the load brought in
    expect(r.endTick - r.startTick).toBe((load + store) * 1000);
    expect(rig.stat('soc.cpu.cache.misses')).toBe(1);
    expect(rig.stat('soc.cpu.cache.hits')).toBe(1);
  });

  test('atomic mode runs long traces in batches of 4096 transactions', () => {
    const { rig, core } = coreRig([0x400], { mode: 'atomic', maxOutstanding: 2 });
    let result: CpuTraceResult | null = null;
    core.runTrace(Array.from({ length: 10_000 }, (_v, i) => rec(L, BASE + (i % 512) * 8, 8)), (r) => (result = r));
    rig.ctx.engine.runUntilIdle();
    // start (batch 1), batches 2 and 3, completion.
    expect(rig.ctx.engine.eventsDispatched).toBe(4);
    expect(result).toMatchObject({ records: 10_000, loads: 10_000, bytes: 80_000 });
    expect(rig.stat('soc.cpu.cache.misses')).toBe(64);
  });

  test('instruction fetches are reads, counted apart from loads', () => {
    const { run, stat } = coreRig([0x400]);
    const r = run([rec(TraceOp.Fetch, BASE, 4), rec(L, BASE + 64, 4), rec(TraceOp.Fetch, BASE + 4, 4)]);
    expect(r).toMatchObject({ fetches: 2, loads: 1, stores: 0, bytes: 12 });
    expect(stat('soc.core0.fetches')).toBe(2);
    expect(stat('soc.cpu.cache.hits') + stat('soc.cpu.cache.misses')).toBe(3);
  });

  test('maxOutstanding > 1 overlaps misses; 1 serialises them', () => {
    // 8 loads to 8 lines of one page (translated beforehand, so only cache misses remain).
    const warm = [rec(L, BASE + 0x800, 4)];
    const trace = Array.from({ length: 8 }, (_v, i) => rec(L, BASE + 64 * i, 8));
    const elapsed = (maxOutstanding: number) => {
      const c = coreRig([0x400], { maxOutstanding });
      c.run(warm);
      c.rig.ctx.stats.reset();
      const r = c.run(trace);
      const lat = c.rig.ctx.stats.dump();
      expect(c.stat('soc.cpu.cache.misses')).toBe(8);
      return { t: r.endTick - r.startTick, sum: (lat['soc.core0.latency_ns.mean'] as number) * 8 * 1000 };
    };
    const one = elapsed(1);
    const four = elapsed(4);
    expect(one.t).toBeGreaterThanOrEqual(one.sum); // serial: the latencies add up
    expect(four.t).toBeLessThan(four.sum * 0.5); // overlapped
    expect(four.t).toBeLessThan(one.t * 0.5);
  });

  test('posted stores do not hold up a blocking core', () => {
    const trace = [...Array.from({ length: 4 }, (_v, i) => rec(S, BASE + 64 * i, 8)), rec(L, BASE + 0x800, 8)];
    const time = (storeBuffer: number) => {
      const c = coreRig([0x400], { maxOutstanding: 1, storeBuffer });
      c.run([rec(L, BASE + 0xf00, 4)]); // translate the page first
      const r = c.run(trace);
      expect(r).toMatchObject({ loads: 1, stores: 4, bytes: 40 });
      return r.endTick - r.startTick;
    };
    const blocking = time(0);
    const posted = time(4);
    expect(posted).toBeLessThan(blocking * 0.5);
  });

  test('records are pulled lazily from a generator', () => {
    let pulled = 0;
    function* gen(): Generator<TraceRecord> {
      for (let i = 0; i < 1000; i++) {
        pulled++;
        yield rec(L, BASE + (i % 64) * 64, 8);
      }
    }
    const { rig, core } = coreRig([0x400]);
    let done: CpuTraceResult | null = null;
    core.runTrace(gen(), (r) => (done = r));
    rig.ctx.engine.runUntil(500_000); // 500 ns
    expect(pulled).toBeGreaterThan(5);
    expect(pulled).toBeLessThan(200);
    expect(done).toBeNull();
    // cycles counts the running trace too (so a run cut short by --until reports it).
    expect(rig.stat('soc.core0.cycles')).toBe(rig.ctx.engine.now / 1000);
    expect(rig.ctx.engine.now).toBeGreaterThan(400_000);
    rig.ctx.engine.runUntilIdle();
    expect(pulled).toBe(1000);
    expect(done).toMatchObject({ records: 1000, loads: 1000 });
  });

  test('traces queue and run one after the other', () => {
    const { rig, core } = coreRig([0x400]);
    const results: CpuTraceResult[] = [];
    core.runTrace([rec(L, BASE, 8), rec(S, BASE + 8, 8)], (r) => results.push(r));
    core.runTrace([rec(L, BASE + 64, 8)], (r) => results.push(r));
    core.runTrace([], (r) => results.push(r));
    rig.ctx.engine.runUntilIdle();
    expect(results.map((r) => [r.records, r.loads, r.stores])).toEqual([[2, 1, 1], [1, 1, 0], [0, 0, 0]]);
    expect(results[1].startTick).toBeGreaterThanOrEqual(results[0].endTick);
    expect(results[2].startTick).toBeGreaterThanOrEqual(results[1].endTick);
    expect(rig.stat('soc.core0.records')).toBe(3);
    expect(core.busy).toBe(false);
  });
});

describe('CpuCore on the real lackey sample', () => {
  const SAMPLE = path.join(__dirname, '../../fixtures/lackey-sample.txt');
  const records = [...parseLackey(fileLines(SAMPLE))];
  const pages = pagesOf(records);
  const loads = records.filter((r) => r.op !== S).length; // L and M
  const stores = records.filter((r) => r.op !== L).length; // S and M
  const bytes = records.reduce((n, r) => n + (r.op === M ? 2 : 1) * r.size, 0);

  test.each(['timing', 'atomic'] as const)('%s: every access performed, one walk per page touched', (mode) => {
    // Stack pages above 4 GiB and ld.so pages: all mapped; MLP 2 with a store buffer.
    expect(pages.length).toBe(7);
    expect(Math.max(...pages) * PAGE).toBeGreaterThan(2 ** 32);
    const { run, stat, readVa } = coreRig(pages, { mode, maxOutstanding: 2, storeBuffer: 4 });
    const r = run(parseLackey(fileLines(SAMPLE), { reuseRecord: true }));
    expect(r).toMatchObject({ records: 555, loads, stores, bytes, faults: 0, errors: 0 });
    expect(loads).toBe(365 + 20);
    expect(stores).toBe(170 + 20);
    // Concurrent misses to one page merge in the L2 TLB's MSHRs: still one walk per page.
    expect(stat('soc.cpu.walker.walks')).toBe(pages.length);
    expect(stat('soc.cpu.l2tlb.misses')).toBeGreaterThanOrEqual(pages.length);
    const want = expectedStores(records);
    let checked = 0;
    for (const [va, b] of want) {
      if (checked++ % 7 === 0) expect(readVa(va, 1)[0]).toBe(b);
    }
  });
});

describe('parameters', () => {
  test('CpuCoreParamsSpec names the field', () => {
    const ok: CpuCoreParams = { maxOutstanding: 2, lineBytes: 64 };
    const problem = (p: object) => {
      const r = CpuCoreParamsSpec.safeParse(p);
      return r.success ? null : `${r.error.issues[0].path.join('.')}: ${r.error.issues[0].message}`;
    };
    expect(problem(ok)).toBeNull();
    expect(CpuCoreParamsSpec.parse(ok)).toMatchObject({ storeBuffer: 0, cyclesBetween: 0, pageBytes: 4096, mode: 'timing' });
    expect(problem({ ...ok, maxOutstanding: 0 })).toBe('maxOutstanding: must be an integer from 1 to 1024, got 0');
    expect(problem({ ...ok, lineBytes: 48 })).toBe('lineBytes: must be a power of two, got 48');
    expect(problem({ ...ok, pageBytes: 5000 })).toBe('pageBytes: must be a power of two, got 5000');
    expect(problem({ ...ok, storeBuffer: -1 })).toBe('storeBuffer: must be an integer from 0 to 1024, got -1');
    expect(problem({ ...ok, cyclesBetween: 1.5 })).toBe('cyclesBetween: must be an integer from 0 to 2^32, got 1.5');
    expect(problem({ ...ok, mode: 'fast' })).toMatch(/^mode: /);
    const rig = new CacheRig(CACHE);
    expect(() => new CpuCore(rig.ctx, 'soc.bad', rig.clock, 1, { ...ok, lineBytes: 3 })).toThrow(SimInvariantError);
    expect(() => new CpuCore(rig.ctx, 'soc.bad', rig.clock, 1, { ...ok, lineBytes: 3 })).toThrow('soc.bad: lineBytes: must be a power of two, got 3');
  });

  test('a malformed record throws SimInvariantError naming its index', () => {
    const { core, rig } = coreRig([0x400]);
    core.runTrace([rec(L, BASE, 8), rec(L, BASE, 0)], () => undefined);
    expect(() => rig.ctx.engine.runUntilIdle()).toThrow(/soc\.core0: trace record 1 is malformed/);
  });
});
