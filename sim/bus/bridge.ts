import type { SimContext } from '../engine/context';
import type { ClockDomain } from '../engine/clock';
import { z } from 'zod';
import type { Engine } from '../engine/engine';
import { count, Cycles, resolveParams } from '../engine/spec';
import { SimInvariantError } from '../engine/errors';
import type { Counter, Histogram } from '../engine/stats';
import { PS_PER_NS, type Tick } from '../engine/time';
import { RequestPort, ResponsePort, type RequestReceiver, type ResponseReceiver } from './port';
import type { Transaction } from './transaction';

/**
 * A store-and-forward bridge between two buses (e.g. the system crossbar and a
 * peripheral bus), one clock domain.
 *
 *   upstream crossbar output ──▶ cpuSidePort [request FIFO] memSidePort ──▶ downstream crossbar input
 *                            ◀── (responses, L cycles)  ◀──
 *
 * - Requests. `recvRequest` refuses (the upstream is owed a retry) while the request FIFO
 *   holds `queueDepth` requests. An accepted request may leave `latencyCycles` cycles
 *   after the first edge at or after its arrival; requests leave in arrival order. A
 *   request the downstream refuses stays at the head (blocking those behind it) until
 *   the downstream's retry, and is re-sent from `recvRetry`. A request leaves the FIFO
 *   when the downstream accepts it; the freed slot then releases a retry owed upstream.
 *   Time in the FIFO counts against `queueDepth`, so sustaining one request per cycle
 *   needs queueDepth >= latencyCycles.
 * - Responses are never refused (port contract) and are sent upstream `latencyCycles`
 *   cycles after the first edge at or after they arrive, in arrival order.
 * - The bridge is point-to-point: it does not touch the return-path stack (`txn.pushRoute`).
 * - It has no bandwidth limit of its own: it sits between an upstream crossbar output
 *   and a downstream crossbar input, whose links already carry at most widthBytes per
 *   cycle each way and deliver a request only once its whole payload has crossed (hence
 *   store-and-forward).
 * - `latency_ns` needs each request's arrival tick at response time; the bridge keeps
 *   its in-flight requests in a FIFO table searched from the oldest (O(1) when
 *   responses return in order), since `txn.hopTick` is overwritten downstream.
 *
 * Atomic access (`recvAtomic`, see port.ts): counts `transactions` and `bytes`,
 * forwards at once with the master port's `sendAtomic` and returns the idle-system
 * latency of the timing path: L cycles down, the downstream latency, then L cycles after
 * the first edge at or after the response (anchored at edge 0 of the bridge's clock,
 * like the crossbar's estimate, so the wait for the bridge's first edge after the
 * request crosses into its clock is not included); it is sampled in `latency_ns`. No
 * queue slot, no refusal, no event.
 *
 * Functional access (`recvFunctional`): forwarded with `sendFunctional`; zero time, no
 * stats.
 *
 * Events: one per request (when it becomes due) and one per response. Nothing is
 * allocated per transaction: FIFOs are ring buffers that grow by doubling.
 *
 * Stats under `<path>.`: `transactions` and `bytes` (requests accepted), `refused`
 * (requests refused upstream), `latency_ns` (histogram: request arrival at the bridge →
 * its response leaving the bridge, i.e. the round trip as seen from the upstream bus).
 */

/** The bridge's parameters (a `bridges[]` entry adds its name, buses and clock). */
export const BridgeSpec = z.strictObject({
  latencyCycles: Cycles.describe('cycles a request (and a response) spends crossing the bridge'),
  queueDepth: count().default(8).describe('requests buffered before refusing upstream (at most 2^20)'),
});

/** What the bridge takes (defaults may be left out). */
export type BridgeParamsInput = z.input<typeof BridgeSpec>;
export type BridgeParams = z.output<typeof BridgeSpec>;

/** FIFO of (transaction, tick) in a power-of-two ring that doubles when full. */
class TxnRing {
  txns: (Transaction | null)[];
  ticks: Float64Array;
  head = 0;
  count = 0;

  constructor(capacity: number) {
    let cap = 4;
    while (cap < capacity) cap *= 2;
    this.txns = new Array<Transaction | null>(cap).fill(null);
    this.ticks = new Float64Array(cap);
  }

  push(txn: Transaction, tick: Tick): void {
    let cap = this.txns.length;
    if (this.count === cap) {
      const txns = new Array<Transaction | null>(cap * 2).fill(null);
      const ticks = new Float64Array(cap * 2);
      for (let k = 0; k < this.count; k++) {
        const j = (this.head + k) & (cap - 1);
        txns[k] = this.txns[j];
        ticks[k] = this.ticks[j];
      }
      this.txns = txns;
      this.ticks = ticks;
      this.head = 0;
      cap *= 2;
    }
    const j = (this.head + this.count) & (cap - 1);
    this.txns[j] = txn;
    this.ticks[j] = tick;
    this.count++;
  }

  /** Removes the head entry (check count first). */
  shift(): Transaction {
    const h = this.head;
    const t = this.txns[h]!;
    this.txns[h] = null;
    this.head = (h + 1) & (this.txns.length - 1);
    this.count--;
    return t;
  }
}

