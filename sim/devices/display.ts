import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { EventHandle, Priority } from '../engine/engine';
import { SimInvariantError } from '../engine/errors';
import type { Counter, Histogram } from '../engine/stats';
import { ceilDiv, ceilRatio, floorDiv, PS_PER_S, type Tick } from '../engine/time';
import { BusMaster, CompletionSlots } from '../bus/busMaster';
import type { FrameGeometry } from './frameGeometry';
import { defineDeviceKind, deviceFields, BurstBytes, DeviceBufferBytes, Outstanding } from '../soc/deviceSpec';
import type { RequestPort, ResponseReceiver } from '../bus/port';
import { Cmd, Status, type Transaction, TransactionPool } from '../bus/transaction';
import type { AccessMode } from '../engine/accessMode';
import { alignedBurstBytes, BUS_BOUNDARY_BYTES } from '../bus/boundary';


/** The controller's hardware (its SoC config entry). */
export interface DisplayControllerParams {
  /** Largest read; reads never cross a burstBytes-aligned boundary. */
  burstBytes: number;
  /** Reads in flight at once. */
  maxOutstanding: number;
  /** Line/latency buffer: bytes in flight plus bytes arrived and not yet shown (>= burstBytes). */
  fifoBytes: number;
  /** Default 'timing'. */
  mode?: AccessMode;
}

/**
 * What a driver programs before a scanout (`configure`): the frame buffer and the
 * panel timing. The scenario's display job checks these (scenario/jobs/display.ts).
 */
export interface DisplayProgram extends FrameGeometry {
  /** Frames per second; an active line must last at least 1 ps. */
  refreshHz: number;
  /** Stop after this many frames; absent = until stop(). */
  frames?: number;
  /** Share of each frame period spent in vertical blanking, in [0, 1); default 0 (blanking ignored). */
  vblankFraction?: number;
  /** Time from start() to the start of frame 0, ns; default one active line time. */
  startDelayNs?: number;
}

/** Burst record flag: the read completed with an error. */
const FAILED = 1;

/**
 * A display controller's scanout DMA: it reads a frame buffer, line after line, into a
 * FIFO that a panel drains at a fixed pixel rate, like the fetch unit of a display
 * engine (NXP i.MX8 DCSS DPR/DTG, an ARM Mali-DP or Qualcomm DPU SSPP layer).
 *
 * Panel timing. Frame k occupies [T0 + k·F, T0 + (k+1)·F) with F = 1/refreshHz, T0 =
 * start() + startDelay (default one active line: the pipe is enabled ahead of its first
 * frame, as a real one starts fetching in the blanking before it). Each frame is
 * `vblankFraction`·F of vertical blanking (default 0: blanking ignored) followed by
 * `height` active lines of equal length; horizontal blanking is ignored. The panel
 * consumes a line's bytes at a constant rate across the line, so byte o of a line of
 * `width × bytesPerPixel` bytes is due at lineStart + o·lineTime/lineBytes. Edges fall
 * on whole picoseconds, rounded up (a frame therefore ends at the first tick at or after
 * its exact end, and the frames counted by tick T are floor((T − T0)·refreshHz)); with
 * no blanking and integer refreshHz × height every line edge is exact.
 *
 * Fetch. Reads go out in scan order (line j of every frame at base + j·pitch; the same
 * buffer each frame), split at burstBytes-aligned addresses, as soon as both
 * (a) fewer than maxOutstanding reads are in flight and (b) the FIFO has room: a read
 * reserves its bytes at issue, and they are freed once the panel has consumed them
 * (the tick at which its last byte has been shown, rounded up) and the data has
 * arrived, in order. So the FIFO bounds how far ahead the controller runs, and reads in
 * flight count against it. The controller never skips data to catch up: a late read is
 * still fetched and its bytes are dropped on arrival.
 *
 * Underruns. A read is late when its data arrives after its first byte was due; its
 * lateness (arrival − due tick) is summed in `lateness_total_ns` and sampled in
 * `lateness_ns`. A read that completes with an error (decode, access or translation
 * fault) counts in `errors` and `late_bursts` (its data never arrives, so it adds no
 * lateness). The unit of `underruns` is the line: at each line's end the panel counts
 * one underrun if any byte of the line was not on time; `underrun_frames` counts frames
 * with at least one. Late reads are counted when they complete, underrun lines when
 * the line ends.
 *
 * Stats (under `path`): `frames`, `lines` (scanned by the panel), `bytes_read` (read
 * successfully), `errors`, `late_bursts`, `underruns`, `underrun_frames`,
 * `lateness_total_ns`, `lateness_ns` (histogram), `latency_ns` (issue to response of
 * each read, histogram) and `fifo_level_bytes` (histogram): at each line end, the bytes
 * of later lines that have arrived and wait in the FIFO; sampled only while reads are
 * still to be issued, since the FIFO drains by design once the last one is out. Its
 * min shows how close the stream came to underrunning.
 *
 * Atomic mode (fast-forward): the same model with no event per read. At each line end
 * (and at start) the controller performs, with `sendAtomic`, every read whose issue
 * time has come, computing issue times from the same two rules with the atomic latency
 * estimates as round trips; lateness, underruns and the FIFO level follow from those
 * times. Against a memory whose latency is fixed and uncontended, atomic and timing mode
 * give identical stats; in general atomic ignores bandwidth limits and contention, so it
 * under-reports underruns. The data effect of a read happens at the line end after its
 * estimated issue time. Events: one per line.
 *
 * Not modelled: pixel formats, compression, scaling and planes; horizontal blanking;
 * vsync-latched base-address updates; recovering from an underrun by skipping ahead.
 */
