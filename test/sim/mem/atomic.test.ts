import { createSimContext, type SimContext } from '../../../sim/engine/context';
import { ClockDomain } from '../../../sim/engine/clock';
import type { StatsDump } from '../../../sim/engine/stats';
import { connectPorts } from '../../../sim/bus/port';
import { Cmd, Status } from '../../../sim/bus/transaction';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import { DramController } from '../../../sim/mem/dram';
import type { DramParamsInput } from '../../../sim/mem/dramSpec';
import { SimpleMemory, type SramParams } from '../../../sim/mem/sram';
import { TrafficMaster, type TrafficRequest } from '../../helpers/trafficMaster';

const BASE = 0x8000_0000;
const MiB = 2 ** 20;

// As in dram.test.ts, in ticks: tRCD = tCL = tRP = 13750, tRAS = 42500, tBURST = 5000, frontend = 2500.
const HIT = 2500 + 13750 + 5000;
const MISS = 2500 + 13750 + 13750 + 5000;
const CONFLICT = 2500 + 13750 + 13750 + 13750 + 5000;

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
  m: TrafficMaster;
}

/** A DRAM controller with a master attached that will send `reqs` (timing) when started. */
function rig(p: DramParamsInput, reqs: TrafficRequest[] = [], gap = 1_000_000): Rig {
  const ctx = createSimContext(3);
  const mem = new PhysicalMemory();
  const dram = new DramController(ctx, 'soc.dram', new ClockDomain('dram_clk', 1.6e9), { base: BASE, size: 16 * MiB }, mem, p);
  const m = new TrafficMaster(ctx, 'tm', 1, reqs, 1, gap);
  connectPorts(m.port, dram.port);
  return { ctx, mem, dram, m };
}

/** Idle timing latencies: requests 1 us apart. */
function timing(p: DramParamsInput, reqs: TrafficRequest[]): { lat: number[]; stats: StatsDump } {
  const r = rig(p, reqs);
  r.m.start(0);
  r.ctx.engine.runUntilIdle();
  expect(r.m.done).toBe(true);
  return { lat: r.m.completed.map((c) => c.doneTick - c.issueTick), stats: r.ctx.stats.dump() };
}

function atomic(p: DramParamsInput, reqs: TrafficRequest[]): { lat: number[]; stats: StatsDump; r: Rig } {
  const r = rig(p);
  const lat = reqs.map((q) => {
    const res = r.m.atomic(q);
    expect(res.status).toBe(Status.Ok);
    return res.latency;
  });
  expect(r.ctx.engine.pending).toBe(0);
  return { lat, stats: r.ctx.stats.dump(), r };
}

const DRAM_STATS = ['reads', 'writes', 'bytes_read', 'bytes_written', 'row_hits', 'row_misses', 'row_conflicts', 'decode_errors', 'refused'];

function expectAllZero(dump: StatsDump): void {
  const nonZero = Object.entries(dump).filter(([, v]) =>
    Array.isArray(v) ? v.some((x) => x !== 0) : v !== null && v !== 0);
  expect(nonZero).toEqual([]);
}

