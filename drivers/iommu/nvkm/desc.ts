/**
 * Page-table layout descriptors and entry writers of the nvkm VMM (nouveau
 * nvkm/subdev/mmu/vmm.h: struct nvkm_vmm_desc, nvkm_vmm_desc_func, nvkm_vmm_page;
 * vmmgf100.c, vmmgk104.c, vmmgm200.c, vmmgp100.c: the per-chip tables and the
 * functions that write PTEs and PDEs).
 *
 * nvkm describes each page size by the chain of levels from the level that holds its
 * PTEs up to the root (`page->desc[0..]`). Here those chains are derived from the
 * simulator's `PageTableFormat` (sim/mmu/format), so geometry is defined once; the
 * entry encodings come from the format's codec. Every entry write is a kernel store
 * through `kernel.mem` (bus traffic): runs of entries written by one call go out as
 * bursts of up to 256 bytes (64 words), single entries as one 8- or 16-byte store.
 */

import { SimInvariantError } from '../../../sim/engine/errors';
import type { Counter } from '../../../sim/engine/stats';
import { Aperture, EntryKind, PageFlag, type EntrySpec, type PageTableFormat } from '../../../sim/mmu/format/types';
import type { KernelMemory } from '../../kernelMemory';
import { nvkmChipFormats, nvkmFormatOps, type NvkmChip } from '../pgtableOps';
import type { NvkmMmuPt, NvkmVmmPt } from './pt';

export { DescType } from './pt';
import { DescType } from './pt';

export type { NvkmChip } from '../pgtableOps';

/** What each modelled GPU generation's VMM backend can express (which formats it drives: pgtableOps.ts). */
interface ChipCaps {
  /** The LPT has an INVALID state that stops the MMU looking at the SPT (gk104_vmm_lpt_invalid). */
  readonly lptInvalid: boolean;
  /** PTEs and PDEs can be sparse (gm200_vmm_pgt_sparse, gp100_vmm_pgt_sparse). */
  readonly sparse: boolean;
  /** PFN mapping (gp100_vmm_pgt_pfn, gp100_vmm_pd0_pfn). */
  readonly pfn: boolean;
}

export const CHIP_CAPS: Record<NvkmChip, ChipCaps> = {
  gf100: { lptInvalid: false, sparse: false, pfn: false },
  gk104: { lptInvalid: true, sparse: false, pfn: false },
  gm200: { lptInvalid: true, sparse: true, pfn: false },
  gp100: { lptInvalid: true, sparse: true, pfn: true },
};

/** The hardware-side state an entry writer needs from its VMM. */
export interface NvkmVmmHw {
  readonly writer: NvkmPteWriter;
}

/** nvkm_vmm_pxe_func: writes `ptes` entries from `ptei` with one value. */
export type NvkmPxeFunc = (vmm: NvkmVmmHw, pt: NvkmMmuPt, ptei: number, ptes: number) => void;
/** nvkm_vmm_pde_func: writes the PDE `pdei` of `pgd` from its child's tables. */
export type NvkmPdeFunc = (vmm: NvkmVmmHw, pgd: NvkmVmmPt, pdei: number) => void;
/** nvkm_vmm_pte_func: writes `ptes` PTEs from `ptei` taking addresses from `map`. */
export type NvkmPteFunc = (vmm: NvkmVmmHw, pt: NvkmMmuPt, ptei: number, ptes: number, map: NvkmVmmMapState) => void;

/** struct nvkm_vmm_desc_func. Absent functions are null (the level cannot do that). */
export interface NvkmVmmDescFunc {
  readonly invalid: NvkmPxeFunc | null;
  readonly unmap: NvkmPxeFunc;
  readonly sparse: NvkmPxeFunc | null;
  readonly pde: NvkmPdeFunc | null;
  /** Maps memory (nvkm's mem / dma / sgl, one function here: memory is a chunk list). */
  readonly mem: NvkmPteFunc | null;
  readonly pfn: NvkmPteFunc | null;
  readonly pfnClear: ((vmm: NvkmVmmHw, pt: NvkmMmuPt, ptei: number, ptes: number) => boolean) | null;
  readonly pfnUnmap: NvkmPxeFunc | null;
}

/** struct nvkm_vmm_desc: one level of a page size's chain. */
export interface NvkmVmmDesc {
  readonly type: DescType;
  /** VA bits covered (index bits). */
  readonly bits: number;
  /** Bytes per entry. */
  readonly size: number;
  /** Table address alignment. */
  readonly align: number;
  /** Index of the level in the PageTableFormat. */
  readonly level: number;
  readonly name: string;
  readonly func: NvkmVmmDescFunc;
}

