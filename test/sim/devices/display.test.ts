import { connectPorts } from '../../../sim/bus/port';
import { Cmd } from '../../../sim/bus/transaction';
import { ClockDomain } from '../../../sim/engine/clock';
import { createSimContext, type SimContext } from '../../../sim/engine/context';
import { SimInvariantError } from '../../../sim/engine/errors';
import type { StatsDump } from '../../../sim/engine/stats';
import { DisplayController, displayDeviceKind, type DisplayControllerParams, type DisplayProgram } from '../../../sim/devices/display';
import { FixedSlave } from '../../helpers/fixedSlave';
import { ThrottledSlave, type ThrottledSlaveOptions } from '../../helpers/throttledSlave';
import type { AccessMode } from '../../../sim/engine/accessMode';

const BASE = 0x8000_0000;
const PATH = 'soc.disp';
// 256 px × 4 B = 1024-byte lines, 50 lines, 1000 Hz: a frame is 1e9 ps, a line 20e6 ps, and
// a 64-byte burst is shown in exactly 20e6 / 16 = 1.25e6 ps.
const FRAME = 1e9;
const LINE = FRAME / 50;
const BURST_TIME = LINE / 16;
const LINE_BYTES = 1024;

/** Hardware and program in one object (the tests vary both). */
type Params = DisplayControllerParams & DisplayProgram;

function params(over: Partial<Params> = {}): Params {
  return {
    base: BASE, width: 256, height: 50, bytesPerPixel: 4, pitchBytes: 1536, refreshHz: 1000,
    burstBytes: 64, maxOutstanding: 16, fifoBytes: 4096, ...over,
  };
}

interface Rig {
  ctx: SimContext;
  dc: DisplayController;
}

/** A controller built with the hardware part of `p` and configured with its program part. */
function makeDisplay(ctx: SimContext, p: Params, path = PATH): DisplayController {
  const { burstBytes, maxOutstanding, fifoBytes, mode, ...program } = p;
  const dc = new DisplayController(ctx, path, new ClockDomain('sys', 1e9), 3, { burstBytes, maxOutstanding, fifoBytes, mode });
  dc.configure(program);
  return dc;
}

function rigFixed(p: Params, latency: number): Rig & { slave: FixedSlave } {
  const ctx = createSimContext(1);
  const slave = new FixedSlave(ctx, 'mem', { latency });
  const dc = makeDisplay(ctx, p);
  connectPorts(dc.port, slave.port);
  return { ctx, dc, slave };
}

function rigThrottled(p: Params, opts: ThrottledSlaveOptions): Rig & { slave: ThrottledSlave } {
  const ctx = createSimContext(1);
  const slave = new ThrottledSlave(ctx, 'mem', opts);
  const dc = makeDisplay(ctx, p);
  connectPorts(dc.port, slave.port);
  return { ctx, dc, slave };
}

const stat = (r: Rig, name: string): number => r.ctx.stats.value(`${PATH}.${name}`);
const dump = (r: Rig): StatsDump => r.ctx.stats.dump();
function displayStats(r: Rig): StatsDump {
  const out: StatsDump = {};
  for (const [k, v] of Object.entries(dump(r))) if (k.startsWith(`${PATH}.`)) out[k] = v;
  return out;
}

/** Runs a scanout with a frame limit to completion; returns the tick `done` ran at. */
function runToDone(r: Rig): number {
  let doneAt = -1;
  r.dc.start(() => { doneAt = r.ctx.engine.now; });
  r.ctx.engine.runUntilIdle();
  expect(doneAt).toBeGreaterThanOrEqual(0);
  return doneAt;
}

