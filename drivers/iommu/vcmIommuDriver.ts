/**
 * A VCM hardware MMU driver for an IOMMU domain (include/linux/vcm-drv.h, struct
 * vcm_mmu_driver; Documentation/virtual-contiguous-memory.txt, "Writing a hardware MMU
 * driver"): the VCM MMU wrapper (drivers/vcm/mmu.ts) does reservations, allocation and
 * activation bookkeeping and calls this driver page by page; the driver writes the
 * domain's page tables and invalidates the IOTLB (IommuDomain.map / IommuDomain.unmap).
 *
 * - `orders`: the domain's page sizes as page orders, largest first (SZ_1G | SZ_2M | SZ_4K
 *   → [18, 9, 0]; SZ_512M | SZ_64K → [17, 4, 0]: VCM needs order 0), unless given. Orders that are not a page size of the domain still work:
 *   the domain maps such a page with the largest sizes that fit (iommu_pgsize).
 * - `activatePage(vaddr, paddr, order, vcm)` → IommuDomain.map(vaddr, paddr,
 *   orderSize(order), prot): 0 or its -errno (-EEXIST over an existing mapping, ...).
 * - `deactivatePage(vaddr, paddr, order, vcm)` → IommuDomain.unmap(vaddr, orderSize(order))
 *   (strict: INVALIDATE-RANGE + SYNC before it returns): 0 when the whole page was
 *   unmapped, else -EINVAL.
 * - No `activate`/`deactivate` (so the wrapper uses the page operations) and no
 *   `cleanup`: the domain belongs to whoever created it.
 */

import { Errno } from '../errno';
import { vcmMmuInit, type VcmMmu } from '../vcm/mmu';
import { orderSize, PAGE_SHIFT, type Vcm, type VcmEnv, type VcmMmuDriver } from '../vcm/types';
import { IOMMU_READ, IOMMU_WRITE } from './ioPgtableArm';
import type { PagingDomain } from './pagingDomain';

export interface VcmIommuDriverOptions {
  /** IOMMU_* prot for every page (default IOMMU_READ | IOMMU_WRITE). */
  prot?: number;
  /** Page orders, strictly decreasing, ending in 0 (default: from the domain's page sizes). */
  orders?: readonly number[];
}

export class VcmIommuDriver implements VcmMmuDriver {
  readonly orders: readonly number[];
  readonly prot: number;

  constructor(readonly domain: PagingDomain, opts: VcmIommuDriverOptions = {}) {
    const orders = [...domain.pageSizes].reverse().map((s) => Math.round(Math.log2(s)) - PAGE_SHIFT);
    // VCM allocates in pages of PAGE_SIZE (orders end in 0). A 16K/64K-granule domain has no
    // 4 KiB page: its order-0 pages reach the domain and fail there (-EINVAL, unaligned).
    if (orders[orders.length - 1] !== 0) orders.push(0);
    this.orders = opts.orders ?? orders;
    this.prot = opts.prot ?? (IOMMU_READ | IOMMU_WRITE);
  }

  activatePage(vaddr: number, paddr: number, order: number, _vcm: Vcm): number {
    return this.domain.map(vaddr, paddr, orderSize(order), this.prot);
  }

  deactivatePage(vaddr: number, _paddr: number, order: number, _vcm: Vcm): number {
    const size = orderSize(order);
    return this.domain.unmap(vaddr, size) === size ? 0 : -Errno.EINVAL;
  }
}

/**
 * Creates a VCM context whose bindings live in `domain` (a hardware driver's create
 * function, like vcm_samsung_create): device addresses [start, start + size), pages
 * written through a VcmIommuDriver. Throws KernelError(EINVAL) as vcmMmuInit does.
 */
export function vcmIommuCreate(env: VcmEnv, start: number, size: number, domain: PagingDomain, opts: VcmIommuDriverOptions = {}): VcmMmu {
  return vcmMmuInit({ env, start, size, driver: new VcmIommuDriver(domain, opts) });
}