/** struct nvkm_vmm_page. */
export interface NvkmVmmPage {
  readonly shift: number;
  /** The level holding this page size's PTEs, then its parents up to the root. */
  readonly desc: readonly NvkmVmmDesc[];
  /** NVKM_VMM_PAGE_* flags (PageFlag). */
  readonly type: number;
}

/** Memory apertures a mapping can target (nvkm_memory_target). */
export type NvkmMemTarget = 'vram' | 'host' | 'ncoh';

/**
 * Memory to map (what nvkm gets from an nvkm_memory: its target, size, page size and
 * backing pieces: an nvkm_mem list, a scatterlist or a DMA page array).
 */
export interface NvkmMemory {
  readonly target: NvkmMemTarget;
  /** Physically contiguous pieces in order; each a multiple of 2^page bytes and aligned to it. */
  readonly chunks: readonly { readonly addr: number; readonly size: number }[];
  /** log2 of the memory's page size (nvkm_memory_page): the largest page it can be mapped with. */
  readonly page: number;
}

/** Per-map state (struct nvkm_vmm_map): page size, PTE template, position in the memory. */
export interface NvkmVmmMapState {
  page: NvkmVmmPage;
  memory: NvkmMemory | null;
  /** Byte offset into the memory (map->offset). */
  offset: number;
  /** PTE flags (map->type): set by the backend's valid(). */
  readOnly: boolean;
  privileged: boolean;
  volatile: boolean;
  aperture: Aperture;
  /** Cursor: chunk index and offset inside it (map->mem / map->off). */
  chunk: number;
  off: number;
  /** PFN mapping: the PFN array and cursor (map->pfn). */
  pfn: number[] | null;
  pfnIdx: number;
}

/** NVKM_VMM_PFN_* flags in the low bits of a PFN-array entry (address in bits 63:12). */
export const NVKM_VMM_PFN_V = 0x1;
export const NVKM_VMM_PFN_W = 0x2;
export const NVKM_VMM_PFN_A = 0x4;
export const NVKM_VMM_PFN_VRAM = 0x10;
export const NVKM_VMM_PFN_NONE = 0;

/** A PFN-array entry for physical address `addr` (4 KiB aligned). */
export function nvkmVmmPfn(addr: number, opts: { write?: boolean; atomic?: boolean; vram?: boolean } = {}): number {
  if (addr % 4096 !== 0) throw new SimInvariantError(`nvkmVmmPfn: address ${addr} is not 4 KiB aligned`);
  return addr + NVKM_VMM_PFN_V + (opts.write === false ? 0 : NVKM_VMM_PFN_W) + (opts.atomic === false ? 0 : NVKM_VMM_PFN_A) + (opts.vram ? NVKM_VMM_PFN_VRAM : 0);
}

/** Low 12 flag bits of a PFN-array entry (values are < 2^53, so no 32-bit operators on the whole). */
export function pfnFlags(pfn: number): number {
  return pfn % 4096;
}

const BURST_WORDS = 64; // 256 bytes: one KernelMemory transaction

/**
 * Kernel stores of page-table entries. A run of entries at consecutive addresses goes
 * out as bursts of up to 256 bytes; each burst is one bus store.
 */
export class NvkmPteWriter {
  private readonly buf = new Uint32Array(BURST_WORDS);
  private n = 0;
  private at = 0;
  /** Scratch for one encoded entry. */
  readonly e = new Uint32Array(4);

  constructor(
    readonly mem: KernelMemory,
    readonly format: PageTableFormat,
    private readonly sEntries: Counter,
    private readonly sBursts: Counter,
  ) {}

  /** Starts a run of entries at physical address `addr`. */
  open(addr: number): void {
    this.n = 0;
    this.at = addr;
  }

  /** Appends one entry of `words` words (from `e` unless given). */
  push(words: number, src: Uint32Array = this.e): void {
    if (this.n + words > BURST_WORDS) this.drain();
    for (let i = 0; i < words; i++) this.buf[this.n + i] = src[i];
    this.n += words;
    this.sEntries.value++;
  }

  /** Writes what is buffered. */
  close(): void {
    if (this.n > 0) this.drain();
  }

  private drain(): void {
    this.mem.writeWords(this.at, this.buf, this.n);
    this.sBursts.value++;
    this.at += this.n * 4;
    this.n = 0;
  }

  /** VMM_FO: writes `ptes` copies of `spec` at level `level` from entry `ptei`. */
  fill(pt: NvkmMmuPt, level: number, ptei: number, ptes: number, spec: EntrySpec): void {
    const bytes = this.format.levels[level].entryBytes;
    const words = bytes / 4;
    this.format.encode(level, spec, this.e);
    this.open(pt.addr + ptei * bytes);
    for (let i = 0; i < ptes; i++) this.push(words);
    this.close();
  }
}