describe('DisplayController with ample bandwidth', () => {
  test('3 frames: exact frames, lines, bytes and addresses; no underrun; done at the end of frame 3', () => {
    const r = rigFixed(params({ frames: 3 }), 100_000);
    const t0 = LINE; // default start delay: one active line
    let doneAt = -1;
    r.dc.start(() => { doneAt = r.ctx.engine.now; });
    expect(r.dc.running).toBe(true);

    // Half way: 75 lines shown. The FIFO (64 bursts) is kept full: at the end of line 74 the
    // burst just issued to replace the last one shown is in flight, everything else arrived.
    r.ctx.engine.runUntil(t0 + 1.5 * FRAME);
    expect(stat(r, 'lines')).toBe(75);
    expect(stat(r, 'frames')).toBe(1);
    expect(stat(r, 'bytes_read')).toBe(75 * LINE_BYTES + 4096 - 64);
    r.ctx.engine.runUntil(t0 + 3 * FRAME - 1);
    expect(stat(r, 'frames')).toBe(2);
    expect(stat(r, 'lines')).toBe(149);

    r.ctx.engine.runUntil(t0 + 3 * FRAME);
    expect(stat(r, 'frames')).toBe(3);
    expect(stat(r, 'lines')).toBe(150);
    expect(stat(r, 'bytes_read')).toBe(3 * 50 * 256 * 4);
    expect(doneAt).toBe(t0 + 3 * FRAME);
    expect(r.dc.running).toBe(false);
    expect(r.ctx.engine.pending).toBe(0);
    for (const k of ['underruns', 'underrun_frames', 'late_bursts', 'errors', 'lateness_total_ns']) expect({ k, v: stat(r, k) }).toEqual({ k, v: 0 });

    // Reads: 16 per line, each line's 1024 bytes at base + j × 1536, once per frame.
    expect(r.slave.accepted.length).toBe(3 * 50 * 16);
    expect(r.slave.accepted.filter((a) => a.cmd !== Cmd.Read || a.size !== 64 || a.masterId !== 3)).toEqual([]);
    const expectedAddrs: number[] = [];
    for (let k = 0; k < 3; k++) for (let j = 0; j < 50; j++) for (let b = 0; b < 16; b++) expectedAddrs.push(BASE + j * 1536 + b * 64);
    expect(r.slave.accepted.map((a) => a.addr)).toEqual(expectedAddrs);
    // The FIFO limits how far ahead it reads: 16 in flight at start (maxOutstanding), then 1.
    expect(r.slave.maxPending).toBe(16);

    const d = dump(r);
    expect(d[`${PATH}.latency_ns.samples`]).toBe(2400);
    expect(d[`${PATH}.latency_ns.mean`]).toBe(100);
    // At each line end: 64 bursts reserved, the one just issued still in flight.
    expect(d[`${PATH}.fifo_level_bytes.min`]).toBe(4096 - 64);
    expect(d[`${PATH}.fifo_level_bytes.max`]).toBe(4096 - 64);
  });

  test('reads split at burst boundaries when lines are not burst-aligned', () => {
    // Lines of 100 px × 3 B = 300 bytes at pitch 300 from base + 16: bursts end on 64-byte boundaries.
    const r = rigFixed(params({ base: BASE + 16, width: 100, bytesPerPixel: 3, pitchBytes: 300, height: 4, frames: 1 }), 1000);
    runToDone(r);
    const expected: Array<[number, number]> = [];
    for (let j = 0; j < 4; j++) {
      const start = BASE + 16 + j * 300;
      for (let a = start; a < start + 300;) {
        const next = Math.min(start + 300, (Math.floor(a / 64) + 1) * 64);
        expected.push([a, next - a]);
        a = next;
      }
    }
    expect(r.slave.accepted.map((a) => [a.addr, a.size])).toEqual(expected);
    expect(stat(r, 'bytes_read')).toBe(1200);
    expect(stat(r, 'underruns')).toBe(0);
  });
});

