import type { SimContext } from '../engine/context';
import type { ClockDomain } from '../engine/clock';
import type { Engine } from '../engine/engine';
import { EventHandle, Priority } from '../engine/engine';
import { SimInvariantError } from '../engine/errors';
import { z } from 'zod';
import { ADDR_LIMIT, hex } from '../engine/addr';
import { count, countOrZero, Cycles, powerOfTwo, resolveParams } from '../engine/spec';
import type { Counter, Histogram, StatScope } from '../engine/stats';
import type { Tracer } from '../engine/trace';
import { PS_PER_NS, type Tick } from '../engine/time';
import type { AddrRange } from './addrRange';
import { RequestPort, ResponsePort, type RequestReceiver, type ResponseReceiver } from './port';
import { Cmd, Status, STATUS_NAMES, type Transaction } from './transaction';

/**
 * A crossbar (AXI-style full interconnect): any number of upstream masters (inputs) and
 * address-decoded downstream slaves (outputs), one clock domain, back-pressure through
 * the port protocol of `port.ts`.
 *
 * Timing model (all grants and transfers start on this crossbar's clock edges):
 *
 * - Input. `recvRequest` refuses (false; the port then owes the master one retry) when
 *   the input's FIFO already holds `inputQueueDepth` requests, or when the input has
 *   `maxOutstanding` requests accepted but not yet answered. Otherwise the request is
 *   decoded, `txn.hopTick = now`, and it joins the input's FIFO.
 * - Request path. The `latencyCycles` of the request path are modelled as an input
 *   pipeline placed before arbitration: a request that arrives at tick t becomes
 *   eligible at the L-th edge after the first edge >= t. Each output has one request
 *   layer; at an edge when it is free it grants one of the inputs whose FIFO head
 *   decodes to it and is eligible (head-of-line blocking is modelled). Round-robin
 *   starts the search after the last winner; fixed-priority takes the highest
 *   `priority`, ties to the lower input index, and can starve the others. A granted
 *   transfer occupies the output layer, and the master's own request link, for
 *   ceil(size / widthBytes) cycles for a write (data travels with the request) or 1
 *   cycle for a read (address only); when that ends the request is offered to the slave.
 *   Idle request latency is therefore (first edge >= arrival) + (L + occupancy) cycles,
 *   exactly as for "grant, then L + occupancy"; placing the pipeline before the grant
 *   makes the end of one transfer and the next grant the same edge, so a busy layer needs
 *   one event per transaction. Arbitration events run at `Priority.Late`, after every
 *   other event of that tick, so all requests that arrived by an edge compete at it.
 * - `inputQueueDepth` counts requests accepted and not yet granted, including those still
 *   in the L-cycle input pipeline; it must be >= L for an input to sustain one grant
 *   per cycle.
 * - Slave refusal. A request the slave refuses is held and blocks its output layer until
 *   the slave's retry; it is re-sent from `recvRetry`. The next grant is then decided
 *   at once, for the first edge >= the retry, among the requests waiting at that moment
 *   (a request arriving later in that same cycle waits for the following grant). This
 *   keeps a slave-bound output at one crossbar event per transaction.
 * - Route. The input index is pushed onto the transaction's return-path stack at the
 *   grant (`pushRoute`); the response pops it.
 * - Decode miss. No output claims [addr, addr+size): the request is not queued or
 *   forwarded; it completes with `Status.DecodeError` L cycles after the first edge >=
 *   arrival (never overtaking earlier responses to that master), counts in
 *   `decode_errors`, and still counts as outstanding until delivered. It uses no link
 *   time (a written payload is not charged). Refusal is checked before decoding.
 * - Response path. A response occupies, cut-through, both the slave's response channel
 *   (per output) and the master's response layer (per input) for ceil(size/widthBytes)
 *   cycles for read data or 1 cycle for a write acknowledgement, starting at the first
 *   edge >= its arrival at which both are free (first come, first served: responses are
 *   never refused, so there is nothing to arbitrate); it is delivered to the master
 *   L + occupancy cycles after that start. Every link thus carries at most widthBytes per
 *   cycle in each direction: a crossbar port is a full-duplex link.
 * - Delivery. The input's outstanding count is decremented before `sendResponse` (so the
 *   master may issue from inside `recvResponse`), and a retry owed to that master is
 *   sent afterwards if it can now be accepted.
 *
 * Atomic access (`recvAtomic`, see port.ts): no queue, no arbitration, no refusal, no
 * event, and the return-path stack is left alone (it routes timing responses only). The
 * input counts `transactions` and `bytes` as on accept; the address is decoded:
 * - miss: `Status.DecodeError`, `decode_errors` counted, and the result is the timing
 *   path's decode-miss latency, L cycles;
 * - hit: the output counts `transactions` and `bytes` as at a grant, the access is
 *   forwarded with the output's `sendAtomic`, and the result is the idle-system
 *   latency of the timing path: request path L + occupancy (ceil(size/widthBytes)
 *   cycles for a write, 1 for a read), then the slave's latency, rounded up to the next
 *   edge as the response path waits for one, then response path occupancy
 *   (ceil(size/widthBytes) cycles for read data, 1 for a write) + L.
 * The estimate is anchored at an edge of this crossbar's clock (edge 0), so it depends
 * on the access alone, not on when it is made: it equals the idle timing-mode latency
 * for a master issuing on an edge of this clock through slaves of the same clock, and
 * omits the wait for the first edge otherwise (behind a bridge into another clock
 * domain every hop anchors at its own edge, so each clock crossing may lose up to about
 * one cycle of the receiving clock each way). Nothing is contended, so
 * `queue_delay_ns`, the busy-tick counters (hence `util`) and the refusal counters are
 * timing-mode stats and stay untouched, and no `bus` trace record is emitted (those
 * describe timing deliveries).
 *
 * Functional access (`recvFunctional`): decode; a miss sets `Status.DecodeError`, a hit
 * forwards with the output's `sendFunctional` (which sets the status). Zero time, no
 * stats (not even `decode_errors`), no route.
 *
 * Events: a busy output needs one event per transaction (it ends one transfer, offers it
 * to the slave and grants the next), and each response one delivery event, so ~2 events
 * per transaction under load; an idle output adds one arbitration event. Nothing is
 * allocated per transaction: per-port state lives in preallocated ring buffers and the
 * two event handlers are bound once. (The idle output's arbitration event cannot be
 * folded into its transfer-end event: a later request may still win that edge, and the
 * transfer-end event would enter the queue before, not after, other `Late` events of
 * its tick scheduled in between, which changes same-tick order. Engine overhead per
 * event is small enough that it is kept.)
 *
 * Stats under `<path>.<port>.` for every input and output: `transactions`, `bytes`,
 * `queue_delay_ns` (arrival at the crossbar → grant, without the fixed L-cycle
 * pipeline), `req_busy_ps`, `resp_busy_ps` (occupancy of the port's link in each
 * direction, counted when the transfer ends), `busy_ps` (formula: the busier
 * direction) and `util` (busy_ps / elapsed ticks); inputs also `refused`, outputs
 * `refused` (by the slave) and `stalled_ps` (layer held by a refused request).
 * Crossbar-wide: `decode_errors`, `refused` (requests refused to masters) and `util`
 * (mean output utilisation).
 */