export class Bridge implements RequestReceiver, ResponseReceiver {
  /** Faces the upstream bus: connect an upstream crossbar output to it. */
  readonly cpuSidePort: ResponsePort;
  /** Faces the downstream bus: connect it to a downstream crossbar input. */
  readonly memSidePort: RequestPort;

  private readonly engine: Engine;
  private readonly latency: number;
  private readonly depth: number;
  /** Requests accepted and not yet taken downstream; tick = when each may leave. */
  private readonly reqs: TxnRing;
  /** Responses on their way upstream, in delivery order. */
  private readonly resps: TxnRing;
  /** Requests in flight below the bridge with their arrival ticks, oldest first (entries
   *  answered out of order become null and are skipped when they reach the head). */
  private readonly inflight: TxnRing;
  private inflightLive = 0;
  /** The downstream refused the head request; waiting for its retry. */
  private blocked = false;

  private readonly transactions: Counter;
  private readonly bytes: Counter;
  private readonly refused: Counter;
  private readonly latencyNs: Histogram;

  constructor(
    ctx: SimContext,
    readonly path: string,
    readonly clock: ClockDomain,
    paramsIn: BridgeParamsInput,
  ) {
    const params = resolveParams(BridgeSpec, paramsIn, `bridge ${path}`);
    this.engine = ctx.engine;
    this.latency = params.latencyCycles;
    this.depth = params.queueDepth;
    this.cpuSidePort = new ResponsePort(`${path}.slave_port`, this);
    this.memSidePort = new RequestPort(`${path}.master_port`, this);
    this.reqs = new TxnRing(this.depth);
    this.resps = new TxnRing(this.depth);
    this.inflight = new TxnRing(this.depth * 2);
    const scope = ctx.stats.scope(path);
    this.transactions = scope.counter('transactions', 'requests accepted from upstream');
    this.bytes = scope.counter('bytes', 'payload bytes of accepted requests');
    this.refused = scope.counter('refused', 'requests refused upstream (queue full)');
    this.latencyNs = scope.histogram('latency_ns', 'request arrival at the bridge to its response leaving it');
  }

  /** Requests accepted and waiting to go downstream. */
  get queued(): number {
    return this.reqs.count;
  }

  /** Requests accepted whose responses have not yet left the bridge. */
  get outstanding(): number {
    return this.inflightLive;
  }

  recvRequest(txn: Transaction): boolean {
    if (this.reqs.count >= this.depth) {
      this.refused.value++;
      return false;
    }
    const now = this.engine.now;
    const due = this.clock.edgeAfter(now, this.latency);
    this.reqs.push(txn, due);
    this.inflight.push(txn, now);
    this.inflightLive++;
    this.transactions.value++;
    this.bytes.value += txn.size;
    this.engine.schedule(due, this.onDue);
    return true;
  }

  recvAtomic(txn: Transaction): Tick {
    this.transactions.value++;
    this.bytes.value += txn.size;
    const clock = this.clock;
    const down = clock.cycleToTick(this.latency);
    const below = this.memSidePort.sendAtomic(txn);
    const total = clock.edgeAfter(down + below, this.latency);
    this.latencyNs.sample(total / PS_PER_NS);
    return total;
  }

  recvFunctional(txn: Transaction): void {
    this.memSidePort.sendFunctional(txn);
  }

  recvRetry(): void {
    if (!this.blocked) return;
    this.blocked = false;
    this.drain();
  }

  recvResponse(txn: Transaction): void {
    const now = this.engine.now;
    const due = this.clock.edgeAfter(now, this.latency);
    this.resps.push(txn, due);
    this.engine.schedule(due, this.onRespond);
  }

  /** A request became due: send every due request at the head, in order. */
  private readonly onDue = (): void => {
    this.drain();
  };

  private drain(): void {
    const reqs = this.reqs;
    const now = this.engine.now;
    let freed = false;
    while (!this.blocked && reqs.count > 0 && reqs.ticks[reqs.head] <= now) {
      if (!this.memSidePort.sendRequest(reqs.txns[reqs.head]!)) {
        this.blocked = true;
        break;
      }
      reqs.shift();
      freed = true;
    }
    if (freed && this.cpuSidePort.retryOwed) this.cpuSidePort.sendRetry();
  }

  private readonly onRespond = (): void => {
    const txn = this.resps.shift();
    this.latencyNs.sample((this.engine.now - this.takeArrival(txn)) / PS_PER_NS);
    this.cpuSidePort.sendResponse(txn);
  };

  /** Removes `txn` from the in-flight table and returns its arrival tick. */
  private takeArrival(txn: Transaction): Tick {
    const f = this.inflight;
    const mask = f.txns.length - 1;
    for (let k = 0; k < f.count; k++) {
      const j = (f.head + k) & mask;
      if (f.txns[j] === txn) {
        const tick = f.ticks[j];
        f.txns[j] = null;
        this.inflightLive--;
        while (f.count > 0 && f.txns[f.head] === null) {
          f.head = (f.head + 1) & mask;
          f.count--;
        }
        return tick;
      }
    }
    throw new SimInvariantError(`bridge ${this.path}: response for txn ${txn.id} that did not pass through it`);
  }
}