describe('DisplayController underruns', () => {
  // Fixed latency D = 4.5 us. With an n-burst FIFO the controller issues burst i when burst
  // i - n has been shown, at T0 + (i - n + 1)·B, so it arrives at T0 + (i - n + 1)·B + D while
  // burst i is due at T0 + i·B: late by D - (n - 1)·B when that is positive. With B = 1.25 us,
  // n = 4 gives 0.75 us on every burst but the first four (issued at tick 0); n = 5 none.
  const D = 4_500_000;

  test('a 4-burst FIFO cannot hide 4.5 us: every line underruns, exact late bursts and lateness', () => {
    const r = rigFixed(params({ fifoBytes: 256, frames: 2 }), D);
    runToDone(r);
    const bursts = 2 * 50 * 16;
    const lateNs = D / 1000 - 3 * BURST_TIME / 1000;
    expect(lateNs).toBe(750);
    expect(stat(r, 'lines')).toBe(100);
    expect(stat(r, 'late_bursts')).toBe(bursts - 4);
    expect(stat(r, 'lateness_total_ns')).toBe((bursts - 4) * lateNs);
    expect(stat(r, 'underruns')).toBe(100);
    expect(stat(r, 'underrun_frames')).toBe(2);
    expect(stat(r, 'bytes_read')).toBe(bursts * 64);
    const d = dump(r);
    expect(d[`${PATH}.lateness_ns.min`]).toBe(lateNs);
    expect(d[`${PATH}.lateness_ns.max`]).toBe(lateNs);
  });

  test('a 5-burst FIFO hides the same latency', () => {
    const r = rigFixed(params({ fifoBytes: 320, frames: 2 }), D);
    runToDone(r);
    expect(stat(r, 'late_bursts')).toBe(0);
    expect(stat(r, 'underruns')).toBe(0);
    expect(stat(r, 'bytes_read')).toBe(2 * 50 * LINE_BYTES);
  });

  test('periodic memory stalls: underrun lines grow as the FIFO shrinks', () => {
    // 10 GB/s, 200 ns; stalls every 100 us of 2, 5, 10, 20 us. A FIFO of n bursts hides a
    // stall up to about (n - 1)·1.25 us - 0.2 us: n = 4 hides only the 2 us stalls, n = 8 also
    // the 5 us ones, n = 16 also the 10 us ones, n = 64 all of them.
    const stalls = { period: 100_000_000, durations: [2e6, 5e6, 10e6, 20e6], offset: 50_000_000 };
    const results = [256, 512, 1024, 4096].map((fifoBytes) => {
      const r = rigThrottled(params({ fifoBytes, frames: 3 }), { latency: 200_000, psPerByte: 0.1, stalls });
      runToDone(r);
      expect(stat(r, 'bytes_read')).toBe(3 * 50 * LINE_BYTES);
      expect(stat(r, 'lines')).toBe(150);
      return { fifoBytes, underruns: stat(r, 'underruns'), late: stat(r, 'late_bursts'), lateness: stat(r, 'lateness_total_ns') };
    });
    const [f256, f512, f1k, f4k] = results;
    expect(f4k.underruns).toBe(0);
    expect(f4k.late).toBe(0);
    expect(f1k.underruns).toBeGreaterThan(0);
    // 30 stalls in 3 ms; each one not hidden leaves at least one underrun line.
    expect(f1k.underruns).toBeGreaterThanOrEqual(7); // the 7 stalls of 20 us
    expect(f512.underruns).toBeGreaterThan(f1k.underruns);
    expect(f512.underruns).toBeGreaterThanOrEqual(14); // + 7 of 10 us
    expect(f256.underruns).toBeGreaterThan(f512.underruns);
    expect(f256.underruns).toBeGreaterThanOrEqual(22); // + 8 of 5 us
    expect(f256.late).toBeGreaterThan(f512.late);
    expect(f512.late).toBeGreaterThan(f1k.late);
    expect(f256.lateness).toBeGreaterThan(f512.lateness);
    expect(f512.lateness).toBeGreaterThan(f1k.lateness);
  });

  test('a failed read counts as an error, a late burst and an underrun of its line', () => {
    // The first two bursts of line 10 fault, in each of 2 frames.
    const r = rigThrottled(params({ frames: 2 }), {
      latency: 100_000, psPerByte: 0.1, faultRange: { base: BASE + 10 * 1536, size: 128 },
    });
    runToDone(r);
    expect(stat(r, 'errors')).toBe(4);
    expect(stat(r, 'late_bursts')).toBe(4);
    expect(stat(r, 'underruns')).toBe(2);
    expect(stat(r, 'underrun_frames')).toBe(2);
    expect(stat(r, 'lateness_total_ns')).toBe(0);
    expect(stat(r, 'bytes_read')).toBe(2 * 50 * LINE_BYTES - 4 * 64);
  });

  test('vertical blanking lets the FIFO prefill; without it the first line is late', () => {
    // 20 us latency; a 64-line FIFO and enough reads in flight to fill it at once; no start delay.
    // Without blanking all reads arrive at 20 us: line 0 (burst b due at b × 1.25 us) is late,
    // line 1 (due from 20 us on) is not.
    const big = { fifoBytes: 64 * 1024, maxOutstanding: 1024, startDelayNs: 0 };
    const noBlank = rigFixed(params({ ...big, frames: 1 }), 20_000_000);
    runToDone(noBlank);
    expect(stat(noBlank, 'underruns')).toBe(1);
    expect(stat(noBlank, 'late_bursts')).toBe(16);
    let lateness = 0;
    for (let b = 0; b < 16; b++) lateness += 20_000 - b * 1250;
    expect(stat(noBlank, 'lateness_total_ns')).toBe(lateness);

    const blank = rigFixed(params({ ...big, vblankFraction: 0.2, frames: 2 }), 20_000_000);
    blank.dc.start();
    // Active lines are 0.8 × 1 ms / 50 = 16 us, after 200 us of blanking.
    blank.ctx.engine.runUntil(200_000_000 + 10 * 16_000_000 - 1);
    expect(stat(blank, 'lines')).toBe(9);
    blank.ctx.engine.runUntil(200_000_000 + 10 * 16_000_000);
    expect(stat(blank, 'lines')).toBe(10);
    blank.ctx.engine.runUntil(FRAME);
    expect(stat(blank, 'frames')).toBe(1);
    expect(stat(blank, 'lines')).toBe(50);
    blank.ctx.engine.runUntilIdle();
    expect(stat(blank, 'frames')).toBe(2);
    expect(stat(blank, 'underruns')).toBe(0);
    expect(stat(blank, 'bytes_read')).toBe(2 * 50 * LINE_BYTES);
  });
});

