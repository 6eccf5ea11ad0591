/**
 * The DMA API (Documentation/DMA-API.txt, the later revision: seeds/004), Parts I and II,
 * on the device's DMA ops (dma-direct or iommu-dma, chosen by the platform). This layer
 * does what include/linux/dma-mapping.h and kernel/dma/mapping.c do around the ops:
 * argument checks, declared coherent memory first, and the dma-debug hooks.
 *
 * Differences from the C signatures, all mechanical:
 * - Two results come back as one object: dmaAllocCoherent returns `{ cpuAddr, dmaHandle }`
 *   or null (C: the CPU pointer, with *dma_handle written).
 * - A `struct page *` is the page's physical address; a `void *` is a kernel virtual
 *   address (the linear map or the uncached alias: kernelCpu.ts).
 * - dma_get_cache_alignment(void) takes any device of the platform (the simulator runs
 *   several platforms in one process, so there is no global to read).
 * - Passing an invalid direction is a BUG_ON in Linux; here it throws a KernelError
 *   (EINVAL) naming the call, as does a scatterlist shorter than `nents`.
 */
import { hex } from '../../sim/engine/addr';
import { Errno, KernelError } from '../errno';
import { archSyncDmaForCpu, archSyncDmaForDevice } from './arch';
import type { DmaDevice, DmaEnv } from './device';
import {
  DMA_ATTR_NON_CONSISTENT,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  GFP_KERNEL,
  validDmaDirection,
  type DeclaredCoherentMemory,
  type DmaCoherentBuffer,
  type DmaDataDirection,
  type ScatterlistEntry,
} from './types';

const PAGE_SIZE = 4096;

function checkDir(dir: number, call: string): asserts dir is DmaDataDirection {
  if (!validDmaDirection(dir)) throw new KernelError('EINVAL', call, `invalid DMA direction ${dir}`);
}

function checkSg(sgl: ScatterlistEntry[], nents: number, call: string): void {
  if (!Number.isInteger(nents) || nents < 1 || nents > sgl.length) {
    throw new KernelError('EINVAL', call, `nents ${nents} with a scatterlist of ${sgl.length} entries`);
  }
}

// ---- Part Ia: large coherent buffers ----

/** The declared region that serves `dev`: its own, or an ancestor's declared with INCLUDES_CHILDREN. */
function declaredFor(dev: DmaDevice): DeclaredCoherentMemory | null {
  if (dev.declaredMemory) return dev.declaredMemory;
  for (let p = dev.parent; p; p = p.parent) {
    if (p.declaredMemory && (p.declaredMemory.flags & DMA_MEMORY_INCLUDES_CHILDREN) !== 0) return p.declaredMemory;
  }
  return null;
}

/** DMA_MEMORY_* flags of dma_declare_coherent_memory (include/linux/dma-mapping.h). */
export const DMA_MEMORY_MAP = 0x01;
export const DMA_MEMORY_IO = 0x02;
export const DMA_MEMORY_INCLUDES_CHILDREN = 0x04;
export const DMA_MEMORY_EXCLUSIVE = 0x08;

/**
 * dma_alloc_attrs: `size` bytes of memory both the CPU and the device may access
 * without syncs (DMA-API.txt Part Ia), or null. From the device's declared region first
 * (dma_declare_coherent_memory), else from the device's DMA ops: page-granular, within
 * the coherent DMA mask. The CPU address is cached for IO-coherent devices and uncached
 * (write-combining) otherwise or with DMA_ATTR_WRITE_COMBINE.
 */
export function dmaAllocAttrs(dev: DmaDevice, size: number, gfp: number, attrs: number): DmaCoherentBuffer | null {
  if (!(size > 0) || !Number.isSafeInteger(size)) {
    dev.env.kernel.warn('dma', `dma_alloc_attrs: ${dev.name}: bad size ${size}`);
    return null;
  }
  const declared = declaredFor(dev);
  if (declared) {
    const r = declared.alloc(size);
    if (r.handled) return r.buf;
  }
  const buf = dev.ops.alloc(dev, Math.ceil(size / PAGE_SIZE) * PAGE_SIZE, gfp, attrs);
  if (!buf) return null;
  const consistent = dev.coherent || (attrs & DMA_ATTR_NON_CONSISTENT) === 0;
  dev.coherentAllocations.set(buf.dmaHandle, { size, cpuAddr: buf.cpuAddr, consistent });
  dev.env.debug?.allocCoherent(dev, size, buf.dmaHandle, buf.cpuAddr, attrs);
  return buf;
}

