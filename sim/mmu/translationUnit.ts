import { z } from 'zod';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import { hex, pageOffset } from '../engine/addr';
import { FreeList } from '../engine/freeList';
import type { Counter } from '../engine/stats';
import { count } from '../engine/spec';
import type { Tick } from '../engine/time';
import { bytesToBusBoundary } from '../bus/boundary';
import { InOrderSender } from '../bus/inOrderSender';
import { RequestPort, ResponsePort, type RequestReceiver, type ResponseReceiver } from '../bus/port';
import { At, Cmd, Status, type Transaction } from '../bus/transaction';
import { encodeNoTranslation, encodeTranslation } from '../pcie/atsCompletion';
import { FORMAT_NAMES, getFormat } from './format';
import type { PageTableFormat } from './format/types';
import { Perm } from './perms';
import { pageSizeName, Tlb, TlbSpec } from './tlb';
import { FAULT_REASON_NAMES, FaultReason, MAX_VMID, PageTableWalker, VMID_TAG_SPAN, Walk, WalkOutcome, type WalkContext, WalkerSpec } from './walker';
import { NestedWalker } from './nestedWalker';
import type { WalkCacheParamsInput } from './walkCache';

/** How a translation context treats requests. */
export type TranslationMode = 'translate' | 'bypass' | 'abort';

/** One translation context: an IOMMU stream's, or the CPU's current one. */
export interface TranslationContext extends WalkContext {
  mode: TranslationMode;
  /** Requests in this context are privileged (may use PrivOnly pages). */
  privileged: boolean;
  /** Context-wide permissions, on top of the page tables'. */
  allowRead: boolean;
  allowWrite: boolean;
}

/**
 * The parameters a translation unit (IOMMU, CPU MMU) shares. The config entry adds its
 * page-table `format` and the rules tying TLBs and walk caches to it (`checkUnitFormat`).
 */
export const TranslationUnitSpec = z.strictObject({
  l1Tlb: TlbSpec.describe('per-device (IOMMU) or per-core data (CPU) L1 TLB'),
  l2Tlb: TlbSpec.describe('shared L2 TLB'),
  walker: WalkerSpec,
  inputQueueDepth: count().default(16).describe('requests per device in translation before back-pressure (at most 2^20)'),
});

/** What a unit's constructor takes (defaults may be left out). */
export type TranslationUnitParamsInput = z.input<typeof TranslationUnitSpec>;
export type TranslationUnitParams = z.output<typeof TranslationUnitSpec> & {
  /**
   * Stale-TLB oracle (IOMMU config `countStaleTlbHits`, default off): every TLB hit is
   * checked against a functional walk of the current page tables; see `checkStaleHit`.
   */
  countStaleTlbHits?: boolean;
  /** Stage-2 walk caches (IOMMU config `stage2WalkCaches`), used by stage-2 and nested contexts. */
  stage2WalkCaches?: readonly WalkCacheParamsInput[];
};

/** The config field naming a unit's page-table format. */
export const FormatName = z.string().describe(`page-table format: ${FORMAT_NAMES.join(', ')}`);

type FormatBound = { l1Tlb: { pageSizes: readonly number[] }; l2Tlb: { pageSizes: readonly number[] }; walker: { walkCaches: readonly { level: string }[] } };

/**
 * The rules that need the unit's format: every TLB page size is one of the format's,
 * and every walk cache sits on one of its table (non-leaf) levels. Paths are relative
 * to the unit.
 */
export function unitFormatProblems(format: PageTableFormat, u: FormatBound): { path: (string | number)[]; message: string }[] {
  const out: { path: (string | number)[]; message: string }[] = [];
  for (const which of ['l1Tlb', 'l2Tlb'] as const) {
    u[which].pageSizes.forEach((size, k) => {
      if (!format.pageSizes.some((p) => 2 ** p.shift === size)) {
        const has = format.pageSizes.map((p) => pageSizeName(p.shift)).join(', ');
        out.push({ path: [which, 'pageSizes', k], message: `format ${format.name} has no ${size}-byte pages (it has ${has})` });
      }
    });
  }
  u.walker.walkCaches.forEach((c, k) => {
    const level = format.levels.findIndex((l) => l.name === c.level);
    if (level < 0 || level === format.smallLeaf || level === format.largeLeaf) {
      const tables = format.levels.filter((_l, i) => i !== format.smallLeaf && i !== format.largeLeaf).map((l) => l.name).reverse();
      out.push({ path: ['walker', 'walkCaches', k, 'level'], message: `"${c.level}" is not a table level of ${format.name} (choose from ${tables.join(', ')})` });
    }
  });
  return out;
}

