/**
 * An IOMMU domain for the LPAE IOMMU: Linux's `struct iommu_domain` (the iommu core's
 * map/unmap loops are in PagingDomain) and the arm-smmu-v3 driver glue under it
 * (arm_smmu_attach_dev, arm_smmu_tlb_inv_range_domain, arm_smmu_tlb_inv_context,
 * arm_smmu_iotlb_sync): one io-pgtable (ioPgtableArm.ts) and one ASID.
 *
 * The driver reaches the hardware only as a kernel does: attach and detach program the
 * stream's context (a register write: `iommu.setStreamContext`), page tables are stores
 * to memory, and TLB maintenance is commands that the kernel issues and waits for
 * (`iommu.executeAtomic`: the synchronous path; each command's cost is added to
 * `kernel.iommu_time_ps`).
 *
 * Invalidation (strict mode, no flush queue):
 * - unmap gathers the IOVA range of the leaves it cleared (iommu_iotlb_gather_add_page)
 *   and ends with one INVALIDATE-RANGE for the gathered range + SYNC (arm_smmu_iotlb_sync).
 *   A page disjoint from the range gathered so far, or of another size, first syncs what
 *   was gathered.
 * - a table removed from the tables (a block mapped over it, or a table-sized unmap) is
 *   flushed at once with INVALIDATE-RANGE + SYNC over its span (arm_smmu_tlb_inv_walk),
 *   which also drops the walk-cache entries pointing into it.
 * - flushIotlbAll: INVALIDATE-ASID + SYNC (arm_smmu_flush_iotlb_all → arm_smmu_tlb_inv_context).
 * One INVALIDATE-RANGE covers a whole range, as SMMUv3.2 range invalidation (RIL) does;
 * without RIL, Linux sends one CMD_TLBI_NH_VA per granule.
 *
 * Stats (shared by the domains on one IOMMU; `<name>` is the IOMMU's config name):
 *   kernel.<name>.pgtable.inval_cmds     invalidation commands sent (range, ASID)
 *   kernel.<name>.pgtable.atc_inval_cmds ATC invalidation commands (PCIe ATS devices: ats.ts)
 *   kernel.<name>.pgtable.sync_cmds      SYNC commands sent
 *   kernel.<name>.pgtable.pages  page-table pages in use
 *   kernel.iommu_time_ps               kernel time spent waiting for IOMMU commands, ps
 */

import type { Counter } from '../../sim/engine/stats';
import type { Iommu, IommuCommand } from '../../sim/mmu/iommu';
import { Errno, KernelError } from '../errno';
import type { Kernel } from '../kernel';
import type { PageAllocator } from './ioPgtableArm';
import { sharedCounter } from './kstats';
import { atcInvDomain, disableAts, enableAtsIfSupported } from './ats';
import { PagingDomain, type PagingDomainConfig } from './pagingDomain';
import type { Stage2Domain } from './stage2Domain';
import { stage2Tag } from '../../sim/mmu/walker';

export { IOMMU_CACHE, IOMMU_MMIO, IOMMU_NOEXEC, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE } from './ioPgtableArm';

export interface IommuDomainOptions extends PagingDomainConfig {
  /** Whether the attached streams' transactions are privileged (STE PRIVCFG; default false). */
  privileged?: boolean;
  /**
   * A guest's domain: its streams are nested (STE.Config = S1 + S2) over this VM's stage 2,
   * its page tables and DMA addresses are the guest's (IPAs), and its TLB tag is
   * stage2Tag(vmid, asid), which its invalidations carry (SMMUv3 CMD_TLBI_NH_* with VMID).
   */
  stage2?: Stage2Domain;
}

/**
 * One set of LPAE page tables for one IOMMU, with its ASID (iommu_domain_alloc +
 * arm_smmu_domain_finalise). The constructor throws KernelError: EINVAL when the IOMMU
 * walks tables io-pgtable does not build (pgtableOps.ts), the ASID is not 16-bit or the configuration is
 * refused; ENOMEM when the root table cannot be allocated.
 */
export class IommuDomain extends PagingDomain {
  /** The IOMMU's config name (`smmu`), used in stat names. */
  readonly iommuName: string;
  private readonly attached = new Set<number>();
  private readonly privileged: boolean;
  private readonly stage2: Stage2Domain | null;
  private readonly sInval: Counter;
  private readonly sSync: Counter;
  private readonly sTime: Counter;
  private sAtcInval: Counter | null = null;
  private readonly syncCmd: IommuCommand = { op: 'sync', done: () => {} };

