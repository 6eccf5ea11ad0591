/**
 * iommu-dma: the DMA API on an IOMMU domain, Linux drivers/iommu/dma-iommu.c (v6.x:
 * iommu_dma_init_domain, dma_info_to_prot, __iommu_dma_map, __iommu_dma_unmap,
 * iommu_dma_map_page, iommu_dma_map_sg with __finalise_sg / __invalidate_sg,
 * iommu_dma_unmap_sg, iommu_dma_alloc, iommu_dma_free and the syncs). Every device
 * address is an IOVA from this domain's IovaDomain (iova.ts); the IOMMU translates it.
 *
 * Invalidation policy (iommu.strict):
 * - strict: an unmap clears the PTEs, invalidates the unmapped range in the IOTLB and
 *   waits (INVALIDATE-RANGE + SYNC), then frees the IOVA at once;
 * - lazy: the PTEs are cleared with `gather.queued` set, so the io-pgtable sends no
 *   invalidation, and the IOVA goes on the flush queue (flushQueue.ts), which invalidates
 *   the whole IOTLB of the domain when its ring is full or 10 ms after the first queued
 *   entry, and only then lets the IOVA be reused. Until that flush the device can still
 *   reach the unmapped pages through its cached translations (the IOMMU's
 *   `stale_tlb_hits` counts it when its oracle is on).
 *
 * Differences from Linux, and why:
 * - Unmapping an address that is not mapped, or with a size other than the mapping's,
 *   warns (`kernel.warn('iommu-dma', ...)`) and does nothing. Linux WARNs about the
 *   short unmap and frees the IOVA anyway, which can hand a live range out twice; here
 *   bad input must not corrupt state, so every live mapping is recorded (IOVA -> size).
 * - iommu_dma_alloc: one physically contiguous block from the page allocator (the
 *   iommu_dma_alloc_pages / DMA_ATTR_FORCE_CONTIGUOUS path), not pages remapped into a
 *   vmalloc area: the kernel CPU's uncached alias (kernelCpu.ts) is a linear alias of
 *   physical memory, so the CPU address needs contiguous pages. The pages are zeroed
 *   through the linear map and, for non-coherent devices, flushed from the CPU cache
 *   (arch_dma_prep_coherent) also when the CPU address is the cached one
 *   (DMA_ATTR_NON_CONSISTENT), so no dirty line can later land on what the device wrote.
 * - The device's struct device_dma_parameters are Linux's defaults: max segment size
 *   64 KiB (dma_get_max_seg_size), segment boundary 4 GiB - 1 (dma_get_seg_boundary).
 * - No MSI cookie, no swiotlb bouncing of untrusted devices, no P2PDMA, no per-device
 *   "no 32-bit IOVA" flag (see iommuDmaAllocIova).
 * - Stats are per device (`<device>` is the device on the domain's stream at
 *   construction, else `asid<N>`):
 *     kernel.<device>.iommu_dma.maps                successful maps (page, sg, alloc)
 *     kernel.<device>.iommu_dma.unmaps              unmaps done
 *     kernel.<device>.iommu_dma.iova_allocs_failed  maps refused for lack of IOVA space
 *   plus the flush queue's fq_* counters (registered in strict mode too, where they stay 0).
 */
import { hex } from '../../sim/engine/addr';
import { sharedCounter } from '../iommu/kstats';
import type { IommuDomain } from '../iommu/iommuDomain';
import { IOMMU_CACHE, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE, iommuIotlbGatherInit, type IommuIotlbGather } from '../iommu/ioPgtableArm';
import type { Counter } from '../../sim/engine/stats';
import { archSyncDmaForCpu, archSyncDmaForDevice } from './arch';
import type { DmaDevice, DmaEnv } from './device';
import { flushQueueCounters, IovaFlushQueue } from './flushQueue';
import { iommuDmaAllocIova, iommuDmaFreeIova, IovaDomain } from './iova';
import {
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_PRIVILEGED,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  sgPhys,
  type DmaCoherentBuffer,
  type DmaDataDirection,
  type ScatterlistEntry,
} from './types';
import type { DmaMapOps } from './device';

