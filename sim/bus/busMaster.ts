import type { Counter, Histogram, StatScope } from '../engine/stats';
import type { Tick } from '../engine/time';
import { InOrderSender } from './inOrderSender';
import { RequestPort, type ResponseReceiver } from './port';
import type { Transaction } from './transaction';

/** A stat the master registers: its name under the device's scope, and its description. */
export interface MasterStat {
  name: string;
  desc: string;
}

/**
 * The standard stats of a bus master, registered under the device's path. Every master
 * has `errors` and a latency histogram; the byte counters are for masters whose moved
 * bytes are reads and/or writes. Names default to the standard ones (`errors`,
 * `latency_ns`, `bytes_read`, `bytes_written`); a device overrides a name only where
 * its published name is older than this convention (e.g. the NIC's `dma_errors`).
 */
export interface BusMasterStats {
  errors: Partial<MasterStat> & { desc: string };
  /** The latency histogram (name ends in `_ns`; samples are ns). */
  latency: Partial<MasterStat> & { desc: string };
  bytesRead?: Partial<MasterStat> & { desc: string };
  bytesWritten?: Partial<MasterStat> & { desc: string };
}

/**
 * The bus-master side every device model shares: its RequestPort, in-order sending with
 * retry (an InOrderSender: a request the slave refuses, and every later one, waits for
 * `recvRetry`), the `maxOutstanding` limit with its in-flight count, and the standard
 * stats (`errors`, a latency histogram, `bytes_read` / `bytes_written`).
 *
 * A helper object each device owns (`this.bus`), not a base class, for two reasons:
 * - Speed. `issue`/`done` run per transaction. As a base-class method each would see
 *   eight receiver shapes (one per device class), making its field loads megamorphic;
 *   a BusMaster has one shape, so they stay monomorphic and V8 inlines them.
 * - Fit. The devices' constructors, modes and receivers differ (GpuEngine is built on a
 *   TrafficGenerator; the NIC and the CPU core have a second limit for another kind of
 *   transaction), so composing lets each keep its own class and take what it uses.
 *
 * The device stays the port's ResponseReceiver (responses go straight to it, no extra
 * hop) and forwards `recvRetry` to `retry()`. Counting: `issue(t)` takes a slot and
 * sends; `done()` frees it when the response has been handled; `send(t)` sends without
 * taking a slot (a slot's transaction re-sent as its next phase, e.g. a DMA burst's
 * write after its read, or a transaction the device does not count against the limit).
 */
export class BusMaster {
  readonly port: RequestPort;
  readonly maxOutstanding: number;
  /** Transactions issued and not yet done (including those waiting for a retry). */
  inFlight = 0;
  /** The most transactions ever in flight at once. */
  peakInFlight = 0;
  readonly sErrors: Counter;
  readonly sLatency: Histogram;
  /** Null when the device did not ask for it. */
  readonly sBytesRead: Counter | null;
  readonly sBytesWritten: Counter | null;
  private readonly sender: InOrderSender;

  constructor(path: string, owner: ResponseReceiver, maxOutstanding: number, scope: StatScope, stats: BusMasterStats) {
    this.port = new RequestPort(`${path}.port`, owner);
    this.sender = new InOrderSender(this.port);
    this.maxOutstanding = maxOutstanding;
    this.sErrors = scope.counter(stats.errors.name ?? 'errors', stats.errors.desc);
    this.sLatency = scope.histogram(stats.latency.name ?? 'latency_ns', stats.latency.desc);
    this.sBytesRead = stats.bytesRead ? scope.counter(stats.bytesRead.name ?? 'bytes_read', stats.bytesRead.desc) : null;
    this.sBytesWritten = stats.bytesWritten ? scope.counter(stats.bytesWritten.name ?? 'bytes_written', stats.bytesWritten.desc) : null;
  }

  /** True while a slot is free. */
  get canIssue(): boolean {
    return this.inFlight < this.maxOutstanding;
  }

  /** Requests refused by the slave and waiting for its retry. */
  get waiting(): number {
    return this.sender.waiting;
  }

  /** Takes a slot for `t` and sends it (in order). The caller checks `canIssue` first. */
  issue(t: Transaction): void {
    if (++this.inFlight > this.peakInFlight) this.peakInFlight = this.inFlight;
    this.sender.send(t);
  }

  /** Sends `t` in order without taking a slot. */
  send(t: Transaction): void {
    this.sender.send(t);
  }

  /** The response of an issued transaction has been handled: frees its slot. */
  done(): void {
    this.inFlight--;
  }

  /** The slave can take requests again (the owner's recvRetry). */
  retry(): void {
    this.sender.retry();
  }
}

/**
 * Atomic mode's stand-in for in-flight transactions: the estimated completion ticks of
 * up to `size` transactions that may still be in flight. A device's virtual issue time
 * waits for `earliest()` (a slot's completion) when every slot is taken. Shared by the
 * masters that estimate overlapped round trips per transaction (display, camera, CPU core).
 */
export class CompletionSlots {
  private readonly at: Float64Array;
  private count = 0;
  /** Index of the earliest completion found by earliest(), −1 when unknown. */
  private minIdx = -1;

  constructor(readonly size: number) {
    this.at = new Float64Array(size);
  }

  /** Forgets every transaction (a new run). */
  clear(): void {
    this.count = 0;
    this.minIdx = -1;
  }

  /** −Infinity while a slot is free; else the earliest completion, when a slot frees. */
  earliest(): Tick {
    if (this.count < this.size) return -Infinity;
    const a = this.at;
    let mi = 0;
    for (let i = 1; i < this.count; i++) if (a[i] < a[mi]) mi = i;
    this.minIdx = mi;
    return a[mi];
  }

  /** Books a transaction completing at `done`, in the slot freed first if all are taken. */
  take(done: Tick): void {
    if (this.count < this.size) {
      this.at[this.count++] = done;
      return;
    }
    if (this.minIdx < 0) this.earliest();
    this.at[this.minIdx] = done;
    this.minIdx = -1;
  }
}
