/**
 * The ARM LPAE io-pgtable: Linux drivers/iommu/io-pgtable-arm.c (format ARM_64_LPAE_S1,
 * 4 KiB, 16 KiB and 64 KiB granules) on simulated memory. It builds the tables that the
 * `arm-lpae-4k`, `arm-lpae-16k` and `arm-lpae-64k` walkers read
 * (sim/mmu/format/armLpae.ts): every table page comes from the kernel's page
 * allocator and is zeroed with kernel stores, every entry is encoded with the format codec
 * and written with `kernel.mem.writeWords`, and every entry it looks at is loaded with
 * `kernel.mem.readWords`. Page-table maintenance is therefore bus traffic, counted like any
 * other (`kernel.mem_writes`, `soc.xbar.kernel.transactions`, `soc.dram.*`).
 *
 * Stage 2 (ARM_64_LPAE_S2, arm_64_lpae_alloc_pgtable_s2, issue 17): the same tables and
 * rules for IPA -> PA, built for `ias` itself (the format `armLpaeS2Format(granule, ias)`:
 * with the 4 KiB granule and 40..43-bit IPAs the root is 2..16 concatenated L1 tables, one
 * allocation aligned to its size; 16 KiB with 48 bits: 2 L1 tables). Leaves get S2AP from
 * IOMMU_READ / IOMMU_WRITE (ARM_LPAE_PTE_HAP_READ / _WRITE: a write-only or read-only
 * mapping is possible) and no nG; IOMMU_PRIV means nothing at stage 2. `ttbr` is the VTTBR.
 *
 * Rules, as in io-pgtable-arm.c (mainline of early 2024, ~v6.8: arm_lpae_map_pages, __arm_lpae_map,
 * arm_lpae_init_pte, __arm_lpae_unmap, arm_lpae_split_blk_unmap, arm_lpae_iova_to_phys):
 * - map: `pgsize` must be one size of `pgsizeBitmap` (WARN, -EINVAL); an IOVA at or above
 *   2^ias or a PA at or above 2^oas is -ERANGE (WARN); a prot with neither IOMMU_READ nor
 *   IOMMU_WRITE is -EINVAL; a leaf already present where a leaf is to go, or a block on
 *   the way down to a smaller page, is -EEXIST (WARN: "we require an unmap first"); a
 *   TABLE where a block is to go is unmapped first (a walk-cache flush for its range, then
 *   the whole sub-tree is freed back to the page allocator, mappings and all) and the block
 *   replaces it. A missing table page is -ENOMEM.
 * - unmap returns the bytes unmapped: 0 for nothing there (WARN); a leaf of exactly the
 *   size is cleared and queued for TLB invalidation (tlb_add_page); a table of exactly
 *   the size is cleared, its walks flushed (tlb_flush_walk) and the sub-tree freed; part
 *   of a larger block splits it (arm_lpae_split_blk_unmap: a new table maps the rest of
 *   the block with the block's attributes, recursively down to the size asked for).
 * - Tables are never freed because they became empty: Linux's io-pgtable-arm does not do
 *   that either; they go back to the allocator only when replaced by a block, unmapped as
 *   a whole, or at `free()` (free_io_pgtable_ops).
 *
 * Granule (arm_lpae_restrict_pgsizes): the kernel's PAGE_SIZE (4 KiB) if the bitmap has
 * it, else the largest size below PAGE_SIZE (none exist), else the smallest size above
 * it; the bitmap is then restricted to that granule's sizes: 4K|2M|1G, 16K|32M or
 * 64K|512M. A bitmap with none of 4K, 16K, 64K is refused (NULL).
 *
 * Differences from Linux, and why:
 * - The modelled walkers start at the registered format's root (T0SZ = 16: 48-bit input),
 *   so the table always has the levels of the 48-bit format (4 for 4K and 16K, 3 for 64K)
 *   and its root (4 KiB, 16 bytes, 512 bytes); `ias` (up to 48) only limits the IOVAs
 *   accepted. Linux starts lower for a smaller ias (arm_lpae_alloc_pgtable's start_level).
 * - `oas` is at most 48: 52-bit output (FEAT_LPA with the 64K granule, where Linux adds
 *   4 TiB blocks) is not modelled, so a 64K table never has the 4 TiB size.
 * - An IOVA or PA not aligned to the page size is -EINVAL with a WARN (Linux leaves that
 *   check to iommu_map, and masks the address bits; the codec cannot encode it), and a
 *   multi-page map whose last page would end above 2^ias is -ERANGE (Linux's callers keep
 *   to the domain aperture instead).
 * - `iovaToPhys` returns null for "not mapped" (Linux returns 0, a valid address here),
 *   also for an IOVA outside [0, 2^ias).
 * - The codec writes SH = inner shareable and AttrIndx 0 for every leaf (Linux: SH_OS
 *   unless IOMMU_CACHE, AttrIndx from IOMMU_CACHE/IOMMU_MMIO); memory attributes are not
 *   modelled. IOMMU_NOEXEC is ignored (execution is not modelled).
 * - Consecutive entries written (or read) in one step of a loop go out as one store (load)
 *   of up to 32 entries (256 bytes), like a CPU writing back whole cache lines, instead of
 *   one bus access per 8-byte entry.
 */

