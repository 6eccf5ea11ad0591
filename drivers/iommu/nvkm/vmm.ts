/**
 * The nvkm-style GPU VMM (nouveau nvkm/subdev/mmu/vmm.c, with the backends of
 * vmmgf100.c / vmmgk104.c / vmmgm200.c / vmmgp100.c and the user entry points of
 * uvmm.c). Kernel names in camelCase: nvkm_vmm_get → nvkmVmmGet, and so on.
 *
 * What it does, as vmm.c does it:
 * - Page tables are reference counted per level (struct nvkm_vmm_pt: refs[0] for the LPT
 *   or single table, refs[1] for the SPT of a dual level). The first reference to a
 *   table position allocates the software PT (nvkm_vmm_ref_swpt) and the hardware table
 *   (nvkm_vmm_ref_hwpt), which writes the PDE; the last one frees the table, rewrites the
 *   parent's PDE (unmapped, sparse, or the remaining half of a dual PDE), flushes, and
 *   recurses upwards (nvkm_vmm_unref_pdes).
 * - Dual page tables keep one state byte per LPTE (pgt->pte[]): how many SPTEs under it
 *   are referenced, whether the LPTE has been handed over to the SPTEs (VALID), whether
 *   the LPTE is sparse. The LPTE state machine (nvkm_vmm_ref_sptes / _unref_sptes):
 *     LPTE INVALID (Blocked) --first SPTE ref--> UNMAPPED  (MMU looks at the SPT)
 *     LPTE SPARSE            --first SPTE ref--> SPTEs set SPARSE, LPTE UNMAPPED
 *     UNMAPPED --last SPTE unref--> SPARSE (if the LPTE is sparse) or INVALID (if the
 *                                   chip has INVALID LPTEs: gk104+)
 *   An LPT created while SPTEs exist (nvkm_vmm_ref_hwpt) starts UNMAPPED where SPTEs
 *   are referenced and SPARSE/INVALID elsewhere.
 * - TLB maintenance: every PDE/PTE write marks the operation as needing a flush at the
 *   depth of the shallowest level written (nvkm_vmm_flush_mark); the flush is issued
 *   once, at the end of the operation (nvkm_vmm_flush), or right away before a table is
 *   freed ("GPU may have cached the PTs, flush before freeing"). A flush is one
 *   INVALIDATE-ASID command executed synchronously by the VMM's IOMMU
 *   (gp100_vmm_flush / gf100_vmm_flush → gf100_vmm_invalidate: PAGE_ALL for the PDB;
 *   gp100 records the depth).
 * - The address space allocator (nvkm_vmm_get_locked / _put_locked and the node
 *   helpers) lives in vma.ts.
 *
 * Errors as in vmm.c: int calls return 0 or -errno (-EINVAL, -ENOSPC, -ENOMEM, -ENOENT);
 * calls that hand back an object return it or a negative errno.
 *
 * Stats (per VMM name):
 *   kernel.<vmm>.nvkm.flushes        flushes (one INVALIDATE-ASID each)
 *   kernel.<vmm>.nvkm.flush_depth    histogram of flush depths (0 = root PDE written)
 *   kernel.<vmm>.nvkm.entry_writes   PTEs/PDEs written
 *   kernel.<vmm>.nvkm.entry_stores   kernel bus stores that carried them
 *   kernel.<vmm>.nvkm.pfn_dma_unmaps host pages released by PFN unmaps
 *   kernel.iommu_time_ps             kernel time waiting for IOMMU commands
 */

import { alignUp, hex } from '../../../sim/engine/addr';
import { SimInvariantError } from '../../../sim/engine/errors';
import type { Counter, Histogram } from '../../../sim/engine/stats';
import type { Iommu } from '../../../sim/mmu/iommu';
import { Aperture, PageFlag } from '../../../sim/mmu/format/types';
import { Errno } from '../../errno';
import type { Kernel } from '../../kernel';
import { sharedCounter } from '../kstats';
import { nvkmFormatOps } from '../pgtableOps';
import {
  DescType,
  NVKM_VMM_PFN_NONE,
  NVKM_VMM_PFN_V,
  NvkmPteWriter,
  nvkmVmmLayout,
  pfnFlags,
  type NvkmChip,
  type NvkmMemory,
  type NvkmPteFunc,
  type NvkmPxeFunc,
  type NvkmVmmDesc,
  type NvkmVmmHw,
  type NvkmVmmLayout,
  type NvkmVmmMapState,
  type NvkmVmmPage,
} from './desc';
import {
  NVKM_VMM_PTE_SPARSE,
  NVKM_VMM_PTE_SPTES,
  NVKM_VMM_PTE_VALID,
  NvkmVmmPt,
  PDE_SPARSE,
  pdeInvalid,
  pdeSparsed,
} from './pt';
import { nvkmMmuPtcDump, nvkmMmuPtcGet, nvkmMmuPtcPut, type NvkmMmu } from './ptc';
import { NVKM_VMA_PAGE_NONE, NvkmVma, NvkmVmaSpace } from './vma';

export const NVKM_VMM_LEVELS_MAX = 5;
/** nvkm_vmm_iter's "~0ULL": the operation completed. */
const ITER_OK = -1;

const EINVAL = -Errno.EINVAL;
const ENOMEM = -Errno.ENOMEM;
const ENOSPC = -Errno.ENOSPC;
const ENOENT = -Errno.ENOENT;

/** The page-size-dependent arguments of a map (struct gf100_vmm_map_v0 / gp100_vmm_map_v0). */
export interface NvkmVmmMapArgs {
  vol?: boolean;
  ro?: boolean;
  priv?: boolean;
  /** Memory kind; only 0 (pitch, no compression) is modelled. */
  kind?: number;
}

/** What nvkm_vmm_map maps (struct nvkm_vmm_map's inputs). */
export interface NvkmVmmMap {
  memory: NvkmMemory;
  /** Byte offset into the memory. */
  offset?: number;
}

/** Physically contiguous memory (an nvkm_mem of one piece). `page` defaults to the largest alignment (≤ 2^30). */
export function nvkmMemoryContig(target: NvkmMemory['target'], addr: number, size: number, page?: number): NvkmMemory {
  let p = page ?? 12;
  if (page === undefined) while (p < 30 && addr % 2 ** (p + 1) === 0 && size % 2 ** (p + 1) === 0) p++;
  return { target, chunks: [{ addr, size }], page: p };
}

/** A DMA page array (4 KiB pages, one address each), as nvkm maps host memory. */
export function nvkmMemoryDma(target: NvkmMemory['target'], pages: readonly number[]): NvkmMemory {
  return { target, chunks: pages.map((addr) => ({ addr, size: 4096 })), page: 12 };
}

export function nvkmMemorySize(m: NvkmMemory): number {
  let n = 0;
  for (const c of m.chunks) n += c.size;
  return n;
}

export interface NvkmVmmNewArgs {
  /** Stats and log name (default 'vmm'). */
  name?: string;
  /** ASID (the PDB's tag in the TLBs) used for this VMM's translations and flushes. */
  asid?: number;
  /** Backend; defaults to the format's `defaultChip` in the page-table ops table (pgtableOps.ts). */
  chip?: NvkmChip;
  /** Client-managed address space (nvkm_vmm_ctor's `managed`). */
  managed?: boolean;
}

