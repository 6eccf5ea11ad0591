/**
 * NVIDIA Fermi-family GPU page tables (nvkm "gf100" VMM layout), issue 3.
 *
 * Two levels with a dual leaf: a PGD whose 8-byte entries point at both a large-page
 * table (LPT) and a small-page table (SPT), per gf100_vmm_pgd_pde(); 40-bit VA and
 * 40-bit physical addresses (gf100 mmu dma_bits = 40).
 *
 * Geometry, from nvkm's descriptor tables in nvkm/subdev/mmu/vmmgf100.c:
 *   gf100_vmm_desc_17_12 = { SPT, 15, 8, 0x1000 }, { PGD, 13, 8, 0x1000 }
 *   gf100_vmm_desc_17_17 = { LPT, 10, 8, 0x1000 }, { PGD, 13, 8, 0x1000 }
 *   gf100_vmm_desc_16_12 = { SPT, 14, 8, 0x1000 }, { PGD, 14, 8, 0x1000 }
 *   gf100_vmm_desc_16_16 = { LPT, 10, 8, 0x1000 }, { PGD, 14, 8, 0x1000 }
 * so `nv-gf100` (128 KiB large pages) has SPT 2^15 × 8 B = 256 KiB, LPT 2^10 × 8 B = 8 KiB,
 * PGD 2^13 × 8 B = 64 KiB; `nv-gf100-64k` has SPT 128 KiB, LPT 8 KiB, PGD 128 KiB.
 *
 * This models the union of the family's entry states: GF100's PTE/PDE layout, GK104's
 * "invalid" LPTE (EntryKind.Blocked, gk104_vmm_lpt_invalid; GF100 itself lacks it) and
 * GM200's sparse PTEs and PDEs (EntryKind.Sparse, gm200_vmm_pgt_sparse /
 * gm200_vmm_pgd_sparse; GF100 and GK104 lack them). A driver emulating an older chip
 * simply does not write those states.
 *
 * PTE (SPT and LPT), 64 bits, from gf100_vmm_pgt_pte() and gf100_vmm_valid():
 *   bit 0       VALID                      (map->type |= BIT(0))
 *   bit 1       PRIV                       (priv << 1)
 *   bit 2       RO                         (ro << 2)
 *   bits 31:4   address bits 39:12         (addr >> 8; page-aligned so bits 3:0 are 0)
 *   bit 32      VOL                        (vol << 32)
 *   bits 34:33  aperture: 0 VRAM, 2 HOST, 3 NCOH (aper << 33; gf100_vmm_aper)
 *   bits 43:36  kind                       (kind << 36; always encoded as 0 here)
 *   bits 44+    comptag line               (tags << 44; not modelled)
 *   VALID=0, PRIV=1 on an LPTE: "invalid", the MMU ignores the SPTEs (gk104_vmm_lpt_invalid)
 *   VALID=0, VOL=1: sparse (gm200_vmm_pgt_sparse)
 *   all zero: unmapped (gf100_vmm_pgt_unmap); an unmapped LPTE sends the MMU to the SPT.
 *
 * PDE (PGD), 64 bits, from gf100_vmm_pgd_pde() (nvkm's pgt->pt[0] is the LPT, pt[1] the SPT):
 *   bits 1:0    LPT target: 0 none, 1 VRAM, 2 HOST, 3 NCOH
 *   bits 31:4   LPT address bits 39:12     (pt->addr >> 8)
 *   bits 33:32  SPT target: 0 none, 1 VRAM, 2 HOST, 3 NCOH
 *   bit 34      SPT VOL                    (nvkm sets it for HOST targets)
 *   bit 35      LPT VOL ("VOL_BIG")
 *   bits 63:36  SPT address bits 39:12     (pt->addr << 24)
 *   both targets 0 and bit 35 set: sparse PDE (gm200_vmm_pgd_sparse)
 */

import { SimInvariantError } from '../../engine/errors';
import { Aperture, EntryKind, PageFlag, type DecodedEntry, type EntrySpec, type PageTableFormat } from './types';
import { checkAddr, defineFormat, setBare, unsupported } from './defineFormat';

const PA_BITS = 40;
const TABLE_ALIGN = 0x1000;

// PTE bits (low word unless noted), gf100_vmm_valid().
const PTE_VALID = 1 << 0;
const PTE_PRIV = 1 << 1;
const PTE_RO = 1 << 2;
/** High word: bit 32 VOL. */
const PTE_HI_VOL = 1 << 0;
/** High word: bits 34:33 aperture. */
const PTE_HI_APER_SHIFT = 1;
// PDE bits, gf100_vmm_pgd_pde() / gm200_vmm_pgd_sparse().
/** High word: bit 34, SPT VOL. */
const PDE_HI_VOL_SMALL = 1 << 2;
/** High word: bit 35, LPT VOL (VOL_BIG); alone, marks a sparse PDE. */
const PDE_HI_VOL_BIG = 1 << 3;

