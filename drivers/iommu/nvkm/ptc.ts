/**
 * The nvkm MMU object and its page-table cache (nouveau nvkm/subdev/mmu/base.c:
 * nvkm_mmu_ptc_get / nvkm_mmu_ptc_put / nvkm_mmu_ptc_dump and nvkm_mmu_ptp_get /
 * nvkm_mmu_ptp_put).
 *
 * - Tables of 4 KiB alignment or more come from the kernel page allocator (one block of
 *   the smallest order that holds them). When freed they are kept, up to 8 per exact
 *   size (the "heuristic" in nvkm_mmu_ptc_put), unless the caller forces a real free
 *   (bootstrapped VMMs, the top-level directory).
 * - Tables with a smaller alignment (GP100's 256-byte LPT) are sub-allocated from shared
 *   4 KiB pages (PTP): each page is cut into slots of the table's alignment; a page
 *   goes back to the cache when its last slot is freed.
 *
 * Memory is zeroed with kernel stores (nvkm_fo64 / a zeroing nvkm_memory_new) only when
 * the caller asks: tables that the VMM fills with INVALID or SPARSE entries anyway are
 * not zeroed, as in nvkm.
 */

import { SimInvariantError } from '../../../sim/engine/errors';
import type { Counter } from '../../../sim/engine/stats';
import type { Kernel } from '../../kernel';
import { sharedCounter } from '../kstats';

/** The kernel page allocator as the MMU uses it (drivers/mm/buddy.ts BuddyAllocator). */
export interface NvkmPageAllocator {
  /** alloc_pages(order): physical address of 2^order pages aligned to their size, or null. */
  allocPages(order: number): number | null;
  /** __free_pages(addr, order). */
  freePages(addr: number, order: number): void;
  readonly freePageCount: number;
}

/** Page size of the kernel page allocator. */
export const NVKM_PAGE_SIZE = 4096;
/** Freed tables kept per size (nvkm_mmu_ptc_put: "refs < 8 /* Heuristic. *\/"). */
export const NVKM_PTC_MAX = 8;

/** struct nvkm_mmu_ptp: a shared 4 KiB page cut into slots of 2^shift bytes. */
/** struct nvkm_mmu_pt: one hardware page table. */
export class NvkmMmuPt {
  /** Physical address of the table (pt->addr = memory address + base). */
  addr = 0;
  /** Offset inside the parent page of a sub-allocated table (pt->base). */
  base = 0;
  /** Sub-allocated from a shared 4 KiB page (pt->sub). */
  sub = false;
  /** The shared page this table is a slot of (pt->ptp), for sub-allocated tables. */
  ptp: NvkmMmuPtp | null = null;
  /** The cache bucket of its exact size (pt->ptc), for whole tables. */
  ptc: NvkmMmuPtc | null = null;
  /** Physical address of the backing page block (whole tables). */
  memAddr = 0;
  /** Buddy order of the backing block (whole tables). */
  memOrder = 0;
}

export class NvkmMmuPtp {
  constructor(
    /** The whole-page table that backs the slots. */
    readonly pt: NvkmMmuPt,
    readonly shift: number,
    /** Bit i set: slot i exists. */
    readonly mask: number,
    /** Bit i set: slot i is free. */
    public free: number,
  ) {}
}

/** struct nvkm_mmu_ptc: the cache bucket for tables of one exact size. */
export class NvkmMmuPtc {
  /** Cached (freed) tables, oldest first: put appends, get takes the first. */
  readonly item: NvkmMmuPt[] = [];
  constructor(readonly size: number) {}
  /** Tables in the cache (ptc->refs). */
  get refs(): number {
    return this.item.length;
  }
}

/**
 * struct nvkm_mmu (the parts the VMM uses): the page allocator that backs page tables,
 * the page-table cache and the sub-allocation pages. One per GPU; its VMMs share it.
 */
export class NvkmMmu {
  /** ptc.list: one bucket per table size seen. */
  readonly ptcList: NvkmMmuPtc[] = [];
  /** ptp.list: shared pages that still have free slots (most recent first). */
  readonly ptpList: NvkmMmuPtp[] = [];
  /** Page-table blocks currently taken from the page allocator (in use or cached). */
  private pagesHeld = 0;

