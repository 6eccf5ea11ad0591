/**
 * Declared coherent memory: drivers/base/dma-coherent.c of Linux 2.6.x-3.x (later
 * kernel/dma/coherent.c), the contract of DMA-API.txt Part II
 * (dma_declare_coherent_memory, dma_release_declared_memory,
 * dma_mark_declared_memory_occupied). A device - typically one with memory of its own, or
 * behind a bridge with a window - declares a region; dma_alloc_coherent for the device
 * then takes memory from it first (mapping.ts asks `dev.declaredMemory`, and with
 * DMA_MEMORY_INCLUDES_CHILDREN its children's calls ask it too).
 *
 * Addresses: `busAddr` is where the memory sits in the SoC's physical address map (the
 * CPU reaches it there); `deviceAddr` is what the device must be programmed with (the
 * dma_addr_t handed out). Block `i` of the region is at CPU address
 * uncached(busAddr) + i·PAGE_SIZE and DMA address deviceAddr + i·PAGE_SIZE.
 *
 * CPU mapping: Linux ioremaps the region for both flags. Here the CPU address is the
 * uncached alias of the bus address (KernelCpu.uncachedVirt), like ioremap_wc: writes go
 * straight to memory, so the region is consistent for any device. With DMA_MEMORY_MAP
 * the driver may use the memory as ordinary memory; with only DMA_MEMORY_IO it must use
 * I/O accessors (memcpy_toio and friends). The simulator cannot tell the two apart, so
 * the difference is the driver's contract, not enforced.
 *
 * Allocation (dma_alloc_from_coherent): a page bitmap; a request of `size` bytes takes
 * 2^get_order(size) pages at the lowest position aligned to that many pages counted from
 * the region start (bitmap_find_free_region), and its first `size` bytes are zeroed
 * through the CPU. A request the region cannot satisfy falls back to the device's normal
 * allocator unless the region is DMA_MEMORY_EXCLUSIVE.
 *
 * Differences from Linux:
 * - A size that is not a multiple of PAGE_SIZE is refused (0); Linux silently drops the
 *   partial last page. DMA-API.txt says it must be a multiple.
 * - A bus range that is not inside one memory of the SoC's address map is refused (0):
 *   that is where Linux's ioremap would fail. A range the page allocator may still hand
 *   out is accepted with a kernel warning (the memory would be used twice).
 * - dma_mark_declared_memory_occupied returns EINVAL for a range outside the region
 *   (Linux indexes the bitmap out of bounds). Like Linux it occupies 2^get_order(size)
 *   pages from the page holding deviceAddr; pages past the region's end are not counted
 *   (in Linux they are spare bits of the bitmap's last word, which no search looks at).
 * - Freeing a CPU address of the region that is not the start of a live allocation is
 *   reported with a kernel warning and changes nothing (Linux clears the bits, which may
 *   free a range marked occupied). A size whose order differs from the allocation's is
 *   reported and the allocation as made is freed.
 * - dma_release_declared_memory warns when allocations are still live (it still removes
 *   the region unconditionally, as documented).
 * - Linux 2.6/3.x ignored DMA_MEMORY_INCLUDES_CHILDREN ("FIXME"); here it is honoured.
 */
import { hex } from '../../sim/engine/addr';
import { KernelError } from '../errno';
import { bitmapClear, bitmapSet, findBit, findNextZeroArea } from '../mm/bitmap';
import type { DmaDevice } from './device';
import { DMA_MEMORY_EXCLUSIVE, DMA_MEMORY_IO, DMA_MEMORY_MAP } from './mapping';
import type { DeclaredCoherentMemory, DmaCoherentBuffer } from './types';

export { DMA_MEMORY_EXCLUSIVE, DMA_MEMORY_INCLUDES_CHILDREN, DMA_MEMORY_IO, DMA_MEMORY_MAP } from './mapping';

const PAGE_SIZE = 4096;

/** get_order(size): the smallest order with PAGE_SIZE << order >= size. */
function getOrder(size: number): number {
  let order = 0;
  while (PAGE_SIZE * 2 ** order < size) order++;
  return order;
}

/**
 * struct dma_coherent_mem: one declared region of a device and its page bitmap.
 * Created by dmaDeclareCoherentMemory.
 */
