import { Cmd, Status } from '../../../sim/bus/transaction';
import { Rng } from '../../../sim/engine/rng';
import { CpuCache, CpuCacheSpec, type CpuCacheParamsInput } from '../../../sim/devices/cpuCache';
import { firstProblem } from '../../helpers/spec';
import { ClockDomain } from '../../../sim/engine/clock';
import { createSimContext } from '../../../sim/engine/context';
import { connectPorts, ResponsePort, type RequestReceiver } from '../../../sim/bus/port';
import type { Transaction } from '../../../sim/bus/transaction';
import type { SimContext } from '../../../sim/engine/context';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import { CacheRig, MEM_BASE, pattern, SMALL_CACHE } from '../../helpers/cacheRig';
import { TrafficMaster, type TrafficRequest } from '../../helpers/trafficMaster';

/**
 * A memory that answers reads long before earlier writes and applies each access when it
 * answers (as a controller that favours reads may): the order the cache must not rely on.
 */
class ReorderingMemory implements RequestReceiver {
  readonly port = new ResponsePort('slow_writes.port', this);
  readonly mem = new PhysicalMemory();
  constructor(private readonly ctx: SimContext, private readonly readTicks: number, private readonly writeTicks: number) {}
  recvRequest(t: Transaction): boolean {
    this.ctx.engine.scheduleIn(t.cmd === Cmd.Write ? this.writeTicks : this.readTicks, () => {
      this.move(t);
      this.port.sendResponse(t);
    });
    return true;
  }
  recvAtomic(t: Transaction): number {
    this.move(t);
    return t.cmd === Cmd.Write ? this.writeTicks : this.readTicks;
  }
  recvFunctional(t: Transaction): void {
    this.move(t);
  }
  private move(t: Transaction): void {
    if (t.cmd === Cmd.Write) this.mem.write(t.addr, t.data, 0, t.size);
    else this.mem.read(t.addr, t.data, 0, t.size);
    t.status = Status.Ok;
  }
}

// SMALL_CACHE: 4 sets × 2 ways × 64-byte lines. A, B, C share set 0; D is in set 1.
const A = MEM_BASE;
const B = MEM_BASE + 256;
const C = MEM_BASE + 512;
const D = MEM_BASE + 64;

const rd = (addr: number, size = 8): TrafficRequest => ({ cmd: Cmd.Read, addr, size });
const wr = (addr: number, data: Uint8Array): TrafficRequest => ({ cmd: Cmd.Write, addr, size: data.length, data });

describe('CpuCache geometry', () => {
  test.each<[Partial<CpuCacheParamsInput>, RegExp]>([
    [{ lineBytes: 48 }, /^lineBytes: must be a power of two/],
    [{ lineBytes: 2 ** 17 }, /^lineBytes: must be at most 64KiB/],
    [{ ways: 0 }, /^ways: must be an integer from 1 to 1024/],
    [{ ways: 1.5 }, /^ways: must be an integer from 1 to 1024/],
    [{ sizeBytes: 500 }, /^sizeBytes: must be a positive multiple of ways × lineBytes \(128\)/],
    [{ sizeBytes: 384 }, /^sizeBytes: gives 3 sets .* power of two/],
    [{ sizeBytes: 0 }, /^sizeBytes: must be from 1 byte to 1GiB, got 0/],
    [{ sizeBytes: '2GiB' }, /^sizeBytes: must be from 1 byte to 1GiB/],
    [{ hitLatencyCycles: -1 }, /^hitLatencyCycles: /],
    [{ mshrs: 0 }, /^mshrs: /],
    [{ mshrs: 2048 }, /^mshrs: must be an integer from 1 to 1024/],
    [{ maxOutstanding: 0 }, /^maxOutstanding: /],
  ])('%j is rejected', (over, re) => {
    const p = { ...SMALL_CACHE, ...over };
    expect(firstProblem(CpuCacheSpec, p)).toMatch(re);
    expect(() => new CpuCache(createSimContext(), 'soc.c', new ClockDomain('c', 1e9), 0, p)).toThrow(new RegExp(`^soc\\.c: ${re.source.slice(1)}`));
  });

  test('a valid geometry has sets = size / (ways × line)', () => {
    const c = new CpuCache(createSimContext(), 'soc.c', new ClockDomain('c', 1e9), 0, { sizeBytes: 32768, ways: 4, lineBytes: 64, hitLatencyCycles: 1 });
    expect(firstProblem(CpuCacheSpec, SMALL_CACHE)).toBeNull();
    expect(firstProblem(CpuCacheSpec, { ...SMALL_CACHE, sizeBytes: '512B' })).toBeNull();
    expect(c.sets).toBe(128);
  });
});