export const ARBITRATIONS = ['round-robin', 'fixed-priority'] as const;
export type Arbitration = (typeof ARBITRATIONS)[number];

/** The crossbar's parameters (a `buses[]` entry adds its name and clock). */
export const CrossbarSpec = z.strictObject({
  widthBytes: powerOfTwo().describe('data bytes per cycle per layer, a power of two'),
  latencyCycles: Cycles.describe('request and response path latency, each, in cycles'),
  arbitration: z.enum(ARBITRATIONS).default('round-robin'),
  inputQueueDepth: count().default(8).describe('requests buffered per input before refusing (at most 2^20)'),
  maxOutstandingPerMaster: countOrZero().default(0).describe('per input: accepted but not yet responded; 0 = unlimited (at most 2^20)'),
});

/** What the crossbar takes (defaults may be left out). */
export type CrossbarParamsInput = z.input<typeof CrossbarSpec>;
export type CrossbarParams = z.output<typeof CrossbarSpec>;

export interface CrossbarInputOptions {
  /** Higher wins under fixed-priority; default 0. */
  priority?: number;
  /** Overrides the bus default `maxOutstandingPerMaster` (0 = unlimited). */
  maxOutstanding?: number;
}

/** Per-input state: the request FIFO, the response FIFO, link reservations, stats. */
class CrossbarInput {
  readonly port: ResponsePort;
  outstanding = 0;

