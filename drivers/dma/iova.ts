/**
 * IOVA allocator: drivers/iommu/iova.c (struct iova_domain, alloc_iova, free_iova,
 * find_iova, reserve_iova, alloc_iova_fast, free_iova_fast and the per-size "rcache")
 * and the IOVA policy of drivers/iommu/dma-iommu.c (iommu_dma_alloc_iova /
 * iommu_dma_free_iova). The model is Linux v6.0-v6.3, where every piece below is as
 * described (later kernels differ in the points listed under "Differences").
 *
 * Units: the domain speaks in pfns of `granule` bytes (iova_shift = log2(granule)),
 * as Linux does; only iommuDmaAllocIova / iommuDmaFreeIova take bytes. Pfns and
 * addresses are plain numbers below 2^53 and are never put through 32-bit bitwise
 * operators (DESIGN.md "Addresses").
 *
 * Allocation (__alloc_and_insert_iova_range), exactly as Linux:
 * - Top-down: in each gap between allocated ranges the highest start that fits below
 *   the (exclusive) limit, walking the ranges downwards. With `sizeAligned` the start is
 *   `(high - size) & ~(roundup_pow_of_two(size) - 1)`, i.e. aligned to the size rounded
 *   up to a power of two (fls_long(size - 1) in Linux), so a 3-page range is 4-page
 *   aligned and its hole above is left unused.
 * - The walk starts at a cached node, not at the limit: `cached32` for limits at or
 *   below dma_32bit_pfn (= 2^32 bytes), `cached` above. A new range becomes the cached
 *   node of its half; freeing a range at or above a cached node moves that node to the
 *   range's successor. So search is next-fit downwards from the last allocation; only
 *   if nothing fits below it does a second pass (the "retry", from the limit down to
 *   just above the cached node) look at the holes above it. Freed space above the cached
 *   node is found at once, because the free moved the cached node above it; holes left
 *   by alignment are found only by the retry. The search is complete: null means no
 *   fitting, aligned hole exists in [startPfn, limit] - except for the next point.
 * - max32_alloc_size: a failed allocation of `size` pages (any limit) records `size`;
 *   later allocations with a limit at or below dma_32bit_pfn and `size` at least that
 *   fail at once, without a search, until a range starting below dma_32bit_pfn is
 *   freed. Linux does this to make a full 32-bit space cheap for 64-bit-capable
 *   devices; it can fail requests that would fit (e.g. after an aligned failure an
 *   unaligned request of the same size).
 *
 * Per-size cache (the rcache; "Magazines and Vmem", Bonwick & Adams, USENIX 2001):
 * - IOVA_RANGE_CACHE_MAX_SIZE = 6 bins, for sizes 1, 2, 4, 8, 16, 32 pages (bin =
 *   order_base_2(size)). alloc_iova_fast rounds sizes below 32 up to a power of two
 *   before anything else, so cached ranges are always reused at their own size;
 *   free_iova_fast bins by order_base_2 of the unrounded size, which matches.
 * - Each bin has a `loaded` and a `prev` magazine of IOVA_MAG_SIZE = 127 pfns and a
 *   depot of at most MAX_GLOBAL_MAGS = 32 full magazines. Free pushes onto `loaded`
 *   (swapping in `prev` if `loaded` is full; if both are full, `loaded` goes to the
 *   depot - or, when the depot is full, its 127 ranges go back to the tree - and an
 *   empty magazine is loaded). Allocation pops from `loaded` (swapping in `prev`, or
 *   taking a depot magazine, when `loaded` is empty): last freed, first reused, and the
 *   pop takes the topmost entry that lies below the limit.
 * - A miss in `loaded` is final even if `prev` or the depot holds a fitting pfn
 *   (iova_magazine_pop looks at one magazine), as in Linux.
 * - Cached ranges stay in the tree (they are allocated as far as allocIova is
 *   concerned). alloc_iova_fast with `flushRcache` frees every cached range and retries
 *   once when the tree allocation fails.
 *
 * Differences from Linux:
 * - No per-CPU caches: one deterministic set of magazines per bin (Linux has a
 *   loaded/prev pair per CPU and a shared depot). Results therefore never depend on
 *   which CPU ran the driver.
 * - The depot is the v4.7-v6.6 bounded array (MAX_GLOBAL_MAGS); v6.7+ keeps an
 *   unbounded list trimmed by delayed work every 100 ms, which would tie allocation
 *   results to wall-clock time.
 * - The tree is an AVL tree, not a red-black tree, with its nodes in typed arrays (a
 *   node id stands for a struct iova pointer; ids are reused after a free). Linux
 *   inserts starting from the node the search stopped at; we insert from the root. The
 *   anchor node (pfn ~0UL in Linux) has pfn 2^53. iova_find_limit returns the exact
 *   node (Linux starts from the anchor above dma_32bit_pfn); the walk from either ends
 *   in the same place. Results are Linux's; only the cost of each step differs.
 * - Failure is null, not pfn 0 / NULL, so pfn 0 is a valid result when startPfn is 0
 *   (Linux's alloc_iova_fast cannot tell pfn 0 from failure; that is why callers use
 *   start_pfn >= 1).
 * - Bad arguments (size < 1, non-integers, a granule that is not a power of two)
 *   throw a SimInvariantError; Linux has undefined behaviour or a BUG_ON. Linux's
 *   WARN_ONs (a cached pfn not in the tree, an out-of-range reserve_iova) go to the
 *   optional `warn` callback (wire it to Kernel.warn) and a `warnings` count.
 * - No check that a pfn given to freeIovaFast is allocated, as in Linux: a double free
 *   into the cache hands the range out twice. dma-debug is the layer that catches it.
 */
