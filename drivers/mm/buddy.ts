import { ADDR_LIMIT, hex, isPowerOfTwo, POW2 } from '../../sim/engine/addr';
import { SimInvariantError } from '../../sim/engine/errors';
import { BlockRuns } from './blockRuns';
import { MisuseReporter } from './misuse';

/**
 * Largest block order, inclusive: orders 0..10, i.e. 4 KiB .. 4 MiB blocks with 4 KiB
 * pages. This is Linux's MAX_PAGE_ORDER (v6.8+; older kernels called the exclusive bound
 * MAX_ORDER = 11).
 */
export const MAX_ORDER = 10;

/** Largest maxOrder a BuddyAllocator accepts (block sizes stay exact in POW2). */
const MAX_SUPPORTED_ORDER = 40;

/**
 * A binary min-heap of page frame numbers with lazy deletion: the owner checks the top
 * against its free set and drops stale entries.
 */
class PfnHeap {
  private a: number[] = [];

  get length(): number {
    return this.a.length;
  }

  peek(): number | undefined {
    return this.a[0];
  }

  push(v: number): void {
    const a = this.a;
    let i = a.length;
    a.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (a[p] <= v) break;
      a[i] = a[p];
      i = p;
    }
    a[i] = v;
  }

  pop(): void {
    const a = this.a;
    const last = a.pop();
    if (last === undefined || a.length === 0) return;
    const n = a.length;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const c = r < n && a[r] < a[l] ? r : l;
      if (a[c] >= last) break;
      a[i] = a[c];
      i = c;
    }
    a[i] = last;
  }

  /** Replaces the contents with `values` (a sorted array is a valid heap). */
  reset(values: Iterable<number>): void {
    this.a = Array.from(values).sort((x, y) => x - y);
  }
}

/**
 * A Linux-style binary buddy page allocator over one physical range (mm/page_alloc.c:
 * __rmqueue_smallest, expand, __free_one_page), as the simulated kernel's page allocator
 * (alloc_pages / __free_pages).
 *
 * Semantics:
 * - Blocks of order k are 2^k pages aligned to their size in *absolute* page-frame
 *   numbers (pfn = address / pageSize), as in Linux; the region need not be aligned to a
 *   max-order block. At construction the range is cut into the largest aligned blocks
 *   that fit, at most `maxOrder` (memblock_free_all → __free_pages_memory).
 * - allocPages(order) takes a block from the smallest order >= `order` that has one
 *   (__rmqueue_smallest) and splits it down (expand): the lower half is kept and the
 *   upper halves go to the free lists of the orders below.
 *   Choice among free blocks of one order: the *lowest-addressed* one. This deviates from
 *   Linux, which takes the head of free_area[order] (LIFO, cache-hot); address order
 *   makes results independent of free history and easy to reason about in tests and
 *   traces. Both are deterministic.
 * - freePages(addr, order) merges the block with its buddy (pfn XOR 2^order) while the
 *   buddy is free at the same order and lies inside the region, up to `maxOrder`
 *   (__free_one_page). Blocks never merge across the region's ends.
 * - A free that does not match an allocation (double free, wrong order, misaligned,
 *   outside the region, reserved memory) is API misuse by the simulated kernel: as
 *   Linux's bad_page() it is reported ("BUG: Bad page state", through `misuse`: the
 *   kernel log and `kernel.mm.buddy.bad_frees` once the platform wires it) and nothing
 *   is freed (see misuse.ts). Freeing part of an allocation (split_page) is not supported.
 * - reserve() removes pages from the allocator for good (memblock_reserve before the
 *   buddy allocator takes over): the kernel image, a CMA region, firmware carve-outs.
 *
 * Cost: alloc O(maxOrder + log n) and free O(maxOrder + log n) with per-order free sets
 * and min-heaps below the top order; the top order's free blocks are runs of consecutive
 * blocks (blockRuns.ts). Memory is proportional to the blocks and runs that allocations
 * and reservations create, not to the region's size, so a huge DRAM boots at once.
 */