  // Request FIFO, fixed capacity = inputQueueDepth.
  readonly qTxn: (Transaction | null)[];
  readonly qOut: Int32Array;
  /** Tick (an edge) at which the entry leaves the input pipeline. */
  readonly qReady: Float64Array;
  /** Arrival tick plus the pipeline's ticks: grant − qBase is the queueing delay. */
  readonly qBase: Float64Array;
  qHead = 0;
  qCount = 0;
  /** Tick from which the master's request link is free (the last write's data has passed). */
  reqFree = 0;

  // Response FIFO in delivery order; grows by doubling (power-of-two capacity).
  rTxn: (Transaction | null)[];
  rOut: Int32Array;
  rBusy: Float64Array;
  rHead = 0;
  rCount = 0;
  /** First cycle at which the response layer towards this master is free. */
  respFreeCycle = 0;

  readonly transactions: Counter;
  readonly bytes: Counter;
  readonly refused: Counter;
  readonly reqBusy: Counter;
  readonly respBusy: Counter;
  readonly queueDelay: Histogram;

  constructor(
    readonly name: string,
    readonly index: number,
    owner: RequestReceiver,
    portName: string,
    readonly priority: number,
    readonly limit: number,
    depth: number,
    scope: StatScope,
  ) {
    this.port = new ResponsePort(portName, owner, index);
    this.qTxn = new Array<Transaction | null>(depth).fill(null);
    this.qOut = new Int32Array(depth);
    this.qReady = new Float64Array(depth);
    this.qBase = new Float64Array(depth);
    let cap = 4;
    while (cap < limit && cap < 1024) cap *= 2;
    this.rTxn = new Array<Transaction | null>(cap).fill(null);
    this.rOut = new Int32Array(cap);
    this.rBusy = new Float64Array(cap);
    this.transactions = scope.counter('transactions', 'requests accepted from this master');
    this.bytes = scope.counter('bytes', 'payload bytes of accepted requests');
    this.refused = scope.counter('refused', 'requests refused (input queue full or outstanding limit)');
    this.reqBusy = scope.counter('req_busy_ps', 'ps the request link from this master carried a transfer');
    this.respBusy = scope.counter('resp_busy_ps', 'ps the response layer to this master carried a transfer');
    this.queueDelay = scope.histogram('queue_delay_ns', 'arrival at the crossbar to grant, excluding the fixed pipeline');
    const busy = (): number => Math.max(this.reqBusy.value, this.respBusy.value);
    scope.formula('busy_ps', 'ps the busier direction of this port was occupied', busy);
    scope.formula('util', 'busy_ps / elapsed time', () => ratio(busy(), scope.elapsedTicks()));
    scope.gauge('queue_depth', 'requests waiting in this input\'s FIFO', () => this.qCount);
    scope.gauge('outstanding', 'requests accepted from this master and not yet responded to', () => this.outstanding);
  }

