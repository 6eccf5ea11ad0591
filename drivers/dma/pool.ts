/**
 * DMA pools: mm/dmapool.c (DMA-API.txt Part Ib, "Using small dma-coherent buffers").
 * A pool hands out fixed-size blocks carved from pages it gets with dma_alloc_coherent,
 * so every page counts as a coherent allocation of the device (dma-debug sees it) and
 * every block is consistent memory: its `cpuAddr` is the page's CPU address plus the
 * block offset, its `dmaHandle` the page's DMA address plus the same offset.
 *
 * The model is the v4.x dmapool.c (struct dma_page with an in-use count and a free list
 * per page), built as with DMAPOOL_DEBUG (CONFIG_DEBUG_SLAB / SLUB_DEBUG_ON):
 * - dma_pool_create: align 0 → 1, align not a power of two → NULL; size 0 → NULL, size
 *   below 4 → 4, size rounded up to a multiple of align; allocation = max(size,
 *   PAGE_SIZE); boundary 0 → allocation, else it must be a power of two >= size.
 * - Page layout (pool_initialise_page): blocks of `size` bytes packed from offset 0; a
 *   block that would cross a multiple of `boundary` is skipped and packing resumes at
 *   that multiple. The comparison is `offset + size > boundary`, Tony Battersby's
 *   "dmapool: fix boundary comparison" (in Linux since v6.3); v4.x used `>=`, which also
 *   skipped the last block before each boundary (31, not 32, blocks of 128 bytes a page).
 * - dma_pool_alloc takes a block from the first page of the pool's page list that has
 *   one; pages are added at the head of the list (list_add), so the newest page is tried
 *   first. A page's free blocks are a LIFO list: the last block freed is the first reused.
 *   A new page is only allocated when every page is full; pages are only freed by
 *   dma_pool_destroy ("Better have a few empty pages hang around").
 * - Poisoning: a new page is filled with POOL_POISON_FREED (0xa7); a freed block is
 *   filled with 0xa7; an allocated block is checked to still hold 0xa7 ("dma_pool_alloc
 *   <name>, <vaddr> (corrupted)" otherwise: someone wrote to it while it was free), then
 *   filled with POOL_POISON_ALLOCATED (0xa9), or zeroed with __GFP_ZERO. The writes and
 *   the check are CPU stores and loads through the block's CPU address (KernelCpu), so
 *   they cost what they cost a kernel and a device sees the bytes.
 * - dma_pool_free reports, with Linux's dev_err wording, and changes nothing: a DMA
 *   address in none of the pool's pages "(bad dma)", a CPU address that does not match
 *   the DMA address "(bad vaddr)", a block already on the free list "already free".
 * - dma_pool_destroy frees idle pages (poisoned first) with dma_free_coherent; a page
 *   with blocks in use is reported ("dma_pool_destroy <name>, <vaddr> busy") and leaked:
 *   it stays a live coherent allocation of the device.
 *
 * Differences from Linux:
 * - The free list lives in the simulator, not in the first 4 bytes of each free block,
 *   so a free block is 0xa7 through and through and the corruption check covers all of
 *   it (Linux skips the link word). A device writing into a free block is reported at
 *   the next allocation of that block, as in Linux, but cannot corrupt the pool.
 * - dma_pool_free with a DMA address inside a page that is not the start of a block is
 *   reported as "(bad dma)" and refused; Linux would put the odd offset on the free list.
 * - Calls on a destroyed pool are refused with a kernel warning (a use after free in C).
 * - dma_pool_create never fails for want of memory (kmalloc of the pool header).
 *
 * Stats (formulas, summed over the live pools of that name; characters other than
 * letters, digits, `_` and `-` in the name become `_`):
 *   kernel.dmapool.<name>.blocks_in_use  blocks handed out and not freed
 *   kernel.dmapool.<name>.blocks         blocks in the pool's pages (used and free)
 *   kernel.dmapool.<name>.pages          pages (allocations of `allocation` bytes) held
 */
import { hex, isPowerOfTwo } from '../../sim/engine/addr';
import type { StatsRegistry } from '../../sim/engine/stats';
import type { DmaDevice } from './device';
import { dmaAllocCoherent, dmaFreeCoherent } from './mapping';
import { GFP_KERNEL, GFP_ZERO, type DmaCoherentBuffer } from './types';

