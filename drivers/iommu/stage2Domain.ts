/**
 * A hypervisor's stage 2 for one guest (issue 17): the IPA -> PA tables of a VM, built
 * with io-pgtable ARM_64_LPAE_S2 (ioPgtableArm.ts), and the invalidations a hypervisor
 * sends when it changes them. It plays the part of KVM's stage-2 MMU (and of the
 * arm-smmu-v3 "nest parent" domain, Linux 6.12+: IOMMU_HWPT_ALLOC_NEST_PARENT) for the
 * IOMMU streams of a guest's devices: a guest IommuDomain created with `stage2` programs
 * its stream as nested (SMMUv3 STE.Config = S1 + S2), so every stage-1 table read and
 * every output address of the guest's DMA is translated by these tables.
 *
 * Invalidation after a stage-2 unmap (strict): INVALIDATE-IPA for the range (CMD_TLBI_S2_IPA,
 * KVM's TLBI IPAS2E1IS), then INVALIDATE-VMID (CMD_TLBI_S12_VMALL; KVM's TLBI VMALLE1IS;
 * arm_smmu_tlb_inv_range_domain's CMDQ_OP_TLBI_NH_ALL for a nest parent), then SYNC on every
 * IOMMU the VM's streams use: combined (stage 1 + 2) TLB entries are keyed by VA and an
 * IPA invalidation cannot find them, so the architecture makes software drop the VMID's
 * stage-1 entries too. Each command's cost is added to `kernel.iommu_time_ps`.
 *
 * Stats: kernel.hyp.s2.inval_cmds, kernel.hyp.s2.sync_cmds, kernel.hyp.s2.pgtable.pages.
 *
 * The model runs one kernel: the guest's physical addresses are IPAs, and the guest kernel
 * allocates from the same page allocator as the hypervisor. That is exact when stage 2
 * maps guest RAM at IPA = PA (the identity mapping the platform's `hypervisor` option
 * builds); other offsets are for tests that write stage-1 tables themselves.
 */

import type { Counter } from '../../sim/engine/stats';
import type { Iommu, IommuCommand } from '../../sim/mmu/iommu';
import { MAX_VMID, stage2Tag, type Stage2Context } from '../../sim/mmu/walker';
import { Errno, KernelError } from '../errno';
import type { Kernel } from '../kernel';
import { allocIoPgtableOps, IOMMU_READ, IOMMU_WRITE, iommuIotlbGatherInit, SZ_1G, SZ_2M, SZ_4K, type IommuFlushOps, type IoPgtableArm, type PageAllocator } from './ioPgtableArm';
import { sharedCounter } from './kstats';
import { iommuPgsize } from './pagingDomain';

export interface Stage2DomainOptions {
  /** Virtual machine id, 1..MAX_VMID. */
  vmid: number;
  /** IPA bits (default 48; 25..48). Below 44 bits with the 4 KiB granule the root is concatenated tables. */
  ias?: number;
  /** Largest page stage 2 maps with: SZ_4K (4 KiB pages only), SZ_2M or SZ_1G (default SZ_2M). */
  maxPageSize?: number;
}

export class Stage2Domain {
  readonly vmid: number;
  readonly pgtable: IoPgtableArm;
  private readonly iommus = new Set<Iommu>();
  private readonly sizes: number[];
  private readonly sInval: Counter;
  private readonly sSync: Counter;
  private readonly sTime: Counter;
  private readonly syncCmd: IommuCommand = { op: 'sync', done: () => {} };
  private readonly nestedCtx: Stage2Context;
  private readonly s2OnlyCtx: Stage2Context;

