import type { SimContext } from '../engine/context';
import type { ClockDomain } from '../engine/clock';
import { SimInvariantError } from '../engine/errors';
import { hex, log2Exact } from '../engine/addr';
import { resolveParams } from '../engine/spec';
import type { Counter, Histogram } from '../engine/stats';
import { nsToTicks, PS_PER_NS, type Tick } from '../engine/time';
import { ResponsePort, type RequestReceiver } from '../bus/port';
import { Cmd, Status, type Transaction } from '../bus/transaction';
import type { AddrRange } from '../bus/addrRange';
import type { PhysicalMemory } from './physmem';
import { applyFunctional, MemoryAccessStats } from './memoryPort';
import { PendingQueue } from './pendingQueue';
import { DramTimingTicks } from './dramTiming';
import { BankReservations, DramCommandTimer } from './dramBank';
import { pickRequest, RequestQueue, type RequestTable } from './dramScheduler';
import { DramSpec, parseMapping, resolveDramParams, type DramField, type DramParamsInput, type ResolvedDram } from './dramSpec';


/*
 * How the controller works (README "DRAM" has the user's view).
 *
 * Address decode. `offset = addr - region.base`. The low log2(burstBytes) bits are
 * always the byte within a burst. Above them the `mapping` fields are laid out from
 * the least-significant (last) to the most-significant (first): `column` is the burst
 * index within a row (log2(rowBytes / burstBytes) bits), `channel` log2(channels)
 * bits, `bank` log2(banks) bits, and `row` the bits needed to cover the region — "the
 * rest" when it comes first. With column last ("row:bank:channel:column") each row is
 * contiguous; with column higher ("row:column:bank:channel", gem5's RoCoRaBaCh)
 * consecutive bursts interleave across channels/banks. Bank b is in bank group
 * b mod bankGroups. Only division by powers of two is used on addresses.
 *
 * Requests. A request covers the burst-aligned chunks of [addr, addr+size) (a zero-size
 * request still costs one burst); each burst is decoded on its own. A request belongs,
 * for queueing, to the channel of its first burst (its home channel) and is scheduled
 * as a unit: its bursts are reserved back to back when it is picked.
 *
 * Command timing: DramCommandTimer (dramBank.ts) places PRE/ACT/column commands under
 * the configured constraints. Row commands (PRE, ACT) of a request may be placed from
 * its arrival on (bank preparation overlaps earlier requests' data, as a real
 * controller's per-bank machines do); its column command never precedes the decision.
 *
 * FCFS (`scheduler: "fcfs"`, the default, socsim's behaviour before issue 14). One
 * queue per home channel; each request is reserved on arrival (arrival = accept +
 * frontendLatency), in arrival order, reads and writes alike, and responds when its
 * last burst's data ends; responses leave a home channel in arrival order. With only
 * the five core timing fields this is exactly the old model (idle hit tCL + tBURST,
 * miss tRCD + tCL + tBURST, conflict tRP + tRCD + tCL + tBURST). One event per request.
 *
 * FR-FCFS (`scheduler: "fr-fcfs"`). Per channel a read queue and a write queue of
 * request ids. Writes are acknowledged when queued (after frontendLatency), as
 * controllers with a write buffer do; their data effect already happened at accept.
 * The channel's scheduler decides at a "decision tick": first at an arrival to an idle
 * channel, then at the column-command tick of the request it last issued (it picks the
 * next column command once the previous one is on the bus). At a decision it serves
 * writes when draining (the write queue reached writeHighWatermark, until it falls to
 * writeLowWatermark) or when no read has arrived, else reads; within the queue it picks
 * per pickRequest (row hits first, capped by rowHitBypassCap). A read responds when its
 * last burst's data ends (reads may overtake one another). Decisions are made lazily,
 * at most min(tCL, tCWL) + tBURST late, from the completion event of the channel's last
 * read or one wake event (see `arm`): about one event per request, as under fcfs.
 *
 * Page policy. open: a row stays open until a conflict or refresh. closed: the bank
 * precharges as soon as allowed after each burst (unless the request's next burst is
 * in the same row), so every access is a miss (ACT, no PRE on the critical path).
 *
 * Atomic access (`recvAtomic`, see port.ts). Same range check, status, data effect and
 * counters as an accepted timing request, done at once, classified against and updating
 * the shared open-row state (a run of atomic accesses warms the row buffers as the
 * same accesses in timing mode would). The result is the idle-system latency of that
 * access: the timing rules applied on scratch reservations in which every earlier
 * reservation is long past (reset lazily per access by a stamp) and no refresh is due,
 * from tick frontendLatency (a write under fr-fcfs: its acknowledgement, frontendLatency,
 * as the write buffer answers in timing mode). So it equals the timing-mode latency of
 * the same access on an idle controller (between refreshes). Atomic accesses leave the live reservations
 * untouched, except that a bank whose row an atomic access opened counts its ACTIVATE as
 * long past (no tRAS wait for a later timing conflict). Atomic and timing are not meant
 * to be mixed in one run (switching from atomic to timing is safe).
 *
 * Functional access (`recvFunctional`). Range check and data effect only, zero time:
 * no counters (not even `decode_errors`), no `openRow` change, no reservation.
 *
 * Data effect. Applied when the request is accepted, in arrival order: a write copies
 * `txn.data[0..size)` to memory; a read fills `txn.data[0..size)`. Later requests
 * therefore observe earlier accepted writes whatever order the scheduler serves them in;
 * the response only carries timing.
 *
 * Errors. A request not wholly inside `region` completes with `Status.DecodeError`
 * after the frontend latency, memory untouched, counted in `decode_errors`; it takes no
 * queue slot and is not sampled in `latency_ns`.
 *
 * Back-pressure. fcfs: a home channel holds at most `queueDepth` requests (accepted,
 * not yet responded). fr-fcfs: at most `queueDepth` reads not yet responded and
 * `writeQueueDepth` writes not yet issued. Beyond that `recvRequest` returns false
 * (`refused`); the port sends the retry it owes when a slot frees.
 *
 * Stats under `path`: counters `reads`, `writes`, `bytes_read`, `bytes_written`,
 * `row_hits`, `row_misses`, `row_conflicts` (per burst), `refused`, `decode_errors`,
 * `refreshes` (REF commands, or REFpb per bank), `refresh_ps` (time they block: tRFC
 * each, tRFCpb per REFpb), `write_drains` (fr-fcfs drain episodes), `frfcfs_bypasses`
 * (requests issued ahead of an older one for being row hits), `read_queue_ps` /
 * `write_queue_ps` (queued requests integrated over time), `ch<N>.bytes`; histogram
 * `latency_ns` (accept → response); formulas `row_hit_rate`, `bandwidth_GBps`,
 * `ch<N>.bandwidth_GBps`, `read_queue_avg` / `write_queue_avg` (mean requests queued
 * over all channels), `refresh_fraction` (refresh_ps per channel-time, per bank-time
 * with per-bank refresh). Refreshes are applied when a channel (bank) is next used, so
 * the refresh counters lag by those due since a channel's last access.
 */