const PAGE_SIZE = 4096;
/** struct dma_pool's name[32]: strlcpy keeps 31 characters. */
const POOL_NAME_MAX = 31;

/** include/linux/poison.h: a free pool block is filled with this. */
export const POOL_POISON_FREED = 0xa7;
/** include/linux/poison.h: a block handed out without __GFP_ZERO is filled with this. */
export const POOL_POISON_ALLOCATED = 0xa9;

/** struct dma_page: one coherent allocation of `allocation` bytes carved into blocks. */
interface DmaPoolPage {
  readonly cpuAddr: number;
  readonly dma: number;
  inUse: number;
  /** Offsets of free blocks; the top is handed out next (LIFO). */
  readonly free: number[];
  readonly isFree: Set<number>;
}

/**
 * struct dma_pool. Create it with dmaPoolCreate; the fields are read-only views for
 * drivers and tests (blocksInUse and pageCount are what /sys/.../pools shows).
 */
export class DmaPool {
  /** Block offsets inside a page, ascending (pool_initialise_page's chain). */
  readonly blockOffsets: readonly number[];
  private readonly blockStarts: ReadonlySet<number>;
  /** Newest first, as list_add builds pool->page_list. */
  private readonly pageList: DmaPoolPage[] = [];
  private alive = true;

  /** Use dmaPoolCreate: the constructor takes checked, normalised arguments. */
  constructor(
    readonly name: string,
    readonly dev: DmaDevice,
    /** Block size: the requested size rounded up to a multiple of the alignment. */
    readonly size: number,
    readonly align: number,
    /** Bytes per page of the pool: max(size, PAGE_SIZE). */
    readonly allocation: number,
    readonly boundary: number,
    /**
     * The alignment a page's DMA address needs for the layout's promises to hold in
     * absolute addresses: the block alignment, and for a requested boundary the boundary
     * (or, when the boundary exceeds a page, the page's power-of-two size, which
     * dma_alloc_coherent aligns to).
     */
    readonly pageAlign: number,
  ) {
    this.blockOffsets = layoutBlocks(size, allocation, boundary);
    this.blockStarts = new Set(this.blockOffsets);
  }

  get destroyed(): boolean {
    return !this.alive;
  }

  get pageCount(): number {
    return this.pageList.length;
  }

  get blocksInUse(): number {
    let n = 0;
    for (const p of this.pageList) n += p.inUse;
    return n;
  }

  get blocksPerPage(): number {
    return this.blockOffsets.length;
  }

  /** dma_pool_alloc (see dmaPoolAlloc). */
  alloc(gfp: number): DmaCoherentBuffer | null {
    if (!this.checkAlive('dma_pool_alloc')) return null;
    let page = this.pageList.find((p) => p.free.length > 0);
    if (!page) {
      const fresh = this.allocPage(gfp);
      if (!fresh) return null;
      page = fresh;
    }
    const offset = page.free.pop()!;
    page.isFree.delete(offset);
    page.inUse++;
    const cpuAddr = page.cpuAddr + offset;
    const cpu = this.dev.env.cpu;
    this.checkPoison(cpuAddr);
    cpu.memset(cpuAddr, (gfp & GFP_ZERO) !== 0 ? 0 : POOL_POISON_ALLOCATED, this.size);
    return { cpuAddr, dmaHandle: page.dma + offset };
  }

  /** dma_pool_free (see dmaPoolFree). */
  free(vaddr: number, dma: number): void {
    if (!this.checkAlive('dma_pool_free')) return;
    const page = this.pageList.find((p) => dma >= p.dma && dma - p.dma < this.allocation);
    const offset = page ? dma - page.dma : -1;
    if (!page || !this.blockStarts.has(offset)) {
      this.devErr(`dma_pool_free ${this.name}, ${hex(vaddr)}/${dma.toString(16)} (bad dma)`);
      return;
    }
    if (vaddr - page.cpuAddr !== offset) {
      this.devErr(`dma_pool_free ${this.name}, ${hex(vaddr)} (bad vaddr)/${padDma(dma)}`);
      return;
    }
    if (page.isFree.has(offset)) {
      this.devErr(`dma_pool_free ${this.name}, dma ${padDma(dma)} already free`);
      return;
    }
    this.dev.env.cpu.memset(vaddr, POOL_POISON_FREED, this.size);
    page.inUse--;
    page.free.push(offset);
    page.isFree.add(offset);
  }

