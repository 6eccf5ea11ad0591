import { z } from 'zod';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import { hex, pageOffset } from '../engine/addr';
import { count, Cycles, resolveParams } from '../engine/spec';
import type { Counter } from '../engine/stats';
import type { ResponsePort } from '../bus/port';
import type { Transaction } from '../bus/transaction';
import type { Tick } from '../engine/time';
import { AtsGrants } from '../pcie/atsGrants';
import { Perm } from './perms';
import { Walk, WalkOutcome } from './walker';
import type { PageTableFormat } from './format/types';
import { WalkCacheSpec } from './walkCache';
import { checkUnitFormat, FormatName, TranslationUnit, TranslationUnitSpec, type FaultRecord, type TranslationContext, type TranslationInput } from './translationUnit';

/** What the IOMMU needs of a PCIe device's ATS endpoint (sim/pcie/ats.ts). */
export interface AtsDevicePort {
  /** The ATS capability's Enable bit (pci_enable_ats / pci_disable_ats); disabling empties the ATC. */
  setAtsEnabled(on: boolean): void;
  /**
   * Delivers an ATC Invalidate Request for the IOVAs [va, va + size) (size 0: all) and
   * returns the ps until its Invalidate Completion is back at the root port.
   */
  invalidate(va: number, size: number): Tick;
}

/** One ATS-capable stream: its device port, whether ATS is on, its grants and counters. */
class AtsStream {
  enabled = false;
  readonly grants = new AtsGrants();
  constructor(
    readonly port: AtsDevicePort,
    readonly sRequests: Counter,
    readonly sNoTranslation: Counter,
    readonly sTranslated: Counter,
    readonly sUnvouched: Counter,
    readonly sRefused: Counter,
    readonly sInvalidations: Counter,
    readonly sInvalidationPs: Counter,
  ) {}
}

/** Cycles each command takes to execute (gem5 makes invalidation free; here it is not). */
export const IommuCommandCyclesSpec = z
  .strictObject({
    invalidateAll: Cycles,
    invalidateAsid: Cycles,
    invalidateRange: Cycles,
    sync: Cycles,
  })
  .describe('cycles each command takes');

export type IommuCommandCycles = z.output<typeof IommuCommandCyclesSpec>;

/** The IOMMU model's parameters: the translation unit's plus the queues and commands. */
export const IommuParamsSpec = TranslationUnitSpec.safeExtend({
  faultQueueDepth: count().default(64).describe('fault records held before overflow (at most 2^20)'),
  commandQueueDepth: count().default(64).describe('commands queued before the driver must wait (at most 2^20)'),
  commandCycles: IommuCommandCyclesSpec,
  // Optional without a default: configs that leave it out resolve (and hash) as before.
  stage2WalkCaches: z.array(WalkCacheSpec).optional().describe(
    'stage-2 walk caches (table pointers keyed by VMID and IPA) for streams with stage-2 or nested translation; levels of the stage-2 format (L0..L2), at most one per level; default none',
  ),
  countStaleTlbHits: z.boolean().default(false).describe(
    'stale-TLB oracle: check every TLB hit against a functional walk of the current page tables and count hits the tables no longer allow (<iommu>.stale_tlb_hits); costs a walk per hit',
  ),
});

/** An `iommus[]` entry without its wiring (name, bus, clock): the parameters and the page-table format they must fit. */
export const IommuSpec = IommuParamsSpec.safeExtend({ format: FormatName }).superRefine(checkUnitFormat).superRefine((u, ctx) => {
  const caches = u.stage2WalkCaches ?? [];
  caches.forEach((c, k) => {
    if (!['L0', 'L1', 'L2'].includes(c.level)) ctx.addIssue({ code: 'custom', path: ['stage2WalkCaches', k, 'level'], message: `"${c.level}" is not a stage-2 table level (choose from L0, L1, L2)` });
    const first = caches.findIndex((o) => o.level === c.level);
    if (first !== k) ctx.addIssue({ code: 'custom', path: ['stage2WalkCaches', k, 'level'], message: `level "${c.level}" already has a stage-2 walk cache (stage2WalkCaches[${first}])` });
  });
});

