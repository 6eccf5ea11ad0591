import { connectPorts } from '../../../sim/bus/port';
import { Cmd } from '../../../sim/bus/transaction';
import { ClockDomain } from '../../../sim/engine/clock';
import { createSimContext, type SimContext } from '../../../sim/engine/context';
import { SimInvariantError } from '../../../sim/engine/errors';
import type { Tick } from '../../../sim/engine/time';
import { GpuEngine, type GpuEngineParams, type GpuProgram, type GpuResult } from '../../../sim/devices/gpuEngine';
import { gpuJobKind } from '../../../scenario/jobKinds/gpu';
import { FixedSlave } from '../../helpers/fixedSlave';

const NS = 1000;
const PATH = 'soc.gpu';
const BASE = 0x1_0000_0000;
const patternByte = (x: number): number => ((x % 65521) * 167 + 13) & 0xff;

interface Rig {
  ctx: SimContext;
  gpu: GpuEngine;
  slave: FixedSlave;
}

/** Hardware and program in one object (the tests vary both). */
type Params = GpuEngineParams & GpuProgram;

function rig(params: Params, latency: Tick): Rig {
  const ctx = createSimContext(3);
  const { maxOutstanding, mode, ...program } = params;
  const gpu = new GpuEngine(ctx, PATH, new ClockDomain('gpu', 1e9), 9, { maxOutstanding, mode });
  gpu.configure(program);
  const slave = new FixedSlave(ctx, 'mem', { latency });
  connectPorts(gpu.port, slave.port);
  return { ctx, gpu, slave };
}

function run(r: Rig): GpuResult {
  let res: GpuResult | null = null;
  r.gpu.start((x) => { res = x; });
  r.ctx.engine.runUntilIdle();
  expect(res).not.toBeNull();
  return res!;
}

const stat = (r: Rig, name: string): number => r.ctx.stats.value(`${PATH}.${name}`);

// A 1 KiB-pitch, 512-row surface of 128-byte × 8-row tiles: 8 × 64 = 512 tiles, 512 KiB.
const surface = { base: BASE, widthBytes: 1024, height: 512, tileWidthBytes: 128, tileHeight: 8 };
const SURFACE_BYTES = 1024 * 512;