  readonly sAllocs: Counter;
  readonly sFrees: Counter;
  readonly sCacheHits: Counter;
  readonly sZeroBytes: Counter;

  constructor(
    readonly kernel: Kernel,
    readonly pages: NvkmPageAllocator,
    readonly name = 'mmu',
  ) {
    const stats = kernel.soc.ctx.stats;
    const p = `kernel.${name}.nvkm`;
    this.sAllocs = sharedCounter(stats, `${p}.pt_allocs`, 'page-table blocks taken from the page allocator');
    this.sFrees = sharedCounter(stats, `${p}.pt_frees`, 'page-table blocks given back to the page allocator');
    this.sCacheHits = sharedCounter(stats, `${p}.ptc_hits`, 'page tables reused from the page-table cache');
    this.sZeroBytes = sharedCounter(stats, `${p}.zero_bytes`, 'bytes of page-table memory zeroed with kernel stores');
  }

  /** Tables of `size` bytes in the cache. */
  ptcCount(size: number): number {
    return this.ptcList.find((c) => c.size === size)?.refs ?? 0;
  }

  /** Pages of the page allocator held by cached tables (free as far as the VMMs go). */
  get ptcCachedPages(): number {
    let n = 0;
    for (const c of this.ptcList) for (const pt of c.item) n += 2 ** pt.memOrder;
    return n;
  }

  /** Pages of the page allocator held by this MMU (tables in use plus the cache). */
  get pagesInUse(): number {
    return this.pagesHeld;
  }

  /** Shared sub-allocation pages with free slots. */
  get ptpCount(): number {
    return this.ptpList.length;
  }

  /** @internal page-allocator bookkeeping */
  allocBlock(size: number): { addr: number; order: number } | null {
    const order = orderFor(size);
    const addr = this.pages.allocPages(order);
    if (addr === null) return null;
    this.pagesHeld += 2 ** order;
    this.sAllocs.value++;
    return { addr, order };
  }

  /** @internal */
  freeBlock(addr: number, order: number): void {
    this.pages.freePages(addr, order);
    this.pagesHeld -= 2 ** order;
    this.sFrees.value++;
  }

  /** @internal nvkm_fo64(memory, 0, 0, size >> 3): zero with kernel stores. */
  zero(addr: number, size: number): void {
    this.kernel.mem.zero(addr, size);
    this.sZeroBytes.value += size;
  }
}

/** The smallest buddy order whose block holds `size` bytes. */
function orderFor(size: number): number {
  let order = 0;
  while (NVKM_PAGE_SIZE * 2 ** order < size) order++;
  return order;
}

/** Index of the lowest set bit of a non-zero 16-bit mask (__ffs). */
function ffs(v: number): number {
  let i = 0;
  while ((v & (1 << i)) === 0) i++;
  return i;
}

/** nvkm_mmu_ptp_put(): frees a slot; frees the shared page once all its slots are free. */
function nvkmMmuPtpPut(mmu: NvkmMmu, force: boolean, pt: NvkmMmuPt): void {
  const ptp = pt.ptp!;
  const slot = pt.base / 2 ** ptp.shift;
  // If there were no free slots before, there will be now: back on the list.
  if (ptp.free === 0) mmu.ptpList.unshift(ptp);
  ptp.free |= 1 << slot;
  // No more sub-allocations: destroy the PTP.
  if (ptp.free === ptp.mask) {
    nvkmMmuPtcPut(mmu, force, ptp.pt);
    const i = mmu.ptpList.indexOf(ptp);
    if (i >= 0) mmu.ptpList.splice(i, 1);
  }
  pt.ptp = null;
}