import { POW2 } from '../../sim/engine/addr';
import { SimInvariantError } from '../../sim/engine/errors';

/** log2 of the largest cached size plus one: bins for 2^0 .. 2^5 pages. */
export const IOVA_RANGE_CACHE_MAX_SIZE = 6;
/** pfns per magazine (127 since v6.0, so that a magazine is 1 KiB; 128 before). */
export const IOVA_MAG_SIZE = 127;
/** Full magazines a bin's depot holds (v4.7-v6.6). */
export const MAX_GLOBAL_MAGS = 32;

/** Pfn of the anchor node, above every usable pfn (Linux: IOVA_ANCHOR = ~0UL). */
const IOVA_ANCHOR = 2 ** 53;
/** Largest inclusive limit pfn accepted; larger limits are clamped to it. */
const MAX_LIMIT_PFN = 2 ** 53 - 2;
/** Sizes below this are rounded up to a power of two by alloc_iova_fast. */
const RCACHE_ROUNDUP_BELOW = 2 ** (IOVA_RANGE_CACHE_MAX_SIZE - 1);
const DMA_BIT_MASK_32 = 2 ** 32 - 1;
/** No node. */
const NIL = -1;

/** roundup_pow_of_two(n) for an integer n >= 1. */
function roundupPowOfTwo(n: number): number {
  if (n <= 0x4000_0000) return n <= 1 ? 1 : 2 ** (32 - Math.clz32(n - 1));
  let p = 2 ** 31;
  while (p < n) p *= 2;
  return p;
}

/** order_base_2(n) (ceil(log2 n)) for 1 <= n <= 2^30; larger n give 31. */
function orderBase2(n: number): number {
  if (n > 0x4000_0000) return 31;
  return n <= 1 ? 0 : 32 - Math.clz32(n - 1);
}

class IovaMagazine {
  size = 0;
  readonly pfns = new Float64Array(IOVA_MAG_SIZE);
}

/** struct iova_rcache with a single CPU's struct iova_cpu_rcache folded in. */
class IovaRcache {
  loaded = new IovaMagazine();
  prev = new IovaMagazine();
  readonly depot: IovaMagazine[] = [];
}

export interface IovaDomainOptions {
  /** Where Linux's WARN_ONs go, e.g. `(m) => kernel.warn('iova', m)`. */
  warn?: (message: string) => void;
}

/**
 * struct iova_domain: the allocated ranges of one IOVA space, top-down allocation and
 * the per-size cache. See the file comment for the policy and the Linux sources.
 */
export class IovaDomain {
  /** iova_shift(): log2(granule). */
  readonly shift: number;
  /** dma_32bit_pfn: the first pfn at or above 2^32 bytes. */
  readonly dma32bitPfn: number;
  /** WARN_ONs seen (also reported to the `warn` callback). */
  warnings = 0;