/** struct nvkm_vmm. */
export class NvkmVmm implements NvkmVmmHw {
  readonly layout: NvkmVmmLayout;
  readonly writer: NvkmPteWriter;
  readonly kernel: Kernel;
  /** Top-level directory (vmm->pd). */
  pd: NvkmVmmPt | null = null;
  start = 0;
  limit = 0;
  bootstrapped = false;
  readonly vmas = new NvkmVmaSpace();
  /** Streams joined to this VMM. */
  readonly streams = new Set<number>();
  /** Depth of the last flush. */
  lastFlushDepth = -1;

  readonly sFlushes: Counter;
  readonly sFlushDepth: Histogram;
  readonly sPfnDmaUnmaps: Counter;
  private readonly sIommuTime: Counter;

  constructor(
    readonly mmu: NvkmMmu,
    readonly iommu: Iommu,
    readonly name: string,
    readonly asid: number,
    chip: NvkmChip,
  ) {
    this.kernel = mmu.kernel;
    const stats = this.kernel.soc.ctx.stats;
    const p = `kernel.${name}.nvkm`;
    this.sPfnDmaUnmaps = sharedCounter(stats, `${p}.pfn_dma_unmaps`, 'host pages released (dma_unmap_page) by PFN unmaps');
    this.layout = nvkmVmmLayout(chip, iommu.format, () => this.sPfnDmaUnmaps.value++);
    this.writer = new NvkmPteWriter(
      this.kernel.mem,
      iommu.format,
      sharedCounter(stats, `${p}.entry_writes`, 'page-table entries written'),
      sharedCounter(stats, `${p}.entry_stores`, 'kernel stores of page-table entries'),
    );
    this.sFlushes = sharedCounter(stats, `${p}.flushes`, 'TLB flushes (one INVALIDATE-ASID each)');
    const h = stats.get(`${p}.flush_depth`);
    this.sFlushDepth = (h as Histogram | undefined) ?? stats.histogram(`${p}.flush_depth`, 'flush depth: shallowest level written, 0 = root');
    this.sIommuTime = sharedCounter(stats, 'kernel.iommu_time_ps', 'kernel time spent waiting for IOMMU commands, ps');
  }

  get chip(): NvkmChip {
    return this.layout.chip;
  }

  /** vmm->func->page. */
  get page(): readonly NvkmVmmPage[] {
    return this.layout.page;
  }

  /** Physical address of the top-level directory (the PDB). */
  get pdAddr(): number {
    return this.pd!.pt[0]!.addr;
  }

  /**
   * vmm->func->flush: gp100_vmm_flush(vmm, depth) / gf100_vmm_flush (whole PDB, depth
   * ignored). One INVALIDATE-ASID executed synchronously (the driver waits for it).
   */
  flush(depth: number): void {
    this.sFlushes.value++;
    this.lastFlushDepth = depth;
    if (this.chip === 'gp100') this.sFlushDepth.sample(depth);
    this.sIommuTime.value += this.iommu.executeAtomic({ op: 'invalidate-asid', asid: this.asid });
  }
}

// ---------------------------------------------------------------------------------
// The page-tree iterator and the reference-counting callbacks (vmm.c, first half).
// ---------------------------------------------------------------------------------

/** struct nvkm_vmm_iter. */
class NvkmVmmIter {
  cnt = 0;
  max = 0;
  lvl = 0;
  readonly pte = [0, 0, 0, 0, 0];
  readonly pt: (NvkmVmmPt | null)[] = [null, null, null, null, null];
  flush = NVKM_VMM_LEVELS_MAX;
  readonly desc: readonly NvkmVmmDesc[];
  /** page[-1].desc: the LPT paired with an SPT page size. */
  readonly pair: NvkmVmmDesc | null;

  constructor(
    readonly vmm: NvkmVmm,
    readonly page: NvkmVmmPage,
  ) {
    this.desc = page.desc;
    const i = vmm.page.indexOf(page);
    this.pair = page.desc[0].type === DescType.SPT && i > 0 ? vmm.page[i - 1].desc[0] : null;
  }
}

type RefPtes = (it: NvkmVmmIter, pfn: boolean, ptei: number, ptes: number) => boolean;

function typeIdx(desc: NvkmVmmDesc): 0 | 1 {
  return desc.type === DescType.SPT ? 1 : 0;
}

/** nvkm_vmm_flush_mark(). */
function flushMark(it: NvkmVmmIter): void {
  it.flush = Math.min(it.flush, it.max - it.lvl);
}

/** nvkm_vmm_flush(). */
function flushIt(it: NvkmVmmIter): void {
  if (it.flush !== NVKM_VMM_LEVELS_MAX) {
    it.vmm.flush(it.flush);
    it.flush = NVKM_VMM_LEVELS_MAX;
  }
}

/** nvkm_vmm_unref_pdes(): the table at it.lvl lost its last reference. */
function unrefPdes(it: NvkmVmmIter): void {
  const desc = it.desc;
  const type = typeIdx(desc[it.lvl]);
  const pgd = it.pt[it.lvl + 1]!;
  const pgt = it.pt[it.lvl]!;
  const pt = pgt.pt[type];
  const vmm = it.vmm;
  const pdei = it.pte[it.lvl + 1];

  // Recurse up the tree, unreferencing/destroying unneeded PDs.
  it.lvl++;
  if (--pgd.refs[0]) {
    const func = desc[it.lvl].func;
    // PD has other valid PDEs, so we need a proper update.
    pgt.pt[type] = null;
    if (!pgt.refs[type ^ 1]) {
      // PDE no longer required.
      if (pgd.pt[0]) {
        if (pgt.sparse) {
          func.sparse!(vmm, pgd.pt[0], pdei, 1);
          pgd.pde![pdei] = PDE_SPARSE;
        } else {
          func.unmap(vmm, pgd.pt[0], pdei, 1);
          pgd.pde![pdei] = null;
        }
      } else {
        // Tesla-class GPUs (PD embedded in the instance block): not modelled.
        func.pde!(vmm, pgd, pdei);
        pgd.pde![pdei] = null;
      }
    } else {
      // The PDE pointed at dual PTs and one of them goes: rewrite it with the other.
      func.pde!(vmm, pgd, pdei);
    }
    // GPU may have cached the PTs, flush before freeing.
    flushMark(it);
    flushIt(it);
  } else {
    // PD has no valid PDEs left, so we can just destroy it.
    unrefPdes(it);
  }

  // Destroy PD/PT (the software PT is dropped with its parent's pde[] slot).
  nvkmMmuPtcPut(vmm.mmu, vmm.bootstrapped, pt);
  it.lvl--;
}

/** nvkm_vmm_unref_sptes(): SPTE references dropped; LPTEs with no SPTEs left take their range back. */
function unrefSptes(it: NvkmVmmIter, pgt: NvkmVmmPt, desc: NvkmVmmDesc, ptei: number, ptes: number): void {
  const pair = it.pair!;
  const sptb = desc.bits - pair.bits;
  const sptn = 1 << sptb;
  const vmm = it.vmm;
  let spti = ptei & (sptn - 1);
  let lpti: number;
  let pteb: number;

  // Determine how many SPTEs are being touched under each LPTE, and drop reference counts.
  for (lpti = ptei >> sptb; ptes; spti = 0, lpti++) {
    const pten = Math.min(sptn - spti, ptes);
    pgt.pte[lpti] -= pten;
    ptes -= pten;
  }

  // We're done here if there's no corresponding LPT.
  if (!pgt.refs[0]) return;

  for (ptei = pteb = ptei >> sptb; ptei < lpti; pteb = ptei) {
    // Skip over any LPTEs that still have valid SPTEs.
    if (pgt.pte[pteb] & NVKM_VMM_PTE_SPTES) {
      for (ptes = 1, ptei++; ptei < lpti; ptes++, ptei++) {
        if (!(pgt.pte[ptei] & NVKM_VMM_PTE_SPTES)) break;
      }
      continue;
    }

    // No more non-UNMAPPED SPTEs under these LPTEs: the LPTEs take control of their
    // address range again. Determine how many LPTEs need to transition state.
    pgt.pte[ptei] &= ~NVKM_VMM_PTE_VALID;
    for (ptes = 1, ptei++; ptei < lpti; ptes++, ptei++) {
      if (pgt.pte[ptei] & NVKM_VMM_PTE_SPTES) break;
      pgt.pte[ptei] &= ~NVKM_VMM_PTE_VALID;
    }

    if (pgt.pte[pteb] & NVKM_VMM_PTE_SPARSE) {
      // LPTE: U -> S
      pair.func.sparse!(vmm, pgt.pt[0]!, pteb, ptes);
    } else if (pair.func.invalid) {
      // LPTE: U -> I. If the MMU supports it, tell it there is no point fetching the SPTEs.
      pair.func.invalid(vmm, pgt.pt[0]!, pteb, ptes);
    }
  }
}