/** What the IOMMU takes (defaults may be left out); its format is a constructor argument. */
export type IommuParamsInput = z.input<typeof IommuParamsSpec>;
export type IommuParams = z.output<typeof IommuParamsSpec>;

/** Commands the driver writes into the command queue (SMMUv3 CMD_TLBI_* / CMD_SYNC). */
export type IommuCommand =
  | { op: 'invalidate-all' }
  | { op: 'invalidate-asid'; asid: number }
  | { op: 'invalidate-range'; asid: number; va: number; size: number }
  /** CMD_TLBI_S2_IPA: stage-2 entries of `vmid` for an IPA range (costs commandCycles.invalidateRange). */
  | { op: 'invalidate-ipa'; vmid: number; ipa: number; size: number }
  /** CMD_TLBI_S12_VMALL: every entry of `vmid`, both stages (costs commandCycles.invalidateAsid). */
  | { op: 'invalidate-vmid'; vmid: number }
  | { op: 'sync'; done: () => void }
  /**
   * SMMUv3 CMD_ATC_INV (VT-d Device-TLB Invalidate Descriptor): an ATC Invalidate Request
   * to the ATS device on `streamId` for [va, va + size) (size 0: everything). It completes
   * when the device's Invalidate Completion arrives, so a later SYNC waits for it.
   */
  | { op: 'atc-invalidate'; streamId: number; va: number; size: number };

/**
 * An IOMMU between devices and the bus. Devices attach by stream id, each with its own
 * L1 TLB; the L2 TLB and the walker are shared. Each stream has a context (page-table
 * root, ASID, translate/bypass/abort, permissions) that the driver programs.
 *
 * Commands execute in order, one at a time, each taking its configured cycles; an
 * invalidation takes effect when it completes, and SYNC completes (calls back) once
 * every earlier command has taken effect. Walks that started before an invalidation do
 * not fill the TLBs with what they read.
 *
 * Faults go to a bounded queue (overflow is counted and the record dropped, as in an
 * SMMU event queue) and raise the interrupt callback.
 *
 * With `countStaleTlbHits` (config, default off) every TLB hit is also checked against
 * the page tables as they are now (TranslationUnit.checkStaleHit): hits the tables no
 * longer allow - an unmapped page still cached because its invalidation was deferred -
 * count in `<path>.stale_tlb_hits` and `<path>.<device>.stale_tlb_hits`. The access
 * still uses the cached translation, as the hardware would.
 */
export class Iommu extends TranslationUnit {
  private readonly streams = new Map<number, TranslationInput>();
  private readonly faultQueue: FaultRecord[] = [];
  private readonly commands: IommuCommand[] = [];
  private commandBusy = false;
  /** Interrupt line: called once per fault record queued. */
  onFault: ((f: FaultRecord) => void) | null = null;

  private readonly sFaultOverflow: Counter;
  private readonly sCommands: Counter;
  private readonly sCmdByOp: Partial<Record<IommuCommand['op'], Counter>>;
  private readonly onCommandDone = () => this.completeCommand();
  private readonly onCommandHoldDone = () => {
    this.commandBusy = false;
    if (this.commands.length > 0) this.startCommand();
  };
  /** ATS streams by input index (null: the device has no ATS). */
  private readonly atsByInput: (AtsStream | null)[] = [];
  private readonly atsStreams = new Map<number, AtsStream>();
  private readonly atsWalk = new Walk();
  private sAtsUnvouched: Counter | null = null;

  readonly iommuParams: IommuParams;

  constructor(ctx: SimContext, path: string, clock: ClockDomain, format: PageTableFormat, walkerMasterId: number, paramsIn: IommuParamsInput) {
    super(ctx, path, clock, format, walkerMasterId, resolveParams(IommuParamsSpec, paramsIn, path));
    this.iommuParams = this.params as IommuParams;
    const s = ctx.stats.scope(path);
    this.sFaultOverflow = s.counter('fault_queue_overflows', 'fault records dropped because the fault queue was full');
    this.sCommands = s.counter('commands', 'commands executed');
    this.sCmdByOp = {
      'invalidate-all': s.counter('cmd.invalidate_all', 'invalidate-all commands executed'),
      'invalidate-asid': s.counter('cmd.invalidate_asid', 'invalidate-by-ASID commands executed'),
      'invalidate-range': s.counter('cmd.invalidate_range', 'invalidate-by-range commands executed'),
      sync: s.counter('cmd.sync', 'SYNC commands completed'),
      'atc-invalidate': s.counter('cmd.atc_invalidate', 'ATC invalidation commands executed (each an Invalidate Request and its completion over a PCIe link)'),
    };
  }

