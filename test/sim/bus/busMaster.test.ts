import { BusMaster, CompletionSlots } from '../../../sim/bus/busMaster';
import { connectPorts, type ResponseReceiver } from '../../../sim/bus/port';
import { Cmd, TransactionPool, type Transaction } from '../../../sim/bus/transaction';
import { Histogram, StatsRegistry } from '../../../sim/engine/stats';
import { GateSlave } from '../../helpers/gateSlave';

/** The slave: accepts while open (it starts open here). */
class Gate extends GateSlave {
  constructor() {
    super(true);
  }
}

/** A minimal master on a BusMaster: issues while a slot is free, frees one per response. */
class Master implements ResponseReceiver {
  readonly bus: BusMaster;
  readonly pool = new TransactionPool(64);
  next = 0;
  responses = 0;
  constructor(readonly stats: StatsRegistry, max: number) {
    this.bus = new BusMaster('m', this, max, stats.scope('m'), {
      errors: { desc: 'errors' },
      latency: { desc: 'latency' },
      bytesRead: { desc: 'read' },
    });
  }
  /** Issues reads until the limit; returns how many went out. */
  fill(): number {
    let n = 0;
    while (this.bus.canIssue) {
      this.bus.issue(this.pool.alloc(Cmd.Read, 0x1000 + 64 * this.next++, 64, 0, 0));
      n++;
    }
    return n;
  }
  recvResponse(): void {
    this.responses++;
    this.bus.done();
  }
  recvRetry(): void {
    this.bus.retry();
  }
}

function setup(max: number): { m: Master; s: Gate; stats: StatsRegistry } {
  const stats = new StatsRegistry();
  const m = new Master(stats, max);
  const s = new Gate();
  connectPorts(m.bus.port, s.port);
  return { m, s, stats };
}

describe('BusMaster', () => {
  test('issues at most maxOutstanding; done() frees a slot; the peak is kept', () => {
    const { m, s } = setup(3);
    expect(m.fill()).toBe(3);
    expect(m.bus.inFlight).toBe(3);
    expect(m.bus.canIssue).toBe(false);
    expect(s.got).toHaveLength(3);
    m.recvResponse();
    expect(m.bus.inFlight).toBe(2);
    expect(m.fill()).toBe(1);
    m.recvResponse();
    m.recvResponse();
    m.recvResponse();
    expect(m.bus.inFlight).toBe(0);
    expect(m.bus.peakInFlight).toBe(3);
    // send() goes out without taking a slot.
    m.bus.send(m.pool.alloc(Cmd.Write, 0x9000, 64, 0, 0));
    expect(m.bus.inFlight).toBe(0);
    expect(s.got).toHaveLength(5);
  });

  test('after a refusal every later request waits, and the retry re-sends them in order', () => {
    const { m, s } = setup(4);
    s.open = false;
    expect(m.fill()).toBe(4);
    // Refused requests still hold their slots.
    expect(m.bus.inFlight).toBe(4);
    expect(m.bus.waiting).toBe(4);
    expect(s.got).toHaveLength(0);
    // Open for exactly two: the third is refused again and waits with the fourth.
    let budget = 2;
    s.recvRequest = function (t: Transaction): boolean {
      if (budget === 0) return false;
      budget--;
      this.got.push(t);
      return true;
    };
    s.reopen();
    expect(s.got.map((t) => t.addr)).toEqual([0x1000, 0x1040]);
    expect(m.bus.waiting).toBe(2);
    // A send() while requests wait queues behind them, never overtaking.
    m.bus.send(m.pool.alloc(Cmd.Write, 0x9000, 64, 0, 0));
    expect(m.bus.waiting).toBe(3);
    budget = 10;
    s.port.sendRetry();
    expect(s.got.map((t) => t.addr)).toEqual([0x1000, 0x1040, 0x1080, 0x10c0, 0x9000]);
    expect(m.bus.waiting).toBe(0);
  });

  test('registers the standard stats under the device path, with the names a device overrides', () => {
    const stats = new StatsRegistry();
    const bus = new BusMaster('soc.x', { recvResponse() {}, recvRetry() {} }, 2, stats.scope('soc.x'), {
      errors: { name: 'dma_errors', desc: 'e' },
      latency: { name: 'txn_latency_ns', desc: 'l' },
      bytesWritten: { desc: 'w' },
    });
    expect(bus.port.name).toBe('soc.x.port');
    expect(stats.get('soc.x.dma_errors')).toBe(bus.sErrors);
    expect(stats.get('soc.x.errors')).toBeUndefined();
    const lat = stats.get('soc.x.txn_latency_ns');
    expect(lat).toBe(bus.sLatency);
    expect(lat).toBeInstanceOf(Histogram);
    expect(stats.get('soc.x.latency_ns')).toBeUndefined();
    expect(stats.get('soc.x.bytes_written')).toBe(bus.sBytesWritten);
    expect(bus.sBytesRead).toBeNull();
    expect(stats.get('soc.x.bytes_read')).toBeUndefined();
    bus.sErrors.inc();
    expect(stats.value('soc.x.dma_errors')).toBe(1);
    // Default names.
    const { stats: s2 } = setup(1);
    expect(s2.get('m.latency_ns')).toBeInstanceOf(Histogram);
    expect(s2.get('m.errors')).toBeDefined();
    expect(s2.get('m.bytes_read')).toBeDefined();
  });
});

describe('CompletionSlots', () => {
  test('no wait while a slot is free; then the earliest completion, and take() replaces it', () => {
    const c = new CompletionSlots(3);
    expect(c.earliest()).toBe(-Infinity);
    c.take(50);
    c.take(20);
    expect(c.earliest()).toBe(-Infinity);
    c.take(40);
    expect(c.earliest()).toBe(20);
    c.take(70); // replaces 20: {50, 40, 70}
    expect(c.earliest()).toBe(40);
    c.take(45); // replaces 40 even without a fresh earliest() in between
    c.take(46); // replaces 45: {50, 46, 70}
    expect(c.earliest()).toBe(46);
    c.clear();
    expect(c.earliest()).toBe(-Infinity);
  });
});
