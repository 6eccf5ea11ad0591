import type { RequestPort } from './port';
import type { Transaction } from './transaction';

/**
 * A master's request queue towards one RequestPort: requests go out in the order they
 * were sent; one refused by the slave (and every later one) waits, and is re-sent when
 * the slave calls recvRetry. The owner forwards its `recvRetry` to `retry()`.
 */
export class InOrderSender {
  private readonly queue: Transaction[] = [];
  private head = 0;

  constructor(private readonly port: RequestPort) {}

  /** Requests waiting for the slave. */
  get waiting(): number {
    return this.queue.length - this.head;
  }

  send(txn: Transaction): void {
    if (this.head < this.queue.length || !this.port.sendRequest(txn)) this.queue.push(txn);
  }

  /** The slave can take requests again: re-send in order until it refuses one. */
  retry(): void {
    while (this.head < this.queue.length) {
      if (!this.port.sendRequest(this.queue[this.head])) {
        this.compact();
        return;
      }
      this.queue[this.head++] = null!;
    }
    this.queue.length = 0;
    this.head = 0;
  }

  /**
   * Drops the sent entries in front of `head` once they are most of the array. Under
   * steady back-pressure the queue never empties, and without this it grew by one slot
   * per refused request for the whole run (the soak benchmark's RSS grew ~10 bytes per
   * access). Amortised O(1): it moves at most as many entries as were sent since the last time.
   */
  private compact(): void {
    const q = this.queue;
    if (this.head < 1024 || this.head * 2 < q.length) return;
    q.copyWithin(0, this.head);
    q.length -= this.head;
    this.head = 0;
  }
}
