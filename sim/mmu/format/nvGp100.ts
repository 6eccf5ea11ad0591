/**
 * NVIDIA Pascal GPU page tables (nvkm "gp100" VMM layout, MMU format version 2), issue 3.
 *
 * 49-bit VA, five levels with a dual leaf: PD3 → PD2 → PD1 → PD0 → SPT (4 KiB pages) or
 * LPT (64 KiB pages). A PD0 entry is 16 bytes: the LPT ("big") half in the low 8 bytes,
 * the SPT ("small") half in the high 8 bytes (gp100_vmm_pd0_pde(): data[0] from pt[0],
 * the LPT; data[1] from pt[1], the SPT); it can instead be a 2 MiB PTE (gp100_vmm_pd0_pte).
 * Physical addresses are 47 bits (gp100 mmu dma_bits = 47).
 *
 * Geometry, from gp100_vmm_desc_12 / gp100_vmm_desc_16 in nvkm/subdev/mmu/vmmgp100.c:
 *   { SPT, 9, 8, 0x1000 } or { LPT, 5, 8, 0x0100 }, { PGD(PD0), 8, 16, 0x1000 },
 *   { PGD(PD1), 9, 8, 0x1000 }, { PGD(PD2), 9, 8, 0x1000 }, { PGD(PD3), 2, 8, 0x1000 }
 * so the LPT is 32 × 8 B = 256 bytes, 256-byte aligned; 12 + 9 + 8 + 9 + 9 + 2 = 49.
 *
 * PTE (SPT, LPT, and PD0's low half as a 2 MiB PTE), from gp100_vmm_valid() / _pgt_pte():
 *   bit 0       VALID
 *   bits 2:1    aperture: 0 VRAM, 2 HOST (SYSTEM_COHERENT), 3 NCOH (aper << 1; gf100_vmm_aper)
 *   bit 3       VOL
 *   bit 5       PRIV
 *   bit 6       RO
 *   bit 7       atomic disable (not modelled)
 *   bits 53:8   address >> 12 (data = addr >> 4); decoded up to the 47-bit PA limit. The
 *               hardware's VRAM address field is 32:8 (NV_MMU_VER2_PTE_ADDRESS_VID) with
 *               comptags at 36+; we use the system-memory layout (53:8) for every
 *               aperture and do not model compression or peer IDs.
 *   bits 63:56  kind (always encoded as 0 here)
 *   VALID=0, VOL=1: sparse (gp100_vmm_pgt_sparse)
 *   VALID=0, PRIV=1 on an LPTE: "invalid", SPTEs ignored (gp100_vmm_lpt_invalid)
 *   all zero: unmapped; an unmapped LPTE sends the MMU to the SPT.
 *
 * PDE (PD3..PD1, and each half of PD0), from gp100_vmm_pde():
 *   bit 0       0 (a PDE; set, on PD0, it is a PTE)
 *   bits 2:1    target: 0 none, 1 VRAM, 2 HOST, 3 NCOH
 *   bit 3       VOL (nvkm sets it for HOST)
 *   address     pt->addr >> 4: bits 53:8 = addr >> 12 for 4 KiB-aligned tables; the PD0
 *               big half's field is 53:4 with shift 8 (NV_MMU_VER2_DUAL_PDE_ADDRESS_BIG_SHIFT)
 *               so it can name a 256-byte-aligned LPT.
 *   target 0 and VOL=1: sparse PDE (gp100_vmm_pgt_sparse for PD3..PD1; gp100_vmm_pd0_sparse
 *   writes VOL_BIG, bit 3 of the low half, with the high half 0).
 */

import { EntryKind, PageFlag, type DecodedEntry, type EntrySpec, type PageTableFormat } from './types';
import { SimInvariantError } from '../../engine/errors';
import { checkAddr, defineFormat, hi32, setBare, unsupported } from './defineFormat';
import { nvPdeApertureOf, nvPdeTarget, nvPteAperture, nvPteApertureOf } from './nvGf100';

const NAME = 'nv-gp100';
const PA_BITS = 47;
/** Mask of the high word's address bits (address bits 36..46) under the PA limit. */
const HI_ADDR_MASK = 2 ** (PA_BITS - 36) - 1;
const TWO_36 = 2 ** 36;

const VALID = 1 << 0;
const APER_SHIFT = 1;
const VOL = 1 << 3;
const PRIV = 1 << 5;
const RO = 1 << 6;

/** Address of a PTE/PDE whose address field holds addr >> 12 at bit 8 (data = addr >> 4). */
function addr12(lo: number, hi: number): number {
  return (lo >>> 8) * 4096 + (hi & HI_ADDR_MASK) * TWO_36;
}

