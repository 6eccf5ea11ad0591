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
      if (!this.port.sendRequest(this.queue[this.head])) return;
      this.queue[this.head++] = null!;
    }
    this.queue.length = 0;
    this.head = 0;
  }
}