describe('CpuCache timing path', () => {
  test('hits, misses, evictions; a dirty victim is written back before the fill', () => {
    const r = new CacheRig();
    const t0 = r.cpu.run([rd(A)])[0];
    expect(r.c('misses')).toBe(1);
    r.cpu.run([rd(A + 8)]);
    r.cpu.run([wr(A + 16, Uint8Array.of(1, 2, 3, 4))]);
    expect(r.c('hits')).toBe(2);
    expect(r.cache.isDirty(A)).toBe(true);
    expect(r.mem.read32(A + 16)).toBe(0); // write-back cache: memory not written yet
    r.cpu.run([rd(D)]);
    const tB = r.cpu.run([rd(B)])[0];
    expect(r.c('evictions')).toBe(0);
    const tC = r.cpu.run([rd(C)])[0]; // set 0 is full: evicts A (LRU), which is dirty
    expect(r.c('misses')).toBe(4);
    expect(r.c('evictions')).toBe(1);
    expect(r.c('writebacks')).toBe(1);
    expect(r.stat('soc.mem.reads')).toBe(4);
    expect(r.stat('soc.mem.writes')).toBe(1);
    expect(r.stat('soc.mem.bytes_read')).toBe(4 * 64);
    expect(r.stat('soc.mem.bytes_written')).toBe(64);
    expect(Array.from(r.peek(A + 16, 4))).toEqual([1, 2, 3, 4]);
    expect(r.cache.isCached(A)).toBe(false);
    // The fill waited for the write-back's round trip: about twice a clean miss.
    const clean = tB.doneTick - tB.issueTick;
    const dirty = tC.doneTick - tC.issueTick;
    expect(clean).toBe(t0.doneTick - t0.issueTick);
    expect(dirty).toBeGreaterThan(clean + 20_000);
    // A hit costs hitLatencyCycles (plus the MMU's pass-through).
    const hit = r.cpu.run([rd(B + 8)])[0];
    expect(hit.doneTick - hit.issueTick).toBeLessThan(clean / 3);
  });

  test('LRU: the least recently used way is replaced', () => {
    const r = new CacheRig();
    r.cpu.run([rd(A)]);
    r.cpu.run([rd(B)]);
    r.cpu.run([rd(A)]); // A is now the most recently used
    r.cpu.run([rd(C)]);
    expect(r.cache.isCached(A)).toBe(true);
    expect(r.cache.isCached(B)).toBe(false);
    expect(r.cache.isCached(C)).toBe(true);
    expect([r.c('hits'), r.c('misses'), r.c('evictions'), r.c('writebacks')]).toEqual([1, 3, 1, 0]);
    r.cpu.run([rd(B)]); // now A is LRU (C was used after it)
    expect(r.cache.isCached(A)).toBe(false);
    expect(r.cache.isCached(C)).toBe(true);
  });

  test('misses to one line in flight merge into one fill, and are served in order', () => {
    const r = new CacheRig(SMALL_CACHE, 20, 8);
    r.poke(A, pattern(64, 3));
    const out = r.cpu.run([rd(A, 4), wr(A, Uint8Array.of(9, 9, 9, 9)), rd(A, 4), rd(A + 60, 4)]);
    expect(Array.from(out[0].data)).toEqual(Array.from(pattern(64, 3).subarray(0, 4)));
    expect(Array.from(out[2].data)).toEqual([9, 9, 9, 9]);
    expect(r.stat('soc.mem.reads')).toBe(1);
    expect(r.c('misses')).toBe(4);
    expect(r.c('hits')).toBe(0);
  });

  test('a line whose write-back is in flight is not fetched again before the write-back is done', () => {
    const ctx = createSimContext(2);
    const slave = new ReorderingMemory(ctx, 5_000, 100_000);
    const cache = new CpuCache(ctx, 'soc.c', new ClockDomain('c', 1e9), 7, SMALL_CACHE);
    connectPorts(cache.memSidePort, slave.port);
    const script = [wr(A, Uint8Array.of(1, 2, 3, 4)), rd(B, 4)]; // set 0 full, A dirty
    const cpu = new TrafficMaster(ctx, 'cpu', 0, script, 4);
    connectPorts(cpu.port, cache.cpuSidePort);
    cpu.start();
    ctx.engine.runUntilIdle();
    // C evicts A (a slow write-back); A is read again while that write is in flight.
    script.push(rd(C, 4), rd(A, 4));
    cpu.start();
    ctx.engine.runUntilIdle();
    const last = [...cpu.completed].sort((a, b) => a.id - b.id)[3];
    expect(last.addr).toBe(A);
    expect(Array.from(last.data)).toEqual([1, 2, 3, 4]);
    expect(last.doneTick - last.issueTick).toBeGreaterThan(100_000);
    expect(ctx.stats.value('soc.c.writebacks')).toBe(1);
  });

  test('an access crossing a line boundary is a bug in the master', () => {
    const r = new CacheRig();
    expect(() => r.cpu.run([rd(A + 60, 8)])).toThrow(/crosses a 64-byte line/);
  });

  test.each<[string, CpuCacheParamsInput, number, boolean]>([
    ['2 MSHRs, 4 requests in flight', { ...SMALL_CACHE, mshrs: 2 }, 4, true],
    ['1 MSHR, 1 request held (blocking)', { ...SMALL_CACHE, mshrs: 1, maxOutstanding: 1 }, 8, false],
    ['4 ways, 8 MSHRs', { sizeBytes: 1024, ways: 4, lineBytes: 64, hitLatencyCycles: 1, mshrs: 8 }, 8, false],
    ['direct-mapped, 32-byte lines, 1 MSHR', { sizeBytes: 256, ways: 1, lineBytes: 32, hitLatencyCycles: 0, mshrs: 1 }, 6, true],
  ])('reads and writes agree with a reference memory across evictions, merges and stalls (%s)', (_name, params, inFlight, stalls) => {
    const r = new CacheRig(params, 15, inFlight);
    const REGION = 4096;
    const ref = pattern(REGION, 5);
    r.poke(A, ref);
    const rng = new Rng(17);
    const reqs: TrafficRequest[] = [];
    const expected: (number[] | null)[] = [];
    for (let i = 0; i < 1500; i++) {
      // Mostly a hot 1 KiB, sometimes anywhere: hits, conflict misses and dirty evictions.
      const span = rng.nextInt(4) === 0 ? REGION : 1024;
      const size = [1, 2, 4, 8][rng.nextInt(4)];
      const off = rng.nextInt(span / size) * size;
      if (rng.nextInt(3) === 0) {
        const data = new Uint8Array(size);
        rng.fillBytes(data);
        reqs.push(wr(A + off, data));
        ref.set(data, off);
        expected.push(null);
      } else {
        reqs.push(rd(A + off, size));
        expected.push(Array.from(ref.subarray(off, off + size)));
      }
    }
    const out = r.cpu.run(reqs);
    out.forEach((c, i) => {
      expect(c.status).toBe(Status.Ok);
      if (expected[i]) expect(Array.from(c.data)).toEqual(expected[i]);
    });
    expect(r.c('hits') + r.c('misses')).toBe(reqs.length);
    expect(r.c('writebacks')).toBeGreaterThan(0);
    if (stalls) expect(r.c('stalls')).toBeGreaterThan(0);
    // Functional reads see the cache's data; memory alone is stale until the cache is flushed.
    expect(Array.from(r.cpu.master.functional({ cmd: Cmd.Read, addr: A, size: REGION }).data)).toEqual(Array.from(ref));
    expect(Array.from(r.peek(A, REGION))).not.toEqual(Array.from(ref));
    r.cache.flushRange(A, REGION);
    expect(Array.from(r.peek(A, REGION))).toEqual(Array.from(ref));
    expect(r.cache.isCached(A) || r.cache.isCached(A + 64)).toBe(false);
  });

  test('a fill that fails completes its requests with the error and caches nothing', () => {
    const r = new CacheRig();
    const out = r.cpu.run([rd(0x10, 4)]); // nothing decodes address 0x10
    expect(out[0].status).toBe(Status.DecodeError);
    expect(r.cache.isCached(0x10)).toBe(false);
    expect(r.cache.missesInFlight).toBe(0);
  });
});