/** IOVA granule with a 4 KiB-granule domain; in general the domain's smallest page (__ffs(domain->pgsize_bitmap)). */
export const IOMMU_DMA_GRANULE = 4096;
/** DMA_BIT_MASK(32). */
const DMA_BIT_MASK_32 = 2 ** 32 - 1;
/** dma_get_max_seg_size() default: 64 KiB. */
export const DMA_MAX_SEG_SIZE = 0x1_0000;
/** dma_get_seg_boundary() default: a DMA segment never crosses a 4 GiB boundary. */
export const DMA_SEG_BOUNDARY = 2 ** 32 - 1;

const PAGE_SIZE = 4096;

export interface IommuDmaOptions {
  /** iommu.strict: invalidate on every unmap (true) or batch through the flush queue (false). */
  strict: boolean;
  /** IOVA ranges iommu-dma must never hand out (iova_reserve_iommu_regions), e.g. a VCM window on the same domain. */
  reserved: Array<{ base: number; size: number }>;
}

/**
 * dma_info_to_prot(dir, coherent, attrs): IOMMU prot flags for a mapping. TO_DEVICE:
 * the device only reads; FROM_DEVICE: only writes; BIDIRECTIONAL: both. IOMMU_CACHE for
 * IO-coherent devices (memory attributes are not modelled; recorded only), IOMMU_PRIV
 * with DMA_ATTR_PRIVILEGED. DMA_NONE gives 0, which iommu_map refuses.
 */
export function dmaInfoToProt(dir: DmaDataDirection, coherent: boolean, attrs: number): number {
  let prot = coherent ? IOMMU_CACHE : 0;
  if ((attrs & DMA_ATTR_PRIVILEGED) !== 0) prot |= IOMMU_PRIV;
  switch (dir) {
    case DMA_BIDIRECTIONAL: return prot | IOMMU_READ | IOMMU_WRITE;
    case DMA_TO_DEVICE: return prot | IOMMU_READ;
    case DMA_FROM_DEVICE: return prot | IOMMU_WRITE;
    default: return 0;
  }
}

/** A live iommu_dma_alloc buffer. */
interface CoherentRecord {
  pa: number;
  order: number;
  size: number;
  cpuAddr: number;
}

/**
 * struct dma_map_ops iommu_dma_ops for the devices of one IOMMU domain, with the domain's
 * DMA cookie (its IovaDomain and, in lazy mode, its flush queue).
 */
export class IommuDmaOps implements DmaMapOps {
  readonly name = 'iommu-dma';
  /** The cookie's IOVA space: granule the domain's smallest page (4, 16 or 64 KiB), from max(1, aperture start). */
  readonly iovad: IovaDomain;
  /** The flush queue (lazy mode), or null (strict). */
  readonly flushQueue: IovaFlushQueue | null;
  /** Last byte of the domain aperture: 2^ias - 1 (48-bit IOVAs for LPAE). */
  readonly apertureEnd: number;
  /** Stats prefix: `kernel.<device>.iommu_dma`. */
  readonly statsPrefix: string;
  private readonly env: DmaEnv;
  private readonly domain: IommuDomain;
  private readonly granule: number;
  /** Live mappings: granule-aligned IOVA -> mapped bytes (granule multiple). */
  private readonly live = new Map<number, number>();
  private readonly coherentBufs = new Map<number, CoherentRecord>();
  private readonly gather: IommuIotlbGather = iommuIotlbGatherInit();
  private readonly sMaps: Counter;
  private readonly sUnmaps: Counter;
  private readonly sAllocFailed: Counter;
  // Scratch for mapSg: per entry, its offset into its first granule and its IOVA length.
  private sgOff = new Float64Array(16);
  private sgLen = new Float64Array(16);

