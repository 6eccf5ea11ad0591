import { connectPorts, RequestPort, type ResponseReceiver } from '../../../sim/bus/port';
import { Cmd, Status, Transaction, TransactionPool } from '../../../sim/bus/transaction';
import { SimInvariantError } from '../../../sim/engine/errors';
import { GateSlave } from '../../helpers/gateSlave';

/** A master that records what it is told; optionally re-sends from inside recvRetry. */
class Master implements ResponseReceiver {
  readonly port = new RequestPort('m.port', this);
  retries = 0;
  responses: Transaction[] = [];
  resendOnRetry: Transaction | null = null;
  resendResults: boolean[] = [];
  recvResponse(t: Transaction, port: RequestPort): void {
    expect(port).toBe(this.port);
    this.responses.push(t);
  }
  recvRetry(port: RequestPort): void {
    expect(port).toBe(this.port);
    this.retries++;
    if (this.resendOnRetry) this.resendResults.push(this.port.sendRequest(this.resendOnRetry));
  }
}

/** The slave: accepts only while open (it starts closed here). */
class Gate extends GateSlave {
  constructor() {
    super(false);
  }
}

const pool = new TransactionPool(64);
const txn = (): Transaction => pool.alloc(Cmd.Read, 0x1000, 64, 0, 0);

describe('ports', () => {
  test('connecting an already-connected port throws and leaves the first link intact', () => {
    const m = new Master();
    const s = new Gate();
    connectPorts(m.port, s.port);
    expect(m.port.peer).toBe(s.port);
    expect(s.port.peer).toBe(m.port);
    const m2 = new Master();
    const s2 = new Gate();
    expect(() => connectPorts(m.port, s2.port)).toThrow(SimInvariantError);
    expect(() => connectPorts(m2.port, s.port)).toThrow(SimInvariantError);
    expect(() => connectPorts(m.port, s.port)).toThrow(/already connected/);
    expect(m.port.peer).toBe(s.port);
    expect(s.port.peer).toBe(m.port);
    expect(s2.port.connected).toBe(false);
    expect(m2.port.connected).toBe(false);
  });

  test('sending on an unconnected port throws SimInvariantError naming the port', () => {
    const m = new Master();
    const s = new Gate();
    expect(() => m.port.sendRequest(txn())).toThrow(SimInvariantError);
    expect(() => m.port.sendRequest(txn())).toThrow(/m\.port is not connected/);
    expect(() => s.port.sendResponse(txn())).toThrow(/s\.port is not connected/);
    // A retry with nothing owed, or nobody to tell, is a no-op.
    expect(() => s.port.sendRetry()).not.toThrow();
  });

  test('a refusal owes exactly one retry; accepted requests owe none', () => {
    const m = new Master();
    const s = new Gate();
    connectPorts(m.port, s.port);

    s.open = true;
    expect(m.port.sendRequest(txn())).toBe(true);
    expect(s.port.retryOwed).toBe(false);
    s.port.sendRetry();
    expect(m.retries).toBe(0);

    s.open = false;
    expect(m.port.sendRequest(txn())).toBe(false);
    expect(m.port.sendRequest(txn())).toBe(false); // a second refusal before the retry: still one retry
    expect(s.port.retryOwed).toBe(true);
    s.port.sendRetry();
    expect(m.retries).toBe(1);
    expect(s.port.retryOwed).toBe(false);
    s.port.sendRetry();
    s.port.sendRetry();
    expect(m.retries).toBe(1);
  });

  test('a master re-sending from inside recvRetry can be refused again and is owed a new retry', () => {
    const m = new Master();
    const s = new Gate();
    connectPorts(m.port, s.port);
    const t = txn();
    m.resendOnRetry = t;
    expect(m.port.sendRequest(t)).toBe(false);
    s.port.sendRetry(); // still closed: the re-send is refused
    expect(m.retries).toBe(1);
    expect(m.resendResults).toEqual([false]);
    expect(s.port.retryOwed).toBe(true);
    s.open = true;
    s.port.sendRetry();
    expect(m.retries).toBe(2);
    expect(m.resendResults).toEqual([false, true]);
    expect(s.got).toEqual([t]);
    expect(s.port.retryOwed).toBe(false);
    s.port.sendRetry();
    expect(m.retries).toBe(2);
  });

  test('responses reach the owner of the peer port', () => {
    const m = new Master();
    const s = new Gate();
    connectPorts(m.port, s.port);
    const t = txn();
    t.status = Status.Ok;
    s.port.sendResponse(t);
    expect(m.responses).toEqual([t]);
  });
});

describe('Transaction return-path stack', () => {
  test('pushes and pops in LIFO order, peeks without removing, reports empty as -1, and resets', () => {
    const t = new Transaction(8);
    expect(t.popRoute()).toBe(-1);
    t.pushRoute(3);
    t.pushRoute(0x1_2345_6000); // an IOMMU pushes the VA, a double above 2^32
    t.pushRoute(1);
    expect(t.routeDepth).toBe(3);
    expect(t.peekRoute(0)).toBe(1);
    expect(t.peekRoute(1)).toBe(0x1_2345_6000);
    expect(t.peekRoute(3)).toBe(-1);
    expect(t.routeEntries()).toEqual([3, 0x1_2345_6000, 1]);
    expect(t.popRoute()).toBe(1);
    expect(t.popRoute()).toBe(0x1_2345_6000);
    t.resetRoute();
    expect(t.routeDepth).toBe(0);
    expect(t.popRoute()).toBe(-1);
  });

  test('a return path deeper than the first capacity grows the stack and keeps every entry', () => {
    const t = new Transaction(8);
    for (let k = 0; k < 40; k++) t.pushRoute(k * 0x1_0000_0001); // doubles above 2^32 too
    expect(t.routeDepth).toBe(40);
    for (let k = 39; k >= 0; k--) expect(t.popRoute()).toBe(k * 0x1_0000_0001);
    expect(t.popRoute()).toBe(-1);
  });
});