  // The tree: node id -> pfn_lo, pfn_hi, links and AVL height. NIL is -1. Free node
  // ids are chained through `right`.
  private lo: Float64Array;
  private hi: Float64Array;
  private left: Int32Array;
  private right: Int32Array;
  private parent: Int32Array;
  private height: Int32Array;
  private root: number;
  private freeNode = NIL;
  private nodes = 0;
  /** The anchor node, above every usable pfn. */
  private readonly anchor: number;
  /** cached32_node and cached_node (node ids). */
  private cached32: number;
  private cached: number;
  /** max32_alloc_size. */
  private max32AllocSize: number;
  private pages = 0;
  private nCached = 0;
  private readonly rcaches: IovaRcache[] = [];
  private readonly spareMags: IovaMagazine[] = [];
  private readonly warnFn: ((message: string) => void) | undefined;

  /**
   * init_iova_domain(iovad, granule, start_pfn) plus iova_domain_init_rcaches():
   * an empty domain of `granule`-byte pages (a power of two, at most 2^32) whose
   * allocations never go below `startPfn` (Linux callers pass 1 or more so that IOVA 0
   * is never handed out). Linux BUG_ONs a granule above PAGE_SIZE; we have no CPU page
   * size here and accept any power of two up to 2^32.
   */
  constructor(readonly granule: number, readonly startPfn: number, opts: IovaDomainOptions = {}) {
    const shift = Math.round(Math.log2(granule));
    if (!Number.isInteger(granule) || granule < 1 || POW2[shift] !== granule || shift > 32) {
      throw new SimInvariantError(`IovaDomain: granule must be a power of two <= 2^32, got ${granule}`);
    }
    if (!Number.isInteger(startPfn) || startPfn < 0 || startPfn > MAX_LIMIT_PFN) {
      throw new SimInvariantError(`IovaDomain: bad startPfn ${startPfn}`);
    }
    this.shift = shift;
    this.dma32bitPfn = POW2[32 - shift];
    this.max32AllocSize = this.dma32bitPfn;
    const cap = 64;
    this.lo = new Float64Array(cap);
    this.hi = new Float64Array(cap);
    this.left = new Int32Array(cap);
    this.right = new Int32Array(cap);
    this.parent = new Int32Array(cap);
    this.height = new Int32Array(cap);
    for (let i = 0; i < cap; i++) this.right[i] = i + 1 < cap ? i + 1 : NIL;
    this.freeNode = 0;
    this.root = NIL;
    this.anchor = this.newNode(IOVA_ANCHOR, IOVA_ANCHOR);
    this.linkNode(this.anchor);
    this.nodes = 0; // the anchor is not counted
    this.cached32 = this.anchor;
    this.cached = this.anchor;
    for (let i = 0; i < IOVA_RANGE_CACHE_MAX_SIZE; i++) this.rcaches.push(new IovaRcache());
    this.warnFn = opts.warn;
  }

  /**
   * Pages in the domain's tree: live allocations, ranges parked in the rcache (they
   * stay allocated in Linux too) and reserved ranges. The anchor is not counted.
   */
  get allocatedPages(): number {
    return this.pages;
  }

  /** IOVA ranges currently held in the rcache (all bins, magazines and depot). */
  get cachedCount(): number {
    return this.nCached;
  }

  /** Number of ranges in the tree (allocated, cached and reserved), for stats. */
  get rangeCount(): number {
    return this.nodes;
  }

  /**
   * alloc_iova(iovad, size, limit_pfn, size_aligned): `size` pages ending at or below
   * `limitPfn` (inclusive) and starting at or above startPfn, searched top-down from
   * the cached node (next-fit; see the file comment); with `sizeAligned` the start is a
   * multiple of roundup_pow_of_two(size). On an empty domain that is the top of the
   * limit. Returns the first pfn, or null (Linux: NULL) when nothing fits. Limits above
   * 2^53 - 2 are clamped.
   */
  allocIova(size: number, limitPfn: number, sizeAligned: boolean): number | null {
    if (!Number.isInteger(size) || size < 1) throw new SimInvariantError(`allocIova: bad size ${size}`);
    if (!(limitPfn >= 0)) throw new SimInvariantError(`allocIova: bad limit_pfn ${limitPfn}`);
    const limit = Math.floor(Math.min(limitPfn, MAX_LIMIT_PFN)) + 1;
    return this.allocAndInsertRange(size, limit, sizeAligned);
  }

