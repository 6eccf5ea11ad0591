/**
 * swiotlb, the software IO TLB (kernel/dma/swiotlb.c, the v4.x slot allocator): a pool
 * of bounce buffers in low memory for direct-mapped devices whose DMA mask cannot reach
 * a buffer. A mapping takes slots of the pool, copies the buffer in (for the device to
 * read) and copies it back at unmap or sync (what the device wrote).
 *
 * Slots, as Linux:
 * - The pool is `nslabs` slots of IO_TLB_SIZE = 2 KiB, in segments of IO_TLB_SEGSIZE =
 *   128 slots; a mapping never crosses a segment, so the largest is 256 KiB
 *   (swiotlbMaxMappingSize). A mapping of `size` bytes takes ceil(size / 2 KiB) slots
 *   and starts at its first slot (v4.x does not keep the buffer's offset in the slot).
 * - io_tlb_list[i] is the number of free slots from slot i to the next used slot or the
 *   end of i's segment (0 when i is used). Allocation: from the rotating search index
 *   io_tlb_index, aligned up to the stride (2 slots, a page, for mappings of a page or
 *   more; 1 otherwise), step by the stride, wrapping to 0, and take the first index
 *   whose free run is >= nslots and whose span does not cross the device's segment
 *   boundary (dma_get_seg_boundary: 4 GiB, the default without dma_parms). The index
 *   then moves past the mapping (next-fit). Freeing merges the run with the free slots
 *   above it (in the same segment) and renumbers the free slots below it.
 * - io_tlb_orig_addr[i]: the original physical address slot i bounces (orig + i·2 KiB
 *   for the i-th slot of a mapping), so a partial sync inside a mapping finds its bytes.
 *
 * Copies (swiotlb_bounce) are CPU memcpy through the kernel's linear map, so they go
 * through the CPU data cache; the caller (dma-direct) does the cache maintenance on the
 * pool for non-coherent devices. Directions, as v4.x: map copies orig→tlb for TO_DEVICE
 * and BIDIRECTIONAL; unmap copies tlb→orig for FROM_DEVICE and BIDIRECTIONAL (both
 * skipped with DMA_ATTR_SKIP_CPU_SYNC); sync for the CPU copies tlb→orig
 * (FROM_DEVICE/BIDIRECTIONAL), sync for the device orig→tlb (TO_DEVICE/BIDIRECTIONAL).
 *
 * Stats (shared by every pool of one kernel):
 *   kernel.swiotlb.used_slots     slots in use now (io_tlb_used)
 *   kernel.swiotlb.bounced_bytes  bytes copied between buffers and bounce slots
 *   kernel.swiotlb.full           maps that failed for want of slots
 *
 * Differences from Linux:
 * - Linux trusts the caller of swiotlb_tbl_unmap_single: a wrong address or size
 *   silently corrupts io_tlb_list. Here unmap (and sync) of anything that is not a live
 *   mapping, or with another size, warns (kernel.warn 'swiotlb') and changes nothing;
 *   each mapping's byte size is kept for that (as io_tlb_alloc_size does from v5.12).
 * - The "buffer is full" message is not rate-limited (printk_ratelimit depends on
 *   wall-clock time); every failure without DMA_ATTR_NO_WARN logs it.
 * - A map of size < 1 (BUG_ON(!nslots) in Linux) warns and fails.
 */
import { hex } from '../../sim/engine/addr';
import { SimInvariantError } from '../../sim/engine/errors';
import type { Counter } from '../../sim/engine/stats';
import { sharedCounter } from '../iommu/kstats';
import type { Kernel } from '../kernel';
import { archSyncDmaForDevice } from './arch';
import type { DmaDevice } from './device';
import {
  DMA_ATTR_NO_WARN,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  type DmaDataDirection,
} from './types';

/** log2 of the slot size. */
export const IO_TLB_SHIFT = 11;
/** Bytes per slot (2 KiB). */
export const IO_TLB_SIZE = 2 ** IO_TLB_SHIFT;
/** Slots per segment: an allocation never crosses a segment. */
export const IO_TLB_SEGSIZE = 128;