describe('DramController atomic access', () => {
  test('classifies hit / miss / conflict like timing mode and returns the idle latencies', () => {
    const reqs: TrafficRequest[] = [
      { cmd: Cmd.Read, addr: BASE, size: 64 }, // miss
      { cmd: Cmd.Read, addr: BASE + 64, size: 64 }, // hit
      { cmd: Cmd.Write, addr: BASE + 1024, size: 64 }, // hit
      { cmd: Cmd.Read, addr: BASE + 128, size: 128 }, // two hit bursts
      { cmd: Cmd.Read, addr: BASE + 8192, size: 64 }, // conflict
      { cmd: Cmd.Read, addr: BASE + 2048, size: 64 }, // bank 1 miss
      { cmd: Cmd.Read, addr: BASE + 64, size: 64 }, // conflict
      { cmd: Cmd.Read, addr: BASE + 8192 + 100, size: 8 }, // conflict
    ];
    const a = atomic(params(), reqs);
    expect(a.lat).toEqual([MISS, HIT, HIT, HIT + 5000, CONFLICT, MISS, CONFLICT, CONFLICT]);
    const t = timing(params(), reqs);
    expect(a.lat).toEqual(t.lat);
    for (const k of DRAM_STATS) expect({ k, v: a.stats[`soc.dram.${k}`] }).toEqual({ k, v: t.stats[`soc.dram.${k}`] });
    expect([a.stats['soc.dram.row_hits'], a.stats['soc.dram.row_misses'], a.stats['soc.dram.row_conflicts']]).toEqual([4, 2, 3]);
    for (const k of ['bucket_lo', 'bucket_counts']) expect(a.stats[`soc.dram.latency_ns.${k}`]).toEqual(t.stats[`soc.dram.latency_ns.${k}`]);
    expect(a.stats['soc.dram.ch0.bytes']).toBe(t.stats['soc.dram.ch0.bytes']);
    expect(a.stats['soc.dram.row_hit_rate']).toBe(4 / 9);
  });

  test('random mixes on several geometries: every atomic latency and counter equals idle timing', () => {
    const geometries: DramParamsInput[] = [
      params(),
      params({ channels: 2 }),
      params({ channels: 2, banks: 8, mapping: 'row:column:bank:channel' }), // bursts spread over banks and channels
      params({ channels: 4, banks: 2, rowBytes: 1024, mapping: 'bank:row:channel:column' }),
      params({ timing: { tRCD: 14.16, tCL: 14.1666, tRP: 14.16, tRAS: 32, tBURST: 2.5 }, frontendLatencyNs: 0 }),
    ];
    geometries.forEach((p, gi) => {
      const ctx = createSimContext(100 + gi);
      const reqs: TrafficRequest[] = [];
      for (let i = 0; i < 300; i++) {
        const hot = ctx.rng.nextInt(4) !== 0; // mostly a small window, for hits
        const addr = BASE + (hot ? ctx.rng.nextInt(64 * 1024) : ctx.rng.nextInt(16 * MiB - 4096));
        const size = [0, 1, 8, 64, 64, 100, 256, 1000, 4096][ctx.rng.nextInt(9)];
        reqs.push({ cmd: ctx.rng.nextInt(2) ? Cmd.Read : Cmd.Write, addr, size });
      }
      // One request long enough to re-open a bank it activated itself (tRAS inside one request).
      reqs.push({ cmd: Cmd.Read, addr: BASE + 0x10_0000, size: 16384 });
      const a = atomic(p, reqs);
      const t = timing(p, reqs);
      expect({ gi, lat: a.lat }).toEqual({ gi, lat: t.lat });
      for (const k of DRAM_STATS) expect({ gi, k, v: a.stats[`soc.dram.${k}`] }).toEqual({ gi, k, v: t.stats[`soc.dram.${k}`] });
      for (let ch = 0; ch < p.channels; ch++) expect(a.stats[`soc.dram.ch${ch}.bytes`]).toBe(t.stats[`soc.dram.ch${ch}.bytes`]);
      expect((a.stats['soc.dram.row_conflicts'] as number) > 0 && (a.stats['soc.dram.row_hits'] as number) > 0).toBe(true);
    });
  });

  test('atomic accesses warm the rows a later timing access sees, and leave no phantom contention', () => {
    const r = rig(params(), [
      { cmd: Cmd.Read, addr: BASE + 256, size: 64 }, // bank 0 row 0: opened atomically → hit
      { cmd: Cmd.Read, addr: BASE + 2048 + 8192, size: 64 }, // bank 1 has row 0 open → conflict
    ], 0);
    // Many atomic accesses at tick 0: bank 0 row 0 and bank 1 row 0 end up open.
    for (let i = 0; i < 64; i++) r.m.atomic({ cmd: Cmd.Write, addr: BASE + 64 * i, size: 64 });
    r.m.atomic({ cmd: Cmd.Read, addr: BASE + 2048, size: 64 });
    expect(r.ctx.stats.value('soc.dram.row_hits')).toBe(31 + 31 + 1);
    expect(r.ctx.stats.value('soc.dram.row_misses')).toBe(2);
    r.m.start(0);
    r.ctx.engine.runUntilIdle();
    // Served at once, as on an idle controller: the atomic work reserved no bank or bus time.
    expect(r.m.completed[0].doneTick).toBe(HIT);
    expect(r.m.completed[1].doneTick - r.m.completed[1].issueTick).toBe(CONFLICT);
  });

  test('decode errors: DecodeError after the frontend latency, counted, memory untouched', () => {
    const r = rig(params());
    const cases: TrafficRequest[] = [
      { cmd: Cmd.Write, addr: BASE + 16 * MiB - 32, size: 64, data: new Uint8Array(64).fill(1) },
      { cmd: Cmd.Read, addr: BASE - 1, size: 2 },
      { cmd: Cmd.Write, addr: 0x1000, size: 4, data: new Uint8Array(4).fill(1) },
    ];
    for (const q of cases) {
      const res = r.m.atomic(q);
      expect(res.status).toBe(Status.DecodeError);
      expect(res.latency).toBe(2500);
    }
    expect(r.ctx.stats.value('soc.dram.decode_errors')).toBe(3);
    expect(r.ctx.stats.value('soc.dram.writes') + r.ctx.stats.value('soc.dram.reads')).toBe(0);
    expect(r.ctx.stats.value('soc.dram.row_misses')).toBe(0);
    expect(r.mem.framesAllocated).toBe(0);
  });
});