  /** Attaches a device by stream id; connect the device's RequestPort to the returned port. */
  attachDevice(name: string, streamId: number): ResponsePort {
    if (this.streams.has(streamId)) throw new SimInvariantError(`${this.path}: stream ${streamId} attached twice`);
    const input = this.addInput(name, streamId);
    this.streams.set(streamId, input);
    return input.port;
  }

  /**
   * The device on `streamId` has PCIe ATS (its link's `ats` entry): it may send
   * Translation Requests and, once the kernel enables ATS, translated requests.
   * Stats under `<path>.<device>.ats.`: translation_requests, no_translation,
   * translated_requests, translated_unvouched, translated_refused, atc_invalidations,
   * atc_invalidation_ps; `<path>.ats.translated_unvouched` sums the devices.
   */
  attachAts(streamId: number, port: AtsDevicePort): void {
    const input = this.streams.get(streamId);
    if (!input) throw new SimInvariantError(`${this.path}: no device on stream ${streamId}`);
    if (this.atsStreams.has(streamId)) throw new SimInvariantError(`${this.path}: ATS attached twice on stream ${streamId}`);
    const st = this.ctx.stats.scope(`${this.path}.${input.name}.ats`);
    this.sAtsUnvouched ??= this.ctx.stats.counter(`${this.path}.ats.translated_unvouched`, 'translated requests (all ATS devices) to a physical page no live translation of the device maps: forged or kept after invalidation (Thunderclap)');
    const a = new AtsStream(
      port,
      st.counter('translation_requests', 'ATS Translation Requests answered'),
      st.counter('no_translation', 'Translation Requests answered with no translation (R = W = 0)'),
      st.counter('translated_requests', 'translated requests (AT=translated) passed through without translation'),
      st.counter('translated_unvouched', 'translated requests to a physical page no live translation of this device maps: forged, or kept after invalidation (Thunderclap); an oracle hardware lacks'),
      st.counter('translated_refused', 'translated requests refused (faulted) because ATS is not enabled for the stream'),
      st.counter('atc_invalidations', 'ATC Invalidate Requests sent to the device'),
      st.counter('atc_invalidation_ps', 'ps from Invalidate Request to Invalidate Completion, summed'),
    );
    this.atsStreams.set(streamId, a);
    while (this.atsByInput.length <= input.index) this.atsByInput.push(null);
    this.atsByInput[input.index] = a;
  }

  /** True if the device on `streamId` has ATS (pci_ats_supported). */
  atsCapable(streamId: number): boolean {
    return this.atsStreams.has(streamId);
  }

  /** True if ATS is enabled for `streamId` (STE.EATS and the device's Enable bit). */
  atsEnabled(streamId: number): boolean {
    return this.atsStreams.get(streamId)?.enabled === true;
  }

  /**
   * arm_smmu_enable_ats / pci_enable_ats (on) and their disable (off): the stream accepts
   * translated requests and the device asks for translations. Off drops the device's ATC
   * and every grant.
   */
  setAtsEnabled(streamId: number, on: boolean): void {
    const a = this.atsStreams.get(streamId);
    if (!a) throw new SimInvariantError(`${this.path}: stream ${streamId} has no ATS`);
    a.enabled = on;
    a.port.setAtsEnabled(on);
    if (!on) a.grants.revokeAll();
  }

  /**
   * The stale-ATC oracle (with countStaleTlbHits): is the device's cached translation
   * `va` → `pa` stale for this access? True when the stream's page tables (both stages
   * for a nested or stage-2-only stream) no longer map `va`, map it elsewhere, or no
   * longer allow the access. A functional walk: zero time, no stats.
   */
  atsTranslationStale(streamId: number, va: number, pa: number, write: boolean): boolean {
    const c = this.streams.get(streamId)?.context;
    if (!c || c.mode !== 'translate') return true;
    const w = this.atsWalk;
    this.walkFunctional(c, va, w);
    if (w.outcome !== WalkOutcome.Page) return true;
    if (Math.floor((w.paBase + pageOffset(va, w.pageShift)) / 4096) !== Math.floor(pa / 4096)) return true;
    return (w.perms & (write ? Perm.Write : Perm.Read)) === 0 || ((w.perms & Perm.PrivOnly) !== 0 && !c.privileged);
  }