  pushResp(txn: Transaction, out: number, busy: number): void {
    let cap = this.rTxn.length;
    if (this.rCount === cap) {
      const txns = new Array<Transaction | null>(cap * 2).fill(null);
      const outs = new Int32Array(cap * 2);
      const busys = new Float64Array(cap * 2);
      for (let k = 0; k < this.rCount; k++) {
        const j = (this.rHead + k) & (cap - 1);
        txns[k] = this.rTxn[j];
        outs[k] = this.rOut[j];
        busys[k] = this.rBusy[j];
      }
      this.rTxn = txns;
      this.rOut = outs;
      this.rBusy = busys;
      this.rHead = 0;
      cap *= 2;
    }
    const j = (this.rHead + this.rCount) & (cap - 1);
    this.rTxn[j] = txn;
    this.rOut[j] = out;
    this.rBusy[j] = busy;
    this.rCount++;
  }
}

/** Per-output state: the request layer, the held (granted) request, the response channel, stats. */
class CrossbarOutput {
  readonly port: RequestPort;
  /** The output's arbitration/transfer event (set by the crossbar once its handler exists). */
  declare event: EventHandle<number>;
  /** Granted request: in transfer until heldReady, then offered to the slave; null when the layer is free. */
  held: Transaction | null = null;
  heldIn = -1;
  heldGrant = 0;
  heldReady = 0;
  /** The slave refused `held`; waiting for its retry. */
  blocked = false;
  blockedSince = 0;
  /** Round-robin: input index where the next search starts. */
  rrNext = 0;
  /** First cycle at which the slave's response channel is free. */
  respFreeCycle = 0;

  readonly transactions: Counter;
  readonly bytes: Counter;
  readonly refused: Counter;
  readonly stalled: Counter;
  readonly reqBusy: Counter;
  readonly respBusy: Counter;
  readonly queueDelay: Histogram;
  readonly util: () => number;

  constructor(
    readonly name: string,
    readonly index: number,
    owner: ResponseReceiver,
    portName: string,
    scope: StatScope,
  ) {
    this.port = new RequestPort(portName, owner, index);
    this.transactions = scope.counter('transactions', 'requests granted to this slave');
    this.bytes = scope.counter('bytes', 'payload bytes of requests granted to this slave');
    this.refused = scope.counter('refused', 'offers refused by the slave');
    this.stalled = scope.counter('stalled_ps', 'ps the request layer held a request the slave refused');
    this.reqBusy = scope.counter('req_busy_ps', 'ps the request layer to this slave carried a transfer');
    this.respBusy = scope.counter('resp_busy_ps', 'ps the response channel from this slave carried a transfer');
    this.queueDelay = scope.histogram('queue_delay_ns', 'arrival at the crossbar to grant, excluding the fixed pipeline');
    const busy = (): number => Math.max(this.reqBusy.value, this.respBusy.value);
    scope.formula('busy_ps', 'ps the busier direction of this port was occupied', busy);
    this.util = () => ratio(busy(), scope.elapsedTicks());
    scope.formula('util', 'busy_ps / elapsed time', this.util);
  }
}

export class Crossbar implements RequestReceiver, ResponseReceiver {
  private readonly engine: Engine;
  private readonly tracer: Tracer;
  private readonly scope: StatScope;
  // `declare`d numeric fields are set in the constructor only: a class field without an
  // initializer is first defined as undefined, and V8 then keeps the number tagged (tlb.ts).
  private declare readonly width: number;
  private declare readonly latency: number;
  private declare readonly depth: number;
  private declare readonly defaultLimit: number;
  private declare readonly roundRobin: boolean;
  private readonly ins: CrossbarInput[] = [];
  private readonly outs: CrossbarOutput[] = [];
  /** Fixed-priority search order: input indices by priority (high first), then index. */
  private prioOrder = new Int32Array(0);
  private readonly portNames = new Set<string>();

  // Decoder: ranges sorted by base, non-overlapping, adjacent ranges of one output merged.
  private rBase: number[] = [];
  private rEnd: number[] = [];
  private rOut: number[] = [];
  private lastRange = -1;