describe('DramController functional access', () => {
  test('moves data, counts nothing, changes no row state', () => {
    const r = rig(params({ channels: 2 }));
    const data = Uint8Array.from({ length: 5000 }, (_, i) => (i * 13) & 0xff);
    expect(r.m.functional({ cmd: Cmd.Write, addr: BASE + 12345, size: 5000, data }).status).toBe(Status.Ok);
    const back = r.m.functional({ cmd: Cmd.Read, addr: BASE + 12345, size: 5000 });
    expect(back.status).toBe(Status.Ok);
    expect(Buffer.from(back.data).equals(Buffer.from(data))).toBe(true);
    const inMem = new Uint8Array(5000);
    r.mem.read(BASE + 12345, inMem);
    expect(Buffer.from(inMem).equals(Buffer.from(data))).toBe(true);
    expect(r.m.functional({ cmd: Cmd.Read, addr: BASE + 16 * MiB - 4, size: 8 }).status).toBe(Status.DecodeError);
    expect(r.m.functional({ cmd: Cmd.Write, addr: 0, size: 8 }).status).toBe(Status.DecodeError);
    expect(r.ctx.engine.pending).toBe(0);
    expectAllZero(r.ctx.stats.dump());
  });

  test('a following timing access sees the same hit / miss / conflict as without the functional accesses', () => {
    const reqs: TrafficRequest[] = [
      { cmd: Cmd.Read, addr: BASE, size: 64 }, // miss: opens bank 0 row 0
      { cmd: Cmd.Read, addr: BASE + 64, size: 64 }, // hit
      { cmd: Cmd.Read, addr: BASE + 2048, size: 64 }, // bank 1: miss
    ];
    function runWith(functional: boolean): { lat: number[]; stats: StatsDump } {
      const r = rig(params(), reqs);
      if (functional) {
        // Between the requests, touch other rows of the same banks, and bank 1 before its first use.
        r.ctx.engine.schedule(500_000, () => {
          r.m.functional({ cmd: Cmd.Write, addr: BASE + 8192, size: 64 }); // bank 0 row 1
          r.m.functional({ cmd: Cmd.Read, addr: BASE + 2048 + 8192, size: 64 }); // bank 1 row 1
        });
        r.ctx.engine.schedule(1_500_000, () => r.m.functional({ cmd: Cmd.Read, addr: BASE + 2 * 8192, size: 2048 }));
      }
      r.m.start(0);
      r.ctx.engine.runUntilIdle();
      return { lat: r.m.completed.map((c) => c.doneTick - c.issueTick), stats: r.ctx.stats.dump() };
    }
    const plain = runWith(false);
    const withF = runWith(true);
    expect(plain.lat).toEqual([MISS, HIT, MISS]);
    expect(withF.lat).toEqual(plain.lat);
    expect(withF.stats).toEqual(plain.stats);
  });
});