  constructor(kernel: Kernel, readonly iommu: Iommu, pages: PageAllocator, asid: number, opts: IommuDomainOptions = {}) {
    const call = 'iommuDomainAlloc';
    if (!Number.isInteger(asid) || asid < 0 || asid > 0xffff) throw new KernelError('EINVAL', call, `bad ASID ${asid}`);
    const name = iommu.path.slice(iommu.path.lastIndexOf('.') + 1);
    super(kernel, iommu.path, iommu.format, opts.stage2 ? stage2Tag(opts.stage2.vmid, asid) : asid, pages, opts, `kernel.${name}.pgtable`, call);
    this.iommuName = name;
    this.stage2 = opts.stage2 ?? null;
    this.stage2?.attach(iommu);
    const stats = kernel.soc.ctx.stats;
    this.sInval = sharedCounter(stats, `kernel.${name}.pgtable.inval_cmds`, 'TLB invalidation commands the kernel sent (range, ASID)');
    this.sSync = sharedCounter(stats, `kernel.${name}.pgtable.sync_cmds`, 'SYNC commands the kernel sent and waited for');
    this.sTime = sharedCounter(stats, 'kernel.iommu_time_ps', 'kernel time spent waiting for IOMMU commands, ps');
    this.privileged = opts.privileged ?? false;
  }

  /** Streams currently attached to this domain. */
  get attachedStreams(): number[] {
    return [...this.attached];
  }

  /**
   * iommu_attach_device for the device on `streamId`: programs the stream's context
   * (translate, this domain's root table and ASID). Returns 0, -ENODEV when no device
   * sits on that stream, or -EINVAL after `free()`.
   */
  attachDevice(streamId: number): number {
    if (this.freed) return -Errno.EINVAL;
    if (!this.iommu.streamIds.includes(streamId)) return -Errno.ENODEV;
    this.iommu.setStreamContext(streamId, {
      format: this.iommu.format, root: this.root, asid: this.asid, mode: 'translate',
      privileged: this.privileged, allowRead: true, allowWrite: true,
      ...(this.stage2 ? { stage2: this.stage2.context(true) } : {}),
    });
    this.attached.add(streamId);
    if (enableAtsIfSupported(this.iommu, streamId)) {
      this.sAtcInval ??= sharedCounter(this.kernel.soc.ctx.stats, `kernel.${this.iommuName}.pgtable.atc_inval_cmds`, 'ATC invalidation commands the kernel sent (one per ATS device of the domain per IOTLB invalidation)');
    }
    return 0;
  }

  /**
   * iommu_detach_device: the stream's context goes to abort (every transaction faults
   * with no_context). A stream not attached to this domain gets a kernel warning.
   */
  detachDevice(streamId: number): void {
    if (!this.attached.delete(streamId)) {
      this.kernel.warn('iommu', `iommuDetachDevice: stream ${streamId} is not attached to this domain`);
      return;
    }
    disableAts(this.iommu, streamId);
    this.iommu.setStreamContext(streamId, {
      format: this.iommu.format, root: 0, asid: 0, mode: 'abort', privileged: false, allowRead: false, allowWrite: false,
    });
  }

  /** iommu_flush_iotlb_all: INVALIDATE-ASID for this domain + SYNC. */
  flushIotlbAll(): void {
    this.tlbInvAll();
  }

  /**
   * iommu_domain_free: frees the page tables (after an ASID flush). Streams still
   * attached are a driver bug: they are detached (abort) with a kernel warning.
   */
  free(): void {
    if (this.freed) return;
    for (const s of [...this.attached]) {
      this.kernel.warn('iommu', `iommuDomainFree: stream ${s} still attached`);
      this.detachDevice(s);
    }
    this.freeTables();
  }

  /** arm_smmu_tlb_inv_range_domain: INVALIDATE-RANGE for this ASID, then SYNC. */
  protected tlbInvRange(iova: number, size: number): void {
    this.command({ op: 'invalidate-range', asid: this.asid, va: iova, size });
    if (this.sAtcInval) this.sTime.value += atcInvDomain(this.iommu, this.attached, iova, size, this.sAtcInval);
    this.sync();
  }

  /** arm_smmu_tlb_inv_context: INVALIDATE-ASID, then SYNC. */
  protected tlbInvAll(): void {
    this.command({ op: 'invalidate-asid', asid: this.asid });
    if (this.sAtcInval) this.sTime.value += atcInvDomain(this.iommu, this.attached, 0, 0, this.sAtcInval);
    this.sync();
  }

  private command(cmd: IommuCommand): void {
    this.sInval.value++;
    this.sTime.value += this.iommu.executeAtomic(cmd);
  }

  private sync(): void {
    this.sSync.value++;
    this.sTime.value += this.iommu.executeAtomic(this.syncCmd);
  }
}
