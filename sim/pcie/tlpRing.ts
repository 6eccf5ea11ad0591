import type { Transaction } from '../bus/transaction';

/**
 * FIFO of pooled TLP records: (transaction, tick, two numbers) in parallel arrays with a
 * power-of-two capacity that doubles when full, so a link allocates nothing per request
 * once its queues have grown to their working size.
 */
export class TlpRing {
  txns: (Transaction | null)[];
  ticks: Float64Array;
  nums: Float64Array;
  aux: Float64Array;
  head = 0;
  count = 0;

  constructor(capacity = 16) {
    let cap = 4;
    while (cap < capacity) cap *= 2;
    this.txns = new Array<Transaction | null>(cap).fill(null);
    this.ticks = new Float64Array(cap);
    this.nums = new Float64Array(cap);
    this.aux = new Float64Array(cap);
  }

  push(txn: Transaction | null, tick: number, num: number, aux = 0): void {
    if (this.count === this.txns.length) this.grow();
    const j = (this.head + this.count) & (this.txns.length - 1);
    this.txns[j] = txn;
    this.ticks[j] = tick;
    this.nums[j] = num;
    this.aux[j] = aux;
    this.count++;
  }

  /** Removes the head record (check count first). */
  shift(): void {
    this.txns[this.head] = null;
    this.head = (this.head + 1) & (this.txns.length - 1);
    this.count--;
  }

  private grow(): void {
    const cap = this.txns.length;
    const txns = new Array<Transaction | null>(cap * 2).fill(null);
    const ticks = new Float64Array(cap * 2);
    const nums = new Float64Array(cap * 2);
    const aux = new Float64Array(cap * 2);
    for (let k = 0; k < this.count; k++) {
      const j = (this.head + k) & (cap - 1);
      txns[k] = this.txns[j];
      ticks[k] = this.ticks[j];
      nums[k] = this.nums[j];
      aux[k] = this.aux[j];
    }
    this.txns = txns;
    this.ticks = ticks;
    this.nums = nums;
    this.aux = aux;
    this.head = 0;
  }
}
