import { createSimContext, type SimContext } from '../../../sim/engine/context';
import { ClockDomain } from '../../../sim/engine/clock';
import { SimInvariantError } from '../../../sim/engine/errors';
import { connectPorts } from '../../../sim/bus/port';
import { Cmd, Status, type Transaction } from '../../../sim/bus/transaction';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import { DramController } from '../../../sim/mem/dram';
import { DramSpec, type DramParamsInput } from '../../../sim/mem/dramSpec';
import { firstProblem } from '../../helpers/spec';
import { TrafficMaster, reads, type TrafficRequest } from '../../helpers/trafficMaster';

const BASE = 0x8000_0000;
const MiB = 2 ** 20;

// In ticks (ps): tRCD = tCL = tRP = 13750, tRAS = 42500, tBURST = 5000, frontend = 2500.
const HIT = 2500 + 13750 + 5000; // 21250
const MISS = 2500 + 13750 + 13750 + 5000; // 35000
const CONFLICT = 2500 + 13750 + 13750 + 13750 + 5000; // 48750

function params(over: Partial<DramParamsInput> = {}): DramParamsInput {
  return {
    channels: 1,
    banks: 4,
    rowBytes: 2048,
    burstBytes: 64,
    timing: { tRCD: 13.75, tCL: 13.75, tRP: 13.75, tRAS: 42.5, tBURST: 5 },
    mapping: 'row:bank:channel:column',
    queueDepth: 8,
    frontendLatencyNs: 2.5,
    ...over,
  };
}

interface Rig {
  ctx: SimContext;
  mem: PhysicalMemory;
  dram: DramController;
}

function setup(p: DramParamsInput, size = 16 * MiB, seed = 3): Rig {
  const ctx = createSimContext(seed);
  const mem = new PhysicalMemory();
  const dram = new DramController(ctx, 'soc.dram', new ClockDomain('dram_clk', 1.6e9), { base: BASE, size }, mem, p);
  return { ctx, mem, dram };
}

function drive(rig: Rig, reqs: TrafficRequest[], outstanding = 1, gap = 0): TrafficMaster {
  const m = new TrafficMaster(rig.ctx, 'tm', 1, reqs, outstanding, gap);
  connectPorts(m.port, rig.dram.port);
  m.start(0);
  rig.ctx.engine.runUntilIdle();
  expect(m.done).toBe(true);
  expect(m.completed).toHaveLength(reqs.length);
  return m;
}

const stat = (rig: Rig, name: string): number => rig.ctx.stats.value(`soc.dram.${name}`);

function seqReads(start: number, count: number, size = 64): TrafficRequest[] {
  return reads(Array.from({ length: count }, (_, i) => start + i * size), size);
}

