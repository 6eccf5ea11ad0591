/**
 * dma-direct (kernel/dma/direct.c, with the arm64 cache maintenance of arch.ts): the DMA
 * ops of devices without an IOMMU. The DMA address of a buffer is its physical address
 * (no bus offset on this platform). A streaming mapping the device cannot reach
 * (dma_capable: the last byte above min(dma mask, bus limit)) is bounced through swiotlb.
 * Coherent allocations come from the contiguous region (CMA) or the page allocator,
 * within the coherent mask.
 *
 * What is checked here that Linux leaves to dma-debug or to luck (all warn under
 * 'dma-direct' and change nothing): a free that does not match a live allocation
 * (handle, device, size and CPU address), an unmap or sync of DMA_MAPPING_ERROR, a
 * map of size < 1; and, through swiotlb, an unmap of a bounce address that is not a live
 * mapping with that size.
 *
 * Differences from Linux:
 * - The zones (ZONE_DMA/DMA32 retries of __dma_direct_alloc_pages) are replaced by CMA:
 *   a page from the page allocator above the coherent limit is freed and the request
 *   goes to CMA, which sits at the bottom of DRAM. GFP_ATOMIC requests may use CMA too
 *   (there is no atomic pool; nothing here sleeps).
 * - The CPU address of a coherent allocation is the uncached alias of the linear map
 *   (kernelCpu.ts) instead of a vmap'ed remap (dma_common_contiguous_remap); for
 *   DMA_ATTR_WRITE_COMBINE it is uncached even for an IO-coherent device (Linux gives
 *   such devices cached memory whatever the attribute).
 * - dma-direct's unmap does the CPU-side cache maintenance, then swiotlb's unmap copies
 *   the bounce buffer back once (v5.x also copies in dma_direct_sync_single_for_cpu,
 *   so the bytes were copied twice).
 */
import { hex } from '../../sim/engine/addr';
import { archSyncDmaForCpu, archSyncDmaForDevice } from './arch';
import type { DmaDevice, DmaMapOps } from './device';
import { busLimitText, devPrefix, formatPad, type Swiotlb } from './swiotlb';
import {
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_ATTR_WRITE_COMBINE,
  DMA_MAPPING_ERROR,
  type DmaCoherentBuffer,
  type DmaDataDirection,
  type ScatterlistEntry,
} from './types';

const PAGE_SIZE = 4096;
/** CONFIG_CMA_ALIGNMENT: CMA blocks are aligned to at most 2^8 pages (cma_alloc_aligned). */
const CMA_ALIGNMENT = 8;

/** get_order(size): the smallest order whose block holds `size` bytes. */
function getOrder(size: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < size) order++;
  return order;
}

/** One live coherent allocation. */
interface DirectAllocation {
  dev: DmaDevice;
  size: number;
  cpuAddr: number;
  source: 'cma' | 'buddy';
  /** Page order (for the page allocator's free). */
  order: number;
}

/** dma_capable(dev, addr, size): the whole buffer lies at or below min(dma mask, bus limit). */
function dmaCapable(dev: DmaDevice, addr: number, size: number): boolean {
  return addr + size - 1 <= dev.streamingLimit;
}

/** dma_coherent_ok(dev, phys, size): the block lies at or below min(coherent mask, bus limit). */
function dmaCoherentOk(dev: DmaDevice, phys: number, size: number): boolean {
  return phys + size - 1 <= dev.coherentLimit;
}

/** False (with a warning naming `call`) for DMA_MAPPING_ERROR or a non-address: nothing to unmap or sync. */
function validAddr(dev: DmaDevice, addr: number, call: string): boolean {
  if (addr !== DMA_MAPPING_ERROR && Number.isSafeInteger(addr) && addr >= 0) return true;
  dev.env.kernel.warn('dma-direct', `${devPrefix(dev)}${call}: bad DMA address ${hex(addr)}`);
  return false;
}

/**
 * The dma-direct ops. One instance serves every direct-mapped device of a platform;
 * `swiotlb` is the platform's bounce pool, or null (then mappings the device cannot
 * reach fail).
 */
export class DmaDirectOps implements DmaMapOps {
  readonly name = 'dma-direct';
  /** Live coherent allocations by DMA handle. */
  private readonly allocations = new Map<number, DirectAllocation>();

  constructor(readonly swiotlb: Swiotlb | null) {}

  // ---- coherent allocations ----