import { bitsAt, hex, POW2 } from '../../sim/engine/addr';
import { SimInvariantError } from '../../sim/engine/errors';
import type { Counter } from '../../sim/engine/stats';
import { armLpae16k, armLpae4k, armLpae64k, armLpaeS2Format, type ArmLpaeGranule } from '../../sim/mmu/format/armLpae';
import { EntryKind, newDecodedEntry, type EntrySpec, type PageTableFormat } from '../../sim/mmu/format/types';
import { Errno } from '../errno';
import type { Kernel } from '../kernel';
import { sharedCounter } from './kstats';

// ---- include/linux/iommu.h ----

/** IOMMU prot flags (include/linux/iommu.h). */
export const IOMMU_READ = 1 << 0;
export const IOMMU_WRITE = 1 << 1;
/** DMA cache coherency. Memory attributes are not modelled: accepted and ignored. */
export const IOMMU_CACHE = 1 << 2;
/** Not executable. Execution is not modelled: accepted and ignored. */
export const IOMMU_NOEXEC = 1 << 3;
/** Device memory. Memory attributes are not modelled: accepted and ignored. */
export const IOMMU_MMIO = 1 << 4;
/** Privileged-only: LPAE AP[1] = 0 (no unprivileged access). */
export const IOMMU_PRIV = 1 << 5;

export const SZ_4K = 0x1000;
export const SZ_16K = 0x4000;
export const SZ_64K = 0x1_0000;
export const SZ_2M = 0x20_0000;
export const SZ_32M = 0x200_0000;
export const SZ_512M = 0x2000_0000;
export const SZ_1G = 0x4000_0000;

/**
 * struct iommu_iotlb_gather: the IOVA range whose TLB entries an unmap must invalidate,
 * collected while unmapping and invalidated by the IOMMU driver's iotlb_sync.
 */
export interface IommuIotlbGather {
  start: number;
  /** Last byte of the range (inclusive), as in Linux. */
  end: number;
  /** Granule of the pages gathered (0: nothing gathered). */
  pgsize: number;
  /** The invalidation is deferred to a flush queue (lazy iommu-dma): the io-pgtable then adds no pages. */
  queued: boolean;
}

/** iommu_iotlb_gather_init. */
export function iommuIotlbGatherInit(gather?: IommuIotlbGather): IommuIotlbGather {
  const g = gather ?? { start: 0, end: 0, pgsize: 0, queued: false };
  g.start = Number.MAX_SAFE_INTEGER;
  g.end = 0;
  g.pgsize = 0;
  g.queued = false;
  return g;
}

/** iommu_iotlb_gather_add_range: extends the gathered range to cover [iova, iova + size). */
export function iommuIotlbGatherAddRange(gather: IommuIotlbGather, iova: number, size: number): void {
  const end = iova + size - 1;
  if (gather.start > iova) gather.start = iova;
  if (gather.end < end) gather.end = end;
}

/** iommu_iotlb_gather_is_disjoint: [iova, iova + size) neither overlaps nor touches the range. */
export function iommuIotlbGatherIsDisjoint(gather: IommuIotlbGather, iova: number, size: number): boolean {
  const start = iova;
  const end = iova + size - 1;
  return gather.end !== 0 && (end + 1 < gather.start || start > gather.end + 1);
}

// ---- include/linux/io-pgtable.h ----

/**
 * struct iommu_flush_ops: how the io-pgtable asks its IOMMU driver to invalidate.
 * `tlbFlushWalk` must invalidate cached walks (table pointers) and leaves for the range
 * at once; `tlbAddPage` queues one leaf for the caller's iotlb sync (`gather` is null
 * when the page table itself replaces a table by a block: invalidate at once then).
 */
export interface IommuFlushOps {
  tlbFlushAll(): void;
  tlbFlushWalk(iova: number, size: number, granule: number): void;
  tlbAddPage(gather: IommuIotlbGather | null, iova: number, granule: number): void;
}

/**
 * The page allocator the tables come from: the buddy allocator's API
 * (drivers/mm/buddy.ts: allocPages(order) → physical address or null; freePages).
 */
export interface PageAllocator {
  allocPages(order: number): number | null;
  freePages(addr: number, order: number): void;
}

/** struct io_pgtable_cfg, as much of it as the model uses. */
export interface IoPgtableCfg {
  /** Input (IOVA) address bits, at most 48. */
  ias: number;
  /** Output (physical) address bits, at most 48. */
  oas: number;
  /** Page sizes, a bitmap (SZ_4K | SZ_2M | SZ_1G, SZ_16K | SZ_32M, SZ_64K | SZ_512M); restricted to one granule's by the allocator. */
  pgsizeBitmap: number;
  kernel: Kernel;
  /** Where table pages come from (order 0, 2, 4: one 4, 16, 64 KiB table; the root may be smaller). */
  pages: PageAllocator;
  /** The IOMMU driver's invalidation callbacks; null for none (tables not yet live). */
  tlb?: IommuFlushOps | null;
  /** Stats prefix for the shared table-page gauge, e.g. `kernel.smmu.pgtable`: `<prefix>.pages`. */
  statsPrefix?: string;
}