describe('DramController: idle latencies', () => {
  test('row hit, miss and conflict each take exactly the latency the timing implies', () => {
    const rig = setup(params());
    // Bank = bits 11-12 of the offset, row = bits 13+. Requests are 1 us apart, so each
    // finds the system idle.
    const m = drive(rig, [
      { cmd: Cmd.Read, addr: BASE, size: 64 }, // bank 0 closed: miss
      { cmd: Cmd.Read, addr: BASE + 64, size: 64 }, // bank 0 row 0 open: hit
      { cmd: Cmd.Write, addr: BASE + 1024, size: 64 }, // hit (writes share timing)
      { cmd: Cmd.Read, addr: BASE + 128, size: 128 }, // two hit bursts
      { cmd: Cmd.Read, addr: BASE + 8192, size: 64 }, // bank 0 row 1: conflict
      { cmd: Cmd.Read, addr: BASE + 2048, size: 64 }, // bank 1: miss
      { cmd: Cmd.Read, addr: BASE + 64, size: 64 }, // bank 0 back to row 0: conflict
      { cmd: Cmd.Read, addr: BASE + 8192 + 100, size: 8 }, // conflict again, sub-burst size
    ], 1, 1_000_000);
    expect(m.completed.map((c) => c.doneTick - c.issueTick)).toEqual([
      MISS, HIT, HIT, HIT + 5000, CONFLICT, MISS, CONFLICT, CONFLICT,
    ]);
    expect([MISS, HIT, CONFLICT]).toEqual([35000, 21250, 48750]);
    expect(m.completed.every((c) => c.status === Status.Ok)).toBe(true);
    expect(stat(rig, 'row_hits')).toBe(4);
    expect(stat(rig, 'row_misses')).toBe(2);
    expect(stat(rig, 'row_conflicts')).toBe(3);
    expect(stat(rig, 'reads')).toBe(7);
    expect(stat(rig, 'writes')).toBe(1);
    expect(stat(rig, 'bytes_read')).toBe(64 * 5 + 128 + 8);
    expect(stat(rig, 'bytes_written')).toBe(64);
    const d = rig.ctx.stats.dump();
    expect(d['soc.dram.latency_ns.min']).toBe(21.25);
    expect(d['soc.dram.latency_ns.max']).toBe(48.75);
    expect(d['soc.dram.latency_ns.samples']).toBe(8);
  });

  test('a conflict right after an activate waits for tRAS', () => {
    const rig = setup(params());
    // Back to back (no gap). Miss: ACT at 2500, response at 35000. The conflict arrives
    // at the scheduler at 37500 but may precharge only at 2500 + tRAS = 45000.
    const m = drive(rig, [
      { cmd: Cmd.Read, addr: BASE, size: 64 },
      { cmd: Cmd.Read, addr: BASE + 8192, size: 64 },
    ]);
    expect(m.completed[0].doneTick).toBe(35000);
    expect(m.completed[1].doneTick - m.completed[1].issueTick).toBe(CONFLICT + (45000 - 37500));
    expect(m.completed[1].doneTick).toBe(45000 + 13750 + 13750 + 13750 + 5000);
  });

  test('a conflict queued behind hits to the same bank precharges only after their column commands', () => {
    const rig = setup(params({ queueDepth: 32 }));
    // All 17 issued at tick 0, arriving at the scheduler at 2500. Miss: ACT 2500, column
    // 16250; hits k = 1..15: column 16250 + 5000k, the last at 91250 (next column slot
    // 96250). The conflict may precharge only at 96250 (tRAS alone would allow 45000):
    // ACT 110000, column 123750, data ends 123750 + 13750 + 5000.
    const reqs = seqReads(BASE, 16).concat(reads([BASE + 8192], 64));
    const m = drive(rig, reqs, 17);
    const done = m.completed.map((c) => c.doneTick);
    expect(done.slice(0, 16)).toEqual(Array.from({ length: 16 }, (_, k) => 35000 + 5000 * k));
    expect(done[16]).toBe(142500);
  });

  test('responses leave a channel in arrival order even when a channel-crossing request finishes late', () => {
    const rig = setup(params({ channels: 2 }));
    // ch1 (bit 11) gets 4 reads first: data ends 35000, 40000, 45000, 50000. Then A spans
    // ch0 (miss, ends 35000) and ch1 (hit behind the others, ends 55000). B on ch0 alone
    // could finish at 40000 but must not overtake A, its home channel's earlier request.
    const reqs = reads([1, 2, 3, 4].map((k) => BASE + 2048 + 64 * k), 64);
    reqs.push({ cmd: Cmd.Read, addr: BASE + 2048 - 32, size: 64 }); // A
    reqs.push({ cmd: Cmd.Read, addr: BASE, size: 64 }); // B
    const m = drive(rig, reqs, 8);
    expect(m.completed.map((c) => [c.addr - BASE, c.doneTick])).toEqual([
      [2048 + 64, 35000], [2048 + 128, 40000], [2048 + 192, 45000], [2048 + 256, 50000],
      [2048 - 32, 55000], [0, 55000],
    ]);
    expect(m.completed.every((c) => c.status === Status.Ok)).toBe(true);
  });

  test('fractional-ns timing rounds each parameter to whole picoseconds; no frontend by default', () => {
    const p: DramParamsInput = params({ timing: { tRCD: 14.16, tCL: 14.1666, tRP: 14.16, tRAS: 32, tBURST: 2.5 } });
    delete p.frontendLatencyNs;
    const rig = setup(p);
    const m = drive(rig, [
      { cmd: Cmd.Read, addr: BASE, size: 64 },
      { cmd: Cmd.Read, addr: BASE + 64, size: 64 },
    ], 1, 1_000_000);
    expect(m.completed.map((c) => c.doneTick - c.issueTick)).toEqual([14160 + 14167 + 2500, 14167 + 2500]);
  });

  test('an unaligned request crossing into another channel uses both channels in parallel', () => {
    const rig = setup(params({ channels: 2 }));
    // Channel bit is bit 11: the request covers the last burst of ch0's row and the first of ch1's.
    const m = drive(rig, [{ cmd: Cmd.Read, addr: BASE + 2048 - 32, size: 64 }]);
    expect(m.completed[0].doneTick - m.completed[0].issueTick).toBe(MISS);
    expect(stat(rig, 'row_misses')).toBe(2);
    expect(stat(rig, 'ch0.bytes')).toBe(32);
    expect(stat(rig, 'ch1.bytes')).toBe(32);
  });
});

