import { InOrderSender } from '../../../sim/bus/inOrderSender';
import { connectPorts, RequestPort, ResponsePort, type RequestReceiver, type ResponseReceiver } from '../../../sim/bus/port';
import { Transaction } from '../../../sim/bus/transaction';

/** A slave that accepts `credit` requests, then refuses until given more. */
class CreditSlave implements RequestReceiver {
  credit = 0;
  readonly got: number[] = [];
  recvRequest(txn: Transaction): boolean {
    if (this.credit === 0) return false;
    this.credit--;
    this.got.push(txn.id);
    return true;
  }
  recvAtomic(): number {
    return 0;
  }
  recvFunctional(): void {}
}

describe('InOrderSender', () => {
  test('under steady back-pressure (never drained) it keeps order and its queue stays bounded (issue 15 soak leak)', () => {
    const slave = new CreditSlave();
    const master = new RequestPort('m', {} as ResponseReceiver);
    connectPorts(master, new ResponsePort('s', slave));
    const sender = new InOrderSender(master);
    const txns = Array.from({ length: 8 }, () => new Transaction(0));
    let id = 0;
    const send = () => {
      const t = txns[id % 8];
      t.id = ++id;
      sender.send(t);
    };
    for (let i = 0; i < 4; i++) send();
    // Each round the slave takes one and the master sends one more: 4 always wait.
    for (let round = 0; round < 200_000; round++) {
      slave.credit = 1;
      sender.retry();
      send();
      expect(sender.waiting).toBe(4);
    }
    expect(slave.got.length).toBe(200_000);
    expect(slave.got.every((v, i) => v === i + 1)).toBe(true);
    // Before the fix the array held one slot per request ever refused (200004 here).
    expect((sender as unknown as { queue: { items: unknown[] } }).queue.items.length).toBeLessThan(4096);
  });
});
