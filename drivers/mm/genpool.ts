import { ADDR_LIMIT, hex, POW2 } from '../../sim/engine/addr';
import { SimInvariantError } from '../../sim/engine/errors';
import { bitmapClear, bitmapSet, findBit, findNextZeroArea } from './bitmap';
import { MisuseReporter } from './misuse';

/**
 * Allocation algorithms of lib/genalloc.c:
 * - `first-fit` (gen_pool_first_fit): the lowest-addressed free run that fits.
 * - `first-fit-aligned` (gen_pool_first_fit_align): the lowest-addressed fit whose start
 *   is aligned to 2^alignOrder bytes (absolute address).
 * - `best-fit` (gen_pool_best_fit): the smallest free run that fits; among runs of equal
 *   length the lowest-addressed one; an exact fit ends the search. The block is taken
 *   from the start of that run.
 */
export type GenPoolAlgo = 'first-fit' | 'first-fit-aligned' | 'best-fit';

interface Chunk {
  base: number;
  size: number;
  /** One byte per granule: 0 free, 1 allocated. */
  map: Uint8Array;
  /** Absolute number of the chunk's first granule. */
  firstGranule: number;
  used: number;
}

const MAX_MIN_ALLOC_ORDER = 52;

/**
 * A general-purpose special-memory allocator (lib/genalloc.c, gen_pool_*): chunks of
 * address space managed by a bitmap of 2^minAllocOrder-byte granules. Used for on-chip
 * SRAM, declared device memory, and IOVA-like ranges.
 *
 * Semantics:
 * - Sizes are rounded up to the granularity; an allocation lies inside one chunk (chunks
 *   are never merged, even when adjacent), as in Linux.
 * - Chunks are searched in ascending address order. (Linux walks its chunk list
 *   newest-first; address order makes results independent of addChunk order.) best-fit
 *   is pool-wide: the smallest fitting run over all chunks (Linux picks it per chunk,
 *   taking the first chunk that has any fit); with one chunk the two agree.
 * - Like gen_pool_free, free() does not track allocation sizes: any range whose granules
 *   are all allocated may be freed, including part of an allocation. Freeing a granule
 *   that is free, a range outside one chunk, a bad size or a misaligned address is API
 *   misuse (Linux: BUG_ON / BUG in gen_pool_free_owner): it is reported through
 *   `misuse` (the kernel log and `kernel.mm.genpool.bad_frees` once wired, misuse.ts)
 *   and frees nothing.
 * - Address 0 is a valid allocation: failure is null (Linux returns 0).
 * - A misaligned address passed to allocAt throws (Linux silently rounds down).
 */
export class GenPool {
  /** Bytes per granule, 2^minAllocOrder. */
  readonly granularity: number;
  private readonly chunks: Chunk[] = [];
  private algo: GenPoolAlgo;
  /** Refused frees (misuse.ts); its owner points the sink at the kernel log. */
  readonly misuse = new MisuseReporter();

  /**
   * gen_pool_create(minAllocOrder): an empty pool with 2^minAllocOrder-byte granules
   * (12 for page granularity) using `algo` (default first-fit, as gen_pool_create).
   */
  constructor(readonly minAllocOrder: number, algo: GenPoolAlgo = 'first-fit') {
    if (!Number.isInteger(minAllocOrder) || minAllocOrder < 0 || minAllocOrder > MAX_MIN_ALLOC_ORDER) {
      throw new SimInvariantError(`GenPool: minAllocOrder must be an integer in 0..${MAX_MIN_ALLOC_ORDER}, got ${minAllocOrder}`);
    }
    this.granularity = POW2[minAllocOrder];
    this.algo = checkAlgo(algo);
  }

  /**
   * gen_pool_add(): adds [base, base + size) to the pool. `base` and `size` are multiples
   * of the granularity, `size > 0`; a chunk overlapping an existing one throws.
   */
  addChunk(base: number, size: number): void {
    const g = this.granularity;
    const where = `GenPool.addChunk(${hex(base)}, ${size})`;
    if (!Number.isInteger(base) || base < 0 || base % g !== 0 || !Number.isInteger(size) || size <= 0 || size % g !== 0) {
      throw new SimInvariantError(`${where}: base and size must be multiples of the granularity ${g}, size > 0`);
    }
    if (base + size > ADDR_LIMIT) throw new SimInvariantError(`${where}: beyond 2^53`);
    const nbits = size / g;
    if (nbits > 2 ** 31) throw new SimInvariantError(`${where}: more than 2^31 granules`);
    for (const c of this.chunks) {
      if (base < c.base + c.size && c.base < base + size) {
        throw new SimInvariantError(`${where}: overlaps chunk [${hex(c.base)}, ${hex(c.base + c.size)})`);
      }
    }
    const chunk: Chunk = { base, size, map: new Uint8Array(nbits), firstGranule: base / g, used: 0 };
    let i = this.chunks.length;
    while (i > 0 && this.chunks[i - 1].base > base) i--;
    this.chunks.splice(i, 0, chunk);
  }

  /** gen_pool_set_algo(). */
  setAlgo(algo: GenPoolAlgo): void {
    this.algo = checkAlgo(algo);
  }

  /** The current algorithm. */
  get algorithm(): GenPoolAlgo {
    return this.algo;
  }