export class BuddyAllocator {
  readonly base: number;
  readonly size: number;
  readonly pageSize: number;
  readonly maxOrder: number;
  /** Pages in the region (including reserved ones). */
  readonly totalPages: number;

  private readonly basePfn: number;
  private readonly endPfn: number;
  /** Per order below maxOrder: pfns of the heads of free blocks of exactly that order (free_area[order]). */
  private readonly free: Set<number>[] = [];
  /** Per order below maxOrder: the same pfns (plus stale ones) in a min-heap, for lowest-address-first picks. */
  private readonly heaps: PfnHeap[] = [];
  /** Free blocks of order maxOrder, as runs (most of a fresh region). */
  private readonly top: BlockRuns;
  /** Allocated blocks: head pfn → order. */
  private readonly allocated = new Map<number, number>();
  /** Reserved pfn ranges [start, end). */
  private readonly reserved: Array<[number, number]> = [];
  private nFree = 0;
  /** Refused frees (misuse.ts); the platform points its sink at the kernel log. */
  readonly misuse = new MisuseReporter();

  /**
   * The allocator for [base, base + size). `base` and `size` are multiples of `pageSize`
   * (a power of two), `size > 0`; `maxOrder` is the largest block order (default
   * MAX_ORDER). Bad arguments throw a SimInvariantError.
   */
  constructor(base: number, size: number, pageSize = 4096, maxOrder = MAX_ORDER) {
    if (!isPowerOfTwo(pageSize)) throw new SimInvariantError(`BuddyAllocator: page size must be a power of two, got ${pageSize}`);
    if (!Number.isInteger(maxOrder) || maxOrder < 0 || maxOrder > MAX_SUPPORTED_ORDER) {
      throw new SimInvariantError(`BuddyAllocator: maxOrder must be an integer in 0..${MAX_SUPPORTED_ORDER}, got ${maxOrder}`);
    }
    if (!Number.isInteger(base) || base < 0 || base % pageSize !== 0) {
      throw new SimInvariantError(`BuddyAllocator: base ${hex(base)} is not a multiple of the page size ${pageSize}`);
    }
    if (!Number.isInteger(size) || size <= 0 || size % pageSize !== 0) {
      throw new SimInvariantError(`BuddyAllocator: size ${size} must be a positive multiple of the page size ${pageSize}`);
    }
    if (base + size > ADDR_LIMIT) throw new SimInvariantError(`BuddyAllocator: [${hex(base)}, +${size}) is beyond 2^53`);
    this.base = base;
    this.size = size;
    this.pageSize = pageSize;
    this.maxOrder = maxOrder;
    this.basePfn = base / pageSize;
    this.totalPages = size / pageSize;
    this.endPfn = this.basePfn + this.totalPages;
    for (let k = 0; k < maxOrder; k++) {
      this.free.push(new Set());
      this.heaps.push(new PfnHeap());
    }
    this.top = new BlockRuns(POW2[maxOrder]);
    this.addRange(this.basePfn, this.endPfn);
  }

  /** Free pages in total (nr_free_pages). */
  get freePageCount(): number {
    return this.nFree;
  }

  /**
   * alloc_pages(order): the physical address of a free block of 2^order pages, aligned
   * to its size (absolute), or null when no block of order >= `order` is free or
   * `order > maxOrder` (Linux WARNs and returns NULL). Address 0 is a valid result.
   * A negative or fractional order throws.
   */
  allocPages(order: number): number | null {
    if (!Number.isInteger(order) || order < 0) throw new SimInvariantError(`allocPages: bad order ${order}`);
    if (order > this.maxOrder) return null;
    for (let k = order; k <= this.maxOrder; k++) {
      const head = this.takeLowest(k);
      if (head < 0) continue;
      // expand(): keep the lower half, free the upper halves.
      for (let j = k - 1; j >= order; j--) this.addFree(head + POW2[j], j);
      this.allocated.set(head, order);
      return head * this.pageSize;
    }
    return null;
  }