  /**
   * find_iova(iovad, pfn): the range (allocated, cached or reserved) containing `pfn`,
   * or null.
   */
  findIova(pfn: number): { pfnLo: number; pfnHi: number } | null {
    const x = this.privateFindIova(pfn);
    return x === NIL ? null : { pfnLo: this.lo[x], pfnHi: this.hi[x] };
  }

  /**
   * free_iova(iovad, pfn): frees the range containing `pfn` (find_iova + __free_iova;
   * as in Linux any pfn of the range identifies it, normally its first). Returns false
   * if no range contains `pfn` (Linux returns silently).
   */
  freeIova(pfn: number): boolean {
    const x = this.privateFindIova(pfn);
    if (x === NIL) return false;
    this.removeIova(x);
    return true;
  }

  /**
   * reserve_iova(iovad, pfn_lo, pfn_hi): keeps [pfnLo, pfnHi] out of every later
   * allocation. As in Linux, ranges already in the tree that overlap it absorb the
   * parts of it below them (the first overlapping range grows downwards to pfnLo, a
   * later one down to the end of the previous) and only the part above the last
   * overlapping range becomes a new range; reserving inside one existing range changes
   * nothing. Returns false (Linux: NULL, with a WARN_ON for pfns beyond the address
   * space) if pfnLo > pfnHi or the range reaches 2^53 - 1.
   */
  reserveIova(pfnLo: number, pfnHi: number): boolean {
    if (!Number.isInteger(pfnLo) || !Number.isInteger(pfnHi) || pfnLo < 0 || pfnLo > pfnHi) return false;
    if (pfnHi > MAX_LIMIT_PFN) {
      this.warnOn(`reserve_iova: pfn range [${pfnLo}, ${pfnHi}] beyond the address space`);
      return false;
    }
    const lo = this.lo;
    const hi = this.hi;
    // Linux walks from rb_first; ranges wholly below pfnLo cannot overlap, so start at
    // the first range whose pfn_hi >= pfnLo. Lowering a node's pfn_lo in place keeps
    // the order: the space below it down to pfnLo is free.
    let overlap = false;
    for (let x = this.iovaFindLimit(pfnLo); x !== this.anchor; x = this.rbNext(x)) {
      if (pfnLo <= hi[x] && pfnHi >= lo[x]) {
        // __adjust_overlap_range
        if (pfnLo < lo[x]) {
          this.pages += lo[x] - pfnLo;
          lo[x] = pfnLo;
        }
        if (pfnHi > hi[x]) pfnLo = hi[x] + 1;
        if (pfnLo >= lo[x] && pfnHi <= hi[x]) return true;
        overlap = true;
      } else if (overlap) {
        break;
      }
    }
    this.insertRange(pfnLo, pfnHi);
    return true;
  }

  /**
   * alloc_iova_fast(iovad, size, limit_pfn, flush_rcache): sizes below 32 pages are
   * rounded up to a power of two; then the rcache bin of that size (the most recently
   * freed pfn that ends at or below `limitPfn`), then allocIova(size, limitPfn, true).
   * If that fails and `flushRcache` is set, every cached range is freed and the tree
   * allocation is tried once more. Returns the first pfn or null (Linux: 0).
   */
  allocIovaFast(size: number, limitPfn: number, flushRcache: boolean): number | null {
    if (!Number.isInteger(size) || size < 1) throw new SimInvariantError(`allocIovaFast: bad size ${size}`);
    if (!(limitPfn >= 0)) throw new SimInvariantError(`allocIovaFast: bad limit_pfn ${limitPfn}`);
    if (size < RCACHE_ROUNDUP_BELOW) size = roundupPowOfTwo(size);
    const limit = Math.floor(Math.min(limitPfn, MAX_LIMIT_PFN)) + 1;
    const logSize = orderBase2(size);
    if (logSize < IOVA_RANGE_CACHE_MAX_SIZE) {
      const pfn = this.rcacheGet(this.rcaches[logSize], limit - size);
      if (pfn >= 0) return pfn;
    }
    let pfn = this.allocAndInsertRange(size, limit, true);
    if (pfn === null && flushRcache) {
      this.freeCpuCachedIovas();
      this.freeGlobalCachedIovas();
      pfn = this.allocAndInsertRange(size, limit, true);
    }
    return pfn;
  }

