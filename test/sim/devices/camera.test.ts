import { connectPorts } from '../../../sim/bus/port';
import { Cmd } from '../../../sim/bus/transaction';
import { ClockDomain } from '../../../sim/engine/clock';
import { createSimContext, type SimContext } from '../../../sim/engine/context';
import { SimInvariantError } from '../../../sim/engine/errors';
import type { StatsDump } from '../../../sim/engine/stats';
import type { PhysicalMemory } from '../../../sim/mem/physmem';
import { CameraIsp, cameraPixelByte, type CameraIspParams, type CameraProgram } from '../../../sim/devices/camera';
import { FixedSlave } from '../../helpers/fixedSlave';
import { ThrottledSlave, type ThrottledSlaveOptions } from '../../helpers/throttledSlave';
import type { AccessMode } from '../../../sim/engine/accessMode';

const BASE = 0x8000_0000;
const PATH = 'soc.cam';
// 64 px × 4 B = 256-byte lines at a pitch of 320 (64 bytes of gap), 16 lines: a buffer is 5120 bytes.
const LINE_BYTES = 256;
const PITCH = 320;
const HEIGHT = 16;
const BUF_BYTES = PITCH * HEIGHT;

/** Hardware and program in one object (the tests vary both). */
type Params = CameraIspParams & CameraProgram;

function params(over: Partial<Params> = {}): Params {
  return {
    base: BASE, width: 64, height: HEIGHT, bytesPerPixel: 4, pitchBytes: PITCH, fps: 1000,
    burstBytes: 64, maxOutstanding: 4, buffers: 2, lineBufferBytes: 1024, ...over,
  };
}

interface Rig {
  ctx: SimContext;
  cam: CameraIsp;
  mem: PhysicalMemory;
}

/** A camera built with the hardware part of `p` and configured with its program part. */
function makeCamera(ctx: SimContext, p: Params): CameraIsp {
  const { burstBytes, maxOutstanding, lineBufferBytes, mode, ...program } = p;
  const cam = new CameraIsp(ctx, PATH, new ClockDomain('sys', 1e9), 5, { burstBytes, maxOutstanding, lineBufferBytes, mode });
  cam.configure(program);
  return cam;
}

function rigFixed(p: Params, latency: number): Rig & { slave: FixedSlave } {
  const ctx = createSimContext(1);
  const slave = new FixedSlave(ctx, 'mem', { latency });
  const cam = makeCamera(ctx, p);
  connectPorts(cam.port, slave.port);
  return { ctx, cam, slave, mem: slave.mem };
}

function rigThrottled(p: Params, opts: ThrottledSlaveOptions): Rig & { slave: ThrottledSlave } {
  const ctx = createSimContext(1);
  const slave = new ThrottledSlave(ctx, 'mem', opts);
  const cam = makeCamera(ctx, p);
  connectPorts(cam.port, slave.port);
  return { ctx, cam, slave, mem: slave.mem };
}

const stat = (r: Rig, name: string): number => r.ctx.stats.value(`${PATH}.${name}`);
function cameraStats(r: Rig): StatsDump {
  const out: StatsDump = {};
  for (const [k, v] of Object.entries(r.ctx.stats.dump())) if (k.startsWith(`${PATH}.`)) out[k] = v;
  return out;
}

function runToDone(r: Rig): number {
  let doneAt = -1;
  r.cam.start(() => { doneAt = r.ctx.engine.now; });
  r.ctx.engine.runUntilIdle();
  expect(doneAt).toBeGreaterThanOrEqual(0);
  return doneAt;
}

/** The bytes line `line` of frame `frame` must hold (written here, independently of the model). */
function expectedLine(frame: number, line: number): Buffer {
  const b = Buffer.alloc(LINE_BYTES);
  for (let x = 0; x < LINE_BYTES; x++) b[x] = (67 * frame + 29 * line + 13 * x + Math.floor(x / 256)) & 0xff;
  return b;
}

function readMem(mem: PhysicalMemory, addr: number, n: number): Buffer {
  const b = new Uint8Array(n);
  mem.read(addr, b);
  return Buffer.from(b);
}

