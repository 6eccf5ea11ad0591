import { Fifo } from '../engine/fifo';
import { FreeList } from '../engine/freeList';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import { hex, pageOffset, POW2 } from '../engine/addr';
import type { Counter } from '../engine/stats';
import type { Tick } from '../engine/time';
import { Cmd, Status, Transaction, TransactionPool } from '../bus/transaction';
import { EntryKind, levelIndex, newDecodedEntry, type DecodedEntry, type PageTableFormat } from './format/types';
import { Perm } from './perms';
import { WalkCache, type WalkCacheParamsInput } from './walkCache';
import { FaultReason, PageTableWalker, Walk, WalkOutcome, type Stage2Context, type WalkContext, type WalkDone } from './walker';

/**
 * Stage-2-only and nested (stage 1 then stage 2) page-table walks: Arm SMMUv3 STE.Config
 * "S2 translate" and "S1 + S2 translate" (SMMUv3 spec §3.3 "Stage 2"; Arm ARM D8.2
 * "Stage 2 translation"), for the LPAE formats.
 *
 * A nested walk reads the stage-1 tables at IPAs: every stage-1 table address (the root
 * from the context, the next-level pointers from table descriptors) is itself translated
 * by a stage-2 walk before the stage-1 descriptor is read at the resulting PA, and the
 * stage-1 leaf's output IPA gets a final stage-2 walk. With n stage-1 and m stage-2 levels
 * that is n (m + 1) + m = (n + 1)(m + 1) - 1 reads with empty walk caches: 24 for 4 + 4.
 *
 * Walk caches are per stage:
 * - stage 1: the unit's walk caches (PageTableWalker.caches), keyed by (context tag, VA
 *   prefix) and holding IPA table pointers; a hit skips stage-1 levels, but the table it
 *   names still needs a stage-2 walk;
 * - stage 2: this walker's caches (the IOMMU's `stage2WalkCaches`), keyed by (VMID, IPA
 *   prefix) and holding PA table pointers; a hit skips stage-2 levels of every stage-2
 *   walk (those of the stage-1 tables and the final one).
 * With warm caches on every table level of both stages the walk is 3 reads: the stage-2
 * leaf of the last stage-1 table, that table's entry, and the stage-2 leaf of the output.
 *
 * The result is one combined translation VA -> PA, of the smaller of the two page sizes,
 * with the permissions both stages allow (stage 2 has separate read and write bits and no
 * privileged/unprivileged split). Faults name the stage: a stage-2 fault's level is
 * `s2:<level>` (a stage-2 fault on a stage-1 table read too; SMMUv3 reports it as
 * F_TRANSLATION with S2 = 1 and CLASS = TT). A stage-1 table whose stage-2 leaf denies
 * reads faults as a permission fault at stage 2.
 *
 * Reads go out through the unit's walker port (PageTableWalker.sendForeign), so the bus
 * sees one walker master. The model keeps its own `slots` walk slots for these walks: they
 * do not compete with stage-1-only walks of the same unit (a unit usually serves one kind).
 *
 * Stats under `<unit>.walker` (registered when the first stage-2 context is programmed):
 *   s1.walks, s1.mem_reads, s1.walk_cache_hits   stage-1 part of nested walks
 *   s2.walks, s2.mem_reads, s2.walk_cache_hits   stage-2 walks (per stage-1 table and per output IPA)
 *   s2.walk_cache.<level>.hits / .misses         each stage-2 walk cache
 *   nested.walks                                 stage-2-only and nested walks
 * Each of these walks also counts once in `walker.walks` (`walker.faults`,
 * `walker.latency_ns`, `walker.latency_cycles`), and its reads in `walker.mem_reads`, so
 * the unit totals cover every walk.
 */

/** A walk in progress through both stages. Pooled; valid until `done` returns. */
export class NestedWalk extends Walk {
  s2: Stage2Context | null = null;
  /** Translating the output IPA (final stage-2 walk) rather than a stage-1 table's. */
  final = false;
  /** The next read is a stage-2 descriptor. */
  inS2 = false;
  /** The IPA the current stage-2 walk translates. */
  ipa = 0;
  s2Level = 0;
  s2Table = 0;
  /** PA of the stage-1 descriptor to read next (after its table's stage-2 walk). */
  s1DescPa = 0;
  s1Reads = 0;
  s2Reads = 0;
  s2Walks = 0;
  /** Stage-1 result: page size and Perm bits (stage 2 only: the whole input space, R|W). */
  s1Shift = 0;
  s1Perms = 0;
  /** Walker cycles due before the next read (stage-2 walk-cache probes). */
  pendingCycles = 0;
  constructor() {
    super();
    this.nested = true;
  }
}

