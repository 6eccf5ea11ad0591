import { z } from 'zod';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import { hex } from '../engine/addr';
import { count, Cycles, resolveParams } from '../engine/spec';
import type { Counter } from '../engine/stats';
import type { ResponsePort } from '../bus/port';
import type { PageTableFormat } from './format/types';
import { WalkCacheSpec } from './walkCache';
import { checkUnitFormat, FormatName, TranslationUnit, TranslationUnitSpec, type FaultRecord, type TranslationContext, type TranslationInput } from './translationUnit';

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
  | { op: 'sync'; done: () => void };

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
    };
  }

  /** Attaches a device by stream id; connect the device's RequestPort to the returned port. */
  attachDevice(name: string, streamId: number): ResponsePort {
    if (this.streams.has(streamId)) throw new SimInvariantError(`${this.path}: stream ${streamId} attached twice`);
    const input = this.addInput(name, streamId);
    this.streams.set(streamId, input);
    return input.port;
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
    this.apply(cmd);
    return this.clock.cyclesToTicks(this.commandCost(cmd));
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
      : c.sync;
  }

  private completeCommand(): void {
    const cmd = this.commands.shift()!;
    this.commandBusy = false;
    this.apply(cmd);
    if (this.commands.length > 0 && !this.commandBusy) this.startCommand();
  }

  /** A command's effect, on whichever path it arrived. */
  private apply(cmd: IommuCommand): void {
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
      return;
    }
    if (this.ctx.tracer.inval && cmd.op !== 'sync') {
      this.ctx.tracer.emit('inval', this.ctx.engine.now, {
        unit: this.path, op: cmd.op,
        asid: cmd.op === 'invalidate-all' ? null : cmd.asid,
        va: cmd.op === 'invalidate-range' ? hex(cmd.va) : null,
        size: cmd.op === 'invalidate-range' ? cmd.size : null,
      });
    }
    switch (cmd.op) {
      case 'invalidate-all': this.invalidateAllNow(); break;
      case 'invalidate-asid': this.invalidateAsidNow(cmd.asid); break;
      case 'invalidate-range': this.invalidateRangeNow(cmd.asid, cmd.va, cmd.size); break;
      case 'sync': cmd.done(); break;
    }
  }
}