  private readonly decodeErrors: Counter;
  private readonly refused: Counter;

  constructor(
    ctx: SimContext,
    readonly path: string,
    readonly clock: ClockDomain,
    paramsIn: CrossbarParamsInput,
  ) {
    const params = resolveParams(CrossbarSpec, paramsIn, `crossbar ${path}`);
    this.engine = ctx.engine;
    this.tracer = ctx.tracer;
    this.width = params.widthBytes;
    this.latency = params.latencyCycles;
    this.depth = params.inputQueueDepth;
    this.defaultLimit = params.maxOutstandingPerMaster;
    this.roundRobin = params.arbitration === 'round-robin';
    this.scope = ctx.stats.scope(path);
    this.decodeErrors = this.scope.counter('decode_errors', 'requests no output decodes (answered with decode_error)');
    this.refused = this.scope.counter('refused', 'requests refused to masters (back-pressure)');
    this.scope.formula('util', 'mean utilisation of the output ports', () => {
      if (this.outs.length === 0) return NaN;
      let sum = 0;
      for (const o of this.outs) sum += o.util();
      return sum / this.outs.length;
    });
  }

  /** A slave-side port for one upstream master (device or bridge); connect the master's RequestPort to it. */
  addInput(name: string, opts: CrossbarInputOptions = {}): ResponsePort {
    this.claimName(name);
    const priority = opts.priority ?? 0;
    const limit = opts.maxOutstanding ?? this.defaultLimit;
    if (!Number.isFinite(priority)) throw new SimInvariantError(`crossbar ${this.path}: input ${name}: priority ${priority} is not a finite number`);
    if (!Number.isSafeInteger(limit) || limit < 0) {
      throw new SimInvariantError(`crossbar ${this.path}: input ${name}: maxOutstanding must be a non-negative integer, got ${limit}`);
    }
    const inp = new CrossbarInput(name, this.ins.length, this, `${this.path}.${name}`, priority, limit, this.depth,
      this.scope.scope(name));
    this.ins.push(inp);
    const order = this.ins.map((x) => x.index);
    order.sort((a, b) => this.ins[b].priority - this.ins[a].priority || a - b);
    this.prioOrder = Int32Array.from(order);
    return inp.port;
  }

  /**
   * A master-side port towards one slave claiming `ranges`; connect it to the slave's
   * ResponsePort. Ranges of different outputs must not overlap (throws SimInvariantError).
   */
  addOutput(name: string, ranges: readonly AddrRange[]): RequestPort {
    for (const r of ranges) {
      if (!Number.isSafeInteger(r.base) || r.base < 0 || !Number.isSafeInteger(r.size) || r.size <= 0 || r.base + r.size > ADDR_LIMIT) {
        throw new SimInvariantError(`crossbar ${this.path}: output ${name}: bad range base ${r.base} size ${r.size}`);
      }
      for (let k = 0; k < this.rBase.length; k++) {
        if (r.base < this.rEnd[k] && this.rBase[k] < r.base + r.size) {
          throw new SimInvariantError(`crossbar ${this.path}: output ${name} range [${hex(r.base)}, ${hex(r.base + r.size)}) ` +
            `overlaps output ${this.outs[this.rOut[k]].name} range [${hex(this.rBase[k])}, ${hex(this.rEnd[k])})`);
        }
      }
    }
    this.claimName(name);
    const o = this.outs.length;
    const out = new CrossbarOutput(name, o, this, `${this.path}.${name}`, this.scope.scope(name));
    out.event = new EventHandle(this.engine, this.onOutputEvent, Priority.Late);
    this.outs.push(out);
    const all: { base: number; end: number; out: number }[] = [];
    for (let k = 0; k < this.rBase.length; k++) all.push({ base: this.rBase[k], end: this.rEnd[k], out: this.rOut[k] });
    for (const r of ranges) all.push({ base: r.base, end: r.base + r.size, out: o });
    all.sort((a, b) => a.base - b.base);
    const merged: typeof all = [];
    for (const r of all) {
      const last = merged[merged.length - 1];
      if (last && last.out === r.out && r.base <= last.end) last.end = Math.max(last.end, r.end);
      else merged.push({ ...r });
    }
    this.rBase = merged.map((r) => r.base);
    this.rEnd = merged.map((r) => r.end);
    this.rOut = merged.map((r) => r.out);
    this.lastRange = -1;
    return out.port;
  }

