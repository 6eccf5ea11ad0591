import { createSimContext, type SimContext } from '../../../sim/engine/context';
import { ClockDomain } from '../../../sim/engine/clock';
import { connectPorts } from '../../../sim/bus/port';
import { Cmd, Status, Transaction } from '../../../sim/bus/transaction';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import { SimpleMemory, SramSpec, type SramParams } from '../../../sim/mem/sram';
import { firstProblem } from '../../helpers/spec';
import { PendingQueue } from '../../../sim/mem/pendingQueue';
import { TrafficMaster, reads, type TrafficRequest } from '../../helpers/trafficMaster';

const BASE = 0x1000_0000;
const SIZE = 0x4_0000;

function setup(params: SramParams, freqHz = 1e9): { ctx: SimContext; clock: ClockDomain; mem: PhysicalMemory; sram: SimpleMemory } {
  const ctx = createSimContext(7);
  const clock = new ClockDomain('sram_clk', freqHz);
  const mem = new PhysicalMemory();
  const sram = new SimpleMemory(ctx, 'soc.sram', clock, { base: BASE, size: SIZE }, mem, params);
  return { ctx, clock, mem, sram };
}

function run(ctx: SimContext, sram: SimpleMemory, reqs: TrafficRequest[], outstanding = 1, at = 0, gap = 0): TrafficMaster {
  const m = new TrafficMaster(ctx, 'tm', 1, reqs, outstanding, gap);
  connectPorts(m.port, sram.port);
  m.start(at);
  ctx.engine.runUntilIdle();
  expect(m.done).toBe(true);
  return m;
}

