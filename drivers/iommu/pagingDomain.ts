/**
 * What an IOMMU domain and a CPU address space share: one LPAE io-pgtable and Linux's
 * iommu core loops over it (drivers/iommu/iommu.c: __iommu_map with iommu_pgsize and the
 * unroll on error, __iommu_unmap, iommu_iotlb_gather_add_page, iommu_iotlb_sync,
 * iommu_iova_to_phys). Subclasses say how TLBs are invalidated: IOMMU commands
 * (IommuDomain) or CPU TLB maintenance (CpuAddressSpace).
 *
 * Traces: a successful map emits a `map` record (unit, asid, iova, pa, size: Linux's
 * trace_map) and every unmap an `unmap` record (unit, asid, iova, size, unmapped:
 * trace_unmap); the invalidations they cause appear as `inval` records of the unit.
 */

import { hex } from '../../sim/engine/addr';
import { SimInvariantError } from '../../sim/engine/errors';
import type { PageTableFormat } from '../../sim/mmu/format/types';
import { Errno, KernelError } from '../errno';
import type { Kernel } from '../kernel';
import {
  iommuIotlbGatherAddRange,
  iommuIotlbGatherInit,
  iommuIotlbGatherIsDisjoint,
  armLpaeFormatForGranule,
  armLpaeGranuleOf,
  type IommuFlushOps,
  type IommuIotlbGather,
  type IoPgtableArm,
  type PageAllocator,
} from './ioPgtableArm';
import { ioPgtableFormatOps } from './pgtableOps';

export interface PagingDomainConfig {
  /** Input address bits (default 48). */
  ias?: number;
  /** Output address bits (default 48). */
  oas?: number;
  /**
   * Page sizes (default: every size of the format: SZ_4K | SZ_2M | SZ_1G for arm-lpae-4k,
   * SZ_16K | SZ_32M for arm-lpae-16k, SZ_64K | SZ_512M for arm-lpae-64k). The granule
   * io-pgtable picks from them must be the unit's.
   */
  pgsizeBitmap?: number;
}

/** The supported page sizes of `bitmap` (below 2^31), smallest first. */
function pageSizes(bitmap: number): number[] {
  const out: number[] = [];
  for (let s = 1; s > 0 && s <= bitmap; s *= 2) if ((bitmap & s) !== 0) out.push(s);
  return out;
}

/**
 * iommu_pgsize(domain, iova, paddr, size, &count): the largest page of `sizes` (smallest
 * first) that iova and paddr are both aligned to and that fits in `size`, and how many
 * of them to map before a larger page becomes possible.
 */
export function iommuPgsize(sizes: readonly number[], iova: number, paddr: number, size: number): { pgsize: number; count: number } {
  let k = -1;
  for (let i = sizes.length - 1; i >= 0; i--) {
    const s = sizes[i];
    if (s <= size && iova % s === 0 && paddr % s === 0) {
      k = i;
      break;
    }
  }
  // BUG_ON(!pgsizes): callers checked the alignment to the smallest page.
  if (k < 0) throw new SimInvariantError(`iommu_pgsize: no page size fits iova ${hex(iova)} pa ${hex(paddr)} size ${hex(size)}`);
  const pgsize = sizes[k];
  let span = size;
  if (k + 1 < sizes.length) {
    const next = sizes[k + 1];
    // There's no point trying a bigger page size unless iova and paddr are similarly offset within it.
    if ((iova - paddr) % next === 0) {
      // The offset to the next page size alignment boundary.
      const offset = next - (iova % next);
      if (offset + next <= size) span = offset;
    }
  }
  return { pgsize, count: Math.floor(span / pgsize) };
}

export abstract class PagingDomain {
  readonly pgtbl: IoPgtableArm;
  readonly pgsizeBitmap: number;
  /** Supported page sizes, smallest first. */
  readonly pageSizes: readonly number[];
  protected freed = false;