  /** dma_pool_destroy (see dmaPoolDestroy). */
  destroy(): void {
    if (!this.checkAlive('dma_pool_destroy')) return;
    this.alive = false;
    unregisterPool(this);
    for (const page of this.pageList) {
      if (page.inUse > 0) {
        // Leak the still-in-use consistent memory: the device may still be using it.
        this.devErr(`dma_pool_destroy ${this.name}, ${hex(page.cpuAddr)} busy`);
        continue;
      }
      this.dev.env.cpu.memset(page.cpuAddr, POOL_POISON_FREED, this.allocation);
      dmaFreeCoherent(this.dev, this.allocation, page.cpuAddr, page.dma);
    }
    this.pageList.length = 0;
  }

  /** pool_alloc_page: a coherent allocation, poisoned, with every block free. */
  private allocPage(gfp: number): DmaPoolPage | null {
    const buf = dmaAllocCoherent(this.dev, this.allocation, gfp & ~GFP_ZERO);
    if (!buf) return null;
    if (buf.dmaHandle % this.pageAlign !== 0) {
      this.dev.env.kernel.warn('dmapool', `${this.dev.name}: dma_pool ${this.name}: page ${hex(buf.dmaHandle)} is not ${this.pageAlign}-byte aligned; blocks may be misaligned or cross the boundary`);
    }
    this.dev.env.cpu.memset(buf.cpuAddr, POOL_POISON_FREED, this.allocation);
    const free = [...this.blockOffsets].reverse();
    const page: DmaPoolPage = { cpuAddr: buf.cpuAddr, dma: buf.dmaHandle, inUse: 0, free, isFree: new Set(free) };
    this.pageList.unshift(page);
    return page;
  }

  /** DMAPOOL_DEBUG's check that a free block still holds POOL_POISON_FREED. */
  private checkPoison(cpuAddr: number): void {
    const data = new Uint8Array(this.size);
    this.dev.env.cpu.read(cpuAddr, data);
    const bad = data.findIndex((b) => b !== POOL_POISON_FREED);
    if (bad < 0) return;
    this.devErr(`dma_pool_alloc ${this.name}, ${hex(cpuAddr)} (corrupted)`);
    // print_hex_dump(DUMP_PREFIX_OFFSET, 16 bytes a row) of the row holding the first bad byte.
    const row = bad - (bad % 16);
    const bytes = Array.from(data.subarray(row, row + 16), (b) => b.toString(16).padStart(2, '0')).join(' ');
    this.dev.env.kernel.err('dmapool', `${row.toString(16).padStart(8, '0')}: ${bytes}`);
  }

  private checkAlive(call: string): boolean {
    if (this.alive) return true;
    this.dev.env.kernel.warn('dmapool', `${call}: ${this.dev.name}: pool ${this.name} was destroyed`);
    return false;
  }

  /** dev_err(pool->dev, ...): "<driver> <device>: <message>". */
  private devErr(message: string): void {
    this.dev.env.kernel.err('dmapool', `${this.dev.driverString} ${this.dev.name}: ${message}`);
  }
}

/**
 * pool_initialise_page's layout: block offsets in [0, allocation) such that no block
 * crosses a multiple of `boundary` (with the v6.3 `>` comparison; see the file comment).
 */
function layoutBlocks(size: number, allocation: number, boundary: number): number[] {
  const out: number[] = [];
  let offset = 0;
  let nextBoundary = boundary;
  while (offset + size <= allocation) {
    if (offset + size > nextBoundary) {
      offset = nextBoundary;
      nextBoundary += boundary;
      continue;
    }
    out.push(offset);
    offset += size;
  }
  return out;
}

/** %pad: a dma_addr_t as 0x and 16 hex digits. */
function padDma(dma: number): string {
  return '0x' + dma.toString(16).padStart(16, '0');
}

// ---- stats: formulas over the live pools of each name ----

const livePools = new WeakMap<StatsRegistry, Map<string, Set<DmaPool>>>();

function statPrefix(name: string): string {
  return `kernel.dmapool.${name.replace(/[^a-z0-9_-]/gi, '_') || '_'}`;
}

