import { z } from 'zod';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { count, countOrZero, MAX_CYCLES, Name, resolveParams } from '../engine/spec';
import type { ResponsePort } from '../bus/port';
import { CpuCacheSpec } from '../devices/cpuCache';
import type { PageTableFormat } from './format/types';
import { checkUnitFormat, FormatName, TranslationUnit, TranslationUnitSpec, type FaultRecord, type TranslationContext, type TranslationInput, type TranslationUnitParamsInput } from './translationUnit';

/** A trace-driven CPU core on a CPU MMU (`cpuMmus[].cores[]`); scenarios replay traces on it. */
export const CpuCoreSpec = z
  .strictObject({
    name: Name,
    maxOutstanding: count(1024).default(1).describe('loads (and unposted stores) in flight: 1 = a blocking in-order core (at most 1024)'),
    storeBuffer: countOrZero(1024, '1024').default(0).describe('posted stores in flight; 0 = stores block like loads (at most 1024)'),
    cyclesBetween: countOrZero(MAX_CYCLES, '2^32').default(0).describe('compute cycles before each trace record (added to the trace\'s own gaps)'),
  })
  .describe('a trace-driven CPU core on this MMU (scenarios replay traces on it)');

export type CpuCoreConfig = z.output<typeof CpuCoreSpec>;

/**
 * A `cpuMmus[]` entry without its wiring (name, bus, clock): the translation unit's
 * parameters, the page-table format they must fit, the data cache and the cores.
 */
export const CpuMmuSpec = TranslationUnitSpec.safeExtend({
  format: FormatName,
  cache: CpuCacheSpec.optional().describe('data cache between this MMU and the bus; none = uncached'),
  cores: z.array(CpuCoreSpec).default([]).describe('CPU cores sharing this MMU\'s L2 TLB, walker and cache'),
}).superRefine(checkUnitFormat);

/**
 * The CPU's MMU: an L1 DTLB per core in front of a shared L2 TLB and a walker, with
 * ASIDs. Core 0 connects to `cpuSidePort`; `addCore` adds another core (the kernel's CPU
 * accessor, trace-driven cores), each with its own L1 DTLB. Every core runs in the
 * current context (one address space for the cluster: a simplification). Context switches write the root and ASID (TTBR0 with its
 * ASID field); TLB maintenance (TLBI) takes effect at once — its cost is the CPU's
 * instruction time, not modelled here. Faults are recorded in `faults` for the kernel's
 * fault handler and the access completes with a translation fault.
 */
export class CpuMmu extends TranslationUnit {
  readonly cpuSidePort: ResponsePort;
  private readonly cores: TranslationInput[] = [];
  readonly faults: FaultRecord[] = [];
  /** Records kept at most; older ones are dropped first. */
  readonly faultLimit = 1024;

  constructor(ctx: SimContext, path: string, clock: ClockDomain, format: PageTableFormat, walkerMasterId: number, params: TranslationUnitParamsInput) {
    super(ctx, path, clock, format, walkerMasterId, resolveParams(TranslationUnitSpec, params, path));
    this.cpuSidePort = this.addCore('cpu');
    this.disable(); // out of reset the MMU is off
  }

  /** Adds a core named `name` (its L1 DTLB is `<path>.<name>.l1tlb`) in the current context; returns its port. */
  addCore(name: string): ResponsePort {
    const core = this.addInput(name, 0);
    core.context = this.cores.length > 0 ? this.cores[0].context : null;
    this.cores.push(core);
    return core.port;
  }

  /** Switches address space: root table, ASID, and whether the CPU runs privileged. */
  setContext(root: number, asid: number, privileged = true): void {
    const c = { format: this.format, root, asid, mode: 'translate' as const, privileged, allowRead: true, allowWrite: true };
    this.checkContext(c);
    for (const core of this.cores) core.context = c;
  }

  /** The context every core runs in now (TTBR0 + ASID, or bypass when the MMU is off). */
  get context(): TranslationContext | null {
    return this.cores[0].context;
  }

  /** Turns translation off (MMU disabled: physical addresses). */
  disable(): void {
    const c = { format: this.format, root: 0, asid: 0, mode: 'bypass' as const, privileged: true, allowRead: true, allowWrite: true };
    for (const core of this.cores) core.context = c;
  }

  tlbiAll(): void {
    this.invalidateAllNow();
  }

  tlbiAsid(asid: number): void {
    this.invalidateAsidNow(asid);
  }

  tlbiRange(asid: number, va: number, size: number): void {
    this.invalidateRangeNow(asid, va, size);
  }

  protected recordFault(f: FaultRecord): void {
    if (this.faults.length >= this.faultLimit) this.faults.shift();
    this.faults.push(f);
  }
}
