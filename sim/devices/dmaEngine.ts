import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import { hex } from '../engine/addr';
import type { Counter } from '../engine/stats';
import type { Tick } from '../engine/time';
import { BusMaster } from '../bus/busMaster';
import type { RequestPort, ResponseReceiver } from '../bus/port';
import { Cmd, Status, STATUS_NAMES, type Transaction, TransactionPool } from '../bus/transaction';
import { defineDeviceKind, deviceFields, BurstBytes, Outstanding } from '../soc/deviceSpec';
import type { AccessMode } from '../engine/accessMode';
import type { AtomicPhase, FastForwardDevice } from './fastForward';
import { copyBurstBytes } from '../bus/boundary';


export interface DmaEngineParams {
  /** Bytes per read/write transaction. */
  burstBytes: number;
  /** Transactions in flight at once, reads and writes together. */
  maxOutstanding: number;
  /** Default 'timing'. */
  mode?: AccessMode;
}

export interface DmaCopyResult {
  status: Status;
  /** Bytes written successfully to the destination. */
  bytesWritten: number;
  /** Address of the first failed transaction, or null. */
  faultAddr: number | null;
  startTick: Tick;
  endTick: Tick;
}

export type DmaDoneCallback = (result: DmaCopyResult) => void;

interface CopyJob {
  src: number;
  dst: number;
  bytes: number;
  done: DmaDoneCallback;
}

/**
 * A direct-mapped DMA copy engine: bus addresses are used as they are.
 *
 * A copy is split into bursts of `burstBytes`, shorter where a burst would cross a 4 KiB
 * boundary of the source or the destination (no bus transaction does: bus/boundary.ts).
 * Each burst is a read of the source; its
 * response is turned into the write of the destination in the same pooled transaction,
 * so the data moved is exactly the data read. Requests go out back-to-back, at most
 * `maxOutstanding` at a time, and the interconnect's queues and back-pressure pace
 * them. Copies queue FIFO, one active at a time.
 *
 * Errors are data: the first failing transaction (decode or access error) stops new
 * reads, in-flight ones drain, and the copy completes with that status and address.
 * Nothing throws.
 *
 * Atomic mode (`params.mode = 'atomic'`, for fast-forward): when a copy starts, every
 * burst is done at once with `sendAtomic`, in order: the read, then the write of the
 * same data to the destination. The data effect is therefore immediate, and the stats
 * (`bytes_read`, `bytes_written`, `errors`, `copies`, `txn_latency_ns` with the
 * estimated latencies) count as in timing mode. Exactly one event is scheduled per copy,
 * its completion, at start + an estimated duration:
 *   max(ceil(Σ over bursts of (read + write latency) / maxOutstanding),
 *       the largest single burst's read + write latency)
 * i.e. the bursts' idle round trips overlapped `maxOutstanding` at a time, but never
 * shorter than one round trip. The estimate knows no bandwidth limit, so it is short
 * when the copy is bandwidth-bound (the atomic latencies are idle-system latencies).
 * The first failing burst stops the copy (later bursts are not performed; a failed
 * read is not written) and the copy completes with its status and address; timing mode
 * may also have finished some bursts that were already in flight, so byte counts of a
 * failed copy can differ between the modes. `busy` and the done callback follow the
 * completion event; `progress` is 1 as soon as the data has moved. The mode is fixed
 * at construction: atomic and timing accesses are not mixed within one run.
 */