/** enum io_pgtable_fmt: the formats the model implements (stage 1 and stage 2 LPAE). */
export type IoPgtableFmt = 'ARM_64_LPAE_S1' | 'ARM_64_LPAE_S2';

/** Out-parameter of `mapPages` (Linux's `size_t *mapped`): bytes mapped, added to. */
export interface MappedBytes {
  bytes: number;
}

// ---- io-pgtable-arm.c geometry ----

const MAX_LEVELS = 4; // ARM_LPAE_MAX_LEVELS
const PTE_BYTES = 8;
const MAX_ADDR_BITS = 48;
const TYPE_MASK = 3; // ARM_LPAE_PTE_TYPE_MASK
const TYPE_BLOCK = 1; // ARM_LPAE_PTE_TYPE_BLOCK
const TYPE_TABLE = 3; // ARM_LPAE_PTE_TYPE_TABLE
const TYPE_PAGE = 3; // ARM_LPAE_PTE_TYPE_PAGE
/** Entries moved by one kernel load or store: 256 bytes, the kernel's largest access. */
const PTES_PER_ACCESS = 32;
/** Never written: the source of zero stores. */
const ZERO_PTES = new Uint32Array(2 * PTES_PER_ACCESS);
/** The simulated kernel's PAGE_SIZE (the page allocator's page). */
const PAGE_SIZE = SZ_4K;

/** The sizes each granule supports (arm_lpae_restrict_pgsizes, oas <= 48). */
const GRANULE_PGSIZES: Readonly<Record<number, number>> = { [SZ_4K]: SZ_4K | SZ_2M | SZ_1G, [SZ_16K]: SZ_16K | SZ_32M, [SZ_64K]: SZ_64K | SZ_512M };
const GRANULE_FORMAT: Readonly<Record<number, PageTableFormat>> = { [SZ_4K]: armLpae4k, [SZ_16K]: armLpae16k, [SZ_64K]: armLpae64k };

/**
 * The granule arm_lpae_restrict_pgsizes picks for `pgsizeBitmap` (below 2^31): PAGE_SIZE if
 * present, else the largest size below PAGE_SIZE, else the smallest above it; 0 for an
 * empty bitmap. Whether the granule exists is the caller's check.
 */
export function armLpaeGranuleOf(pgsizeBitmap: number): number {
  if ((pgsizeBitmap & PAGE_SIZE) !== 0) return PAGE_SIZE;
  const below = pgsizeBitmap & (PAGE_SIZE - 1);
  if (below !== 0) return 2 ** Math.floor(Math.log2(below)); // __fls
  const above = pgsizeBitmap & ~(PAGE_SIZE - 1);
  return above !== 0 ? above & -above : 0; // __ffs
}

/** The hardware format io-pgtable builds for a granule (48-bit input), or null for none. */
export function armLpaeFormatForGranule(granule: number): PageTableFormat | null {
  return GRANULE_FORMAT[granule] ?? null;
}

/**
 * The geometry of one granule's tables, as struct arm_lpae_io_pgtable holds it
 * (pg_shift, bits_per_level, start_level, pgd_bits), with the codec for its levels.
 */
class Geometry {
  readonly granule: number;
  readonly pgShift: number;
  readonly bitsPerLevel: number;
  readonly ptesPerTable: number;
  readonly startLevel: number;
  readonly pgdEntries: number;
  /** Page-allocator order of a table (non-root) and of the root. */
  readonly tableOrder: number;
  readonly pgdOrder: number;
  /** Bytes zeroed for a new table and for the root: the whole allocation. */
  readonly tableBytes: number;
  readonly pgdAllocBytes: number;
  readonly maxPgsize: number;

  constructor(readonly fmt: PageTableFormat) {
    const leaf = fmt.levels[fmt.smallLeaf];
    this.granule = 2 ** leaf.shift;
    this.pgShift = leaf.shift;
    this.bitsPerLevel = leaf.indexBits;
    this.ptesPerTable = 2 ** leaf.indexBits;
    this.startLevel = MAX_LEVELS - fmt.levels.length;
    this.pgdEntries = 2 ** fmt.levels[fmt.root].indexBits;
    this.tableOrder = Math.max(0, Math.log2(this.granule / PAGE_SIZE));
    this.pgdOrder = Math.max(0, Math.ceil(Math.log2((this.pgdEntries * PTE_BYTES) / PAGE_SIZE)));
    this.tableBytes = PAGE_SIZE * 2 ** this.tableOrder;
    this.pgdAllocBytes = PAGE_SIZE * 2 ** this.pgdOrder;
    this.maxPgsize = Math.max(...fmt.pageSizes.map((p) => 2 ** p.shift));
  }