export class DeclaredCoherentRegion implements DeclaredCoherentMemory {
  /** Pages in the region. */
  readonly pages: number;
  /** CPU address of page 0 (the uncached alias of busAddr). */
  readonly virtBase: number;
  /** One byte per page: 1 = allocated or occupied. */
  private readonly bitmap: Uint8Array;
  /** Live allocations: first page → order. */
  private readonly live = new Map<number, number>();

  constructor(
    readonly dev: DmaDevice,
    readonly busAddr: number,
    readonly deviceBase: number,
    size: number,
    readonly flags: number,
  ) {
    this.pages = size / PAGE_SIZE;
    this.bitmap = new Uint8Array(this.pages);
    this.virtBase = dev.env.cpu.uncachedVirt(busAddr);
  }

  /** Bytes in the region. */
  get size(): number {
    return this.pages * PAGE_SIZE;
  }

  /** Pages allocated or marked occupied. */
  get pagesInUse(): number {
    let n = 0;
    for (let i = 0; i < this.pages; i++) n += this.bitmap[i];
    return n;
  }

  /** Number of live allocations (dma_alloc_coherent results not yet freed). */
  get liveAllocations(): number {
    return this.live.size;
  }

  /** dma_alloc_from_coherent. */
  alloc(size: number): { handled: boolean; buf: DmaCoherentBuffer | null } {
    const order = getOrder(size);
    const nr = 2 ** order;
    const pageno = size <= this.size ? findNextZeroArea(this.bitmap, 0, nr, nr, 0) : -1;
    if (pageno < 0) {
      // Fall back to generic memory only if the region is not exclusive.
      return { handled: (this.flags & DMA_MEMORY_EXCLUSIVE) !== 0, buf: null };
    }
    bitmapSet(this.bitmap, pageno, nr);
    this.live.set(pageno, order);
    const cpuAddr = this.virtBase + pageno * PAGE_SIZE;
    this.dev.env.cpu.memset(cpuAddr, 0, size);
    return { handled: true, buf: { cpuAddr, dmaHandle: this.deviceBase + pageno * PAGE_SIZE } };
  }

  /** dma_release_from_coherent: true when `cpuAddr` is in the region (freed or reported). */
  release(cpuAddr: number, size: number): boolean {
    if (!(cpuAddr >= this.virtBase && cpuAddr < this.virtBase + this.size)) return false;
    const pageno = Math.floor((cpuAddr - this.virtBase) / PAGE_SIZE);
    const order = this.live.get(pageno);
    const kernel = this.dev.env.kernel;
    if (order === undefined || cpuAddr !== this.virtBase + pageno * PAGE_SIZE) {
      kernel.warn('dma', `dma_release_from_coherent: ${this.dev.name}: ${hex(cpuAddr)} is not an allocation of the declared region; nothing freed`);
      return true;
    }
    if (getOrder(size) !== order) {
      kernel.warn('dma', `dma_release_from_coherent: ${this.dev.name}: ${hex(cpuAddr)} freed with size ${size} (order ${getOrder(size)}), allocated with order ${order}`);
    }
    bitmapClear(this.bitmap, pageno, 2 ** order);
    this.live.delete(pageno);
    return true;
  }

  containsDma(addr: number): boolean {
    return addr >= this.deviceBase && addr < this.deviceBase + this.size;
  }

  /** dma_mark_declared_memory_occupied on this region (see the exported function). */
  markOccupied(deviceAddr: number, size: number): number {
    const call = 'dma_mark_declared_memory_occupied';
    if (!Number.isSafeInteger(deviceAddr) || !Number.isSafeInteger(size) || size <= 0
        || deviceAddr < this.deviceBase || deviceAddr + size > this.deviceBase + this.size) {
      throw new KernelError('EINVAL', call, `${this.dev.name}: [${hex(deviceAddr)}, +${size}) is not inside the declared region [${hex(this.deviceBase)}, +${this.size})`);
    }
    const pos = Math.floor((deviceAddr - this.deviceBase) / PAGE_SIZE);
    const nr = Math.min(2 ** getOrder(size + (deviceAddr % PAGE_SIZE)), this.pages - pos);
    if (findBit(this.bitmap, pos, nr, 1) >= 0) {
      throw new KernelError('EBUSY', call, `${this.dev.name}: part of [${hex(deviceAddr)}, +${size}) is already occupied`);
    }
    bitmapSet(this.bitmap, pos, nr);
    return this.virtBase + pos * PAGE_SIZE;
  }
}

