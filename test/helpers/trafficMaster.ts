import type { SimContext } from '../../sim/engine/context';
import { RequestPort, type ResponseReceiver } from '../../sim/bus/port';
import { Cmd, Status, Transaction, TransactionPool } from '../../sim/bus/transaction';
import type { Tick } from '../../sim/engine/time';

export interface TrafficRequest {
  cmd: Cmd;
  addr: number;
  size: number;
  /** Write payload (defaults to zeros). */
  data?: Uint8Array;
}

/** Outcome of a one-off atomic or functional access. */
export interface ImmediateResult {
  status: Status;
  /** Estimated latency (atomic) or 0 (functional). */
  latency: Tick;
  data: Uint8Array; // copy of the payload after the access
}

export interface CompletedRequest {
  id: number;
  cmd: Cmd;
  addr: number;
  size: number;
  status: Status;
  issueTick: Tick;
  doneTick: Tick;
  data: Uint8Array; // copy of the response payload
}

/**
 * A test bus master: sends a list of requests in order, keeping at most
 * `maxOutstanding` in flight, honouring back-pressure (retries), and records each
 * completion. `refusals` counts how often the slave pushed back. `atomic` and
 * `functional` send one request through the same port in those modes, at once.
 */
export class TrafficMaster implements ResponseReceiver {
  readonly port: RequestPort;
  readonly completed: CompletedRequest[] = [];
  refusals = 0;
  inFlight = 0;
  private next = 0;
  private readonly pool = new TransactionPool(64);
  private blocked: Transaction | null = null;
  private issueScheduled = false;

  constructor(
    private readonly ctx: SimContext,
    name: string,
    readonly masterId: number,
    private readonly requests: TrafficRequest[],
    private readonly maxOutstanding = 1,
    /** Ticks between issues (0 = as fast as allowed). */
    private readonly issueGap: Tick = 0,
  ) {
    this.port = new RequestPort(`${name}.port`, this);
  }

  /** Schedules the first issue at `at`. */
  start(at: Tick = this.ctx.engine.now): void {
    this.ctx.engine.schedule(at, () => this.issue());
  }

  get done(): boolean {
    return this.next === this.requests.length && this.inFlight === 0 && !this.blocked;
  }

  /** Sends `r` with sendAtomic now (outside the request list). */
  atomic(r: TrafficRequest): ImmediateResult {
    const t = this.oneOff(r);
    const latency = this.port.sendAtomic(t);
    return this.finishOneOff(t, latency);
  }

  /** Sends `r` with sendFunctional now (outside the request list). */
  functional(r: TrafficRequest): ImmediateResult {
    const t = this.oneOff(r);
    this.port.sendFunctional(t);
    return this.finishOneOff(t, 0);
  }

  private oneOff(r: TrafficRequest): Transaction {
    const t = this.pool.alloc(r.cmd, r.addr, r.size, this.masterId, this.ctx.engine.now);
    if (r.data) t.data.set(r.data.subarray(0, r.size));
    else t.data.fill(0, 0, r.size);
    return t;
  }

  private finishOneOff(t: Transaction, latency: Tick): ImmediateResult {
    const res = { status: t.status, latency, data: t.data.slice(0, t.size) };
    // Atomic and functional paths must leave the route stack as they found it.
    if (t.routeDepth !== 0) throw new Error(`txn ${t.id}: route stack [${t.routeEntries().join(', ')}] left behind`);
    this.pool.release(t);
    return res;
  }

  private issue(): void {
    while (!this.blocked && this.inFlight < this.maxOutstanding && this.next < this.requests.length) {
      const r = this.requests[this.next++];
      const t = this.pool.alloc(r.cmd, r.addr, r.size, this.masterId, this.ctx.engine.now);
      if (r.data) t.data.set(r.data.subarray(0, r.size));
      else t.data.fill(0, 0, r.size);
      this.inFlight++;
      if (!this.port.sendRequest(t)) {
        this.refusals++;
        this.blocked = t;
        return;
      }
      if (this.issueGap > 0) {
        this.issueScheduled = true;
        this.ctx.engine.scheduleIn(this.issueGap, () => {
          this.issueScheduled = false;
          this.issue();
        });
        return;
      }
    }
  }

  recvRetry(): void {
    const t = this.blocked;
    if (!t) return;
    if (this.port.sendRequest(t)) {
      this.blocked = null;
      this.issue();
    } else {
      this.refusals++;
    }
  }

  recvResponse(t: Transaction): void {
    this.completed.push({
      id: t.id, cmd: t.cmd, addr: t.addr, size: t.size, status: t.status,
      issueTick: t.issueTick, doneTick: this.ctx.engine.now, data: t.data.slice(0, t.size),
    });
    this.inFlight--;
    this.pool.release(t);
    if (!this.issueScheduled) this.issue();
  }
}

export function reads(addrs: number[], size: number): TrafficRequest[] {
  return addrs.map((addr) => ({ cmd: Cmd.Read, addr, size }));
}