  /** ARM_LPAE_LVL_SHIFT: lowest IOVA bit indexing level `lvl` (start_level = root, 3 = last). */
  lvlShift(lvl: number): number {
    return this.pgShift + this.bitsPerLevel * (MAX_LEVELS - 1 - lvl);
  }

  /** ARM_LPAE_BLOCK_SIZE. */
  blockSize(lvl: number): number {
    return POW2[this.lvlShift(lvl)];
  }

  /** ARM_LPAE_LVL_IDX (the root's index is pgd_bits wide). */
  lvlIdx(iova: number, lvl: number): number {
    return bitsAt(iova, this.lvlShift(lvl), lvl === this.startLevel ? this.fmt.levels[this.fmt.root].indexBits : this.bitsPerLevel);
  }

  /** Entries in a table at `lvl`: ARM_LPAE_PTES_PER_TABLE, or the pgd's entries at the root. */
  ptesAt(lvl: number): number {
    return lvl === this.startLevel ? this.pgdEntries : this.ptesPerTable;
  }

  /** Index of Linux level `lvl` in the format's level list (leaf first). */
  fmtLevel(lvl: number): number {
    return MAX_LEVELS - 1 - lvl;
  }
}

const GEOMETRY: Readonly<Record<number, Geometry>> = {
  [SZ_4K]: new Geometry(armLpae4k),
  [SZ_16K]: new Geometry(armLpae16k),
  [SZ_64K]: new Geometry(armLpae64k),
};

/** Stage-2 geometries, by format name (one per granule and ias). */
const S2_GEOMETRY = new Map<string, Geometry>();

/** The stage-2 geometry for `granule` and `ias` (arm_64_lpae_alloc_pgtable_s2: start level, concatenation). */
function s2Geometry(granule: number, ias: number): Geometry {
  const fmt = armLpaeS2Format(granule as ArmLpaeGranule, ias);
  let g = S2_GEOMETRY.get(fmt.name);
  if (!g) S2_GEOMETRY.set(fmt.name, (g = new Geometry(fmt)));
  return g;
}

/** ARM_LPAE_BLOCK_SIZE for the 4 KiB granule (kept for callers that size 4 KiB-granule blocks). */
export function armLpaeBlockSize(lvl: number): number {
  return GEOMETRY[SZ_4K].blockSize(lvl);
}

/** The leaf attributes an entry carries (iopte_prot for what the model encodes). */
interface LeafProt {
  readOnly: boolean;
  privileged: boolean;
  /** Stage 2: no read permission (S2AP[0] = 0). */
  noRead: boolean;
}

/**
 * alloc_io_pgtable_ops(ARM_64_LPAE_S1, cfg): a new, empty page table with its root
 * allocated and zeroed, or null when the configuration is not supported or the root page
 * cannot be allocated (as Linux returns NULL).
 */
export function allocIoPgtableOps(fmt: IoPgtableFmt, cfg: IoPgtableCfg): IoPgtableArm | null {
  if (fmt !== 'ARM_64_LPAE_S1' && fmt !== 'ARM_64_LPAE_S2') return null;
  // arm_lpae_restrict_pgsizes, then arm_lpae_alloc_pgtable's checks.
  const granule = armLpaeGranuleOf(cfg.pgsizeBitmap);
  if (GEOMETRY[granule] === undefined) return null;
  if (!(cfg.ias > 0 && cfg.ias <= MAX_ADDR_BITS) || !(cfg.oas > 0 && cfg.oas <= MAX_ADDR_BITS)) return null;
  // Stage 2 (arm_64_lpae_alloc_pgtable_s2): the tables for ias itself, with the start
  // level and concatenated root armLpaeS2StartLevel gives; the ias range a walker of the
  // registered stage-1 formats takes is 25..48.
  if (fmt === 'ARM_64_LPAE_S2' && cfg.ias < 25) return null;
  const geom = fmt === 'ARM_64_LPAE_S1' ? GEOMETRY[granule] : s2Geometry(granule, cfg.ias);
  const restricted: IoPgtableCfg = { ...cfg, pgsizeBitmap: cfg.pgsizeBitmap & GRANULE_PGSIZES[granule] };
  const pgd = cfg.pages.allocPages(geom.pgdOrder);
  if (pgd === null) return null;
  return new IoPgtableArm(restricted, pgd, geom, fmt);
}

/**
 * One LPAE stage-1 page table (struct arm_lpae_io_pgtable with its io_pgtable_ops).
 * Create it with `allocIoPgtableOps`. Methods follow io_pgtable_ops: `mapPages`,
 * `unmapPages`, `iovaToPhys`, plus `map`/`unmap` for one page and `free`.
 */
export class IoPgtableArm {
  readonly kernel: Kernel;
  /** The hardware format of the tables built (by granule): what the walker must walk. */
  readonly format: PageTableFormat;
  /** ARM_LPAE_GRANULE: the translation granule, bytes. */
  readonly granule: number;
  private readonly g: Geometry;
  /** Table pages allocated and not yet freed, the root included. */
  private tables = 0;
  private freed = false;
  private readonly buf = new Uint32Array(2 * PTES_PER_ACCESS);
  private readonly one = new Uint32Array(2);
  // Scratch for the leaf loop of unmapLevel (nothing it calls uses them): no typed-array
  // allocation per unmap.
  private readonly unmapBuf = new Uint32Array(2 * PTES_PER_ACCESS);
  private readonly unmapW = new Uint32Array(2);
  private readonly dec = newDecodedEntry();
  private readonly spec: EntrySpec = { kind: EntryKind.Unmapped, addr: 0, readOnly: false, privileged: false, noRead: false };
  private readonly sPages: Counter | null;