  /**
   * dma_direct_alloc: `size` (page-rounded) bytes, zeroed, within the coherent limit;
   * null when no memory fits. Multi-page blocks come from CMA first, then the page
   * allocator; single pages from the page allocator, then CMA. The CPU address is the
   * cached linear map for IO-coherent devices and for DMA_ATTR_NON_CONSISTENT (unless
   * DMA_ATTR_WRITE_COMBINE), else the uncached alias, after the range is cleaned and
   * invalidated from the CPU cache (arch_dma_prep_coherent) so that no dirty line of
   * the cached alias is later written back over it.
   */
  alloc(dev: DmaDevice, size: number, _gfp: number, attrs: number): DmaCoherentBuffer | null {
    if (!Number.isSafeInteger(size) || size < 1 || size % PAGE_SIZE !== 0) {
      dev.env.kernel.warn('dma-direct', `${devPrefix(dev)}dma_direct_alloc: size ${size} is not a positive number of pages`);
      return null;
    }
    const order = getOrder(size);
    const block = this.allocPages(dev, size, order);
    if (!block) return null;
    const cpu = dev.env.cpu;
    const cached = (dev.coherent || (attrs & DMA_ATTR_NON_CONSISTENT) !== 0) && (attrs & DMA_ATTR_WRITE_COMBINE) === 0;
    let cpuAddr: number;
    if (cached) {
      cpuAddr = cpu.physToVirt(block.phys);
    } else {
      cpu.flushRange(block.phys, size);
      cpuAddr = cpu.uncachedVirt(block.phys);
    }
    cpu.memset(cpuAddr, 0, size);
    this.allocations.set(block.phys, { dev, size, cpuAddr, source: block.source, order });
    return { cpuAddr, dmaHandle: block.phys };
  }

  /**
   * dma_direct_free: returns an allocation to where it came from. `dmaHandle`, `size`
   * (page-rounded), `cpuAddr` and `dev` must be those of a live allocation; otherwise
   * it warns and frees nothing.
   */
  free(dev: DmaDevice, size: number, cpuAddr: number, dmaHandle: number, _attrs: number): void {
    const a = this.allocations.get(dmaHandle);
    const why = !a
      ? 'is not a live coherent allocation'
      : a.dev !== dev
        ? `was allocated by ${a.dev.name}`
        : a.size !== size
          ? `was allocated with ${a.size} bytes, freed with ${size}`
          : a.cpuAddr !== cpuAddr
            ? `has CPU address ${hex(a.cpuAddr)}, freed with ${hex(cpuAddr)}`
            : null;
    if (why !== null || !a) {
      dev.env.kernel.warn('dma-direct', `${devPrefix(dev)}dma_direct_free: handle ${hex(dmaHandle)} ${why}; nothing freed`);
      return;
    }
    this.allocations.delete(dmaHandle);
    if (a.source === 'cma') dev.env.cma.release(dmaHandle, size);
    else dev.env.pages.freePages(dmaHandle, a.order);
  }

  /** __dma_direct_alloc_pages: a block within the coherent limit, or null. */
  private allocPages(dev: DmaDevice, size: number, order: number): { phys: number; source: 'cma' | 'buddy' } | null {
    const { cma, pages } = dev.env;
    const fromCma = (): number | null => {
      const pa = cma.alloc(size, Math.min(order, CMA_ALIGNMENT));
      if (pa === null) return null;
      if (dmaCoherentOk(dev, pa, size)) return pa;
      cma.release(pa, size);
      return null;
    };
    // dma_alloc_contiguous serves multi-page requests only.
    if (size > PAGE_SIZE) {
      const pa = fromCma();
      if (pa !== null) return { phys: pa, source: 'cma' };
    }
    const pa = pages.allocPages(order);
    if (pa !== null) {
      if (dmaCoherentOk(dev, pa, size)) return { phys: pa, source: 'buddy' };
      pages.freePages(pa, order);
    }
    if (size <= PAGE_SIZE) {
      const low = fromCma();
      if (low !== null) return { phys: low, source: 'cma' };
    }
    return null;
  }

  // ---- streaming mappings ----