describe('GpuEngine', () => {
  test('slice sharing: every block once, inside the buffer, outstanding at the limit, Little\'s-law throughput', () => {
    const maxOutstanding = 200;
    const latency = 500 * NS;
    const r = rig({ streams: 16, maxOutstanding, surface, accessBytes: 64 }, latency);
    const res = run(r);
    const acc = r.slave.accepted;
    // Exactly the surface's bytes, each 64-byte block once.
    expect(acc).toHaveLength(SURFACE_BYTES / 64);
    expect(res.bytesRead).toBe(SURFACE_BYTES);
    expect(stat(r, 'bytes_read')).toBe(SURFACE_BYTES);
    expect(stat(r, 'bytes_written')).toBe(0);
    const blocks = new Set(acc.map((a) => a.addr));
    expect(blocks.size).toBe(SURFACE_BYTES / 64);
    expect(acc.every((a) => a.addr >= BASE && a.addr + a.size <= BASE + SURFACE_BYTES && (a.addr - BASE) % 64 === 0)).toBe(true);
    // Outstanding never above the limit, and the limit is reached.
    expect(r.slave.maxPending).toBe(maxOutstanding);
    expect(r.gpu.generator.peakInFlight).toBe(maxOutstanding);
    // The 16 streams own bands of 4 tile rows (32 rows): their first accesses, round-robin, are the bands' first blocks.
    expect(acc.slice(0, 16).map((a) => a.addr)).toEqual(Array.from({ length: 16 }, (_v, s) => BASE + s * 32 * 1024));
    // Inside a tile: 2 accesses per row, then the next row (stream 0's second access is at +64, its third at +1024).
    expect([acc[16].addr, acc[32].addr]).toEqual([BASE + 64, BASE + 1024]);
    // Little's law: maxOutstanding × size / latency = 200 × 64 B / 500 ns = 25.6 GB/s.
    const little = (maxOutstanding * 64) / 500;
    const measured = SURFACE_BYTES / ((res.endTick - res.startTick) / NS);
    expect(Math.abs(measured - little) / little).toBeLessThan(0.02);
    expect(stat(r, 'throughput_GBps')).toBeCloseTo(measured, 9);
    expect(res.tilesDone).toBe(512);
    expect(stat(r, 'tiles_done')).toBe(512);
    expect(r.gpu.tilesTotal).toBe(512);
  });

  test('shared sharing with writes: streams start at staggered tiles, bytes = streams × passes × surface', () => {
    const small = { base: BASE, widthBytes: 512, height: 64, tileWidthBytes: 128, tileHeight: 8 }; // 4 × 8 = 32 tiles, 32 KiB
    const bytes = 512 * 64;
    const r = rig({ streams: 4, maxOutstanding: 32, surface: small, accessBytes: 64, sharing: 'shared', passes: 2, readFraction: 0.5, mix: 'exact' }, 100 * NS);
    const res = run(r);
    const total = 4 * 2 * bytes;
    expect(res.bytesRead + res.bytesWritten).toBe(total);
    // Exact 50/50 mix per stream over an even number of accesses.
    expect(res.bytesRead).toBe(total / 2);
    expect(res.bytesWritten).toBe(total / 2);
    // Stream s starts at tile 8s: tile 8s is the first tile of tile row 2s (4 tiles per row, 8 rows per tile row).
    expect(r.slave.accepted.slice(0, 4).map((a) => a.addr)).toEqual([0, 1, 2, 3].map((s) => BASE + 2 * s * 8 * 512));
    expect(res.tilesDone).toBe(4 * 2 * 32);
    // Every block of the surface is touched 8 times (4 streams × 2 passes).
    const hits = new Map<number, number>();
    for (const a of r.slave.accepted) hits.set(a.addr, (hits.get(a.addr) ?? 0) + 1);
    expect(hits.size).toBe(bytes / 64);
    expect([...hits.values()].every((n) => n === 8)).toBe(true);
    // Written blocks hold the pattern.
    const written = r.slave.accepted.filter((a) => a.cmd === Cmd.Write);
    let bad = 0;
    const buf = new Uint8Array(64);
    for (const a of written) {
      r.slave.mem.read(a.addr, buf);
      for (let j = 0; j < 64; j++) if (buf[j] !== patternByte(a.addr + j)) bad++;
    }
    expect(bad).toBe(0);
  });

  test('atomic mode moves the same bytes and tiles in about the same simulated time', () => {
    const params: Params = { streams: 8, maxOutstanding: 128, surface, accessBytes: 128, readFraction: 0.75, mix: 'exact' };
    const t = rig(params, 300 * NS);
    const a = rig({ ...params, mode: 'atomic' }, 300 * NS);
    const rt = run(t);
    const ra = run(a);
    expect(ra.bytesRead).toBe(rt.bytesRead);
    expect(ra.bytesWritten).toBe(rt.bytesWritten);
    expect(rt.bytesRead + rt.bytesWritten).toBe(SURFACE_BYTES);
    expect(ra.tilesDone).toBe(rt.tilesDone);
    expect(ra.tilesDone).toBe(512);
    expect(a.slave.accepted.map((x) => x.addr)).toEqual(t.slave.accepted.map((x) => x.addr));
    expect(Math.abs(ra.endTick - rt.endTick) / rt.endTick).toBeLessThan(0.02);
    expect(a.ctx.engine.eventsDispatched).toBeLessThan(t.ctx.engine.eventsDispatched / 50);
  });

  test('stop() ends an engine early; tiles_done counts only whole tiles', () => {
    const r = rig({ streams: 4, maxOutstanding: 16, surface, accessBytes: 64 }, 100 * NS);
    let res: GpuResult | null = null;
    r.gpu.start((x) => { res = x; });
    r.ctx.engine.runUntil(1000 * NS + 1);
    r.gpu.stop();
    r.ctx.engine.runUntilIdle();
    // 16 accesses per 100 ns until 1 µs: 11 rounds = 176 accesses, 44 per stream; a tile is 16 accesses.
    expect(res).toMatchObject({ stopped: true, reads: 176 });
    expect(res!.tilesDone).toBe(4 * Math.floor(44 / 16));
  });
});

describe('the gpu job spec (programming rules)', () => {
  const ok = {
    kind: 'gpu', name: 'g', device: 'gpu', buffer: 'b', streams: 4,
    widthBytes: 1024, height: 512, tileWidthBytes: 128, tileHeight: 8, accessBytes: 64,
  };
  test.each<[string, Record<string, unknown>, RegExp]>([
    ['streams', { streams: 0 }, /too small|>0/],
    ['streams', { streams: 65 }, /slice sharing needs at most one stream per tile row \(64 tile rows\), got 65/],
    ['widthBytes', { widthBytes: 1000 }, /multiple of tileWidthBytes \(128\)/],
    ['height', { height: 100 }, /multiple of tileHeight \(8\)/],
    ['accessBytes', { accessBytes: 96 }, /power of two/],
    ['tileWidthBytes', { tileWidthBytes: 96, widthBytes: 960 }, /multiple of accessBytes \(64\)/],
    ['readFraction', { readFraction: 2 }, /2|<=1/],
    ['sharing', { sharing: 'interleaved' }, /slice|shared/],
    ['passes', { passes: 0 }, /./],
  ])('names %s', (field, patch, re) => {
    const r = gpuJobKind.spec.safeParse({ ...ok, ...patch });
    expect(r.success).toBe(false);
    expect(r.error!.issues[0].path.join('.')).toBe(field);
    expect(r.error!.issues[0].message).toMatch(re);
  });

  test('valid programs pass, including shared sharing with more streams than tile rows', () => {
    expect(gpuJobKind.spec.safeParse(ok).success).toBe(true);
    expect(gpuJobKind.spec.safeParse({ ...ok, streams: 1000, sharing: 'shared' }).success).toBe(true);
  });

  test('start() before configure() is a bug', () => {
    const gpu = new GpuEngine(createSimContext(1), 'g', new ClockDomain('c', 1e9), 0, { maxOutstanding: 4 });
    expect(() => gpu.start()).toThrow(SimInvariantError);
  });
});