/** nvkm_vmm_unref_ptes(). False when the PT went away (no PTE writes needed). */
function unrefPtes(it: NvkmVmmIter, pfn: boolean, ptei: number, ptes: number): boolean {
  const desc = it.desc[0];
  const type = typeIdx(desc);
  const pgt = it.pt[0]!;

  if (pfn) {
    // Need to clear PTE valid bits before we dma_unmap_page().
    const dma = desc.func.pfnClear!(it.vmm, pgt.pt[type]!, ptei, ptes);
    if (dma) {
      // GPU may have cached the PT, flush before unmap.
      flushMark(it);
      flushIt(it);
      desc.func.pfnUnmap!(it.vmm, pgt.pt[type]!, ptei, ptes);
    }
  }

  // Drop PTE references.
  pgt.refs[type] -= ptes;

  // Dual-PTs need special handling, unless PDE becoming invalid.
  if (desc.type === DescType.SPT && (pgt.refs[0] || pgt.refs[1])) unrefSptes(it, pgt, desc, ptei, ptes);

  // PT no longer needed? Destroy it.
  if (!pgt.refs[type]) {
    unrefPdes(it);
    return false; // PTE writes for unmap() not necessary.
  }
  return true;
}

/** nvkm_vmm_ref_sptes(): SPTE references taken; LPTEs hand their range over to the SPTEs. */
function refSptes(it: NvkmVmmIter, pgt: NvkmVmmPt, desc: NvkmVmmDesc, ptei: number, ptes: number): void {
  const pair = it.pair!;
  const sptb = desc.bits - pair.bits;
  const sptn = 1 << sptb;
  const vmm = it.vmm;
  let spti = ptei & (sptn - 1);
  let lpti: number;
  let pteb: number;

  // Determine how many SPTEs are being touched under each LPTE, and increase reference counts.
  for (lpti = ptei >> sptb; ptes; spti = 0, lpti++) {
    const pten = Math.min(sptn - spti, ptes);
    pgt.pte[lpti] += pten;
    ptes -= pten;
  }

  // We're done here if there's no corresponding LPT.
  if (!pgt.refs[0]) return;

  for (ptei = pteb = ptei >> sptb; ptei < lpti; pteb = ptei) {
    // Skip over any LPTEs that already have valid SPTEs.
    if (pgt.pte[pteb] & NVKM_VMM_PTE_VALID) {
      for (ptes = 1, ptei++; ptei < lpti; ptes++, ptei++) {
        if (!(pgt.pte[ptei] & NVKM_VMM_PTE_VALID)) break;
      }
      continue;
    }

    // There are now non-UNMAPPED SPTEs in the range covered by these LPTEs: transfer
    // control of the range to the SPTEs. Determine how many LPTEs need to transition.
    pgt.pte[ptei] |= NVKM_VMM_PTE_VALID;
    for (ptes = 1, ptei++; ptei < lpti; ptes++, ptei++) {
      if (pgt.pte[ptei] & NVKM_VMM_PTE_VALID) break;
      pgt.pte[ptei] |= NVKM_VMM_PTE_VALID;
    }

    if (pgt.pte[pteb] & NVKM_VMM_PTE_SPARSE) {
      const spti2 = pteb * sptn;
      const sptc = ptes * sptn;
      // The entire LPTE is marked as sparse: make sure the SPTEs are too (SPTE: U -> S).
      desc.func.sparse!(vmm, pgt.pt[1]!, spti2, sptc);
      // Sparse LPTEs prevent SPTEs from being accessed (LPTE: S -> U).
      pair.func.unmap(vmm, pgt.pt[0]!, pteb, ptes);
    } else if (pair.func.invalid) {
      // MMU supports blocking SPTEs by marking an LPTE INVALID: reverse that (LPTE: I -> U).
      pair.func.unmap(vmm, pgt.pt[0]!, pteb, ptes);
    }
  }
}

/** nvkm_vmm_ref_ptes(). */
function refPtes(it: NvkmVmmIter, _pfn: boolean, ptei: number, ptes: number): boolean {
  const desc = it.desc[0];
  const type = typeIdx(desc);
  const pgt = it.pt[0]!;
  // Take PTE references.
  pgt.refs[type] += ptes;
  // Dual-PTs need special handling.
  if (desc.type === DescType.SPT) refSptes(it, pgt, desc, ptei, ptes);
  return true;
}

/** nvkm_vmm_sparse_ptes(): marks PDEs / LPTEs sparse in the software state. */
function sparsePtes(desc: NvkmVmmDesc, pgt: NvkmVmmPt, ptei: number, ptes: number): void {
  if (desc.type === DescType.PGD) {
    while (ptes--) pgt.pde![ptei++] = PDE_SPARSE;
  } else if (desc.type === DescType.LPT) {
    pgt.pte.fill(NVKM_VMM_PTE_SPARSE, ptei, ptei + ptes);
  }
}

/** nvkm_vmm_sparse_unref_ptes(). */
function sparseUnrefPtes(it: NvkmVmmIter, pfn: boolean, ptei: number, ptes: number): boolean {
  const pt = it.pt[0]!;
  if (it.desc[0].type === DescType.PGD) pt.pde!.fill(null, ptei, ptei + ptes);
  else if (it.desc[0].type === DescType.LPT) pt.pte.fill(0, ptei, ptei + ptes);
  return unrefPtes(it, pfn, ptei, ptes);
}

/** nvkm_vmm_sparse_ref_ptes(). */
function sparseRefPtes(it: NvkmVmmIter, pfn: boolean, ptei: number, ptes: number): boolean {
  sparsePtes(it.desc[0], it.pt[0]!, ptei, ptes);
  return refPtes(it, pfn, ptei, ptes);
}