  /**
   * __free_pages(addr, order): returns a block obtained from allocPages(order) and merges
   * it with its buddy up the orders. A free of anything else (double free, wrong order,
   * misaligned, outside the region, reserved) is reported through `misuse` with the
   * address and the reason, and changes nothing.
   */
  freePages(addr: number, order: number): void {
    const why = this.badFree(addr, order);
    if (why !== null) {
      this.misuse.report(`BUG: Bad page state: __free_pages(${hex(addr)}, order ${order}): ${why}; not freed`);
      return;
    }
    const pfn = addr / this.pageSize;
    this.allocated.delete(pfn);
    let head = pfn;
    let k = order;
    while (k < this.maxOrder) {
      const n = POW2[k];
      const buddy = (head / n) % 2 === 0 ? head + n : head - n;
      // Free blocks all lie inside the region, so a buddy reaching outside is never free.
      if (!this.free[k].has(buddy)) break;
      this.removeFree(buddy, k);
      if (buddy < head) head = buddy;
      k++;
    }
    this.addFree(head, k);
  }

  /** Why freePages(addr, order) does not match an allocation, or null when it does. */
  private badFree(addr: number, order: number): string | null {
    if (!Number.isInteger(order) || order < 0 || order > this.maxOrder) return `bad order (0..${this.maxOrder})`;
    if (!Number.isInteger(addr) || addr % this.pageSize !== 0) return 'address not page-aligned';
    const pfn = addr / this.pageSize;
    if (pfn < this.basePfn || pfn >= this.endPfn) return `address outside [${hex(this.base)}, ${hex(this.base + this.size)})`;
    const got = this.allocated.get(pfn);
    if (got === undefined) {
      return this.findFree(pfn) >= 0 ? 'page is free (double free?)' : this.isReservedPfn(pfn) ? 'page is reserved' : 'not the start of an allocated block';
    }
    return got === order ? null : `block was allocated with order ${got}`;
  }

  /**
   * memblock_reserve(): marks [addr, addr + size) as used for good (kernel image, a CMA
   * region). `addr` and `size` are page-aligned, `size > 0`, and the range lies inside the
   * region. Throws a SimInvariantError if any page of it is already used (allocated or
   * reserved); the allocator is unchanged then. Reserved pages count as allocated for
   * isAllocated() and can not be freed with freePages().
   */
  reserve(addr: number, size: number): void {
    const where = `reserve(${hex(addr)}, ${size})`;
    if (!Number.isInteger(addr) || addr % this.pageSize !== 0 || !Number.isInteger(size) || size <= 0 || size % this.pageSize !== 0) {
      throw new SimInvariantError(`${where}: address and size must be page-aligned and size > 0`);
    }
    const s = addr / this.pageSize;
    const e = s + size / this.pageSize;
    if (s < this.basePfn || e > this.endPfn) {
      throw new SimInvariantError(`${where}: outside [${hex(this.base)}, ${hex(this.base + this.size)})`);
    }
    // Check every page first, so that a failure changes nothing.
    for (let p = s; p < e; ) {
      const k = this.findFree(p);
      if (k < 0) throw new SimInvariantError(`${where}: page ${hex(p * this.pageSize)} is already in use`);
      p = p - (p % POW2[k]) + POW2[k];
    }
    for (let p = s; p < e; ) {
      const k = this.findFree(p);
      const head = p - (p % POW2[k]);
      const end = head + POW2[k];
      this.removeFree(head, k);
      if (head < s) this.addRange(head, s);
      if (end > e) this.addRange(e, end);
      p = end;
    }
    this.reserved.push([s, e]);
  }