const SPEC_UNMAPPED: EntrySpec = { kind: EntryKind.Unmapped };
const SPEC_SPARSE: EntrySpec = { kind: EntryKind.Sparse };
const SPEC_BLOCKED: EntrySpec = { kind: EntryKind.Blocked };

function filler(level: number, spec: EntrySpec): NvkmPxeFunc {
  return (vmm, pt, ptei, ptes) => vmm.writer.fill(pt, level, ptei, ptes, spec);
}

/** gf100_vmm_pgd_pde / gp100_vmm_pd0_pde / gp100_vmm_pd1_pde. */
function pdeWriter(format: PageTableFormat, level: number): NvkmPdeFunc {
  const dual = format.isDual(level);
  const bytes = format.levels[level].entryBytes;
  const spec: EntrySpec = { kind: EntryKind.Table, addr: -1, addr2: -1, aperture: Aperture.Vram };
  return (vmm, pgd, pdei) => {
    const pgt = pgd.pde![pdei] as NvkmVmmPt;
    const w = vmm.writer;
    spec.addr = pgt.pt[0]?.addr ?? -1;
    spec.addr2 = dual ? pgt.pt[1]?.addr ?? -1 : -1;
    if (spec.addr < 0 && spec.addr2 < 0) format.encode(level, SPEC_UNMAPPED, w.e); // data = 0
    else format.encode(level, spec, w.e);
    w.open(pgd.pt[0]!.addr + pdei * bytes);
    w.push(bytes / 4);
    w.close();
  };
}

/** gf100_vmm_pgt_mem / gp100_vmm_pgt_mem / gp100_vmm_pd0_mem (VMM_MAP_ITER over the chunks). */
function memWriter(format: PageTableFormat, level: number): NvkmPteFunc {
  const bytes = format.levels[level].entryBytes;
  const spec: EntrySpec = { kind: EntryKind.Page, addr: 0 };
  return (vmm, pt, ptei, ptes, map) => {
    const w = vmm.writer;
    const chunks = map.memory!.chunks;
    const psize = 2 ** map.page.shift;
    spec.readOnly = map.readOnly;
    spec.privileged = map.privileged;
    spec.volatile = map.volatile;
    spec.aperture = map.aperture;
    w.open(pt.addr + ptei * bytes);
    for (let i = 0; i < ptes; i++) {
      const c = chunks[map.chunk];
      spec.addr = c.addr + map.off;
      map.off += psize;
      if (map.off >= c.size) {
        map.chunk++;
        map.off = 0;
      }
      format.encode(level, spec, w.e);
      w.push(bytes / 4);
    }
    w.close();
  };
}

/**
 * gp100_vmm_pgt_pfn / gp100_vmm_pd0_pfn: one PTE per valid PFN entry. Host pages are
 * DMA-mapped (here the DMA address is the physical address) as SYSTEM_COHERENT + VOL;
 * !W sets RO, !A sets bit 7 (atomic disable). Only the low 8 bytes are written.
 */
function pfnWriter(format: PageTableFormat, level: number): NvkmPteFunc {
  const bytes = format.levels[level].entryBytes;
  const spec: EntrySpec = { kind: EntryKind.Page, addr: 0 };
  return (vmm, pt, ptei, ptes, map) => {
    const w = vmm.writer;
    const pfns = map.pfn!;
    for (; ptes; ptes--, map.pfnIdx++) {
      const pfn = pfns[map.pfnIdx];
      const flags = pfnFlags(pfn);
      if ((flags & NVKM_VMM_PFN_V) === 0) continue;
      const vram = (flags & NVKM_VMM_PFN_VRAM) !== 0;
      spec.addr = pfn - flags;
      spec.readOnly = (flags & NVKM_VMM_PFN_W) === 0;
      spec.aperture = vram ? Aperture.Vram : Aperture.Host;
      spec.volatile = !vram;
      format.encode(level, spec, w.e);
      if ((flags & NVKM_VMM_PFN_A) === 0) w.e[0] |= 1 << 7; // atomic disable
      w.open(pt.addr + ptei++ * bytes);
      w.push(2);
      w.close();
    }
  };
}

/** gp100_vmm_pfn_clear / gp100_vmm_pd0_pfn_clear: clears VALID on host-memory PTEs (read back first). */
function pfnClearer(format: PageTableFormat, level: number) {
  const bytes = format.levels[level].entryBytes;
  const words = new Uint32Array(2);
  return (vmm: NvkmVmmHw, pt: NvkmMmuPt, ptei: number, ptes: number): boolean => {
    const w = vmm.writer;
    let dma = false;
    while (ptes--) {
      const at = pt.addr + ptei * bytes;
      w.mem.readWords(at, words, 2);
      if ((words[0] & 1) !== 0 && (words[0] & 6) !== 0) {
        words[0] = (words[0] & ~1) >>> 0;
        w.open(at);
        w.push(2, words);
        w.close();
        dma = true;
      }
      ptei++;
    }
    return dma;
  };
}