  /**
   * Allocates the page table (its root page from `pages`) with the io-pgtable ops that
   * the page-table ops table (pgtableOps.ts) gives for `format`, the format the unit
   * walks. Throws KernelError: EINVAL when io-pgtable does not build that format or for
   * a configuration it refuses, ENOMEM when the root cannot be allocated.
   */
  protected constructor(
    readonly kernel: Kernel,
    /** The translation unit these tables are for (`soc.smmu`), as traces name it. */
    readonly unit: string,
    format: PageTableFormat,
    readonly asid: number,
    pages: PageAllocator,
    cfg: PagingDomainConfig,
    statsPrefix: string,
    call: string,
  ) {
    const tlb: IommuFlushOps = {
      tlbFlushAll: () => this.tlbInvAll(),
      tlbFlushWalk: (iova, size) => this.tlbInvRange(iova, size),
      tlbAddPage: (gather, iova, granule) => this.tlbAddPage(gather, iova, granule),
    };
    const ias = cfg.ias ?? 48;
    const oas = cfg.oas ?? 48;
    const ops = ioPgtableFormatOps(format);
    if (!ops) throw new KernelError('EINVAL', call, `${unit} walks ${format.name} tables, which io-pgtable does not build`);
    const pgsizeBitmap = cfg.pgsizeBitmap ?? ops.pageSizes.reduce((bits, size) => bits + size, 0);
    if (!(ias > 0 && ias <= 48) || !(oas > 0 && oas <= 48)) {
      throw new KernelError('EINVAL', call, `unsupported page-table configuration (ias ${ias}, oas ${oas}, pgsize_bitmap ${hex(pgsizeBitmap)})`);
    }
    // The tables must be the ones the unit walks: the granule picked from the bitmap must be the format's.
    const granule = armLpaeGranuleOf(pgsizeBitmap);
    if (armLpaeFormatForGranule(granule) !== format) {
      throw new KernelError('EINVAL', call, `pgsize_bitmap ${hex(pgsizeBitmap)} selects ${granule ? `the ${hex(granule)} granule` : 'no granule'}, but ${unit} walks ${format.name} tables`);
    }
    const pgtbl = ops.alloc({ ias, oas, pgsizeBitmap, kernel, pages, tlb, statsPrefix });
    if (!pgtbl) throw new KernelError('ENOMEM', call, 'no page for the root table');
    this.pgtbl = pgtbl;
    this.pgsizeBitmap = pgtbl.pgsizeBitmap;
    this.pageSizes = pageSizes(this.pgsizeBitmap);
  }

  /** Physical address of the root table (TTBR). */
  get root(): number {
    return this.pgtbl.ttbr;
  }

  /** Invalidates TLB entries (and cached walks) for [iova, iova + size) of this address space, and waits. */
  protected abstract tlbInvRange(iova: number, size: number): void;
  /** Invalidates every TLB entry of this address space, and waits. */
  protected abstract tlbInvAll(): void;

  /**
   * iommu_map(domain, iova, paddr, size, prot): maps [iova, iova + size) to paddr with the
   * largest pages that alignment allows (iommu_pgsize). Returns 0 or -errno: -EINVAL when
   * iova, paddr or size is not a multiple of the smallest page (pr_err "unaligned"), or
   * any io-pgtable error (-EEXIST, -ERANGE, -EINVAL, -ENOMEM); on an error whatever this
   * call mapped is unmapped again.
   */
  map(iova: number, paddr: number, size: number, prot: number): number {
    if (this.freed) return -Errno.EINVAL;
    const min = this.pageSizes[0];
    if (!(iova % min === 0 && paddr % min === 0 && size % min === 0 && size >= 0)) {
      this.kernel.err('iommu', `unaligned: iova ${hex(iova)} pa ${hex(paddr)} size ${hex(size)} min_pagesz ${hex(min)}`);
      return -Errno.EINVAL;
    }
    const origIova = iova;
    const origSize = size;
    let ret = 0;
    const mapped = { bytes: 0 };
    while (size > 0) {
      const { pgsize, count } = iommuPgsize(this.pageSizes, iova, paddr, size);
      mapped.bytes = 0;
      ret = this.pgtbl.mapPages(iova, paddr, pgsize, count, prot, mapped);
      // Some pages may have been mapped, even if an error occurred.
      size -= mapped.bytes;
      if (ret !== 0) break;
      iova += mapped.bytes;
      paddr += mapped.bytes;
    }
    // Unroll the mapping in case something went wrong.
    if (ret !== 0) {
      if (origSize - size > 0) this.unmap(origIova, origSize - size);
    } else if (this.kernel.soc.ctx.tracer.map) {
      // trace_map(orig_iova, orig_paddr, orig_size)
      this.kernel.soc.ctx.tracer.emit('map', this.kernel.now, { unit: this.unit, asid: this.asid, iova: hex(origIova), pa: hex(paddr - origSize), size: origSize });
    }
    return ret;
  }

