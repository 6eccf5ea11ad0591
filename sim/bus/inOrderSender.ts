import { Fifo } from '../engine/fifo';
import type { RequestPort } from './port';
import type { Transaction } from './transaction';

/**
 * A master's request queue towards one RequestPort: requests go out in the order they
 * were sent; one refused by the slave (and every later one) waits, and is re-sent when
 * the slave calls recvRetry. The owner forwards its `recvRetry` to `retry()`. The
 * waiting requests live in a ring (Fifo), so a queue kept busy for a whole run stays
 * the size of its longest backlog.
 */
export class InOrderSender {
  private readonly queue = new Fifo<Transaction>();

  constructor(private readonly port: RequestPort) {}

  /** Requests waiting for the slave. */
  get waiting(): number {
    return this.queue.length;
  }

  send(txn: Transaction): void {
    if (this.queue.length > 0 || !this.port.sendRequest(txn)) this.queue.push(txn);
  }

  /** The slave can take requests again: re-send in order until it refuses one. */
  retry(): void {
    for (let t = this.queue.peek(); t !== undefined; t = this.queue.peek()) {
      if (!this.port.sendRequest(t)) return;
      this.queue.shift();
    }
  }
}
