import type { SimContext } from '../../sim/engine/context';
import { ResponsePort, type RequestReceiver } from '../../sim/bus/port';
import { Cmd, Status, type Transaction } from '../../sim/bus/transaction';
import { PhysicalMemory } from '../../sim/mem/physmem';
import type { Tick } from '../../sim/engine/time';

export interface ThrottledSlaveOptions {
  /** Ticks from the end of a request's service to its response. */
  latency: Tick;
  /** Server time per byte in ps (0.1 = 10 GB/s); a request of n bytes occupies it ceil(n × psPerByte) ticks. */
  psPerByte: number;
  /** Requests held at once (accepted, not yet answered) before refusing; 0 or absent = unlimited. */
  queueLimit?: number;
  /**
   * Periodic stalls (like DRAM refresh): stall m blocks the server during
   * [offset + m·period, offset + m·period + durations[m mod durations.length]). A service
   * may not start inside a stall; one already running finishes. Each duration < period.
   */
  stalls?: { period: Tick; durations: Tick[]; offset?: Tick };
  /** Requests touching [base, base + size) complete with AccessError and move no data. */
  faultRange?: { base: number; size: number };
  mem?: PhysicalMemory;
}

/**
 * A bandwidth-limited test slave: one server takes accepted requests in order, each for
 * ceil(size × psPerByte) ticks (not starting inside a stall), and answers `latency`
 * after its service ends, so responses stay in order. Data moves at response time.
 * Records counts only (no per-access allocation).
 *
 * Atomic: the data effect at once; returns the idle-system latency (service + latency)
 * and leaves the server state alone. Functional: the data effect only.
 */
export class ThrottledSlave implements RequestReceiver {
  readonly port: ResponsePort;
  readonly mem: PhysicalMemory;
  accepted = 0;
  acceptedBytes = 0;
  refusals = 0;
  pending = 0;
  maxPending = 0;
  private readonly queue: Transaction[] = [];
  private serverFree: Tick = 0;
  private readonly limit: number;

  constructor(private readonly ctx: SimContext, name: string, private readonly opts: ThrottledSlaveOptions) {
    this.port = new ResponsePort(`${name}.port`, this);
    this.mem = opts.mem ?? new PhysicalMemory();
    this.limit = opts.queueLimit ?? 0;
    const st = opts.stalls;
    if (st && st.durations.some((d) => !(d >= 0 && d < st.period))) throw new Error('stall durations must lie in [0, period)');
  }

  private serviceTicks(size: number): Tick {
    return Math.ceil(size * this.opts.psPerByte);
  }

  /** First tick >= t that is not inside a stall. */
  private afterStalls(t: Tick): Tick {
    const st = this.opts.stalls;
    if (!st) return t;
    const off = st.offset ?? 0;
    if (t < off) return t;
    const m = Math.floor((t - off) / st.period);
    const end = off + m * st.period + st.durations[m % st.durations.length];
    return t < end ? end : t;
  }

  recvRequest(txn: Transaction): boolean {
    if (this.limit > 0 && this.pending >= this.limit) {
      this.refusals++;
      return false;
    }
    const now = this.ctx.engine.now;
    this.accepted++;
    this.acceptedBytes += txn.size;
    this.pending++;
    if (this.pending > this.maxPending) this.maxPending = this.pending;
    const start = this.afterStalls(Math.max(now, this.serverFree));
    this.serverFree = start + this.serviceTicks(txn.size);
    this.queue.push(txn);
    this.ctx.engine.schedule(this.serverFree + this.opts.latency, this.respond);
    return true;
  }

  recvAtomic(txn: Transaction): Tick {
    this.accepted++;
    this.acceptedBytes += txn.size;
    this.move(txn);
    return this.serviceTicks(txn.size) + this.opts.latency;
  }

  recvFunctional(txn: Transaction): void {
    this.move(txn);
  }

  private move(txn: Transaction): void {
    const f = this.opts.faultRange;
    if (f && txn.addr < f.base + f.size && txn.addr + txn.size > f.base) {
      txn.status = Status.AccessError;
      return;
    }
    if (txn.cmd === Cmd.Write) this.mem.write(txn.addr, txn.data, 0, txn.size);
    else this.mem.read(txn.addr, txn.data, 0, txn.size);
    txn.status = Status.Ok;
  }

  /** Completes the oldest pending request (service order = acceptance order). */
  private readonly respond = (): void => {
    const txn = this.queue.shift()!;
    this.move(txn);
    this.pending--;
    this.port.sendResponse(txn);
    if (this.port.retryOwed) this.port.sendRetry();
  };
}