/** dma_alloc_coherent(dev, size, &dma_handle, gfp). */
export function dmaAllocCoherent(dev: DmaDevice, size: number, gfp: number = GFP_KERNEL): DmaCoherentBuffer | null {
  return dmaAllocAttrs(dev, size, gfp, 0);
}

/**
 * dma_free_attrs: frees a coherent allocation. dev, size and dmaHandle must be those of
 * the allocation and cpuAddr the CPU address it returned; dma-debug reports any
 * mismatch. Memory of a declared region goes back to the region.
 */
export function dmaFreeAttrs(dev: DmaDevice, size: number, cpuAddr: number, dmaHandle: number, attrs: number): void {
  const declared = declaredFor(dev);
  if (declared && declared.release(cpuAddr, size)) return;
  dev.env.debug?.freeCoherent(dev, size, cpuAddr, dmaHandle);
  // A mismatched free is refused by the ops (with a warning): the allocation stays live.
  const rec = dev.coherentAllocations.get(dmaHandle);
  if (rec && rec.cpuAddr === cpuAddr && rec.size === size) dev.coherentAllocations.delete(dmaHandle);
  dev.ops.free(dev, Math.ceil(size / PAGE_SIZE) * PAGE_SIZE, cpuAddr, dmaHandle, attrs);
}

/** dma_free_coherent(dev, size, cpu_addr, dma_handle). */
export function dmaFreeCoherent(dev: DmaDevice, size: number, cpuAddr: number, dmaHandle: number): void {
  dmaFreeAttrs(dev, size, cpuAddr, dmaHandle, 0);
}

// ---- Part Ic: addressing limitations ----

/** dma_supported: 1 if the device can DMA to the memory it needs with `mask`, else 0. Changes nothing. */
export function dmaSupported(dev: DmaDevice, mask: number): number {
  return dev.ops.dmaSupported(dev, mask) ? 1 : 0;
}

/** dma_set_mask: sets the streaming mask if dma_supported; 0, or -EIO. */
export function dmaSetMask(dev: DmaDevice, mask: number): number {
  if (!dev.ops.dmaSupported(dev, mask)) return -Errno.EIO;
  dev.dmaMask = mask;
  return 0;
}

/** dma_set_coherent_mask: sets the mask for coherent allocations; 0, or -EIO. */
export function dmaSetCoherentMask(dev: DmaDevice, mask: number): number {
  if (!dev.ops.dmaSupported(dev, mask)) return -Errno.EIO;
  dev.coherentDmaMask = mask;
  return 0;
}

/** dma_set_mask_and_coherent. */
export function dmaSetMaskAndCoherent(dev: DmaDevice, mask: number): number {
  const rc = dmaSetMask(dev, mask);
  return rc === 0 ? dmaSetCoherentMask(dev, mask) : rc;
}

/** dma_get_required_mask: the smallest mask that covers all memory the platform may hand this device. */
export function dmaGetRequiredMask(dev: DmaDevice): number {
  return dev.ops.getRequiredMask(dev);
}

// ---- Part Id: streaming mappings ----

/**
 * Whether [phys, phys + size) lies in system RAM (the DRAM the page allocator manages);
 * if not, warns and the map call fails with DMA_MAPPING_ERROR (dma_map_sg: 0). Linux
 * trusts the struct page it is given; here a buffer running past RAM would map memory
 * that does not exist, page by page, for as long as its size says (2^40 bytes: hours),
 * so this O(1) check comes before any IOVA, swiotlb or page-table work, as
 * dma_map_resource's pfn_valid check does for the opposite mistake. Sizes that are not
 * positive integers are left to the ops, which warn about them in their own words.
 */
