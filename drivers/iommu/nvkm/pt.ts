/**
 * Page-table objects of the nvkm VMM (nouveau nvkm/subdev/mmu/vmm.h, vmm.c, base.c).
 *
 * Two kinds, as in nvkm:
 * - `NvkmMmuPt` (struct nvkm_mmu_pt): the *hardware* table, a piece of physical memory
 *   from the kernel page allocator (or a slot of a shared 4 KiB page, for tables smaller
 *   than 4 KiB), handed out and taken back by the page-table cache (ptc.ts).
 * - `NvkmVmmPt` (struct nvkm_vmm_pt): the driver's *software* view of one page-table
 *   position: up to two hardware tables (pt[0] = LPT or single table, pt[1] = SPT), their
 *   reference counts, the child pointers of a directory, and the per-LPTE state bytes
 *   that drive the LPTE state machine of dual page tables.
 */

import { NvkmMmuPt } from './ptc';

export { NvkmMmuPt };

/** enum { PGD, PGT, SPT, LPT } of struct nvkm_vmm_desc (order matters: `type > PGT`). */
export const DescType = { PGD: 0, PGT: 1, SPT: 2, LPT: 3 } as const;
export type DescType = (typeof DescType)[keyof typeof DescType];

/** What a software table needs of its level's nvkm_vmm_desc (desc.ts's NvkmVmmDesc has these). */
interface NvkmVmmDesc {
  readonly type: DescType;
  readonly bits: number;
}


/**
 * NVKM_VMM_PDE_SPARSE: the value a directory's `pde[]` slot holds when the PDE is
 * sparse and has no child table (nvkm stores ERR_PTR(-EBUSY) there).
 */
export const PDE_SPARSE = Symbol('NVKM_VMM_PDE_SPARSE');
export type PdeSlot = NvkmVmmPt | null | typeof PDE_SPARSE;

/** NVKM_VMM_PDE_INVALID(pde): no child table (null, or sparse). */
export function pdeInvalid(pde: PdeSlot): pde is null | typeof PDE_SPARSE {
  return pde === null || pde === PDE_SPARSE;
}

/** NVKM_VMM_PDE_SPARSED(pde): the PDE is marked sparse. */
export function pdeSparsed(pde: PdeSlot): boolean {
  return pde === PDE_SPARSE;
}

/** Per-LPTE state byte flags (NVKM_VMM_PTE_*). */
export const NVKM_VMM_PTE_SPARSE = 0x80;
/** The LPTE has been moved to UNMAPPED so that the MMU looks at the SPTEs. */
export const NVKM_VMM_PTE_VALID = 0x40;
/** Mask: number of referenced SPTEs under the LPTE. */
export const NVKM_VMM_PTE_SPTES = 0x3f;

/** struct nvkm_vmm_pt: the software state of one page-table position. */
export class NvkmVmmPt {
  /** Hardware tables: [0] LPT (or the only table), [1] SPT. */
  readonly pt: [NvkmMmuPt | null, NvkmMmuPt | null] = [null, null];
  /** References: for a directory refs[0] counts child tables; for PTs, referenced PTEs. */
  readonly refs: [number, number] = [0, 0];
  /** Page shift of the operation that created it (pgt->page). */
  readonly page: number;
  /** The whole table is sparse (created under a sparse PDE). */
  readonly sparse: boolean;
  /** Directories: child per PDE (pgt->pde). */
  readonly pde: PdeSlot[] | null;
  /** Dual tables: one state byte per LPTE (pgt->pte[]). */
  readonly pte: Uint8Array;

  constructor(desc: NvkmVmmDesc, sparse: boolean, pageShift: number, pair: NvkmVmmDesc | null) {
    const pten = 2 ** desc.bits;
    let lpte = 0;
    if (desc.type > DescType.PGT) {
      // nvkm_vmm_pt_new(): an SPT keeps one byte per LPTE of its pair (the LPT).
      lpte = desc.type === DescType.SPT ? pten / 2 ** (desc.bits - pair!.bits) : pten;
    }
    this.pte = new Uint8Array(lpte);
    this.page = pageShift;
    this.sparse = sparse;
    this.pde = desc.type === DescType.PGD ? new Array<PdeSlot>(pten).fill(null) : null;
  }
}
