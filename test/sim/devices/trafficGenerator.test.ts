import { connectPorts, ResponsePort, type RequestReceiver } from '../../../sim/bus/port';
import { Cmd, Status, type Transaction } from '../../../sim/bus/transaction';
import { ClockDomain } from '../../../sim/engine/clock';
import { createSimContext, type SimContext } from '../../../sim/engine/context';
import { SimInvariantError } from '../../../sim/engine/errors';
import { Rng } from '../../../sim/engine/rng';
import type { Tick } from '../../../sim/engine/time';
import { TrafficGenerator, type TrafficGeneratorParams, type TrafficProgram, type TrafficResult } from '../../../sim/devices/trafficGenerator';
import { createWorkload, newAccessSlot, type Workload, type WorkloadSpec } from '../../../sim/devices/workload';
import { FixedSlave } from '../../helpers/fixedSlave';
import type { AccessMode } from '../../../sim/engine/accessMode';

const NS = 1000;
const BASE = 0x8000_0000;
const PATH = 'soc.tg';

/** The write pattern, computed here independently: byte at address x. */
const patternByte = (x: number): number => ((x % 65521) * 167 + 13) & 0xff;

interface Rig {
  ctx: SimContext;
  gen: TrafficGenerator;
  slave: FixedSlave;
  result: TrafficResult | null;
}

/** Hardware and program in one object (the tests vary both). */
type Params = TrafficGeneratorParams & TrafficProgram;

/** A generator built with the hardware part of `p` and configured with its program part. */
function makeGen(ctx: SimContext, path: string, clock: ClockDomain, masterId: number, p: Params): TrafficGenerator {
  const { streams, ratePerUs, ...hw } = p;
  const gen = new TrafficGenerator(ctx, path, clock, masterId, hw);
  gen.configure({ streams, ...(ratePerUs !== undefined ? { ratePerUs } : {}) });
  return gen;
}

function rig(params: Params, latency: Tick, opts: { queueLimit?: number; seed?: number; clockHz?: number } = {}): Rig {
  const ctx = createSimContext(opts.seed ?? 1);
  const clock = new ClockDomain('sys', opts.clockHz ?? 1e9);
  const gen = makeGen(ctx, PATH, clock, 5, params);
  const slave = new FixedSlave(ctx, 'mem', { latency, queueLimit: opts.queueLimit ?? 0 });
  connectPorts(gen.port, slave.port);
  return { ctx, gen, slave, result: null };
}

function runToEnd(r: Rig): TrafficResult {
  r.gen.start((res) => { r.result = res; });
  r.ctx.engine.runUntilIdle();
  expect(r.result).not.toBeNull();
  return r.result!;
}

const stat = (r: Rig, name: string): number => r.ctx.stats.value(`${PATH}.${name}`);

const seq = (base: number, accesses: number, extra: Partial<WorkloadSpec> = {}): WorkloadSpec =>
  ({ kind: 'sequential', base, footprint: 1 << 20, accessBytes: 64, accesses, ...extra }) as WorkloadSpec;