  /**
   * iommu_get_dma_cookie + iommu_dma_init_domain for `domain` (already attached to its
   * device's stream), then reserve_iova of each `reserved` range. A reserved range that
   * cannot be reserved warns.
   */
  constructor(env: DmaEnv, domain: IommuDomain, opts: IommuDmaOptions) {
    this.env = env;
    this.domain = domain;
    // iommu_dma_init_domain: order = __ffs(domain->pgsize_bitmap), init_iova_domain(iovad, 1UL << order, ...).
    this.granule = domain.pageSizes[0];
    this.apertureEnd = 2 ** domain.pgtbl.cfg.ias - 1;
    // The aperture starts at 0; IOVA 0 is never handed out (base_pfn = max(1, ...)).
    this.iovad = new IovaDomain(this.granule, 1, { warn: (m) => env.kernel.warn('iova', m) });
    for (const r of opts.reserved) {
      const ok = r.size > 0 && Number.isSafeInteger(r.base) && Number.isSafeInteger(r.size)
        && this.iovad.reserveIova(Math.floor(r.base / this.granule), Math.floor((r.base + r.size - 1) / this.granule));
      if (!ok) env.kernel.warn('iommu-dma', `cannot reserve IOVA range ${hex(r.base)} + ${hex(r.size)}`);
    }
    const streams = domain.attachedStreams;
    const dev = streams.length === 1 ? domain.iommu.streamDevice(streams[0]) : null;
    this.statsPrefix = `kernel.${dev ?? `asid${domain.asid}`}.iommu_dma`;
    const stats = env.kernel.soc.ctx.stats;
    this.sMaps = sharedCounter(stats, `${this.statsPrefix}.maps`, 'iommu-dma mappings made (map_page, map_sg, alloc)');
    this.sUnmaps = sharedCounter(stats, `${this.statsPrefix}.unmaps`, 'iommu-dma mappings removed');
    this.sAllocFailed = sharedCounter(stats, `${this.statsPrefix}.iova_allocs_failed`, 'iommu-dma maps that found no IOVA space below the device mask');
    this.flushQueue = opts.strict ? null : new IovaFlushQueue(env.kernel.soc.ctx, this.iovad, domain, this.statsPrefix);
    if (opts.strict) flushQueueCounters(stats, this.statsPrefix); // the same stat names in both modes (zeros)
  }

  /** Live streaming and coherent mappings (IOVA ranges mapped and not yet unmapped). */
  get liveMappings(): number {
    return this.live.size;
  }

  // ---- the core: __iommu_dma_map / __iommu_dma_unmap ----

  /**
   * __iommu_dma_map: an IOVA below min(dmaLimit, aperture) for [phys, phys + size)
   * rounded out to granules, mapped with `prot`. Returns the IOVA plus phys's offset in
   * its granule, or DMA_MAPPING_ERROR (no IOVA space: nothing was taken; a map error:
   * the IOVA is freed again).
   */
  private iommuDmaMap(phys: number, size: number, prot: number, dmaLimit: number): number {
    const g = this.granule;
    const off = phys % g;
    const len = Math.ceil((size + off) / g) * g;
    const iova = iommuDmaAllocIova(this.iovad, len, Math.min(dmaLimit, this.apertureEnd));
    if (iova === null) {
      this.sAllocFailed.value++;
      return DMA_MAPPING_ERROR;
    }
    if (this.domain.map(iova, phys - off, len, prot) !== 0) {
      iommuDmaFreeIova(this.iovad, iova, len);
      return DMA_MAPPING_ERROR;
    }
    this.live.set(iova, len);
    this.sMaps.value++;
    return iova + off;
  }

