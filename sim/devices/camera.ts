import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { EventHandle, Priority } from '../engine/engine';
import { SimInvariantError } from '../engine/errors';
import type { Counter } from '../engine/stats';
import { ceilRatio, type Tick } from '../engine/time';
import { BusMaster, CompletionSlots } from '../bus/busMaster';
import type { FrameGeometry } from './frameGeometry';
import { defineDeviceKind, deviceFields, BurstBytes, DeviceBufferBytes, Outstanding } from '../soc/deviceSpec';
import type { RequestPort, ResponseReceiver } from '../bus/port';
import { Cmd, Status, type Transaction, TransactionPool } from '../bus/transaction';
import type { AccessMode } from '../engine/accessMode';
import { alignedBurstBytes } from '../bus/boundary';


/** The capture path's hardware (its SoC config entry). */
export interface CameraIspParams {
  /** Largest write; writes never cross a burstBytes-aligned boundary. */
  burstBytes: number;
  /** Writes in flight at once. */
  maxOutstanding: number;
  /** Receiver buffer: bytes accepted from the sensor and not yet acknowledged by memory (>= one line of the program). */
  lineBufferBytes: number;
  /** Default 'timing'. */
  mode?: AccessMode;
}

/**
 * What a driver programs before capturing (`configure`): the frame buffers and the
 * sensor's timing. The scenario's camera job checks these (scenario/jobs/camera.ts).
 */
export interface CameraProgram extends FrameGeometry {
  /** Frames per second from the sensor; a line must last at least 1 ps. */
  fps: number;
  /** Frame buffers written round-robin; buffer b starts at base + b × pitchBytes × height. */
  buffers: number;
  /** Stop after this many frames; absent = until stop(). */
  frames?: number;
}

/**
 * The byte the camera writes at byte `x` of line `line` of frame `frame` (frames counted
 * from start()): (67·frame + 29·line + 13·x + floor(x / 256)) mod 256. Every byte of a
 * 256-byte run differs, and shifted lines, swapped 256-byte blocks and frames written to
 * the wrong buffer all show.
 */
export function cameraPixelByte(frame: number, line: number, x: number): number {
  return (frame * 67 + line * 29 + x * 13 + Math.floor(x / 256)) % 256;
}

/**
 * A camera capture path: sensor → CSI-2 receiver → ISP → memory writer, like the DMA of
 * a MIPI CSI-2 receiver (i.MX8 MIPI-CSI + ISI, Raspberry Pi Unicam, Rockchip VICAP).
 *
 * Sensor. Lines arrive at a fixed rate, `height` per frame period 1/fps (blanking
 * ignored). A whole line enters the receiver when its line time ends: line m (counted
 * from 1 at start()) arrives at start + ceil(m / (fps × height)) s, on whole
 * picoseconds rounded up, so the frames counted by tick T are exactly floor((T −
 * start) × fps) (exact for integer fps × height).
 *
 * Receiver buffer. An arriving line is accepted if the buffer holds `lineBufferBytes`
 * minus at least one line of free space; otherwise the whole line is DROPPED (counted
 * in `overflows`, one per line, and `dropped_bytes`), as a CSI receiver drops data when
 * its FIFO overflows; memory keeps its old contents there. Bytes stay in the buffer
 * until their write is acknowledged. Dropping whole lines is a simplification: real
 * receivers lose the words that arrive while the FIFO is full, so part of a line.
 *
 * Writer. Accepted lines are written in order, line j of frame k to buffer k mod
 * `buffers` at base + (k mod buffers)·pitch·height + j·pitch, split at
 * burstBytes-aligned addresses, at most `maxOutstanding` writes in flight. The data is
 * `cameraPixelByte(frame, line, x)`, so tests can check memory. A write that completes
 * with an error counts in `errors` (its bytes are not in `bytes_written`) and the
 * stream goes on.
 *
 * Stats (under `path`): `frames`, `lines` (received from the sensor, dropped or not),
 * `bytes_written`, `overflows`, `dropped_bytes`, `errors`, `latency_ns` (issue to
 * response of each write, histogram).
 *
 * Atomic mode (fast-forward): each accepted line is written with `sendAtomic` at the
 * event of its arrival. Issue times are computed from the same rules with the atomic
 * latency estimates as round trips (a write goes out once the line has arrived and a
 * slot is free), and the buffer holds a write's bytes until its estimated completion,
 * so overflows follow. Against a memory whose latency is fixed and uncontended, atomic
 * and timing mode give the same stats; in general atomic ignores bandwidth limits and
 * under-reports overflows. Events: one per line.
 *
 * Not modelled: CSI-2 packets, lanes and virtual channels; ISP processing time and
 * formats; horizontal/vertical blanking; frame-done interrupts and buffer queues.
 */