function registerPool(pool: DmaPool): void {
  const stats = pool.dev.env.kernel.soc.ctx.stats;
  let byName = livePools.get(stats);
  if (!byName) livePools.set(stats, (byName = new Map()));
  const prefix = statPrefix(pool.name);
  let pools = byName.get(prefix);
  if (!pools) {
    const set = new Set<DmaPool>();
    byName.set(prefix, (pools = set));
    const sum = (f: (p: DmaPool) => number) => () => {
      let n = 0;
      for (const p of set) n += f(p);
      return n;
    };
    stats.formula(`${prefix}.blocks_in_use`, 'DMA pool blocks handed out and not freed', sum((p) => p.blocksInUse));
    stats.formula(`${prefix}.blocks`, 'DMA pool blocks in the pool pages (in use and free)', sum((p) => p.pageCount * p.blocksPerPage));
    stats.formula(`${prefix}.pages`, 'DMA pool pages (coherent allocations) held', sum((p) => p.pageCount));
  }
  pools.add(pool);
}

function unregisterPool(pool: DmaPool): void {
  livePools.get(pool.dev.env.kernel.soc.ctx.stats)?.get(statPrefix(pool.name))?.delete(pool);
}

// ---- the API ----

/**
 * dma_pool_create(name, dev, size, align, boundary): a pool of `size`-byte blocks,
 * aligned to `align` (a power of two; 0 means 1), none crossing a multiple of `boundary`
 * (a power of two >= the block size; 0 means no restriction), for DMA by `dev`. Null
 * when the arguments break those rules or size is 0. Pages are allocated on demand.
 * `name` is for diagnostics (kept to 31 characters, as Linux's name[32]).
 */
export function dmaPoolCreate(name: string, dev: DmaDevice, size: number, align: number, boundary: number): DmaPool | null {
  for (const [what, v] of [['size', size], ['align', align], ['boundary', boundary]] as const) {
    if (!Number.isSafeInteger(v) || v < 0) {
      dev.env.kernel.warn('dmapool', `dma_pool_create ${name}: ${dev.name}: bad ${what} ${v}`);
      return null;
    }
  }
  if (align === 0) align = 1;
  else if (!isPowerOfTwo(align)) return null;
  if (size === 0) return null;
  if (size < 4) size = 4; // Linux keeps the free-list link in the block
  if (size % align !== 0) size = Math.ceil(size / align) * align;
  const allocation = Math.max(size, PAGE_SIZE);
  const pageOrderSize = 2 ** Math.ceil(Math.log2(allocation));
  const pageAlign = Math.max(align, boundary === 0 ? 1 : Math.min(boundary, pageOrderSize));
  if (boundary === 0) boundary = allocation;
  else if (boundary < size || !isPowerOfTwo(boundary)) return null;
  const pool = new DmaPool(name.slice(0, POOL_NAME_MAX), dev, size, align, allocation, boundary, pageAlign);
  registerPool(pool);
  return pool;
}

/**
 * dma_pool_alloc(pool, gfp, &handle): a free block as { cpuAddr, dmaHandle }, or null
 * when a new page was needed and dma_alloc_coherent failed. The block holds
 * POOL_POISON_ALLOCATED bytes, or zeros with GFP_ZERO.
 */
export function dmaPoolAlloc(pool: DmaPool, gfp: number = GFP_KERNEL): DmaCoherentBuffer | null {
  return pool.alloc(gfp);
}

/** dma_pool_zalloc(pool, gfp, &handle): dma_pool_alloc with __GFP_ZERO. */
export function dmaPoolZalloc(pool: DmaPool, gfp: number = GFP_KERNEL): DmaCoherentBuffer | null {
  return pool.alloc(gfp | GFP_ZERO);
}

/**
 * dma_pool_free(pool, vaddr, dma): puts a block back; vaddr and dma are what
 * dma_pool_alloc returned. Bad addresses and double frees are reported (kernel.err) and
 * change nothing.
 */
export function dmaPoolFree(pool: DmaPool, vaddr: number, dma: number): void {
  pool.free(vaddr, dma);
}

/**
 * dma_pool_destroy(pool): frees the pool's pages. All blocks should have been freed; a
 * page that still has blocks in use is reported and leaked. A null pool is ignored.
 */
export function dmaPoolDestroy(pool: DmaPool | null): void {
  pool?.destroy();
}