describe('TrafficGenerator, timing mode', () => {
  test('keeps maxOutstanding in flight, issues round-robin, and finishes at ceil(n / max) round trips', () => {
    const r = rig({ streams: [seq(BASE, 100), seq(BASE + 0x10_0000, 100), seq(BASE + 0x20_0000, 100)], maxOutstanding: 8 }, 100 * NS);
    const res = runToEnd(r);
    expect(r.slave.maxPending).toBe(8);
    expect(r.gen.peakInFlight).toBe(8);
    expect(r.slave.accepted).toHaveLength(300);
    // Round-robin: access i comes from stream i mod 3, its (i div 3)-th block.
    const expected = Array.from({ length: 300 }, (_v, i) => BASE + (i % 3) * 0x10_0000 + Math.floor(i / 3) * 64);
    expect(r.slave.accepted.map((a) => a.addr)).toEqual(expected);
    expect(r.slave.accepted.every((a) => a.masterId === 5 && a.size === 64 && a.cmd === Cmd.Read)).toBe(true);
    // 8 at a time, each freed slot refilled at once: 38 rounds of 100 ns.
    expect(res.endTick).toBe(Math.ceil(300 / 8) * 100 * NS);
    expect(res).toMatchObject({ reads: 300, writes: 0, bytesRead: 300 * 64, bytesWritten: 0, errors: 0, stopped: false, startTick: 0 });
    expect(stat(r, 'reads')).toBe(300);
    expect(stat(r, 'bytes_read')).toBe(19200);
    expect(stat(r, 'issued')).toBe(300);
    const lat = r.ctx.stats.get(`${PATH}.latency_ns`) as { samples: number; mean(): number; max: number };
    expect(lat.samples).toBe(300);
    expect(lat.mean()).toBe(100);
    expect(lat.max).toBe(100);
    // Throughput: bytes / (end − start), in GB/s.
    expect(stat(r, 'throughput_GBps')).toBeCloseTo((19200 / (38 * 100)) /* B/ns = GB/s */, 10);
    // Every access beyond the first 8 waited for a slot: 292 stalls, each lasting until the next response.
    expect(stat(r, 'outstanding_stalls')).toBe(300 - 8);
    expect(stat(r, 'outstanding_stall_ns')).toBeGreaterThan(0);
    expect(r.gen.running).toBe(false);
    expect(r.gen.inFlight).toBe(0);
  });

  test('with back-pressure from the slave: order and bytes unchanged, the limit still counts waiting requests', () => {
    const streams = [seq(BASE, 64), seq(BASE + 0x10_0000, 64)];
    const r = rig({ streams, maxOutstanding: 16 }, 50 * NS, { queueLimit: 4 });
    const res = runToEnd(r);
    expect(r.slave.refusals).toBeGreaterThan(0);
    expect(r.slave.maxPending).toBe(4);
    expect(r.gen.peakInFlight).toBe(16);
    expect(r.slave.accepted.map((a) => a.addr)).toEqual(Array.from({ length: 128 }, (_v, i) => BASE + (i % 2) * 0x10_0000 + (i >> 1) * 64));
    expect(res.bytesRead).toBe(128 * 64);
    // The slave answers 4 per 50 ns: 32 rounds.
    expect(res.endTick).toBe(32 * 50 * NS);
  });

  test('counts reads, writes and bytes exactly for mixed workloads; writes carry the address pattern', () => {
    const specs: WorkloadSpec[] = [
      { kind: 'random', base: BASE, footprint: 64 * 1024, accessBytes: 64, readFraction: 0.6, accesses: 700 },
      { kind: 'zipf', base: BASE + 0x10_0000, footprint: 256 * 1024, accessBytes: 128, theta: 0.9, readFraction: 0.3, accesses: 500 },
      { kind: 'trace', records: [{ addr: BASE + 0x20_0000, size: 24, write: true }, { addr: BASE + 0x20_0100, size: 8, write: false }], accesses: 9 },
    ];
    // Streams given as Workload objects; twins from the same seeds give the expected totals.
    const make = (): Workload[] => specs.map((s, i) => createWorkload(s, new Rng(100 + i)));
    const r = rig({ streams: make(), maxOutstanding: 32 }, 80 * NS);
    const res = runToEnd(r);
    let reads = 0, writes = 0, bytesRead = 0, bytesWritten = 0;
    const lastWritten = new Map<number, number>();
    const slot = newAccessSlot();
    for (const w of make()) {
      while (w.next(slot)) {
        if (slot.write) { writes++; bytesWritten += slot.size; lastWritten.set(slot.addr, slot.size); }
        else { reads++; bytesRead += slot.size; }
      }
    }
    expect(reads + writes).toBe(1209);
    expect(res).toMatchObject({ reads, writes, bytesRead, bytesWritten, errors: 0 });
    expect([stat(r, 'reads'), stat(r, 'writes'), stat(r, 'bytes_read'), stat(r, 'bytes_written')]).toEqual([reads, writes, bytesRead, bytesWritten]);
    const slaveBytes = (cmd: Cmd) => r.slave.accepted.filter((a) => a.cmd === cmd).reduce((s, a) => s + a.size, 0);
    expect(slaveBytes(Cmd.Read)).toBe(bytesRead);
    expect(slaveBytes(Cmd.Write)).toBe(bytesWritten);
    let badBytes = 0;
    for (const [addr, size] of lastWritten) {
      const got = new Uint8Array(size);
      r.slave.mem.read(addr, got);
      for (let j = 0; j < size; j++) if (got[j] !== patternByte(addr + j)) badBytes++;
    }
    expect(lastWritten.size).toBeGreaterThan(100);
    expect(badBytes).toBe(0);
  });

  test('ratePerUs paces each stream: issue ticks on clock edges at k × 1e6/rate ps, measured rate within 0.5%', () => {
    for (const clockHz of [1e9, 800e6]) {
      const period = 1e12 / clockHz;
      const r = rig({ streams: [seq(BASE, 30), seq(BASE + 0x10_0000, 30)], maxOutstanding: 64, ratePerUs: 3 }, 50 * NS, { clockHz });
      const res = runToEnd(r);
      for (const s of [0, 1]) {
        const ticks = r.slave.accepted.filter((a) => (a.addr - BASE) >> 20 === s).map((a) => a.tick);
        expect(ticks).toHaveLength(30);
        // The k-th access is due at k × 333 333.3 ps and goes out on the first edge at or after it.
        const expected = ticks.map((_t, k) => Math.ceil(Math.ceil((k * 1e6) / 3) / period) * period);
        expect(ticks).toEqual(expected);
        const rate = ((ticks.length - 1) / (ticks[29] - ticks[0])) * 1e6;
        expect(Math.abs(rate - 3) / 3).toBeLessThan(0.005);
      }
      expect(stat(r, 'outstanding_stalls')).toBe(0);
      expect(res.endTick).toBe(Math.ceil(Math.ceil((29 * 1e6) / 3) / period) * period + 50 * NS);
    }
  });

  test('a rate above what the outstanding limit allows runs at maxOutstanding / latency and counts stalls', () => {
    // 100/µs asked; 4 outstanding at 1 µs latency allow 4/µs.
    const r = rig({ streams: [seq(BASE, 200)], maxOutstanding: 4, ratePerUs: 100 }, 1000 * NS);
    const res = runToEnd(r);
    const ticks = r.slave.accepted.map((a) => a.tick);
    const rate = (200 / (res.endTick - res.startTick)) * 1e6;
    expect(Math.abs(rate - 4) / 4).toBeLessThan(0.01);
    expect(r.slave.maxPending).toBe(4);
    // Each round of 4 issues 10 ns apart; the 5th is due 10 ns after the 4th and waits for the
    // round's first response: one 960 ns stall per round after the first of 50.
    expect(stat(r, 'outstanding_stalls')).toBe(49);
    expect(stat(r, 'outstanding_stall_ns')).toBe(49 * 960);
    // Accesses 0-3 go out 10 ns apart; 4-7 each wait for a response (1 µs after 0-3).
    expect(ticks.slice(0, 8)).toEqual([0, 10, 20, 30, 1000, 1010, 1020, 1030].map((t) => t * NS));
  });

  test('a stream that fell behind its rate resumes from when it issued, without a catch-up burst', () => {
    const ctx = createSimContext(1);
    const gen = makeGen(ctx, PATH, new ClockDomain('sys', 1e9), 1, { streams: [seq(0, 5)], maxOutstanding: 1, ratePerUs: 10 });
    // The first access takes 1 µs, the others 10 ns.
    const slave = new ScriptedSlave(ctx, (t) => (t.addr === 0 ? 1000 * NS : 10 * NS), () => Status.Ok);
    connectPorts(gen.port, slave.port);
    gen.start();
    ctx.engine.runUntilIdle();
    // Due at 0, 100, 200, … ns; access 1 waits for the slot until 1 µs, then the stream goes on 100 ns apart.
    expect(slave.ticks).toEqual([0, 1000, 1100, 1200, 1300].map((t) => t * NS));
  });

  test('latencies of microseconds are histogrammed, not saturated (no bucket range to guess)', () => {
    const ctx = createSimContext(1);
    const gen = makeGen(ctx, PATH, new ClockDomain('sys', 1e9), 1, { streams: [seq(0, 100)], maxOutstanding: 100 });
    // 60 accesses take 5 µs, 40 take 8 µs: all in flight at once, so no queueing adds to them.
    const slave = new ScriptedSlave(ctx, (t) => (t.addr < 60 * 64 ? 5000 * NS : 8000 * NS), () => Status.Ok);
    connectPorts(gen.port, slave.port);
    gen.start();
    ctx.engine.runUntilIdle();
    const d = ctx.stats.dump();
    const key = (k: string) => d[`${PATH}.latency_ns.${k}`] as number;
    expect(key('samples')).toBe(100);
    expect(key('min')).toBe(5000);
    expect(key('max')).toBe(8000);
    expect(key('mean')).toBe(6200);
    // Within the stated error (x/256) of the exact quantiles: 5000 (rank 50) and 8000 (rank 99).
    expect(Math.abs(key('p50') - 5000)).toBeLessThanOrEqual(5000 / 256);
    expect(Math.abs(key('p99') - 8000)).toBeLessThanOrEqual(8000 / 256);
    // Both values have their own bucket; the 8 µs one is reported, not an overflow.
    expect(d[`${PATH}.latency_ns.bucket_counts`]).toEqual([60, 40]);
    const lo = d[`${PATH}.latency_ns.bucket_lo`] as number[];
    const hi = d[`${PATH}.latency_ns.bucket_hi`] as number[];
    expect(lo[0]).toBeLessThanOrEqual(5000);
    expect(hi[0]).toBeGreaterThan(5000);
    expect(lo[1]).toBeLessThanOrEqual(8000);
    expect(hi[1]).toBeGreaterThan(8000);
  });

  test('errors are data: counted by status, their bytes not counted, the run goes on', () => {
    const ctx = createSimContext(1);
    const gen = makeGen(ctx, PATH, new ClockDomain('sys', 1e9), 1, {
      streams: [{ kind: 'sequential', base: 0, footprint: 64 * 100, accessBytes: 64, accesses: 100 }],
      maxOutstanding: 4,
    });
    // Blocks 10..24 are refused (access error), blocks >= 90 decode to nothing.
    const slave = new ScriptedSlave(ctx, () => 30 * NS, (a) => (a >= 90 * 64 ? Status.DecodeError : a >= 10 * 64 && a < 25 * 64 ? Status.AccessError : Status.Ok));
    connectPorts(gen.port, slave.port);
    let res: TrafficResult | null = null;
    gen.start((x) => { res = x; });
    ctx.engine.runUntilIdle();
    expect(res).toMatchObject({ reads: 75, errors: 25, bytesRead: 75 * 64 });
    expect(ctx.stats.value(`${PATH}.errors`)).toBe(25);
    expect(ctx.stats.value(`${PATH}.errors.access_error`)).toBe(15);
    expect(ctx.stats.value(`${PATH}.errors.decode_error`)).toBe(10);
    expect(ctx.stats.value(`${PATH}.errors.translation_fault`)).toBe(0);
    expect(ctx.stats.value(`${PATH}.bytes_read`)).toBe(75 * 64);
  });

  test('stop(): no new issues, done after the in-flight accesses drain; unlimited streams run until then', () => {
    const r = rig({ streams: [{ kind: 'random', base: BASE, footprint: 1 << 16, accessBytes: 64, readFraction: 0.5 }], maxOutstanding: 6 }, 70 * NS);
    r.gen.start((res) => { r.result = res; });
    r.ctx.engine.runUntil(10_000 * NS + 1);
    expect(r.result).toBeNull();
    expect(r.gen.inFlight).toBe(6);
    r.gen.stop();
    r.ctx.engine.runUntilIdle();
    const res = r.result!;
    expect(res.stopped).toBe(true);
    expect(res.reads + res.writes).toBe(r.slave.accepted.length);
    // Issues happen every 70 ns, 6 at a time: 143 rounds before 10 µs, the last answered at 10.01 µs.
    expect(r.slave.accepted).toHaveLength(143 * 6);
    expect(res.endTick).toBe(143 * 70 * NS);
  });

  test('done never runs inside start(); a second start() replays the same accesses', () => {
    const r = rig({ streams: [{ kind: 'random', base: BASE, footprint: 4096, accessBytes: 64, accesses: 50 }, seq(BASE, 0)], maxOutstanding: 4 }, 10 * NS);
    let calls = 0;
    r.gen.start(() => { calls++; });
    expect(calls).toBe(0);
    expect(() => r.gen.start()).toThrow(SimInvariantError);
    r.ctx.engine.runUntilIdle();
    expect(calls).toBe(1);
    const first = r.slave.accepted.map((a) => a.addr);
    expect(first).toHaveLength(50);
    r.gen.start(() => { calls++; });
    r.ctx.engine.runUntilIdle();
    expect(calls).toBe(2);
    expect(r.slave.accepted.slice(50).map((a) => a.addr)).toEqual(first);
  });
});