  /** @internal use allocIoPgtableOps. `pgd` is an allocated, not yet zeroed, page. */
  constructor(readonly cfg: IoPgtableCfg, readonly pgd: number, geom: Geometry, readonly fmt: IoPgtableFmt = 'ARM_64_LPAE_S1') {
    this.kernel = cfg.kernel;
    this.g = geom;
    this.format = geom.fmt;
    this.granule = geom.granule;
    this.sPages = cfg.statsPrefix
      ? sharedCounter(cfg.kernel.soc.ctx.stats, `${cfg.statsPrefix}.pages`, 'io-pgtable table pages in use (allocated, not freed)')
      : null;
    this.tables = 1;
    if (this.sPages) this.sPages.value++;
    this.kernel.mem.zero(pgd, geom.pgdAllocBytes);
  }

  /**
   * cfg->arm_lpae_s1_cfg.ttbr (stage 2: cfg->arm_lpae_s2_cfg.vttbr): the root table's
   * physical address, for the context registers. A concatenated stage-2 root is one
   * allocation of 2..16 tables, aligned to its size (the page allocator's order).
   */
  get ttbr(): number {
    return this.pgd;
  }

  /** Table pages in use by this page table, the root included. */
  get tablePages(): number {
    return this.tables;
  }

  get pgsizeBitmap(): number {
    return this.cfg.pgsizeBitmap;
  }

  // ---- map ----

  /** ops->map for one page: `mapPages(iova, paddr, size, 1, prot)`. Returns 0 or -errno. */
  map(iova: number, paddr: number, size: number, prot: number): number {
    return this.mapPages(iova, paddr, size, 1, prot, { bytes: 0 });
  }

  /**
   * arm_lpae_map_pages: maps up to `pgcount` pages of `pgsize` from `iova` to `paddr`,
   * stopping at the end of the last-level table the first page is in; adds the bytes
   * mapped to `mapped.bytes`. Returns 0 or -errno (see the file comment for the rules).
   */
  mapPages(iova: number, paddr: number, pgsize: number, pgcount: number, prot: number, mapped: MappedBytes): number {
    this.checkLive('mapPages');
    if (!this.pgsizeOk(pgsize)) {
      this.warn(`arm_lpae_map_pages: unsupported page size ${hex(pgsize)} (bitmap ${hex(this.cfg.pgsizeBitmap)})`);
      return -Errno.EINVAL;
    }
    const limit = POW2[this.cfg.ias];
    if (!(iova >= 0 && iova < limit) || !(paddr >= 0 && paddr < POW2[this.cfg.oas])) {
      this.warn(`arm_lpae_map_pages: iova ${hex(iova)} or pa ${hex(paddr)} out of range (ias ${this.cfg.ias}, oas ${this.cfg.oas})`);
      return -Errno.ERANGE;
    }
    if (iova + pgsize * pgcount > limit) {
      this.warn(`arm_lpae_map_pages: iova ${hex(iova)} + ${pgcount} x ${hex(pgsize)} ends above 2^${this.cfg.ias}`);
      return -Errno.ERANGE;
    }
    if (iova % pgsize !== 0 || paddr % pgsize !== 0) {
      this.warn(`arm_lpae_map_pages: iova ${hex(iova)} or pa ${hex(paddr)} not aligned to ${hex(pgsize)}`);
      return -Errno.EINVAL;
    }
    if ((prot & (IOMMU_READ | IOMMU_WRITE)) === 0) return -Errno.EINVAL;
    const leaf: LeafProt = this.fmt === 'ARM_64_LPAE_S1'
      ? {
        // arm_lpae_prot_to_pte, stage 1: read-only unless writable; unprivileged unless PRIV.
        readOnly: (prot & IOMMU_WRITE) === 0 && (prot & IOMMU_READ) !== 0,
        privileged: (prot & IOMMU_PRIV) !== 0,
        noRead: false,
      }
      : {
        // arm_lpae_prot_to_pte, stage 2: ARM_LPAE_PTE_HAP_READ / _WRITE from IOMMU_READ /
        // IOMMU_WRITE; IOMMU_PRIV means nothing at stage 2.
        readOnly: (prot & IOMMU_WRITE) === 0,
        privileged: false,
        noRead: (prot & IOMMU_READ) === 0,
      };
    return this.mapLevel(iova, paddr, pgsize, pgcount, leaf, this.g.startLevel, this.pgd, mapped);
  }