/** The refinement of a unit's config spec: a known format, and `unitFormatProblems` under it. */
export function checkUnitFormat(u: FormatBound & { format: string }, ctx: z.RefinementCtx): void {
  if (!FORMAT_NAMES.includes(u.format)) {
    ctx.addIssue({ code: 'custom', path: ['format'], message: `unknown page-table format "${u.format}" (known: ${FORMAT_NAMES.join(', ')})` });
    return;
  }
  for (const p of unitFormatProblems(getFormat(u.format), u)) ctx.addIssue({ code: 'custom', path: p.path, message: p.message });
}

export interface FaultRecord {
  tick: Tick;
  /** Stream id (IOMMU) or 0 (CPU). */
  streamId: number;
  device: string;
  address: number;
  access: 'read' | 'write';
  reason: (typeof FAULT_REASON_NAMES)[number];
  /** Level at which the walk stopped ('' when no walk ran). */
  level: string;
}

/** A device-side input: its port, its L1 TLB and its context. */
export class TranslationInput {
  outstanding = 0;
  context: TranslationContext | null = null;
  /**
   * Writes of this input leave for the bus in arrival order (a PCIe root complex keeps
   * posted writes in order, PCIe Base Spec §2.4.1): a write whose translation finishes
   * early waits for the earlier ones. Null: unordered (on-chip masters wait for their
   * responses). A ring of the input's writes in translation; `writeReady` marks those done
   * (1: forward, 2: answered here, e.g. a fault).
   */
  writeOrder: (Transaction | null)[] | null = null;
  writeReady: Uint8Array | null = null;
  writeHead = 0;
  writeCount = 0;
  constructor(
    readonly index: number,
    readonly name: string,
    readonly streamId: number,
    readonly port: ResponsePort,
    readonly l1: Tlb,
    readonly sFaults: Counter,
    /** `<unit>.<input>.stale_tlb_hits`, registered only when the stale-TLB oracle is on. */
    readonly sStaleHits: Counter | null = null,
  ) {}
}

/** A request that missed both TLBs, from the miss event to the end of its walk. Pooled. */
class MissEntry {
  input: TranslationInput | null = null;
  txn: Transaction | null = null;
}

/**
 * The translation pipeline shared by the IOMMU and the CPU MMU:
 *
 *   input ─▶ L1 TLB (per input) ─▶ L2 TLB (shared) ─▶ MSHR ─▶ walker ─▶ fill ─▶ bus
 *
 * Lookups happen when a request arrives; their latency is applied by scheduling the
 * forward at the edge `l1 (+ l2)` cycles later, so a TLB hit costs one event. Misses to
 * the same page merge in the L2's MSHRs and share one walk. The original VA and input
 * index travel on the transaction's route stack and are restored on the response, so
 * devices see their own addresses.
 *
 * Faults are data: a fault record goes to the fault handler (`recordFault`, which the
 * IOMMU bounds in a queue), the transaction completes with `TranslationFault`, and memory
 * is untouched. Sparse pages read as zeros and drop writes without reaching memory.
 */
export abstract class TranslationUnit implements RequestReceiver, ResponseReceiver {
  /** Translated traffic towards the bus. */
  readonly memSidePort: RequestPort;
  readonly walker: PageTableWalker;
  readonly l2: Tlb;
  protected readonly inputs: TranslationInput[] = [];
  /** Bumped by every invalidation, so walks that started before one do not fill TLBs. */
  protected invalidationEpoch = 0;

  private readonly sender: InOrderSender;
  // Per L2 MSHR: the misses waiting for its walk, and the walk's invalidation epoch and
  // context (the walk's tag is the MSHR index, so starting a walk allocates nothing).
  private readonly mshrWaiters: MissEntry[][] = [];
  private readonly mshrWaiterCount: Int32Array;
  private readonly mshrEpoch: Float64Array;
  private readonly mshrContext: (TranslationContext | null)[] = [];
  /** Misses waiting for a free MSHR, FIFO from missHead. */
  private readonly missQueue: MissEntry[] = [];
  private missHead = 0;
  private readonly missPool = new FreeList<MissEntry>();
  private readonly walkScratch = new Walk();
  /** Stage-2-only and nested walks: made when the first context with stage 2 is programmed. */
  private nested: NestedWalker | null = null;
  private declare readonly walkerMasterId: number;
  /** The stale-TLB oracle's walk: never the one a real walk or recvFunctional is using. */
  private readonly staleWalk = new Walk();
  // `declare`d numeric fields are set in the constructor only: a class field without an
  // initializer is first defined as undefined, and V8 then keeps the number tagged (tlb.ts).
  private declare readonly l1Ticks: number;
  private declare readonly l2Cycles: number;
  /** params.countStaleTlbHits: the only test a TLB hit pays when the oracle is off. */
  private declare readonly checkStale: boolean;

  private readonly sTranslations: Counter;
  private readonly sSparse: Counter;
  private readonly sFaults: Counter;
  private readonly sBypass: Counter;
  private readonly sLateFills: Counter;
  private readonly sStaleHits: Counter | null;