export class CameraIsp implements ResponseReceiver {
  readonly port: RequestPort;
  readonly mode: AccessMode;
  /** Port, in-order sending, the maxOutstanding writes, errors, latency_ns, bytes_written. */
  private readonly bus: BusMaster;
  private readonly pool: TransactionPool;

  private readonly burstBytes: number;

  // Set by configure() (the programmed frames and timing).
  private program: CameraProgram | null = null;
  private lineBytes = 0;
  private height = 0;
  private frameBytes = 0;
  /** Lines per run (frames × height), Infinity without a frame limit. */
  private lineLimit = 0;

  /** Accepted lines (global index from start) not yet fully sent, a ring (sized by configure()). */
  private queue = new Float64Array(0);
  private qHead = 0;
  private qCount = 0;
  /** Bytes of the head line already sent. */
  private sendOff = 0;
  /** Bytes accepted and not yet acknowledged. */
  private buffered = 0;

  private active = false;
  /** The sensor's next line of the running capture. */
  private readonly lineEvent: EventHandle;
  private t0: Tick = 0;
  private sensorLine = 0;
  private sensorDone = true;
  private onDone: (() => void) | null = null;

  // Atomic mode: virtual issue cursor; completions (and sizes) of writes still holding buffer space; of writes maybe in flight.
  private vCursor: Tick = 0;
  private heldAt = new Float64Array(0);
  private heldSize = new Int32Array(0);
  private heldCount = 0;
  private readonly completions: CompletionSlots;

