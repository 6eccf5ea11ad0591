/**
 * The CPU side (VMM): page tables for the CPU MMU, which walks the same arm-lpae-4k
 * format, built by the same io-pgtable (ioPgtableArm.ts) with the same map/unmap rules
 * (PagingDomain). A `CpuAddressSpace` is one process's (or the kernel's) translation:
 * an ASID and a root table.
 *
 * Hardware access, as a kernel does it: tables are stores to memory; `activate()` is the
 * context switch (TTBR0 with its ASID: `cpuMmu.setContext`); TLB maintenance is TLBI
 * instructions (`cpuMmu.tlbiRange` after an unmap — TLBI VAE1 over the range — and
 * `cpuMmu.tlbiAsid` for a full flush — TLBI ASIDE1), which take effect at once.
 *
 * Prot flags are the IOMMU_* ones (IOMMU_READ, IOMMU_WRITE, IOMMU_PRIV): read-only
 * without IOMMU_WRITE, EL0-accessible without IOMMU_PRIV — the same LPAE AP bits a
 * pgprot would give.
 *
 * Stats: `kernel.<name>.pgtable.tlbi_ops` (TLBI operations issued),
 * `kernel.<name>.pgtable.pages` (table pages in use).
 */

import type { Counter } from '../../sim/engine/stats';
import type { CpuMmu } from '../../sim/mmu/cpuMmu';
import { KernelError } from '../errno';
import type { Kernel } from '../kernel';
import type { PageAllocator } from './ioPgtableArm';
import { sharedCounter } from './kstats';
import { PagingDomain, type PagingDomainConfig } from './pagingDomain';

export interface CpuAddressSpaceOptions extends PagingDomainConfig {
  /** Whether the CPU runs privileged (EL1) in this address space (default true: kernel). */
  privileged?: boolean;
}

/**
 * One CPU address space: page tables for `cpuMmu` and an ASID. The constructor throws
 * KernelError: EINVAL when the MMU walks tables io-pgtable does not build or the ASID is not
 * 16-bit, ENOMEM when the root table cannot be allocated.
 */
export class CpuAddressSpace extends PagingDomain {
  readonly mmuName: string;
  private readonly privileged: boolean;
  private readonly sTlbi: Counter;

  constructor(kernel: Kernel, readonly cpuMmu: CpuMmu, pages: PageAllocator, asid: number, opts: CpuAddressSpaceOptions = {}) {
    const call = 'cpuAddressSpaceAlloc';
    if (!Number.isInteger(asid) || asid < 0 || asid > 0xffff) throw new KernelError('EINVAL', call, `bad ASID ${asid}`);
    const name = cpuMmu.path.slice(cpuMmu.path.lastIndexOf('.') + 1);
    super(kernel, cpuMmu.path, cpuMmu.format, asid, pages, opts, `kernel.${name}.pgtable`, call);
    this.mmuName = name;
    this.privileged = opts.privileged ?? true;
    this.sTlbi = sharedCounter(kernel.soc.ctx.stats, `kernel.${name}.pgtable.tlbi_ops`, 'CPU TLB maintenance operations (TLBI) the kernel issued');
  }

  /** Switches the CPU to this address space (TTBR0 + ASID): `cpuMmu.setContext(root, asid)`. */
  activate(): void {
    if (this.freed) throw new KernelError('EINVAL', 'cpuAddressSpaceActivate', 'address space freed');
    this.cpuMmu.setContext(this.root, this.asid, this.privileged);
  }

  /** Flushes every TLB entry of this ASID (TLBI ASIDE1). */
  flushTlbAll(): void {
    this.tlbInvAll();
  }

  /** Frees the page tables (after TLBI ASIDE1). The CPU must not be running in this space. */
  free(): void {
    this.freeTables();
  }

  /** TLBI VAE1 over the range (walk caches included). */
  protected tlbInvRange(iova: number, size: number): void {
    this.sTlbi.value++;
    this.cpuMmu.tlbiRange(this.asid, iova, size);
  }

  protected tlbInvAll(): void {
    this.sTlbi.value++;
    this.cpuMmu.tlbiAsid(this.asid);
  }
}