describe('TrafficGenerator, atomic mode', () => {
  const specs = (): WorkloadSpec[] => [
    { kind: 'random', base: BASE, footprint: 1 << 16, accessBytes: 64, readFraction: 0.5, accesses: 150 },
    { kind: 'strided', base: BASE + 0x10_0000, footprint: 1 << 14, accessBytes: 64, strideBytes: 1024, readFraction: 0.25, mix: 'exact', accesses: 100 },
    { kind: 'tiled2d', base: BASE + 0x20_0000, accessBytes: 32, widthBytes: 512, height: 8, tileWidthBytes: 128, tileHeight: 4, readFraction: 0, accesses: 50 },
  ];

  function runMode(mode: AccessMode): { r: Rig; res: TrafficResult } {
    const r = rig({ streams: specs(), maxOutstanding: 8, mode }, 100 * NS, { seed: 4 });
    return { r, res: runToEnd(r) };
  }

  test('moves the same bytes, in the same order, with the same memory contents as timing mode', () => {
    const t = runMode('timing');
    const a = runMode('atomic');
    const strip = (r: Rig) => r.slave.accepted.map((x) => [x.cmd, x.addr, x.size]);
    expect(strip(a.r)).toEqual(strip(t.r));
    expect(a.r.slave.accepted).toHaveLength(300);
    for (const k of ['reads', 'writes', 'bytes_read', 'bytes_written', 'errors', 'issued']) expect(stat(a.r, k)).toBe(stat(t.r, k));
    expect(stat(a.r, 'writes')).toBeGreaterThan(0);
    for (const [base, bytes] of [[BASE, 1 << 16], [BASE + 0x10_0000, 1 << 14], [BASE + 0x20_0000, 4096]]) {
      const x = new Uint8Array(bytes), y = new Uint8Array(bytes);
      t.r.slave.mem.read(base, x);
      a.r.slave.mem.read(base, y);
      expect(Buffer.from(y).equals(Buffer.from(x))).toBe(true);
    }
    // Waves of 8 overlapped 100 ns round trips: the same 38 round trips as timing mode, one event per wave.
    expect(a.res.endTick).toBe(t.res.endTick);
    expect(a.res.endTick).toBe(38 * 100 * NS);
    expect(a.r.ctx.engine.eventsDispatched).toBeLessThanOrEqual(40);
    expect(stat(a.r, 'throughput_GBps')).toBeCloseTo(stat(t.r, 'throughput_GBps'), 10);
  });

  test('rate pacing and stop() work per wave', () => {
    const r = rig({ streams: [seq(BASE, 30)], maxOutstanding: 8, ratePerUs: 2, mode: 'atomic' }, 100 * NS);
    const res = runToEnd(r);
    expect(r.slave.accepted.map((a) => a.tick)).toEqual(Array.from({ length: 30 }, (_v, k) => k * 500 * NS));
    expect(res.endTick).toBe(29 * 500 * NS + 100 * NS);

    const u = rig({ streams: [{ kind: 'random', base: BASE, footprint: 4096, accessBytes: 64 }], maxOutstanding: 8, mode: 'atomic' }, 100 * NS);
    u.gen.start((x) => { u.result = x; });
    u.ctx.engine.runUntil(1000 * NS + 1);
    u.gen.stop();
    u.ctx.engine.runUntilIdle();
    // Waves at 0, 100, …, 1000 ns: 11 waves of 8, the last one ending at 1.1 µs.
    expect(u.result).toMatchObject({ stopped: true, reads: 88, endTick: 1100 * NS });
  });
});