describe('DisplayController control', () => {
  test('stop() ends the scanout; in-flight reads complete; start() begins again from frame 0', () => {
    const r = rigFixed(params(), 100_000);
    r.dc.start();
    r.ctx.engine.runUntil(LINE + 2.5 * FRAME);
    expect(stat(r, 'frames')).toBe(2);
    expect(stat(r, 'lines')).toBe(125);
    r.dc.stop();
    expect(r.dc.running).toBe(false);
    r.ctx.engine.runUntilIdle();
    expect(r.ctx.engine.pending).toBe(0);
    expect(stat(r, 'lines')).toBe(125);
    // Everything issued was read: 125 lines shown + a full FIFO ahead.
    expect(stat(r, 'bytes_read')).toBe(125 * LINE_BYTES + 4096);
    expect(stat(r, 'underruns')).toBe(0);

    const restart = r.ctx.engine.now;
    r.dc.start();
    expect(() => r.dc.start()).toThrow(SimInvariantError);
    r.ctx.engine.runUntil(restart + LINE + FRAME);
    expect(stat(r, 'frames')).toBe(3);
    expect(stat(r, 'underruns')).toBe(0);
    r.dc.stop();
    r.ctx.engine.runUntilIdle();
  });
});

describe('DisplayController atomic mode', () => {
  const cases: Array<[string, Partial<Params>, number]> = [
    ['ample FIFO', { frames: 3 }, 100_000],
    ['FIFO too small (every line late)', { fifoBytes: 256, frames: 2 }, 4_500_000],
    ['FIFO just enough', { fifoBytes: 320, frames: 2 }, 4_500_000],
    ['unaligned lines, small FIFO', { base: BASE + 16, width: 100, bytesPerPixel: 3, pitchBytes: 300, fifoBytes: 192, maxOutstanding: 2, frames: 2 }, 3_000_000],
  ];
  test.each(cases)('%s: the same stats as timing mode against a fixed-latency memory, one event per line', (_name, over, latency) => {
    const byMode = (['timing', 'atomic'] as AccessMode[]).map((mode) => {
      const r = rigFixed(params({ ...over, mode }), latency);
      const doneAt = runToDone(r);
      return { r, doneAt };
    });
    const [t, a] = byMode;
    expect(displayStats(a.r)).toEqual(displayStats(t.r));
    expect(a.doneAt).toBe(t.doneAt);
    expect(a.r.slave.accepted.map((x) => [x.addr, x.size])).toEqual(t.r.slave.accepted.map((x) => [x.addr, x.size]));
    const lines = stat(a.r, 'lines');
    expect(a.r.ctx.engine.eventsDispatched).toBe(lines);
    expect(t.r.ctx.engine.eventsDispatched).toBeGreaterThan(t.r.slave.accepted.length + lines);
  });

  test('against a bandwidth-limited, stalling memory it moves the same bytes', () => {
    const stalls = { period: 100_000_000, durations: [2e6, 5e6, 10e6, 20e6], offset: 50_000_000 };
    const [t, a] = (['timing', 'atomic'] as AccessMode[]).map((mode) => {
      const r = rigThrottled(params({ fifoBytes: 512, frames: 2, mode }), { latency: 200_000, psPerByte: 0.1, stalls });
      runToDone(r);
      return r;
    });
    expect(stat(a, 'bytes_read')).toBe(2 * 50 * LINE_BYTES);
    expect(stat(a, 'bytes_read')).toBe(stat(t, 'bytes_read'));
    expect(a.slave.acceptedBytes).toBe(t.slave.acceptedBytes);
    expect(stat(a, 'frames')).toBe(stat(t, 'frames'));
    // Atomic knows no stalls: it reports none of the timing run's underruns.
    expect(stat(t, 'underruns')).toBeGreaterThan(0);
    expect(stat(a, 'underruns')).toBe(0);
  });
});