function inRam(dev: DmaDevice, phys: number, size: number, call: string): boolean {
  if (!Number.isSafeInteger(size) || size < 1 || !Number.isSafeInteger(phys) || phys < 0) return true;
  const ram = dev.env.pages;
  if (phys >= ram.base && size <= ram.base + ram.size - phys) return true;
  dev.env.kernel.warn('dma-mapping', `${call}: ${dev.name}: [${hex(phys)}, +${hex(size)}) is not within system RAM [${hex(ram.base)}, ${hex(ram.base + ram.size)})`);
  return false;
}

/** dma_map_page_attrs: maps [page+offset, +size) for the device; a DMA address or DMA_MAPPING_ERROR. */
export function dmaMapPageAttrs(dev: DmaDevice, page: number, offset: number, size: number, dir: DmaDataDirection, attrs: number): number {
  checkDir(dir, 'dma_map_page');
  const phys = page + offset;
  const addr = inRam(dev, phys, size, 'dma_map_page') ? dev.ops.mapPage(dev, phys, size, dir, attrs) : DMA_MAPPING_ERROR;
  dev.env.debug?.mapPage(dev, phys, size, dir, addr, false, attrs);
  return addr;
}

export function dmaMapPage(dev: DmaDevice, page: number, offset: number, size: number, dir: DmaDataDirection): number {
  return dmaMapPageAttrs(dev, page, offset, size, dir, 0);
}

/** dma_map_single_attrs: maps kernel memory at `cpuAddr` (linear map) for the device. */
export function dmaMapSingleAttrs(dev: DmaDevice, cpuAddr: number, size: number, dir: DmaDataDirection, attrs: number): number {
  checkDir(dir, 'dma_map_single');
  const phys = dev.env.cpu.virtToPhys(cpuAddr, 'dma_map_single');
  const addr = inRam(dev, phys, size, 'dma_map_single') ? dev.ops.mapPage(dev, phys, size, dir, attrs) : DMA_MAPPING_ERROR;
  dev.env.debug?.mapPage(dev, phys, size, dir, addr, true, attrs);
  return addr;
}

export function dmaMapSingle(dev: DmaDevice, cpuAddr: number, size: number, dir: DmaDataDirection): number {
  return dmaMapSingleAttrs(dev, cpuAddr, size, dir, 0);
}

/** dma_unmap_page_attrs: all arguments as mapped (and returned). */
export function dmaUnmapPageAttrs(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  checkDir(dir, 'dma_unmap_page');
  dev.ops.unmapPage(dev, addr, size, dir, attrs);
  dev.env.debug?.unmapPage(dev, addr, size, dir, false);
}

export function dmaUnmapPage(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection): void {
  dmaUnmapPageAttrs(dev, addr, size, dir, 0);
}

export function dmaUnmapSingleAttrs(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection, attrs: number): void {
  checkDir(dir, 'dma_unmap_single');
  dev.ops.unmapPage(dev, addr, size, dir, attrs);
  dev.env.debug?.unmapPage(dev, addr, size, dir, true);
}

export function dmaUnmapSingle(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection): void {
  dmaUnmapSingleAttrs(dev, addr, size, dir, 0);
}

/** dma_mapping_error(dev, addr): non-zero when a map call failed. dma-debug notes that the driver checked. */
export function dmaMappingError(dev: DmaDevice, addr: number): number {
  dev.env.debug?.mappingError(dev, addr);
  return addr === DMA_MAPPING_ERROR ? 1 : 0;
}

/**
 * dma_map_sg_attrs: maps the first `nents` entries; returns the number of DMA segments
 * (fewer than nents when entries were merged), each in sg_dma_address/sg_dma_len of the
 * first entries, or 0 on failure.
 */