/** Address of the PD0 big half, whose field holds addr >> 8 at bit 4. */
function addr8(lo: number, hi: number): number {
  return (lo >>> 4) * 256 + (hi & HI_ADDR_MASK) * TWO_36;
}

/** Writes data = addr >> 4 (addr < 2^47, 16-byte aligned) plus `flags` (< 16 or < 256) into words[i], words[i+1]. */
function putAddr(words: Uint32Array, i: number, addr: number, flags: number): void {
  const data = addr / 16;
  const hi = hi32(data);
  words[i] = data - hi * 2 ** 32 + flags;
  words[i + 1] = hi;
}

function decodePte(lo: number, hi: number, pageShift: number, out: DecodedEntry): void {
  out.kind = EntryKind.Page;
  const addr = addr12(lo, hi);
  out.addr = addr - (addr % 2 ** pageShift);
  out.addr2 = -1;
  out.pageShift = pageShift;
  out.readOnly = (lo & RO) !== 0;
  out.privileged = (lo & PRIV) !== 0;
  out.volatile = (lo & VOL) !== 0;
  out.aperture = nvPteApertureOf((lo >>> APER_SHIFT) & 3);
}

function encodePte(level: string, spec: EntrySpec, pageShift: number, words: Uint32Array): void {
  const addr = checkAddr(NAME, level, 'page', spec.addr, PA_BITS, 2 ** pageShift);
  const flags =
    VALID + (nvPteAperture(spec.aperture) << APER_SHIFT) + (spec.volatile ? VOL : 0) + (spec.privileged ? PRIV : 0) + (spec.readOnly ? RO : 0);
  putAddr(words, 0, addr, flags);
}

function setTable(out: DecodedEntry, addr: number, addr2: number, target: number, vol: boolean): void {
  out.kind = EntryKind.Table;
  out.addr = addr;
  out.addr2 = addr2;
  out.pageShift = 0;
  out.readOnly = false;
  out.privileged = false;
  out.volatile = vol;
  out.aperture = nvPdeApertureOf(target);
}

/** SPT and LPT entries. */
function pteCodec(level: string, pageShift: number, isLpt: boolean) {
  const decode = (words: Uint32Array, out: DecodedEntry): void => {
    const lo = words[0];
    if ((lo & VALID) !== 0) decodePte(lo, words[1], pageShift, out);
    else if ((lo & VOL) !== 0) setBare(out, EntryKind.Sparse);
    else if (isLpt && (lo & PRIV) !== 0) setBare(out, EntryKind.Blocked);
    else setBare(out, EntryKind.Unmapped);
  };
  const encode = (spec: EntrySpec, words: Uint32Array): void => {
    switch (spec.kind) {
      case EntryKind.Unmapped:
        words[0] = 0;
        words[1] = 0;
        return;
      case EntryKind.Page:
        encodePte(level, spec, pageShift, words);
        return;
      case EntryKind.Sparse:
        words[0] = VOL;
        words[1] = 0;
        return;
      case EntryKind.Blocked:
        if (!isLpt) unsupported(NAME, level, spec.kind);
        words[0] = PRIV;
        words[1] = 0;
        return;
      default:
        unsupported(NAME, level, spec.kind);
    }
  };
  return { decode, encode };
}

/** PD3, PD2, PD1: single 8-byte PDEs (gp100_vmm_pd1_pde). */
function pdeCodec(level: string) {
  const decode = (words: Uint32Array, out: DecodedEntry): void => {
    const lo = words[0];
    const target = (lo >>> APER_SHIFT) & 3;
    if (target !== 0) setTable(out, addr12(lo, words[1]), -1, target, (lo & VOL) !== 0);
    else if ((lo & VOL) !== 0) setBare(out, EntryKind.Sparse);
    else setBare(out, EntryKind.Unmapped);
  };
  const encode = (spec: EntrySpec, words: Uint32Array): void => {
    switch (spec.kind) {
      case EntryKind.Unmapped:
        words[0] = 0;
        words[1] = 0;
        return;
      case EntryKind.Table: {
        const addr = checkAddr(NAME, level, 'table', spec.addr, PA_BITS, 0x1000);
        putAddr(words, 0, addr, (nvPdeTarget(spec.aperture) << APER_SHIFT) + (spec.volatile ? VOL : 0));
        return;
      }
      case EntryKind.Sparse:
        words[0] = VOL;
        words[1] = 0;
        return;
      default:
        unsupported(NAME, level, spec.kind);
    }
  };
  return { decode, encode };
}