  /**
   * gen_pool_alloc() / gen_pool_alloc_algo(): `size` bytes (rounded up to the
   * granularity) by the pool's algorithm, or null if nothing fits or `size <= 0`.
   * `alignOrder` (log2 bytes) is used by first-fit-aligned only (its genpool_data_align);
   * alignments at or below the granularity mean no extra alignment. Address 0 is valid.
   */
  alloc(size: number, alignOrder = 0): number | null {
    if (!(size > 0) || !Number.isFinite(size)) return null;
    const nbits = Math.ceil(size / this.granularity);
    let chunk: Chunk | undefined;
    let index = -1;
    switch (this.algo) {
      case 'first-fit':
        for (const c of this.chunks) {
          if (c.map.length - c.used < nbits) continue;
          index = findNextZeroArea(c.map, 0, nbits);
          if (index >= 0) { chunk = c; break; }
        }
        break;
      case 'first-fit-aligned': {
        if (!Number.isInteger(alignOrder) || alignOrder < 0 || alignOrder > 52) {
          throw new SimInvariantError(`GenPool.alloc: bad alignOrder ${alignOrder}`);
        }
        const align = alignOrder > this.minAllocOrder ? POW2[alignOrder - this.minAllocOrder] : 1;
        for (const c of this.chunks) {
          if (c.map.length - c.used < nbits) continue;
          index = findNextZeroArea(c.map, 0, nbits, align, c.firstGranule % align);
          if (index >= 0) { chunk = c; break; }
        }
        break;
      }
      case 'best-fit': {
        let bestLen = Infinity;
        for (const c of this.chunks) {
          if (c.map.length - c.used < nbits) continue;
          const map = c.map;
          const n = map.length;
          let i = 0;
          while (i < n) {
            while (i < n && map[i] !== 0) i++;
            const start = i;
            while (i < n && map[i] === 0) i++;
            const len = i - start;
            if (len >= nbits && len < bestLen) {
              bestLen = len;
              chunk = c;
              index = start;
              if (len === nbits) break;
            }
          }
          if (bestLen === nbits) break;
        }
        break;
      }
    }
    if (!chunk || index < 0) return null;
    bitmapSet(chunk.map, index, nbits);
    chunk.used += nbits;
    return chunk.base + index * this.granularity;
  }

  /**
   * gen_pool_alloc_algo(..., gen_pool_fixed_alloc, offset): allocates exactly
   * [addr, addr + size) (size rounded up to the granularity) and returns `addr`, or null
   * if the range is not inside one chunk, any of it is busy, or `size <= 0`. A misaligned
   * `addr` throws.
   */
  allocAt(addr: number, size: number): number | null {
    if (!(size > 0) || !Number.isFinite(size)) return null;
    if (!Number.isInteger(addr) || addr % this.granularity !== 0) {
      throw new SimInvariantError(`GenPool.allocAt(${hex(addr)}, ${size}): address not aligned to the granularity ${this.granularity}`);
    }
    const nbits = Math.ceil(size / this.granularity);
    const c = this.chunkOf(addr, nbits * this.granularity);
    if (!c) return null;
    const start = (addr - c.base) / this.granularity;
    if (findBit(c.map, start, nbits, 1) >= 0) return null;
    bitmapSet(c.map, start, nbits);
    c.used += nbits;
    return addr;
  }

  /**
   * gen_pool_free(): frees [addr, addr + size), size rounded up to the granularity. A bad
   * size, a misaligned address, a range not inside one chunk, or one with a granule that
   * is not allocated (double free) is reported through `misuse` with the address and the
   * reason, and frees nothing.
   */
  free(addr: number, size: number): void {
    const why = this.badFree(addr, size);
    if (why !== null) {
      this.misuse.report(`gen_pool_free(${hex(addr)}, ${size}): ${why}; nothing freed (BUG_ON in Linux's lib/genalloc.c)`);
      return;
    }
    const nbits = Math.ceil(size / this.granularity);
    const c = this.chunkOf(addr, nbits * this.granularity)!;
    bitmapClear(c.map, (addr - c.base) / this.granularity, nbits);
    c.used -= nbits;
  }

  /** Why free(addr, size) would free something not allocated, or null when it is fine. */
  private badFree(addr: number, size: number): string | null {
    if (!(size > 0) || !Number.isFinite(size)) return 'bad size';
    if (!Number.isInteger(addr) || addr % this.granularity !== 0) return `address not aligned to the granularity ${this.granularity}`;
    const nbits = Math.ceil(size / this.granularity);
    const c = this.chunkOf(addr, nbits * this.granularity);
    if (!c) return 'range not inside one chunk of the pool';
    const hole = findBit(c.map, (addr - c.base) / this.granularity, nbits, 0);
    return hole >= 0 ? `${hex(c.base + hole * this.granularity)} is not allocated (double free?)` : null;
  }

  /** gen_pool_avail(): free bytes. */
  avail(): number {
    let n = 0;
    for (const c of this.chunks) n += (c.map.length - c.used) * this.granularity;
    return n;
  }

  /** gen_pool_size(): total bytes in all chunks. */
  size(): number {
    let n = 0;
    for (const c of this.chunks) n += c.size;
    return n;
  }

  /**
   * gen_pool_has_addr(): true if [addr, addr + size) lies entirely inside one chunk
   * (as in Linux, a range straddling two adjacent chunks is not). `size <= 0` checks the
   * single byte at `addr`.
   */
  hasAddr(addr: number, size: number): boolean {
    return this.chunkOf(addr, size > 0 ? size : 1) !== undefined;
  }

  private chunkOf(addr: number, size: number): Chunk | undefined {
    for (const c of this.chunks) {
      if (addr >= c.base && addr + size <= c.base + c.size) return c;
    }
    return undefined;
  }
}

function checkAlgo(algo: GenPoolAlgo): GenPoolAlgo {
  if (algo !== 'first-fit' && algo !== 'first-fit-aligned' && algo !== 'best-fit') {
    throw new SimInvariantError(`GenPool: unknown algorithm ${String(algo)}`);
  }
  return algo;
}