export class DramController implements RequestReceiver {
  readonly port: ResponsePort;
  readonly params: Readonly<ResolvedDram>;

  // Decode: a field's value is floor(offset / unit) % count.
  private readonly chUnit: number;
  private readonly chCount: number;
  private readonly bankUnit: number;
  private readonly bankCount: number;
  private readonly rowUnit: number;
  private readonly rowCount: number;
  private readonly colUnit: number;
  private readonly colCount: number;
  // Reciprocals of the (power-of-two) units and counts: multiplying by them is exact and
  // avoids division and fmod on the per-access decode.
  private readonly chUnitInv: number;
  private readonly chCountInv: number;
  private readonly bankUnitInv: number;
  private readonly bankCountInv: number;
  private readonly rowUnitInv: number;
  private readonly rowCountInv: number;
  private readonly colUnitInv: number;
  private readonly colCountInv: number;
  private readonly burstInv: number;
  private readonly burstBytes: number;
  private readonly banks: number;
  private readonly queueDepth: number;
  /** Column is the lowest mapping field: consecutive bursts share a row until a row boundary. */
  private readonly columnLowest: boolean;
  private readonly closedPage: boolean;
  private readonly frFcfs: boolean;
  // Scratch outputs of decodeOffset (no object per access).
  private dCh = 0;
  private dBank = 0;
  private dRow = 0;
  private dCol = 0;

  private readonly t: DramTimingTicks;
  private readonly tFrontend: Tick;
  private readonly timer: DramCommandTimer;