/** What each line slot of `buffers` buffers holds: the (frame) whose pattern it has, 'zero', or 'other'. */
function classifyLines(mem: PhysicalMemory, buffers: number, framesWritten: number): Array<number | 'zero' | 'other'> {
  const out: Array<number | 'zero' | 'other'> = [];
  for (let b = 0; b < buffers; b++) {
    for (let j = 0; j < HEIGHT; j++) {
      const got = readMem(mem, BASE + b * BUF_BYTES + j * PITCH, LINE_BYTES);
      let kind: number | 'zero' | 'other' = got.equals(Buffer.alloc(LINE_BYTES)) ? 'zero' : 'other';
      for (let k = b; k < framesWritten; k += buffers) if (got.equals(expectedLine(k, j))) kind = k;
      out.push(kind);
    }
  }
  return out;
}

describe('CameraIsp writes frames', () => {
  test('2 frames into 2 buffers: exact bytes at exact addresses, gaps untouched', () => {
    const r = rigFixed(params({ frames: 2 }), 200_000);
    const doneAt = runToDone(r);
    expect(stat(r, 'frames')).toBe(2);
    expect(stat(r, 'lines')).toBe(32);
    expect(stat(r, 'bytes_written')).toBe(2 * HEIGHT * LINE_BYTES);
    expect(stat(r, 'overflows')).toBe(0);
    expect(stat(r, 'dropped_bytes')).toBe(0);
    expect(stat(r, 'errors')).toBe(0);
    // The last line arrives at 2 ms; its 4 writes go out at once and take 200 ns.
    expect(doneAt).toBe(2e9 + 200_000);

    for (let k = 0; k < 2; k++) {
      for (let j = 0; j < HEIGHT; j++) {
        const addr = BASE + k * BUF_BYTES + j * PITCH;
        expect({ k, j, ok: readMem(r.mem, addr, LINE_BYTES).equals(expectedLine(k, j)) }).toEqual({ k, j, ok: true });
        expect(readMem(r.mem, addr + LINE_BYTES, PITCH - LINE_BYTES).equals(Buffer.alloc(PITCH - LINE_BYTES))).toBe(true);
      }
    }
    expect(readMem(r.mem, BASE + 2 * BUF_BYTES, 4096).equals(Buffer.alloc(4096))).toBe(true);

    // 4 writes of 64 bytes per line, in order, each at its line's time or just after.
    expect(r.slave.accepted.length).toBe(2 * HEIGHT * 4);
    r.slave.accepted.forEach((a, i) => {
      const g = Math.floor(i / 4);
      const k = Math.floor(g / HEIGHT);
      const j = g % HEIGHT;
      expect(a).toEqual({ tick: (g + 1) * 62_500_000, masterId: 5, cmd: Cmd.Write, addr: BASE + k * BUF_BYTES + j * PITCH + (i % 4) * 64, size: 64 });
    });
    expect(r.ctx.stats.dump()[`${PATH}.latency_ns.mean`]).toBe(200);
  });

  test('the exported pattern is the documented formula', () => {
    for (const [k, j, x] of [[0, 0, 0], [1, 2, 3], [7, 15, 255], [3, 9, 256], [1000, 1079, 7679]]) {
      expect(cameraPixelByte(k, j, x)).toBe((67 * k + 29 * j + 13 * x + Math.floor(x / 256)) % 256);
    }
  });

  test('buffers are written round-robin: frame 2 overwrites buffer 0', () => {
    const r = rigFixed(params({ frames: 3, width: 128, pitchBytes: 512 }), 100_000);
    runToDone(r);
    expect(stat(r, 'bytes_written')).toBe(3 * HEIGHT * 512);
    const line = (k: number, j: number) => {
      const b = Buffer.alloc(512);
      for (let x = 0; x < 512; x++) b[x] = (67 * k + 29 * j + 13 * x + Math.floor(x / 256)) & 0xff;
      return b;
    };
    for (let j = 0; j < HEIGHT; j++) {
      expect(readMem(r.mem, BASE + j * 512, 512).equals(line(2, j))).toBe(true);
      expect(readMem(r.mem, BASE + HEIGHT * 512 + j * 512, 512).equals(line(1, j))).toBe(true);
    }
  });

  test('frames counted by tick T are floor(T × fps), lines floor(T × fps × height)', () => {
    // 240 fps: the frame period (4.1666… ms) is not a whole number of picoseconds.
    const r = rigFixed(params({ fps: 240 }), 50_000);
    r.cam.start();
    const frameEdge = (k: number): number => Number((BigInt(k) * 10n ** 12n + 239n) / 240n); // ceil(k / 240 s)
    const ticks: number[] = [];
    for (let k = 1; k <= 6; k++) ticks.push(frameEdge(k) - 1, frameEdge(k), frameEdge(k) + 1_000_000_000);
    for (const t of ticks) {
      r.ctx.engine.runUntil(t);
      const frames = Number((BigInt(t) * 240n) / 10n ** 12n);
      const lines = Number((BigInt(t) * 240n * 16n) / 10n ** 12n);
      expect({ t, frames: stat(r, 'frames'), lines: stat(r, 'lines') }).toEqual({ t, frames, lines });
    }
    expect(frameEdge(3)).toBe(12_500_000_000);
    r.cam.stop();
    const lines = stat(r, 'lines');
    r.ctx.engine.runUntil(r.ctx.engine.now + 100e9);
    expect(stat(r, 'lines')).toBe(lines);
    expect(r.ctx.engine.pending).toBe(0);
    expect(stat(r, 'bytes_written')).toBe(lines * LINE_BYTES);
  });
});