export class DisplayController implements ResponseReceiver {
  readonly port: RequestPort;
  readonly mode: AccessMode;
  /** Port, in-order sending, the maxOutstanding reads, errors, latency_ns, bytes_read. */
  private readonly bus: BusMaster;
  private readonly pool: TransactionPool;

  private readonly fifoBytes: number;
  private readonly burstBytes: number;

  // Set by configure() (the programmed frame and timing).
  private program: DisplayProgram | null = null;
  private lineBytes = 0;
  private height = 0;
  /** Lines per run (frames × height), Infinity without a frame limit. */
  private lineLimit = 0;
  private framePs = 0;
  private vblankPs = 0;
  private activeLinePs = 0;
  private startDelay: Tick = 0;

  // Reads not yet retired, in scan order: a ring of records indexed by slot (sized by configure()).
  private cap = 0;
  private rSize = new Int32Array(0);
  /** Global line index (from start), or -1 for reads of a stopped scanout. */
  private rLine = new Float64Array(0);
  private rDue = new Float64Array(0);
  private rRelease = new Float64Array(0);
  /** Tick the response arrived (virtual in atomic mode), -1 while in flight. */
  private rArrival = new Float64Array(0);
  private rFlags = new Uint8Array(0);
  private rHead = 0;
  private rCount = 0;
  /** Bytes reserved in the FIFO by unretired reads. */
  private fifoUsed = 0;
  private retirePending = false;

  /** Bytes of line g that arrived on time, at index g mod onTime.length. */
  private onTime = new Float64Array(0);

  // Fetch cursor.
  private fetchLine = 0;
  private fetchOff = 0;
  private fetchDone = true;
  private lineAddr = 0;
  private lineStart: Tick = 0;
  private lineDur: Tick = 0;

  // Panel.
  private active = false;
  /** The next line end of the running scanout. */
  private readonly lineEnd: EventHandle;
  private t0: Tick = 0;
  private panelLine = 0;
  private panelDone = true;
  private frameUnderrun = false;
  private onDone: (() => void) | null = null;

  // Atomic mode: virtual issue cursor, completion ticks of the reads that may still be in flight.
  private vCursor: Tick = 0;
  private lastRetire: Tick = 0;
  private readonly completions: CompletionSlots;