  private readonly onForward = (t: Transaction) => this.forward(t);
  private readonly onMiss = (m: MissEntry) => this.startMiss(m);
  private readonly onRespondLocal = (t: Transaction) => this.respondLocal(t);
  private readonly onWalkDone = (w: Walk) => this.walkDone(w);
  /** The physical address `applyTranslation` gives the request (-0: a double field). */
  private translatedPa = -0;
  /** The page base `fillL1` inserts (-0: a double field). */
  private fillPa = -0;

  constructor(
    protected readonly ctx: SimContext,
    readonly path: string,
    readonly clock: ClockDomain,
    readonly format: PageTableFormat,
    walkerMasterId: number,
    readonly params: TranslationUnitParams,
  ) {
    this.memSidePort = new RequestPort(`${path}.bus`, this);
    this.sender = new InOrderSender(this.memSidePort);
    this.walker = new PageTableWalker(ctx, `${path}.walker`, clock, walkerMasterId, format, params.walker);
    this.walkerMasterId = walkerMasterId;
    ctx.stats.gauge(`${path}.walker.busy_slots`, 'walk slots in use', () => this.walker.busySlots);
    ctx.stats.gauge(`${path}.walker.queue_depth`, 'walks waiting for a slot', () => this.walker.queuedWalks);
    this.l2 = new Tlb(ctx, `${path}.l2tlb`, params.l2Tlb);
    for (let i = 0; i < params.l2Tlb.mshrs; i++) {
      this.mshrWaiters.push([]);
      this.mshrContext.push(null);
    }
    this.mshrWaiterCount = new Int32Array(params.l2Tlb.mshrs);
    this.mshrEpoch = new Float64Array(params.l2Tlb.mshrs);
    this.l1Ticks = params.l1Tlb.latencyCycles;
    this.l2Cycles = params.l2Tlb.latencyCycles;
    const s = ctx.stats.scope(path);
    this.sTranslations = s.counter('translations', 'requests translated (any outcome)');
    this.sSparse = s.counter('sparse_accesses', 'accesses to sparse pages (reads give zeros, writes dropped)');
    this.sFaults = s.counter('faults', 'requests that ended in a translation fault');
    this.sBypass = s.counter('bypassed', 'requests passed through untranslated (bypass contexts)');
    this.sLateFills = s.counter('late_fills', 'L2 misses served by a walk that filled the L2 while they waited (no walk of their own)');
    this.checkStale = params.countStaleTlbHits === true;
    this.sStaleHits = this.checkStale ? s.counter('stale_tlb_hits', 'TLB hits whose translation the page tables no longer give (all inputs)') : null;
  }

  /** Creates an input with its own L1 TLB. */
  protected addInput(name: string, streamId: number): TranslationInput {
    const index = this.inputs.length;
    const port = new ResponsePort(`${this.path}.${name}`, this, index);
    const l1 = new Tlb(this.ctx, `${this.path}.${name}.l1tlb`, this.params.l1Tlb);
    const faults = this.ctx.stats.counter(`${this.path}.${name}.faults`, 'translation faults of this device');
    const stale = this.checkStale
      ? this.ctx.stats.counter(`${this.path}.${name}.stale_tlb_hits`, 'TLB hits of this device whose translation the page tables no longer give')
      : null;
    const input = new TranslationInput(index, name, streamId, port, l1, faults, stale);
    this.inputs.push(input);
    return input;
  }

  protected checkContext(c: TranslationContext): void {
    if (c.format !== this.format) {
      throw new SimInvariantError(`${this.path}: context uses format ${c.format.name}, this unit walks ${this.format.name}`);
    }
    const s2 = c.stage2;
    if (s2 == null) return;
    if (s2.format.stage !== 2) throw new SimInvariantError(`${this.path}: ${s2.format.name} is not a stage-2 format`);
    if (s2.nested && this.format.largeLeaf >= 0) throw new SimInvariantError(`${this.path}: nested translation needs single (not dual) stage-1 tables, this unit walks ${this.format.name}`);
    if (!Number.isInteger(s2.vmid) || s2.vmid < 1 || s2.vmid > MAX_VMID) throw new SimInvariantError(`${this.path}: VMID ${s2.vmid} is not in 1..${MAX_VMID}`);
    if (!s2.nested && c.asid !== s2.vmid * VMID_TAG_SPAN) throw new SimInvariantError(`${this.path}: a stage-2-only context is tagged stage2Tag(vmid, 0) = ${s2.vmid * VMID_TAG_SPAN}, got ${c.asid}`);
    if (Math.floor(c.asid / VMID_TAG_SPAN) !== s2.vmid) throw new SimInvariantError(`${this.path}: a context with stage 2 is tagged stage2Tag(vmid, asid); tag ${c.asid} is not VMID ${s2.vmid}'s`);
    if (this.nested === null) {
      this.nested = new NestedWalker(this.ctx, `${this.path}.walker`, this.clock, this.walkerMasterId, this.walker, s2.format, {
        slots: this.params.walker.slots, stepCycles: this.params.walker.stepCycles, stage2WalkCaches: this.params.stage2WalkCaches ?? [],
      });
      this.walker.foreign = this.nested;
    } else if (this.nested.s2Format.levels[this.nested.s2Format.smallLeaf].shift !== s2.format.levels[s2.format.smallLeaf].shift) {
      throw new SimInvariantError(`${this.path}: stage-2 format ${s2.format.name} has another granule than ${this.nested.s2Format.name} (one stage-2 granule per unit)`);
    }
  }

