import { Fifo } from '../engine/fifo';
import { FreeList } from '../engine/freeList';
import { z } from 'zod';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import { hex, POW2 } from '../engine/addr';
import type { Counter, Histogram } from '../engine/stats';
import { count, Cycles, resolveParams } from '../engine/spec';
import type { Tick } from '../engine/time';
import { InOrderSender } from '../bus/inOrderSender';
import { RequestPort, type ResponseReceiver } from '../bus/port';
import { Cmd, Status, Transaction, TransactionPool } from '../bus/transaction';
import { EntryKind, levelIndex, newDecodedEntry, type DecodedEntry, type PageTableFormat } from './format/types';
import { Perm } from './perms';
import { WalkCache, WalkCacheSpec } from './walkCache';

/** Why a translation failed (SMMU-style fault classes). */
export const FaultReason = { NotPresent: 0, Permission: 1, AddressSize: 2, WalkAbort: 3, NoContext: 4 } as const;
export type FaultReason = (typeof FaultReason)[keyof typeof FaultReason];
/** Trace and fault-record names; `no_context` is a stream with no (or an aborting) context. */
export const FAULT_REASON_NAMES = ['not_present', 'permission', 'address_size', 'walk_abort', 'no_context'] as const;

export const WalkOutcome = { Page: 0, Sparse: 1, Fault: 2 } as const;
export type WalkOutcome = (typeof WalkOutcome)[keyof typeof WalkOutcome];
/** Outcome names for trace records, by WalkOutcome value. */
const OUTCOME_NAMES = ['page', 'sparse', 'fault'] as const;

/**
 * A stream's stage-2 translation (IPA -> PA; Arm SMMUv3 STE.S2TTB / VTCR / VMID). With
 * it a context is translated by stage 2 only (`nested: false`: STE.Config "S2 translate",
 * stage 1 bypassed) or by both stages (`nested: true`: stage 1 gives an IPA, stage 2 the
 * PA, and stage-1 table addresses are IPAs too). See nestedWalker.ts.
 */
export interface Stage2Context {
  /** An LPAE stage-2 format (format/index.ts STAGE2_FORMATS, or armLpaeS2Format). */
  readonly format: PageTableFormat;
  /** Physical address of the stage-2 root (VTTBR; concatenated tables: the first). */
  readonly root: number;
  /** Virtual machine id, 1..MAX_VMID: tags stage-2 walk-cache entries. */
  readonly vmid: number;
  readonly nested: boolean;
}

/** Largest VMID the model takes (its tags must fit a TLB's 32-bit ASID field). */
export const MAX_VMID = 0x7fff;
/** ASIDs per VMID in a context tag. */
export const VMID_TAG_SPAN = 0x1_0000;

/**
 * The TLB / stage-1 walk-cache tag of a context with stage 2: VMID and ASID in one number
 * (vmid * 2^16 + asid), so entries of different VMs never match each other and a VMID's
 * entries are one span of tags (invalidated together by `invalidate-vmid`). Stage-1-only
 * contexts use their ASID (below 2^16) as the tag.
 */
export function stage2Tag(vmid: number, asid: number): number {
  return vmid * VMID_TAG_SPAN + asid;
}

/** The page tables a walk uses: set per IOMMU stream or per CPU context. */
export interface WalkContext {
  readonly format: PageTableFormat;
  /** Physical address of the root table (with stage 2 in nested mode: its IPA). */
  readonly root: number;
  /** The TLB and walk-cache tag: the ASID, or stage2Tag(vmid, asid) with stage 2. */
  readonly asid: number;
  /** Stage-2 translation; absent or null for stage 1 only (the walks of this file). */
  readonly stage2?: Stage2Context | null;
}

/**
 * The walker's parameters. That each walk cache's level is a table level of the unit's
 * page-table format is the IOMMU / CPU MMU spec's rule (it needs the format).
 */