describe('DramController: streams', () => {
  test('sequential 64-byte reads hit the row buffer (perRow - 1)/perRow of the time, exactly', () => {
    const rig = setup(params());
    const perRow = 2048 / 64;
    const rows = 64;
    drive(rig, seqReads(BASE, perRow * rows), 4);
    expect(stat(rig, 'row_hits')).toBe((perRow - 1) * rows);
    expect(stat(rig, 'row_misses')).toBe(4); // first touch of each of the 4 banks
    expect(stat(rig, 'row_conflicts')).toBe(rows - 4);
    expect(stat(rig, 'row_hit_rate')).toBe((perRow - 1) / perRow);
  });

  test('a uniform random stream conflicts and has a much lower hit rate', () => {
    const seq = setup(params());
    drive(seq, seqReads(BASE, 2048), 4);
    const rig = setup(params(), 16 * MiB, 99);
    const n = 2048;
    const addrs = Array.from({ length: n }, () => BASE + rig.ctx.rng.nextInt((16 * MiB) / 64) * 64);
    const m = drive(rig, reads(addrs, 64), 4);
    expect(m.completed.every((c) => c.status === Status.Ok)).toBe(true);
    expect(stat(rig, 'row_conflicts')).toBeGreaterThan(n * 0.9);
    expect(stat(rig, 'row_hits') + stat(rig, 'row_misses') + stat(rig, 'row_conflicts')).toBe(n);
    expect(stat(rig, 'row_hit_rate')).toBeLessThan(0.05);
    expect(stat(rig, 'row_hit_rate')).toBeLessThan(stat(seq, 'row_hit_rate'));
    // Conflicts cost more: the random stream's mean latency is higher.
    const mean = (r: Rig): number => r.ctx.stats.dump()['soc.dram.latency_ns.mean'] as number;
    expect(mean(rig)).toBeGreaterThan(mean(seq));
  });

  test('sequential bandwidth approaches but never exceeds burstBytes/tBURST per channel (1 channel)', () => {
    const rig = setup(params({ queueDepth: 16 }));
    const n = 4096;
    const m = drive(rig, seqReads(BASE, n), 32);
    const peak = 64 / 5; // GB/s = bytes per ns
    const bw = stat(rig, 'bandwidth_GBps');
    expect(bw).toBeCloseTo((n * 64 * 1000) / rig.ctx.engine.now, 10);
    expect(bw).toBeLessThanOrEqual(peak);
    expect(bw).toBeGreaterThan(0.8 * peak);
    // Data bursts are serialised: completions at least tBURST apart.
    const done = m.completed.map((c) => c.doneTick);
    for (let i = 1; i < n; i++) expect(done[i] - done[i - 1]).toBeGreaterThanOrEqual(5000);
  });

  test('sequential bandwidth with fine channel interleaving uses both channels', () => {
    const rig = setup(params({ channels: 2, banks: 8, mapping: 'row:bank:column:channel', queueDepth: 16 }));
    const n = 4096;
    drive(rig, seqReads(BASE, n), 32);
    const elapsedNs = rig.ctx.engine.now / 1000;
    const peak = 64 / 5;
    for (const ch of [0, 1]) {
      const b = stat(rig, `ch${ch}.bytes`);
      expect(b).toBe((n * 64) / 2);
      expect(b / elapsedNs).toBeLessThanOrEqual(peak);
    }
    const bw = stat(rig, 'bandwidth_GBps');
    expect(bw).toBeLessThanOrEqual(2 * peak);
    expect(bw).toBeGreaterThan(0.8 * 2 * peak);
  });

  test('channel interleaving spreads a stream over channels per the mapping', () => {
    // Channel in the low bits: every channel gets every 4th burst.
    const fine = setup(params({ channels: 4, banks: 8, rowBytes: 1024, mapping: 'row:bank:column:channel' }));
    drive(fine, seqReads(BASE, 256), 8);
    for (const ch of [0, 1, 2, 3]) expect(stat(fine, `ch${ch}.bytes`)).toBe(4096);
    // Channel above bank: a channel owns 8 KiB (8 banks × 1 KiB rows) before the next.
    const coarse = setup(params({ channels: 4, banks: 8, rowBytes: 1024, mapping: 'row:channel:bank:column' }));
    drive(coarse, seqReads(BASE, 256), 8);
    expect([0, 1, 2, 3].map((ch) => stat(coarse, `ch${ch}.bytes`))).toEqual([8192, 8192, 0, 0]);
    // Fine: each channel's 1 KiB row gets its 16 bursts in a row; 4 banks × 4 channels opened once.
    expect(stat(fine, 'row_misses')).toBe(16);
    expect(stat(fine, 'row_hits')).toBe(240);
    expect(stat(fine, 'row_conflicts')).toBe(0);
  });

  test('decode() splits addresses per the mapping', () => {
    const fine = setup(params({ channels: 4, banks: 8, rowBytes: 1024, mapping: 'row:bank:column:channel' })).dram;
    // burst bits 0-5, channel 6-7, column (burst index) 8-11, bank 12-14, row 15+.
    expect(fine.decode(BASE)).toEqual({ channel: 0, bank: 0, row: 0, column: 0 });
    expect(fine.decode(BASE + 0x40)).toEqual({ channel: 1, bank: 0, row: 0, column: 0 });
    expect(fine.decode(BASE + 0x100)).toEqual({ channel: 0, bank: 0, row: 0, column: 64 });
    expect(fine.decode(BASE + 0x8000 + 0x3000 + 0x500 + 0x80 + 7)).toEqual({ channel: 2, bank: 3, row: 1, column: 5 * 64 + 7 });
    expect(fine.decode(BASE + 16 * MiB - 1)).toEqual({ channel: 3, bank: 7, row: 511, column: 1023 });

    const coarse = setup(params({ channels: 4, banks: 8, rowBytes: 1024, mapping: 'row:channel:bank:column' })).dram;
    // column (byte in row) 0-9, bank 10-12, channel 13-14, row 15+.
    expect(coarse.decode(BASE + 0x8000 * 3 + 0x2000 * 2 + 0x400 * 5 + 1000)).toEqual({ channel: 2, bank: 5, row: 3, column: 1000 });

    // Row not most significant: it gets just enough bits for the 1 MiB region (7 bits).
    const rowMid = setup(params({ channels: 2, banks: 4, rowBytes: 1024, mapping: 'bank:row:channel:column' }), MiB).dram;
    // column 0-9, channel 10, row 11-17, bank 18-19.
    expect(rowMid.decode(BASE + 3 * 2 ** 18 + 5 * 2 ** 11 + 2 ** 10 + 100)).toEqual({ channel: 1, bank: 3, row: 5, column: 100 });
    expect(rowMid.decode(BASE + MiB - 1)).toEqual({ channel: 1, bank: 3, row: 127, column: 1023 });

    // Large addresses: no 32-bit truncation (region at 2^40, offsets past 2^32).
    const ctx = createSimContext(1);
    const hi = new DramController(ctx, 'soc.dram_hi', new ClockDomain('c', 1e9), { base: 2 ** 40, size: 2 ** 36 }, new PhysicalMemory(), params({ channels: 2 }));
    // column 0-10, channel 11, bank 12-13, row 14+.
    expect(hi.decode(2 ** 40 + 2 ** 35 + 2 ** 12 + 2 ** 11 + 5)).toEqual({ channel: 1, bank: 1, row: 2 ** 21, column: 5 });
    expect(() => hi.decode(0)).toThrow(SimInvariantError);
  });
});

