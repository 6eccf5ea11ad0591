import type { SimContext } from '../../sim/engine/context';
import { ResponsePort, type RequestReceiver } from '../../sim/bus/port';
import { Cmd, Status, type Transaction } from '../../sim/bus/transaction';
import { PhysicalMemory } from '../../sim/mem/physmem';
import type { Tick } from '../../sim/engine/time';

export interface FixedSlaveOptions {
  /** Ticks from acceptance to response. */
  latency: Tick;
  /** Requests held at once (accepted, not yet answered) before refusing; 0 or absent = unlimited. */
  queueLimit?: number;
  /** Backing store; a fresh one by default. */
  mem?: PhysicalMemory;
}

export interface SlaveAccess {
  tick: Tick;
  masterId: number;
  cmd: Cmd;
  addr: number;
  size: number;
}

/**
 * A test slave: answers every request exactly `latency` ticks after accepting it, in
 * order, copying data to/from a PhysicalMemory at response time. With `queueLimit` it
 * refuses while that many requests are pending and sends the owed retry when one
 * completes. Records every accepted request (tests only; allocates per access).
 *
 * Atomic: applies the data effect at once, sets `Status.Ok`, records the access in
 * `accepted` (at the current tick) and returns `latency`; never refuses, schedules
 * nothing, leaves `pending` alone. Functional: the data effect and `Status.Ok` only,
 * counted in `functionalAccesses` (not in `accepted`).
 */
export class FixedSlave implements RequestReceiver {
  readonly port: ResponsePort;
  readonly mem: PhysicalMemory;
  readonly accepted: SlaveAccess[] = [];
  refusals = 0;
  pending = 0;
  maxPending = 0;
  functionalAccesses = 0;
  private readonly queue: Transaction[] = [];
  private readonly latency: Tick;
  private readonly limit: number;

  constructor(private readonly ctx: SimContext, name: string, opts: FixedSlaveOptions) {
    this.port = new ResponsePort(`${name}.port`, this);
    this.mem = opts.mem ?? new PhysicalMemory();
    this.latency = opts.latency;
    this.limit = opts.queueLimit ?? 0;
  }

  recvRequest(txn: Transaction): boolean {
    if (this.limit > 0 && this.pending >= this.limit) {
      this.refusals++;
      return false;
    }
    const now = this.ctx.engine.now;
    this.accepted.push({ tick: now, masterId: txn.masterId, cmd: txn.cmd, addr: txn.addr, size: txn.size });
    this.pending++;
    if (this.pending > this.maxPending) this.maxPending = this.pending;
    this.queue.push(txn);
    this.ctx.engine.scheduleIn(this.latency, this.respond);
    return true;
  }

  recvAtomic(txn: Transaction): Tick {
    this.accepted.push({ tick: this.ctx.engine.now, masterId: txn.masterId, cmd: txn.cmd, addr: txn.addr, size: txn.size });
    this.move(txn);
    txn.status = Status.Ok;
    return this.latency;
  }

  recvFunctional(txn: Transaction): void {
    this.functionalAccesses++;
    this.move(txn);
    txn.status = Status.Ok;
  }

  private move(txn: Transaction): void {
    if (txn.cmd === Cmd.Write) this.mem.write(txn.addr, txn.data, 0, txn.size);
    else this.mem.read(txn.addr, txn.data, 0, txn.size);
  }

  /** Completes the oldest pending request (fixed latency keeps them in order). */
  private readonly respond = (): void => {
    const txn = this.queue.shift()!;
    this.move(txn);
    txn.status = Status.Ok;
    this.pending--;
    this.port.sendResponse(txn);
    if (this.port.retryOwed) this.port.sendRetry();
  };
}