describe('SimpleMemory atomic and functional access', () => {
  const SRAM = 0x1000_0000;
  function sram(p: SramParams, freqHz = 1e9) {
    const ctx = createSimContext(7);
    const clock = new ClockDomain('sram_clk', freqHz);
    const mem = new PhysicalMemory();
    const s = new SimpleMemory(ctx, 'soc.sram', clock, { base: SRAM, size: 0x4_0000 }, mem, p);
    const m = new TrafficMaster(ctx, 'tm', 1, []);
    connectPorts(m.port, s.port);
    return { ctx, clock, mem, s, m };
  }

  test('atomic latency is latencyCycles + ceil(size / bytesPerCycle) cycles, counted like timing', () => {
    const { ctx, m } = sram({ latencyCycles: 3, bytesPerCycle: 8, queueDepth: 1 });
    const sizes = [1, 8, 9, 20, 64];
    // queueDepth 1 would refuse in timing mode; atomic never refuses.
    const lat = sizes.map((size, i) => m.atomic({ cmd: Cmd.Read, addr: SRAM + i * 0x100, size }));
    expect(lat.map((r) => r.latency)).toEqual([4000, 4000, 5000, 6000, 11000]);
    expect(lat.every((r) => r.status === Status.Ok)).toBe(true);
    expect(ctx.stats.value('soc.sram.reads')).toBe(5);
    expect(ctx.stats.value('soc.sram.bytes_read')).toBe(1 + 8 + 9 + 20 + 64);
    expect(ctx.stats.value('soc.sram.refused')).toBe(0);
    const d = ctx.stats.dump();
    expect([d['soc.sram.latency_ns.min'], d['soc.sram.latency_ns.max']]).toEqual([4, 11]);
    expect(ctx.engine.pending).toBe(0);
  });

  test('equals the timing latency from an edge of a fractional-period clock; data round-trips', () => {
    const a = sram({ latencyCycles: 2, bytesPerCycle: 4, queueDepth: 2 }, 1.2e9);
    const data = Uint8Array.from({ length: 16 }, (_, i) => i + 1);
    const w = a.m.atomic({ cmd: Cmd.Write, addr: SRAM, size: 16, data });
    expect(w.latency).toBe(a.clock.cycleToTick(6));
    expect(a.m.atomic({ cmd: Cmd.Read, addr: SRAM, size: 16 }).data).toEqual(data);
    const t = sram({ latencyCycles: 2, bytesPerCycle: 4, queueDepth: 2 }, 1.2e9);
    const tm = new TrafficMaster(t.ctx, 'tm2', 1, [{ cmd: Cmd.Write, addr: SRAM, size: 16, data }]);
    const s2 = new SimpleMemory(t.ctx, 'soc.sram2', t.clock, { base: SRAM, size: 0x4_0000 }, t.mem, { latencyCycles: 2, bytesPerCycle: 4, queueDepth: 2 });
    connectPorts(tm.port, s2.port);
    tm.start(0);
    t.ctx.engine.runUntilIdle();
    expect(tm.completed[0].doneTick).toBe(w.latency);
  });

  test('decode errors: atomic after latencyCycles and counted; functional not counted', () => {
    const { ctx, mem, m } = sram({ latencyCycles: 3, bytesPerCycle: 8, queueDepth: 4 });
    const r = m.atomic({ cmd: Cmd.Write, addr: SRAM + 0x4_0000 - 4, size: 8, data: new Uint8Array(8).fill(9) });
    expect(r.status).toBe(Status.DecodeError);
    expect(r.latency).toBe(3000);
    expect(ctx.stats.value('soc.sram.decode_errors')).toBe(1);
    expect(ctx.stats.value('soc.sram.writes')).toBe(0);
    expect(m.functional({ cmd: Cmd.Write, addr: SRAM - 1, size: 2 }).status).toBe(Status.DecodeError);
    expect(ctx.stats.value('soc.sram.decode_errors')).toBe(1);
    expect(mem.framesAllocated).toBe(0);
  });

  test('functional moves data and counts nothing', () => {
    const { ctx, mem, m } = sram({ latencyCycles: 3, bytesPerCycle: 8, queueDepth: 4 });
    const data = Uint8Array.from({ length: 300 }, (_, i) => (i * 7) & 0xff);
    expect(m.functional({ cmd: Cmd.Write, addr: SRAM + 10, size: 300, data }).status).toBe(Status.Ok);
    expect(m.functional({ cmd: Cmd.Read, addr: SRAM + 10, size: 300 }).data).toEqual(data);
    expect(mem.read8(SRAM + 11)).toBe(7);
    expectAllZero(ctx.stats.dump());
  });
});