const PAGE_SIZE = 4096;
/** Slots per page: the stride (and alignment) of mappings of a page or more. */
const SLABS_PER_PAGE = PAGE_SIZE / IO_TLB_SIZE;
/** dma_get_seg_boundary() of a device without dma_parms: 4 GiB - 1. */
const DEFAULT_SEG_BOUNDARY = 2 ** 32 - 1;
const INVALID_PHYS_ADDR = -1;

/** swiotlb_max_mapping_size(): one segment, 256 KiB. */
export function swiotlbMaxMappingSize(): number {
  return IO_TLB_SIZE * IO_TLB_SEGSIZE;
}

/** dev_warn's prefix: "<driver> <device>: ". */
export function devPrefix(dev: DmaDevice): string {
  return `${dev.driverString} ${dev.name}: `;
}

/** %pad: a dma_addr_t as 0x and 16 hex digits. */
export function formatPad(addr: number): string {
  return '0x' + addr.toString(16).padStart(16, '0');
}

/** Number of slots `size` bytes take (nr_slots). */
function nrSlots(size: number): number {
  return Math.ceil(size / IO_TLB_SIZE);
}

/** iommu_is_span_boundary(index, nr, shift, boundary_size): [shift+index, +nr) crosses a multiple of boundary_size. */
function isSpanBoundary(index: number, nr: number, shift: number, boundarySize: number): boolean {
  return ((shift + index) % boundarySize) + nr > boundarySize;
}

export type SwiotlbSyncTarget = 'cpu' | 'device';

/**
 * One swiotlb pool at physical [base, base + size) (io_tlb_start .. io_tlb_end). The
 * platform reserves the range from the page allocator at boot; `base` must be
 * page-aligned and `size` a whole number of 256 KiB segments (swiotlb_init_with_tbl
 * rounds nslabs to IO_TLB_SEGSIZE), else the constructor throws a SimInvariantError.
 */
export class Swiotlb {
  /** io_tlb_start / io_tlb_end. */
  readonly start: number;
  readonly end: number;
  /** io_tlb_nslabs. */
  readonly nslabs: number;
  /** io_tlb_list: free-run length at each slot. */
  private readonly list: Uint16Array;
  /** io_tlb_orig_addr: the physical address each used slot bounces, INVALID_PHYS_ADDR when free. */
  private readonly origAddr: Float64Array;
  /** Live mappings: first slot → bytes mapped. */
  private readonly mapped = new Map<number, number>();
  /** Each used slot's mapping (its first slot); -1 for a free slot. */
  private readonly owner: Int32Array;
  /** io_tlb_index: where the next search starts. */
  private index = 0;
  /** io_tlb_used. */
  private used = 0;
  private readonly sUsed: Counter;
  private readonly sBounced: Counter;
  private readonly sFull: Counter;

  constructor(readonly kernel: Kernel, base: number, size: number) {
    const seg = swiotlbMaxMappingSize();
    if (!Number.isSafeInteger(base) || base < 0 || base % PAGE_SIZE !== 0) {
      throw new SimInvariantError(`swiotlb: pool base ${hex(base)} is not page-aligned`);
    }
    if (!Number.isSafeInteger(size) || size <= 0 || size % seg !== 0) {
      throw new SimInvariantError(`swiotlb: pool size ${size} is not a positive multiple of ${seg} (IO_TLB_SEGSIZE slots)`);
    }
    this.start = base;
    this.end = base + size;
    this.nslabs = size / IO_TLB_SIZE;
    this.list = new Uint16Array(this.nslabs);
    for (let i = 0; i < this.nslabs; i++) this.list[i] = IO_TLB_SEGSIZE - (i % IO_TLB_SEGSIZE);
    this.origAddr = new Float64Array(this.nslabs).fill(INVALID_PHYS_ADDR);
    this.owner = new Int32Array(this.nslabs).fill(-1);
    const stats = kernel.soc.ctx.stats;
    this.sUsed = sharedCounter(stats, 'kernel.swiotlb.used_slots', 'swiotlb slots in use (io_tlb_used)');
    this.sBounced = sharedCounter(stats, 'kernel.swiotlb.bounced_bytes', 'bytes copied to or from swiotlb bounce buffers');
    this.sFull = sharedCounter(stats, 'kernel.swiotlb.full', 'swiotlb maps that failed: no free slots');
    kernel.info('swiotlb', `software IO TLB: mapped [mem ${formatPad(this.start)}-${formatPad(this.end - 1)}] (${Math.floor(size / 2 ** 20)}MB)`);
  }