  private readonly sFrames: Counter;
  private readonly sLines: Counter;
  private readonly sLateBursts: Counter;
  private readonly sUnderruns: Counter;
  private readonly sUnderrunFrames: Counter;
  private readonly sLatenessTotal: Counter;
  private readonly sLateness: Histogram;
  private readonly sFifoLevel: Histogram;

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    /** The controller's clock domain (the builder's uniform device signature); scanout timing comes from refreshHz. */
    readonly clock: ClockDomain,
    readonly masterId: number,
    readonly params: DisplayControllerParams,
  ) {
    this.mode = params.mode ?? 'timing';
    this.pool = new TransactionPool(params.burstBytes);
    this.fifoBytes = params.fifoBytes;
    this.burstBytes = params.burstBytes;
    this.completions = new CompletionSlots(params.maxOutstanding);
    this.lineEnd = new EventHandle(ctx.engine, this.onLineEnd, Priority.Late);

    const s = ctx.stats.scope(path);
    this.bus = new BusMaster(path, this, params.maxOutstanding, s, {
      errors: { desc: 'reads that completed with an error' },
      latency: { desc: 'issue to response of each read, ns' },
      bytesRead: { desc: 'frame-buffer bytes read successfully' },
    });
    this.port = this.bus.port;
    this.sFrames = s.counter('frames', 'frames scanned out by the panel');
    this.sLines = s.counter('lines', 'lines scanned out by the panel');
    this.sLateBursts = s.counter('late_bursts', 'reads whose data arrived after its first byte was due, or never (errors)');
    this.sUnderruns = s.counter('underruns', 'lines with at least one byte not on time');
    this.sUnderrunFrames = s.counter('underrun_frames', 'frames with at least one underrun line');
    this.sLatenessTotal = s.counter('lateness_total_ns', 'sum over late reads of arrival minus due time, ns');
    this.sLateness = s.histogram('lateness_ns', 'arrival minus due time of each late read, ns');
    this.sFifoLevel = s.histogram('fifo_level_bytes', 'bytes of later lines waiting in the FIFO at each line end');
  }

  /**
   * Programs the frame buffer and panel timing for the next start() (not while running).
   * The program is trusted: the display job's spec and check validate it.
   */
  configure(program: DisplayProgram): void {
    if (this.active || this.bus.inFlight > 0) throw new SimInvariantError(`${this.path}: configure() while running or with reads in flight`);
    this.program = program;
    this.lineBytes = program.width * program.bytesPerPixel;
    this.height = program.height;
    this.lineLimit = program.frames === undefined ? Infinity : program.frames * program.height;
    this.framePs = PS_PER_S / program.refreshHz;
    this.vblankPs = this.framePs * (program.vblankFraction ?? 0);
    this.activeLinePs = (this.framePs - this.vblankPs) / program.height;
    this.startDelay = program.startDelayNs === undefined ? Math.round(this.activeLinePs) : Math.round(program.startDelayNs * 1000);

    // Unretired reads hold at most fifoBytes; only a line's first and last read, and a read
    // cut at a 4 KiB boundary (bus/boundary.ts), can be shorter than a burst; fifoBytes
    // spans at most fifoBytes/lineBytes + 2 lines and fifoBytes/4096 + 1 boundaries.
    const linesSpanned = Math.ceil(this.fifoBytes / this.lineBytes) + 2;
    const boundariesSpanned = Math.ceil(this.fifoBytes / BUS_BOUNDARY_BYTES) + 1;
    this.cap = Math.ceil(this.fifoBytes / this.burstBytes) + 2 * linesSpanned + boundariesSpanned + 1;
    this.rSize = new Int32Array(this.cap);
    this.rLine = new Float64Array(this.cap);
    this.rDue = new Float64Array(this.cap);
    this.rRelease = new Float64Array(this.cap);
    this.rArrival = new Float64Array(this.cap);
    this.rFlags = new Uint8Array(this.cap);
    this.rHead = 0;
    this.rCount = 0;
    this.fifoUsed = 0;
    // On-time arrivals are for lines not yet ended, at most linesSpanned - 1 beyond the panel's.
    this.onTime = new Float64Array(linesSpanned);
  }

  /** True from start() until stop() or until the frame limit is reached and every read has completed. */
  get running(): boolean {
    return this.active;
  }

  /**
   * Starts a scanout from frame 0; frame 0 begins startDelay from now. `done` runs once
   * the frame limit has been scanned and every read has completed (never without a limit).
   */
  start(done?: () => void): void {
    if (this.active) throw new SimInvariantError(`${this.path}: start() while already running`);
    if (!this.program) throw new SimInvariantError(`${this.path}: start() before configure()`);
    const now = this.ctx.engine.now;
    this.active = true;
    this.onDone = done ?? null;
    this.t0 = now + this.startDelay;
    this.panelLine = 0;
    this.panelDone = false;
    this.frameUnderrun = false;
    this.onTime.fill(0);
    this.fetchLine = 0;
    this.fetchOff = 0;
    this.fetchDone = false;
    this.setupFetchLine();
    this.vCursor = now;
    this.lastRetire = now;
    this.completions.clear();
    this.lineEnd.schedule(this.lineEdge(0, 1));
    if (this.mode === 'atomic') this.fetchAtomic(now);
    else this.issue();
  }

  /**
   * Stops the scanout: no more reads or line ends. Reads in flight complete (counted in
   * bytes_read, latency and errors) but no longer count as late.
   */
  stop(): void {
    if (!this.active) return;
    this.active = false;
    this.lineEnd.cancel();
    this.onDone = null;
    if (this.mode === 'atomic') {
      this.rCount = 0;
      this.fifoUsed = 0;
    } else {
      for (let i = 0, s = this.rHead; i < this.rCount; i++, s = s + 1 === this.cap ? 0 : s + 1) this.rLine[s] = -1;
      this.retire();
    }
  }

  // ---- panel timing ----

  /** Tick at which active line j (0..height; height = the frame's end) of frame k starts. */
  private lineEdge(k: number, j: number): Tick {
    if (j === this.height) return this.t0 + ceilRatio(k + 1, this.program!.refreshHz);
    if (this.vblankPs === 0) return this.t0 + ceilRatio(k * this.height + j, this.program!.refreshHz * this.height);
    return this.t0 + Math.ceil(k * this.framePs + this.vblankPs + j * this.activeLinePs);
  }

  private readonly onLineEnd = (): void => {
    const now = this.ctx.engine.now;
    if (this.mode === 'atomic') this.fetchAtomic(now);
    const g = this.panelLine;
    const slot = g % this.onTime.length;
    this.sLines.inc();
    if (this.onTime[slot] < this.lineBytes) {
      this.sUnderruns.inc();
      this.frameUnderrun = true;
    }
    this.onTime[slot] = 0;
    if (!this.fetchDone) this.sFifoLevel.sample(this.fifoLevel(now));
    const k = Math.floor(g / this.height);
    const j = g - k * this.height;
    if (j === this.height - 1) {
      this.sFrames.inc();
      if (this.frameUnderrun) this.sUnderrunFrames.inc();
      this.frameUnderrun = false;
    }
    this.panelLine = g + 1;
    if (this.panelLine >= this.lineLimit) {
      this.panelDone = true;
      if (this.mode === 'atomic') this.fetchAtomic(Infinity);
      this.maybeFinish();
    } else {
      const n = j + 1 === this.height ? this.lineEdge(k + 1, 1) : this.lineEdge(k, j + 2);
      this.lineEnd.schedule(n);
    }
  };

  /** Bytes arrived by `now` (successfully) whose consumption has not finished. */
  private fifoLevel(now: Tick): number {
    let level = 0;
    for (let i = 0, s = this.rHead; i < this.rCount; i++, s = s + 1 === this.cap ? 0 : s + 1) {
      const a = this.rArrival[s];
      if (a >= 0 && a <= now && this.rRelease[s] > now && this.rLine[s] >= 0 && this.rFlags[s] === 0) level += this.rSize[s];
    }
    return level;
  }

  private maybeFinish(): void {
    if (!this.active || !this.panelDone || !this.fetchDone || this.bus.inFlight > 0) return;
    this.active = false;
    const done = this.onDone;
    this.onDone = null;
    if (done) done();
  }

  // ---- fetch cursor ----

  private setupFetchLine(): void {
    const g = this.fetchLine;
    const k = Math.floor(g / this.height);
    const j = g - k * this.height;
    this.lineAddr = this.program!.base + j * this.program!.pitchBytes;
    this.lineStart = this.lineEdge(k, j);
    this.lineDur = this.lineEdge(k, j + 1) - this.lineStart;
  }

  /** Size of the next read: to the next burst boundary or the line's end. */
  private nextSize(): number {
    return alignedBurstBytes(this.lineAddr + this.fetchOff, this.burstBytes, this.lineBytes - this.fetchOff);
  }

  /** Records the next read (of `size` bytes) in the ring and advances the cursor; returns its slot. */
  private pushNext(size: number): number {
    if (this.rCount === this.cap) throw new SimInvariantError(`${this.path}: FIFO record ring overflow`);
    let slot = this.rHead + this.rCount;
    if (slot >= this.cap) slot -= this.cap;
    this.rCount++;
    const off = this.fetchOff;
    this.rSize[slot] = size;
    this.rLine[slot] = this.fetchLine;
    this.rDue[slot] = this.lineStart + floorDiv(off * this.lineDur, this.lineBytes);
    this.rRelease[slot] = this.lineStart + ceilDiv((off + size) * this.lineDur, this.lineBytes);
    this.rArrival[slot] = -1;
    this.rFlags[slot] = 0;
    this.fifoUsed += size;
    this.fetchOff = off + size;
    if (this.fetchOff === this.lineBytes) {
      this.fetchOff = 0;
      this.fetchLine++;
      if (this.fetchLine >= this.lineLimit) this.fetchDone = true;
      else this.setupFetchLine();
    }
    return slot;
  }

  private popHead(): void {
    this.fifoUsed -= this.rSize[this.rHead];
    this.rHead = this.rHead + 1 === this.cap ? 0 : this.rHead + 1;
    this.rCount--;
  }

  /** Books the completion of the read in `slot` at tick `arrival` with `status`. */
  private complete(slot: number, arrival: Tick, status: Status, latency: Tick): void {
    const bus = this.bus;
    bus.sLatency.sample(latency / 1000);
    this.rArrival[slot] = arrival;
    const line = this.rLine[slot];
    if (status !== Status.Ok) {
      bus.sErrors.inc();
      this.rFlags[slot] = FAILED;
      if (line >= 0) this.sLateBursts.inc();
      return;
    }
    bus.sBytesRead!.inc(this.rSize[slot]);
    if (line < 0) return;
    const due = this.rDue[slot];
    if (arrival > due) {
      this.sLateBursts.inc();
      const ns = (arrival - due) / 1000;
      this.sLatenessTotal.inc(ns);
      this.sLateness.sample(ns);
    } else {
      this.onTime[line % this.onTime.length] += this.rSize[slot];
    }
  }

  // ---- timing mode ----

  private issue(): void {
    const now = this.ctx.engine.now;
    const bus = this.bus;
    while (this.active && !this.fetchDone && bus.inFlight < bus.maxOutstanding) {
      const size = this.nextSize();
      if (this.fifoUsed + size > this.fifoBytes) break;
      const addr = this.lineAddr + this.fetchOff;
      const slot = this.pushNext(size);
      const t = this.pool.alloc(Cmd.Read, addr, size, this.masterId, now);
      t.tag = slot;
      bus.issue(t);
    }
    this.scheduleRetire();
  }

  /** Frees, in order, the reads that have arrived and been consumed (or belong to a stopped scanout). */
  private retire(): void {
    const now = this.ctx.engine.now;
    while (this.rCount > 0) {
      const h = this.rHead;
      if (this.rArrival[h] < 0) break;
      if (this.rLine[h] >= 0 && this.rRelease[h] > now) break;
      this.popHead();
    }
  }

  /** Arms the retire event for the head read if it has arrived and is still being shown; an arrival retires otherwise. */
  private scheduleRetire(): void {
    if (this.retirePending || this.rCount === 0) return;
    const h = this.rHead;
    if (this.rArrival[h] < 0 || this.rLine[h] < 0) return;
    this.retirePending = true;
    this.ctx.engine.schedule(this.rRelease[h], this.onRetire);
  }

  private readonly onRetire = (): void => {
    this.retirePending = false;
    this.retire();
    this.issue();
  };

  recvRetry(): void {
    this.bus.retry();
  }

  recvResponse(t: Transaction): void {
    const now = this.ctx.engine.now;
    this.complete(t.tag, now, t.status, now - t.issueTick);
    this.pool.release(t);
    this.bus.done();
    this.retire();
    this.issue();
    this.maybeFinish();
  }

  // ---- atomic mode ----

  /**
   * Performs, with atomic accesses, every read whose issue time is at most `limit`. A
   * read issues at the first tick when a slot is free (fewer than maxOutstanding
   * completions pending) and the FIFO has room (heads retire at max(consumed, arrived,
   * previous retire)); vCursor carries the bound found so far.
   */
  private fetchAtomic(limit: Tick): void {
    const slots = this.completions;
    while (this.active && !this.fetchDone) {
      const size = this.nextSize();
      // A read waits for a slot (−Infinity while one is free); the slot is taken below.
      const free = slots.earliest();
      if (free > limit) return;
      if (free > this.vCursor) this.vCursor = free;
      while (this.fifoUsed + size > this.fifoBytes) {
        const h = this.rHead;
        let rt = this.rRelease[h] > this.rArrival[h] ? this.rRelease[h] : this.rArrival[h];
        if (this.lastRetire > rt) rt = this.lastRetire;
        if (rt > limit) return;
        this.lastRetire = rt;
        if (rt > this.vCursor) this.vCursor = rt;
        this.popHead();
      }
      const at = this.vCursor;
      if (at > limit) return;
      const addr = this.lineAddr + this.fetchOff;
      const slot = this.pushNext(size);
      const t = this.pool.alloc(Cmd.Read, addr, size, this.masterId, at);
      const latency = this.port.sendAtomic(t);
      this.complete(slot, at + latency, t.status, latency);
      this.pool.release(t);
      slots.take(at + latency);
    }
  }
}


/** Device kind `display`: a scanout engine (scenario job `display` programs the frame and timing). */
export const displayDeviceKind = defineDeviceKind({
  spec: deviceFields('display', {
    burstBytes: BurstBytes.describe('bytes per scanout read'),
    maxOutstanding: Outstanding,
    fifoBytes: DeviceBufferBytes.describe('pixel FIFO (latency buffer) between memory and the panel'),
  }),
  describe: 'a display controller scanning a frame buffer at the refresh rate the scenario sets',
  rules: (d) => {
    if (d.burstBytes === 0) return [['burstBytes', 'must be positive']];
    if (d.fifoBytes < d.burstBytes) return [['fifoBytes', `must be at least burstBytes (${d.burstBytes}), got ${d.fifoBytes}`]];
    return [];
  },
  build: (env, d) => new DisplayController(env.ctx, env.path, env.clock, env.masterId, {
    burstBytes: d.burstBytes, maxOutstanding: d.maxOutstanding, fifoBytes: d.fifoBytes, mode: env.mode,
  }),
});