  /** Open row per bank (channel * banks + bank), -1 = closed; shared by timing and atomic accesses. */
  private readonly openRow: Float64Array;
  /** Timing-mode reservations. */
  private readonly live: BankReservations;
  /** Atomic-mode scratch reservations: an entry whose stamp is not the current access's is idle. */
  private readonly scratch: BankReservations;
  private readonly bankStamp: Float64Array;
  private readonly chStamp: Float64Array;
  private atomicSeq = 0;

  // fcfs: per home channel, completion tick of the newest request and the in-order queue.
  private readonly lastDone: Float64Array;
  private readonly queues: PendingQueue[];
  private readonly errors = new PendingQueue(4);

  // fr-fcfs: request table (ids from a free stack), per-channel queues and scheduler state.
  private readonly reqTxn: (Transaction | null)[] = [];
  private readonly reqOff: Float64Array;
  private readonly reqSize: Float64Array;
  private readonly reqAccept: Float64Array;
  private readonly req: RequestTable;
  private readonly freeIds: Int32Array;
  private freeCount = 0;
  private readonly readQ: RequestQueue[] = [];
  private readonly writeQ: RequestQueue[] = [];
  /** Reads accepted and not yet responded, per home channel. */
  private readonly readsOut: Int32Array;
  private readonly draining: Uint8Array;
  private readonly bypassesLeft: Int32Array;
  /** Tick of the pending wake event per channel, -1 if none. */
  private readonly wakeAt: Float64Array;
  /** Earliest tick the channel may decide again (the last issued column command). */
  private readonly nextDecision: Float64Array;
  /** Completion tick of the read the channel issued last. */
  private readonly lastReadDone: Float64Array;
  /** How late a decision may be made without changing its outcome: min(tCL, tCWL) + tBURST. */
  private readonly decisionSlack: Tick;
  private readonly acks = new PendingQueue(8);
  /** Queue names for PendingQueue's invariant errors, built once (a template literal per completion allocated a string each time). */
  private readonly ackQueueName: string;
  private readonly channelQueueNames: string[];
  private readonly writeHigh: number;
  private readonly writeLow: number;
  private readonly bypassCap: number;

  // Queue occupancy integration (all channels).
  private queuedReads = 0;
  private queuedWrites = 0;
  private occTick = 0;
  /** `reserveRequest`'s result: the tick the request's last data ends (-0: a double field). */
  private reservedEnd = -0;

  private readonly sHits: Counter;
  private readonly sMisses: Counter;
  private readonly sConflicts: Counter;
  private readonly sDrains: Counter;
  private readonly sBypasses: Counter;
  private readonly sReadQ: Counter;
  private readonly sWriteQ: Counter;
  private readonly sChBytes: Counter[];
  private readonly access: MemoryAccessStats;
  private readonly sLatency: Histogram;