const CONTINUE = 0;
const DONE = 1;
/** Stage-1 page size of a stage-2-only walk: no stage-1 page limits the combined one. */
const NO_S1_LIMIT = 64;

export interface NestedWalkerParams {
  slots: number;
  stepCycles: number;
  stage2WalkCaches: readonly WalkCacheParamsInput[];
}

export class NestedWalker {
  /** Stage-2 walk caches, deepest level first. */
  readonly s2Caches: WalkCache[];
  private declare readonly s1CacheLatency: number;
  private declare readonly s2CacheLatency: number;
  private readonly pool = new TransactionPool(16);
  private readonly walkPool = new FreeList<NestedWalk>();
  private readonly waiting = new Fifo<NestedWalk>();
  private active = 0;
  private readonly d1: DecodedEntry = newDecodedEntry();
  private readonly d2: DecodedEntry = newDecodedEntry();
  private readonly words = new Uint32Array(4);
  private readonly scratchTxn = new Transaction(16);
  private readonly scratch = new NestedWalk();

  private readonly sS1Walks: Counter;
  private readonly sS1Reads: Counter;
  private readonly sS1CacheHits: Counter;
  private readonly sS2Walks: Counter;
  private readonly sS2Reads: Counter;
  private readonly sS2CacheHits: Counter;
  private readonly sWalks: Counter;
  private readonly onStepDue = (w: NestedWalk) => this.issueRead(w);