  /** Output index decoding [addr, addr+size), or -1. */
  decode(addr: number, size: number): number {
    // The hit on the last range is kept small enough to inline: a call that is not
    // inlined boxes addr (a double above 2^30) into a new heap number.
    const k = this.lastRange;
    if (k >= 0 && addr >= this.rBase[k] && addr + (size > 0 ? size : 1) <= this.rEnd[k]) return this.rOut[k];
    return this.decodeSearch(addr, size);
  }

  private decodeSearch(addr: number, size: number): number {
    const end = addr + (size > 0 ? size : 1);
    const base = this.rBase;
    let lo = 0;
    let hi = base.length - 1;
    let k = -1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (base[mid] <= addr) { k = mid; lo = mid + 1; } else hi = mid - 1;
    }
    if (k < 0 || end > this.rEnd[k]) return -1;
    this.lastRange = k;
    return this.rOut[k];
  }

  // ---- input side ---------------------------------------------------------------------

  recvRequest(txn: Transaction, port: ResponsePort): boolean {
    const inp = this.ins[port.index];
    if (inp.qCount >= this.depth || (inp.limit !== 0 && inp.outstanding >= inp.limit)) {
      inp.refused.value++;
      this.refused.value++;
      return false;
    }
    const now = this.engine.now;
    txn.hopTick = now;
    inp.outstanding++;
    inp.transactions.value++;
    inp.bytes.value += txn.size;
    const c0 = this.clock.ceilCycle(now);
    const o = this.decode(txn.addr, txn.size);
    if (o < 0) {
      // The default slave answers; ordered behind earlier responses to this master.
      this.decodeErrors.value++;
      txn.status = Status.DecodeError;
      let start = c0;
      if (inp.respFreeCycle > start) start = inp.respFreeCycle;
      inp.pushResp(txn, -1, 0);
      this.engine.schedule(this.clock.cycleToTick(start + this.latency), this.onDeliver, inp.index);
      return true;
    }
    const edge0 = this.clock.cycleToTick(c0);
    const ready = this.clock.cycleToTick(c0 + this.latency);
    let j = inp.qHead + inp.qCount;
    if (j >= this.depth) j -= this.depth;
    inp.qTxn[j] = txn;
    inp.qOut[j] = o;
    inp.qReady[j] = ready;
    inp.qBase[j] = now + (ready - edge0);
    inp.qCount++;
    if (inp.qCount === 1) this.kick(o, ready > inp.reqFree ? ready : inp.reqFree);
    return true;
  }

  recvAtomic(txn: Transaction, port: ResponsePort): Tick {
    const inp = this.ins[port.index];
    const size = txn.size;
    inp.transactions.value++;
    inp.bytes.value += size;
    const clock = this.clock;
    const o = this.decode(txn.addr, size);
    if (o < 0) {
      this.decodeErrors.value++;
      txn.status = Status.DecodeError;
      return clock.cycleToTick(this.latency);
    }
    const out = this.outs[o];
    out.transactions.value++;
    out.bytes.value += size;
    const isRead = txn.cmd === Cmd.Read;
    // Request delivered to the slave at the edge L + occupancy after edge 0.
    const atSlave = clock.cycleToTick(this.latency + (isRead ? 1 : this.beats(size)));
    const slaveLatency = out.port.sendAtomic(txn);
    const respStart = this.clock.ceilCycle(atSlave + slaveLatency);
    return clock.cycleToTick(respStart + (isRead ? this.beats(size) : 1) + this.latency);
  }

  recvFunctional(txn: Transaction, _port: ResponsePort): void {
    const o = this.decode(txn.addr, txn.size);
    if (o < 0) {
      txn.status = Status.DecodeError;
      return;
    }
    this.outs[o].port.sendFunctional(txn);
  }

  // ---- output side --------------------------------------------------------------------

  recvResponse(txn: Transaction, port: RequestPort): void {
    const o = port.index;
    const i = txn.popRoute();
    if (i < 0 || i >= this.ins.length) {
      throw new SimInvariantError(`crossbar ${this.path}: response for txn ${txn.id} on ${port.name} has no route back (route stack ${i < 0 ? 'empty' : `gave input ${i}`})`);
    }
    const inp = this.ins[i];
    const out = this.outs[o];
    const occ = txn.cmd === Cmd.Read ? this.beats(txn.size) : 1;
    let start = this.clock.ceilCycle(this.engine.now);
    if (out.respFreeCycle > start) start = out.respFreeCycle;
    if (inp.respFreeCycle > start) start = inp.respFreeCycle;
    const end = start + occ;
    out.respFreeCycle = end;
    inp.respFreeCycle = end;
    inp.pushResp(txn, o, this.clock.cycleToTick(end) - this.clock.cycleToTick(start));
    this.engine.schedule(this.clock.cycleToTick(end + this.latency), this.onDeliver, i);
  }

  recvRetry(port: RequestPort): void {
    const o = port.index;
    const out = this.outs[o];
    if (!out.blocked) return;
    const txn = out.held!;
    if (!out.port.sendRequest(txn)) {
      out.refused.value++;
      return;
    }
    const now = this.engine.now;
    out.blocked = false;
    out.stalled.value += now - out.blockedSince;
    this.forwarded(out);
    // Decide the next grant now, for the first edge >= now (see the doc comment).
    this.arbitrate(out, o, this.clock.cycleToTick(this.clock.ceilCycle(now)));
  }

  // ---- events -------------------------------------------------------------------------

  /** The output's event, at an edge: finish the transfer in progress, offer it, grant the next. */
  private readonly onOutputEvent = (o: number): void => {
    const out = this.outs[o];
    const now = this.engine.now;
    if (out.held !== null) {
      if (out.blocked) return;
      if (out.heldReady > now) { this.kickAt(out, o, out.heldReady); return; }
      if (!out.port.sendRequest(out.held)) {
        out.blocked = true;
        out.blockedSince = now;
        out.refused.value++;
        return;
      }
      this.forwarded(out);
    }
    this.arbitrate(out, o, now);
  };

  /** Delivers the oldest pending response of input `i` to its master. */
  private readonly onDeliver = (i: number): void => {
    const inp = this.ins[i];
    const h = inp.rHead;
    const txn = inp.rTxn[h]!;
    const o = inp.rOut[h];
    if (o >= 0) {
      const busy = inp.rBusy[h];
      inp.respBusy.value += busy;
      this.outs[o].respBusy.value += busy;
    }
    inp.rTxn[h] = null;
    inp.rHead = (h + 1) & (inp.rTxn.length - 1);
    inp.rCount--;
    inp.outstanding--;
    if (this.tracer.bus) {
      const now = this.engine.now;
      this.tracer.emit('bus', now, {
        // The master's name from the SoC's registry (an array read; null when no SoC registered it).
        bus: this.path, master: txn.masterId, master_name: this.tracer.masterNames[txn.masterId] ?? null, op: txn.cmd === Cmd.Read ? 'R' : 'W', addr: hex(txn.addr),
        size: txn.size, status: STATUS_NAMES[txn.status], lat_ps: now - txn.issueTick,
        // Queue depths at delivery (timeline counters): the master's requests still in the crossbar, and waiting in its input queue.
        q_out: inp.outstanding, q_in: inp.qCount,
      });
    }
    inp.port.sendResponse(txn);
    if (inp.port.retryOwed && this.canAccept(inp)) inp.port.sendRetry();
  };

  // ---- internals ----------------------------------------------------------------------

  /** Grants the output layer at edge `at` to the first eligible input in arbitration order. */
  private arbitrate(out: CrossbarOutput, o: number, at: Tick): void {
    const ins = this.ins;
    const n = ins.length;
    const order = this.prioOrder;
    const rr = this.roundRobin;
    let earliest = Infinity;
    for (let k = 0; k < n; k++) {
      let i: number;
      if (rr) { i = out.rrNext + k; if (i >= n) i -= n; } else i = order[k];
      const inp = ins[i];
      if (inp.qCount === 0) continue;
      const h = inp.qHead;
      if (inp.qOut[h] !== o) continue;
      let ready = inp.qReady[h];
      if (inp.reqFree > ready) ready = inp.reqFree;
      if (ready <= at) {
        this.grant(out, o, inp, at);
        return;
      }
      if (ready < earliest) earliest = ready;
    }
    if (earliest !== Infinity) this.kickAt(out, o, earliest);
  }

  private grant(out: CrossbarOutput, o: number, inp: CrossbarInput, at: Tick): void {
    const h = inp.qHead;
    const txn = inp.qTxn[h]!;
    const delay = (at - inp.qBase[h]) / PS_PER_NS;
    inp.qTxn[h] = null;
    inp.qHead = h + 1 === this.depth ? 0 : h + 1;
    inp.qCount--;
    const occ = txn.cmd === Cmd.Write ? this.beats(txn.size) : 1;
    const done = this.clock.cycleToTick(this.clock.cycleAt(at) + occ);
    const i = inp.index;
    inp.reqFree = done;
    out.held = txn;
    out.heldIn = i;
    out.heldGrant = at;
    out.heldReady = done;
    txn.pushRoute(i);
    out.rrNext = i + 1 === this.ins.length ? 0 : i + 1;
    out.transactions.value++;
    out.bytes.value += txn.size;
    out.queueDelay.sample(delay);
    inp.queueDelay.sample(delay);
    this.kickAt(out, o, done);
    if (inp.qCount > 0) {
      const h2 = inp.qHead;
      const ready = inp.qReady[h2];
      this.kick(inp.qOut[h2], ready > done ? ready : done);
    }
    if (inp.port.retryOwed && this.canAccept(inp)) inp.port.sendRetry();
  }

  /** Accounts a request the slave has accepted and frees the layer. */
  private forwarded(out: CrossbarOutput): void {
    const busy = out.heldReady - out.heldGrant;
    out.reqBusy.value += busy;
    this.ins[out.heldIn].reqBusy.value += busy;
    out.held = null;
    out.heldIn = -1;
  }

  /** Makes output `o` arbitrate by edge `at` unless its layer is taken (it will arbitrate when it frees). */
  private kick(o: number, at: Tick): void {
    const out = this.outs[o];
    if (out.held !== null) return;
    this.kickAt(out, o, at);
  }

  private kickAt(out: CrossbarOutput, o: number, at: Tick): void {
    // An earlier pending event will arbitrate anyway; a later one is moved up.
    if (out.event.scheduled && out.event.when <= at) return;
    out.event.reschedule(at, o);
  }

  private canAccept(inp: CrossbarInput): boolean {
    return inp.qCount < this.depth && (inp.limit === 0 || inp.outstanding < inp.limit);
  }

  /** Cycles a payload of `size` bytes occupies a layer (at least one). */
  private beats(size: number): number {
    return size <= this.width ? 1 : Math.ceil(size / this.width);
  }

  private claimName(name: string): void {
    if (this.portNames.has(name)) throw new SimInvariantError(`crossbar ${this.path}: port name ${name} used twice`);
    this.portNames.add(name);
  }
}

function ratio(a: number, b: number): number {
  return b > 0 ? a / b : NaN;
}