/** nvkm_vmm_ref_hwpt(): first reference to the hardware table under `pgd`'s PDE `pdei`. */
function refHwpt(it: NvkmVmmIter, pgd: NvkmVmmPt, pdei: number): boolean {
  const desc = it.desc[it.lvl - 1];
  const type = typeIdx(desc);
  const pgt = pgd.pde![pdei] as NvkmVmmPt;
  const zero = !pgt.sparse && !desc.func.invalid;
  const vmm = it.vmm;
  const pten = 2 ** desc.bits;
  const size = desc.size * pten;

  pgd.refs[0]++;

  pgt.pt[type] = nvkmMmuPtcGet(vmm.mmu, size, desc.align, zero);
  if (!pgt.pt[type]) {
    it.lvl--;
    unrefPdes(it);
    return false;
  }

  if (!zero) {
    const pt = pgt.pt[type]!;
    if (desc.type === DescType.LPT && pgt.refs[1]) {
      // An SPT already covers this LPT's range: LPTEs over referenced SPTEs must be
      // UNMAPPED, not INVALID or SPARSE, or the MMU would not look at the SPTEs.
      let ptes: number;
      for (let ptei = 0, pteb = 0; ptei < pten; pteb = ptei) {
        const spte = (pgt.pte[ptei] & NVKM_VMM_PTE_SPTES) !== 0;
        for (ptes = 1, ptei++; ptei < pten; ptes++, ptei++) {
          const next = (pgt.pte[ptei] & NVKM_VMM_PTE_SPTES) !== 0;
          if (spte !== next) break;
        }
        if (!spte) {
          if (pgt.sparse) desc.func.sparse!(vmm, pt, pteb, ptes);
          else desc.func.invalid!(vmm, pt, pteb, ptes);
          pgt.pte.fill(0, pteb, pteb + ptes);
        } else {
          desc.func.unmap(vmm, pt, pteb, ptes);
          while (ptes--) pgt.pte[pteb++] |= NVKM_VMM_PTE_VALID;
        }
      }
    } else if (pgt.sparse) {
      sparsePtes(desc, pgt, 0, pten);
      desc.func.sparse!(vmm, pt, 0, pten);
    } else {
      desc.func.invalid!(vmm, pt, 0, pten);
    }
  }

  // PDE write.
  it.desc[it.lvl].func.pde!(vmm, pgd, pdei);
  flushMark(it);
  return true;
}

/** nvkm_vmm_ref_swpt(): creates the software PT under `pgd`'s PDE `pdei`. */
function refSwpt(it: NvkmVmmIter, pgd: NvkmVmmPt, pdei: number): boolean {
  const desc = it.desc[it.lvl - 1];
  const old = pgd.pde![pdei];
  pgd.pde![pdei] = new NvkmVmmPt(desc, pdeSparsed(old), it.page.shift, it.pair);
  return true;
}

/**
 * nvkm_vmm_iter(): walks the PTEs of [addr, addr+size) at `page`, taking table
 * references on the way down if `ref`, calling REF_PTES per run of PTEs in one table,
 * then MAP_PTES or CLR_PTES (and marking a flush). Flushes once at the end. Returns
 * ITER_OK, or the address where taking a reference failed (out of memory).
 */
function nvkmVmmIter(
  vmm: NvkmVmm,
  page: NvkmVmmPage,
  addr: number,
  size: number,
  ref: boolean,
  pfn: boolean,
  REF_PTES: RefPtes | null,
  MAP_PTES: NvkmPteFunc | null,
  map: NvkmVmmMapState | null,
  CLR_PTES: NvkmPxeFunc | null,
): number {
  const desc = page.desc;
  const it = new NvkmVmmIter(vmm, page);
  let bits = Math.floor(addr / 2 ** page.shift);
  it.cnt = Math.floor(size / 2 ** page.shift);
  it.flush = NVKM_VMM_LEVELS_MAX;

  // Deconstruct address into PTE indices for each mapping level.
  for (it.lvl = 0; it.lvl < desc.length; it.lvl++) {
    const n = 2 ** desc[it.lvl].bits;
    it.pte[it.lvl] = bits % n;
    bits = Math.floor(bits / n);
  }
  it.max = --it.lvl;
  it.pt[it.max] = vmm.pd;
  it.lvl = it.max;

  const type = typeIdx(desc[0]);
  const pten = 2 ** desc[0].bits;

  // Depth-first traversal of page tables.
  while (it.cnt) {
    let pgt = it.pt[it.lvl]!;
    const ptei = it.pte[0];
    const ptes = Math.min(it.cnt, pten - ptei);

    // Walk down the tree, finding page tables for each level.
    for (; it.lvl; it.lvl--) {
      const pdei = it.pte[it.lvl];
      const pgd = pgt;

      // Software PT.
      if (ref && pdeInvalid(pgd.pde![pdei])) {
        if (!refSwpt(it, pgd, pdei)) return iterFail(it, page);
      }
      const child = pgd.pde![pdei];
      if (pdeInvalid(child)) {
        throw new SimInvariantError(`nvkm ${vmm.name}: no page table under ${desc[it.lvl].name}[${pdei}] for ${hex(addr)}+${hex(size)} (not referenced)`);
      }
      it.pt[it.lvl - 1] = pgt = child;

      // Hardware PT (separate from the above: dual tables are refcounted independently).
      if (ref && !pgt.refs[typeIdx(desc[it.lvl - 1])]) {
        if (!refHwpt(it, pgd, pdei)) return iterFail(it, page);
      }
    }

    // Handle PTE updates.
    if (!REF_PTES || REF_PTES(it, pfn, ptei, ptes)) {
      const pt = pgt.pt[type]!;
      if (MAP_PTES || CLR_PTES) {
        if (MAP_PTES) MAP_PTES(vmm, pt, ptei, ptes, map!);
        else CLR_PTES!(vmm, pt, ptei, ptes);
        flushMark(it);
      }
    }

    // Walk back up the tree to the next position.
    it.pte[it.lvl] += ptes;
    it.cnt -= ptes;
    if (it.cnt) {
      while (it.pte[it.lvl] === 2 ** desc[it.lvl].bits) {
        it.pte[it.lvl++] = 0;
        it.pte[it.lvl]++;
      }
    }
  }

  flushIt(it);
  return ITER_OK;
}

/** Reconstructs the failure address so the caller can reverse what was done. */
function iterFail(it: NvkmVmmIter, page: NvkmVmmPage): number {
  // As in nvkm, no flush here: the caller's undo (unmap + unref) flushes.
  let a = it.pte[it.max];
  for (let l = it.max - 1; l >= 0; l--) a = a * 2 ** it.desc[l].bits + it.pte[l];
  return a * 2 ** page.shift;
}

// ---------------------------------------------------------------------------------
// PTE operations (nvkm_vmm_ptes_*).
// ---------------------------------------------------------------------------------

/** nvkm_vmm_ptes_sparse_put(). */
function ptesSparsePut(vmm: NvkmVmm, page: NvkmVmmPage, addr: number, size: number): void {
  const f = page.desc[0].func;
  nvkmVmmIter(vmm, page, addr, size, false, false, sparseUnrefPtes, null, null, f.invalid ?? f.unmap);
}

/** nvkm_vmm_ptes_sparse_get(). */
function ptesSparseGet(vmm: NvkmVmm, page: NvkmVmmPage, addr: number, size: number): number {
  if (page.type & PageFlag.SPARSE) {
    const fail = nvkmVmmIter(vmm, page, addr, size, true, false, sparseRefPtes, null, null, page.desc[0].func.sparse);
    if (fail !== ITER_OK) {
      if ((size = fail - addr)) ptesSparsePut(vmm, page, addr, size);
      return ENOMEM;
    }
    return 0;
  }
  return EINVAL;
}