  /** The stage-2 / nested walker, or null before a context with stage 2 was programmed. */
  get nestedWalker(): NestedWalker | null {
    return this.nested;
  }

  /** Where faults go (the IOMMU's bounded queue, the CPU's fault register). */
  protected abstract recordFault(f: FaultRecord): void;

  // ---- timing path ----

  recvRequest(txn: Transaction, port: ResponsePort): boolean {
    const input = this.inputs[port.index];
    if (txn.size > bytesToBusBoundary(txn.addr)) this.crossesBoundary(input, txn);
    if (input.outstanding >= this.params.inputQueueDepth) return false;
    input.outstanding++;
    txn.pushRoute(input.index);
    txn.pushRoute(txn.addr);
    if (input.writeOrder !== null && txn.cmd === Cmd.Write) {
      const n = input.writeOrder.length;
      let j = input.writeHead + input.writeCount;
      if (j >= n) j -= n;
      input.writeOrder[j] = txn;
      input.writeCount++;
    }
    if (txn.at === At.Translated) {
      this.passTranslated(input, txn);
      return true;
    }
    this.sTranslations.value++;
    const c = input.context;
    const now = this.ctx.engine.now;
    if (c === null || c.mode !== 'translate') {
      if (c !== null && c.mode === 'bypass') {
        this.sBypass.value++;
        this.ctx.engine.schedule(this.clock.edgeAfter(now, this.l1Ticks), this.onForward, txn);
      } else {
        this.fault(input, txn, FaultReason.NoContext, '');
        this.ctx.engine.schedule(this.clock.edgeAfter(now, this.l1Ticks), this.onRespondLocal, txn);
      }
      return true;
    }
    if (input.l1.lookup(c.asid, txn.addr)) {
      if (this.checkStale) this.checkStaleHit(input, c, txn.addr, input.l1);
      this.applyHit(input, txn, input.l1);
      this.ctx.engine.schedule(this.clock.edgeAfter(now, this.l1Ticks), txn.status === Status.Pending ? this.onForward : this.onRespondLocal, txn);
      return true;
    }
    if (this.l2.lookup(c.asid, txn.addr)) {
      if (this.checkStale) this.checkStaleHit(input, c, txn.addr, this.l2);
      this.fillL1FromL2(input, c, txn.addr);
      this.applyHit(input, txn, this.l2);
      this.ctx.engine.schedule(this.clock.edgeAfter(now, this.l1Ticks + this.l2Cycles), txn.status === Status.Pending ? this.onForward : this.onRespondLocal, txn);
      return true;
    }
    if (this.ctx.tracer.tlb) this.ctx.tracer.emit('tlb', now, { unit: this.path, dev: input.name, asid: c.asid, va: hex(txn.addr), ev: 'miss' });
    const m = this.missPool.take() ?? new MissEntry();
    m.input = input;
    m.txn = txn;
    this.ctx.engine.schedule(this.clock.edgeAfter(now, this.l1Ticks + this.l2Cycles), this.onMiss, m);
    return true;
  }



  /**
   * PCIe ATS: a request the device translated with its ATC (AT=translated) skips the TLBs
   * and the walker; it goes on if `atsAcceptTranslated` allows it, else it faults.
   */
  private passTranslated(input: TranslationInput, txn: Transaction): void {
    const ok = this.atsAcceptTranslated(input, txn);
    if (!ok) this.fault(input, txn, FaultReason.Permission, '');
    this.ctx.engine.schedule(this.clock.edgeAfter(this.ctx.engine.now, this.l1Ticks), ok ? this.onForward : this.onRespondLocal, txn);
  }

  /** PCIe ATS hook (the IOMMU's): may this translated request pass? Units without ATS refuse. */
  protected atsAcceptTranslated(_input: TranslationInput, _txn: Transaction): boolean {
    return false;
  }

  /** PCIe ATS hook: a Translation Request of `input` for `va` was answered (read/write false: no translation). */
  protected atsTranslated(_input: TranslationInput, _va: number, _pa: number, _read: boolean, _write: boolean): void {}