  /**
   * free_iova_fast(iovad, pfn, size): `size` (pages, as passed to allocIovaFast, rounded
   * or not) picks the bin order_base_2(size); sizes above 32 pages, and a range pushed
   * out by a full depot, go back to the tree with freeIova. `pfn` must be the first pfn
   * of a range allocated with allocIovaFast; this is not checked (as in Linux).
   */
  freeIovaFast(pfn: number, size: number): void {
    if (!Number.isInteger(size) || size < 1) throw new SimInvariantError(`freeIovaFast: bad size ${size}`);
    const logSize = orderBase2(size);
    if (logSize < IOVA_RANGE_CACHE_MAX_SIZE) {
      this.rcacheInsert(this.rcaches[logSize], pfn);
      return;
    }
    this.freeIova(pfn);
  }

  /**
   * free_cpu_cached_iovas(cpu, iovad) for our single CPU: frees the ranges in every
   * bin's loaded and prev magazines back to the tree (bin 0 first, loaded before prev,
   * each magazine in push order).
   */
  freeCpuCachedIovas(): void {
    for (const rc of this.rcaches) {
      this.magazineFreePfns(rc.loaded);
      this.magazineFreePfns(rc.prev);
    }
  }

  /** free_global_cached_iovas(iovad): frees every depot magazine's ranges (bin 0 first). */
  freeGlobalCachedIovas(): void {
    for (const rc of this.rcaches) {
      for (const mag of rc.depot) {
        this.magazineFreePfns(mag);
        this.spareMags.push(mag);
      }
      rc.depot.length = 0;
    }
  }

  // ---- the tree ------------------------------------------------------------------

  /**
   * __alloc_and_insert_iova_range with `limit` exclusive (alloc_iova passes
   * limit_pfn + 1). Returns the new range's pfn_lo or null (-ENOMEM).
   */
  private allocAndInsertRange(size: number, limit: number, sizeAligned: boolean): number | null {
    const lo = this.lo;
    const hi = this.hi;
    const align = sizeAligned ? roundupPowOfTwo(size) : 1;
    const dma32 = this.dma32bitPfn;
    if (limit <= dma32 && size >= this.max32AllocSize) return null;

    let high = limit;
    let low = this.startPfn;
    // __get_cached_rbnode
    let curr = limit <= dma32 ? this.cached32 : this.cached;
    const retryPfn = hi[curr];
    let newPfn: number;
    let retried = false;
    for (;;) {
      do {
        if (lo[curr] < high) high = lo[curr];
        // (high - size) & align_mask; an underflow (high < size) ends the walk as the
        // wrapped unsigned value does in Linux, and fails below.
        newPfn = high < size ? -1 : high - size - ((high - size) % align);
        curr = this.rbPrev(curr);
      } while (curr !== NIL && newPfn <= hi[curr] && newPfn >= low);

      if (high < size || newPfn < low) {
        if (low === this.startPfn && retryPfn < limit && !retried) {
          // Retry above the cached node, from the node iova_find_limit returns.
          high = limit;
          low = retryPfn + 1;
          curr = this.iovaFindLimit(limit);
          retried = true;
          continue;
        }
        this.max32AllocSize = size;
        return null;
      }
      break;
    }
    const x = this.insertRange(newPfn, newPfn + size - 1);
    // __cached_rbnode_insert_update
    if (newPfn + size - 1 < dma32) this.cached32 = x;
    else this.cached = x;
    return newPfn;
  }

  /** private_find_iova: the node containing `pfn` (never the anchor), or NIL. */
  private privateFindIova(pfn: number): number {
    const lo = this.lo;
    const hi = this.hi;
    let x = this.root;
    while (x !== NIL) {
      if (pfn < lo[x]) x = this.left[x];
      else if (pfn > hi[x]) x = this.right[x];
      else return x === this.anchor ? NIL : x;
    }
    return NIL;
  }

  /**
   * iova_find_limit: the lowest node whose pfn_hi >= `pfn` (the anchor at the latest),
   * where a downward walk for an exclusive limit `pfn` starts.
   */
  private iovaFindLimit(pfn: number): number {
    const hi = this.hi;
    let x = this.root;
    let best = this.anchor;
    while (x !== NIL) {
      if (hi[x] >= pfn) {
        best = x;
        x = this.left[x];
      } else {
        x = this.right[x];
      }
    }
    return best;
  }