describe('DramController: data, errors, back-pressure', () => {
  test('data written is read back identically, including unaligned and row/channel-crossing requests', () => {
    const rig = setup(params({ channels: 2 }));
    const shapes: [number, number][] = [
      [BASE, 64], [BASE + 64, 256], [BASE + 2048 - 32, 64], [BASE + 5000, 3], [BASE + 16 * MiB - 100, 100],
      [BASE + 12345, 1000], [BASE + 8192 + 7, 129],
    ];
    const payloads = shapes.map(([, size]) => {
      const d = new Uint8Array(size);
      rig.ctx.rng.fillBytes(d);
      return d;
    });
    const reqs: TrafficRequest[] = shapes.map(([addr, size], i) => ({ cmd: Cmd.Write, addr, size, data: payloads[i] }));
    for (const [addr, size] of shapes) reqs.push({ cmd: Cmd.Read, addr, size });
    reqs.push({ cmd: Cmd.Read, addr: BASE + 4 * MiB, size: 64 }); // never written
    const m = drive(rig, reqs, 4);
    expect(m.completed.every((c) => c.status === Status.Ok)).toBe(true);
    // Responses from different channels may return out of issue order: match by address.
    const readOf = (addr: number) => m.completed.find((c) => c.cmd === Cmd.Read && c.addr === addr)!;
    for (let i = 0; i < shapes.length; i++) {
      expect([i, Buffer.from(readOf(shapes[i][0]).data).equals(Buffer.from(payloads[i]))]).toEqual([i, true]);
    }
    expect(Array.from(readOf(BASE + 4 * MiB).data)).toEqual(new Array(64).fill(0));
    // And the bytes really are in PhysicalMemory.
    const back = new Uint8Array(1000);
    rig.mem.read(BASE + 12345, back);
    expect(Buffer.from(back).equals(Buffer.from(payloads[5]))).toBe(true);
  });

  test('a read issued behind a write to the same address sees the written data', () => {
    const rig = setup(params());
    const data = new Uint8Array(64).fill(0x5a);
    const m = drive(rig, [
      { cmd: Cmd.Write, addr: BASE + 8192, size: 64, data },
      { cmd: Cmd.Read, addr: BASE + 8192, size: 64 },
    ], 2);
    expect(Array.from(m.completed[1].data)).toEqual(Array.from(data));
    expect(m.completed[0].doneTick).toBeLessThan(m.completed[1].doneTick);
  });

  test('out-of-region requests get DecodeError after the frontend latency, memory untouched', () => {
    const rig = setup(params(), MiB);
    const m = drive(rig, [
      { cmd: Cmd.Write, addr: BASE + MiB - 32, size: 64, data: new Uint8Array(64).fill(1) }, // straddles the end
      { cmd: Cmd.Write, addr: 0x1000, size: 4, data: new Uint8Array(4).fill(1) },
      { cmd: Cmd.Read, addr: BASE + MiB, size: 1 },
      { cmd: Cmd.Read, addr: BASE - 1, size: 2 },
    ], 4);
    expect(m.completed.map((c) => c.status)).toEqual(new Array(4).fill(Status.DecodeError));
    expect(m.completed.map((c) => c.doneTick - c.issueTick)).toEqual([2500, 2500, 2500, 2500]);
    expect(rig.mem.framesAllocated).toBe(0);
    expect(stat(rig, 'decode_errors')).toBe(4);
    expect(stat(rig, 'writes') + stat(rig, 'reads')).toBe(0);
    expect(stat(rig, 'row_misses')).toBe(0);
    expect(rig.ctx.stats.dump()['soc.dram.latency_ns.samples']).toBe(0);
  });

  test('back-pressure: queueDepth 2 with 8 outstanding refuses, retries, and completes everything', () => {
    const rig = setup(params({ queueDepth: 2 }));
    const tm = new TrafficMaster(rig.ctx, 'tm', 1, seqReads(BASE, 40, 64).concat(seqReads(BASE + 8192, 24, 128)), 8);
    // Track how many requests the controller holds (accepted, not yet responded).
    let held = 0, maxHeld = 0;
    const recvRequest = rig.dram.recvRequest.bind(rig.dram);
    rig.dram.recvRequest = (t: Transaction, p) => {
      const ok = recvRequest(t, p);
      if (ok) maxHeld = Math.max(maxHeld, ++held);
      return ok;
    };
    const recvResponse = tm.recvResponse.bind(tm);
    tm.recvResponse = (t: Transaction) => {
      held--;
      recvResponse(t);
    };
    connectPorts(tm.port, rig.dram.port);
    tm.start(0);
    rig.ctx.engine.runUntilIdle();
    expect(tm.done).toBe(true);
    expect(tm.completed).toHaveLength(64);
    expect(tm.completed.every((c) => c.status === Status.Ok)).toBe(true);
    expect(tm.refusals).toBeGreaterThan(0);
    expect(stat(rig, 'refused')).toBe(tm.refusals);
    expect(maxHeld).toBe(2);
    expect(held).toBe(0);
    expect(stat(rig, 'bytes_read')).toBe(40 * 64 + 24 * 128);
  });

  test('back-pressure is per channel: a full channel does not block the other', () => {
    const rig = setup(params({ channels: 2, queueDepth: 1 }));
    // Alternate channels (channel bit 11). Depth 1 per channel still lets two run in parallel.
    const addrs = Array.from({ length: 8 }, (_, i) => BASE + (i % 2) * 2048 + Math.floor(i / 2) * 64);
    const m = drive(rig, reads(addrs, 64), 2);
    // Pairs complete together: both channels miss then hit in parallel.
    const done = m.completed.map((c) => c.doneTick);
    expect(done[0]).toBe(MISS);
    expect(done[1]).toBe(MISS);
    expect(stat(rig, 'refused')).toBe(0);
  });
});