/** nvkm_vmm_ptes_sparse(): (un)marks [addr, addr+size) sparse with the largest page sizes that fit. */
function ptesSparse(vmm: NvkmVmm, addr: number, size: number, ref: boolean): number {
  const page = vmm.page;
  let m = 0;
  const start = addr;
  while (size) {
    // Limit maximum page size based on remaining size.
    while (m < page.length - 1 && size < 2 ** page[m].shift) m++;
    let i = m;
    // Find largest page size suitable for alignment.
    while (i < page.length - 1 && addr % 2 ** page[i].shift !== 0) i++;
    const unit = 2 ** page[i].shift;
    let block: number;
    if (i !== m) {
      // Limited to alignment boundary of next page size.
      const next = 2 ** page[i - 1].shift;
      const part = alignUp(addr, next) - addr;
      block = size - part >= next ? Math.floor(part / unit) * unit : Math.floor(size / unit) * unit;
    } else {
      block = Math.floor(size / unit) * unit;
    }
    if (block === 0) return EINVAL; // not 4 KiB granular: nvkm never gets here

    if (ref) {
      const ret = ptesSparseGet(vmm, page[i], addr, block);
      if (ret) {
        if ((size = addr - start)) ptesSparse(vmm, start, size, false);
        return ret;
      }
    } else {
      ptesSparsePut(vmm, page[i], addr, block);
    }
    size -= block;
    addr += block;
  }
  return 0;
}

/** nvkm_vmm_ptes_unmap_put(). */
function ptesUnmapPut(vmm: NvkmVmm, page: NvkmVmmPage, addr: number, size: number, sparse: boolean, pfn: boolean): void {
  const f = page.desc[0].func;
  nvkmVmmIter(vmm, page, addr, size, false, pfn, unrefPtes, null, null, sparse ? f.sparse! : f.invalid ?? f.unmap);
}

/** nvkm_vmm_ptes_get_map(). */
function ptesGetMap(vmm: NvkmVmm, page: NvkmVmmPage, addr: number, size: number, map: NvkmVmmMapState, func: NvkmPteFunc): number {
  const fail = nvkmVmmIter(vmm, page, addr, size, true, false, refPtes, func, map, null);
  if (fail !== ITER_OK) {
    if ((size = fail - addr)) ptesUnmapPut(vmm, page, addr, size, false, false);
    return ENOMEM;
  }
  return 0;
}

/** nvkm_vmm_ptes_unmap(). */
function ptesUnmap(vmm: NvkmVmm, page: NvkmVmmPage, addr: number, size: number, sparse: boolean, pfn: boolean): void {
  const f = page.desc[0].func;
  nvkmVmmIter(vmm, page, addr, size, false, pfn, null, null, null, sparse ? f.sparse! : f.invalid ?? f.unmap);
}

/** nvkm_vmm_ptes_map(). */
function ptesMap(vmm: NvkmVmm, page: NvkmVmmPage, addr: number, size: number, map: NvkmVmmMapState, func: NvkmPteFunc): void {
  nvkmVmmIter(vmm, page, addr, size, false, false, null, func, map, null);
}

/** nvkm_vmm_ptes_put(). */
function ptesPut(vmm: NvkmVmm, page: NvkmVmmPage, addr: number, size: number): void {
  nvkmVmmIter(vmm, page, addr, size, false, false, unrefPtes, null, null, null);
}

/** nvkm_vmm_ptes_get(). */
function ptesGet(vmm: NvkmVmm, page: NvkmVmmPage, addr: number, size: number): number {
  const fail = nvkmVmmIter(vmm, page, addr, size, true, false, refPtes, null, null, null);
  if (fail !== ITER_OK) {
    if (fail !== addr) ptesPut(vmm, page, addr, fail - addr);
    return ENOMEM;
  }
  return 0;
}

// ---------------------------------------------------------------------------------
// Construction, destruction, attach.
// ---------------------------------------------------------------------------------

/**
 * nvkm_vmm_new(): a VMM on `iommu` (whose format selects the backend) with page tables
 * from `mmu`. Not managed: [addr, addr+size) is the allocatable range (size 0 = up to
 * the VA limit). Managed: the client owns the space except [addr, addr+size). Returns
 * the VMM or -EINVAL / -ENOMEM.
 */
export function nvkmVmmNew(mmu: NvkmMmu, iommu: Iommu, addr: number, size: number, args: NvkmVmmNewArgs = {}): NvkmVmm | number {
  // The format's entry in the page-table ops table names the backends that drive it.
  const ops = nvkmFormatOps(iommu.format);
  if (!ops) return EINVAL;
  const chip = args.chip ?? ops.defaultChip;
  if (!ops.chips.includes(chip)) return EINVAL;
  const vmm = new NvkmVmm(mmu, iommu, args.name ?? 'vmm', args.asid ?? 0, chip);
  const ret = vmmCtor(vmm, args.managed ?? false, addr, size);
  if (ret) {
    nvkmVmmUnref(vmm);
    return ret;
  }
  return vmm;
}

/** nvkm_vmm_ctor(). */
function vmmCtor(vmm: NvkmVmm, managed: boolean, addr: number, size: number): number {
  const pages = vmm.page;
  // The smallest page size has the deepest nesting of page tables.
  const page = pages[pages.length - 1];
  let bits = 0;
  for (const d of page.desc) bits += d.bits;
  bits += page.shift;
  const levels = page.desc.length;
  if (levels > NVKM_VMM_LEVELS_MAX) {
    vmm.kernel.warn('nvkm', `${vmm.name}: ${levels} page-table levels > NVKM_VMM_LEVELS_MAX`);
    return EINVAL;
  }
  const desc = page.desc[levels - 1];

  // Allocate top-level page table, and the GPU storage for it.
  vmm.pd = new NvkmVmmPt(desc, false, 0, null);
  vmm.pd.refs[0] = 1;
  vmm.pd.pt[0] = nvkmMmuPtcGet(vmm.mmu, desc.size * 2 ** desc.bits, desc.align, true);
  if (!vmm.pd.pt[0]) return ENOMEM;

  const sp = vmm.vmas;
  const vaLimit = 2 ** bits;
  if (managed) {
    // Client-managed space, except [addr, addr+size) where NVKM allocations go.
    vmm.start = 0;
    vmm.limit = vaLimit;
    if (addr + size > vmm.limit || addr < 0 || size < 0) return EINVAL;
    if (addr) ctorManaged(vmm, 0, addr);
    if (size) sp.freeInsert(listTail(sp, new NvkmVma(addr, size)));
    const a2 = addr + size;
    const s2 = vmm.limit - a2;
    if (s2) ctorManaged(vmm, a2, s2);
  } else {
    // Address space fully managed by NVKM (nvkm_vmm_get / nvkm_vmm_put).
    vmm.start = addr;
    vmm.limit = size ? addr + size : vaLimit;
    if (vmm.start > vmm.limit || vmm.limit > vaLimit || addr < 0) return EINVAL;
    sp.freeInsert(listTail(sp, new NvkmVma(vmm.start, vmm.limit - vmm.start)));
  }
  return 0;
}

function listTail(sp: NvkmVmaSpace, vma: NvkmVma): NvkmVma {
  sp.listAddTail(vma);
  return vma;
}

/** nvkm_vmm_ctor_managed(). */
function ctorManaged(vmm: NvkmVmm, addr: number, size: number): void {
  const vma = new NvkmVma(addr, size);
  vma.mapref = true;
  vma.sparse = false;
  vma.used = true;
  vmm.vmas.nodeInsert(vma);
  vmm.vmas.listAddTail(vma);
}

/**
 * nvkm_vmm_unref() → nvkm_vmm_dtor(): puts every VMA, drops bootstrap references, and
 * frees the top-level directory. Streams still joined are parted with a warning.
 */