export const WalkerSpec = z
  .strictObject({
    slots: count().describe('walks in progress at once; more wait, first come first served (at most 2^20)'),
    stepCycles: Cycles.describe('walker work before each table read, cycles'),
    walkCaches: z.array(WalkCacheSpec).default([]).describe('one cache of table pointers per level, at most one per level'),
  })
  .superRefine((p, ctx) => {
    p.walkCaches.forEach((c, k) => {
      const first = p.walkCaches.findIndex((o) => o.level === c.level);
      if (first !== k) {
        ctx.addIssue({ code: 'custom', path: ['walkCaches', k, 'level'], message: `level "${c.level}" already has a walk cache (walkCaches[${first}])` });
      }
    });
  });

/** What the walker takes (defaults may be left out). */
export type WalkerParamsInput = z.input<typeof WalkerSpec>;
export type WalkerParams = z.output<typeof WalkerSpec>;

export type WalkDone = (walk: Walk) => void;

/** One walk: request, progress and result. Pooled by the walker; valid until `done` returns. */
export class Walk {
  wctx!: WalkContext;
  va = 0;
  tag: unknown = null;
  done: WalkDone | null = null;
  // progress
  level = 0;
  table = 0;
  /** SPT still to try if the LPTE turns out unmapped (dual formats), or -1. */
  spt = -1;
  reads = 0;
  /** When start() was called (the walk may then wait for a slot). */
  queuedTick: Tick = 0;
  startTick: Tick = 0;
  // result
  outcome: WalkOutcome = WalkOutcome.Fault;
  paBase = 0;
  pageShift = 0;
  perms = 0;
  faultReason: FaultReason = FaultReason.NotPresent;
  /** Level name where the walk ended. */
  faultLevel = '';
  /** A NestedWalk (nestedWalker.ts), whose reads share this walker's port. */
  nested = false;
}

/** Who takes the responses of reads sent through `sendForeign`. */
export interface ForeignWalker {
  recvResponse(t: Transaction): void;
}

const CONTINUE = 0;
const DONE = 1;

/**
 * A page-table walker. Every PDE/PTE read is a bus transaction through `port`, so walk
 * latency is the latency of those reads through bus and DRAM plus `stepCycles` of
 * walker work before each read. Walk caches (one per configured level) are probed in
 * parallel when a walk starts (cost: the largest of their latencies); the deepest hit
 * lets the walk skip every level above it.
 *
 * The walk rules live in `step()` and are shared by the timing, atomic and functional
 * paths. Dual (LPT + SPT) formats follow nvkm: an LPTE that maps a page, is sparse, or
 * is "invalid" (Blocked) decides the walk; an unmapped LPTE sends the walker to the SPT.
 */
export class PageTableWalker implements ResponseReceiver {
  readonly port: RequestPort;
  readonly caches: WalkCache[];
  declare readonly params: WalkerParams;
  // `declare`d numeric fields are set in the constructor only: a class field without an
  // initializer is first defined as undefined, and V8 then keeps the number tagged (tlb.ts).
  private declare readonly cacheLatency: number;
  private readonly pool = new TransactionPool(16);
  private readonly walkPool = new FreeList<Walk>();
  private readonly waiting = new Fifo<Walk>();
  private active = 0;
  private readonly sender: InOrderSender;
  private readonly decoded: DecodedEntry = newDecodedEntry();
  private readonly words = new Uint32Array(4);
  private readonly scratchTxn = new Transaction(16);