  /**
   * A Translation Request (AT=translation request) found its translation: answer it with
   * the page and the access the tables and the context allow, without a data access.
   */
  private answerTranslationRequest(input: TranslationInput, txn: Transaction, pa: number, perms: number): void {
    const c = input.context!;
    const priv = (perms & Perm.PrivOnly) === 0 || c.privileged;
    const sparse = (perms & Perm.Sparse) !== 0;
    const read = !sparse && priv && c.allowRead && (perms & Perm.Read) !== 0;
    const write = !sparse && priv && c.allowWrite && (perms & Perm.Write) !== 0;
    if (read || write) encodeTranslation(txn.data, pa, read, write);
    else encodeNoTranslation(txn.data);
    txn.status = Status.Ok;
    this.atsTranslated(input, txn.addr, pa, read, write);
  }

  /**
   * A master sent a transaction across a 4 KiB boundary, which no bus allows
   * (bus/boundary.ts). Translated by its first address, its bytes past the page would land
   * in whatever page follows that one physically: socsim's masters split their bursts
   * there (and configs cannot ask otherwise), so this is a bug in the master's model.
   * Translation Requests carry no data and are exempt.
   */
  private crossesBoundary(input: TranslationInput, txn: Transaction): void {
    if (txn.at === At.TranslationRequest) return;
    throw new SimInvariantError(`${this.path}: ${input.name} sent ${txn.cmd === Cmd.Write ? 'a write' : 'a read'} of ${txn.size} bytes at ${hex(txn.addr)}, across a 4 KiB boundary; a bus transaction must not cross one (AXI, PCIe), so its master must split it`);
  }

  /** Applies the translation the TLB just returned: PA, permission check, sparse. */
  private applyHit(input: TranslationInput, txn: Transaction, tlb: Tlb): void {
    this.translatedPa = tlb.hitPa;
    this.applyTranslation(input, txn, tlb.hitPerms, '');
  }

  /**
   * The stale-TLB oracle (hardware has no such thing; it measures the hazard a lazy
   * IOTLB flush leaves open). `tlb` just hit for `va`: walk the current page tables
   * functionally (zero time, no walk caches, no stats) and count the hit as stale when
   * the walk faults, or gives another physical page, or takes away a permission the
   * TLB entry grants (read, write, unprivileged use) or its sparse/non-sparse kind. The
   * access itself goes on with the TLB's translation: that is the hazard.
   */
  private checkStaleHit(input: TranslationInput, c: TranslationContext, va: number, tlb: Tlb): void {
    const w = this.staleWalk;
    this.walkFunctional(c, va, w);
    const perms = tlb.hitPerms;
    let stale: boolean;
    if (w.outcome === WalkOutcome.Fault) stale = true;
    else if (((perms ^ w.perms) & Perm.Sparse) !== 0) stale = true;
    else if ((w.perms & Perm.Sparse) === 0 && w.paBase + pageOffset(va, w.pageShift) !== tlb.hitPa) stale = true;
    else {
      const lost = perms & ~w.perms & (Perm.Read | Perm.Write);
      stale = lost !== 0 || ((w.perms & Perm.PrivOnly) !== 0 && (perms & Perm.PrivOnly) === 0);
    }
    if (!stale) return;
    this.sStaleHits!.value++;
    input.sStaleHits!.value++;
    if (this.ctx.tracer.tlb) {
      this.ctx.tracer.emit('tlb', this.ctx.engine.now, { unit: this.path, dev: input.name, asid: c.asid, va: hex(va), pa: hex(tlb.hitPa), ev: 'stale-hit' });
    }
  }

  /**
   * Gives `txn` the physical address in `translatedPa` (set by the caller: an address past
   * 2^31 passed to a call V8 does not inline is boxed, an allocation per access), after
   * the permission check; sparse pages answer here.
   */
  private applyTranslation(input: TranslationInput, txn: Transaction, perms: number, level: string): void {
    const pa = this.translatedPa;
    if (txn.at === At.TranslationRequest) return this.answerTranslationRequest(input, txn, pa, perms);
    const c = input.context!;
    const write = txn.cmd === Cmd.Write;
    const allowed = write ? c.allowWrite && (perms & Perm.Write) !== 0 : c.allowRead && (perms & Perm.Read) !== 0;
    if (!allowed || ((perms & Perm.PrivOnly) !== 0 && !c.privileged)) {
      this.fault(input, txn, FaultReason.Permission, level);
      return;
    }
    if ((perms & Perm.Sparse) !== 0) {
      this.sSparse.value++;
      if (!write) txn.data.fill(0, 0, txn.size);
      txn.status = Status.Ok;
      return;
    }
    txn.addr = pa;
  }