  /** rb_prev: the node below `x`, or NIL. */
  private rbPrev(x: number): number {
    const left = this.left;
    let y = left[x];
    if (y !== NIL) {
      const right = this.right;
      while (right[y] !== NIL) y = right[y];
      return y;
    }
    const parent = this.parent;
    y = parent[x];
    while (y !== NIL && x === left[y]) {
      x = y;
      y = parent[y];
    }
    return y;
  }

  /** rb_next: the node above `x`, or NIL. */
  private rbNext(x: number): number {
    const right = this.right;
    let y = right[x];
    if (y !== NIL) {
      const left = this.left;
      while (left[y] !== NIL) y = left[y];
      return y;
    }
    const parent = this.parent;
    y = parent[x];
    while (y !== NIL && x === right[y]) {
      x = y;
      y = parent[y];
    }
    return y;
  }

  /** alloc_and_init_iova + iova_insert_rbtree: a new node for [pfnLo, pfnHi]. */
  private insertRange(pfnLo: number, pfnHi: number): number {
    const x = this.newNode(pfnLo, pfnHi);
    this.linkNode(x);
    this.nodes++;
    this.pages += pfnHi - pfnLo + 1;
    return x;
  }

  /** remove_iova: __cached_rbnode_delete_update, then rb_erase; frees the node. */
  private removeIova(z: number): void {
    const lo = this.lo;
    const fLo = lo[z];
    const fHi = this.hi[z];
    const dma32 = this.dma32bitPfn;
    const c32 = this.cached32;
    if (c32 === z || (fHi < dma32 && fLo >= lo[c32])) this.cached32 = this.rbNext(z);
    if (fLo < dma32) this.max32AllocSize = dma32;
    if (fLo >= lo[this.cached]) this.cached = this.rbNext(z);
    this.eraseNode(z);
    this.right[z] = this.freeNode;
    this.freeNode = z;
    this.nodes--;
    this.pages -= fHi - fLo + 1;
  }

  private newNode(pfnLo: number, pfnHi: number): number {
    if (this.freeNode === NIL) this.growNodes();
    const x = this.freeNode;
    this.freeNode = this.right[x];
    this.lo[x] = pfnLo;
    this.hi[x] = pfnHi;
    return x;
  }

  private growNodes(): void {
    const old = this.lo.length;
    const cap = old * 2;
    const f64 = (a: Float64Array) => { const b = new Float64Array(cap); b.set(a); return b; };
    const i32 = (a: Int32Array) => { const b = new Int32Array(cap); b.set(a); return b; };
    this.lo = f64(this.lo);
    this.hi = f64(this.hi);
    this.left = i32(this.left);
    this.right = i32(this.right);
    this.parent = i32(this.parent);
    this.height = i32(this.height);
    for (let i = old; i < cap; i++) this.right[i] = i + 1 < cap ? i + 1 : NIL;
    this.freeNode = old;
  }

  /** BST insert by pfn_lo, then AVL rebalance up from the parent. */
  private linkNode(z: number): void {
    const lo = this.lo;
    const key = lo[z];
    let y = NIL;
    let x = this.root;
    while (x !== NIL) {
      y = x;
      x = key < lo[x] ? this.left[x] : this.right[x];
    }
    this.parent[z] = y;
    this.left[z] = NIL;
    this.right[z] = NIL;
    this.height[z] = 1;
    if (y === NIL) this.root = z;
    else if (key < lo[y]) this.left[y] = z;
    else this.right[y] = z;
    this.rebalanceFrom(y);
  }

  /** BST delete that relinks (not copies) the successor, so node ids stay valid. */
  private eraseNode(z: number): void {
    const left = this.left;
    const right = this.right;
    const parent = this.parent;
    let start: number;
    if (left[z] === NIL) {
      start = parent[z];
      this.transplant(z, right[z]);
    } else if (right[z] === NIL) {
      start = parent[z];
      this.transplant(z, left[z]);
    } else {
      let y = right[z];
      while (left[y] !== NIL) y = left[y];
      if (parent[y] !== z) {
        start = parent[y];
        this.transplant(y, right[y]);
        right[y] = right[z];
        parent[right[y]] = y;
      } else {
        start = y;
      }
      this.transplant(z, y);
      left[y] = left[z];
      parent[left[y]] = y;
    }
    this.rebalanceFrom(start);
  }

