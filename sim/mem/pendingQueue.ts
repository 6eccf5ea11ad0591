import { SimInvariantError } from '../engine/errors';
import { PS_PER_NS, type Tick } from '../engine/time';
import type { Histogram } from '../engine/stats';
import { Status, type Transaction } from '../bus/transaction';

/**
 * FIFO of accepted transactions with the tick each was accepted and the tick its
 * response is due. Backed by parallel arrays that grow by doubling, so it allocates
 * nothing once sized to the slave's queue depth. Memory slaves complete requests in
 * order per queue, which lets one pre-bound completion handler pop the head.
 */
export class PendingQueue {
  private txns: (Transaction | null)[];
  private acceptTicks: Float64Array;
  private doneTicks: Float64Array;
  private head = 0;
  /** Entries queued. */
  count = 0;

  constructor(capacity: number) {
    const cap = Math.max(1, capacity);
    this.txns = new Array<Transaction | null>(cap).fill(null);
    this.acceptTicks = new Float64Array(cap);
    this.doneTicks = new Float64Array(cap);
  }

  push(txn: Transaction, acceptTick: Tick, doneTick: Tick): void {
    if (this.count === this.txns.length) this.grow();
    const i = (this.head + this.count) % this.txns.length;
    this.txns[i] = txn;
    this.acceptTicks[i] = acceptTick;
    this.doneTicks[i] = doneTick;
    this.count++;
  }

  /** Accept tick of the oldest entry (undefined behaviour when empty; check count). */
  headAcceptTick(): Tick {
    return this.acceptTicks[this.head];
  }

  /** Completion tick of the oldest entry. */
  headDoneTick(): Tick {
    return this.doneTicks[this.head];
  }

  /**
   * Completes the oldest entry, which must be due at `now`: samples its accept-to-now
   * latency (ns) into `latency`, marks it Ok and returns it. `owner` names the queue in
   * the invariant error.
   */
  completeHead(now: Tick, latency: Histogram, owner: string): Transaction {
    if (this.count === 0 || this.headDoneTick() !== now) {
      throw new SimInvariantError(`${owner}: completion at ${now} but head is due at ${this.count ? this.headDoneTick() : 'never (empty)'}`);
    }
    latency.sample((now - this.headAcceptTick()) / PS_PER_NS);
    const txn = this.shift();
    txn.status = Status.Ok;
    return txn;
  }

  /** Removes and returns the oldest entry. */
  shift(): Transaction {
    if (this.count === 0) throw new SimInvariantError('PendingQueue.shift on an empty queue');
    const t = this.txns[this.head]!;
    this.txns[this.head] = null;
    this.head = (this.head + 1) % this.txns.length;
    this.count--;
    return t;
  }

  private grow(): void {
    const cap = this.txns.length;
    const txns = new Array<Transaction | null>(cap * 2).fill(null);
    const acc = new Float64Array(cap * 2);
    const done = new Float64Array(cap * 2);
    for (let k = 0; k < this.count; k++) {
      const i = (this.head + k) % cap;
      txns[k] = this.txns[i];
      acc[k] = this.acceptTicks[i];
      done[k] = this.doneTicks[i];
    }
    this.txns = txns;
    this.acceptTicks = acc;
    this.doneTicks = done;
    this.head = 0;
  }
}