  protected override atsTranslated(input: TranslationInput, va: number, pa: number, read: boolean, write: boolean): void {
    const a = this.atsByInput[input.index];
    if (!a) return;
    a.sRequests.value++;
    if (!read && !write) a.sNoTranslation.value++;
    else a.grants.grant(va, pa);
  }

  protected override atsAcceptTranslated(input: TranslationInput, txn: Transaction): boolean {
    const a = input.index < this.atsByInput.length ? this.atsByInput[input.index] : null;
    if (!a) return false;
    if (!a.enabled) {
      a.sRefused.value++;
      return false;
    }
    a.sTranslated.value++;
    if (!a.grants.vouched(txn.addr)) {
      a.sUnvouched.value++;
      this.sAtsUnvouched!.value++;
    }
    return true;
  }

  /** The device on `streamId` sits behind a PCIe root port: its posted writes leave for memory in order. */
  orderPostedWrites(streamId: number): void {
    const input = this.streams.get(streamId);
    if (!input) throw new SimInvariantError(`${this.path}: no device on stream ${streamId}`);
    this.orderWrites(input);
  }

  /** Programs (or clears, with null) the context of a stream: a register write by the driver. */
  setStreamContext(streamId: number, context: TranslationContext | null): void {
    const input = this.streams.get(streamId);
    if (!input) throw new SimInvariantError(`${this.path}: no device on stream ${streamId}`);
    if (context) this.checkContext(context);
    input.context = context;
  }

  /** Name of the device attached on `streamId`, or null. */
  streamDevice(streamId: number): string | null {
    return this.streams.get(streamId)?.name ?? null;
  }

  streamContext(streamId: number): TranslationContext | null {
    return this.streams.get(streamId)?.context ?? null;
  }

  get streamIds(): number[] {
    return [...this.streams.keys()];
  }

  /** Queues a command; false when the command queue is full (the driver must retry). */
  submit(cmd: IommuCommand): boolean {
    if (this.commands.length >= this.iommuParams.commandQueueDepth) return false;
    this.commands.push(cmd);
    if (!this.commandBusy) this.startCommand();
    return true;
  }

  /**
   * Executes a command at once and returns what it costs (atomic path): the kernel's
   * synchronous API issues a command and spins until CMD_SYNC completes, so the effect
   * is immediate and the caller accounts the time. Counts like the queued path.
   */
  executeAtomic(cmd: IommuCommand): number {
    const wait = this.apply(cmd);
    return this.clock.cyclesToTicks(this.commandCost(cmd)) + wait;
  }

  get pendingCommands(): number {
    return this.commands.length;
  }

  /** Fault records waiting for software, oldest first. */
  get faults(): readonly FaultRecord[] {
    return this.faultQueue;
  }

  /** Takes every queued fault record (software reading the event queue). */
  drainFaults(): FaultRecord[] {
    return this.faultQueue.splice(0, this.faultQueue.length);
  }

  protected recordFault(f: FaultRecord): void {
    if (this.faultQueue.length >= this.iommuParams.faultQueueDepth) {
      this.sFaultOverflow.value++;
      return;
    }
    this.faultQueue.push(f);
    this.onFault?.(f);
  }

  private startCommand(): void {
    const cmd = this.commands[0];
    this.commandBusy = true;
    this.ctx.engine.schedule(this.clock.edgeAfter(this.ctx.engine.now, this.commandCost(cmd)), this.onCommandDone);
  }

  private commandCost(cmd: IommuCommand): number {
    const c = this.iommuParams.commandCycles;
    return cmd.op === 'invalidate-all' ? c.invalidateAll
      : cmd.op === 'invalidate-asid' || cmd.op === 'invalidate-vmid' ? c.invalidateAsid
      : cmd.op === 'invalidate-range' || cmd.op === 'invalidate-ipa' ? c.invalidateRange
      : cmd.op === 'atc-invalidate' ? 0 // its cost is the link round trip (apply)
      : c.sync;
  }