  private transplant(u: number, v: number): void {
    const p = this.parent[u];
    if (p === NIL) this.root = v;
    else if (u === this.left[p]) this.left[p] = v;
    else this.right[p] = v;
    if (v !== NIL) this.parent[v] = p;
  }

  private h(x: number): number {
    return x === NIL ? 0 : this.height[x];
  }

  /** Recomputes heights from `x` to the root, rotating where a node is out of balance. */
  private rebalanceFrom(x: number): void {
    const left = this.left;
    const right = this.right;
    while (x !== NIL) {
      const hl = this.h(left[x]);
      const hr = this.h(right[x]);
      if (hl > hr + 1) {
        const l = left[x];
        if (this.h(left[l]) < this.h(right[l])) this.rotateLeft(l);
        x = this.rotateRight(x);
      } else if (hr > hl + 1) {
        const r = right[x];
        if (this.h(right[r]) < this.h(left[r])) this.rotateRight(r);
        x = this.rotateLeft(x);
      } else {
        this.height[x] = (hl > hr ? hl : hr) + 1;
      }
      x = this.parent[x];
    }
  }

  /** Rotates `x` down to the left; returns the node now in its place. */
  private rotateLeft(x: number): number {
    const left = this.left;
    const right = this.right;
    const parent = this.parent;
    const y = right[x];
    right[x] = left[y];
    if (left[y] !== NIL) parent[left[y]] = x;
    this.transplant(x, y);
    left[y] = x;
    parent[x] = y;
    this.fixHeight(x);
    this.fixHeight(y);
    return y;
  }

  /** Rotates `x` down to the right; returns the node now in its place. */
  private rotateRight(x: number): number {
    const left = this.left;
    const right = this.right;
    const parent = this.parent;
    const y = left[x];
    left[x] = right[y];
    if (right[y] !== NIL) parent[right[y]] = x;
    this.transplant(x, y);
    right[y] = x;
    parent[x] = y;
    this.fixHeight(x);
    this.fixHeight(y);
    return y;
  }

  private fixHeight(x: number): void {
    const hl = this.h(this.left[x]);
    const hr = this.h(this.right[x]);
    this.height[x] = (hl > hr ? hl : hr) + 1;
  }

  /** Checks the tree's order, links and balance (tests; O(n)). */
  checkTree(): void {
    let count = 0;
    const walk = (x: number, p: number, min: number, max: number): number => {
      if (x === NIL) return 0;
      if (this.parent[x] !== p) throw new SimInvariantError(`iova tree: bad parent link at node ${x}`);
      if (this.lo[x] < min || this.hi[x] > max || this.lo[x] > this.hi[x]) {
        throw new SimInvariantError(`iova tree: node ${x} [${this.lo[x]}, ${this.hi[x]}] out of order`);
      }
      const hl = walk(this.left[x], x, min, this.lo[x] - 1);
      const hr = walk(this.right[x], x, this.hi[x] + 1, max);
      if (Math.abs(hl - hr) > 1 || this.height[x] !== Math.max(hl, hr) + 1) {
        throw new SimInvariantError(`iova tree: node ${x} unbalanced or bad height`);
      }
      count++;
      return this.height[x];
    };
    walk(this.root, NIL, -Infinity, Infinity);
    if (count !== this.nodes + 1) throw new SimInvariantError(`iova tree: ${count} nodes, expected ${this.nodes + 1}`);
  }

  // ---- the rcache ----------------------------------------------------------------

  /** __iova_rcache_insert: always succeeds here (Linux fails only if kmalloc does). */
  private rcacheInsert(rc: IovaRcache, pfn: number): void {
    let magToFree: IovaMagazine | null = null;
    if (rc.loaded.size === IOVA_MAG_SIZE) {
      if (rc.prev.size !== IOVA_MAG_SIZE) {
        const t = rc.prev;
        rc.prev = rc.loaded;
        rc.loaded = t;
      } else {
        if (rc.depot.length < MAX_GLOBAL_MAGS) rc.depot.push(rc.loaded);
        else magToFree = rc.loaded;
        rc.loaded = this.spareMags.pop() ?? new IovaMagazine();
      }
    }
    const mag = rc.loaded;
    mag.pfns[mag.size++] = pfn;
    this.nCached++;
    if (magToFree) {
      this.magazineFreePfns(magToFree);
      this.spareMags.push(magToFree);
    }
  }