  /**
   * `s1` is the unit's walker (its port, stage-1 walk caches and totals); `s2Format` the
   * stage-2 format whose levels the stage-2 walk caches name (one stage-2 granule per unit).
   */
  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    readonly clock: ClockDomain,
    readonly masterId: number,
    private readonly s1: PageTableWalker,
    readonly s2Format: PageTableFormat,
    readonly params: NestedWalkerParams,
  ) {
    this.s2Caches = params.stage2WalkCaches.map((c) => {
      const level = s2Format.levels.findIndex((l) => l.name === c.level);
      if (level < 0 || level === s2Format.smallLeaf) {
        throw new SimInvariantError(`${path}: stage-2 walk cache level ${c.level} is not a table level of ${s2Format.name}`);
      }
      return new WalkCache(ctx, `${path}.s2.walk_cache.${c.level.toLowerCase()}`, s2Format.levels[level], c);
    });
    this.s2Caches.sort((a, b) => s2Format.levels.indexOf(a.level) - s2Format.levels.indexOf(b.level));
    this.s1CacheLatency = Math.max(0, ...s1.params.walkCaches.map((c) => c.latencyCycles));
    this.s2CacheLatency = Math.max(0, ...params.stage2WalkCaches.map((c) => c.latencyCycles));
    const s = ctx.stats.scope(path);
    this.sS1Walks = s.counter('s1.walks', 'stage-1 walks of nested translations');
    this.sS1Reads = s.counter('s1.mem_reads', 'stage-1 descriptor reads of nested walks');
    this.sS1CacheHits = s.counter('s1.walk_cache_hits', 'nested walks whose stage 1 started below the root (stage-1 walk-cache hit)');
    this.sS2Walks = s.counter('s2.walks', 'stage-2 walks (one per stage-1 table of a nested walk, one per output IPA)');
    this.sS2Reads = s.counter('s2.mem_reads', 'stage-2 descriptor reads');
    this.sS2CacheHits = s.counter('s2.walk_cache_hits', 'stage-2 walks that started below the root (stage-2 walk-cache hit)');
    this.sWalks = s.counter('nested.walks', 'stage-2-only and nested walks completed');
  }

  /** Starts (or queues, first come first served) a timing walk of `va`. */
  start(wctx: WalkContext, va: number, done: WalkDone, tag: unknown = null): void {
    const w = this.walkPool.take() ?? new NestedWalk();
    w.wctx = wctx;
    w.va = va;
    w.done = done;
    w.tag = tag;
    w.queuedTick = this.ctx.engine.now;
    if (this.active < this.params.slots && this.waiting.length === 0) this.begin(w);
    else this.waiting.push(w);
  }

  /** Atomic walk into `out` (its result fields); returns the latency. */
  walkAtomic(wctx: WalkContext, va: number, out: Walk): Tick {
    const w = this.scratch;
    w.wctx = wctx;
    w.va = va;
    let latency = this.clock.cyclesToTicks(this.s1CacheLatency);
    if (this.prepare(w, true) === CONTINUE) {
      while (true) {
        latency += this.clock.cyclesToTicks(this.params.stepCycles + w.pendingCycles);
        w.pendingCycles = 0;
        const t = this.scratchRead(w);
        latency += this.s1.port.sendAtomic(t);
        this.countRead(w);
        if (this.afterRead(w, t, true) === DONE) break;
      }
    }
    this.count(w, latency);
    copyResult(w, out);
    return latency;
  }

  /** Functional walk: zero time, no walk caches, no stats. */
  walkFunctional(wctx: WalkContext, va: number, out: Walk): void {
    const w = this.scratch;
    w.wctx = wctx;
    w.va = va;
    if (this.prepare(w, false) === CONTINUE) {
      while (true) {
        const t = this.scratchRead(w);
        this.s1.port.sendFunctional(t);
        if (this.afterRead(w, t, false) === DONE) break;
      }
    }
    copyResult(w, out);
  }

  invalidateAll(): void {
    for (const c of this.s2Caches) c.invalidateAll();
  }

  /** Drops the stage-2 walk-cache entries of `vmid` (CMD_TLBI_S12_VMALL). */
  invalidateVmid(vmid: number): void {
    for (const c of this.s2Caches) c.invalidateAsid(vmid);
  }

  /** Drops the stage-2 walk-cache entries of `vmid` whose IPA span overlaps [ipa, ipa + size) (CMD_TLBI_S2_IPA). */
  invalidateIpa(vmid: number, ipa: number, size: number): void {
    for (const c of this.s2Caches) c.invalidateRange(vmid, ipa, size);
  }

  // ---- timing path ----

  private begin(w: NestedWalk): void {
    this.active++;
    w.startTick = this.ctx.engine.now;
    if (this.prepare(w, true) === DONE) {
      this.finish(w);
      return;
    }
    this.schedule(w, this.s1CacheLatency);
  }

  private schedule(w: NestedWalk, extra: number): void {
    const cycles = extra + this.params.stepCycles + w.pendingCycles;
    w.pendingCycles = 0;
    if (cycles === 0) this.issueRead(w);
    else this.ctx.engine.schedule(this.clock.edgeAfter(this.ctx.engine.now, cycles), this.onStepDue, w);
  }

  private issueRead(w: NestedWalk): void {
    const addr = this.readAddr(w);
    const t = this.pool.alloc(Cmd.Read, addr, 8, this.masterId, this.ctx.engine.now);
    t.context = w;
    this.countRead(w);
    if (this.ctx.tracer.walk) {
      const level = w.inS2 ? w.s2!.format.levels[w.s2Level] : w.wctx.format.levels[w.level];
      this.ctx.tracer.emit('walk', this.ctx.engine.now, {
        walker: this.path, asid: w.wctx.asid, va: hex(w.va), stage: w.inS2 ? 2 : 1, level: level.name, read: hex(addr),
      });
    }
    this.s1.sendForeign(t);
  }

  /** A read of ours came back through the unit walker's port. */
  recvResponse(t: Transaction): void {
    const w = t.context as NestedWalk;
    const next = this.afterRead(w, t, true);
    this.pool.release(t);
    if (next === DONE) this.finish(w);
    else this.schedule(w, 0);
  }

  private finish(w: NestedWalk): void {
    const latency = this.ctx.engine.now - w.startTick;
    if (this.ctx.tracer.walk) {
      this.ctx.tracer.emit('walk', this.ctx.engine.now, {
        walker: this.path, asid: w.wctx.asid, va: hex(w.va), ev: 'done', start: w.startTick, reads: w.reads, s1_reads: w.s1Reads, s2_reads: w.s2Reads,
        outcome: w.outcome === WalkOutcome.Fault ? 'fault' : 'page', lat_ps: latency,
      });
    }
    this.count(w, latency);
    this.active--;
    const done = w.done!;
    done(w);
    w.done = null;
    w.tag = null;
    this.walkPool.put(w);
    if (this.waiting.length > 0 && this.active < this.params.slots) this.begin(this.waiting.shift()!);
  }

  private countRead(w: NestedWalk): void {
    this.s1.sMemReads.value++;
    if (w.inS2) this.sS2Reads.value++;
    else this.sS1Reads.value++;
  }

  private count(w: NestedWalk, latency: Tick): void {
    this.sWalks.value++;
    this.s1.sWalks.value++;
    if (w.outcome === WalkOutcome.Fault) this.s1.sFaults.value++;
    this.s1.sLatencyNs.sample(latency / 1000);
    this.s1.sLatencyCycles.sample(latency / this.clock.periodPs);
  }

  // ---- walk rules, shared by all paths ----

  /** Resets progress and starts stage 1 (nested) or the one stage-2 walk (stage 2 only). */
  private prepare(w: NestedWalk, useCaches: boolean): number {
    const s2 = w.wctx.stage2;
    if (s2 == null) throw new SimInvariantError(`${this.path}: stage-2 walk without a stage-2 context`);
    w.s2 = s2;
    w.reads = 0;
    w.s1Reads = 0;
    w.s2Reads = 0;
    w.s2Walks = 0;
    w.pendingCycles = 0;
    w.spt = -1;
    if (!s2.nested) {
      w.final = true;
      w.s1Shift = NO_S1_LIMIT;
      w.s1Perms = Perm.Read | Perm.Write;
      return this.startS2(w, w.va, useCaches);
    }
    const f = w.wctx.format;
    w.final = false;
    w.level = f.root;
    w.table = w.wctx.root;
    if (useCaches) this.sS1Walks.value++;
    if (w.va >= POW2[f.vaBits] || w.va < 0) return this.fault(w, FaultReason.AddressSize, false);
    if (useCaches) {
      for (const c of this.s1.caches) {
        if (c.find(w.wctx.asid, w.va)) {
          c.hits.value++;
          this.sS1CacheHits.value++;
          w.level = f.child(f.levels.indexOf(c.level));
          w.table = c.hitAddr;
          break;
        }
        c.misses.value++;
      }
    }
    return this.startS2(w, this.s1DescIpa(w), useCaches);
  }

  /** IPA of the stage-1 descriptor the walk reads next. */
  private s1DescIpa(w: NestedWalk): number {
    const level = w.wctx.format.levels[w.level];
    return w.table + levelIndex(level, w.va) * level.entryBytes;
  }

  /** Starts a stage-2 walk of `ipa`, below the deepest stage-2 walk-cache hit. */
  private startS2(w: NestedWalk, ipa: number, useCaches: boolean): number {
    const s2 = w.s2!;
    const f = s2.format;
    w.inS2 = true;
    w.ipa = ipa;
    w.s2Level = f.root;
    w.s2Table = s2.root;
    if (useCaches) this.sS2Walks.value++;
    if (ipa >= POW2[f.vaBits] || ipa < 0) return this.fault(w, FaultReason.AddressSize, true);
    if (!useCaches) return CONTINUE;
    w.pendingCycles += this.s2CacheLatency;
    for (const c of this.s2Caches) {
      if (c.find(s2.vmid, ipa)) {
        c.hits.value++;
        this.sS2CacheHits.value++;
        w.s2Level = f.child(f.levels.indexOf(c.level));
        w.s2Table = c.hitAddr;
        return CONTINUE;
      }
      c.misses.value++;
    }
    return CONTINUE;
  }

  private readAddr(w: NestedWalk): number {
    if (!w.inS2) return w.s1DescPa;
    const level = w.s2!.format.levels[w.s2Level];
    return w.s2Table + levelIndex(level, w.ipa) * level.entryBytes;
  }

  private scratchRead(w: NestedWalk): Transaction {
    const t = this.scratchTxn;
    t.cmd = Cmd.Read;
    t.addr = this.readAddr(w);
    t.size = 8;
    t.masterId = this.masterId;
    t.status = Status.Pending;
    return t;
  }

  /** Decodes the entry just read (stage 1 or stage 2) and advances the walk. */
  private afterRead(w: NestedWalk, t: Transaction, fillCaches: boolean): number {
    w.reads++;
    if (t.status !== Status.Ok) return this.fault(w, FaultReason.WalkAbort, w.inS2);
    const d = t.data;
    const words = this.words;
    for (let i = 0, b = 0; i < 2; i++, b += 4) words[i] = (d[b] | (d[b + 1] << 8) | (d[b + 2] << 16) | (d[b + 3] << 24)) >>> 0;
    return w.inS2 ? this.afterS2Read(w, fillCaches) : this.afterS1Read(w, fillCaches);
  }

  private afterS2Read(w: NestedWalk, fillCaches: boolean): number {
    w.s2Reads++;
    const s2 = w.s2!;
    const f = s2.format;
    const e = this.d2;
    f.decode(w.s2Level, this.words, e);
    if (e.kind === EntryKind.Table) {
      if (fillCaches) {
        const level = f.levels[w.s2Level];
        for (const c of this.s2Caches) if (c.level === level) c.insert(s2.vmid, w.ipa, e.addr, -1);
      }
      w.s2Level = f.child(w.s2Level);
      w.s2Table = e.addr;
      return CONTINUE;
    }
    if (e.kind !== EntryKind.Page) return this.fault(w, FaultReason.NotPresent, true);
    if (e.addr + POW2[e.pageShift] > POW2[f.paBits]) return this.fault(w, FaultReason.AddressSize, true);
    w.s2Walks++;
    const pa = e.addr + pageOffset(w.ipa, e.pageShift);
    if (!w.final) {
      // The walker reads the stage-1 table: stage 2 must let it read there.
      if (e.noRead === true) return this.fault(w, FaultReason.Permission, true);
      w.s1DescPa = pa;
      w.inS2 = false;
      return CONTINUE;
    }
    const shift = Math.min(w.s1Shift, e.pageShift);
    w.outcome = WalkOutcome.Page;
    w.pageShift = shift;
    w.paBase = pa - pageOffset(w.va, shift);
    w.perms = (w.s1Perms & Perm.PrivOnly)
      | (e.noRead === true ? 0 : w.s1Perms & Perm.Read)
      | (e.readOnly ? 0 : w.s1Perms & Perm.Write);
    w.faultLevel = `s2:${f.levels[w.s2Level].name}`;
    return DONE;
  }

  private afterS1Read(w: NestedWalk, fillCaches: boolean): number {
    w.s1Reads++;
    const f = w.wctx.format;
    const e = this.d1;
    f.decode(w.level, this.words, e);
    if (e.kind === EntryKind.Table) {
      if (fillCaches) {
        const level = f.levels[w.level];
        for (const c of this.s1.caches) if (c.level === level) c.insert(w.wctx.asid, w.va, e.addr, -1);
      }
      w.level = f.child(w.level);
      w.table = e.addr;
      return this.startS2(w, this.s1DescIpa(w), fillCaches);
    }
    if (e.kind !== EntryKind.Page) return this.fault(w, FaultReason.NotPresent, false);
    w.final = true;
    w.s1Shift = e.pageShift;
    w.s1Perms = Perm.Read | (e.readOnly ? 0 : Perm.Write) | (e.privileged ? Perm.PrivOnly : 0);
    return this.startS2(w, e.addr + pageOffset(w.va, e.pageShift), fillCaches);
  }

  private fault(w: NestedWalk, reason: FaultReason, stage2: boolean): number {
    w.outcome = WalkOutcome.Fault;
    w.faultReason = reason;
    w.faultLevel = stage2 ? `s2:${w.s2!.format.levels[w.s2Level].name}` : w.wctx.format.levels[w.level].name;
    return DONE;
  }
}

/** The result fields of a walk, for callers that passed their own Walk. */
function copyResult(from: Walk, to: Walk): void {
  to.wctx = from.wctx;
  to.va = from.va;
  to.reads = from.reads;
  to.outcome = from.outcome;
  to.paBase = from.paBase;
  to.pageShift = from.pageShift;
  to.perms = from.perms;
  to.faultReason = from.faultReason;
  to.faultLevel = from.faultLevel;
}