  /** Number of free blocks of exactly `order` (0 for orders outside 0..maxOrder). */
  freeBlocks(order: number): number {
    return Number.isInteger(order) && order >= 0 && order <= this.maxOrder ? this.freeCount(order) : 0;
  }

  /**
   * Unusable free space index for `order` (Gorman & Whitcroft; mm/vmstat.c
   * unusable_free_index, as a fraction, not per mille):
   * 1 − (free pages in blocks of order >= `order`) / (all free pages); 0 when nothing is
   * free. 1 means no free block can satisfy an allocation of `order` (always so above
   * maxOrder).
   */
  fragmentation(order: number): number {
    if (!Number.isInteger(order) || order < 0) throw new SimInvariantError(`fragmentation: bad order ${order}`);
    if (this.nFree === 0) return 0;
    let suitable = 0;
    for (let k = order; k <= this.maxOrder; k++) suitable += this.freeCount(k) * POW2[k];
    return 1 - suitable / this.nFree;
  }

  /**
   * Whether the page holding `addr` is in use: allocated by allocPages() or reserved.
   * False for free pages and for addresses outside the region.
   */
  isAllocated(addr: number): boolean {
    if (!(addr >= this.base && addr < this.base + this.size)) return false;
    return this.findFree(Math.floor(addr / this.pageSize)) < 0;
  }

  // --- internals ---------------------------------------------------------------------

  /** Order of the free block containing `pfn`, or -1 if the page is not free. */
  private findFree(pfn: number): number {
    for (let k = 0; k <= this.maxOrder; k++) {
      if (this.isFree(pfn - (pfn % POW2[k]), k)) return k;
    }
    return -1;
  }

  private isFree(head: number, k: number): boolean {
    return k === this.maxOrder ? this.top.has(head) : this.free[k].has(head);
  }

  private freeCount(k: number): number {
    return k === this.maxOrder ? this.top.size : this.free[k].size;
  }

  private isReservedPfn(pfn: number): boolean {
    return this.reserved.some(([s, e]) => pfn >= s && pfn < e);
  }

  /** Adds [start, end) as the largest aligned blocks that fit, without merging. */
  private addRange(start: number, end: number): void {
    let p = start;
    const top = POW2[this.maxOrder];
    while (p < end) {
      if (p % top === 0 && p + top <= end) {
        // All whole top-order blocks from p on, as one run.
        const runEnd = end - (end % top);
        this.top.addRun(p, runEnd);
        this.nFree += runEnd - p;
        p = runEnd;
        continue;
      }
      let k = 0;
      while (k < this.maxOrder && p % POW2[k + 1] === 0 && p + POW2[k + 1] <= end) k++;
      this.addFree(p, k);
      p += POW2[k];
    }
  }

  private addFree(pfn: number, k: number): void {
    if (k === this.maxOrder) {
      this.top.add(pfn);
      this.nFree += POW2[k];
      return;
    }
    const set = this.free[k];
    set.add(pfn);
    const heap = this.heaps[k];
    heap.push(pfn);
    if (heap.length > 2 * set.size + 32) heap.reset(set);
    this.nFree += POW2[k];
  }

  private removeFree(pfn: number, k: number): void {
    if (k === this.maxOrder) this.top.delete(pfn);
    else this.free[k].delete(pfn); // its heap entry goes stale and is dropped when it surfaces
    this.nFree -= POW2[k];
  }

  /** Removes and returns the lowest free block head of order k, or -1. */
  private takeLowest(k: number): number {
    if (k === this.maxOrder) {
      const head = this.top.takeLowest();
      if (head >= 0) this.nFree -= POW2[k];
      return head;
    }
    const set = this.free[k];
    const heap = this.heaps[k];
    if (set.size === 0) {
      if (heap.length > 0) heap.reset([]);
      return -1;
    }
    for (;;) {
      const top = heap.peek() as number; // set is non-empty, so a live entry exists
      heap.pop();
      if (set.has(top)) {
        this.removeFree(top, k);
        return top;
      }
    }
  }
}