  private startMiss(m: MissEntry): void {
    const input = m.input!;
    const txn = m.txn!;
    const c = input.context;
    if (c === null || c.mode !== 'translate') {
      // The context changed while the request waited: re-run it from the top.
      this.releaseMiss(m);
      this.fault(input, txn, FaultReason.NoContext, '');
      this.respondLocal(txn);
      return;
    }
    const va = txn.addr;
    // A walk for this page may have filled the L2 while the request waited out the TLB
    // latency: use it rather than walking the same page again.
    if (this.l2.probe(c.asid, va)) {
      this.sLateFills.value++;
      this.releaseMiss(m);
      this.fillL1FromL2(input, c, va);
      this.applyHit(input, txn, this.l2);
      if (txn.status === Status.Pending) this.forward(txn);
      else this.respondLocal(txn);
      return;
    }
    const merged = this.l2.mshrFind(c.asid, va);
    if (merged >= 0) {
      this.addWaiter(merged, m);
      return;
    }
    const slot = this.l2.mshrAlloc(c.asid, va);
    if (slot < 0) {
      this.missQueue.push(m);
      return;
    }
    this.addWaiter(slot, m);
    this.mshrEpoch[slot] = this.invalidationEpoch;
    this.mshrContext[slot] = c;
    if (c.stage2 == null) this.walker.start(c, va, this.onWalkDone, slot);
    else this.nested!.start(c, va, this.onWalkDone, slot);
  }

  private addWaiter(slot: number, m: MissEntry): void {
    const waiters = this.mshrWaiters[slot];
    const n = this.mshrWaiterCount[slot]++;
    if (n < waiters.length) waiters[n] = m;
    else waiters.push(m);
  }

  private releaseMiss(m: MissEntry): void {
    m.input = null;
    m.txn = null;
    this.missPool.put(m);
  }

  private walkDone(w: Walk): void {
    const slot = w.tag as number;
    const context = this.mshrContext[slot]!;
    const waiters = this.mshrWaiters[slot];
    const count = this.mshrWaiterCount[slot];
    const fresh = this.mshrEpoch[slot] === this.invalidationEpoch;
    const fault = w.outcome === WalkOutcome.Fault;
    if (!fault && fresh) this.fillL2(context, w);
    for (let k = 0; k < count; k++) {
      const m = waiters[k];
      waiters[k] = null!;
      const input = m.input!;
      const txn = m.txn!;
      this.releaseMiss(m);
      if (fault) {
        this.fault(input, txn, w.faultReason, w.faultLevel);
        this.respondLocal(txn);
        continue;
      }
      const pa = w.paBase + pageOffset(txn.addr, w.pageShift);
      if (fresh && input.context === context) {
        this.fillPa = w.paBase;
        this.fillL1(input, context, txn.addr, w.pageShift, w.perms);
      }
      this.translatedPa = pa;
      this.applyTranslation(input, txn, w.perms, w.faultLevel);
      if (txn.status === Status.Pending) this.forward(txn);
      else this.respondLocal(txn);
    }
    this.mshrWaiterCount[slot] = 0;
    this.mshrContext[slot] = null;
    this.l2.mshrRelease(slot);
    const mshrs = this.params.l2Tlb.mshrs;
    while (this.missHead < this.missQueue.length && this.l2.mshrsInUse < mshrs) {
      const m = this.missQueue[this.missHead];
      this.missQueue[this.missHead++] = null!;
      if (this.missHead === this.missQueue.length) {
        this.missQueue.length = 0;
        this.missHead = 0;
      }
      this.startMiss(m);
    }
  }

  private forward(txn: Transaction): void {
    if (txn.cmd === Cmd.Write && this.orderedDone(txn, 1)) return;
    this.sender.send(txn);
  }

  /** Keeps `input`'s writes in order from here on (see TranslationInput.writeOrder). */
  protected orderWrites(input: TranslationInput): void {
    input.writeOrder = new Array<Transaction | null>(this.params.inputQueueDepth).fill(null);
    input.writeReady = new Uint8Array(this.params.inputQueueDepth);
  }

  /**
   * A write of an ordered input finished translation (`how`: 1 forward, 2 answer here).
   * Returns true when it is the input's business (queued or released in order), false
   * for unordered inputs. Releases every finished write at the head, in order.
   */
  private orderedDone(txn: Transaction, how: number): boolean {
    const input = this.inputs[txn.peekRoute(1)];
    const q = input.writeOrder;
    if (q === null) return false;
    const ready = input.writeReady!;
    const n = q.length;
    let k = 0;
    let j = input.writeHead;
    while (k < input.writeCount && q[j] !== txn) {
      k++;
      j = j + 1 === n ? 0 : j + 1;
    }
    if (k === input.writeCount || ready[j] !== 0) throw new SimInvariantError(`${this.path}: ${input.name}: write ${txn.id} is not in translation`);
    ready[j] = how;
    while (input.writeCount > 0 && ready[input.writeHead] !== 0) {
      const h = input.writeHead;
      const t = q[h]!;
      const wasHow = ready[h];
      q[h] = null;
      ready[h] = 0;
      input.writeHead = h + 1 === n ? 0 : h + 1;
      input.writeCount--;
      if (wasHow === 1) this.sender.send(t);
      else this.answer(t);
    }
    return true;
  }