  /** @internal Unit totals, also counted by the nested walker. */
  readonly sWalks: Counter;
  /** @internal */
  readonly sMemReads: Counter;
  /** @internal */
  readonly sFaults: Counter;
  /** Where responses to `sendForeign` reads go (the unit's nested walker), or null. */
  foreign: ForeignWalker | null = null;
  private readonly sSlotWaits: Counter;
  private readonly sSlotWaitNs: Histogram;
  /** @internal */
  readonly sLatencyNs: Histogram;
  /** @internal */
  readonly sLatencyCycles: Histogram;
  private readonly onStepDue = (w: Walk) => this.issueRead(w);

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    readonly clock: ClockDomain,
    readonly masterId: number,
    readonly format: PageTableFormat,
    paramsIn: WalkerParamsInput,
  ) {
    const params = resolveParams(WalkerSpec, paramsIn, path);
    this.params = params;
    this.port = new RequestPort(`${path}.port`, this);
    this.sender = new InOrderSender(this.port);
    this.caches = params.walkCaches.map((c) => {
      const level = format.levels.findIndex((l) => l.name === c.level);
      if (level < 0) throw new SimInvariantError(`${path}: format ${format.name} has no level ${c.level}`);
      if (level === format.smallLeaf || level === format.largeLeaf) {
        throw new SimInvariantError(`${path}: level ${c.level} is a leaf; walk caches hold table pointers`);
      }
      return new WalkCache(ctx, `${path}.walk_cache.${c.level.toLowerCase()}`, format.levels[level], c);
    });
    // Deepest level first, so the first hit skips the most reads.
    this.caches.sort((a, b) => format.levels.indexOf(a.level) - format.levels.indexOf(b.level));
    this.cacheLatency = Math.max(0, ...params.walkCaches.map((c) => c.latencyCycles));
    const s = ctx.stats.scope(path);
    this.sWalks = s.counter('walks', 'page-table walks completed');
    this.sMemReads = s.counter('mem_reads', 'page-table entry reads sent to memory');
    this.sFaults = s.counter('faults', 'walks that ended in a fault');
    this.sSlotWaits = s.counter('slot_waits', 'walks that waited for a free walk slot');
    this.sSlotWaitNs = s.histogram('slot_wait_ns', 'time from a walk request to a free walk slot (0 when one was free), ns');
    this.sLatencyNs = s.histogram('latency_ns', 'walk start to result, ns');
    this.sLatencyCycles = s.histogram('latency_cycles', 'walk start to result, walker cycles');
  }

  /** Walks in progress. */
  get busySlots(): number {
    return this.active;
  }

  /** Walks waiting for a slot. */
  get queuedWalks(): number {
    return this.waiting.length;
  }

  /** Starts (or queues) a timing walk of `va`; `done` receives the Walk when it ends. */
  start(wctx: WalkContext, va: number, done: WalkDone, tag: unknown = null): void {
    const w = this.walkPool.take() ?? new Walk();
    w.wctx = wctx;
    w.va = va;
    w.done = done;
    w.tag = tag;
    w.queuedTick = this.ctx.engine.now;
    // First come, first served: a free slot goes to a waiting walk before a new one (a
    // walk started from a `done` callback must not overtake the queue).
    if (this.active < this.params.slots && this.waiting.length === 0) this.begin(w);
    else {
      this.sSlotWaits.value++;
      this.waiting.push(w);
    }
  }

  /** Atomic walk: reads through `port.sendAtomic`, fills walk caches, counts stats; returns latency. */
  walkAtomic(wctx: WalkContext, va: number, out: Walk): Tick {
    out.wctx = wctx;
    out.va = va;
    let latency = this.clock.cyclesToTicks(this.cacheLatency);
    if (this.prepare(out, true) === CONTINUE) {
      while (true) {
        latency += this.clock.cyclesToTicks(this.params.stepCycles);
        const t = this.scratchRead(out);
        latency += this.port.sendAtomic(t);
        this.sMemReads.value++;
        if (this.afterRead(out, t, true) === DONE) break;
      }
    }
    this.sWalks.value++;
    if (out.outcome === WalkOutcome.Fault) this.sFaults.value++;
    this.sLatencyNs.sample(latency / 1000);
    this.sLatencyCycles.sample(latency / this.clock.periodPs);
    return latency;
  }

  /** Functional walk: zero time, no walk caches, no stats. */
  walkFunctional(wctx: WalkContext, va: number, out: Walk): void {
    out.wctx = wctx;
    out.va = va;
    if (this.prepare(out, false) === DONE) return;
    while (true) {
      const t = this.scratchRead(out);
      this.port.sendFunctional(t);
      if (this.afterRead(out, t, false) === DONE) return;
    }
  }

  invalidateAll(): void {
    for (const c of this.caches) c.invalidateAll();
  }

  invalidateAsid(asid: number): void {
    for (const c of this.caches) c.invalidateAsid(asid);
  }

  invalidateRange(asid: number, va: number, size: number): void {
    for (const c of this.caches) c.invalidateRange(asid, va, size);
  }

  /** Drops walk-cache entries whose tag is in [first, first + count) (a VMID's tags). */
  invalidateAsidSpan(first: number, count: number): void {
    for (const c of this.caches) c.invalidateAsidSpan(first, count);
  }

  // ---- timing path ----

  private begin(w: Walk): void {
    this.active++;
    w.startTick = this.ctx.engine.now;
    this.sSlotWaitNs.sample((w.startTick - w.queuedTick) / 1000);
    if (this.prepare(w, true) === DONE) {
      this.finish(w);
      return;
    }
    const cycles = this.cacheLatency + this.params.stepCycles;
    if (cycles === 0) this.issueRead(w);
    else this.ctx.engine.schedule(this.clock.edgeAfter(this.ctx.engine.now, cycles), this.onStepDue, w);
  }

  private issueRead(w: Walk): void {
    const level = w.wctx.format.levels[w.level];
    const t = this.pool.alloc(Cmd.Read, w.table + levelIndex(level, w.va) * level.entryBytes, level.entryBytes, this.masterId, this.ctx.engine.now);
    t.context = w;
    this.sMemReads.value++;
    if (this.ctx.tracer.walk) {
      this.ctx.tracer.emit('walk', this.ctx.engine.now, { walker: this.path, asid: w.wctx.asid, va: hex(w.va), level: level.name, read: hex(t.addr) });
    }
    this.sender.send(t);
  }

  recvRetry(): void {
    this.sender.retry();
  }

  /** Sends a read of another walker (NestedWalk context) through this walker's port, in order with its own. */
  sendForeign(t: Transaction): void {
    this.sender.send(t);
  }

  recvResponse(t: Transaction): void {
    const w = t.context as Walk;
    if (w.nested) {
      this.foreign!.recvResponse(t);
      return;
    }
    const next = this.afterRead(w, t, true);
    this.pool.release(t);
    if (next === DONE) {
      this.finish(w);
    } else if (this.params.stepCycles === 0) {
      this.issueRead(w);
    } else {
      this.ctx.engine.schedule(this.clock.edgeAfter(this.ctx.engine.now, this.params.stepCycles), this.onStepDue, w);
    }
  }

  private finish(w: Walk): void {
    const latency = this.ctx.engine.now - w.startTick;
    // One record per walk (not per access): timelines draw the walk with its duration whatever else is traced.
    if (this.ctx.tracer.walk) {
      this.ctx.tracer.emit('walk', this.ctx.engine.now, {
        walker: this.path, asid: w.wctx.asid, va: hex(w.va), ev: 'done', start: w.startTick, reads: w.reads, outcome: OUTCOME_NAMES[w.outcome], lat_ps: latency,
      });
    }
    this.sWalks.value++;
    if (w.outcome === WalkOutcome.Fault) this.sFaults.value++;
    this.sLatencyNs.sample(latency / 1000);
    this.sLatencyCycles.sample(latency / this.clock.periodPs);
    this.active--;
    const done = w.done!;
    done(w);
    w.done = null;
    w.tag = null;
    this.walkPool.put(w);
    // After `done`, whose callbacks may have queued more walks (behind the waiting ones).
    if (this.waiting.length > 0 && this.active < this.params.slots) this.begin(this.waiting.shift()!);
  }

  // ---- walk rules, shared by all paths ----

  /** Resets progress, checks the VA, applies walk caches. DONE if no read is needed. */
  private prepare(w: Walk, useCaches: boolean): number {
    const f = w.wctx.format;
    w.reads = 0;
    w.spt = -1;
    w.level = f.root;
    w.table = w.wctx.root;
    if (w.va >= POW2[f.vaBits] || w.va < 0) return this.fault(w, FaultReason.AddressSize);
    if (!useCaches) return CONTINUE;
    for (const c of this.caches) {
      if (c.find(w.wctx.asid, w.va)) {
        c.hits.value++;
        const lvl = f.levels.indexOf(c.level);
        return this.followTable(w, lvl, c.hitAddr, c.hitAddr2);
      }
      c.misses.value++;
    }
    return CONTINUE;
  }

  private scratchRead(w: Walk): Transaction {
    const level = w.wctx.format.levels[w.level];
    const t = this.scratchTxn;
    t.cmd = Cmd.Read;
    t.addr = w.table + levelIndex(level, w.va) * level.entryBytes;
    t.size = level.entryBytes;
    t.masterId = this.masterId;
    t.status = Status.Pending;
    return t;
  }

  /** Decodes the entry just read and advances the walk. */
  private afterRead(w: Walk, t: Transaction, fillCaches: boolean): number {
    w.reads++;
    if (t.status !== Status.Ok) return this.fault(w, FaultReason.WalkAbort);
    const f = w.wctx.format;
    const d = t.data;
    const words = this.words;
    const n = t.size / 4;
    for (let i = 0, b = 0; i < n; i++, b += 4) {
      words[i] = (d[b] | (d[b + 1] << 8) | (d[b + 2] << 16) | (d[b + 3] << 24)) >>> 0;
    }
    const e = this.decoded;
    f.decode(w.level, words, e);
    switch (e.kind) {
      case EntryKind.Table:
        if (fillCaches) this.fillCache(w, e);
        return this.followTable(w, w.level, e.addr, e.addr2);
      case EntryKind.Page:
        if (e.addr + POW2[e.pageShift] > POW2[f.paBits]) return this.fault(w, FaultReason.AddressSize);
        w.outcome = WalkOutcome.Page;
        w.paBase = e.addr;
        w.pageShift = e.pageShift;
        w.perms = Perm.Read | (e.readOnly ? 0 : Perm.Write) | (e.privileged ? Perm.PrivOnly : 0);
        w.faultLevel = f.levels[w.level].name;
        return DONE;
      case EntryKind.Sparse:
        w.outcome = WalkOutcome.Sparse;
        w.paBase = 0;
        w.pageShift = this.sparseShift(w);
        w.perms = Perm.Read | Perm.Write | Perm.Sparse;
        w.faultLevel = f.levels[w.level].name;
        return DONE;
      case EntryKind.Unmapped:
        if (w.level === f.largeLeaf && w.spt >= 0) {
          w.level = f.smallLeaf;
          w.table = w.spt;
          w.spt = -1;
          return CONTINUE;
        }
        return this.fault(w, FaultReason.NotPresent);
      default: // Blocked: an invalid LPTE stops the MMU from looking at the SPT
        return this.fault(w, FaultReason.NotPresent);
    }
  }

  /** Continues below a Table entry of `level` pointing at addr (and addr2 for dual PDEs). */
  private followTable(w: Walk, level: number, addr: number, addr2: number): number {
    const f = w.wctx.format;
    if (f.isDual(level)) {
      if (addr >= 0) {
        w.level = f.largeLeaf;
        w.table = addr;
        w.spt = addr2;
        return CONTINUE;
      }
      if (addr2 >= 0) {
        w.level = f.smallLeaf;
        w.table = addr2;
        w.spt = -1;
        return CONTINUE;
      }
      w.level = level;
      return this.fault(w, FaultReason.NotPresent);
    }
    w.level = f.child(level);
    w.table = addr;
    return CONTINUE;
  }

  private fillCache(w: Walk, e: DecodedEntry): void {
    const level = w.wctx.format.levels[w.level];
    for (const c of this.caches) {
      if (c.level === level) {
        c.insert(w.wctx.asid, w.va, e.addr, e.addr2);
        return;
      }
    }
  }

  /** A sparse entry covers the VA span of its level's entries. */
  private sparseShift(w: Walk): number {
    return w.wctx.format.levels[w.level].shift;
  }

  private fault(w: Walk, reason: FaultReason): number {
    w.outcome = WalkOutcome.Fault;
    w.faultReason = reason;
    w.faultLevel = w.wctx.format.levels[w.level].name;
    return DONE;
  }
}