  /** __arm_lpae_map. */
  private mapLevel(iova: number, paddr: number, size: number, pgcount: number, prot: LeafProt, lvl: number, table: number, mapped: MappedBytes): number {
    const g = this.g;
    const idx = g.lvlIdx(iova, lvl);
    const ptep = table + idx * PTE_BYTES;
    if (size === g.blockSize(lvl)) {
      const num = Math.min(pgcount, g.ptesAt(lvl) - idx);
      const ret = this.initPte(iova, paddr, prot, lvl, num, ptep);
      if (ret === 0) mapped.bytes += num * size;
      return ret;
    }
    // We can't allocate tables at the final level.
    if (lvl >= MAX_LEVELS - 1) {
      this.warn(`__arm_lpae_map: size ${hex(size)} matches no level`);
      return -Errno.EINVAL;
    }
    this.readPte(ptep);
    let child: number;
    if (this.pteNone(this.one)) {
      const t = this.allocTable();
      if (t === null) return -Errno.ENOMEM;
      this.installTable(t, ptep, lvl);
      child = t;
    } else if (!this.isLeaf(this.one, lvl)) {
      child = this.deref(this.one, lvl);
    } else {
      this.warn(`__arm_lpae_map: iova ${hex(iova)}: a block is in the way (we require an unmap first)`);
      return -Errno.EEXIST;
    }
    return this.mapLevel(iova, paddr, size, pgcount, prot, lvl + 1, child, mapped);
  }

  /** arm_lpae_init_pte: checks the `num` entries at `ptep`, then writes the leaves. */
  private initPte(iova: number, paddr: number, prot: LeafProt, lvl: number, num: number, ptep: number): number {
    const sz = this.g.blockSize(lvl);
    const tblp = ptep - this.g.lvlIdx(iova, lvl) * PTE_BYTES;
    const buf = new Uint32Array(2 * PTES_PER_ACCESS); // unmapLevel below uses this.buf
    for (let base = 0; base < num; base += PTES_PER_ACCESS) {
      const n = Math.min(PTES_PER_ACCESS, num - base);
      this.kernel.mem.readWords(ptep + base * PTE_BYTES, buf, 2 * n);
      for (let j = 0; j < n; j++) {
        const lo = buf[2 * j];
        const i = base + j;
        if (this.isLeafWords(lo, lvl)) {
          this.warn(`arm_lpae_init_pte: iova ${hex(iova + i * sz)} already mapped (we require an unmap first)`);
          return -Errno.EEXIST;
        }
        if ((lo & TYPE_MASK) === TYPE_TABLE) {
          // We need to unmap and free the old table before overwriting it with a block entry.
          if (this.unmapLevel(null, iova + i * sz, sz, 1, lvl, tblp) !== sz) {
            this.warn(`arm_lpae_init_pte: could not unmap the table at iova ${hex(iova + i * sz)}`);
            return -Errno.EINVAL;
          }
        }
      }
    }
    this.writeLeaves(paddr, prot, lvl, num, ptep);
    return 0;
  }

  // ---- unmap ----

  /** ops->unmap for one page: `unmapPages(iova, size, 1, gather)`. Returns bytes unmapped. */
  unmap(iova: number, size: number, gather: IommuIotlbGather | null = null): number {
    return this.unmapPages(iova, size, 1, gather);
  }

  /**
   * arm_lpae_unmap_pages: unmaps up to `pgcount` pages of `pgsize` from `iova` (stopping
   * at the end of a table) and returns the bytes unmapped, 0 when nothing was mapped
   * there. Leaves cleared are queued on `gather` through tlbAddPage; the caller syncs.
   */
  unmapPages(iova: number, pgsize: number, pgcount: number, gather: IommuIotlbGather | null): number {
    this.checkLive('unmapPages');
    if (!this.pgsizeOk(pgsize) || !(pgcount >= 1)) {
      this.warn(`arm_lpae_unmap_pages: bad page size ${hex(pgsize)} or count ${pgcount}`);
      return 0;
    }
    if (!(iova >= 0 && iova < POW2[this.cfg.ias])) {
      this.warn(`arm_lpae_unmap_pages: iova ${hex(iova)} above 2^${this.cfg.ias}`);
      return 0;
    }
    return this.unmapLevel(gather, iova, pgsize, pgcount, this.g.startLevel, this.pgd);
  }