  recvRetry(): void {
    this.sender.retry();
  }

  /** Response from the bus: restore the device's VA and hand it back. */
  recvResponse(txn: Transaction): void {
    this.answer(txn);
  }

  /** Answers a request that does not go to the bus (fault, sparse, no context). */
  private respondLocal(txn: Transaction): void {
    if (txn.cmd === Cmd.Write && this.orderedDone(txn, 2)) return;
    this.answer(txn);
  }

  private answer(txn: Transaction): void {
    const va = txn.popRoute();
    const input = this.inputs[txn.popRoute()];
    txn.addr = va;
    input.outstanding--;
    input.port.sendResponse(txn);
    input.port.sendRetry();
  }

  private fault(input: TranslationInput, txn: Transaction, reason: FaultReason, level: string): void {
    if (txn.at === At.TranslationRequest) {
      // No translation is an answer, not a fault: R = W = 0 (the device's untranslated retry faults, if it sends one).
      encodeNoTranslation(txn.data);
      txn.status = Status.Ok;
      this.atsTranslated(input, txn.addr, 0, false, false);
      return;
    }
    txn.status = Status.TranslationFault;
    this.sFaults.value++;
    input.sFaults.value++;
    const f: FaultRecord = {
      tick: this.ctx.engine.now, streamId: input.streamId, device: input.name, address: txn.addr,
      access: txn.cmd === Cmd.Write ? 'write' : 'read', reason: FAULT_REASON_NAMES[reason], level,
    };
    if (this.ctx.tracer.fault) {
      this.ctx.tracer.emit('fault', f.tick, { unit: this.path, dev: f.device, stream: f.streamId, va: hex(f.address), access: f.access, reason: f.reason, level: f.level });
    }
    this.recordFault(f);
  }

  // ---- TLB fills ----

  private fillL2(c: TranslationContext, w: Walk): void {
    const shift = this.l2.heldShift(w.pageShift);
    if (shift < 0) return;
    const base = w.paBase + alignedOffset(w.va, w.pageShift, shift);
    this.l2.insert(c.asid, w.va, shift, base, w.perms);
  }

  /** Fills `input`'s L1 with the page the L2 TLB's last hit (at `va`) found. */
  private fillL1FromL2(input: TranslationInput, c: TranslationContext, va: number): void {
    const l2 = this.l2;
    this.fillPa = l2.hitPa - pageOffset(va, l2.hitPageShift);
    this.fillL1(input, c, va, l2.hitPageShift, l2.hitPerms);
  }

  /** Fills `input`'s L1 with the page at `va` whose physical base is in `fillPa` (set by the caller, for the reason `translatedPa` is). */
  private fillL1(input: TranslationInput, c: TranslationContext, va: number, pageShift: number, perms: number): void {
    const paBase = this.fillPa;
    const shift = input.l1.heldShift(pageShift);
    if (shift < 0) return;
    input.l1.insert(c.asid, va, shift, paBase + alignedOffset(va, pageShift, shift), perms);
  }

  // ---- invalidation (hardware side; commands and their cost belong to the subclass) ----

  protected invalidateAllNow(): void {
    this.invalidationEpoch++;
    for (const i of this.inputs) i.l1.invalidateAll();
    this.l2.invalidateAll();
    this.walker.invalidateAll();
    this.nested?.invalidateAll();
  }

  /**
   * Everything cached for a VMID (SMMUv3 CMD_TLBI_S12_VMALL): TLB entries (combined and
   * stage-2-only) and stage-1 walk-cache entries with its tags, and its stage-2 walk-cache
   * entries.
   */
  protected invalidateVmidNow(vmid: number): void {
    this.invalidationEpoch++;
    const first = vmid * VMID_TAG_SPAN;
    for (const i of this.inputs) i.l1.invalidateAsidSpan(first, VMID_TAG_SPAN);
    this.l2.invalidateAsidSpan(first, VMID_TAG_SPAN);
    this.walker.invalidateAsidSpan(first, VMID_TAG_SPAN);
    this.nested?.invalidateVmid(vmid);
  }