export class DmaEngine implements ResponseReceiver, FastForwardDevice {
  readonly port: RequestPort;
  private readonly pool: TransactionPool;
  private readonly queue: CopyJob[] = [];
  private job: CopyJob | null = null;
  private nextOffset = 0;
  private bytesWritten = 0;
  private failStatus: Status = Status.Ok;
  private faultAddr: number | null = null;
  private startTick: Tick = 0;
  /** Port, in-order sending, the maxOutstanding bursts, and errors/txn_latency_ns/bytes_read/bytes_written. */
  private readonly bus: BusMaster;
  private readonly sCopies: Counter;
  /** Atomic until a fast-forward switches it to timing (resumeTiming). */
  private accessMode: AccessMode;
  /** Fast-forward: the atomic phase, until the switch. */
  private ff: AtomicPhase | null = null;

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    readonly clock: ClockDomain,
    readonly masterId: number,
    readonly params: DmaEngineParams,
  ) {
    if (!(params.burstBytes > 0) || !(params.maxOutstanding > 0)) {
      throw new SimInvariantError(`${path}: burstBytes and maxOutstanding must be positive`);
    }
    const mode = params.mode ?? 'timing';
    if (mode !== 'timing' && mode !== 'atomic') {
      throw new SimInvariantError(`${path}: mode must be "timing" or "atomic", got ${JSON.stringify(mode)}`);
    }
    this.accessMode = mode;
    this.pool = new TransactionPool(params.burstBytes);
    const s = ctx.stats.scope(path);
    this.bus = new BusMaster(path, this, params.maxOutstanding, s, {
      errors: { desc: 'transactions that completed with an error' },
      latency: { name: 'txn_latency_ns', desc: 'issue to response of each transaction, ns' },
      bytesRead: { desc: 'bytes read from the source' },
      bytesWritten: { desc: 'bytes written to the destination' },
    });
    this.port = this.bus.port;
    this.sCopies = s.counter('copies', 'copies completed (any status)');
  }

  get busy(): boolean {
    return this.job !== null;
  }

  get mode(): AccessMode {
    return this.accessMode;
  }

  /**
   * Fast-forward: copies go in batches of up to maxOutstanding bursts, one event each
   * (instead of one event per copy), so the device can park between batches.
   */
  beginFastForward(phase: AtomicPhase): void {
    if (this.accessMode !== 'atomic') throw new SimInvariantError(`${this.path}: fast-forward needs a device built in atomic mode`);
    this.ff = phase;
  }

  /** The switch (fast-forward): a parked copy continues with its next burst in timing mode. */
  resumeTiming(): void {
    this.accessMode = 'timing';
    this.ff = null;
    if (this.job !== null) this.ctx.engine.schedule(this.ctx.engine.now, this.onResume);
  }

  private readonly onResume = (): void => this.issueReads();

  /** Fraction of the active copy's bytes written (1 when idle). */
  get progress(): number {
    return this.job ? this.bytesWritten / this.job.bytes : 1;
  }

  /** Queues a copy of `bytes` from `src` to `dst`; `done` runs when it completes. */
  copy(src: number, dst: number, bytes: number, done: DmaDoneCallback): void {
    if (!(bytes > 0) || !Number.isSafeInteger(bytes)) throw new SimInvariantError(`${this.path}: copy of ${bytes} bytes`);
    this.queue.push({ src, dst, bytes, done });
    if (!this.job) this.startNext();
  }

  private startNext(): void {
    const job = this.queue.shift();
    if (!job) return;
    this.job = job;
    this.nextOffset = 0;
    this.bytesWritten = 0;
    this.failStatus = Status.Ok;
    this.faultAddr = null;
    this.startTick = this.ctx.engine.now;
    if (this.ctx.tracer.dma) {
      this.ctx.tracer.emit('dma', this.startTick, { dev: this.path, ev: 'start', src: hex(job.src), dst: hex(job.dst), bytes: job.bytes });
    }
    if (this.accessMode === 'timing') this.issueReads();
    else if (this.ff !== null) this.atomicBatch();
    else this.copyAtomic();
  }

  /** Performs the whole active copy with atomic accesses and schedules its completion. */
  private copyAtomic(): void {
    const job = this.job!;
    const engine = this.ctx.engine;
    const now = engine.now;
    let sum = 0;
    let longest = 0;
    while (this.nextOffset < job.bytes && this.failStatus === Status.Ok) {
      const trip = this.atomicBurst(now);
      sum += trip;
      if (trip > longest) longest = trip;
    }
    const overlapped = Math.ceil(sum / this.params.maxOutstanding);
    engine.schedule(now + (overlapped > longest ? overlapped : longest), this.onAtomicDone);
  }

  private readonly onAtomicDone = (): void => this.finish();

  /**
   * Fast-forward: one batch of up to maxOutstanding bursts (fewer when the phase's
   * access budget is smaller), lasting the same estimate as a whole atomic copy. Each
   * batch event is a drain point: the copy finishes there when its data has moved,
   * else the device may park.
   */
  private atomicBatch(): void {
    const job = this.job!;
    const ff = this.ff!;
    const now = this.ctx.engine.now;
    if (this.nextOffset >= job.bytes || this.failStatus !== Status.Ok) {
      this.finish();
      return;
    }
    if (ff.parkHere(now)) return;
    // Each burst is two accesses (its read and its write).
    const max = this.params.maxOutstanding;
    const bursts = Math.min(max, Math.max(1, Math.floor(ff.budget() / 2)));
    let sum = 0;
    let longest = 0;
    let n = 0;
    for (; n < bursts && this.nextOffset < job.bytes && this.failStatus === Status.Ok; n++) {
      const trip = this.atomicBurst(now);
      sum += trip;
      if (trip > longest) longest = trip;
    }
    ff.accesses += 2 * n;
    const overlapped = Math.ceil(sum / max);
    this.ctx.engine.schedule(now + (overlapped > longest ? overlapped : longest), this.onAtomicBatch);
  }

  private readonly onAtomicBatch = (): void => {
    // After the switch, a batch event still pending would find the device in timing mode (cannot happen: the device parks before).
    if (this.ff !== null) this.atomicBatch();
  };

  /** The next burst of the active copy with atomic accesses (read, then write of the same data); returns its round trip. */
  private atomicBurst(now: Tick): Tick {
    const job = this.job!;
    const off = this.nextOffset;
    const size = copyBurstBytes(job.src + off, job.dst + off, this.params.burstBytes, job.bytes - off);
    this.nextOffset = off + size;
    const t = this.pool.alloc(Cmd.Read, job.src + off, size, this.masterId, now);
    t.tag = off;
    let trip = this.port.sendAtomic(t);
    this.bus.sLatency.sample(trip / 1000);
    if (t.status !== Status.Ok) {
      this.fail(t);
    } else {
      this.bus.sBytesRead!.inc(size);
      t.cmd = Cmd.Write;
      t.addr = job.dst + off;
      t.status = Status.Pending;
      t.resetRoute();
      const w = this.port.sendAtomic(t);
      this.bus.sLatency.sample(w / 1000);
      trip += w;
      // (A cast: the compiler keeps the Pending set above, not knowing the slave sets it.)
      if ((t.status as Status) !== Status.Ok) {
        this.fail(t);
      } else {
        this.bus.sBytesWritten!.inc(size);
        this.bytesWritten += size;
      }
    }
    this.pool.release(t);
    return trip;
  }

  private issueReads(): void {
    const job = this.job!;
    const now = this.ctx.engine.now;
    const bus = this.bus;
    while (bus.inFlight < bus.maxOutstanding && this.nextOffset < job.bytes && this.failStatus === Status.Ok) {
      const off = this.nextOffset;
      const size = copyBurstBytes(job.src + off, job.dst + off, this.params.burstBytes, job.bytes - off);
      const t = this.pool.alloc(Cmd.Read, job.src + off, size, this.masterId, now);
      t.tag = this.nextOffset;
      this.nextOffset += size;
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
    if (t.status !== Status.Ok) {
      this.fail(t);
    } else if (t.cmd === Cmd.Read) {
      bus.sBytesRead!.inc(t.size);
      if (this.failStatus === Status.Ok) {
        // Reuse the transaction (and its data) as the write of the same burst.
        t.cmd = Cmd.Write;
        t.addr = this.job!.dst + t.tag;
        t.status = Status.Pending;
        t.issueTick = now;
        t.resetRoute();
        bus.send(t);
        return;
      }
    } else {
      bus.sBytesWritten!.inc(t.size);
      this.bytesWritten += t.size;
    }
    bus.done();
    this.pool.release(t);
    if (bus.inFlight === 0 && (this.nextOffset >= this.job!.bytes || this.failStatus !== Status.Ok)) this.finish();
    else this.issueReads();
  }

  private fail(t: Transaction): void {
    this.bus.sErrors.inc();
    if (this.failStatus === Status.Ok) {
      this.failStatus = t.status;
      this.faultAddr = t.addr;
    }
  }

  private finish(): void {
    const job = this.job!;
    const result: DmaCopyResult = {
      status: this.failStatus,
      bytesWritten: this.bytesWritten,
      faultAddr: this.faultAddr,
      startTick: this.startTick,
      endTick: this.ctx.engine.now,
    };
    this.sCopies.inc();
    if (this.ctx.tracer.dma) {
      this.ctx.tracer.emit('dma', result.endTick, {
        dev: this.path, ev: 'done', status: STATUS_NAMES[result.status], bytes: result.bytesWritten,
        fault: result.faultAddr === null ? null : hex(result.faultAddr),
      });
    }
    this.job = null;
    job.done(result);
    if (!this.job) this.startNext();
    if (this.job === null && this.ff !== null) this.ff.idle();
  }
}

/** Device kind `dma`: a copy engine (scenario job `dma-copy`). */
export const dmaDeviceKind = defineDeviceKind({
  spec: deviceFields('dma', {
    burstBytes: BurstBytes.describe('bytes per read/write transaction'),
    maxOutstanding: Outstanding.describe('transactions in flight (reads + writes)'),
  }),
  rules: (d) => (d.burstBytes > 0 ? [] : [['burstBytes', 'must be positive']]),
  build: (env, d) => new DmaEngine(env.ctx, env.path, env.clock, env.masterId, { burstBytes: d.burstBytes, maxOutstanding: d.maxOutstanding, mode: env.mode }),
});