describe('programming', () => {
  test('start() before configure() is a bug; so is an empty program or configure() while running', () => {
    const ctx = createSimContext(1);
    const gen = new TrafficGenerator(ctx, PATH, new ClockDomain('c', 1e9), 0, { maxOutstanding: 4 });
    connectPorts(gen.port, new FixedSlave(ctx, 'mem', { latency: 10 * NS }).port);
    expect(() => gen.start()).toThrow(SimInvariantError);
    expect(() => gen.configure({ streams: [] })).toThrow(SimInvariantError);
    gen.configure({ streams: [seq(0, 10)] });
    gen.start();
    expect(() => gen.configure({ streams: [seq(0, 10)] })).toThrow(SimInvariantError);
    ctx.engine.runUntilIdle();
    expect(ctx.stats.value(`${PATH}.reads`) + ctx.stats.value(`${PATH}.writes`)).toBe(10);
  });
});

/** A slave answering each request after `latencyOf(txn)` with status `statusOf(addr)`; touches no memory. */
class ScriptedSlave implements RequestReceiver {
  readonly port = new ResponsePort('scripted.port', this);
  /** Acceptance tick of every request. */
  readonly ticks: Tick[] = [];
  constructor(
    private readonly ctx: SimContext,
    private readonly latencyOf: (t: Transaction) => Tick,
    private readonly statusOf: (addr: number) => Status,
  ) {}
  recvRequest(t: Transaction): boolean {
    this.ticks.push(this.ctx.engine.now);
    this.ctx.engine.scheduleIn(this.latencyOf(t), this.respond, t);
    return true;
  }
  recvAtomic(t: Transaction): Tick {
    t.status = this.statusOf(t.addr);
    return this.latencyOf(t);
  }
  recvFunctional(t: Transaction): void {
    t.status = this.statusOf(t.addr);
  }
  private readonly respond = (t: Transaction): void => {
    t.status = this.statusOf(t.addr);
    this.port.sendResponse(t);
  };
}
