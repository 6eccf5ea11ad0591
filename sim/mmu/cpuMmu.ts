import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import type { ResponsePort } from '../bus/port';
import type { PageTableFormat } from './format/types';
import { TranslationUnit, type FaultRecord, type TranslationInput, type TranslationUnitParams } from './translationUnit';

/**
 * The CPU's MMU: an L1 DTLB per core in front of a shared L2 TLB and a walker, with
 * ASIDs. Core 0 connects to `cpuPort`; `addCore` adds another core (the kernel's CPU
 * accessor, trace-driven cores), each with its own L1 DTLB. Every core runs in the
 * current context (one address space for the cluster: a simplification). Context switches write the root and ASID (TTBR0 with its
 * ASID field); TLB maintenance (TLBI) takes effect at once — its cost is the CPU's
 * instruction time, not modelled here. Faults are recorded in `faults` for the kernel's
 * fault handler and the access completes with a translation fault.
 */
export class CpuMmu extends TranslationUnit {
  readonly cpuPort: ResponsePort;
  private readonly cores: TranslationInput[] = [];
  readonly faults: FaultRecord[] = [];
  /** Records kept at most; older ones are dropped first. */
  readonly faultLimit = 1024;

  constructor(ctx: SimContext, path: string, clock: ClockDomain, format: PageTableFormat, walkerMasterId: number, params: TranslationUnitParams) {
    super(ctx, path, clock, format, walkerMasterId, params);
    this.cpuPort = this.addCore('cpu');
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