  private readonly sFrames: Counter;
  private readonly sLines: Counter;
  private readonly sOverflows: Counter;
  private readonly sDroppedBytes: Counter;

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    /** The writer's clock domain (the builder's uniform device signature); line timing comes from fps. */
    readonly clock: ClockDomain,
    readonly masterId: number,
    readonly params: CameraIspParams,
  ) {
    this.mode = params.mode ?? 'timing';
    this.pool = new TransactionPool(params.burstBytes);
    this.burstBytes = params.burstBytes;
    this.completions = new CompletionSlots(params.maxOutstanding);
    this.lineEvent = new EventHandle(ctx.engine, this.onLine, Priority.Late);

    const s = ctx.stats.scope(path);
    this.bus = new BusMaster(path, this, params.maxOutstanding, s, {
      errors: { desc: 'writes that completed with an error' },
      latency: { desc: 'issue to response of each write, ns' },
      bytesWritten: { desc: 'bytes written to memory successfully' },
    });
    this.port = this.bus.port;
    this.sFrames = s.counter('frames', 'frames received from the sensor (dropped lines included)');
    this.sLines = s.counter('lines', 'lines received from the sensor (dropped ones included)');
    this.sOverflows = s.counter('overflows', 'lines dropped because the receiver buffer was full');
    this.sDroppedBytes = s.counter('dropped_bytes', 'bytes of dropped lines');
  }

  /**
   * Programs the frame buffers and sensor timing for the next start() (not while
   * running). The program is trusted: the camera job's spec and check validate it (a
   * line must fit in lineBufferBytes).
   */
  configure(program: CameraProgram): void {
    if (this.active || this.bus.inFlight > 0) throw new SimInvariantError(`${this.path}: configure() while running or with writes in flight`);
    this.program = program;
    this.lineBytes = program.width * program.bytesPerPixel;
    this.height = program.height;
    this.frameBytes = program.pitchBytes * program.height;
    this.lineLimit = program.frames === undefined ? Infinity : program.frames * program.height;
    const lines = Math.floor(this.params.lineBufferBytes / this.lineBytes);
    this.queue = new Float64Array(lines + 1);
    this.qHead = 0;
    this.qCount = 0;
    this.sendOff = 0;
    this.buffered = 0;
    // Held writes cover at most lineBufferBytes, in at most `lines` lines of which only the first and last write can be short.
    const held = Math.ceil(this.params.lineBufferBytes / this.burstBytes) + 2 * lines + 1;
    this.heldAt = new Float64Array(held);
    this.heldSize = new Int32Array(held);
    this.heldCount = 0;
  }

  /** True from start() until stop() or until the frame limit has arrived and every write has completed. */
  get running(): boolean {
    return this.active;
  }

  /**
   * Starts capturing from frame 0 (into buffer 0) now. `done` runs once the frame limit
   * has arrived and every write has completed (never without a limit).
   */
  start(done?: () => void): void {
    if (this.active) throw new SimInvariantError(`${this.path}: start() while already running`);
    if (!this.program) throw new SimInvariantError(`${this.path}: start() before configure()`);
    const now = this.ctx.engine.now;
    this.active = true;
    this.onDone = done ?? null;
    this.t0 = now;
    this.sensorLine = 0;
    this.sensorDone = false;
    this.vCursor = now;
    this.lineEvent.schedule(this.t0 + ceilRatio(1, this.program.fps * this.height));
  }

  /** Stops capturing: no more lines; lines not yet sent are discarded; writes in flight complete. */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.lineEvent.cancel();
    this.onDone = null;
    this.buffered -= this.qCount * this.lineBytes - this.sendOff;
    this.qCount = 0;
    this.sendOff = 0;
    if (this.mode === 'atomic') {
      this.heldCount = 0;
      this.buffered = 0;
    }
  }

  private readonly onLine = (): void => {
    const now = this.ctx.engine.now;
    const g = this.sensorLine;
    if (this.mode === 'atomic') this.releaseHeld(now);
    this.sLines.inc();
    if (this.buffered + this.lineBytes <= this.params.lineBufferBytes) {
      this.buffered += this.lineBytes;
      if (this.mode === 'atomic') this.writeLineAtomic(g, now);
      else this.enqueue(g);
    } else {
      this.sOverflows.inc();
      this.sDroppedBytes.inc(this.lineBytes);
    }
    if (g % this.height === this.height - 1) this.sFrames.inc();
    this.sensorLine = g + 1;
    if (this.sensorLine >= this.lineLimit) {
      this.sensorDone = true;
    } else {
      this.lineEvent.schedule(this.t0 + ceilRatio(g + 2, this.program!.fps * this.height));
    }
    if (this.mode === 'timing') this.issue();
    this.maybeFinish();
  };

  private maybeFinish(): void {
    if (!this.active || !this.sensorDone || this.qCount > 0 || this.bus.inFlight > 0) return;
    this.active = false;
    const done = this.onDone;
    this.onDone = null;
    if (done) done();
  }

  /** Address of byte `off` of global line g. */
  private addrOf(g: number, off: number): number {
    const k = Math.floor(g / this.height);
    const j = g - k * this.height;
    return this.program!.base + (k % this.program!.buffers) * this.frameBytes + j * this.program!.pitchBytes + off;
  }

  /** Size of the write at `addr` with `left` bytes of the line to go. */
  private sizeAt(addr: number, left: number): number {
    return alignedBurstBytes(addr, this.burstBytes, left);
  }

  /** Fills t.data with the line's bytes [off, off + t.size). */
  private fill(t: Transaction, g: number, off: number): void {
    const k = Math.floor(g / this.height);
    const j = g - k * this.height;
    const base = (k * 67 + j * 29) % 256;
    const d = t.data;
    if (this.lineBytes * 14 + 256 < 2 ** 31) {
      // Every intermediate fits in 31 bits: integer operators are exact.
      for (let i = 0, x = off; i < t.size; i++, x++) d[i] = (base + x * 13 + (x >>> 8)) & 255;
    } else {
      for (let i = 0, x = off; i < t.size; i++, x++) d[i] = (base + x * 13 + Math.floor(x / 256)) % 256;
    }
  }

  // ---- timing mode ----

  private enqueue(g: number): void {
    let slot = this.qHead + this.qCount;
    if (slot >= this.queue.length) slot -= this.queue.length;
    if (this.qCount === this.queue.length) throw new SimInvariantError(`${this.path}: line queue overflow`);
    this.queue[slot] = g;
    this.qCount++;
  }

  private issue(): void {
    const now = this.ctx.engine.now;
    const bus = this.bus;
    while (this.qCount > 0 && bus.inFlight < bus.maxOutstanding) {
      const g = this.queue[this.qHead];
      const off = this.sendOff;
      const addr = this.addrOf(g, off);
      const size = this.sizeAt(addr, this.lineBytes - off);
      const t = this.pool.alloc(Cmd.Write, addr, size, this.masterId, now);
      this.fill(t, g, off);
      this.sendOff = off + size;
      if (this.sendOff === this.lineBytes) {
        this.sendOff = 0;
        this.qHead = this.qHead + 1 === this.queue.length ? 0 : this.qHead + 1;
        this.qCount--;
      }
      bus.issue(t);
    }
  }

  recvRetry(): void {
    this.bus.retry();
  }

  recvResponse(t: Transaction): void {
    const now = this.ctx.engine.now;
    const bus = this.bus;
    bus.sLatency.sample((now - t.issueTick) / 1000);
    if (t.status === Status.Ok) bus.sBytesWritten!.inc(t.size);
    else bus.sErrors.inc();
    this.buffered -= t.size;
    bus.done();
    this.pool.release(t);
    this.issue();
    this.maybeFinish();
  }

  // ---- atomic mode ----

  /** Frees the buffer space of writes whose estimated completion is at or before `now`. */
  private releaseHeld(now: Tick): void {
    let kept = 0;
    for (let i = 0; i < this.heldCount; i++) {
      if (this.heldAt[i] <= now) {
        this.buffered -= this.heldSize[i];
      } else {
        this.heldAt[kept] = this.heldAt[i];
        this.heldSize[kept] = this.heldSize[i];
        kept++;
      }
    }
    this.heldCount = kept;
  }

  /**
   * Writes global line g, which arrived at `arrival`, with atomic accesses. Each write
   * issues at max(previous issue, arrival, the earliest completion that frees a slot).
   */
  private writeLineAtomic(g: number, arrival: Tick): void {
    const slots = this.completions;
    const bus = this.bus;
    if (arrival > this.vCursor) this.vCursor = arrival;
    for (let off = 0; off < this.lineBytes;) {
      const addr = this.addrOf(g, off);
      const size = this.sizeAt(addr, this.lineBytes - off);
      // Wait for a slot (−Infinity while one is free); the slot is taken below.
      const free = slots.earliest();
      if (free > this.vCursor) this.vCursor = free;
      const at = this.vCursor;
      const t = this.pool.alloc(Cmd.Write, addr, size, this.masterId, at);
      this.fill(t, g, off);
      const latency = this.port.sendAtomic(t);
      bus.sLatency.sample(latency / 1000);
      if (t.status === Status.Ok) bus.sBytesWritten!.inc(size);
      else bus.sErrors.inc();
      this.pool.release(t);
      slots.take(at + latency);
      if (this.heldCount === this.heldAt.length) throw new SimInvariantError(`${this.path}: held-write ring overflow`);
      this.heldAt[this.heldCount] = at + latency;
      this.heldSize[this.heldCount++] = size;
      off += size;
    }
  }
}


/** Device kind `camera`: a capture path (scenario job `camera` programs the frames and timing). */
export const cameraDeviceKind = defineDeviceKind({
  spec: deviceFields('camera', {
    burstBytes: BurstBytes.describe('bytes per write'),
    maxOutstanding: Outstanding,
    lineBufferBytes: DeviceBufferBytes.describe('buffer between the sensor and memory; a line that does not fit is dropped'),
  }),
  describe: 'a camera/ISP writing frames at the frame rate the scenario sets',
  rules: (d) => {
    if (d.burstBytes === 0) return [['burstBytes', 'must be positive']];
    if (d.lineBufferBytes === 0) return [['lineBufferBytes', 'must be positive']];
    return [];
  },
  build: (env, d) => new CameraIsp(env.ctx, env.path, env.clock, env.masterId, {
    burstBytes: d.burstBytes, maxOutstanding: d.maxOutstanding, lineBufferBytes: d.lineBufferBytes, mode: env.mode,
  }),
});