  /**
   * Stage-2 entries for an IPA range of a VMID (SMMUv3 CMD_TLBI_S2_IPA): stage-2 walk-cache
   * entries overlapping it, and TLB entries of stage-2-only contexts (tag stage2Tag(vmid, 0),
   * keyed by IPA). Combined (nested) TLB entries are keyed by VA and are not found by IPA:
   * as on hardware, they stay until an invalidate-vmid (or by-ASID/VA) command drops them.
   */
  protected invalidateIpaNow(vmid: number, ipa: number, size: number): void {
    this.invalidationEpoch++;
    const tag = vmid * VMID_TAG_SPAN;
    for (const i of this.inputs) i.l1.invalidateRange(tag, ipa, size);
    this.l2.invalidateRange(tag, ipa, size);
    this.nested?.invalidateIpa(vmid, ipa, size);
  }

  protected invalidateAsidNow(asid: number): void {
    this.invalidationEpoch++;
    for (const i of this.inputs) i.l1.invalidateAsid(asid);
    this.l2.invalidateAsid(asid);
    this.walker.invalidateAsid(asid);
  }

  protected invalidateRangeNow(asid: number, va: number, size: number): void {
    this.invalidationEpoch++;
    for (const i of this.inputs) i.l1.invalidateRange(asid, va, size);
    this.l2.invalidateRange(asid, va, size);
    this.walker.invalidateRange(asid, va, size);
  }

  // ---- atomic and functional paths ----

  recvAtomic(txn: Transaction, port: ResponsePort): Tick {
    const input = this.inputs[port.index];
    if (txn.size > bytesToBusBoundary(txn.addr)) this.crossesBoundary(input, txn);
    const c = input.context;
    const va = txn.addr;
    this.sTranslations.value++;
    let latency = this.clock.cyclesToTicks(this.l1Ticks);
    if (c === null || c.mode !== 'translate') {
      if (c === null || c.mode === 'abort') {
        this.fault(input, txn, FaultReason.NoContext, '');
        return latency;
      }
      this.sBypass.value++;
      return latency + this.memSidePort.sendAtomic(txn);
    }
    if (input.l1.lookup(c.asid, va)) {
      if (this.checkStale) this.checkStaleHit(input, c, va, input.l1);
      this.applyHit(input, txn, input.l1);
    } else {
      latency += this.clock.cyclesToTicks(this.l2Cycles);
      if (this.l2.lookup(c.asid, va)) {
        if (this.checkStale) this.checkStaleHit(input, c, va, this.l2);
        this.fillL1FromL2(input, c, va);
        this.applyHit(input, txn, this.l2);
      } else {
        const w = this.walkScratch;
        latency += c.stage2 == null ? this.walker.walkAtomic(c, va, w) : this.nested!.walkAtomic(c, va, w);
        if (w.outcome === WalkOutcome.Fault) {
          this.fault(input, txn, w.faultReason, w.faultLevel);
          return latency;
        }
        this.fillL2(c, w);
        this.fillPa = w.paBase;
        this.fillL1(input, c, va, w.pageShift, w.perms);
        this.translatedPa = w.paBase + pageOffset(va, w.pageShift);
        this.applyTranslation(input, txn, w.perms, w.faultLevel);
      }
    }
    if (txn.status === Status.Pending) {
      latency += this.memSidePort.sendAtomic(txn);
      txn.addr = va;
    }
    return latency;
  }

  /**
   * A functional walk (zero time, no walk caches, no stats) of `va` in context `c`, through
   * both stages when the context has a stage 2: the stage-1 walker alone would read a
   * nested context's stage-1 tables at their IPAs as if they were PAs.
   */
  protected walkFunctional(c: TranslationContext, va: number, w: Walk): void {
    if (c.stage2 == null) this.walker.walkFunctional(c, va, w);
    else this.nested!.walkFunctional(c, va, w);
  }

  /** Zero-time access through the page tables, bypassing TLBs and leaving stats alone. */
  recvFunctional(txn: Transaction, port: ResponsePort): void {
    const c = this.inputs[port.index].context;
    const va = txn.addr;
    if (c === null || c.mode === 'abort') {
      txn.status = Status.TranslationFault;
      return;
    }
    if (c.mode === 'bypass') {
      this.memSidePort.sendFunctional(txn);
      return;
    }
    const w = this.walkScratch;
    this.walkFunctional(c, va, w);
    const write = txn.cmd === Cmd.Write;
    if (w.outcome === WalkOutcome.Fault || (write && (w.perms & Perm.Write) === 0)) {
      txn.status = Status.TranslationFault;
      return;
    }
    if (w.outcome === WalkOutcome.Sparse) {
      if (!write) txn.data.fill(0, 0, txn.size);
      txn.status = Status.Ok;
      return;
    }
    txn.addr = w.paBase + pageOffset(va, w.pageShift);
    this.memSidePort.sendFunctional(txn);
    txn.addr = va;
  }
}

/** Offset of the `shift`-sized sub-page holding `va` inside its `pageShift` page. */
function alignedOffset(va: number, pageShift: number, shift: number): number {
  const inPage = pageOffset(va, pageShift);
  return inPage - pageOffset(inPage, shift);
}