describe('CameraIsp overflows', () => {
  // The sensor delivers a 256-byte line every 62.5 us (4.1 MB/s).
  const p = params({ frames: 4, buffers: 4 });
  const total = 4 * HEIGHT * LINE_BYTES;

  test('a memory slower than the sensor drops whole lines; every byte is written or dropped', () => {
    // 2 MB/s: a line takes 128 us to write.
    const r = rigThrottled(p, { latency: 100_000, psPerByte: 500_000 });
    const doneAt = runToDone(r);
    const written = stat(r, 'bytes_written');
    const overflows = stat(r, 'overflows');
    expect(stat(r, 'lines')).toBe(64);
    expect(overflows).toBeGreaterThan(0);
    expect(stat(r, 'dropped_bytes')).toBe(overflows * LINE_BYTES);
    expect(written + stat(r, 'dropped_bytes')).toBe(total);
    // The server never idles once the buffer backs up: by the last line (4 ms) it has written
    // about 4 ms / 128 us = 31.25 lines, and the buffer (4 lines) drains after.
    const acceptedLines = written / LINE_BYTES;
    expect(acceptedLines).toBeGreaterThanOrEqual(31);
    expect(acceptedLines).toBeLessThanOrEqual(36);
    expect(doneAt).toBeGreaterThan(4e9);
    expect(r.slave.acceptedBytes).toBe(written);
    // Memory: each line slot holds its frame's line (accepted) or nothing (dropped).
    const kinds = classifyLines(r.mem, 4, 4);
    expect(kinds.filter((k) => k === 'other')).toEqual([]);
    kinds.forEach((k, i) => { if (k !== 'zero') expect(k).toBe(Math.floor(i / HEIGHT)); });
    expect(kinds.filter((k) => k === 'zero').length).toBe(overflows);
  });

  test('a memory faster than the sensor drops nothing', () => {
    const r = rigThrottled(p, { latency: 100_000, psPerByte: 1000 });
    runToDone(r);
    expect(stat(r, 'overflows')).toBe(0);
    expect(stat(r, 'dropped_bytes')).toBe(0);
    expect(stat(r, 'bytes_written')).toBe(total);
    expect(classifyLines(r.mem, 4, 4)).toEqual(Array.from({ length: 64 }, (_v, i) => Math.floor(i / HEIGHT)));
  });

  test('a bigger line buffer absorbs a latency burst that a smaller one cannot', () => {
    // 100 us latency with one write in flight: 0.64 B/us, far below the sensor's rate. With a
    // 4-line buffer the first 4 lines are accepted; the next arrives while all 4 are pending.
    const small = rigFixed(params({ frames: 1, maxOutstanding: 1 }), 100_000_000);
    runToDone(small);
    const large = rigFixed(params({ frames: 1, maxOutstanding: 1, lineBufferBytes: 16 * LINE_BYTES }), 100_000_000);
    runToDone(large);
    expect(stat(small, 'overflows')).toBeGreaterThan(0);
    expect(stat(large, 'overflows')).toBe(0);
    expect(stat(large, 'bytes_written')).toBe(HEIGHT * LINE_BYTES);
  });

  test.each<[AccessMode]>([['timing'], ['atomic']])('%s: the buffer takes exactly floor(lineBufferBytes / line) lines when nothing drains', (mode) => {
    // Writes take 10 ms, longer than the 1 ms frame: no space is freed during it.
    for (const [lineBufferBytes, accepted] of [[1024, 4], [1279, 4], [1280, 5], [256, 1]]) {
      const r = rigFixed(params({ frames: 1, lineBufferBytes, mode }), 10e9);
      runToDone(r);
      expect({ lineBufferBytes, overflows: stat(r, 'overflows') }).toEqual({ lineBufferBytes, overflows: HEIGHT - accepted });
      expect(stat(r, 'bytes_written')).toBe(accepted * LINE_BYTES);
      expect(classifyLines(r.mem, 1, 1)).toEqual(Array.from({ length: HEIGHT }, (_v, j) => (j < accepted ? 0 : 'zero')));
    }
  });

  test.each<[AccessMode]>([['timing'], ['atomic']])('%s: a write acknowledged at the tick a line arrives frees its space for that line', (mode) => {
    // One line of buffer; each line's writes take exactly one line time (62.5 us), or 1 ps more.
    const exact = rigFixed(params({ frames: 1, lineBufferBytes: LINE_BYTES, mode }), 62_500_000);
    runToDone(exact);
    expect(stat(exact, 'overflows')).toBe(0);
    const late = rigFixed(params({ frames: 1, lineBufferBytes: LINE_BYTES, mode }), 62_500_001);
    runToDone(late);
    expect(stat(late, 'overflows')).toBe(HEIGHT / 2);
    expect(classifyLines(late.mem, 1, 1)).toEqual(Array.from({ length: HEIGHT }, (_v, j) => (j % 2 === 0 ? 0 : 'zero')));
  });

  test('a failed write counts as an error; the stream goes on', () => {
    // Line 3 of buffer 1 faults: frame 1 (4 buffers), 4 writes.
    const r = rigThrottled(p, { latency: 100_000, psPerByte: 1000, faultRange: { base: BASE + BUF_BYTES + 3 * PITCH, size: LINE_BYTES } });
    runToDone(r);
    expect(stat(r, 'errors')).toBe(4);
    expect(stat(r, 'bytes_written')).toBe(total - LINE_BYTES);
    expect(stat(r, 'overflows')).toBe(0);
  });
});