  private readonly onComplete = (ch: number): void => this.complete(ch);
  private readonly onError = (): void => this.completeError();
  private readonly onReadDone = (id: number): void => this.readDone(id);
  private readonly onAck = (): void => this.ackWrite();
  private readonly onWake = (ch: number): void => this.wake(ch);

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    /** The controller's clock; timing is specified in ns, so it is kept for reporting only. */
    readonly clock: ClockDomain,
    readonly region: AddrRange,
    private readonly mem: PhysicalMemory,
    paramsIn: DramParamsInput,
  ) {
    const params = resolveDramParams(resolveParams(DramSpec, paramsIn, path));
    if (!Number.isSafeInteger(region.base) || region.base < 0 || !Number.isSafeInteger(region.size) || region.size <= 0) {
      throw new SimInvariantError(`${path}: bad region [${hex(region.base)}, +${region.size})`);
    }
    this.params = params;
    this.port = new ResponsePort(`${path}.port`, this);
    this.burstBytes = params.burstBytes;
    this.banks = params.banks;
    this.queueDepth = params.queueDepth;
    this.closedPage = params.pagePolicy === 'closed';
    this.frFcfs = params.scheduler === 'fr-fcfs';

    const mapping = parseMapping(params.mapping) as DramField[];
    // Row bits: enough to cover the region whatever the field order.
    const perRow = params.rowBytes * params.channels * params.banks;
    let rowBits = 0;
    while (2 ** rowBits * perRow < region.size) rowBits++;
    const bits: Record<DramField, number> = {
      column: log2Exact(params.rowBytes / params.burstBytes),
      channel: log2Exact(params.channels),
      bank: log2Exact(params.banks),
      row: rowBits,
    };
    const unit: Record<DramField, number> = { row: 0, bank: 0, channel: 0, column: 0 };
    const cnt: Record<DramField, number> = { row: 0, bank: 0, channel: 0, column: 0 };
    let shift = log2Exact(params.burstBytes);
    for (let i = mapping.length - 1; i >= 0; i--) {
      const f = mapping[i];
      unit[f] = 2 ** shift;
      cnt[f] = 2 ** bits[f];
      shift += bits[f];
    }
    this.chUnit = unit.channel; this.chCount = cnt.channel;
    this.bankUnit = unit.bank; this.bankCount = cnt.bank;
    this.rowUnit = unit.row; this.rowCount = cnt.row;
    this.colUnit = unit.column; this.colCount = cnt.column;
    this.chUnitInv = 1 / this.chUnit; this.chCountInv = 1 / this.chCount;
    this.bankUnitInv = 1 / this.bankUnit; this.bankCountInv = 1 / this.bankCount;
    this.rowUnitInv = 1 / this.rowUnit; this.rowCountInv = 1 / this.rowCount;
    this.colUnitInv = 1 / this.colUnit; this.colCountInv = 1 / this.colCount;
    this.burstInv = 1 / params.burstBytes;
    this.columnLowest = this.colUnit === params.burstBytes;

    this.t = new DramTimingTicks(params.timing);
    this.tFrontend = nsToTicks(params.frontendLatencyNs);

    const nch = params.channels;
    const nb = nch * params.banks;
    const perBank = params.refresh === 'per-bank';
    this.openRow = new Float64Array(nb).fill(-1);
    this.live = new BankReservations(params.banks, nch, params.bankGroups, perBank);
    this.scratch = new BankReservations(params.banks, nch, params.bankGroups, perBank);
    this.bankStamp = new Float64Array(nb);
    this.chStamp = new Float64Array(nch);
    this.lastDone = new Float64Array(nch);
    this.queues = [];
    if (!this.frFcfs) for (let c = 0; c < nch; c++) this.queues.push(new PendingQueue(params.queueDepth));
    this.ackQueueName = `${path}: write acks`;
    this.channelQueueNames = Array.from({ length: nch }, (_v, c) => `${path}: channel ${c}`);

    const ids = this.frFcfs ? nch * (params.queueDepth + params.writeQueueDepth) : 0;
    this.reqOff = new Float64Array(ids);
    this.reqSize = new Float64Array(ids);
    this.reqAccept = new Float64Array(ids);
    this.req = { arrive: new Float64Array(ids), bank: new Int32Array(ids), row: new Float64Array(ids) };
    this.freeIds = new Int32Array(ids);
    for (let i = ids - 1; i >= 0; i--) this.freeIds[this.freeCount++] = i;
    for (let i = 0; i < ids; i++) this.reqTxn.push(null);
    if (this.frFcfs) {
      for (let c = 0; c < nch; c++) {
        this.readQ.push(new RequestQueue(params.queueDepth));
        this.writeQ.push(new RequestQueue(params.writeQueueDepth));
      }
    }
    this.readsOut = new Int32Array(nch);
    this.draining = new Uint8Array(nch);
    this.bypassesLeft = new Int32Array(nch).fill(params.rowHitBypassCap);
    this.wakeAt = new Float64Array(nch).fill(-1);
    this.nextDecision = new Float64Array(nch);
    this.lastReadDone = new Float64Array(nch).fill(-1);
    this.decisionSlack = Math.min(this.t.tCL, this.t.tCWL) + this.t.tBURST;
    this.writeHigh = params.writeHighWatermark;
    this.writeLow = params.writeLowWatermark;
    this.bypassCap = params.rowHitBypassCap;

    const s = ctx.stats.scope(path);
    this.access = new MemoryAccessStats(s, 'channel queue full');
    this.sHits = s.counter('row_hits', 'bursts to the open row');
    this.sMisses = s.counter('row_misses', 'bursts to a closed bank (ACT)');
    this.sConflicts = s.counter('row_conflicts', 'bursts to another row than the open one (PRE + ACT)');
    const sRefreshes = s.counter('refreshes', params.refresh === 'per-bank' ? 'per-bank refresh commands (REFpb)' : 'all-bank refresh commands (REF)');
    const sRefreshPs = s.counter('refresh_ps', 'time refreshes block their banks: tRFC per REF, tRFCpb per REFpb (ps)');
    this.sDrains = s.counter('write_drains', 'fr-fcfs: times a write queue reached its high watermark and was drained');
    this.sBypasses = s.counter('frfcfs_bypasses', 'fr-fcfs: requests issued ahead of an older queued one for being row hits');
    this.sReadQ = s.counter('read_queue_ps', 'reads queued (fr-fcfs: not yet issued; fcfs: not yet responded), integrated over time (requests x ps)');
    this.sWriteQ = s.counter('write_queue_ps', 'writes queued (fr-fcfs: not yet issued; fcfs: not yet responded), integrated over time (requests x ps)');
    this.timer = new DramCommandTimer(this.t, params.banks, params.bankGroups, params.refresh, this.openRow, {
      hits: this.sHits, misses: this.sMisses, conflicts: this.sConflicts, refreshes: sRefreshes, refreshPs: sRefreshPs,
    });
    this.timer.initRefresh(this.live);
    this.sChBytes = [];
    for (let c = 0; c < nch; c++) {
      const cs = s.scope(`ch${c}`);
      const bytes = cs.counter('bytes', `bytes moved on channel ${c}`);
      this.sChBytes.push(bytes);
      cs.formula('bandwidth_GBps', `bytes moved on channel ${c} per ns (GB/s) over the measured window`, () => {
        const ticks = s.elapsedTicks();
        return ticks > 0 ? (bytes.value * PS_PER_NS) / ticks : 0;
      });
    }
    this.sLatency = s.histogram('latency_ns', 'accept-to-response latency (ns)');
    const hits = this.sHits, misses = this.sMisses, conflicts = this.sConflicts;
    s.formula('row_hit_rate', 'row hits / bursts', () => {
      const total = hits.value + misses.value + conflicts.value;
      return total === 0 ? NaN : hits.value / total;
    });
    const br = this.access.bytesRead, bw = this.access.bytesWritten;
    s.formula('bandwidth_GBps', 'bytes moved per ns (GB/s) over the measured window', () => {
      const ticks = s.elapsedTicks();
      return ticks > 0 ? ((br.value + bw.value) * PS_PER_NS) / ticks : 0;
    });
    const rq = this.sReadQ, wq = this.sWriteQ;
    // Includes the stretch since the last change without advancing the counters (a dump has no side effects).
    const avg = (c: Counter, queued: () => number) => (): number => {
      const ticks = s.elapsedTicks();
      const tail = queued() * Math.max(0, this.ctx.engine.now - this.occTick);
      return ticks > 0 ? (c.value + tail) / ticks : 0;
    };
    s.formula('read_queue_avg', 'mean reads queued over all channels (time-weighted)', avg(rq, () => this.queuedReads));
    s.formula('write_queue_avg', 'mean writes queued over all channels (time-weighted)', avg(wq, () => this.queuedWrites));
    s.gauge('reads.queue_depth', 'reads queued (accepted, not yet issued) over all channels', () => this.queuedReads);
    s.gauge('writes.queue_depth', 'writes queued (accepted, not yet issued) over all channels', () => this.queuedWrites);
    const units = perBank ? nb : nch;
    s.formula('refresh_fraction', 'refresh_ps per channel-time (per bank-time with per-bank refresh)', () => {
      const ticks = s.elapsedTicks();
      return ticks > 0 ? sRefreshPs.value / (ticks * units) : 0;
    });
  }

  /** Decodes a physical address into its fields (for tests and traces). `column` is the byte offset within the row. */
  decode(addr: number): { channel: number; bank: number; row: number; column: number } {
    if (!(addr >= this.region.base && addr < this.region.base + this.region.size)) {
      throw new SimInvariantError(`${this.path}: decode of ${hex(addr)} outside the region`);
    }
    this.decodeOffset(addr - this.region.base);
    return { channel: this.dCh, bank: this.dBank, row: this.dRow, column: this.dCol };
  }

  recvRequest(txn: Transaction, _port: ResponsePort): boolean {
    const now = this.ctx.engine.now;
    const addr = txn.addr, size = txn.size;
    const base = this.region.base;
    if (!(addr >= base && addr + size <= base + this.region.size)) {
      this.access.decodeErrors.value++;
      const done = now + this.tFrontend;
      this.errors.push(txn, now, done);
      this.ctx.engine.schedule(done, this.onError);
      return true;
    }
    const off = addr - base;
    this.decodeOffset(off);
    // (The accept paths read the time themselves: a tick passed to a call V8 does not inline is boxed.)
    return this.frFcfs ? this.acceptFrFcfs(txn, off) : this.acceptFcfs(txn, off);
  }

  /** fcfs: reserve at once, in arrival order; respond in order per home channel. */
  private acceptFcfs(txn: Transaction, off: number): boolean {
    const now = this.ctx.engine.now;
    const home = this.dCh;
    const q = this.queues[home];
    if (q.count >= this.queueDepth) {
      this.access.refused.value++;
      return false;
    }
    this.access.applyDataEffect(this.path, txn, this.mem);
    const arrive = now + this.tFrontend;
    this.timer.cmdFrom = arrive;
    this.timer.colFrom = arrive;
    this.reserveRequest(off, txn.size, txn.cmd === Cmd.Write, this.live, true);
    let done = this.reservedEnd;
    if (done < this.lastDone[home]) done = this.lastDone[home];
    this.lastDone[home] = done;
    this.noteQueues(now);
    if (txn.cmd === Cmd.Write) this.queuedWrites++;
    else this.queuedReads++;
    q.push(txn, now, done);
    this.ctx.engine.schedule(done, this.onComplete, home);
    return true;
  }

  /** fr-fcfs: queue the request on its home channel; writes are acknowledged once queued. */
  private acceptFrFcfs(txn: Transaction, off: number): boolean {
    const now = this.ctx.engine.now;
    const home = this.dCh;
    const write = txn.cmd === Cmd.Write;
    if (write ? this.writeQ[home].count >= this.writeQ[home].capacity : this.readsOut[home] >= this.queueDepth) {
      this.access.refused.value++;
      // A deferred wake would send the retry late: decide on time from now on.
      if (write) {
        const nd = this.nextDecision[home];
        this.wakeNoLaterThan(home, nd > now ? nd : now);
      }
      return false;
    }
    this.access.applyDataEffect(this.path, txn, this.mem);
    const id = this.freeIds[--this.freeCount];
    const arrive = now + this.tFrontend;
    this.reqOff[id] = off;
    this.reqSize[id] = txn.size;
    this.reqAccept[id] = now;
    this.req.arrive[id] = arrive;
    this.req.bank[id] = home * this.banks + this.dBank;
    this.req.row[id] = this.dRow;
    this.noteQueues(now);
    if (write) {
      this.reqTxn[id] = null;
      this.writeQ[home].push(id);
      this.queuedWrites++;
      this.acks.push(txn, now, arrive);
      this.ctx.engine.schedule(arrive, this.onAck);
    } else {
      this.reqTxn[id] = txn;
      this.readQ[home].push(id);
      this.readsOut[home]++;
      this.queuedReads++;
    }
    const nd = this.nextDecision[home];
    this.arm(home, arrive > nd ? arrive : nd);
    return true;
  }

  /** Ensures a wake of channel `ch` at or before `at`. */
  private wakeNoLaterThan(ch: number, at: Tick): void {
    const w = this.wakeAt[ch];
    if (w >= 0 && w <= at) return;
    this.wakeAt[ch] = at;
    this.ctx.engine.schedule(at, this.onWake, ch);
  }

  /**
   * Makes sure channel `ch` runs its decision for tick `d`. A decision may be made late,
   * at any engine time in [d, d + decisionSlack], with the same result: it only looks at
   * requests arrived by `d` (arrival is accept + a constant, so all of them are known by
   * then) and never issues a column command before `d`, and nothing it issues completes
   * within the slack (the same holds for the later decisions made in the same call, all
   * due after `d`). So when the read issued last on the channel completes inside that
   * window, its completion event makes the decision and no wake event is needed (a
   * streaming channel costs one event per read, as under fcfs); otherwise one wake at
   * the end of the window makes every decision due by then. What a late decision does
   * change: a write-queue slot it frees becomes free when the decision is made, up to
   * decisionSlack after `d` (so a write arriving meanwhile may find the queue full); a
   * master already waiting for a retry gets the wake at `d`.
   */
  private arm(ch: number, d: Tick): void {
    const r = this.lastReadDone[ch];
    // Only a completion still to come can stand in for the wake: one at `now` may have
    // run already this tick (an accept at the tick a read completes, with no frontend
    // latency), and then nothing would make decision `d` on time.
    if (r >= d && r <= d + this.decisionSlack && r > this.ctx.engine.now) return;
    // Waking at the end of the slack lets one wake make several decisions; but a master
    // waiting for a retry must hear of a freed write slot on time.
    this.wakeNoLaterThan(ch, this.port.retryOwed ? d : d + this.decisionSlack);
  }

  private wake(ch: number): void {
    const now = this.ctx.engine.now;
    if (this.wakeAt[ch] !== now) return; // superseded by an earlier wake
    this.wakeAt[ch] = -1;
    this.decide(ch);
  }

  /**
   * fr-fcfs: makes every decision of channel `ch` due by now, then arms the next. (Reads
   * the time itself: a tick passed to a call V8 does not inline is boxed.)
   */
  private decide(ch: number): void {
    const now = this.ctx.engine.now;
    const rq = this.readQ[ch], wq = this.writeQ[ch];
    const req = this.req;
    for (;;) {
      const rHead = rq.count > 0 ? req.arrive[rq.at(0)] : Infinity;
      const wHead = wq.count > 0 ? req.arrive[wq.at(0)] : Infinity;
      if (rHead === Infinity && wHead === Infinity) return;
      // The decision tick: once the previous column command is issued and a request has arrived.
      let d = this.nextDecision[ch];
      const first = rHead < wHead ? rHead : wHead;
      if (d < first) d = first;
      if (d > now) {
        this.arm(ch, d);
        return;
      }
      if (this.draining[ch]) {
        if (wq.count <= this.writeLow) this.draining[ch] = 0;
      } else if (wq.count >= this.writeHigh) {
        this.draining[ch] = 1;
        this.sDrains.value++;
      }
      const useWrites = wHead <= d && (this.draining[ch] === 1 || rHead > d);
      const q = useWrites ? wq : rq;
      const i = pickRequest(q, d, req, this.openRow, true, this.bypassesLeft[ch]);
      if (i > 0) {
        this.sBypasses.value++;
        this.bypassesLeft[ch]--;
      } else {
        this.bypassesLeft[ch] = this.bypassCap;
      }
      const id = q.removeAt(i);
      this.noteQueues(d > this.occTick ? d : this.occTick);
      // The first burst's decode, kept from accept.
      const bi = req.bank[id];
      this.dCh = ch;
      this.dBank = bi - ch * this.banks;
      this.dRow = req.row[id];
      this.timer.cmdFrom = req.arrive[id];
      this.timer.colFrom = d;
      this.reserveRequest(this.reqOff[id], this.reqSize[id], useWrites, this.live, true);
      const done = this.reservedEnd;
      this.nextDecision[ch] = this.timer.lastCol;
      if (useWrites) {
        this.queuedWrites--;
        this.freeIds[this.freeCount++] = id;
        this.port.sendRetry();
      } else {
        this.queuedReads--;
        this.lastReadDone[ch] = done;
        this.ctx.engine.schedule(done, this.onReadDone, id);
      }
    }
  }

  private readDone(id: number): void {
    const now = this.ctx.engine.now;
    const txn = this.reqTxn[id]!;
    this.reqTxn[id] = null;
    this.sLatency.sample((now - this.reqAccept[id]) / PS_PER_NS);
    const home = Math.floor(this.req.bank[id] / this.banks);
    this.readsOut[home]--;
    this.freeIds[this.freeCount++] = id;
    this.decide(home);
    txn.status = Status.Ok;
    this.port.sendResponse(txn);
    this.port.sendRetry();
  }

  private ackWrite(): void {
    const txn = this.acks.completeHead(this.ctx.engine.now, this.sLatency, this.ackQueueName);
    this.port.sendResponse(txn);
  }

  /** Adds the queued-request integrals up to `now`. */
  private noteQueues(now: Tick): void {
    const dt = now - this.occTick;
    if (dt > 0) {
      this.sReadQ.value += this.queuedReads * dt;
      this.sWriteQ.value += this.queuedWrites * dt;
      this.occTick = now;
    }
  }

  /**
   * Reserves every burst of the request at `off` in `r`, row commands from the timer's
   * `cmdFrom` and column commands from its `colFrom` (the caller sets both); leaves the
   * tick its last data ends in `reservedEnd` (ticks cross this call through fields: it
   * is too big to inline, and a tick passed to or returned from such a call is boxed).
   * Expects `off` decoded already (dCh, dBank, dRow).
   */
  private reserveRequest(off: number, size: number, write: boolean, r: BankReservations, timing: boolean): void {
    const bb = this.burstBytes;
    const end = off + size;
    const lastByte = off + (size > 0 ? size : 1) - 1;
    let done = 0;
    // Not `off % bb`: on a double (offsets live in a Float64Array) that is a slow fmod call.
    for (let b = Math.floor(off * this.burstInv) * bb; b <= lastByte; b += bb) {
      if (b !== off) this.decodeOffset(b);
      const ch = this.dCh;
      if (!timing) this.stampScratch(ch);
      // Closed page keeps the row open for the request's next burst when it is in the same row.
      const close = this.closedPage && !(b + bb <= lastByte && this.columnLowest && ((b + bb) * this.burstInv) % this.colCount !== 0);
      const activates = !timing && this.openRow[ch * this.banks + this.dBank] !== this.dRow;
      this.timer.reserve(r, ch, this.dBank, this.dRow, write, close, timing);
      const t = this.timer.lastEnd;
      if (activates) {
        // The row opened here was activated "long ago" for a later timing access: no tRAS wait.
        const bi = ch * this.banks + this.dBank;
        this.live.lastAct[bi] = -Infinity;
        this.live.preReady[bi] = this.live.colReady[bi];
      }
      if (t > done) done = t;
      const lo = b > off ? b : off;
      const hi = b + bb < end ? b + bb : end;
      if (hi > lo) this.sChBytes[ch].value += hi - lo;
    }
    this.reservedEnd = done;
  }

  /** Lazily resets the scratch reservations the current atomic access touches. */
  private stampScratch(ch: number): void {
    const seq = this.atomicSeq;
    const bi = ch * this.banks + this.dBank;
    if (this.bankStamp[bi] !== seq) {
      this.bankStamp[bi] = seq;
      this.scratch.resetBank(bi);
    }
    if (this.chStamp[ch] !== seq) {
      this.chStamp[ch] = seq;
      this.scratch.resetChannel(ch);
    }
  }

  recvAtomic(txn: Transaction, _port: ResponsePort): Tick {
    const addr = txn.addr, size = txn.size;
    const base = this.region.base;
    if (!(addr >= base && addr + size <= base + this.region.size)) {
      this.access.decodeErrors.value++;
      txn.status = Status.DecodeError;
      return this.tFrontend;
    }
    this.access.applyDataEffect(this.path, txn, this.mem);
    txn.status = Status.Ok;
    // Idle-system timing on the scratch reservations, from tick frontendLatency (see the class comment).
    this.atomicSeq++;
    this.decodeOffset(addr - base);
    const write = txn.cmd === Cmd.Write;
    this.timer.cmdFrom = this.tFrontend;
    this.timer.colFrom = this.tFrontend;
    this.reserveRequest(addr - base, size, write, this.scratch, false);
    const done = this.reservedEnd;
    // fr-fcfs acknowledges a write once queued (its write buffer), so does the atomic path:
    // the rows it opens are updated all the same.
    const latency = write && this.frFcfs ? this.tFrontend : done;
    this.sLatency.sample(latency / PS_PER_NS);
    return latency;
  }

  recvFunctional(txn: Transaction, _port: ResponsePort): void {
    const base = this.region.base;
    if (!(txn.addr >= base && txn.addr + txn.size <= base + this.region.size)) {
      txn.status = Status.DecodeError;
      return;
    }
    applyFunctional(this.path, txn, this.mem);
  }

  private decodeOffset(off: number): void {
    const ch = Math.floor(off * this.chUnitInv);
    this.dCh = ch - Math.floor(ch * this.chCountInv) * this.chCount;
    const bank = Math.floor(off * this.bankUnitInv);
    this.dBank = bank - Math.floor(bank * this.bankCountInv) * this.bankCount;
    const row = Math.floor(off * this.rowUnitInv);
    this.dRow = row - Math.floor(row * this.rowCountInv) * this.rowCount;
    const col = Math.floor(off * this.colUnitInv);
    const inBurst = off - Math.floor(off * this.burstInv) * this.burstBytes;
    this.dCol = (col - Math.floor(col * this.colCountInv) * this.colCount) * this.burstBytes + inBurst;
  }

  private complete(ch: number): void {
    const now = this.ctx.engine.now;
    const txn = this.queues[ch].completeHead(now, this.sLatency, this.channelQueueNames[ch]);
    this.noteQueues(now);
    if (txn.cmd === Cmd.Write) this.queuedWrites--;
    else this.queuedReads--;
    this.port.sendResponse(txn);
    this.port.sendRetry();
  }

  private completeError(): void {
    const txn = this.errors.shift();
    txn.status = Status.DecodeError;
    this.port.sendResponse(txn);
  }
}