/** gp100_vmm_pfn_unmap / gp100_vmm_pd0_pfn_unmap: reads PTEs back to dma_unmap_page host pages. */
function pfnUnmapper(format: PageTableFormat, level: number, onDmaUnmap: (addr: number) => void): NvkmPxeFunc {
  const bytes = format.levels[level].entryBytes;
  const words = new Uint32Array(2);
  return (vmm, pt, ptei, ptes) => {
    while (ptes--) {
      vmm.writer.mem.readWords(pt.addr + ptei * bytes, words, 2);
      if ((words[0] & 6) !== 0) onDmaUnmap((words[0] >>> 8) * 4096 + (words[1] % 2 ** 11) * 2 ** 36);
      ptei++;
    }
  };
}

const TYPE_OF: Record<string, DescType> = { PGD: DescType.PGD, PGT: DescType.PGT, SPT: DescType.SPT, LPT: DescType.LPT };

/** The per-chip backend description: page sizes (largest first) with their level chains. */
export interface NvkmVmmLayout {
  readonly chip: NvkmChip;
  readonly format: PageTableFormat;
  /** vmm->func->page[], largest first. */
  readonly page: readonly NvkmVmmPage[];
  /** Descriptor of each format level. */
  readonly levels: readonly NvkmVmmDesc[];
}

/**
 * Builds the backend tables for `chip` on `format` (gf100_vmm_17/16, gk104_vmm_17/16,
 * gm200_vmm_17/16, gp100_vmm). `onDmaUnmap` is told about host pages that PFN unmapping
 * releases (dma_unmap_page).
 */
export function nvkmVmmLayout(chip: NvkmChip, format: PageTableFormat, onDmaUnmap: (addr: number) => void = () => {}): NvkmVmmLayout {
  const caps = CHIP_CAPS[chip];
  if (!nvkmFormatOps(format)?.chips.includes(chip)) {
    throw new SimInvariantError(`nvkm ${chip} VMM cannot drive page-table format ${format.name} (expects ${nvkmChipFormats(chip).join(' or ')})`);
  }
  if (format.largeLeaf < 0) throw new SimInvariantError(`nvkm VMM: format ${format.name} has no dual page tables`);
  // Page sizes: drop SPARSE where the chip has no sparse entries, then sizes left with no use.
  const sizes = format.pageSizes
    .map((p) => ({ shift: p.shift, level: p.level, flags: caps.sparse ? p.flags : p.flags & ~PageFlag.SPARSE }))
    .filter((p) => p.flags !== 0);
  const mapsAt = (level: number) => sizes.some((p) => p.level === level && (p.flags & (PageFlag.VRAM | PageFlag.HOST)) !== 0);

  const levels: NvkmVmmDesc[] = format.levels.map((l, i) => {
    const type = TYPE_OF[l.type];
    const mem = mapsAt(i);
    const func: NvkmVmmDescFunc = {
      invalid: type === DescType.LPT && caps.lptInvalid ? filler(i, SPEC_BLOCKED) : null,
      unmap: filler(i, SPEC_UNMAPPED),
      sparse: caps.sparse ? filler(i, SPEC_SPARSE) : null,
      pde: type === DescType.PGD ? pdeWriter(format, i) : null,
      mem: mem ? memWriter(format, i) : null,
      pfn: caps.pfn && mem && type !== DescType.LPT ? pfnWriter(format, i) : null,
      pfnClear: caps.pfn && mem && type !== DescType.LPT ? pfnClearer(format, i) : null,
      pfnUnmap: caps.pfn && mem && type !== DescType.LPT ? pfnUnmapper(format, i, onDmaUnmap) : null,
    };
    return Object.freeze({ type, bits: l.indexBits, size: l.entryBytes, align: l.tableAlign, level: i, name: l.name, func });
  });
  const chain = (level: number): NvkmVmmDesc[] => {
    const out: NvkmVmmDesc[] = [levels[level]];
    let i = level === format.smallLeaf ? format.largeLeaf + 1 : level + 1;
    for (; i <= format.root; i++) out.push(levels[i]);
    return out;
  };
  const page = sizes.map((p) => Object.freeze({ shift: p.shift, desc: Object.freeze(chain(p.level)), type: p.flags }));
  return Object.freeze({ chip, format, page: Object.freeze(page), levels: Object.freeze(levels) });
}
