import { SimInvariantError } from '../engine/errors';
import type { Tick } from '../engine/time';
import type { Transaction } from './transaction';

/**
 * Point-to-point ports with back-pressure, after gem5's timing protocol.
 *
 *   master ──RequestPort ── sendRequest ──▶ ResponsePort── slave
 *          ◀── recvResponse / recvRetry ──
 *
 * - `sendRequest` returns false when the slave cannot take the request now; the slave
 *   then owes the master exactly one `recvRetry` once it can, and the master re-sends.
 * - Responses are always accepted: masters bound their outstanding requests, so they
 *   have reserved room for every response.
 * - Calls are synchronous; timing is the caller's job (a slave schedules an event for
 *   the completion tick, then calls `sendResponse`). Update your own state before
 *   calling `sendRetry`, since the master may send again from inside it.
 *
 * Two more access paths reach the same models, after gem5:
 * - atomic (`sendAtomic`): the access happens now, with its data effect, status, stats
 *   and state changes (TLB fills, open rows); it returns an estimated latency in ticks
 *   and schedules no event. For fast-forward.
 * - functional (`sendFunctional`): the data effect only, in zero time; no stats, no
 *   state change, no TLB. For debugging, loaders and checks.
 */

/** Implemented by whoever owns a slave-side port (memories, crossbar inputs, bridges). */
export interface RequestReceiver {
  recvRequest(txn: Transaction, port: ResponsePort): boolean;
  /** Performs the access now and returns its estimated latency in ticks (sets txn.status). */
  recvAtomic(txn: Transaction, port: ResponsePort): Tick;
  /** Performs the data effect now, in zero time, touching no stats (sets txn.status). */
  recvFunctional(txn: Transaction, port: ResponsePort): void;
}

/** Implemented by whoever owns a master-side port (devices, crossbar outputs, bridges). */
export interface ResponseReceiver {
  recvResponse(txn: Transaction, port: RequestPort): void;
  recvRetry(port: RequestPort): void;
}

/** The master side of a link. */
export class RequestPort {
  peer: ResponsePort | null = null;

  constructor(
    readonly name: string,
    readonly owner: ResponseReceiver,
    /** Owner-defined index (e.g. a crossbar output number). */
    readonly index = 0,
  ) {}

  get connected(): boolean {
    return this.peer !== null;
  }

  /** Atomic access: done on return; the result is its estimated latency in ticks. */
  sendAtomic(txn: Transaction): Tick {
    const peer = this.peer;
    if (!peer) throw new SimInvariantError(`port ${this.name} is not connected`);
    return peer.owner.recvAtomic(txn, peer);
  }

  /** Functional access: data effect only, zero time, no stats. */
  sendFunctional(txn: Transaction): void {
    const peer = this.peer;
    if (!peer) throw new SimInvariantError(`port ${this.name} is not connected`);
    peer.owner.recvFunctional(txn, peer);
  }

  /** Offers `txn` to the slave; false means "busy, wait for recvRetry". */
  sendRequest(txn: Transaction): boolean {
    const peer = this.peer;
    if (!peer) throw new SimInvariantError(`port ${this.name} is not connected`);
    const accepted = peer.owner.recvRequest(txn, peer);
    if (!accepted) peer.retryOwed = true;
    return accepted;
  }
}

/** The slave side of a link. */
export class ResponsePort {
  peer: RequestPort | null = null;
  /** Set when a request was refused; cleared by sendRetry. */
  retryOwed = false;

  constructor(
    readonly name: string,
    readonly owner: RequestReceiver,
    readonly index = 0,
  ) {}

  get connected(): boolean {
    return this.peer !== null;
  }

  sendResponse(txn: Transaction): void {
    const peer = this.peer;
    if (!peer) throw new SimInvariantError(`port ${this.name} is not connected`);
    peer.owner.recvResponse(txn, peer);
  }

  /** Tells the master it may re-send, if a refusal is outstanding. */
  sendRetry(): void {
    if (!this.retryOwed || !this.peer) return;
    this.retryOwed = false;
    this.peer.owner.recvRetry(this.peer);
  }
}

export function connectPorts(master: RequestPort, slave: ResponsePort): void {
  if (master.peer || slave.peer) {
    throw new SimInvariantError(`cannot connect ${master.name} to ${slave.name}: already connected`);
  }
  master.peer = slave;
  slave.peer = master;
}