  /** __arm_lpae_unmap. */
  private unmapLevel(gather: IommuIotlbGather | null, iova: number, size: number, pgcount: number, lvl: number, table: number): number {
    // Something went horribly wrong and we ran out of page table.
    if (lvl === MAX_LEVELS) {
      this.warn('__arm_lpae_unmap: ran out of page table');
      return 0;
    }
    const g = this.g;
    const idx = g.lvlIdx(iova, lvl);
    const ptep = table + idx * PTE_BYTES;
    this.readPte(ptep);
    if (this.pteNone(this.one)) {
      this.warn(`__arm_lpae_unmap: iova ${hex(iova)} not mapped`);
      return 0;
    }
    // If the size matches this level, we're in the right place.
    if (size === g.blockSize(lvl)) {
      const num = Math.min(pgcount, g.ptesAt(lvl) - idx);
      const buf = this.unmapBuf;
      const w = this.unmapW;
      let i = 0;
      while (i < num) {
        const n = Math.min(PTES_PER_ACCESS, num - i);
        const at = ptep + i * PTE_BYTES;
        this.kernel.mem.readWords(at, buf, 2 * n);
        let valid = 0;
        while (valid < n && (buf[2 * valid] !== 0 || buf[2 * valid + 1] !== 0)) valid++;
        if (valid > 0) {
          // __arm_lpae_clear_pte for each, as one store.
          this.writeZeros(at, valid);
          for (let j = 0; j < valid; j++) {
            const va = iova + (i + j) * size;
            if (!this.isLeafWords(buf[2 * j], lvl)) {
              // Also flush any partial walks.
              this.cfg.tlb?.tlbFlushWalk(va, size, g.granule);
              w[0] = buf[2 * j];
              w[1] = buf[2 * j + 1];
              this.freePgtable(lvl + 1, this.deref(w, lvl));
            } else if (!(gather?.queued ?? false)) {
              this.cfg.tlb?.tlbAddPage(gather, va, size);
            }
          }
        }
        i += valid;
        if (valid < n) {
          this.warn(`__arm_lpae_unmap: iova ${hex(iova + i * size)} not mapped`);
          break;
        }
      }
      return i * size;
    }
    if (this.isLeaf(this.one, lvl)) {
      // Insert a table at the next level to map the old region, minus the part we want to unmap.
      this.format.decode(g.fmtLevel(lvl), this.one, this.dec);
      const blk = { addr: this.dec.addr, readOnly: this.dec.readOnly, privileged: this.dec.privileged, noRead: this.dec.noRead === true };
      return this.splitBlkUnmap(gather, iova, size, blk, lvl + 1, ptep, pgcount);
    }
    // Keep on walkin'.
    return this.unmapLevel(gather, iova, size, pgcount, lvl + 1, this.deref(this.one, lvl));
  }

  /** arm_lpae_split_blk_unmap: `blk` is the block at `ptep` (level lvl - 1); `lvl` is the new table's. */
  private splitBlkUnmap(gather: IommuIotlbGather | null, iova: number, size: number, blk: { addr: number } & LeafProt, lvl: number, ptep: number, pgcount: number): number {
    if (lvl === MAX_LEVELS) {
      this.warn('arm_lpae_split_blk_unmap: no level below');
      return 0;
    }
    const tablep = this.allocTable();
    if (tablep === null) return 0; // bytes unmapped
    const g = this.g;
    const ptes = g.ptesPerTable;
    const splitSz = g.blockSize(lvl);
    let unmapIdxStart = -1;
    let numEntries = 0;
    if (size === splitSz) {
      unmapIdxStart = g.lvlIdx(iova, lvl);
      numEntries = Math.min(pgcount, ptes - unmapIdxStart);
    }
    // Every entry but the unmapped ones maps its part of the block, with the block's attributes.
    if (unmapIdxStart < 0) {
      this.writeLeaves(blk.addr, blk, lvl, ptes, tablep);
    } else {
      if (unmapIdxStart > 0) this.writeLeaves(blk.addr, blk, lvl, unmapIdxStart, tablep);
      const after = unmapIdxStart + numEntries;
      if (after < ptes) this.writeLeaves(blk.addr + after * splitSz, blk, lvl, ptes - after, tablep + after * PTE_BYTES);
    }
    this.installTable(tablep, ptep, lvl - 1);
    if (unmapIdxStart >= 0) {
      for (let i = 0; i < numEntries; i++) this.cfg.tlb?.tlbAddPage(gather, iova + i * size, size);
      return numEntries * size;
    }
    return this.unmapLevel(gather, iova, size, pgcount, lvl, tablep);
  }

  // ---- lookup and teardown ----

  /**
   * arm_lpae_iova_to_phys: the physical address `iova` maps to, or null when it is not
   * mapped (Linux returns 0; here 0 is a valid address). Reads the tables with kernel loads.
   */
  iovaToPhys(iova: number): number | null {
    this.checkLive('iovaToPhys');
    if (!(iova >= 0 && iova < POW2[this.cfg.ias])) return null;
    const g = this.g;
    let table = this.pgd;
    for (let lvl = g.startLevel; lvl < MAX_LEVELS; lvl++) {
      this.readPte(table + g.lvlIdx(iova, lvl) * PTE_BYTES);
      if (this.pteNone(this.one)) return null;
      if (this.isLeaf(this.one, lvl)) {
        this.format.decode(g.fmtLevel(lvl), this.one, this.dec);
        return this.dec.addr + (iova % g.blockSize(lvl));
      }
      table = this.deref(this.one, lvl);
    }
    return null;
  }

  /**
   * free_io_pgtable_ops: flushes the TLBs (tlb_flush_all), then frees every table page,
   * the root included. The page table must not be used afterwards.
   */
  free(): void {
    if (this.freed) return;
    this.cfg.tlb?.tlbFlushAll();
    this.freePgtable(this.g.startLevel, this.pgd);
    this.freed = true;
  }

  // ---- helpers ----