describe('CpuCache atomic and functional paths', () => {
  test('atomic accesses make the same state changes, may span lines, and estimate latency', () => {
    const r = new CacheRig();
    r.poke(A, pattern(512, 1));
    const res = r.cpu.master.atomic({ cmd: Cmd.Read, addr: A + 30, size: 200 }); // lines 0..3
    expect(res.status).toBe(Status.Ok);
    expect(Array.from(res.data)).toEqual(Array.from(pattern(512, 1).subarray(30, 230)));
    expect(r.c('misses')).toBe(4);
    expect(r.stat('soc.mem.reads')).toBe(4);
    const hit = r.cpu.master.atomic({ cmd: Cmd.Write, addr: A + 60, size: 8, data: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8) });
    expect(r.c('hits')).toBe(2);
    expect(hit.latency).toBeLessThan(res.latency / 4);
    expect(r.cache.isDirty(A) && r.cache.isDirty(A + 64)).toBe(true);
    expect(r.mem.read8(A + 60)).toBe(pattern(512, 1)[60]); // not written through
    expect(Array.from(r.cpu.read(A + 56, 16, 8).subarray(4, 12))).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // A conflict miss evicts atomically too: C replaces A (LRU in set 0), written back.
    r.cpu.master.atomic({ cmd: Cmd.Read, addr: B, size: 4 });
    r.cpu.master.atomic({ cmd: Cmd.Read, addr: C, size: 4 });
    expect(r.c('writebacks')).toBe(1);
    expect(r.mem.read8(A + 60)).toBe(1);
  });

  test('functional accesses touch no stats or state; writes reach memory and cached copies', () => {
    const r = new CacheRig();
    r.cpu.run([wr(A, Uint8Array.of(7, 7, 7, 7))]);
    const before = [r.c('hits'), r.c('misses'), r.stat('soc.mem.reads')];
    expect(Array.from(r.cpu.master.functional({ cmd: Cmd.Read, addr: A, size: 4 }).data)).toEqual([7, 7, 7, 7]);
    r.cpu.master.functional({ cmd: Cmd.Write, addr: A + 2, size: 4, data: Uint8Array.of(5, 5, 5, 5) });
    r.cpu.master.functional({ cmd: Cmd.Write, addr: B, size: 2, data: Uint8Array.of(6, 6) }); // not cached
    expect([r.c('hits'), r.c('misses'), r.stat('soc.mem.reads')]).toEqual(before);
    expect(r.cache.isCached(B)).toBe(false);
    expect(Array.from(r.peek(A, 6))).toEqual([0, 0, 5, 5, 5, 5]);
    expect(r.mem.read8(B)).toBe(6);
    expect(Array.from(r.cpu.read(A, 8))).toEqual([7, 7, 5, 5, 5, 5, 0, 0]);
  });
});