  /**
   * The checks before __iommu_dma_unmap: the granule-aligned IOVA of `dmaAddr` when it
   * starts a live mapping of exactly `size` bytes (rounded out to granules), else -1
   * after a warning naming `call`.
   */
  private liveMapping(dev: DmaDevice, dmaAddr: number, size: number, call: string): number {
    const g = this.granule;
    if (!Number.isSafeInteger(dmaAddr) || dmaAddr < 0 || !Number.isSafeInteger(size) || size < 1) {
      this.env.kernel.warn('iommu-dma', `${call}: ${dev.name}: bad DMA address ${dmaAddr} or size ${size}`);
      return -1;
    }
    const off = dmaAddr % g;
    const iova = dmaAddr - off;
    const mapped = this.live.get(iova);
    if (mapped === undefined) {
      this.env.kernel.warn('iommu-dma', `${call}: ${dev.name}: DMA address ${hex(dmaAddr)} is not mapped`);
      return -1;
    }
    const len = Math.ceil((size + off) / g) * g;
    if (len !== mapped) {
      this.env.kernel.warn('iommu-dma', `${call}: ${dev.name}: unmapping ${hex(dmaAddr)} with size ${size}, but ${mapped} bytes are mapped there`);
      return -1;
    }
    return iova;
  }

  /**
   * __iommu_dma_unmap of the live mapping at `iova` (from liveMapping): clear the PTEs;
   * strict: invalidate the range and wait, free the IOVA; lazy: no invalidation, queue
   * the IOVA for the flush queue.
   */
  private iommuDmaUnmap(iova: number): void {
    const len = this.live.get(iova)!;
    this.live.delete(iova);
    const gather = iommuIotlbGatherInit(this.gather);
    const fq = this.flushQueue;
    if (fq) gather.queued = true;
    const unmapped = this.domain.unmapFast(iova, len, gather);
    if (unmapped !== len) this.env.kernel.warn('iommu-dma', `__iommu_dma_unmap: unmapped ${unmapped} of ${len} bytes at ${hex(iova)}`);
    // trace_unmap, which Linux emits in __iommu_unmap (PagingDomain.unmapFast does not).
    const tracer = this.env.kernel.soc.ctx.tracer;
    if (tracer.unmap) tracer.emit('unmap', this.env.kernel.now, { unit: this.domain.unit, asid: this.domain.asid, iova: hex(iova), size: len, unmapped });
    if (fq) {
      fq.queueIova(iova, len / this.granule);
    } else {
      this.domain.iotlbSync(gather);
      iommuDmaFreeIova(this.iovad, iova, len);
    }
    this.sUnmaps.value++;
  }

  // ---- streaming mappings of one buffer ----

  /** iommu_dma_map_page: cache clean for the device (unless coherent or SKIP_CPU_SYNC), then map below the streaming mask. */
  mapPage(dev: DmaDevice, phys: number, size: number, dir: DmaDataDirection, attrs: number): number {
    if (!Number.isSafeInteger(phys) || phys < 0 || !Number.isSafeInteger(size) || size < 1) {
      this.env.kernel.warn('iommu-dma', `dma_map_page: ${dev.name}: bad physical address ${phys} or size ${size}`);
      return DMA_MAPPING_ERROR;
    }
    if (!dev.coherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) archSyncDmaForDevice(dev, phys, size, dir);
    return this.iommuDmaMap(phys, size, dmaInfoToProt(dir, dev.coherent, attrs), dev.streamingLimit);
  }

