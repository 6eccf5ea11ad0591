import { ADDR_LIMIT, hex, isPowerOfTwo, POW2 } from '../../sim/engine/addr';
import { SimInvariantError } from '../../sim/engine/errors';
import { bitmapClear, bitmapSet, findNextZeroArea } from './bitmap';
import { MisuseReporter } from './misuse';

/**
 * A CMA-like contiguous memory region (mm/cma.c) for devices without an IOMMU
 * (one-to-one, direct-mapped): physically contiguous blocks carved from a range that is
 * reserved from the buddy allocator at boot.
 *
 * Semantics:
 * - alloc mirrors cma_alloc(cma, count, align): `count` pages aligned to 2^align pages
 *   in absolute page-frame numbers (bitmap_find_next_zero_area_off with the region's
 *   base offset), the lowest such position first. One bit per page (order_per_bit 0).
 *   There is no page migration to fail, so a free range is always usable.
 * - release mirrors cma_release(cma, pages, count), but stricter: Linux only checks that
 *   the pages lie in the area; here the range must be exactly one block returned by
 *   alloc (same start, same page count), else release returns false, changes nothing,
 *   and reports the misuse through `misuse` (the kernel log and
 *   `kernel.mm.cma.bad_frees` once the platform wires it; misuse.ts). Linux warns too
 *   when the range is inside the area but not allocated (free_contig_range: "Bad page
 *   state" / "pages are still in use").
 */
export class ContiguousRegion {
  readonly name: string;
  readonly base: number;
  readonly size: number;
  readonly pageSize: number;

  private readonly map: Uint8Array;
  private readonly basePfn: number;
  /** Allocated blocks: first page index (relative) → page count. */
  private readonly blocks = new Map<number, number>();
  private usedPages = 0;
  /** Refused releases (misuse.ts); the platform points its sink at the kernel log. */
  readonly misuse = new MisuseReporter();

  /**
   * cma_declare_contiguous / cma_init_reserved_mem: the region [base, base + size).
   * `base` and `size` are multiples of `pageSize` (a power of two), `size > 0`.
   */
  constructor(name: string, base: number, size: number, pageSize = 4096) {
    const where = `ContiguousRegion ${name}`;
    if (!isPowerOfTwo(pageSize)) throw new SimInvariantError(`${where}: page size must be a power of two, got ${pageSize}`);
    if (!Number.isInteger(base) || base < 0 || base % pageSize !== 0 || !Number.isInteger(size) || size <= 0 || size % pageSize !== 0) {
      throw new SimInvariantError(`${where}: base ${hex(base)} and size ${size} must be multiples of the page size ${pageSize}, size > 0`);
    }
    if (base + size > ADDR_LIMIT) throw new SimInvariantError(`${where}: beyond 2^53`);
    if (size / pageSize > 2 ** 31) throw new SimInvariantError(`${where}: more than 2^31 pages`);
    this.name = name;
    this.base = base;
    this.size = size;
    this.pageSize = pageSize;
    this.basePfn = base / pageSize;
    this.map = new Uint8Array(size / pageSize);
  }

  /**
   * cma_alloc(): a physically contiguous block of `size` bytes (rounded up to pages)
   * whose page-frame number is a multiple of 2^alignOrder, the lowest-addressed one that
   * fits; null if none fits or `size <= 0`. A negative or fractional alignOrder throws.
   */
  alloc(size: number, alignOrder = 0): number | null {
    if (!Number.isInteger(alignOrder) || alignOrder < 0 || alignOrder > 52) {
      throw new SimInvariantError(`cma_alloc(${this.name}): bad alignOrder ${alignOrder}`);
    }
    if (!(size > 0) || !Number.isFinite(size)) return null;
    const count = Math.ceil(size / this.pageSize);
    if (count > this.map.length - this.usedPages) return null;
    const align = POW2[alignOrder];
    const i = findNextZeroArea(this.map, 0, count, align, this.basePfn % align);
    if (i < 0) return null;
    bitmapSet(this.map, i, count);
    this.blocks.set(i, count);
    this.usedPages += count;
    return this.base + i * this.pageSize;
  }

  /**
   * cma_release(): returns the block at `addr` of `size` bytes (rounded up to pages).
   * False, with nothing changed, unless [addr, addr + size) is exactly one block that
   * alloc returned and that is still allocated.
   */
  release(addr: number, size: number): boolean {
    const why = this.badRelease(addr, size);
    if (why !== null) {
      this.misuse.report(`cma_release(${this.name}, ${hex(addr)}, ${size}): ${why}; nothing freed`);
      return false;
    }
    const i = (addr - this.base) / this.pageSize;
    const count = Math.ceil(size / this.pageSize);
    this.blocks.delete(i);
    bitmapClear(this.map, i, count);
    this.usedPages -= count;
    return true;
  }

  /** Why release(addr, size) does not match one allocated block, or null when it does. */
  private badRelease(addr: number, size: number): string | null {
    if (!(size > 0) || !Number.isFinite(size)) return 'bad size';
    if (!this.contains(addr, size)) return `range outside [${hex(this.base)}, ${hex(this.base + this.size)})`;
    const off = addr - this.base;
    if (!Number.isInteger(off) || off % this.pageSize !== 0) return 'address not page-aligned';
    const got = this.blocks.get(off / this.pageSize);
    if (got === undefined) return this.map[off / this.pageSize] === 0 ? 'pages are free (double release?)' : 'not the start of an allocated block';
    const count = Math.ceil(size / this.pageSize);
    return got === count ? null : `block was allocated with ${got} pages, not ${count}`;
  }

  /** Bytes in allocated blocks. */
  get usedBytes(): number {
    return this.usedPages * this.pageSize;
  }

  /** Bytes not allocated (not necessarily contiguous). */
  get freeBytes(): number {
    return this.size - this.usedBytes;
  }

  /** True if [addr, addr + size) lies inside the region; `size <= 0` checks the byte at `addr`. */
  contains(addr: number, size: number): boolean {
    const n = size > 0 ? size : 1;
    return addr >= this.base && addr + n <= this.base + this.size;
  }
}
