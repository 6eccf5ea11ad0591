import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import { log2Exact, pageIndex, pageOffset } from '../engine/addr';
import { FreeList } from '../engine/freeList';
import type { Counter } from '../engine/stats';
import type { Tick } from '../engine/time';
import { BusMaster, CompletionSlots } from '../bus/busMaster';
import type { RequestPort, ResponseReceiver } from '../bus/port';
import { Cmd, Status, type Transaction, TransactionPool } from '../bus/transaction';
import { TraceOp, type TraceRecord } from './memTrace';
import type { AtomicPhase, FastForwardDevice } from './fastForward';
import { ACCESS_MODES, type AccessMode } from '../engine/accessMode';
import { powerOfTwo, resolveParams } from '../engine/spec';
import { CpuCoreSpec } from '../mmu/cpuMmu';
import { z } from 'zod';
import { BUS_BOUNDARY_BYTES } from '../bus/boundary';


export interface CpuCoreParams {
  /**
   * Transactions in flight at once for loads, fetches and stores that are not posted:
   * 1 is a blocking core, a small number models memory-level parallelism (MLP).
   */
  maxOutstanding: number;
  /**
   * Posted stores in flight at once (a store buffer). A store then takes a store-buffer
   * entry instead of a `maxOutstanding` slot, so loads do not wait behind it. 0 (the
   * default): stores are not posted.
   */
  storeBuffer?: number;
  /** Cache line size (power of two): no transaction crosses a line. */
  lineBytes: number;
  /** Page size (power of two) the MMU translates by: no transaction crosses a page. Default 4096. */
  pageBytes?: number;
  /** Compute cycles before every access, added to the record's own gap. Default 0. */
  cyclesBetween?: number;
  /** Default 'timing'. */
  mode?: AccessMode;
}

/**
 * The core's parameters as one spec: its config fields (`CpuCoreSpec`, a
 * `cpuMmus[].cores[]` entry, checked when the config is loaded) and what the builder
 * derives (line size from the CPU cache, page size, access mode). The constructor
 * resolves its params against it, so no config can reach an unchecked value.
 */
export const CpuCoreParamsSpec = CpuCoreSpec.omit({ name: true }).extend({
  lineBytes: powerOfTwo(2 ** 16, '64 KiB').describe('cache line size: no transaction crosses a line'),
  pageBytes: powerOfTwo(2 ** 30, '1 GiB').default(4096).describe('page size the MMU translates by: no transaction crosses a page'),
  mode: z.enum(ACCESS_MODES).default('timing'),
});

/**
 * The byte a core writes at virtual address `va` for its store number `storeSeq`
 * (0-based, counted over the core's life; both halves of a split store share it). Tests
 * use it to check what reached memory.
 */
export function storePatternByte(storeSeq: number, va: number): number {
  return (((storeSeq % 256) * 131 + (va % 256)) % 256);
}

/** What one `runTrace` did. */
export interface CpuTraceResult {
  /** Records taken from the trace. */
  records: number;
  loads: number;
  stores: number;
  fetches: number;
  /** Bytes of transactions that completed Ok. */
  bytes: number;
  /** Accesses that ended in a translation fault. */
  faults: number;
  /** Accesses that ended in another error (decode or access error). */
  errors: number;
  startTick: Tick;
  endTick: Tick;
}

export type CpuTraceDone = (result: CpuTraceResult) => void;

/** Records to replay: an array, or any iterator/iterable (a parser's generator). */
export type TraceSource = readonly TraceRecord[] | Iterable<TraceRecord> | Iterator<TraceRecord>;

interface TraceJob {
  array: readonly TraceRecord[] | null;
  iter: Iterator<TraceRecord> | null;
  index: number;
  exhausted: boolean;
  done: CpuTraceDone;
  result: CpuTraceResult;
}

/** One load or store access (of a record; a modify has two) in flight. Pooled. */
class Access {
  /** Transactions sent and not answered. */
  pending = 0;
  issuedAll = false;
  done = false;
  store = false;
  posted = false;
  faulted = false;
  errored = false;
  firstIssue: Tick = 0;
  /** Atomic mode: the latest estimated completion among its transactions. */
  lastDone: Tick = 0;
}

/** Transactions per atomic-mode event: bounds the time one event runs. */
const ATOMIC_BATCH = 4096;