/** nvkm_mmu_ptp_get(): a slot of 2^log2(size) bytes from a shared 4 KiB page. */
function nvkmMmuPtpGet(mmu: NvkmMmu, size: number): NvkmMmuPt | null {
  const shift = Math.ceil(Math.log2(size)); // order_base_2(size)
  // nvkm takes the first PTP on the list; only one slot size exists per GPU there.
  // Taking the first with a matching slot size is the same then, and safe otherwise.
  let ptp = mmu.ptpList.find((p) => p.shift === shift) ?? null;
  if (ptp === null) {
    // Need a new parent to sub-allocate from (not zeroed: the VMM fills the slot).
    const parent = nvkmMmuPtcGet(mmu, 0x1000, 0x1000, false);
    if (parent === null) return null;
    const slots = NVKM_PAGE_SIZE / 2 ** shift;
    if (slots > 16) throw new SimInvariantError(`nvkm_mmu_ptp_get: ${slots} slots of ${size} bytes do not fit a 16-bit mask`);
    const mask = 2 ** slots - 1;
    ptp = new NvkmMmuPtp(parent, shift, mask, mask);
    mmu.ptpList.unshift(ptp);
  }
  const pt = new NvkmMmuPt();
  pt.ptp = ptp;
  pt.sub = true;
  // Sub-allocate, removing the PTP from the list if no free slots are left.
  const slot = ffs(ptp.free);
  ptp.free &= ~(1 << slot);
  if (ptp.free === 0) mmu.ptpList.splice(mmu.ptpList.indexOf(ptp), 1);
  pt.base = slot * 2 ** ptp.shift;
  pt.addr = ptp.pt.addr + pt.base;
  return pt;
}

function nvkmMmuPtcFind(mmu: NvkmMmu, size: number): NvkmMmuPtc {
  let ptc = mmu.ptcList.find((c) => c.size === size);
  if (!ptc) {
    ptc = new NvkmMmuPtc(size);
    mmu.ptcList.unshift(ptc);
  }
  return ptc;
}

/**
 * nvkm_mmu_ptc_put(): releases a table. Sub-allocated tables free their slot; others go
 * to the cache of their size if it holds fewer than 8 and `force` is false, else back to
 * the page allocator. Null is ignored.
 */
export function nvkmMmuPtcPut(mmu: NvkmMmu, force: boolean, pt: NvkmMmuPt | null): void {
  if (pt === null) return;
  if (pt.sub) {
    nvkmMmuPtpPut(mmu, force, pt);
    return;
  }
  const ptc = pt.ptc!;
  if (ptc.refs < NVKM_PTC_MAX && !force) {
    ptc.item.push(pt);
  } else {
    mmu.freeBlock(pt.memAddr, pt.memOrder);
  }
}

/**
 * nvkm_mmu_ptc_get(): a table of `size` bytes aligned to `align`, zeroed if `zero`.
 * Alignments below 4 KiB are sub-allocated (nvkm_mmu_ptp_get; `zero` is not honoured
 * there, as in nvkm). Returns null when the page allocator is out of memory.
 */
export function nvkmMmuPtcGet(mmu: NvkmMmu, size: number, align: number, zero: boolean): NvkmMmuPt | null {
  if (align < 0x1000) return nvkmMmuPtpGet(mmu, align);
  const ptc = nvkmMmuPtcFind(mmu, size);
  // A free table in the cache: reuse it.
  const cached = ptc.item.shift();
  if (cached !== undefined) {
    if (zero) mmu.zero(cached.addr, size);
    mmu.sCacheHits.value++;
    return cached;
  }
  // No such luck, we need to allocate. Buddy blocks are aligned to their size.
  if (align > NVKM_PAGE_SIZE * 2 ** orderFor(size)) {
    throw new SimInvariantError(`nvkm_mmu_ptc_get: alignment ${align} exceeds the block of a ${size}-byte table`);
  }
  const block = mmu.allocBlock(size);
  if (block === null) return null;
  const pt = new NvkmMmuPt();
  pt.ptc = ptc;
  pt.sub = false;
  pt.memAddr = block.addr;
  pt.memOrder = block.order;
  pt.base = 0;
  pt.addr = block.addr;
  if (zero) mmu.zero(pt.addr, size);
  return pt;
}

/** nvkm_mmu_ptc_dump(): frees every cached table back to the page allocator. */
export function nvkmMmuPtcDump(mmu: NvkmMmu): void {
  for (const ptc of mmu.ptcList) {
    for (const pt of ptc.item) mmu.freeBlock(pt.memAddr, pt.memOrder);
    ptc.item.length = 0;
  }
}