export function nvkmVmmUnref(vmm: NvkmVmm): void {
  for (const s of [...vmm.streams]) {
    vmm.kernel.warn('nvkm', `${vmm.name}: destroyed while stream ${s} is joined`);
    nvkmVmmPart(vmm, s);
  }
  let first: NvkmVma | undefined;
  while ((first = vmm.vmas.root.at(0)) !== undefined) nvkmVmmPut(vmm, first);

  if (vmm.bootstrapped && vmm.pd) {
    const page = vmm.page[vmm.page.length - 1];
    nvkmMmuPtcDump(vmm.mmu);
    ptesPut(vmm, page, vmm.start, vmm.limit - vmm.start);
  }

  const head = vmm.vmas.head;
  if (head) {
    if (head.used === false) vmm.vmas.freeRemove(head);
    vmm.vmas.listDel(head);
  }
  if (vmm.vmas.head !== null) vmm.kernel.warn('nvkm', `${vmm.name}: VMA list not empty at destruction`);

  if (vmm.pd) {
    nvkmMmuPtcPut(vmm.mmu, true, vmm.pd.pt[0]);
    vmm.pd = null;
  }
}

/**
 * nvkm_vmm_join(), the part that matters here: binds IOMMU stream `streamId` to this
 * VMM (a register write: the stream's PDB, ASID and translate mode). Returns 0.
 */
export function nvkmVmmJoin(vmm: NvkmVmm, streamId: number): number {
  vmm.iommu.setStreamContext(streamId, {
    format: vmm.iommu.format,
    root: vmm.pdAddr,
    asid: vmm.asid,
    mode: 'translate',
    privileged: false,
    allowRead: true,
    allowWrite: true,
  });
  vmm.streams.add(streamId);
  return 0;
}

/** nvkm_vmm_part(): unbinds a stream (its context is cleared: requests fault). */
export function nvkmVmmPart(vmm: NvkmVmm, streamId: number): void {
  if (!vmm.streams.delete(streamId)) return;
  vmm.iommu.setStreamContext(streamId, null);
}

/**
 * nvkm_vmm_boot(): takes references on the page tables of the whole range
 * [start, limit) at the smallest page size, so that every table exists up front
 * (BAR2 bootstrap). Tables of a bootstrapped VMM are freed, not cached. 0 or -ENOMEM.
 */
export function nvkmVmmBoot(vmm: NvkmVmm): number {
  const page = vmm.page[vmm.page.length - 1];
  const limit = vmm.limit - vmm.start;
  const ret = ptesGet(vmm, page, vmm.start, limit);
  if (ret) return ret;
  // nvkm_vmm_boot_ptes: nvkm_memory_boot() on each table (nothing to do here).
  vmm.bootstrapped = true;
  return 0;
}

// ---------------------------------------------------------------------------------
// Address-space allocation: nvkm_vmm_get / nvkm_vmm_put.
// ---------------------------------------------------------------------------------

/**
 * nvkm_vmm_get_locked(): allocates `size` bytes of address space.
 * - `shift`: page size the region will be mapped with (0: chosen at map time); the size
 *   must be a multiple of it. `align`: log2 alignment (at least the page size, or 4 KiB).
 * - `getref`: take the PTE references (allocating the page tables) now.
 * - `mapref`: take them at map time instead.
 * - `sparse`: make the region sparse (reads return zeros, writes are dropped).
 * Returns the VMA, or -EINVAL (bad arguments), -ENOSPC (no room), -ENOMEM (no memory
 * for page tables).
 */
export function nvkmVmmGetLocked(vmm: NvkmVmm, getref: boolean, mapref: boolean, sparse: boolean, shift: number, align: number, size: number): NvkmVma | number {
  const pages = vmm.page;
  let pageIdx = NVKM_VMA_PAGE_NONE;
  const sp = vmm.vmas;

  // Zero-sized, or lazily-allocated sparse VMAs, make no sense.
  if (!size || size < 0 || !Number.isSafeInteger(size) || (!getref && !mapref && sparse)) return EINVAL;

  // Up-front allocation of PTEs needs the page size.
  if (getref && !shift) return EINVAL;

  // A specific page size: find it, and the size must be a multiple of it.
  if (shift) {
    pageIdx = pages.findIndex((p) => p.shift === shift);
    if (pageIdx < 0 || size % 2 ** shift !== 0) return EINVAL;
    align = Math.max(align, shift);
  } else {
    align = Math.max(align, 12);
  }

  // Locate the smallest block that can possibly satisfy the allocation.
  let idx = sp.free.lowerBound((v) => v.size < size);
  if (idx >= sp.free.size) return ENOSPC;

  // Take alignment into account, trying larger blocks in turn.
  let vma: NvkmVma | null = null;
  let addr = 0;
  for (; idx < sp.free.size; idx++) {
    const t = sp.free.at(idx)!;
    addr = alignUp(t.addr, 2 ** align);
    const tail = t.addr + t.size;
    if (addr <= tail && tail - addr >= size) {
      sp.freeRemove(t);
      vma = t;
      break;
    }
  }
  if (vma === null) return ENOSPC;

  // Split the block if it is not exactly the requested size; return the rest.
  if (addr !== vma.addr) {
    const tmp = sp.vmaTail(vma, vma.size + vma.addr - addr);
    sp.freeInsert(vma);
    vma = tmp;
  }
  if (size !== vma.size) {
    const tmp = sp.vmaTail(vma, vma.size - size);
    sp.freeInsert(tmp);
  }

  // Pre-allocate page tables and/or set up sparse mappings.
  const page = pageIdx === NVKM_VMA_PAGE_NONE ? null : pages[pageIdx];
  let ret: number;
  if (sparse && getref) ret = ptesSparseGet(vmm, page!, vma.addr, vma.size);
  else if (sparse) ret = ptesSparse(vmm, vma.addr, vma.size, true);
  else if (getref) ret = ptesGet(vmm, page!, vma.addr, vma.size);
  else ret = 0;
  if (ret) {
    sp.putRegion(vma);
    return ret;
  }

  vma.mapref = mapref && !getref;
  vma.sparse = sparse;
  vma.page = pageIdx;
  vma.refd = getref ? vma.page : NVKM_VMA_PAGE_NONE;
  vma.used = true;
  sp.nodeInsert(vma);
  return vma;
}

/**
 * nvkm_vmm_get(vmm, page, size, &vma): `size` bytes of address space for mapping with
 * pages of 2^page bytes (0: any), page tables referenced at map time. Returns the VMA
 * or -EINVAL / -ENOSPC / -ENOMEM.
 */
export function nvkmVmmGet(vmm: NvkmVmm, page: number, size: number): NvkmVma | number {
  return nvkmVmmGetLocked(vmm, false, true, false, page, 0, size);
}

/** nvkm_vmm_put_locked(): unmaps and dereferences a region and returns it to the free space. */
export function nvkmVmmPutLocked(vmm: NvkmVmm, vma: NvkmVma): void {
  const page = vmm.page;
  const sp = vmm.vmas;
  if (vma.part) throw new SimInvariantError(`nvkm_vmm_put: BUG: ${vma} is part of a larger allocation`);

  if (vma.mapref || !vma.sparse) {
    let next: NvkmVma | null = vma;
    do {
      const mem = next!.memory !== null;
      const map = next!.mapped;
      const refd = next!.refd;
      const addr = next!.addr;
      let size = next!.size;

      // Merge regions that are in the same state.
      while ((next = next!.next) && next.part && next.mapped === map && (next.memory !== null) === mem && next.refd === refd) size += next.size;

      if (map) {
        // Mapped: unmap and dereference in a single walk of the page tree.
        ptesUnmapPut(vmm, page[refd], addr, size, vma.sparse, !mem);
      } else if (refd !== NVKM_VMA_PAGE_NONE) {
        // Drop allocation-time PTE references.
        ptesPut(vmm, page[refd], addr, size);
      }
    } while (next && next.part);
  }

  // Merge mapped regions split from the allocation back into it.
  let next: NvkmVma | null = vma;
  do {
    if (next.mapped) unmapRegion(vmm, next);
  } while ((next = vma.next) && next.part);

  if (vma.sparse && !vma.mapref) {
    // Sparse region allocated with a fixed page size: unmap, unsparse and dereference in one walk.
    ptesSparsePut(vmm, page[vma.refd], vma.addr, vma.size);
  } else if (vma.sparse) {
    // Sparse region without a fixed page size: drop the allocation-time sparse references.
    ptesSparse(vmm, vma.addr, vma.size, false);
  }

  // Remove VMA from the list of allocated nodes, and merge it back into the free list.
  sp.nodeRemove(vma);
  vma.page = NVKM_VMA_PAGE_NONE;
  vma.refd = NVKM_VMA_PAGE_NONE;
  vma.used = false;
  sp.putRegion(vma);
}