/**
 * A trace-driven, in-order CPU core: the data side of a core replaying a memory trace
 * (memTrace.ts: lackey or compact records) as loads and stores into the memory system.
 * It is a bus master whose `port` connects to a CPU MMU core port
 * (`cpuMmu.addCore(name)`), so its addresses are virtual: the MMU translates them
 * through its TLBs and walker, then the data cache (if any) and the bus serve them.
 *
 * The model, in the spirit of trace-driven cores such as gem5's TraceCPU or the
 * ChampSim/Ramulator front ends, reduced to what a memory-system study needs:
 * - Records issue in trace order, at most one transaction per core clock edge.
 * - Each record is preceded by `gap + cyclesBetween` compute cycles. The compute starts
 *   once the record can go: after the previous record was issued and a slot is free.
 *   So with `maxOutstanding = 1` (blocking) time adds up as Σ(latency + gap), and with
 *   more slots the compute overlaps the misses in flight.
 * - Loads, fetches and non-posted stores hold one of `maxOutstanding` slots per
 *   transaction until it is answered; with `storeBuffer > 0` stores are posted and hold
 *   a store-buffer entry instead. When the slot it needs is taken, the core stalls
 *   (nothing behind it issues).
 * - An access that crosses a cache line or a page is split at the boundaries into
 *   transactions that each lie in one line and one page (the cache requires it in timing
 *   mode, and the MMU translates one page per transaction), as a load/store unit does.
 * - A modify (`M`, read-modify-write) is a load, then a store of the same bytes; the
 *   store issues when the load has completed, and is dropped if the load failed.
 * - Instruction fetches (if the trace has them) are reads through the same port
 *   (counted as `fetches`): the model has one data-side port, no instruction cache.
 * - Store data is a deterministic pattern (`storePatternByte`); load data is discarded.
 *
 * Not modelled: register dependencies (a load does not wait for an earlier load's
 * value, except within a modify), out-of-order issue, store-to-load forwarding, memory
 * ordering beyond the in-order issue, branch and instruction-side effects.
 *
 * Errors are data: a transaction that completes with a translation fault (unmapped page,
 * permission) makes its access count in `faults` and the core goes on with the next
 * record; other error statuses count in `errors`. The other transactions of a split
 * access are still performed. A malformed record (size 0, negative address: a bug in the
 * code that built it) throws SimInvariantError; a parser's TraceParseError propagates
 * out of the engine run that pulls the bad line.
 *
 * Atomic mode (fast-forward): records are performed with `sendAtomic` in batches of up
 * to ATOMIC_BATCH transactions per event, at the core's estimated time, which follows the
 * same rules with the idle-system latencies the atomic path returns: a transaction
 * issues at the latest of the next issue edge, the earliest completion among its slots
 * (when all are busy) and, for the first of a record, that plus the gap. The trace
 * completes at its last estimated completion. Counts (loads, stores, bytes, faults,
 * walks) equal the timing mode's; TLB and cache hit counts equal them when the timing
 * run has no concurrency that merges misses (e.g. `maxOutstanding = 1`).
 *
 * Traces queue FIFO, one running at a time. Stats under `path`: records, loads, stores,
 * fetches, bytes, faults, errors, transactions, split_accesses (accesses split into more
 * than one transaction), page_crossings (accesses that span two pages),
 * modify_stores_skipped, latency_ns (histogram, first transaction issued to last
 * answered, per access), busy_ps (time spent running traces), and the formulas cycles
 * (busy time in core cycles) and accesses_per_kcycle ((loads + stores + fetches) × 1000 /
 * cycles).
 */
export class CpuCore implements ResponseReceiver, FastForwardDevice {
  readonly port: RequestPort;
  /** Atomic until a fast-forward switches it to timing (resumeTiming). */
  private accessMode: AccessMode;
  /** Fast-forward: the atomic phase, until the switch; whether a started trace is parked. */
  private ff: AtomicPhase | null = null;
  private parkedRunning = false;
  /**
   * Port, in-order sending, the maxOutstanding slots of loads, fetches and non-posted
   * stores, errors and latency_ns. Posted stores go out through it too but hold a
   * store-buffer entry (storeSlotsUsed) instead of a slot.
   */
  private readonly bus: BusMaster;
  private readonly pool: TransactionPool;
  private readonly accessPool = new FreeList<Access>();
  private readonly queue: TraceJob[] = [];
  private job: TraceJob | null = null;