describe('SimpleMemory', () => {
  test('idle latency is latencyCycles + ceil(size / bytesPerCycle) cycles', () => {
    const { ctx, sram } = setup({ latencyCycles: 3, bytesPerCycle: 8, queueDepth: 4 });
    const sizes = [1, 8, 9, 20, 64];
    const m = run(ctx, sram, sizes.map((size, i) => ({ cmd: Cmd.Read, addr: BASE + i * 0x100, size })), 1, 0, 1_000_000);
    // 1 GHz: 1000 ps per cycle; issues at 0, 1 us, 2 us, ... all on edges.
    expect(m.completed.map((c) => c.doneTick - c.issueTick)).toEqual([4000, 4000, 5000, 6000, 11000]);
    expect(m.completed.every((c) => c.status === Status.Ok)).toBe(true);
    expect(ctx.stats.value('soc.sram.reads')).toBe(5);
    expect(ctx.stats.value('soc.sram.bytes_read')).toBe(1 + 8 + 9 + 20 + 64);
    const h = ctx.stats.dump();
    expect(h['soc.sram.latency_ns.min']).toBe(4);
    expect(h['soc.sram.latency_ns.max']).toBe(11);
  });

  test('responses land on clock edges of a non-integer-period clock', () => {
    const { ctx, clock, sram } = setup({ latencyCycles: 2, bytesPerCycle: 4, queueDepth: 2 }, 1.2e9);
    // Issued between edges: starts at the next edge (edge 1 at 833 ps), 2 + 4 cycles later = edge 7.
    const m = run(ctx, sram, [{ cmd: Cmd.Write, addr: BASE, size: 16 }], 1, 100);
    expect(m.completed[0].issueTick).toBe(100);
    expect(m.completed[0].doneTick).toBe(clock.cycleToTick(7));
    expect(m.completed[0].doneTick).toBe(5833);
    // Issued exactly on an edge: no rounding up.
    const r2 = setup({ latencyCycles: 2, bytesPerCycle: 4, queueDepth: 2 }, 1.2e9);
    const m2 = run(r2.ctx, r2.sram, [{ cmd: Cmd.Read, addr: BASE, size: 4 }], 1, 2500);
    expect(m2.completed[0].doneTick).toBe(r2.clock.cycleToTick(3 + 3)); // edge 3 is 2500 ps
  });

  test('throughput is bounded by bytesPerCycle and the pipeline hides the latency', () => {
    const { ctx, sram } = setup({ latencyCycles: 3, bytesPerCycle: 16, queueDepth: 4 });
    const n = 64;
    const m = run(ctx, sram, reads(Array.from({ length: n }, (_, i) => BASE + i * 64), 64), 8);
    expect(m.completed).toHaveLength(n);
    // 4 transfer cycles per request, back to back after the first 3-cycle access.
    const done = m.completed.map((c) => c.doneTick);
    expect(done[0]).toBe(7000);
    for (let i = 1; i < n; i++) expect(done[i] - done[i - 1]).toBe(4000);
    expect(done[n - 1]).toBe((3 + 4 * n) * 1000);
    // Never faster than bytesPerCycle: bytes by the time of response i <= 16 B/cycle × cycles.
    for (let i = 0; i < n; i++) expect(64 * (i + 1)).toBeLessThanOrEqual((16 * done[i]) / 1000);
    expect(m.refusals).toBeGreaterThan(0); // queueDepth 4 < 8 outstanding
    expect(ctx.stats.value('soc.sram.refused')).toBe(m.refusals);
  });

  test('data written is read back identically; reads of unwritten memory are zero', () => {
    const { ctx, mem, sram } = setup({ latencyCycles: 1, bytesPerCycle: 8, queueDepth: 2 });
    const payloads: Uint8Array[] = [];
    const reqs: TrafficRequest[] = [];
    const addrs = [BASE, BASE + 13, BASE + 0xfff, BASE + SIZE - 40];
    for (const addr of addrs) {
      const d = new Uint8Array(40);
      ctx.rng.fillBytes(d);
      payloads.push(d);
      reqs.push({ cmd: Cmd.Write, addr, size: 40, data: d });
    }
    // Later writes overwrite earlier ones where they overlap (BASE .. BASE+13+40).
    for (const addr of addrs) reqs.push({ cmd: Cmd.Read, addr, size: 40 });
    reqs.push({ cmd: Cmd.Read, addr: BASE + 0x2000, size: 16 });
    const m = run(ctx, sram, reqs, 3);
    const rd = m.completed.filter((c) => c.cmd === Cmd.Read);
    expect(Array.from(rd[1].data)).toEqual(Array.from(payloads[1]));
    expect(Array.from(rd[2].data)).toEqual(Array.from(payloads[2]));
    expect(Array.from(rd[3].data)).toEqual(Array.from(payloads[3]));
    expect(Array.from(rd[0].data.subarray(0, 13))).toEqual(Array.from(payloads[0].subarray(0, 13)));
    expect(Array.from(rd[0].data.subarray(13))).toEqual(Array.from(payloads[1].subarray(0, 27)));
    expect(Array.from(rd[4].data)).toEqual(new Array(16).fill(0));
    expect(mem.read8(BASE + 0xfff)).toBe(payloads[2][0]);
    expect(ctx.stats.value('soc.sram.writes')).toBe(4);
    expect(ctx.stats.value('soc.sram.bytes_written')).toBe(160);
  });

  test('requests outside the region get DecodeError after the latency, memory untouched', () => {
    const { ctx, mem, sram } = setup({ latencyCycles: 5, bytesPerCycle: 4, queueDepth: 1 });
    const m = run(ctx, sram, [
      { cmd: Cmd.Write, addr: BASE + SIZE - 8, size: 16, data: new Uint8Array(16).fill(9) },
      { cmd: Cmd.Write, addr: BASE - 4, size: 4, data: new Uint8Array(4).fill(9) },
      { cmd: Cmd.Read, addr: 0, size: 4 },
    ], 4);
    expect(m.completed.map((c) => c.status)).toEqual([Status.DecodeError, Status.DecodeError, Status.DecodeError]);
    expect(m.completed.map((c) => c.doneTick - c.issueTick)).toEqual([5000, 5000, 5000]);
    expect(mem.framesAllocated).toBe(0);
    expect(ctx.stats.value('soc.sram.decode_errors')).toBe(3);
    expect(ctx.stats.value('soc.sram.writes')).toBe(0);
    expect(ctx.stats.value('soc.sram.refused')).toBe(0);
  });

  test('SramSpec names the bad field; queueDepth defaults to 8', () => {
    const check = (p: unknown) => firstProblem(SramSpec, p);
    expect(check({ latencyCycles: 1, bytesPerCycle: 8, queueDepth: 1 })).toBeNull();
    expect(SramSpec.parse({ latencyCycles: 1, bytesPerCycle: 8 }).queueDepth).toBe(8);
    expect(check({ latencyCycles: -1, bytesPerCycle: 8, queueDepth: 1 })).toBe('latencyCycles: must be an integer from 0 to 2^20, got -1');
    expect(check({ latencyCycles: 2 ** 33, bytesPerCycle: 8 })).toMatch(/^latencyCycles:/);
    expect(check({ latencyCycles: 1, bytesPerCycle: 0, queueDepth: 1 })).toMatch(/^bytesPerCycle:/);
    expect(check({ latencyCycles: 1, bytesPerCycle: Infinity })).toMatch(/^bytesPerCycle:/);
    expect(check({ latencyCycles: 1, bytesPerCycle: 8, queueDepth: 1.5 })).toMatch(/^queueDepth:/);
    expect(check({ latencyCycles: 1, bytesPerCycle: 8, queueDepth: 2 ** 21 })).toBe('queueDepth: must be an integer from 1 to 2^20, got 2097152');
  });

  test('PendingQueue is FIFO and grows past its initial capacity', () => {
    const q = new PendingQueue(2);
    const txns = Array.from({ length: 5 }, () => new Transaction(8));
    q.push(txns[0], 0, 10);
    q.push(txns[1], 1, 11);
    expect(q.shift()).toBe(txns[0]);
    for (let i = 2; i < 5; i++) q.push(txns[i], i, 10 + i);
    expect(q.count).toBe(4);
    const out = [];
    while (q.count) {
      out.push([q.headAcceptTick(), q.headDoneTick()]);
      q.shift();
    }
    expect(out).toEqual([[1, 11], [2, 12], [3, 13], [4, 14]]);
    expect(() => q.shift()).toThrow();
  });

  test('payloads move whole words when aligned and bytes otherwise, following a replaced payload array', () => {
    const { sram, mem } = setup({ latencyCycles: 1, bytesPerCycle: 8, queueDepth: 4 });
    const t = new Transaction(64);
    const put = (addr: number, data: Uint8Array, size: number): void => {
      t.data = data;
      for (let i = 0; i < size; i++) data[i] = (addr + i * 13) & 0xff;
      t.cmd = Cmd.Write; t.addr = addr; t.size = size;
      sram.recvAtomic(t, sram.port);
      const back = new Uint8Array(size);
      mem.read(addr, back);
      expect(Array.from(back)).toEqual(Array.from(data.subarray(0, size)));
    };
    put(BASE + 0x100, t.data, 64); // aligned: the word path
    expect(t.words()).not.toBeNull();
    const unaligned = new Uint8Array(new ArrayBuffer(80), 1, 64);
    put(BASE + 0x200, unaligned, 64);
    expect(t.words()).toBeNull();
    put(BASE + 0x301, new Uint8Array(64), 64); // unaligned address
    put(BASE + 0x400, new Uint8Array(64), 6); // not whole words
    // A new payload array gets its own word view: a read fills the array the master holds.
    const fresh = new Uint8Array(64);
    t.data = fresh; t.cmd = Cmd.Read; t.addr = BASE + 0x100; t.size = 64;
    sram.recvAtomic(t, sram.port);
    expect(Array.from(fresh)).toEqual(Array.from({ length: 64 }, (_v, i) => (BASE + 0x100 + i * 13) & 0xff));
  });
});