  /** Throws KernelError EINVAL for a bad VMID or page size, ENOMEM when the root cannot be allocated. */
  constructor(readonly kernel: Kernel, pages: PageAllocator, opts: Stage2DomainOptions) {
    const call = 'kvmStage2Init';
    if (!Number.isInteger(opts.vmid) || opts.vmid < 1 || opts.vmid > MAX_VMID) throw new KernelError('EINVAL', call, `bad VMID ${opts.vmid} (1..${MAX_VMID})`);
    const max = opts.maxPageSize ?? SZ_2M;
    if (max !== SZ_4K && max !== SZ_2M && max !== SZ_1G) throw new KernelError('EINVAL', call, `stage-2 page size ${max}: 4 KiB, 2 MiB or 1 GiB`);
    this.vmid = opts.vmid;
    this.sizes = [SZ_4K, SZ_2M, SZ_1G].filter((s) => s <= max);
    const stats = kernel.soc.ctx.stats;
    this.sInval = sharedCounter(stats, 'kernel.hyp.s2.inval_cmds', 'stage-2 invalidation commands the hypervisor sent (IPA, VMID)');
    this.sSync = sharedCounter(stats, 'kernel.hyp.s2.sync_cmds', 'SYNC commands after stage-2 invalidations');
    this.sTime = sharedCounter(stats, 'kernel.iommu_time_ps', 'kernel time spent waiting for IOMMU commands, ps');
    const flush: IommuFlushOps = {
      tlbFlushAll: () => this.invalidateVmid(),
      tlbFlushWalk: (ipa, size) => this.invalidateIpa(ipa, size),
      tlbAddPage: () => {},
    };
    const pgtable = allocIoPgtableOps('ARM_64_LPAE_S2', {
      ias: opts.ias ?? 48, oas: 48, pgsizeBitmap: SZ_4K | SZ_2M | SZ_1G, kernel, pages, tlb: flush, statsPrefix: 'kernel.hyp.s2.pgtable',
    });
    if (pgtable === null) throw new KernelError('ENOMEM', call, 'no stage-2 root table');
    this.pgtable = pgtable;
    this.nestedCtx = Object.freeze({ format: pgtable.format, root: pgtable.ttbr, vmid: this.vmid, nested: true });
    this.s2OnlyCtx = Object.freeze({ format: pgtable.format, root: pgtable.ttbr, vmid: this.vmid, nested: false });
  }

  /** The stage-2 part of a stream context: nested (the guest's stage 1 on top) or stage 2 only. */
  context(nested: boolean): Stage2Context {
    return nested ? this.nestedCtx : this.s2OnlyCtx;
  }

  /**
   * A guest device in the identity domain (iommu.passthrough=1 in the guest): its stream
   * is translated by stage 2 only (STE.Config = S2, stage 1 bypassed), so its DMA
   * addresses are IPAs. Returns 0, or -ENODEV when no device sits on that stream.
   */
  attachStage2Only(iommu: Iommu, streamId: number): number {
    if (!iommu.streamIds.includes(streamId)) return -Errno.ENODEV;
    this.attach(iommu);
    iommu.setStreamContext(streamId, {
      format: iommu.format, root: 0, asid: stage2Tag(this.vmid, 0), mode: 'translate', privileged: false, allowRead: true, allowWrite: true,
      stage2: this.s2OnlyCtx,
    });
    return 0;
  }

  /** Records that a stream of `iommu` uses these tables (where invalidations must go). */
  attach(iommu: Iommu): void {
    this.iommus.add(iommu);
  }

  /**
   * Maps guest RAM [ipa, ipa + size) to [pa, pa + size) read/write, with the largest pages
   * (up to maxPageSize) alignment allows, as the iommu core's map loop does. Returns 0 or
   * -errno (the mapping made so far is undone on error).
   */
  map(ipa: number, pa: number, size: number): number {
    let done = 0;
    while (done < size) {
      const { pgsize, count } = iommuPgsize(this.sizes, ipa + done, pa + done, size - done);
      const mapped = { bytes: 0 };
      const ret = this.pgtable.mapPages(ipa + done, pa + done, pgsize, count, IOMMU_READ | IOMMU_WRITE, mapped);
      done += mapped.bytes;
      if (ret !== 0) {
        if (done > 0) this.unmap(ipa, done);
        return ret;
      }
    }
    return 0;
  }

  /** Unmaps [ipa, ipa + size) and invalidates (IPA range, then the VMID, then SYNC). Returns the bytes unmapped. */
  unmap(ipa: number, size: number): number {
    let done = 0;
    const gather = iommuIotlbGatherInit();
    while (done < size) {
      const { pgsize, count } = iommuPgsize(this.sizes, ipa + done, ipa + done, size - done);
      const n = this.pgtable.unmapPages(ipa + done, pgsize, count, gather);
      if (n === 0) break;
      done += n;
    }
    if (done > 0) {
      this.invalidateIpa(ipa, done);
      this.invalidateVmid();
    }
    return done;
  }

  /** Frees the tables (after invalidating the VMID). */
  free(): void {
    this.pgtable.free();
  }

  private invalidateIpa(ipa: number, size: number): void {
    for (const iommu of this.iommus) {
      this.command(iommu, { op: 'invalidate-ipa', vmid: this.vmid, ipa, size });
      this.command(iommu, this.syncCmd);
    }
  }

  private invalidateVmid(): void {
    for (const iommu of this.iommus) {
      this.command(iommu, { op: 'invalidate-vmid', vmid: this.vmid });
      this.command(iommu, this.syncCmd);
    }
  }

  private command(iommu: Iommu, cmd: IommuCommand): void {
    if (cmd.op === 'sync') this.sSync.value++;
    else this.sInval.value++;
    this.sTime.value += iommu.executeAtomic(cmd);
  }
}