  /** iommu_dma_unmap_page: sync for the CPU (unless coherent or SKIP_CPU_SYNC), then __iommu_dma_unmap. */
  unmapPage(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
    const iova = this.liveMapping(dev, addr, size, 'dma_unmap_page');
    if (iova < 0) return;
    if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) this.syncSingleForCpu(dev, addr, size, dir);
    this.iommuDmaUnmap(iova);
  }

  // ---- scatterlists ----

  /**
   * iommu_dma_map_sg: the whole list in ONE IOVA range. Each entry is rounded out to
   * granules and laid out after the previous one (padded, if needed, so that no entry
   * crosses a segment boundary); physically contiguous runs are mapped with one
   * iommu_map each. __finalise_sg then merges IOVA-contiguous entries into DMA segments:
   * an entry joins the current segment if the segment ended on a granule boundary, the
   * entry starts on one, it does not start at a segment boundary and the segment stays
   * within DMA_MAX_SEG_SIZE. Returns the number of segments (in the first entries'
   * dmaAddress/dmaLength; the rest get DMA_MAPPING_ERROR/0), or 0 with every entry
   * invalidated.
   */
  mapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection, attrs: number): number {
    for (let i = 0; i < nents; i++) {
      const s = sgl[i];
      if (!Number.isSafeInteger(s.page) || s.page < 0 || !Number.isSafeInteger(s.offset) || s.offset < 0 || !Number.isSafeInteger(s.length) || s.length < 1) {
        this.env.kernel.warn('iommu-dma', `dma_map_sg: ${dev.name}: entry ${i} has bad page ${s.page}, offset ${s.offset} or length ${s.length}`);
        invalidateSg(sgl, nents);
        return 0;
      }
    }
    if (!dev.coherent && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) this.syncSgForDevice(dev, sgl, nents, dir);
    const g = this.granule;
    if (this.sgOff.length < nents) {
      this.sgOff = new Float64Array(nents);
      this.sgLen = new Float64Array(nents);
    }
    const offs = this.sgOff;
    const lens = this.sgLen;
    const boundary = DMA_SEG_BOUNDARY + 1;
    let iovaLen = 0;
    for (let i = 0; i < nents; i++) {
      const s = sgl[i];
      const sOff = s.offset % g;
      const sLen = Math.ceil((s.length + sOff) / g) * g;
      // Pad the previous entry up to the boundary if this one would cross it.
      const pad = (boundary - (iovaLen % boundary)) % boundary;
      if (pad !== 0 && pad < sLen - 1) {
        lens[i - 1] += pad;
        iovaLen += pad;
      }
      offs[i] = sOff;
      lens[i] = sLen;
      iovaLen += sLen;
    }
    const iova = iommuDmaAllocIova(this.iovad, iovaLen, Math.min(dev.streamingLimit, this.apertureEnd));
    if (iova === null) {
      this.sAllocFailed.value++;
      invalidateSg(sgl, nents);
      return 0;
    }
    const prot = dmaInfoToProt(dir, dev.coherent, attrs);
    // iommu_map_sg: one iommu_map per physically contiguous run.
    let mapped = 0;
    let runPhys = 0;
    let runLen = 0;
    let ret = 0;
    for (let i = 0; i <= nents && ret === 0; i++) {
      const phys = i < nents ? sgl[i].page + sgl[i].offset - offs[i] : -1;
      if (runLen > 0 && phys === runPhys + runLen) {
        runLen += lens[i];
        continue;
      }
      if (runLen > 0) {
        ret = this.domain.map(iova + mapped, runPhys, runLen, prot);
        if (ret === 0) mapped += runLen;
      }
      runPhys = phys;
      runLen = i < nents ? lens[i] : 0;
    }
    if (ret !== 0) {
      if (mapped > 0) this.domain.unmap(iova, mapped);
      iommuDmaFreeIova(this.iovad, iova, iovaLen);
      invalidateSg(sgl, nents);
      return 0;
    }
    this.live.set(iova, iovaLen);
    this.sMaps.value++;
    return finaliseSg(sgl, nents, iova, offs, lens);
  }

  /**
   * iommu_dma_unmap_sg: sync for the CPU, then __iommu_dma_unmap of the one IOVA range,
   * from the first segment's start to the last segment's end. `nents` as passed to
   * mapSg.
   */
  unmapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection, attrs: number): void {
    let end = -1;
    for (let i = 0; i < nents && sgl[i].dmaLength !== 0; i++) end = sgl[i].dmaAddress + sgl[i].dmaLength;
    if (end < 0) {
      this.env.kernel.warn('iommu-dma', `dma_unmap_sg: ${dev.name}: the scatterlist is not mapped`);
      return;
    }
    const start = sgl[0].dmaAddress;
    const iova = this.liveMapping(dev, start, end - start, 'dma_unmap_sg');
    if (iova < 0) return;
    if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) this.syncSgForCpu(dev, sgl, nents, dir);
    this.iommuDmaUnmap(iova);
  }

  // ---- syncs ----

  /** iommu_dma_sync_single_for_cpu: invalidate (unless TO_DEVICE) the physical range behind `addr`. */
  syncSingleForCpu(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection): void {
    if (dev.coherent) return;
    const phys = this.physOf(dev, addr, 'dma_sync_single_for_cpu');
    if (phys !== null) archSyncDmaForCpu(dev, phys, size, dir);
  }

  /** iommu_dma_sync_single_for_device: clean the physical range behind `addr`. */
  syncSingleForDevice(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection): void {
    if (dev.coherent) return;
    const phys = this.physOf(dev, addr, 'dma_sync_single_for_device');
    if (phys !== null) archSyncDmaForDevice(dev, phys, size, dir);
  }

  /** iommu_dma_sync_sg_for_cpu: per entry, on its physical buffer (sg_phys), as Linux does. */
  syncSgForCpu(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection): void {
    if (dev.coherent) return;
    for (let i = 0; i < nents; i++) archSyncDmaForCpu(dev, sgPhys(sgl[i]), sgl[i].length, dir);
  }

  /** iommu_dma_sync_sg_for_device. */
  syncSgForDevice(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection): void {
    if (dev.coherent) return;
    for (let i = 0; i < nents; i++) archSyncDmaForDevice(dev, sgPhys(sgl[i]), sgl[i].length, dir);
  }

  /** iommu_iova_to_phys, with a warning when `addr` is not mapped (Linux would sync physical address 0). */
  private physOf(dev: DmaDevice, addr: number, call: string): number | null {
    const phys = this.domain.iovaToPhys(addr);
    if (phys === null) this.env.kernel.warn('iommu-dma', `${call}: ${dev.name}: DMA address ${hex(addr)} is not mapped`);
    return phys;
  }

  // ---- coherent allocations ----

  /**
   * iommu_dma_alloc: `size` (page-rounded) bytes of zeroed pages from anywhere in DRAM
   * (the IOMMU translates), mapped DMA_BIDIRECTIONAL at an IOVA below the coherent mask.
   * CPU address: the linear map for IO-coherent devices and DMA_ATTR_NON_CONSISTENT,
   * else the uncached alias. Null when pages or IOVA space run out.
   */
  alloc(dev: DmaDevice, size: number, _gfp: number, attrs: number): DmaCoherentBuffer | null {
    if (!Number.isSafeInteger(size) || size < 1) {
      this.env.kernel.warn('iommu-dma', `dma_alloc: ${dev.name}: bad size ${size}`);
      return null;
    }
    const cpu = this.env.cpu;
    const order = Math.max(0, Math.ceil(Math.log2(Math.ceil(size / PAGE_SIZE))));
    const pa = this.env.pages.allocPages(order);
    if (pa === null) return null;
    // __GFP_ZERO through the linear map, then arch_dma_prep_coherent.
    cpu.memset(cpu.physToVirt(pa), 0, size);
    if (!dev.coherent) cpu.flushRange(pa, size);
    const handle = this.iommuDmaMap(pa, size, dmaInfoToProt(DMA_BIDIRECTIONAL, dev.coherent, attrs), dev.coherentLimit);
    if (handle === DMA_MAPPING_ERROR) {
      this.env.pages.freePages(pa, order);
      return null;
    }
    const cached = dev.coherent || (attrs & DMA_ATTR_NON_CONSISTENT) !== 0;
    const cpuAddr = cached ? cpu.physToVirt(pa) : cpu.uncachedVirt(pa);
    this.coherentBufs.set(handle, { pa, order, size, cpuAddr });
    return { cpuAddr, dmaHandle: handle };
  }

  /**
   * iommu_dma_free: unmap (strict or through the flush queue) and free the pages. An
   * allocation that does not exist, or a CPU address or size that is not the
   * allocation's, warns and frees nothing.
   */
  free(dev: DmaDevice, size: number, cpuAddr: number, dmaHandle: number, _attrs: number): void {
    const rec = this.coherentBufs.get(dmaHandle);
    if (!rec) {
      this.env.kernel.warn('iommu-dma', `dma_free: ${dev.name}: no coherent allocation at DMA address ${hex(dmaHandle)}`);
      return;
    }
    if (rec.cpuAddr !== cpuAddr || rec.size !== size) {
      this.env.kernel.warn('iommu-dma', `dma_free: ${dev.name}: allocation at ${hex(dmaHandle)} is ${rec.size} bytes at CPU address ${hex(rec.cpuAddr)}, freed as ${size} bytes at ${hex(cpuAddr)}`);
      return;
    }
    const iova = this.liveMapping(dev, dmaHandle, size, 'dma_free');
    if (iova < 0) return;
    this.coherentBufs.delete(dmaHandle);
    this.iommuDmaUnmap(iova);
    this.env.pages.freePages(rec.pa, rec.order);
  }

  // ---- masks ----

  /**
   * dma_supported: iommu-dma accepts every mask that reaches at least one IOVA granule
   * of the aperture above its start (IOVA 0 is never used).
   */
  dmaSupported(_dev: DmaDevice, mask: number): boolean {
    return mask >= (this.iovad.startPfn + 1) * this.granule - 1;
  }

  /**
   * dma_get_required_mask for a device behind an IOMMU (kernel/dma/mapping.c:
   * `if (use_dma_iommu(dev)) return DMA_BIT_MASK(32);`): iommu_dma_alloc_iova tries below
   * 4 GiB first whatever the mask, so 32 bits is what the IOVA allocator needs, not the
   * 2^ias aperture. Clipped to the device's DMA mask and to the aperture, below which every
   * IOVA it gets lies (Linux returns 32 bits even for a narrower device).
   */
  getRequiredMask(dev: DmaDevice): number {
    return Math.min(DMA_BIT_MASK_32, dev.dmaMask, this.apertureEnd);
  }
}