describe('CpuCache maintenance', () => {
  function dirtyRig() {
    const r = new CacheRig();
    r.poke(A, new Uint8Array(256).fill(0xaa));
    r.cpu.write(A, new Uint8Array(128).fill(0x11)); // lines A, A+64: dirty
    r.cpu.read(A + 128, 64); // clean
    return r;
  }

  test('cleanRange writes dirty lines back and keeps them valid and clean', () => {
    const r = dirtyRig();
    const writes = r.stat('soc.mem.writes');
    const ticks = r.cache.cleanRange(A + 10, 150); // partial lines count whole
    expect(r.c('cleaned_lines')).toBe(2);
    expect(r.stat('soc.mem.writes')).toBe(writes + 2);
    expect(ticks).toBeGreaterThan(2 * 20_000);
    expect(r.peek(A, 128).every((b) => b === 0x11)).toBe(true);
    expect(r.cache.isCached(A) && !r.cache.isDirty(A) && !r.cache.isDirty(A + 64)).toBe(true);
    expect(r.cache.cleanRange(A, 192)).toBe(3000); // nothing dirty: one cycle per line
    expect(r.c('cleaned_lines')).toBe(2);
  });

  test('invalidateRange drops lines without writing back: dirty data is lost', () => {
    const r = dirtyRig();
    const writes = r.stat('soc.mem.writes');
    r.cache.invalidateRange(A, 192);
    expect([r.c('invalidated_lines'), r.c('dropped_dirty_lines'), r.c('cleaned_lines')]).toEqual([3, 2, 0]);
    expect(r.stat('soc.mem.writes')).toBe(writes);
    expect(r.cache.isCached(A)).toBe(false);
    expect(r.cpu.read(A, 128).every((b) => b === 0xaa)).toBe(true); // the CPU's writes are gone
  });

  test('flushRange cleans, then invalidates', () => {
    const r = dirtyRig();
    r.cache.flushRange(A, 192);
    expect([r.c('cleaned_lines'), r.c('invalidated_lines'), r.c('dropped_dirty_lines')]).toEqual([2, 3, 0]);
    expect(r.cache.isCached(A) || r.cache.isCached(A + 128)).toBe(false);
    expect(r.peek(A, 128).every((b) => b === 0x11)).toBe(true);
  });

  test('a range larger than the cache visits the cache, with the same effect', () => {
    const r = dirtyRig();
    r.cache.flushRange(MEM_BASE - 0x10_0000, 0x100_0000);
    expect([r.c('cleaned_lines'), r.c('invalidated_lines')]).toEqual([2, 3]);
    expect(r.peek(A, 128).every((b) => b === 0x11)).toBe(true);
    expect(r.cache.invalidateRange(A + 4096, 64)).toBe(1000); // a line not cached: no effect
  });
});