/** nvkm_vmm_put(vmm, &vma). Null is ignored. */
export function nvkmVmmPut(vmm: NvkmVmm, vma: NvkmVma | null): void {
  if (vma) nvkmVmmPutLocked(vmm, vma);
}

// ---------------------------------------------------------------------------------
// Mapping memory: nvkm_vmm_map / nvkm_vmm_unmap.
// ---------------------------------------------------------------------------------

const APERTURE: Record<NvkmMemory['target'], Aperture> = { vram: Aperture.Vram, host: Aperture.Host, ncoh: Aperture.HostNonCoherent };

function newMapState(page: NvkmVmmPage, memory: NvkmMemory | null, offset: number): NvkmVmmMapState {
  return { page, memory, offset, readOnly: false, privileged: false, volatile: false, aperture: Aperture.Vram, chunk: 0, off: 0, pfn: null, pfnIdx: 0 };
}

/** vmm->func->valid: gf100_vmm_valid / gp100_vmm_valid (no compression or kinds modelled). */
function backendValid(vmm: NvkmVmm, argv: NvkmVmmMapArgs | null, map: NvkmVmmMapState): number {
  const target = map.memory!.target;
  const kind = argv?.kind ?? 0;
  if (kind !== 0) {
    vmm.kernel.info('nvkm', `${vmm.name}: kind ${kind} not supported`);
    return EINVAL;
  }
  map.volatile = argv?.vol ?? target === 'host';
  map.readOnly = argv?.ro ?? false;
  map.privileged = argv?.priv ?? false;
  map.aperture = APERTURE[target];
  return 0;
}

/** nvkm_vmm_map_valid(). */
function mapValid(vmm: NvkmVmm, vma: NvkmVma, argv: NvkmVmmMapArgs | null, map: NvkmVmmMapState): number {
  const target = map.memory!.target;
  if (target === 'vram') {
    if (!(map.page.type & PageFlag.VRAM)) return EINVAL;
  } else if (!(map.page.type & PageFlag.HOST)) {
    return EINVAL;
  }
  const ps = 2 ** map.page.shift;
  if (vma.addr % ps !== 0 || vma.size % ps !== 0 || map.offset % ps !== 0 || map.memory!.page < map.page.shift) return EINVAL;
  return backendValid(vmm, argv, map);
}

/** nvkm_vmm_map_choose(): the largest page size the mapping is valid at. */
function mapChoose(vmm: NvkmVmm, vma: NvkmVma, argv: NvkmVmmMapArgs | null, map: NvkmVmmMapState): number {
  for (const p of vmm.page) {
    map.page = p;
    if (!mapValid(vmm, vma, argv, map)) return 0;
  }
  return EINVAL;
}

/** nvkm_vmm_map_locked(). */
function mapLocked(vmm: NvkmVmm, vma: NvkmVma, argv: NvkmVmmMapArgs | null, m: NvkmVmmMap): number {
  const offset = m.offset ?? 0;
  const map = newMapState(vmm.page[0], m.memory, offset);

  // Make sure we won't overrun the end of the memory object.
  if (nvkmMemorySize(m.memory) < offset + vma.size || offset < 0) return EINVAL;

  if (vma.page === NVKM_VMA_PAGE_NONE && vma.refd === NVKM_VMA_PAGE_NONE) {
    // Find the largest page size we can perform the mapping at.
    if (mapChoose(vmm, vma, argv, map)) return EINVAL;
  } else {
    // Page size of the VMA is already pre-determined.
    map.page = vmm.page[vma.refd !== NVKM_VMA_PAGE_NONE ? vma.refd : vma.page];
    const ret = mapValid(vmm, vma, argv, map);
    if (ret) return ret;
  }

  // Deal with the offset: find the chunk it falls in.
  const chunks = m.memory.chunks;
  map.off = offset;
  for (map.chunk = 0; map.off && map.chunk < chunks.length; map.chunk++) {
    if (chunks[map.chunk].size > map.off) break;
    map.off -= chunks[map.chunk].size;
  }
  const func = map.page.desc[0].func.mem!;

  // Perform the map.
  if (vma.refd === NVKM_VMA_PAGE_NONE) {
    const ret = ptesGetMap(vmm, map.page, vma.addr, vma.size, map, func);
    if (ret) return ret;
    vma.refd = vmm.page.indexOf(map.page);
  } else {
    ptesMap(vmm, map.page, vma.addr, vma.size, map, func);
  }

  vma.memory = m.memory;
  vma.mapped = true;
  traceMap(vmm, 'map', vma.addr, vma.size, map.page.shift);
  return 0;
}

/** `map` / `unmap` trace records (unit, vmm, asid, va, size, page shift). */
function traceMap(vmm: NvkmVmm, cat: 'map' | 'unmap', va: number, size: number, shift: number): void {
  const ctx = vmm.kernel.soc.ctx;
  if (ctx.tracer[cat]) ctx.tracer.emit(cat, vmm.kernel.now, { unit: vmm.iommu.path, vmm: vmm.name, asid: vmm.asid, va: hex(va), size, page: shift });
}

/**
 * nvkm_vmm_map(vmm, vma, argv, argc, map): maps `map.memory` (from `map.offset`) over the
 * whole VMA, at the VMA's page size or the largest valid one. One flush. Returns 0,
 * -EINVAL (memory too small, misaligned, wrong aperture for the page size), -ENOMEM.
 */
export function nvkmVmmMap(vmm: NvkmVmm, vma: NvkmVma, argv: NvkmVmmMapArgs | null, map: NvkmVmmMap): number {
  const ret = mapLocked(vmm, vma, argv, map);
  vma.busy = false;
  return ret;
}

/** nvkm_vmm_unmap_region(): forgets the memory and merges the region with unmapped neighbours of its allocation. */
export function nvkmVmmUnmapRegion(vmm: NvkmVmm, vma: NvkmVma): void {
  vma.memory = null;
  vma.mapped = false;
  let prev: NvkmVma | null = null;
  if (vma.part && (prev = vma.prev) && prev.mapped) prev = null;
  let next = vma.next;
  if (next && (!next.part || next.mapped)) next = null;
  vmm.vmas.nodeMerge(prev, vma, next, vma.size);
}
const unmapRegion = nvkmVmmUnmapRegion;

/** nvkm_vmm_unmap_locked(). */
export function nvkmVmmUnmapLocked(vmm: NvkmVmm, vma: NvkmVma, pfn: boolean): void {
  const page = vmm.page[vma.refd];
  traceMap(vmm, 'unmap', vma.addr, vma.size, page.shift);
  if (vma.mapref) {
    ptesUnmapPut(vmm, page, vma.addr, vma.size, vma.sparse, pfn);
    vma.refd = NVKM_VMA_PAGE_NONE;
  } else {
    ptesUnmap(vmm, page, vma.addr, vma.size, vma.sparse, pfn);
  }
  unmapRegion(vmm, vma);
}