/**
 * PTE aperture field value for an Aperture (gf100_vmm_aper: VRAM 0, HOST 2, NCOH 3;
 * GP100 uses the same values).
 */
export function nvPteAperture(a: Aperture | undefined): number {
  switch (a ?? Aperture.Vram) {
    case Aperture.Vram: return 0;
    case Aperture.Host: return 2;
    case Aperture.HostNonCoherent: return 3;
    default: throw new SimInvariantError(`nv PTE: unknown aperture ${a}`);
  }
}

/** Aperture of a PTE aperture field value. 1 (peer memory) is not modelled and reads as Vram. */
export function nvPteApertureOf(field: number): Aperture {
  return field === 2 ? Aperture.Host : field === 3 ? Aperture.HostNonCoherent : Aperture.Vram;
}

/** PDE target field value for an Aperture (gf100_vmm_pgd_pde / gp100_vmm_pde: VRAM 1, HOST 2, NCOH 3; 0 = none). */
export function nvPdeTarget(a: Aperture | undefined): number {
  switch (a ?? Aperture.Vram) {
    case Aperture.Vram: return 1;
    case Aperture.Host: return 2;
    case Aperture.HostNonCoherent: return 3;
    default: throw new SimInvariantError(`nv PDE: unknown aperture ${a}`);
  }
}

/** Aperture of a non-zero PDE target field value. */
export function nvPdeApertureOf(target: number): Aperture {
  return target === 2 ? Aperture.Host : target === 3 ? Aperture.HostNonCoherent : Aperture.Vram;
}

function pteCodec(fmt: string, level: string, pageShift: number, isLpt: boolean) {
  const pageSize = 2 ** pageShift;
  const decode = (words: Uint32Array, out: DecodedEntry): void => {
    const lo = words[0];
    const hi = words[1];
    if ((lo & PTE_VALID) !== 0) {
      out.kind = EntryKind.Page;
      const addr = (lo >>> 4) * 4096; // bits 31:4 = address 39:12
      out.addr = addr - (addr % pageSize);
      out.addr2 = -1;
      out.pageShift = pageShift;
      out.readOnly = (lo & PTE_RO) !== 0;
      out.privileged = (lo & PTE_PRIV) !== 0;
      out.volatile = (hi & PTE_HI_VOL) !== 0;
      out.aperture = nvPteApertureOf((hi >>> PTE_HI_APER_SHIFT) & 3);
    } else if ((hi & PTE_HI_VOL) !== 0) {
      setBare(out, EntryKind.Sparse); // gm200_vmm_pgt_sparse: VALID_FALSE + VOL
    } else if (isLpt && (lo & PTE_PRIV) !== 0) {
      setBare(out, EntryKind.Blocked); // gk104_vmm_lpt_invalid: VALID_FALSE + PRIV
    } else {
      setBare(out, EntryKind.Unmapped);
    }
  };
  const encode = (spec: EntrySpec, words: Uint32Array): void => {
    switch (spec.kind) {
      case EntryKind.Unmapped:
        words[0] = 0;
        words[1] = 0;
        return;
      case EntryKind.Page: {
        const addr = checkAddr(fmt, level, 'page', spec.addr, PA_BITS, pageSize);
        // addr < 2^40 and 4 KiB aligned: addr / 256 is a 32-bit word with bits 3:0 clear.
        words[0] = addr / 256 + PTE_VALID + (spec.privileged ? PTE_PRIV : 0) + (spec.readOnly ? PTE_RO : 0);
        words[1] = (spec.volatile ? PTE_HI_VOL : 0) | (nvPteAperture(spec.aperture) << PTE_HI_APER_SHIFT);
        return;
      }
      case EntryKind.Sparse:
        words[0] = 0;
        words[1] = PTE_HI_VOL;
        return;
      case EntryKind.Blocked:
        if (!isLpt) unsupported(fmt, level, spec.kind);
        words[0] = PTE_PRIV;
        words[1] = 0;
        return;
      default:
        unsupported(fmt, level, spec.kind);
    }
  };
  return { decode, encode };
}