describe('CpuCache snoop interface', () => {
  test('snoopRead overlays dirty lines only; snoopWrite writes dirty lines back and invalidates', () => {
    const r = new CacheRig();
    r.poke(A, new Uint8Array(128).fill(1));
    r.cpu.write(A, new Uint8Array(8).fill(2)); // line A dirty
    r.cpu.read(A + 64, 8); // line A+64 clean
    r.mem.write8(A + 64, 9); // memory changed behind the cache
    const dst = r.peek(A, 128);
    r.cache.snoopRead(A, 128, dst);
    expect(Array.from(dst.subarray(0, 9))).toEqual([2, 2, 2, 2, 2, 2, 2, 2, 1]);
    expect(dst[64]).toBe(9); // a clean line is memory's copy: not overlaid
    expect(r.c('snoop_hits')).toBe(2);
    r.cache.snoopWrite(A + 4, 64, new Uint8Array(64).fill(3));
    expect(r.c('writebacks')).toBe(1);
    expect(r.c('snoop_invalidations')).toBe(2);
    expect(r.cache.isCached(A) || r.cache.isCached(A + 64)).toBe(false);
    expect(r.mem.read8(A)).toBe(2); // the CPU's dirty bytes reached memory before the device's write
  });

  test('a device write during a fill in flight patches the fill', () => {
    const r = new CacheRig(SMALL_CACHE, 50);
    r.poke(A, new Uint8Array(64).fill(1));
    const out: Uint8Array[] = [];
    r.cpu.master.completed.length = 0;
    // Start a read miss, and snoop a device write while its fill is in flight.
    r.ctx.engine.schedule(10_000, () => {
      expect(r.cache.missesInFlight).toBe(1);
      r.cache.snoopWrite(A + 8, 4, Uint8Array.of(4, 4, 4, 4));
      r.poke(A + 8, Uint8Array.of(4, 4, 4, 4)); // the device's write lands (after the fill read was served)
    });
    out.push(r.cpu.run([rd(A, 16)])[0].data);
    expect(Array.from(out[0])).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 4, 4, 4, 4, 1, 1, 1, 1]);
    expect(r.cache.isCached(A)).toBe(true);
    expect(Array.from(r.cpu.read(A + 8, 4))).toEqual([4, 4, 4, 4]);
  });

  /** Runs `fn` once, at the first nanosecond while A's write-back is in flight and not yet in memory. */
  function whileWriteBackInFlight(r: CacheRig, fn: () => void): () => boolean {
    let done = false;
    const start = r.ctx.engine.now;
    for (let t = 1; t <= 40; t++) {
      r.ctx.engine.schedule(start + t * 1000, () => {
        if (done || r.cache.isCached(A) || r.mem.read8(A) !== 0 || r.cache.missesInFlight === 0) return;
        done = true;
        fn();
      });
    }
    return () => done;
  }

  test('a device write during a write-back in flight patches the write-back; snoopRead sees it', () => {
    const r = new CacheRig(SMALL_CACHE, 50);
    r.cpu.write(A, new Uint8Array(64).fill(7)); // dirty
    r.cpu.read(B, 4);
    let seen: number[] = [];
    const ran = whileWriteBackInFlight(r, () => {
      const dst = new Uint8Array(4);
      r.cache.snoopRead(A, 4, dst);
      seen = Array.from(dst);
      r.cache.snoopWrite(A, 2, Uint8Array.of(8, 8));
      r.mem.write(A, Uint8Array.of(8, 8)); // the device's write lands before the write-back
    });
    r.cpu.run([rd(C, 4)]); // C evicts A
    expect(ran()).toBe(true);
    expect(seen).toEqual([7, 7, 7, 7]);
    expect(Array.from(r.peek(A, 4))).toEqual([8, 8, 7, 7]);
  });

  test('holdRange makes misses in its sets wait until releaseRange, and pushes write-backs in flight to memory', () => {
    const r = new CacheRig(SMALL_CACHE, 50);
    r.cache.holdRange(A + 8, 8);
    r.cpu.master.completed.length = 0;
    r.cpu.master.start();
    const script = [rd(D, 4), rd(B, 4)]; // set 1 proceeds; set 0 is held
    expect(() => r.cpu.run(script)).toThrow(/1 of 2 requests completed/);
    expect(r.c('stalls')).toBe(1);
    r.cache.releaseRange(A + 8, 8);
    r.ctx.engine.runUntilIdle();
    expect(r.cpu.master.completed.length).toBe(2);
    expect(r.cache.isCached(B)).toBe(true);
    // An atomic miss in a held set goes to memory without allocating.
    r.cache.holdRange(A, 4);
    r.cpu.master.atomic({ cmd: Cmd.Write, addr: C, size: 2, data: Uint8Array.of(5, 5) });
    expect(r.c('bypasses')).toBe(1);
    expect(r.mem.read8(C)).toBe(5);
    expect(r.cache.isCached(C)).toBe(false);
    r.cache.releaseRange(A, 4);
    expect(() => r.cache.releaseRange(A, 4)).toThrow(/without holdRange/);
  });

  test('holdRange performs a write-back in flight for its range at once', () => {
    const r = new CacheRig(SMALL_CACHE, 50);
    r.cpu.write(A, new Uint8Array(64).fill(7));
    r.cpu.read(B, 4);
    let atHold = -1;
    const ran = whileWriteBackInFlight(r, () => {
      r.cache.holdRange(A, 64);
      atHold = r.mem.read8(A);
      r.cache.releaseRange(A, 64);
    });
    r.cpu.run([rd(C, 4)]);
    expect(ran()).toBe(true);
    expect(atHold).toBe(7);
  });
});