  /**
   * iommu_unmap(domain, iova, size): unmaps until `size` bytes are gone or an unmapped
   * hole is found, then invalidates the TLBs for what was unmapped before returning.
   * Returns the bytes unmapped: 0 when nothing was mapped at `iova` (the io-pgtable
   * WARNs), or when iova/size are not multiples of the smallest page (WARN).
   */
  unmap(iova: number, size: number): number {
    if (this.freed) return 0;
    const gather = iommuIotlbGatherInit();
    const unmapped = this.unmapFast(iova, size, gather);
    this.iotlbSync(gather);
    // trace_unmap(orig_iova, size, unmapped)
    if (this.kernel.soc.ctx.tracer.unmap) this.kernel.soc.ctx.tracer.emit('unmap', this.kernel.now, { unit: this.unit, asid: this.asid, iova: hex(iova), size, unmapped });
    return unmapped;
  }

  /** iommu_unmap_fast (__iommu_unmap): unmaps into `gather`; the caller calls iotlbSync(gather). */
  unmapFast(iova: number, size: number, gather: IommuIotlbGather): number {
    if (this.freed) return 0;
    const min = this.pageSizes[0];
    if (!(iova % min === 0 && size % min === 0)) {
      this.kernel.warn('iommu', `unaligned: iova ${hex(iova)} size ${hex(size)} min_pagesz ${hex(min)}`);
      return 0;
    }
    let unmapped = 0;
    // Keep iterating until we either unmap 'size' bytes (or more) or we hit an area that isn't mapped.
    while (unmapped < size) {
      const { pgsize, count } = iommuPgsize(this.pageSizes, iova, iova, size - unmapped);
      const n = this.pgtbl.unmapPages(iova, pgsize, count, gather);
      if (n === 0) break;
      iova += n;
      unmapped += n;
    }
    return unmapped;
  }

  /** iommu_iova_to_phys: the physical address `iova` maps to, or null when unmapped (Linux: 0). */
  iovaToPhys(iova: number): number | null {
    if (this.freed) return null;
    return this.pgtbl.iovaToPhys(iova);
  }

  /** iommu_iotlb_sync: invalidates the gathered range (if any), then re-inits `gather`. */
  iotlbSync(gather: IommuIotlbGather): void {
    if (gather.pgsize !== 0) this.tlbInvRange(gather.start, gather.end - gather.start + 1);
    iommuIotlbGatherInit(gather);
  }

  /** iommu_iotlb_gather_add_page (tlb_add_page): a page disjoint from the range, or of another size, syncs first. */
  private tlbAddPage(gather: IommuIotlbGather | null, iova: number, granule: number): void {
    if (gather === null) {
      this.tlbInvRange(iova, granule);
      return;
    }
    if ((gather.pgsize !== 0 && gather.pgsize !== granule) || iommuIotlbGatherIsDisjoint(gather, iova, granule)) this.iotlbSync(gather);
    gather.pgsize = granule;
    iommuIotlbGatherAddRange(gather, iova, granule);
  }

  /** Frees the page tables (free_io_pgtable_ops: a full flush, then every table page). */
  protected freeTables(): void {
    if (this.freed) return;
    this.pgtbl.free();
    this.freed = true;
  }
}