describe('DramSpec', () => {
  const check = (p: unknown) => firstProblem(DramSpec, p);

  test('accepts good parameters and fills defaults', () => {
    expect(check(params())).toBeNull();
    expect(check(params({ mapping: 'row:column:bank:channel', channels: 8, banks: 16 }))).toBeNull();
    expect(check(params({ burstBytes: 2048 }))).toBeNull();
    const { mapping: _m, queueDepth: _q, frontendLatencyNs: _f, ...bare } = params();
    expect(DramSpec.parse({ ...bare, rowBytes: '2KiB' })).toMatchObject({ rowBytes: 2048, mapping: 'row:bank:channel:column', queueDepth: 32, frontendLatencyNs: 0 });
  });

  test('rejects non-power-of-two fields, naming them', () => {
    expect(check(params({ banks: 6 }))).toBe('banks: must be a power of two, got 6');
    expect(check(params({ channels: 3 }))).toBe('channels: must be a power of two, got 3');
    expect(check(params({ channels: 0 }))).toBe('channels: must be a power of two, got 0');
    expect(check(params({ rowBytes: 1000 }))).toBe('rowBytes: must be a power of two, got 1000');
    expect(check(params({ burstBytes: 48 }))).toBe('burstBytes: must be a power of two, got 48');
    expect(check(params({ burstBytes: 4096 }))).toBe('burstBytes: must be at most rowBytes (2048), got 4096');
    expect(check(params({ channels: 2 ** 10, banks: 2 ** 11 }))).toBe('banks: channels × banks must be at most 2^20, got 2097152');
    expect(check(params({ banks: 2 ** 21 }))).toBe('banks: must be at most 2^20, got 2097152');
  });

  test('rejects bad mapping strings', () => {
    expect(check(params({ mapping: 'row:bank:column' }))).toMatch(/^mapping: field channel must appear exactly once/);
    expect(check(params({ mapping: 'row:bank:bank:channel:column' }))).toMatch(/^mapping: field bank must appear exactly once.*found 2/);
    expect(check(params({ mapping: 'row:bank:chan:column' }))).toMatch(/^mapping: unknown field "chan"/);
    expect(check(params({ mapping: '' }))).toMatch(/^mapping: unknown field ""/);
    expect(check(params({ mapping: 'row-bank-channel-column' }))).toMatch(/^mapping:/);
    expect(check(params({ mapping: 42 as never }))).toMatch(/^mapping:/);
  });

  test('rejects bad timing, queue depth and frontend latency', () => {
    const t = params().timing;
    expect(check(params({ timing: { ...t, tCL: -1 } }))).toBe('timing.tCL: must be a positive number of ns, at most 1000000, got -1');
    expect(check(params({ timing: { ...t, tRAS: NaN } }))).toMatch(/^timing\.tRAS: .*got NaN/);
    expect(check(params({ timing: { ...t, tRCD: Infinity } }))).toMatch(/^timing\.tRCD:/);
    expect(check(params({ timing: { ...t, tBURST: 0 } }))).toMatch(/^timing\.tBURST:/);
    expect(check(params({ timing: { ...t, tBURST: 0.0001 } }))).toBe('timing.tBURST: must be at least 0.001 ns, got 0.0001');
    expect(check(params({ timing: { ...t, tXYZ: 5 } as never }))).toMatch(/^timing: /);
    expect(check(params({ queueDepth: 0 }))).toBe('queueDepth: must be an integer from 1 to 2^20, got 0');
    expect(check(params({ queueDepth: 1.5 }))).toMatch(/^queueDepth:/);
    expect(check(params({ queueDepth: 2 ** 21 }))).toMatch(/^queueDepth:/);
    expect(check(params({ frontendLatencyNs: -2 }))).toMatch(/^frontendLatencyNs:/);
  });

  test('the constructor takes the spec\'s input and refuses what the spec refuses', () => {
    expect(() => setup(params({ banks: 6 }))).toThrow(/soc\.dram: banks: must be a power of two, got 6/);
    const rig = setup({ ...params(), rowBytes: '2KiB', queueDepth: undefined });
    expect(rig.dram.params.rowBytes).toBe(2048);
    expect(rig.dram.params.queueDepth).toBe(32);
  });
});
