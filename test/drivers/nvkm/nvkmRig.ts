import { BuddyAllocator } from '../../../drivers/mm/buddy';
import { NvkmMmu, nvkmVmmJoin, nvkmVmmNew, type NvkmVmm, type NvkmVmmNewArgs } from '../../../drivers/iommu/nvkm';
import { EntryKind, levelIndex, newDecodedEntry, type DecodedEntry, type PageTableFormat } from '../../../sim/mmu/format/types';
import type { Soc } from '../../../sim/soc/builder';
import type { Kernel } from '../../../drivers/kernel';
import { DRAM_BASE, DRAM_SIZE, kernelRig } from '../../helpers/kernelRig';

export type GpuMmuName = 'gpu_mmu' | 'fermi_mmu';

/** Per-MMU facts the tests use. */
export const GPU = {
  gpu_mmu: { device: 'dma_gpu', lptShift: 16, sptesPerLpte: 16, lptBytes: 256, sptBytes: 4096 },
  fermi_mmu: { device: 'dma_fermi', lptShift: 17, sptesPerLpte: 32, lptBytes: 8192, sptBytes: 256 * 1024 },
} as const;

/** GPU VA range the test VMMs manage: [4 GiB, 5 GiB). */
export const VA_BASE = 2 ** 32;
export const VA_SIZE = 2 ** 30;

export interface NvkmRig {
  soc: Soc;
  kernel: Kernel;
  buddy: BuddyAllocator;
  mmu: NvkmMmu;
  vmm: NvkmVmm;
  /** buddy.freePageCount right after the VMM was created (its root directory allocated). */
  freeAtStart: number;
}

/** A kernel SoC, a buddy allocator over all of DRAM, an nvkm MMU and a VMM joined to stream 0 of `which`. */
export function nvkmRig(which: GpuMmuName, args: NvkmVmmNewArgs & { addr?: number; size?: number; buddy?: BuddyAllocator } = {}): NvkmRig {
  const { soc, kernel } = kernelRig();
  const buddy = args.buddy ?? new BuddyAllocator(DRAM_BASE, DRAM_SIZE);
  const mmu = new NvkmMmu(kernel, buddy, which);
  const vmm = nvkmVmmNew(mmu, soc.iommu(which), args.addr ?? VA_BASE, args.size ?? VA_SIZE, { name: which, asid: 1, ...args });
  if (typeof vmm === 'number') throw new Error(`nvkmVmmNew: ${vmm}`);
  nvkmVmmJoin(vmm, 0);
  return { soc, kernel, buddy, mmu, vmm, freeAtStart: buddy.freePageCount };
}

/** Decodes entry `index` of the table at `table` (level `level`) straight from physical memory. */
export function readEntry(soc: Soc, format: PageTableFormat, level: number, table: number, index: number): DecodedEntry {
  const l = format.levels[level];
  const words = new Uint32Array(4);
  for (let i = 0; i < l.entryBytes / 4; i++) words[i] = soc.physmem.read32(table + index * l.entryBytes + 4 * i);
  const out = newDecodedEntry();
  format.decode(level, words, out);
  return out;
}

/**
 * Walks the tables in memory from the root down to the dual level covering `va`.
 * Returns the dual PDE (or null if a directory above is missing) and the LPT and SPT
 * addresses it holds (-1 when absent).
 */
export function dualPde(soc: Soc, vmm: NvkmVmm, va: number): { pde: DecodedEntry | null; lpt: number; spt: number } {
  const f = vmm.iommu.format;
  let table = vmm.pdAddr;
  for (let level = f.root; ; level--) {
    const e = readEntry(soc, f, level, table, levelIndex(f.levels[level], va));
    if (f.isDual(level)) return { pde: e, lpt: e.kind === EntryKind.Table ? e.addr : -1, spt: e.kind === EntryKind.Table ? e.addr2 : -1 };
    if (e.kind !== EntryKind.Table) return { pde: null, lpt: -1, spt: -1 };
    table = e.addr;
  }
}

/** The LPTE covering `va`, decoded from memory (null if there is no LPT). */
export function lpte(soc: Soc, vmm: NvkmVmm, va: number): DecodedEntry | null {
  const f = vmm.iommu.format;
  const { lpt } = dualPde(soc, vmm, va);
  return lpt < 0 ? null : readEntry(soc, f, f.largeLeaf, lpt, levelIndex(f.levels[f.largeLeaf], va));
}

/** The SPTE covering `va`, decoded from memory (null if there is no SPT). */
export function spte(soc: Soc, vmm: NvkmVmm, va: number): DecodedEntry | null {
  const f = vmm.iommu.format;
  const { spt } = dualPde(soc, vmm, va);
  return spt < 0 ? null : readEntry(soc, f, f.smallLeaf, spt, levelIndex(f.levels[f.smallLeaf], va));
}

/** Every entry of the root directory is Unmapped (read from memory). */
export function rootIsEmpty(soc: Soc, vmm: NvkmVmm): boolean {
  const f = vmm.iommu.format;
  const n = 2 ** f.levels[f.root].indexBits;
  for (let i = 0; i < n; i++) if (readEntry(soc, f, f.root, vmm.pdAddr, i).kind !== EntryKind.Unmapped) return false;
  return true;
}

/** `n` 4 KiB pages from the buddy allocator (one block each). */
export function allocPages4k(buddy: BuddyAllocator, n: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(buddy.allocPages(0)!);
  return out;
}

/** Fills [pa, pa+len) with a pattern derived from `seed`. */
export function fillPattern(soc: Soc, pa: number, len: number, seed: number): Uint8Array {
  const b = new Uint8Array(len);
  for (let i = 0; i < len; i++) b[i] = (i * 7 + seed * 13 + (i >> 8)) & 0xff;
  soc.physmem.write(pa, b);
  return b;
}

export function readBytes(soc: Soc, pa: number, len: number): Uint8Array {
  const b = new Uint8Array(len);
  soc.physmem.read(pa, b);
  return b;
}

export function stat(soc: Soc, name: string): number {
  return soc.ctx.stats.value(name);
}