export function dmaMapSgAttrs(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection, attrs: number): number {
  checkDir(dir, 'dma_map_sg');
  checkSg(sgl, nents, 'dma_map_sg');
  let ok = true;
  for (let i = 0; ok && i < nents; i++) ok = inRam(dev, sgl[i].page + sgl[i].offset, sgl[i].length, 'dma_map_sg');
  const ents = ok ? dev.ops.mapSg(dev, sgl, nents, dir, attrs) : 0;
  dev.env.debug?.mapSg(dev, sgl, nents, ents, dir, attrs);
  return ents;
}

export function dmaMapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection): number {
  return dmaMapSgAttrs(dev, sgl, nents, dir, 0);
}

/** dma_unmap_sg_attrs: `nents` is the number passed to dma_map_sg, not the number it returned. */
export function dmaUnmapSgAttrs(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection, attrs: number): void {
  checkDir(dir, 'dma_unmap_sg');
  checkSg(sgl, nents, 'dma_unmap_sg');
  dev.env.debug?.unmapSg(dev, sgl, nents, dir);
  dev.ops.unmapSg(dev, sgl, nents, dir, attrs);
}

export function dmaUnmapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection): void {
  dmaUnmapSgAttrs(dev, sgl, nents, dir, 0);
}

// ---- syncs ----

/** dma_sync_single_for_cpu: before the CPU reads what the device wrote. */
export function dmaSyncSingleForCpu(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection): void {
  checkDir(dir, 'dma_sync_single_for_cpu');
  dev.ops.syncSingleForCpu(dev, addr, size, dir);
  dev.env.debug?.syncSingle(dev, addr, 0, size, dir, true);
}

/** dma_sync_single_for_device: after the CPU wrote, before the device reads. */
export function dmaSyncSingleForDevice(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection): void {
  checkDir(dir, 'dma_sync_single_for_device');
  dev.ops.syncSingleForDevice(dev, addr, size, dir);
  dev.env.debug?.syncSingle(dev, addr, 0, size, dir, false);
}

/** dma_sync_single_range_for_cpu: a partial sync of [addr+offset, +size). */
export function dmaSyncSingleRangeForCpu(dev: DmaDevice, addr: number, offset: number, size: number, dir: DmaDataDirection): void {
  checkDir(dir, 'dma_sync_single_range_for_cpu');
  dev.ops.syncSingleForCpu(dev, addr + offset, size, dir);
  dev.env.debug?.syncSingle(dev, addr, offset, size, dir, true);
}

export function dmaSyncSingleRangeForDevice(dev: DmaDevice, addr: number, offset: number, size: number, dir: DmaDataDirection): void {
  checkDir(dir, 'dma_sync_single_range_for_device');
  dev.ops.syncSingleForDevice(dev, addr + offset, size, dir);
  dev.env.debug?.syncSingle(dev, addr, offset, size, dir, false);
}

/**
 * dma_sync_single_range (Part II) and dma_sync_single (Part Id): the document's
 * direction-driven sync. DMA_TO_DEVICE syncs for the device (after the CPU wrote),
 * DMA_FROM_DEVICE for the CPU (before it reads), DMA_BIDIRECTIONAL both: for the device,
 * then for the CPU, so no dirty CPU line is dropped.
 */
export function dmaSyncSingleRange(dev: DmaDevice, addr: number, offset: number, size: number, dir: DmaDataDirection): void {
  checkDir(dir, 'dma_sync_single_range');
  if (dir !== DMA_FROM_DEVICE) dmaSyncSingleRangeForDevice(dev, addr, offset, size, dir);
  if (dir !== DMA_TO_DEVICE) dmaSyncSingleRangeForCpu(dev, addr, offset, size, dir);
}

export function dmaSyncSingle(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection): void {
  dmaSyncSingleRange(dev, addr, 0, size, dir);
}

/** dma_sync_sg_for_cpu: `nelems` as passed to dma_map_sg. */
export function dmaSyncSgForCpu(dev: DmaDevice, sgl: ScatterlistEntry[], nelems: number, dir: DmaDataDirection): void {
  checkDir(dir, 'dma_sync_sg_for_cpu');
  checkSg(sgl, nelems, 'dma_sync_sg_for_cpu');
  dev.ops.syncSgForCpu(dev, sgl, nelems, dir);
  dev.env.debug?.syncSg(dev, sgl, nelems, dir, true);
}