describe('hardware spec and programming', () => {
  const base = { name: 'display', bus: 'xbar', clock: 'sys', kind: 'display', burstBytes: 64, maxOutstanding: 4 };
  test('the spec requires fifoBytes >= burstBytes, naming the field', () => {
    const bad = displayDeviceKind.spec.safeParse({ ...base, fifoBytes: 32 });
    expect(bad.success).toBe(false);
    expect(bad.error!.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['fifoBytes', 'must be at least burstBytes (64), got 32']]);
    expect(displayDeviceKind.spec.safeParse({ ...base, fifoBytes: '4KiB' }).success).toBe(true);
  });

  test('start() before configure() is a bug; a reconfigured controller scans the new frame', () => {
    const ctx = createSimContext(1);
    const slave = new FixedSlave(ctx, 'mem', { latency: 1000 });
    const dc = new DisplayController(ctx, PATH, new ClockDomain('sys', 1e9), 3, { burstBytes: 64, maxOutstanding: 4, fifoBytes: 4096 });
    connectPorts(dc.port, slave.port);
    expect(() => dc.start()).toThrow(SimInvariantError);
    const { burstBytes: _b, maxOutstanding: _m, fifoBytes: _f, ...program } = params({ frames: 1 });
    dc.configure(program);
    let done = false;
    dc.start(() => { done = true; });
    ctx.engine.runUntilIdle();
    expect(done).toBe(true);
    expect(ctx.stats.value(`${PATH}.bytes_read`)).toBe(50 * LINE_BYTES);
    dc.configure({ ...program, height: 10 });
    dc.start();
    ctx.engine.runUntilIdle();
    expect(ctx.stats.value(`${PATH}.bytes_read`)).toBe(60 * LINE_BYTES);
    expect(ctx.stats.value(`${PATH}.frames`)).toBe(2);
  });
});