/** PD0: 16-byte dual PDE (big/LPT half, small/SPT half) or a 2 MiB PTE. */
function pd0Codec() {
  const decode = (words: Uint32Array, out: DecodedEntry): void => {
    const lo = words[0];
    if ((lo & VALID) !== 0) {
      decodePte(lo, words[1], 21, out);
      return;
    }
    const bt = (lo >>> APER_SHIFT) & 3;
    const st = (words[2] >>> APER_SHIFT) & 3;
    if ((bt | st) !== 0) {
      setTable(
        out,
        bt !== 0 ? addr8(lo, words[1]) : -1,
        st !== 0 ? addr12(words[2], words[3]) : -1,
        bt !== 0 ? bt : st,
        ((bt !== 0 ? lo : words[2]) & VOL) !== 0,
      );
    } else if ((lo & VOL) !== 0) {
      setBare(out, EntryKind.Sparse); // gp100_vmm_pd0_sparse: VALID_FALSE + VOL_BIG
    } else {
      setBare(out, EntryKind.Unmapped);
    }
  };
  const encode = (spec: EntrySpec, words: Uint32Array): void => {
    switch (spec.kind) {
      case EntryKind.Unmapped:
        words[0] = words[1] = words[2] = words[3] = 0;
        return;
      case EntryKind.Page:
        encodePte('PD0', spec, 21, words); // gp100_vmm_pd0_pte: VMM_WO128(data, 0)
        words[2] = words[3] = 0;
        return;
      case EntryKind.Table: {
        const lpt = spec.addr ?? -1;
        const spt = spec.addr2 ?? -1;
        if (lpt < 0 && spt < 0) throw new SimInvariantError(`page-table format ${NAME}: PD0: a Table entry needs an LPT or an SPT`);
        const vol = spec.volatile ? VOL : 0;
        if (lpt >= 0) {
          checkAddr(NAME, 'PD0', 'LPT', lpt, PA_BITS, 0x100);
          putAddr(words, 0, lpt, (nvPdeTarget(spec.aperture) << APER_SHIFT) + vol);
        } else {
          words[0] = words[1] = 0;
        }
        if (spt >= 0) {
          checkAddr(NAME, 'PD0', 'SPT', spt, PA_BITS, 0x1000);
          putAddr(words, 2, spt, (nvPdeTarget(spec.aperture2 ?? spec.aperture) << APER_SHIFT) + vol);
        } else {
          words[2] = words[3] = 0;
        }
        return;
      }
      case EntryKind.Sparse:
        words[0] = VOL;
        words[1] = words[2] = words[3] = 0;
        return;
      default:
        unsupported(NAME, 'PD0', spec.kind);
    }
  };
  return { decode, encode };
}

/** `nv-gp100`: 49-bit VA, PD3 (2) → PD2 (9) → PD1 (9) → PD0 (8, dual) → SPT (9, 4 KiB) / LPT (5, 64 KiB). */
export const nvGp100: PageTableFormat = defineFormat({
  name: NAME,
  vaBits: 49,
  paBits: PA_BITS,
  levels: [
    { name: 'SPT', type: 'SPT', indexBits: 9, entryBytes: 8, tableAlign: 0x1000, pageShift: 12, ...pteCodec('SPT', 12, false) },
    { name: 'LPT', type: 'LPT', indexBits: 5, entryBytes: 8, tableAlign: 0x100, pageShift: 16, ...pteCodec('LPT', 16, true) },
    { name: 'PD0', type: 'PGD', indexBits: 8, entryBytes: 16, tableAlign: 0x1000, dual: true, ...pd0Codec() },
    { name: 'PD1', type: 'PGD', indexBits: 9, entryBytes: 8, tableAlign: 0x1000, ...pdeCodec('PD1') },
    { name: 'PD2', type: 'PGD', indexBits: 9, entryBytes: 8, tableAlign: 0x1000, ...pdeCodec('PD2') },
    { name: 'PD3', type: 'PGD', indexBits: 2, entryBytes: 8, tableAlign: 0x1000, ...pdeCodec('PD3') },
  ],
  // gp100_vmm.page[]: sparse-only sizes at PD3/PD2/PD1, then 2 MiB, 64 KiB, 4 KiB pages.
  pageSizes: [
    { shift: 47, level: 'PD3', flags: PageFlag.SPARSE },
    { shift: 38, level: 'PD2', flags: PageFlag.SPARSE },
    { shift: 29, level: 'PD1', flags: PageFlag.SPARSE },
    { shift: 21, level: 'PD0', flags: PageFlag.SPARSE | PageFlag.VRAM | PageFlag.COMP },
    { shift: 16, level: 'LPT', flags: PageFlag.SPARSE | PageFlag.VRAM | PageFlag.COMP },
    { shift: 12, level: 'SPT', flags: PageFlag.SPARSE | PageFlag.VRAM | PageFlag.HOST },
  ],
  smallLeaf: 'SPT',
  largeLeaf: 'LPT',
});