  /**
   * dma_direct_map_page: the physical address when the device reaches the whole buffer
   * (cleaned from the CPU cache unless DMA_ATTR_SKIP_CPU_SYNC), else a swiotlb bounce
   * buffer (swiotlb_map). Without swiotlb: DMA_MAPPING_ERROR and Linux's "DMA addr ...
   * overflow" warning.
   */
  mapPage(dev: DmaDevice, phys: number, size: number, dir: DmaDataDirection, attrs: number): number {
    if (!Number.isSafeInteger(size) || size < 1 || !Number.isSafeInteger(phys) || phys < 0) {
      dev.env.kernel.warn('dma-direct', `${devPrefix(dev)}dma_direct_map_page: bad buffer ${hex(phys)} size ${size}`);
      return DMA_MAPPING_ERROR;
    }
    if (!dmaCapable(dev, phys, size)) {
      if (this.swiotlb) return this.swiotlb.map(dev, phys, size, dir, attrs);
      dev.env.kernel.warn(
        'dma-direct',
        `${devPrefix(dev)}DMA addr ${formatPad(phys)}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit ${busLimitText(dev)}).`,
      );
      return DMA_MAPPING_ERROR;
    }
    if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) archSyncDmaForDevice(dev, phys, size, dir);
    return phys;
  }

  /**
   * dma_direct_unmap_page: the CPU-side cache maintenance (unless
   * DMA_ATTR_SKIP_CPU_SYNC), then, for a bounce buffer, swiotlb's unmap (which copies
   * back). A bounce address that is not a live mapping of `size` bytes warns and is left
   * alone, as is DMA_MAPPING_ERROR.
   */
  unmapPage(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
    if (!validAddr(dev, addr, 'dma_direct_unmap_page')) return;
    const tlb = this.swiotlb && this.swiotlb.isSwiotlbBuffer(addr) ? this.swiotlb : null;
    if (tlb && !tlb.checkUnmap(dev, addr, size, 'dma_direct_unmap_page')) return;
    if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) archSyncDmaForCpu(dev, addr, size, dir);
    tlb?.unmapSingle(dev, addr, size, dir, attrs);
  }

  /** dma_direct_sync_single_for_cpu: invalidate, then copy a bounce buffer back. */
  syncSingleForCpu(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection): void {
    if (!validAddr(dev, addr, 'dma_direct_sync_single_for_cpu')) return;
    archSyncDmaForCpu(dev, addr, size, dir);
    if (this.swiotlb?.isSwiotlbBuffer(addr)) this.swiotlb.syncSingle(dev, addr, size, dir, 'cpu');
  }

  /** dma_direct_sync_single_for_device: copy into a bounce buffer, then clean. */
  syncSingleForDevice(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection): void {
    if (!validAddr(dev, addr, 'dma_direct_sync_single_for_device')) return;
    if (this.swiotlb?.isSwiotlbBuffer(addr)) this.swiotlb.syncSingle(dev, addr, size, dir, 'device');
    archSyncDmaForDevice(dev, addr, size, dir);
  }

  /**
   * dma_direct_map_sg: each entry mapped on its own (dma-direct never merges), so it
   * returns nents; when one fails, the entries mapped so far are unmapped without syncs
   * and it returns 0.
   */
  mapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection, attrs: number): number {
    for (let i = 0; i < nents; i++) {
      const sg = sgl[i];
      const addr = this.mapPage(dev, sg.page + sg.offset, sg.length, dir, attrs);
      if (addr === DMA_MAPPING_ERROR) {
        this.unmapSg(dev, sgl, i, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
        return 0;
      }
      sg.dmaAddress = addr;
      sg.dmaLength = sg.length;
    }
    return nents;
  }

  /** dma_direct_unmap_sg. */
  unmapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection, attrs: number): void {
    for (let i = 0; i < nents; i++) this.unmapPage(dev, sgl[i].dmaAddress, sgl[i].dmaLength, dir, attrs);
  }

  /** dma_direct_sync_sg_for_cpu. */
  syncSgForCpu(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection): void {
    for (let i = 0; i < nents; i++) this.syncSingleForCpu(dev, sgl[i].dmaAddress, sgl[i].dmaLength, dir);
  }

  /** dma_direct_sync_sg_for_device. */
  syncSgForDevice(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection): void {
    for (let i = 0; i < nents; i++) this.syncSingleForDevice(dev, sgl[i].dmaAddress, sgl[i].dmaLength, dir);
  }

  // ---- masks ----

  /**
   * dma_direct_supported / swiotlb_dma_supported: `mask` must reach the lowest memory
   * the device may be handed: the end of the swiotlb pool when there is one (bounced
   * mappings land there), else the top of the CMA region (coherent allocations), and
   * in any case the bottom of DRAM.
   */
  dmaSupported(dev: DmaDevice, mask: number): boolean {
    const { cma, pages } = dev.env;
    const needed = this.swiotlb ? this.swiotlb.end - 1 : cma.base + cma.size - 1;
    return mask >= needed && mask >= pages.base;
  }

  /** dma_direct_get_required_mask: the smallest 2^n - 1 covering the top of DRAM. */
  getRequiredMask(dev: DmaDevice): number {
    const top = dev.env.pages.base + dev.env.pages.size - 1;
    let m = 1;
    while (m - 1 < top) m *= 2;
    return m - 1;
  }
}