export function dmaSyncSgForDevice(dev: DmaDevice, sgl: ScatterlistEntry[], nelems: number, dir: DmaDataDirection): void {
  checkDir(dir, 'dma_sync_sg_for_device');
  checkSg(sgl, nelems, 'dma_sync_sg_for_device');
  dev.ops.syncSgForDevice(dev, sgl, nelems, dir);
  dev.env.debug?.syncSg(dev, sgl, nelems, dir, false);
}

/** dma_sync_sg (Part Id): direction-driven, as dmaSyncSingleRange. */
export function dmaSyncSg(dev: DmaDevice, sgl: ScatterlistEntry[], nelems: number, dir: DmaDataDirection): void {
  checkDir(dir, 'dma_sync_sg');
  if (dir !== DMA_FROM_DEVICE) dmaSyncSgForDevice(dev, sgl, nelems, dir);
  if (dir !== DMA_TO_DEVICE) dmaSyncSgForCpu(dev, sgl, nelems, dir);
}

// ---- Part II: non-consistent memory ----

/**
 * dma_alloc_noncoherent: like dma_alloc_coherent, but the platform may return cacheable
 * memory, which the driver keeps coherent with dmaCacheSync. Here: consistent memory for
 * IO-coherent devices (syncs become no-ops), cacheable linear-map memory otherwise.
 */
export function dmaAllocNoncoherent(dev: DmaDevice, size: number, gfp: number = GFP_KERNEL): DmaCoherentBuffer | null {
  return dmaAllocAttrs(dev, size, gfp, DMA_ATTR_NON_CONSISTENT);
}

export function dmaFreeNoncoherent(dev: DmaDevice, size: number, cpuAddr: number, dmaHandle: number): void {
  dmaFreeAttrs(dev, size, cpuAddr, dmaHandle, DMA_ATTR_NON_CONSISTENT);
}

/** dma_is_consistent: 1 if the device does consistent DMA on the memory at `dmaHandle`. */
export function dmaIsConsistent(dev: DmaDevice, dmaHandle: number): number {
  if (dev.coherent) return 1;
  for (const [handle, a] of dev.coherentAllocations) {
    if (dmaHandle >= handle && dmaHandle < handle + a.size) return a.consistent ? 1 : 0;
  }
  const declared = declaredFor(dev);
  return declared && declared.containsDma(dmaHandle) ? 1 : 0;
}

/** dma_get_cache_alignment: the CPU cache line size, a power of two, for the platform of `devOrEnv`. */
export function dmaGetCacheAlignment(devOrEnv: DmaDevice | DmaEnv): number {
  const env = 'env' in devOrEnv ? devOrEnv.env : devOrEnv;
  return env.cpu.cacheLineBytes;
}

/**
 * dma_cache_sync: a partial sync of memory from dma_alloc_noncoherent at `vaddr`.
 * DMA_TO_DEVICE cleans, DMA_FROM_DEVICE invalidates, DMA_BIDIRECTIONAL does both. Memory
 * the CPU sees uncached, and IO-coherent devices, need nothing.
 */
export function dmaCacheSync(dev: DmaDevice, vaddr: number, size: number, dir: DmaDataDirection): void {
  checkDir(dir, 'dma_cache_sync');
  const cpu = dev.env.cpu;
  if (dev.coherent || cpu.isUncached(vaddr)) return;
  const phys = cpu.virtToPhys(vaddr, 'dma_cache_sync');
  if (dir === DMA_TO_DEVICE) archSyncDmaForDevice(dev, phys, size, dir);
  else if (dir === DMA_FROM_DEVICE) archSyncDmaForCpu(dev, phys, size, dir);
  else {
    archSyncDmaForDevice(dev, phys, size, DMA_BIDIRECTIONAL);
    archSyncDmaForCpu(dev, phys, size, DMA_BIDIRECTIONAL);
  }
}