  /**
   * __iova_rcache_get + iova_magazine_pop: a cached pfn <= `limit` (= limit_pfn + 1 -
   * size, so the range ends at or below the caller's limit), or -1.
   */
  private rcacheGet(rc: IovaRcache, limit: number): number {
    let mag = rc.loaded;
    if (mag.size === 0) {
      if (rc.prev.size !== 0) {
        rc.loaded = rc.prev;
        rc.prev = mag;
      } else if (rc.depot.length > 0) {
        this.spareMags.push(mag);
        rc.loaded = rc.depot.pop()!;
      } else {
        return -1;
      }
      mag = rc.loaded;
    }
    const pfns = mag.pfns;
    // Topmost entry that fits; only fall back to the tree if none does.
    let i = mag.size - 1;
    while (pfns[i] > limit) {
      if (i === 0) return -1;
      i--;
    }
    const pfn = pfns[i];
    pfns[i] = pfns[--mag.size];
    this.nCached--;
    return pfn;
  }

  /** iova_magazine_free_pfns: every pfn of `mag` back to the tree; `mag` ends empty. */
  private magazineFreePfns(mag: IovaMagazine): void {
    for (let i = 0; i < mag.size; i++) {
      const x = this.privateFindIova(mag.pfns[i]);
      if (x === NIL) {
        this.warnOn(`iova_magazine_free_pfns: cached pfn ${mag.pfns[i]} is not allocated`);
        continue;
      }
      this.removeIova(x);
    }
    this.nCached -= mag.size;
    mag.size = 0;
  }

  private warnOn(message: string): void {
    this.warnings++;
    this.warnFn?.(message);
  }
}

/**
 * iommu_dma_alloc_iova(domain, size, dma_limit, dev): an IOVA (bytes, granule-aligned)
 * for `size` bytes (rounded up to the granule, as iova_align does in the callers) that
 * ends at or below `dmaLimit` (the device's DMA mask, e.g. 2^40 - 1), or null (Linux:
 * 0, which the callers turn into DMA_MAPPING_ERROR).
 *
 * Policy ("Try to use all the 32-bit PCI addresses first", dma-iommu.c): if the limit
 * is above DMA_BIT_MASK(32) and `forceDac` (iommu.forcedac=1) is not set, first
 * alloc_iova_fast below 4 GiB without flushing the rcache; if that fails, alloc_iova_fast
 * up to the full limit, flushing the rcache on failure. Sizes below 32 pages are rounded
 * up to a power of two and every allocation is size-aligned (alloc_iova_fast).
 *
 * Differences from Linux: the caller passes the effective limit (Linux first clamps the
 * mask to dev->bus_dma_limit and the domain aperture); the 32-bit attempt is made for
 * every device whose limit allows more (Linux v5.13-v6.3 restrict it to PCI devices;
 * v6.4+ also stop trying for a device after its first 32-bit failure, a per-device flag
 * not modelled here); the MSI cookie case is not modelled.
 */
export function iommuDmaAllocIova(iovad: IovaDomain, size: number, dmaLimit: number, opts?: { forceDac?: boolean }): number | null {
  if (!(size > 0)) throw new SimInvariantError(`iommuDmaAllocIova: bad size ${size}`);
  const g = iovad.granule;
  const iovaLen = Math.ceil(size / g);
  if (dmaLimit > DMA_BIT_MASK_32 && !opts?.forceDac) {
    const pfn = iovad.allocIovaFast(iovaLen, Math.floor(DMA_BIT_MASK_32 / g), false);
    if (pfn !== null) return pfn * g;
  }
  const pfn = iovad.allocIovaFast(iovaLen, Math.floor(dmaLimit / g), true);
  return pfn === null ? null : pfn * g;
}

/**
 * iommu_dma_free_iova(cookie, iova, size) in strict mode: free_iova_fast of the pfn of
 * `iova` and `size` bytes rounded up to the granule - the IOVA and size given to and
 * returned by iommuDmaAllocIova. (The flush-queue / non-strict path, which defers the
 * free until after an IOTLB flush, belongs to the iommu-dma layer.)
 */
export function iommuDmaFreeIova(iovad: IovaDomain, iova: number, size: number): void {
  const g = iovad.granule;
  iovad.freeIovaFast(Math.floor(iova / g), Math.ceil(size / g));
}