/**
 * __finalise_sg: the DMA segments of a list laid out from `iova` (see mapSg). `offs[i]`
 * is entry i's offset in its first granule, `lens[i]` its IOVA length (granules, with
 * padding). Returns the number of segments.
 */
function finaliseSg(sgl: ScatterlistEntry[], nents: number, iova: number, offs: Float64Array, lens: Float64Array): number {
  const boundary = DMA_SEG_BOUNDARY + 1;
  let cur = 0;
  let curLen = 0;
  let count = 0;
  let dmaAddr = iova;
  for (let i = 0; i < nents; i++) {
    const s = sgl[i];
    const sIovaOff = offs[i];
    const sLength = s.length;
    const sIovaLen = lens[i];
    s.dmaAddress = DMA_MAPPING_ERROR;
    s.dmaLength = 0;
    if (curLen !== 0 && sIovaOff === 0 && dmaAddr % boundary !== 0 && DMA_MAX_SEG_SIZE - curLen >= sLength) {
      // ...then concatenate it with the previous one
      curLen += sLength;
    } else {
      // Otherwise start the next output segment
      if (i > 0) cur++;
      curLen = sLength;
      count++;
      sgl[cur].dmaAddress = dmaAddr + sIovaOff;
    }
    sgl[cur].dmaLength = curLen;
    dmaAddr += sIovaLen;
    // An entry that does not end on a granule boundary ends its segment.
    if (sLength + sIovaOff < sIovaLen) curLen = 0;
  }
  return count;
}

/** __invalidate_sg: a failed map leaves every entry's DMA fields invalid. */
function invalidateSg(sgl: ScatterlistEntry[], nents: number): void {
  for (let i = 0; i < nents; i++) {
    sgl[i].dmaAddress = DMA_MAPPING_ERROR;
    sgl[i].dmaLength = 0;
  }
}