function pgdCodec(fmt: string) {
  const decode = (words: Uint32Array, out: DecodedEntry): void => {
    const lo = words[0];
    const hi = words[1];
    const lt = lo & 3;
    const st = hi & 3;
    if ((lt | st) !== 0) {
      out.kind = EntryKind.Table;
      out.addr = lt !== 0 ? (lo >>> 4) * 4096 : -1;
      out.addr2 = st !== 0 ? (hi >>> 4) * 4096 : -1;
      out.pageShift = 0;
      out.readOnly = false;
      out.privileged = false;
      out.volatile = (hi & (lt !== 0 ? PDE_HI_VOL_BIG : PDE_HI_VOL_SMALL)) !== 0;
      out.aperture = nvPdeApertureOf(lt !== 0 ? lt : st);
    } else if ((hi & PDE_HI_VOL_BIG) !== 0) {
      setBare(out, EntryKind.Sparse); // gm200_vmm_pgd_sparse: VALID_FALSE + VOL_BIG
    } else {
      setBare(out, EntryKind.Unmapped);
    }
  };
  const encode = (spec: EntrySpec, words: Uint32Array): void => {
    switch (spec.kind) {
      case EntryKind.Unmapped:
        words[0] = 0;
        words[1] = 0;
        return;
      case EntryKind.Table: {
        const lpt = spec.addr ?? -1;
        const spt = spec.addr2 ?? -1;
        if (lpt < 0 && spt < 0) throw new SimInvariantError(`page-table format ${fmt}: PGD: a Table entry needs an LPT or an SPT`);
        let lo = 0;
        let hi = 0;
        if (lpt >= 0) {
          checkAddr(fmt, 'PGD', 'LPT', lpt, PA_BITS, TABLE_ALIGN);
          lo = lpt / 256 + nvPdeTarget(spec.aperture);
          if (spec.volatile) hi += PDE_HI_VOL_BIG;
        }
        if (spt >= 0) {
          checkAddr(fmt, 'PGD', 'SPT', spt, PA_BITS, TABLE_ALIGN);
          hi += spt / 256 + nvPdeTarget(spec.aperture2 ?? spec.aperture);
          if (spec.volatile) hi += PDE_HI_VOL_SMALL;
        }
        words[0] = lo;
        words[1] = hi;
        return;
      }
      case EntryKind.Sparse:
        words[0] = 0;
        words[1] = PDE_HI_VOL_BIG;
        return;
      default:
        unsupported(fmt, 'PGD', spec.kind);
    }
  };
  return { decode, encode };
}

function makeGf100(name: string, lptShift: 16 | 17, sptBits: number, pgdBits: number): PageTableFormat {
  const spt = pteCodec(name, 'SPT', 12, false);
  const lpt = pteCodec(name, 'LPT', lptShift, true);
  const pgd = pgdCodec(name);
  return defineFormat({
    name,
    vaBits: 40,
    paBits: PA_BITS,
    levels: [
      { name: 'SPT', type: 'SPT', indexBits: sptBits, entryBytes: 8, tableAlign: TABLE_ALIGN, pageShift: 12, ...spt },
      { name: 'LPT', type: 'LPT', indexBits: 10, entryBytes: 8, tableAlign: TABLE_ALIGN, pageShift: lptShift, ...lpt },
      { name: 'PGD', type: 'PGD', indexBits: pgdBits, entryBytes: 8, tableAlign: TABLE_ALIGN, dual: true, ...pgd },
    ],
    // gm200_vmm_17/_16 .page[]: a sparse-only size at the PGD (nvkm lists 27 for both; we
    // use the PDE's real span, 2^27 or 2^26), then large (SVxC) and small (SVHx) pages.
    pageSizes: [
      { shift: lptShift + 10, level: 'PGD', flags: PageFlag.SPARSE },
      { shift: lptShift, level: 'LPT', flags: PageFlag.SPARSE | PageFlag.VRAM | PageFlag.COMP },
      { shift: 12, level: 'SPT', flags: PageFlag.SPARSE | PageFlag.VRAM | PageFlag.HOST },
    ],
    smallLeaf: 'SPT',
    largeLeaf: 'LPT',
  });
}

/** `nv-gf100`: 40-bit VA, PGD 13 bits → SPT 15 bits (4 KiB) / LPT 10 bits (128 KiB). */
export const nvGf100_128k: PageTableFormat = makeGf100('nv-gf100', 17, 15, 13);

/** `nv-gf100-64k`: 40-bit VA, PGD 14 bits → SPT 14 bits (4 KiB) / LPT 10 bits (64 KiB). */
export const nvGf100_64k: PageTableFormat = makeGf100('nv-gf100-64k', 16, 14, 14);