describe('CameraIsp atomic mode', () => {
  const cases: Array<[string, Partial<Params>, number]> = [
    ['ample bandwidth', { frames: 2 }, 200_000],
    ['overflowing (100 us latency, one write in flight)', { frames: 2, maxOutstanding: 1 }, 100_000_000],
    ['unaligned lines', { frames: 3, base: BASE + 40, width: 50, bytesPerPixel: 3, pitchBytes: 150, maxOutstanding: 2, lineBufferBytes: 450 }, 30_000_000],
  ];
  test.each(cases)('%s: the same stats and memory as timing mode against a fixed-latency memory, one event per line', (_n, over, latency) => {
    const [t, a] = (['timing', 'atomic'] as AccessMode[]).map((mode) => {
      const r = rigFixed(params({ ...over, mode }), latency);
      runToDone(r);
      return r;
    });
    expect(cameraStats(a)).toEqual(cameraStats(t));
    expect(a.slave.accepted.map((x) => [x.addr, x.size])).toEqual(t.slave.accepted.map((x) => [x.addr, x.size]));
    const span = 4 * BUF_BYTES;
    expect(readMem(a.mem, BASE, span).equals(readMem(t.mem, BASE, span))).toBe(true);
    expect(readMem(a.mem, BASE, span).equals(Buffer.alloc(span))).toBe(false);
    expect(a.ctx.engine.eventsDispatched).toBe(stat(a, 'lines'));
  });

  test('the overflowing case does overflow', () => {
    const r = rigFixed(params({ frames: 2, maxOutstanding: 1, mode: 'atomic' }), 100_000_000);
    runToDone(r);
    expect(stat(r, 'overflows')).toBeGreaterThan(0);
    expect(stat(r, 'bytes_written') + stat(r, 'dropped_bytes')).toBe(2 * HEIGHT * LINE_BYTES);
  });
});

describe('programming', () => {
  test('start() before configure() is a bug; configure() while capturing is a bug', () => {
    const ctx = createSimContext(1);
    const slave = new FixedSlave(ctx, 'mem', { latency: 1000 });
    const cam = new CameraIsp(ctx, PATH, new ClockDomain('sys', 1e9), 5, { burstBytes: 64, maxOutstanding: 4, lineBufferBytes: 1024 });
    connectPorts(cam.port, slave.port);
    expect(() => cam.start()).toThrow(SimInvariantError);
    const { burstBytes: _b, maxOutstanding: _m, lineBufferBytes: _l, ...program } = params({ frames: 1 });
    cam.configure(program);
    cam.start();
    expect(() => cam.configure(program)).toThrow(SimInvariantError);
    ctx.engine.runUntilIdle();
    expect(ctx.stats.value(`${PATH}.bytes_written`)).toBe(HEIGHT * LINE_BYTES);
  });
});