  private readonly storeBuffer: number;
  private readonly cyclesBetween: number;
  /** Transactions never cross a multiple of `chunk` (the smaller of line and page). */
  private readonly chunkShift: number;
  private readonly pageShift: number;
  private declare readonly intPeriod: number;

  // Current record: its fields (copied, so reused records are safe), the part being
  // issued (a modify's load, then its store), bytes of the part issued so far.
  private hasRecord = false;
  private recOp: TraceOp = TraceOp.Load;
  private recAddr = 0;
  private recSize = 0;
  private recGap = 0;
  private partStore = false;
  private partOffset = 0;
  private gapPending = false;
  private access: Access | null = null;
  /** A modify's load, until its store part starts. */
  private rmwLoad: Access | null = null;
  private storeSeq = 0;

  private nextIssue: Tick = 0;
  private storeSlotsUsed = 0;
  private issueScheduled = false;
  private inStep = false;
  private jobStart: Tick = 0;

  // Atomic mode: completion ticks of the slots' and store-buffer entries' transactions, and the latest completion so far.
  private readonly slotFree: CompletionSlots;
  private readonly storeSlotFree: CompletionSlots;
  private atomicEnd: Tick = 0;

  private readonly sRecords: Counter;
  private readonly sLoads: Counter;
  private readonly sStores: Counter;
  private readonly sFetches: Counter;
  private readonly sBytes: Counter;
  private readonly sFaults: Counter;
  private readonly sTransactions: Counter;
  private readonly sSplits: Counter;
  private readonly sPageCrossings: Counter;
  private readonly sRmwSkipped: Counter;
  private readonly sBusyPs: Counter;