  /** io_tlb_used: slots in use. */
  get usedSlots(): number {
    return this.used;
  }

  /** is_swiotlb_buffer(paddr): whether `phys` lies in the pool. */
  isSwiotlbBuffer(phys: number): boolean {
    return phys >= this.start && phys < this.end;
  }

  /** io_tlb_list[slot] (for inspection): free slots from `slot` to the next used one or the segment end. */
  freeRunAt(slot: number): number {
    this.checkSlot(slot);
    return this.list[slot];
  }

  /** io_tlb_orig_addr[slot] (for inspection): the physical address the slot bounces, or null when free. */
  origAddrAt(slot: number): number | null {
    this.checkSlot(slot);
    const a = this.origAddr[slot];
    return a === INVALID_PHYS_ADDR ? null : a;
  }

  /**
   * swiotlb_map (v5.x): bounces [phys, +size) for `dev` and returns the DMA address of
   * the bounce buffer (= its physical address), cleaned from the CPU cache for a
   * non-coherent device unless DMA_ATTR_SKIP_CPU_SYNC; DMA_MAPPING_ERROR when the pool
   * is full or the device cannot reach the pool (then the slots are released and a
   * "swiotlb addr ... overflow" warning is logged).
   */
  map(dev: DmaDevice, phys: number, size: number, dir: DmaDataDirection, attrs: number): number {
    const tlbAddr = this.mapSingle(dev, phys, size, dir, attrs);
    if (tlbAddr === DMA_MAPPING_ERROR) return DMA_MAPPING_ERROR;
    if (tlbAddr + size - 1 > dev.streamingLimit) {
      this.unmapSingle(dev, tlbAddr, size, dir, attrs | DMA_ATTR_SKIP_CPU_SYNC);
      this.kernel.warn(
        'swiotlb',
        `${devPrefix(dev)}swiotlb addr ${formatPad(tlbAddr)}+${size} overflow (mask ${dev.dmaMask.toString(16)}, bus limit ${busLimitText(dev)}).`,
      );
      return DMA_MAPPING_ERROR;
    }
    if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0) archSyncDmaForDevice(dev, tlbAddr, size, dir);
    return tlbAddr;
  }

  /**
   * swiotlb_tbl_map_single: takes ceil(size / 2 KiB) slots (see the file comment),
   * records the original address of each, copies the buffer in for TO_DEVICE and
   * BIDIRECTIONAL (unless DMA_ATTR_SKIP_CPU_SYNC) and returns the bounce buffer's
   * physical address. DMA_MAPPING_ERROR when no run of slots fits, with Linux's "swiotlb
   * buffer is full" warning unless DMA_ATTR_NO_WARN.
   */
  mapSingle(dev: DmaDevice, origPhys: number, size: number, dir: DmaDataDirection, attrs: number): number {
    if (!Number.isSafeInteger(size) || size < 1 || !Number.isSafeInteger(origPhys) || origPhys < 0) {
      this.kernel.warn('swiotlb', `${devPrefix(dev)}swiotlb_tbl_map_single: bad buffer ${hex(origPhys)} size ${size}`);
      return DMA_MAPPING_ERROR;
    }
    const nslots = nrSlots(size);
    const index = this.findSlots(nslots, size >= PAGE_SIZE ? SLABS_PER_PAGE : 1);
    if (index < 0) {
      this.sFull.value++;
      if ((attrs & DMA_ATTR_NO_WARN) === 0) {
        this.kernel.warn(
          'swiotlb',
          `${devPrefix(dev)}swiotlb buffer is full (sz: ${size} bytes), total ${this.nslabs} (slots), used ${this.used} (slots)`,
        );
      }
      return DMA_MAPPING_ERROR;
    }
    this.takeSlots(index, nslots);
    this.mapped.set(index, size);
    for (let i = 0; i < nslots; i++) {
      this.origAddr[index + i] = origPhys + i * IO_TLB_SIZE;
      this.owner[index + i] = index;
    }
    const tlbAddr = this.slotAddr(index);
    if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0 && (dir === DMA_TO_DEVICE || dir === DMA_BIDIRECTIONAL)) {
      this.bounce(dev, origPhys, tlbAddr, size, DMA_TO_DEVICE);
    }
    return tlbAddr;
  }

  /**
   * Whether [tlbAddr, +size) is exactly one live mapping (what unmap needs); warns
   * ('swiotlb', naming `call`) and returns false otherwise.
   */
  checkUnmap(dev: DmaDevice, tlbAddr: number, size: number, call = 'swiotlb_tbl_unmap_single'): boolean {
    const index = this.slotOf(tlbAddr);
    const mappedSize = index >= 0 && this.slotAddr(index) === tlbAddr ? this.mapped.get(index) : undefined;
    if (mappedSize === undefined) {
      this.kernel.warn('swiotlb', `${devPrefix(dev)}${call}: ${hex(tlbAddr)} is not a live swiotlb mapping (size ${size})`);
      return false;
    }
    if (mappedSize !== size) {
      this.kernel.warn('swiotlb', `${devPrefix(dev)}${call}: ${hex(tlbAddr)} was mapped with ${mappedSize} bytes, unmapped with ${size}`);
      return false;
    }
    return true;
  }

  /**
   * swiotlb_tbl_unmap_single: copies the bounce buffer back for FROM_DEVICE and
   * BIDIRECTIONAL (unless DMA_ATTR_SKIP_CPU_SYNC), then frees the slots, merging them
   * with the free runs around them. Anything but a live mapping with its mapped size
   * warns and changes nothing.
   */
  unmapSingle(dev: DmaDevice, tlbAddr: number, size: number, dir: DmaDataDirection, attrs: number): void {
    if (!this.checkUnmap(dev, tlbAddr, size)) return;
    const index = this.slotOf(tlbAddr);
    const orig = this.origAddr[index];
    if ((attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0 && (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL)) {
      this.bounce(dev, orig, tlbAddr, size, DMA_FROM_DEVICE);
    }
    this.releaseSlots(index, nrSlots(size));
    this.mapped.delete(index);
  }

  /**
   * swiotlb_tbl_sync_single: for the CPU copies tlb→orig (FROM_DEVICE, BIDIRECTIONAL),
   * for the device orig→tlb (TO_DEVICE, BIDIRECTIONAL). [tlbAddr, +size) may be any part
   * of one live mapping (dma_sync_single_range_*); otherwise it warns and copies nothing.
   */
  syncSingle(dev: DmaDevice, tlbAddr: number, size: number, dir: DmaDataDirection, target: SwiotlbSyncTarget): void {
    const index = this.slotOf(tlbAddr);
    const first = index >= 0 ? this.owner[index] : -1;
    const mappedSize = first >= 0 ? this.mapped.get(first)! : 0;
    if (first < 0 || !(size >= 0) || tlbAddr + size > this.slotAddr(first) + mappedSize) {
      this.kernel.warn('swiotlb', `${devPrefix(dev)}swiotlb_tbl_sync_single: [${hex(tlbAddr)}, +${size}) is not inside a live swiotlb mapping`);
      return;
    }
    // io_tlb_orig_addr of the slot plus the offset inside it.
    const orig = this.origAddr[index] + (tlbAddr - this.slotAddr(index));
    if (target === 'cpu') {
      if (dir === DMA_FROM_DEVICE || dir === DMA_BIDIRECTIONAL) this.bounce(dev, orig, tlbAddr, size, DMA_FROM_DEVICE);
    } else if (dir === DMA_TO_DEVICE || dir === DMA_BIDIRECTIONAL) {
      this.bounce(dev, orig, tlbAddr, size, DMA_TO_DEVICE);
    }
  }

  // ---- slot allocator ----

  /** The search of swiotlb_tbl_map_single: the first slot of a free run of `nslots`, or -1. */
  private findSlots(nslots: number, stride: number): number {
    if (nslots > this.nslabs - this.used) return -1;
    const offsetSlots = Math.ceil((this.start % (DEFAULT_SEG_BOUNDARY + 1)) / IO_TLB_SIZE);
    const maxSlots = (DEFAULT_SEG_BOUNDARY + 1) / IO_TLB_SIZE;
    let index = Math.ceil(this.index / stride) * stride;
    if (index >= this.nslabs) index = 0;
    const wrap = index;
    do {
      while (isSpanBoundary(index, nslots, offsetSlots, maxSlots)) {
        index += stride;
        if (index >= this.nslabs) index = 0;
        if (index === wrap) return -1;
      }
      if (this.list[index] >= nslots) return index;
      index += stride;
      if (index >= this.nslabs) index = 0;
    } while (index !== wrap);
    return -1;
  }

  /** Marks [index, +nslots) used and renumbers the free slots below it in its segment. */
  private takeSlots(index: number, nslots: number): void {
    for (let i = index; i < index + nslots; i++) this.list[i] = 0;
    let count = 0;
    for (let i = index - 1; i >= 0 && i % IO_TLB_SEGSIZE !== IO_TLB_SEGSIZE - 1 && this.list[i] !== 0; i--) this.list[i] = ++count;
    this.index = index + nslots < this.nslabs ? index + nslots : 0;
    this.used += nslots;
    this.sUsed.value += nslots;
  }

  /** The free-list half of swiotlb_tbl_unmap_single: merge with the run above, then renumber below. */
  private releaseSlots(index: number, nslots: number): void {
    const segEnd = (Math.floor(index / IO_TLB_SEGSIZE) + 1) * IO_TLB_SEGSIZE;
    let count = index + nslots < segEnd ? this.list[index + nslots] : 0;
    for (let i = index + nslots - 1; i >= index; i--) {
      this.list[i] = ++count;
      this.origAddr[i] = INVALID_PHYS_ADDR;
      this.owner[i] = -1;
    }
    for (let i = index - 1; i >= 0 && i % IO_TLB_SEGSIZE !== IO_TLB_SEGSIZE - 1 && this.list[i] !== 0; i--) this.list[i] = ++count;
    this.used -= nslots;
    this.sUsed.value -= nslots;
  }

  /** swiotlb_bounce: CPU memcpy between the buffer and its bounce slots, through the linear map. */
  private bounce(dev: DmaDevice, orig: number, tlbAddr: number, size: number, dir: typeof DMA_TO_DEVICE | typeof DMA_FROM_DEVICE): void {
    const cpu = dev.env.cpu;
    if (dir === DMA_TO_DEVICE) cpu.memcpy(cpu.physToVirt(tlbAddr), cpu.physToVirt(orig), size);
    else cpu.memcpy(cpu.physToVirt(orig), cpu.physToVirt(tlbAddr), size);
    this.sBounced.value += size;
  }

  private slotAddr(index: number): number {
    return this.start + index * IO_TLB_SIZE;
  }

  /** The slot holding `phys`, or -1 outside the pool. */
  private slotOf(phys: number): number {
    return Number.isSafeInteger(phys) && this.isSwiotlbBuffer(phys) ? Math.floor((phys - this.start) / IO_TLB_SIZE) : -1;
  }

  private checkSlot(slot: number): void {
    if (!Number.isInteger(slot) || slot < 0 || slot >= this.nslabs) throw new SimInvariantError(`swiotlb: no slot ${slot} (pool has ${this.nslabs})`);
  }
}

/** dev->bus_dma_limit as Linux prints it: 0 when the bus sets no limit. */
export function busLimitText(dev: DmaDevice): string {
  return (dev.busDmaLimit >= Number.MAX_SAFE_INTEGER ? 0 : dev.busDmaLimit).toString(16);
}