  private completeCommand(): void {
    const cmd = this.commands.shift()!;
    this.commandBusy = false;
    const wait = this.apply(cmd);
    if (wait > 0) {
      // An ATC invalidation holds the queue until its Invalidate Completion arrives.
      this.commandBusy = true;
      this.ctx.engine.schedule(this.ctx.engine.now + wait, this.onCommandHoldDone);
      return;
    }
    if (this.commands.length > 0 && !this.commandBusy) this.startCommand();
  }

  /** A command's effect, on whichever path it arrived; returns ps it keeps the queue waiting beyond its cycles (ATC round trip). */
  private apply(cmd: IommuCommand): number {
    this.sCommands.value++;
    // The stage-2 commands' counters appear when first used (configs without stage 2 keep their stats).
    const counter = this.sCmdByOp[cmd.op] ?? (this.sCmdByOp[cmd.op] = this.ctx.stats.counter(`${this.path}.cmd.${cmd.op.replace('-', '_')}`, `${cmd.op} commands executed`));
    counter.value++;
    if (cmd.op === 'invalidate-ipa' || cmd.op === 'invalidate-vmid') {
      if (this.ctx.tracer.inval) {
        this.ctx.tracer.emit('inval', this.ctx.engine.now, {
          unit: this.path, op: cmd.op, vmid: cmd.vmid, ipa: cmd.op === 'invalidate-ipa' ? hex(cmd.ipa) : null, size: cmd.op === 'invalidate-ipa' ? cmd.size : null,
        });
      }
      if (cmd.op === 'invalidate-ipa') this.invalidateIpaNow(cmd.vmid, cmd.ipa, cmd.size);
      else this.invalidateVmidNow(cmd.vmid);
      return 0;
    }
    if (this.ctx.tracer.inval && cmd.op !== 'sync') {
      this.ctx.tracer.emit('inval', this.ctx.engine.now, {
        unit: this.path, op: cmd.op,
        asid: cmd.op === 'invalidate-all' || cmd.op === 'atc-invalidate' ? null : cmd.asid,
        va: cmd.op === 'invalidate-range' || cmd.op === 'atc-invalidate' ? hex(cmd.va) : null,
        size: cmd.op === 'invalidate-range' || cmd.op === 'atc-invalidate' ? cmd.size : null,
        ...(cmd.op === 'atc-invalidate' ? { stream: cmd.streamId } : {}),
      });
    }
    switch (cmd.op) {
      case 'invalidate-all': this.invalidateAllNow(); this.revokeGrants(-1, 0, 0); break;
      case 'invalidate-asid': this.invalidateAsidNow(cmd.asid); this.revokeGrants(cmd.asid, 0, 0); break;
      case 'invalidate-range': this.invalidateRangeNow(cmd.asid, cmd.va, cmd.size); this.revokeGrants(cmd.asid, cmd.va, cmd.size); break;
      case 'sync': cmd.done(); break;
      case 'atc-invalidate': return this.atcInvalidate(cmd.streamId, cmd.va, cmd.size);
    }
    return 0;
  }

  /** Sends an ATC Invalidate Request down the stream's link; returns the round trip. */
  private atcInvalidate(streamId: number, va: number, size: number): number {
    const a = this.atsStreams.get(streamId);
    if (!a) throw new SimInvariantError(`${this.path}: atc-invalidate for stream ${streamId}, which has no ATS`);
    const wait = a.port.invalidate(va, size);
    a.sInvalidations.value++;
    a.sInvalidationPs.value += wait;
    return wait;
  }

  /** The kernel invalidated its IOTLB entries (asid -1: all; size 0: whole ASID): the grants of those IOVAs end. */
  private revokeGrants(asid: number, va: number, size: number): void {
    if (this.atsStreams.size === 0) return;
    for (const [streamId, a] of this.atsStreams) {
      const c = this.streams.get(streamId)!.context;
      if (asid >= 0 && (c === null || c.mode !== 'translate' || c.asid !== asid)) continue;
      if (size > 0) a.grants.revokeRange(va, size);
      else a.grants.revokeAll();
    }
  }
}