  private readonly onStart = (): void => this.start();
  private readonly onIssue = (): void => {
    this.issueScheduled = false;
    this.step();
  };
  private readonly onAtomicBatch = (): void => this.atomicBatch();
  private readonly onAtomicDone = (): void => this.finish();

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    readonly clock: ClockDomain,
    readonly masterId: number,
    readonly params: CpuCoreParams,
  ) {
    const p = resolveParams(CpuCoreParamsSpec, params, path);
    this.accessMode = p.mode;
    this.storeBuffer = p.storeBuffer;
    this.cyclesBetween = p.cyclesBetween;
    this.pageShift = log2Exact(p.pageBytes);
    // Nor a 4 KiB boundary (bus/boundary.ts): with lines and pages above 4 KiB an access
    // could cross one, and the MMU's page may be smaller than pageBytes claims.
    this.chunkShift = Math.min(log2Exact(p.lineBytes), this.pageShift, Math.log2(BUS_BOUNDARY_BYTES));
    this.intPeriod = Number.isInteger(clock.periodPs) ? clock.periodPs : 0;
    this.pool = new TransactionPool(2 ** this.chunkShift);
    this.slotFree = new CompletionSlots(params.maxOutstanding);
    this.storeSlotFree = new CompletionSlots(this.storeBuffer);

    const s = ctx.stats.scope(path);
    this.bus = new BusMaster(path, this, params.maxOutstanding, s, {
      errors: { desc: 'accesses that ended in another error (decode or access error)' },
      latency: { desc: 'per access: first transaction issued to last answered, ns' },
    });
    this.port = this.bus.port;
    this.sRecords = s.counter('records', 'trace records taken');
    this.sLoads = s.counter('loads', 'load accesses issued (a modify is one load and one store)');
    this.sStores = s.counter('stores', 'store accesses issued');
    this.sFetches = s.counter('fetches', 'instruction fetches issued (traces that include them)');
    this.sBytes = s.counter('bytes', 'bytes of transactions that completed ok');
    this.sFaults = s.counter('faults', 'accesses that ended in a translation fault (skipped)');
    this.sTransactions = s.counter('transactions', 'transactions sent (an access split at line/page boundaries sends several)');
    this.sSplits = s.counter('split_accesses', 'accesses split into more than one transaction');
    this.sPageCrossings = s.counter('page_crossings', 'accesses that span two pages');
    this.sRmwSkipped = s.counter('modify_stores_skipped', 'stores of modify records dropped because their load failed');
    this.sBusyPs = s.counter('busy_ps', 'picoseconds spent running traces');
    const busyCycles = (): number => this.clock.ticksToCycles(this.busyTicks());
    s.formula('cycles', 'time spent running traces, in core cycles', busyCycles);
    s.formula('accesses_per_kcycle', '(loads + stores + fetches) per 1000 busy cycles', () => {
      const c = busyCycles();
      return c > 0 ? ((this.sLoads.value + this.sStores.value + this.sFetches.value) * 1000) / c : 0;
    });
  }

  get busy(): boolean {
    return this.job !== null;
  }

  /** Transactions in flight (sent or waiting to be re-sent, not yet answered). */
  get inFlight(): number {
    return this.bus.inFlight + this.storeSlotsUsed;
  }

  /**
   * Queues a replay of `records`; `done` runs when the last access has completed. The
   * records are pulled lazily, one at a time, as the core issues them.
   */
  runTrace(records: TraceSource, done: CpuTraceDone): void {
    let array: readonly TraceRecord[] | null = null;
    let iter: Iterator<TraceRecord> | null = null;
    if (Array.isArray(records)) array = records as readonly TraceRecord[];
    else if (typeof (records as Iterable<TraceRecord>)[Symbol.iterator] === 'function') iter = (records as Iterable<TraceRecord>)[Symbol.iterator]();
    else if (typeof (records as Iterator<TraceRecord>).next === 'function') iter = records as Iterator<TraceRecord>;
    else throw new SimInvariantError(`${this.path}: runTrace needs an array, an iterable or an iterator`);
    const result: CpuTraceResult = { records: 0, loads: 0, stores: 0, fetches: 0, bytes: 0, faults: 0, errors: 0, startTick: 0, endTick: 0 };
    this.queue.push({ array, iter, index: 0, exhausted: false, done, result });
    if (!this.job) this.startNext();
  }

  private startNext(): void {
    const job = this.queue.shift();
    if (!job) return;
    this.job = job;
    const at = this.edge(this.ctx.engine.now, 0);
    this.jobStart = at;
    this.ctx.engine.schedule(at, this.onStart);
  }

  private start(): void {
    const now = this.ctx.engine.now;
    this.job!.result.startTick = now;
    this.nextIssue = now;
    this.hasRecord = false;
    if (this.accessMode === 'atomic') {
      this.slotFree.clear();
      this.storeSlotFree.clear();
      this.atomicEnd = now;
      this.atomicBatch();
    } else {
      this.step();
    }
  }

  get mode(): AccessMode {
    return this.accessMode;
  }

  beginFastForward(phase: AtomicPhase): void {
    if (this.accessMode !== 'atomic') throw new SimInvariantError(`${this.path}: fast-forward needs a core built in atomic mode`);
    this.ff = phase;
  }

  /**
   * The switch (fast-forward): a parked trace continues with its next record in timing
   * mode (parked at a record boundary, after every transaction completed: no slot or
   * store-buffer entry is held). A trace whose start event is pending starts in timing.
   */
  resumeTiming(): void {
    this.accessMode = 'timing';
    this.ff = null;
    if (!this.parkedRunning) return;
    this.parkedRunning = false;
    this.issueScheduled = true;
    this.ctx.engine.schedule(this.ctx.engine.now, this.onIssue);
  }

  /** Time spent running traces since the last stats reset (including the running one). */
  private busyTicks(): Tick {
    let t = this.sBusyPs.value;
    if (this.job !== null) t += Math.max(0, Math.min(this.ctx.engine.now - this.jobStart, this.ctx.stats.elapsedTicks()));
    return t;
  }

  /** The clock edge `cycles` cycles after the first edge at or after `tick`. */
  private edge(tick: Tick, cycles: number): Tick {
    const p = this.intPeriod;
    return p > 0 ? (Math.ceil(tick / p) + cycles) * p : this.clock.edgeAfter(tick, cycles);
  }

  /** Takes the next record into the current-record fields; false at the end of the trace. */
  private nextRecord(): boolean {
    const job = this.job!;
    if (job.exhausted) return false;
    let r: TraceRecord | undefined;
    if (job.array !== null) {
      if (job.index < job.array.length) r = job.array[job.index];
    } else {
      const n = job.iter!.next();
      if (!n.done) r = n.value;
    }
    if (r === undefined) {
      job.exhausted = true;
      return false;
    }
    const index = job.index++;
    if (!(r.op >= TraceOp.Load && r.op <= TraceOp.Fetch && Number.isInteger(r.op)) ||
      !(Number.isSafeInteger(r.addr) && r.addr >= 0) ||
      !(Number.isSafeInteger(r.size) && r.size > 0 && r.addr + r.size <= Number.MAX_SAFE_INTEGER) ||
      !(Number.isSafeInteger(r.gap) && r.gap >= 0)) {
      throw new SimInvariantError(`${this.path}: trace record ${index} is malformed: ${JSON.stringify(r)}`);
    }
    this.recOp = r.op;
    this.recAddr = r.addr;
    this.recSize = r.size;
    this.recGap = r.gap + this.cyclesBetween;
    this.partStore = r.op === TraceOp.Store;
    this.partOffset = 0;
    this.gapPending = true;
    this.hasRecord = true;
    this.sRecords.value++;
    job.result.records++;
    return true;
  }

  // ---- timing mode ----

  /** Issues what can be issued now; schedules itself for the next issue edge otherwise. */
  private step(): void {
    if (this.issueScheduled || this.inStep || this.job === null) return;
    this.inStep = true;
    const now = this.ctx.engine.now;
    for (;;) {
      if (!this.hasRecord && !this.nextRecord()) {
        this.inStep = false;
        if (this.inFlight === 0) this.finish();
        return;
      }
      if (this.rmwLoad !== null) {
        // A modify's store part: wait for its load.
        const load = this.rmwLoad;
        if (!load.done) break; // its completion steps again
        this.rmwLoad = null;
        const failed = load.faulted || load.errored;
        this.releaseAccess(load);
        if (failed) {
          this.sRmwSkipped.value++;
          this.hasRecord = false;
          continue;
        }
      }
      const posted = this.partStore && this.storeBuffer > 0;
      if (posted ? this.storeSlotsUsed >= this.storeBuffer : this.bus.inFlight >= this.bus.maxOutstanding) break;
      let t = this.nextIssue > now ? this.nextIssue : now;
      if (this.gapPending) {
        this.gapPending = false;
        t = this.edge(t, this.recGap);
      } else {
        t = this.edge(t, 0);
      }
      if (t > now) {
        this.nextIssue = t;
        this.issueScheduled = true;
        this.ctx.engine.schedule(t, this.onIssue);
        break;
      }
      const txn = this.issuePiece(now, posted);
      this.nextIssue = this.edge(now, 1);
      if (posted) {
        this.storeSlotsUsed++;
        this.bus.send(txn);
      } else {
        this.bus.issue(txn);
      }
    }
    this.inStep = false;
  }

  /**
   * Builds the next transaction of the current part (the access's first one starts the
   * access), and advances the part and record. Shared by both modes.
   */
  private issuePiece(now: Tick, posted: boolean): Transaction {
    const store = this.partStore;
    const addr = this.recAddr + this.partOffset;
    const room = 2 ** this.chunkShift - pageOffset(addr, this.chunkShift);
    const left = this.recSize - this.partOffset;
    const n = room < left ? room : left;
    let a = this.access;
    if (this.partOffset === 0) {
      a = this.accessPool.take() ?? new Access();
      a.pending = 0;
      a.issuedAll = false;
      a.done = false;
      a.store = store;
      a.posted = posted;
      a.faulted = false;
      a.errored = false;
      a.firstIssue = now;
      a.lastDone = 0;
      this.access = a;
      const job = this.job!.result;
      if (store) {
        this.sStores.value++;
        job.stores++;
        this.storeSeq++;
      } else if (this.recOp === TraceOp.Fetch) {
        this.sFetches.value++;
        job.fetches++;
      } else {
        this.sLoads.value++;
        job.loads++;
      }
      if (n < this.recSize) this.sSplits.value++;
      if (pageIndex(addr, this.pageShift) !== pageIndex(addr + this.recSize - 1, this.pageShift)) this.sPageCrossings.value++;
    }
    const txn = this.pool.alloc(store ? Cmd.Write : Cmd.Read, addr, n, this.masterId, now);
    if (store) {
      const d = txn.data;
      const base = ((this.storeSeq - 1) % 256) * 131 + (addr % 256);
      for (let i = 0; i < n; i++) d[i] = (base + i) % 256;
    }
    txn.context = a;
    a!.pending++;
    this.sTransactions.value++;
    this.partOffset += n;
    if (this.partOffset >= this.recSize) {
      a!.issuedAll = true;
      this.access = null;
      if (this.recOp === TraceOp.Modify && !store) {
        this.rmwLoad = a;
        this.partStore = true;
        this.partOffset = 0;
      } else {
        this.hasRecord = false;
      }
    }
    return txn;
  }

  recvRetry(): void {
    this.bus.retry();
  }

  recvResponse(t: Transaction): void {
    const a = t.context as Access;
    this.account(a, t);
    if (a.posted) this.storeSlotsUsed--;
    else this.bus.done();
    this.pool.release(t);
    if (a.pending === 0 && a.issuedAll) this.completeAccess(a, this.ctx.engine.now);
    this.step();
  }

  /** Books one answered transaction of `a`. */
  private account(a: Access, t: Transaction): void {
    a.pending--;
    if (t.status === Status.Ok) {
      this.sBytes.value += t.size;
      this.job!.result.bytes += t.size;
    } else if (t.status === Status.TranslationFault) {
      a.faulted = true;
    } else {
      a.errored = true;
    }
  }

  private completeAccess(a: Access, doneTick: Tick): void {
    a.done = true;
    this.bus.sLatency.sample((doneTick - a.firstIssue) / 1000);
    if (a.faulted) {
      this.sFaults.value++;
      this.job!.result.faults++;
    } else if (a.errored) {
      this.bus.sErrors.value++;
      this.job!.result.errors++;
    }
    if (a !== this.rmwLoad) this.releaseAccess(a);
  }

  private releaseAccess(a: Access): void {
    this.accessPool.put(a);
  }

  // ---- atomic mode ----

  /** Performs records at the core's estimated time, up to ATOMIC_BATCH transactions. */
  private atomicBatch(): void {
    const ff = this.ff;
    let limit = ATOMIC_BATCH;
    if (ff !== null) {
      // Fast-forward: a batch boundary is a drain point once every transaction issued so
      // far has completed at its estimated tick (atomicEnd); to park, wait for that.
      const now = this.ctx.engine.now;
      if (ff.parked || now >= ff.untilTick || ff.accesses >= ff.maxAccesses) {
        if (this.atomicEnd > now) {
          this.ctx.engine.schedule(this.atomicEnd, this.onAtomicBatch);
          return;
        }
        this.parkedRunning = ff.parkHere(now);
        return;
      }
      limit = Math.min(limit, ff.budget());
    }
    let sent = 0;
    while (sent < limit) {
      if (!this.hasRecord && !this.nextRecord()) {
        if (ff !== null) ff.accesses += sent;
        this.ctx.engine.schedule(this.atomicEnd > this.ctx.engine.now ? this.atomicEnd : this.ctx.engine.now, this.onAtomicDone);
        return;
      }
      let rmwDone = 0;
      while (this.hasRecord) {
        if (this.rmwLoad !== null) {
          const load = this.rmwLoad;
          this.rmwLoad = null;
          const failed = load.faulted || load.errored;
          rmwDone = load.lastDone;
          this.releaseAccess(load);
          if (failed) {
            this.sRmwSkipped.value++;
            this.hasRecord = false;
            break;
          }
        }
        this.atomicPiece(rmwDone);
        sent++;
      }
    }
    if (ff !== null) ff.accesses += sent;
    this.ctx.engine.schedule(this.nextIssue, this.onAtomicBatch);
  }

  /** Issues one transaction with sendAtomic at its estimated tick. */
  private atomicPiece(notBefore: Tick): void {
    const posted = this.partStore && this.storeBuffer > 0;
    const slots = posted ? this.storeSlotFree : this.slotFree;
    // The earliest a slot frees (−Infinity while one is free: nextIssue is never before the trace's start).
    const free = slots.earliest();
    let t = this.nextIssue > free ? this.nextIssue : free;
    if (notBefore > t) t = notBefore;
    if (this.gapPending) {
      this.gapPending = false;
      t = this.edge(t, this.recGap);
    } else {
      t = this.edge(t, 0);
    }
    const txn = this.issuePiece(t, posted);
    const a = txn.context as Access;
    this.nextIssue = this.edge(t, 1);
    const done = t + this.port.sendAtomic(txn);
    slots.take(done);
    if (done > this.atomicEnd) this.atomicEnd = done;
    if (done > a.lastDone) a.lastDone = done;
    this.account(a, txn);
    this.pool.release(txn);
    if (a.issuedAll) this.completeAccess(a, a.lastDone);
  }

  // ---- end of a trace ----

  private finish(): void {
    const job = this.job!;
    const now = this.ctx.engine.now;
    job.result.endTick = now;
    this.sBusyPs.value += Math.min(now - this.jobStart, this.ctx.stats.elapsedTicks());
    this.job = null;
    job.done(job.result);
    if (!this.job) this.startNext();
    if (this.job === null && this.ff !== null) this.ff.idle();
  }
}