  private pgsizeOk(pgsize: number): boolean {
    return Number.isInteger(pgsize) && pgsize > 0 && pgsize <= this.g.maxPgsize && (pgsize & this.cfg.pgsizeBitmap) === pgsize;
  }

  private checkLive(call: string): void {
    if (this.freed) throw new SimInvariantError(`io-pgtable ${call}: page table at ${hex(this.pgd)} used after free`);
  }

  private warn(message: string): void {
    this.kernel.warn('io-pgtable', message);
  }

  /** __arm_lpae_alloc_pages: a zeroed table page, or null. */
  private allocTable(): number | null {
    const pa = this.cfg.pages.allocPages(this.g.tableOrder);
    if (pa === null) return null;
    this.kernel.mem.zero(pa, this.g.tableBytes);
    this.tables++;
    if (this.sPages) this.sPages.value++;
    return pa;
  }

  /** __arm_lpae_free_pgtable: frees the table at `table` (level `lvl`) and every table below it. */
  private freePgtable(lvl: number, table: number): void {
    const g = this.g;
    if (lvl < MAX_LEVELS - 1) {
      // Only leaf entries at the last level; above it, look for tables (in 256-byte loads).
      const buf = new Uint32Array(2 * PTES_PER_ACCESS);
      const w = new Uint32Array(2);
      const ptes = g.ptesAt(lvl);
      for (let base = 0; base < ptes; base += PTES_PER_ACCESS) {
        const n = Math.min(PTES_PER_ACCESS, ptes - base);
        this.kernel.mem.readWords(table + base * PTE_BYTES, buf, 2 * n);
        for (let j = 0; j < n; j++) {
          const lo = buf[2 * j];
          const hi = buf[2 * j + 1];
          if ((lo === 0 && hi === 0) || this.isLeafWords(lo, lvl)) continue;
          w[0] = lo;
          w[1] = hi;
          this.freePgtable(lvl + 1, this.deref(w, lvl));
        }
      }
    }
    this.cfg.pages.freePages(table, lvl === g.startLevel ? g.pgdOrder : g.tableOrder);
    this.tables--;
    if (this.sPages) this.sPages.value--;
  }

  /** arm_lpae_install_table: points the entry at `ptep` (level `lvl`) to the table at `table`. */
  private installTable(table: number, ptep: number, lvl: number): void {
    this.spec.kind = EntryKind.Table;
    this.spec.addr = table;
    this.format.encode(this.g.fmtLevel(lvl), this.spec, this.one);
    this.kernel.mem.writeWords(ptep, this.one, 2);
  }

  /** __arm_lpae_init_pte: `num` leaves at level `lvl` from `ptep`, mapping from `paddr` up. */
  private writeLeaves(paddr: number, prot: LeafProt, lvl: number, num: number, ptep: number): void {
    const sz = this.g.blockSize(lvl);
    const fl = this.g.fmtLevel(lvl);
    const fmt = this.format;
    const spec = this.spec;
    spec.kind = EntryKind.Page;
    spec.readOnly = prot.readOnly;
    spec.privileged = prot.privileged;
    spec.noRead = prot.noRead;
    const buf = this.buf;
    const one = this.one;
    for (let base = 0; base < num; base += PTES_PER_ACCESS) {
      const n = Math.min(PTES_PER_ACCESS, num - base);
      for (let j = 0; j < n; j++) {
        spec.addr = paddr + (base + j) * sz;
        fmt.encode(fl, spec, one);
        buf[2 * j] = one[0];
        buf[2 * j + 1] = one[1];
      }
      this.kernel.mem.writeWords(ptep + base * PTE_BYTES, buf, 2 * n);
    }
  }

  /** Clears `n` consecutive entries from `ptep` (one store; no allocation for up to a batch). */
  private writeZeros(ptep: number, n: number): void {
    const z = n <= PTES_PER_ACCESS ? ZERO_PTES : new Uint32Array(2 * n);
    this.kernel.mem.writeWords(ptep, z, 2 * n);
  }

  /** READ_ONCE(*ptep) into `this.one`. */
  private readPte(ptep: number): void {
    this.kernel.mem.readWords(ptep, this.one, 2);
  }

  private pteNone(w: Uint32Array): boolean {
    return w[0] === 0 && w[1] === 0;
  }

  /** iopte_leaf. */
  private isLeaf(w: Uint32Array, lvl: number): boolean {
    return this.isLeafWords(w[0], lvl);
  }

  private isLeafWords(lo: number, lvl: number): boolean {
    return lvl === MAX_LEVELS - 1 ? (lo & TYPE_MASK) === TYPE_PAGE : (lo & TYPE_MASK) === TYPE_BLOCK;
  }

  /** iopte_deref: the next-level table a table entry at `lvl` points to. */
  private deref(w: Uint32Array, lvl: number): number {
    this.format.decode(this.g.fmtLevel(lvl), w, this.dec);
    if (this.dec.kind !== EntryKind.Table) throw new SimInvariantError(`io-pgtable: entry at level ${lvl} is not a table`);
    return this.dec.addr;
  }
}