/**
 * nvkm_vmm_unmap(): unmaps the memory mapped over the VMA (PTEs back to sparse, invalid
 * or unmapped; tables whose last reference goes are freed). No-op if nothing is mapped.
 */
export function nvkmVmmUnmap(vmm: NvkmVmm, vma: NvkmVma): void {
  if (vma.memory) nvkmVmmUnmapLocked(vmm, vma, false);
}

/**
 * nvkm_uvmm_mthd_map(): maps memory at [addr, addr+size) inside an allocated region,
 * splitting the region if needed (the user-space VMM interface). 0, -ENOENT (no region
 * there, or busy), -EINVAL, -ENOMEM.
 */
export function nvkmUvmmMap(vmm: NvkmVmm, addr: number, size: number, argv: NvkmVmmMapArgs | null, memory: NvkmMemory, offset = 0): number {
  let vma = vmm.vmas.nodeSearch(addr);
  if (!vma || vma.busy) return ENOENT;
  if (vma.mapped && !vma.memory) return EINVAL;
  if (vma.addr !== addr || vma.size !== size) {
    if (addr + size > vma.addr + vma.size || vma.memory || (vma.refd === NVKM_VMA_PAGE_NONE && !vma.mapref)) return EINVAL;
    vma = vmm.vmas.nodeSplit(vma, addr, size);
  }
  vma.busy = true;
  const ret = nvkmVmmMap(vmm, vma, argv, { memory, offset });
  if (ret === 0) return 0;
  vma.busy = false;
  unmapRegion(vmm, vma);
  return ret;
}

/** nvkm_uvmm_mthd_unmap(): unmaps the mapping that starts at `addr`. 0, -ENOENT, -EINVAL. */
export function nvkmUvmmUnmap(vmm: NvkmVmm, addr: number): number {
  const vma = vmm.vmas.nodeSearch(addr);
  if (!vma || vma.addr !== addr || vma.busy) return ENOENT;
  if (!vma.memory) return EINVAL;
  nvkmVmmUnmapLocked(vmm, vma, false);
  return 0;
}

/** nvkm_vmm_node_search(). */
export function nvkmVmmNodeSearch(vmm: NvkmVmm, addr: number): NvkmVma | null {
  return vmm.vmas.nodeSearch(addr);
}

// ---------------------------------------------------------------------------------
// PFN mapping (GP100): nvkm_vmm_pfn_map / nvkm_vmm_pfn_unmap.
// ---------------------------------------------------------------------------------

/** nvkm_vmm_pfn_split_merge(). */
function pfnSplitMerge(vmm: NvkmVmm, vma: NvkmVma, addr: number, size: number, map: boolean): NvkmVma {
  let prev: NvkmVma | null = null;
  let next: NvkmVma | null = null;
  if (vma.addr === addr && vma.part && (prev = vma.prev)) {
    if (prev.memory || prev.mapped !== map) prev = null;
  }
  if (vma.addr + vma.size === addr + size && (next = vma.next)) {
    if (!next.part || next.memory || next.mapped !== map) next = null;
  }
  if (prev || next) return vmm.vmas.nodeMerge(prev, vma, next, size);
  return vmm.vmas.nodeSplit(vma, addr, size);
}

/** nvkm_vmm_pfn_unmap(): unmaps PFN mappings in [addr, addr+size). 0 or -EINVAL. */
export function nvkmVmmPfnUnmap(vmm: NvkmVmm, addr: number, size: number): number {
  let vma = vmm.vmas.nodeSearch(addr);
  const limit = addr + size;
  let start = addr;
  if (!vma) return EINVAL;
  do {
    if (!vma.mapped || vma.memory) continue;
    size = Math.min(limit - start, vma.size - (start - vma.addr));
    ptesUnmapPut(vmm, vmm.page[vma.refd], start, size, false, true);
    const n = pfnSplitMerge(vmm, vma, start, size, false);
    vma = n;
    vma.refd = NVKM_VMA_PAGE_NONE;
    vma.mapped = false;
  } while ((vma = vma.next) && (start = vma.addr) < limit);
  return 0;
}

/**
 * nvkm_vmm_pfn_map(vmm, shift, addr, size, pfn): maps (or unmaps, for entries without
 * NVKM_VMM_PFN_V) an array of PFNs over [addr, addr+size) at pages of 2^shift (GP100:
 * 4 KiB or 2 MiB). The range must lie in regions from nvkmVmmGet with nothing mapped.
 * Entries that could not be handled are set to NVKM_VMM_PFN_NONE. 0, -EINVAL, -ENOENT.
 */
export function nvkmVmmPfnMap(vmm: NvkmVmm, shift: number, addr: number, size: number, pfn: number[]): number {
  const pages = vmm.page;
  const limit = addr + size;
  let start = addr;
  const pm = Math.floor(size / 2 ** shift);
  let pi = 0;

  // Only page sizes available for direct mapping.
  const pageIdx = pages.findIndex((p) => p.shift === shift && p.desc[0].func.pfn !== null);
  if (pageIdx < 0 || addr % 2 ** shift !== 0 || size % 2 ** shift !== 0 || addr + size > vmm.limit || pfn.length < pm) return EINVAL;
  const page = pages[pageIdx];

  let vma = vmm.vmas.nodeSearch(addr);
  if (!vma) return ENOENT;

  do {
    const map = (pfnFlags(pfn[pi]) & NVKM_VMM_PFN_V) !== 0;
    const mapped: boolean = vma.mapped;
    let sz = limit - start;
    const a = start;
    let ret = 0;

    // Narrow the window to one action (map or not) within one VMA.
    let pn = 0;
    for (; pi + pn < pm; pn++) if (map !== ((pfnFlags(pfn[pi + pn]) & NVKM_VMM_PFN_V) !== 0)) break;
    sz = Math.min(sz, pn * 2 ** page.shift);
    sz = Math.min(sz, vma.size + vma.addr - a);

    // Reject unmanaged regions and areas with memory mapped already.
    if (!vma.mapref || vma.memory) {
      ret = EINVAL;
    } else {
      // Split or merge so the range is tracked as mapped / unmapped as a whole.
      if (map !== mapped) {
        const tmp = pfnSplitMerge(vmm, vma, a, sz, map);
        if ((tmp.mapped = map)) tmp.refd = pageIdx;
        else tmp.refd = NVKM_VMA_PAGE_NONE;
        vma = tmp;
      }
      // Update HW page tables.
      if (map) {
        const args = newMapState(page, null, 0);
        args.pfn = pfn;
        args.pfnIdx = pi;
        if (!mapped) ret = ptesGetMap(vmm, page, a, sz, args, page.desc[0].func.pfn!);
        else ptesMap(vmm, page, a, sz, args, page.desc[0].func.pfn!);
      } else if (mapped) {
        ptesUnmapPut(vmm, page, a, sz, false, true);
      }
    }

    // Iterate to the next operation.
    if (vma.addr + vma.size === a + sz) vma = vma.next!;
    start += sz;

    if (ret) {
      // Failure: clear the valid bit on every PFN that could not be handled.
      for (let s = sz; s > 0; s -= 2 ** page.shift) pfn[pi++] = NVKM_VMM_PFN_NONE;
    } else {
      pi += Math.floor(sz / 2 ** page.shift);
    }
  } while (vma && start < limit);

  return 0;
}