/**
 * dma_declare_coherent_memory(dev, bus_addr, device_addr, size, flags): declares
 * [busAddr, busAddr + size) as the memory dma_alloc_coherent of `dev` hands out, at DMA
 * addresses from `deviceAddr`. `flags`: DMA_MEMORY_MAP and/or DMA_MEMORY_IO (one is
 * required), optionally DMA_MEMORY_INCLUDES_CHILDREN and DMA_MEMORY_EXCLUSIVE.
 *
 * Returns DMA_MEMORY_MAP if it was passed, else DMA_MEMORY_IO; 0 on failure: neither MAP
 * nor IO given, size zero or not a multiple of PAGE_SIZE, a region already declared for
 * the device (only one per device), or a bus range not inside one memory of the SoC.
 */
export function dmaDeclareCoherentMemory(dev: DmaDevice, busAddr: number, deviceAddr: number, size: number, flags: number): number {
  if ((flags & (DMA_MEMORY_MAP | DMA_MEMORY_IO)) === 0) return 0;
  if (!Number.isSafeInteger(size) || size <= 0 || size % PAGE_SIZE !== 0) return 0;
  if (dev.declaredMemory) return 0;
  if (!Number.isSafeInteger(busAddr) || busAddr < 0 || !Number.isSafeInteger(deviceAddr) || deviceAddr < 0
      || !Number.isSafeInteger(deviceAddr + size)) return 0;
  const kernel = dev.env.kernel;
  if (!kernel.soc.addressMap.find(busAddr, size)) return 0;
  const pages = dev.env.pages;
  for (let a = busAddr; a < busAddr + size; a += PAGE_SIZE) {
    if (a >= pages.base && a < pages.base + pages.size && !pages.isAllocated(a)) {
      kernel.warn('dma', `dma_declare_coherent_memory: ${dev.name}: [${hex(busAddr)}, +${size}) includes pages the page allocator may hand out (first ${hex(a)})`);
      break;
    }
  }
  dev.declaredMemory = new DeclaredCoherentRegion(dev, busAddr, deviceAddr, size, flags);
  return (flags & DMA_MEMORY_MAP) !== 0 ? DMA_MEMORY_MAP : DMA_MEMORY_IO;
}

/**
 * dma_release_declared_memory(dev): removes the device's declared region, if any. No
 * in-use check, as documented: blocks still allocated from it must not be used or freed
 * afterwards (a kernel warning says how many there were).
 */
export function dmaReleaseDeclaredMemory(dev: DmaDevice): void {
  const mem = dev.declaredMemory;
  if (!mem) return;
  if (mem instanceof DeclaredCoherentRegion && mem.liveAllocations > 0) {
    dev.env.kernel.warn('dma', `dma_release_declared_memory: ${dev.name}: ${mem.liveAllocations} allocation(s) still live in the released region`);
  }
  dev.declaredMemory = null;
}

/**
 * dma_mark_declared_memory_occupied(dev, device_addr, size): takes the pages holding
 * [deviceAddr, deviceAddr + size) (2^get_order pages from the one holding deviceAddr) out
 * of the region, so dma_alloc_coherent skips them. Returns the CPU address of the first
 * of those pages. Throws KernelError (the ERR_PTR): EINVAL when the device has no
 * declared region or the range is not inside it; EBUSY when any of the pages is already
 * allocated or occupied (nothing is marked then).
 */
export function dmaMarkDeclaredMemoryOccupied(dev: DmaDevice, deviceAddr: number, size: number): number {
  const mem = dev.declaredMemory;
  if (!(mem instanceof DeclaredCoherentRegion)) {
    throw new KernelError('EINVAL', 'dma_mark_declared_memory_occupied', `${dev.name} has no declared coherent memory`);
  }
  return mem.markOccupied(deviceAddr, size);
}
