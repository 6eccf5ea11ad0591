/**
 * The VMM as the GPU sees it: DMA copies through the device's real translation path
 * (TLBs, walker, faults), flush accounting, and walk / TLB statistics across map/unmap.
 */
import {
  nvkmMemoryContig,
  nvkmMemoryDma,
  nvkmVmmGet,
  nvkmVmmMap,
  nvkmVmmPut,
  nvkmVmmUnmap,
  type NvkmVma,
} from '../../../drivers/iommu/nvkm';
import { Status } from '../../../sim/bus/transaction';
import { EntryKind } from '../../../sim/mmu/format/types';
import { deviceCopy } from '../../helpers/kernelRig';
import { allocPages4k, fillPattern, GPU, nvkmRig, readBytes, spte, stat, type GpuMmuName } from './nvkmRig';

const K4 = 4096;

function vma(v: NvkmVma | number): NvkmVma {
  if (typeof v === 'number') throw new Error(`expected a VMA, got ${v}`);
  return v;
}

describe.each(['gpu_mmu', 'fermi_mmu'] as GpuMmuName[])('%s: device access through the VMM', (which) => {
  const g = GPU[which];

  test('a map of 64 pages is one flush; a copy between two mapped GPU VAs moves the physical bytes; unmapped VAs fault', () => {
    const { soc, vmm, buddy } = nvkmRig(which);
    const iommu = soc.iommu(which);
    const bytes = 64 * K4;
    const srcPages = allocPages4k(buddy, 64);
    const dstPages = allocPages4k(buddy, 64);
    const src = vma(nvkmVmmGet(vmm, 12, bytes));
    const dst = vma(nvkmVmmGet(vmm, 12, bytes));

    const flushes0 = stat(soc, `kernel.${which}.nvkm.flushes`);
    const cmds0 = stat(soc, `soc.${which}.cmd.invalidate_asid`);
    expect(nvkmVmmMap(vmm, src, null, { memory: nvkmMemoryDma('host', srcPages) })).toBe(0);
    expect(stat(soc, `kernel.${which}.nvkm.flushes`) - flushes0).toBe(1);
    expect(stat(soc, `soc.${which}.cmd.invalidate_asid`) - cmds0).toBe(1);
    expect(nvkmVmmMap(vmm, dst, null, { memory: nvkmMemoryDma('host', dstPages) })).toBe(0);
    expect(stat(soc, `kernel.${which}.nvkm.flushes`) - flushes0).toBe(2);

    // Source pattern in physical memory (scattered 4 KiB pages), destination zero.
    const expected: Uint8Array[] = srcPages.map((pa, i) => fillPattern(soc, pa, K4, i + 1));
    for (const pa of dstPages) soc.physmem.fill(pa, K4, 0);

    const walks0 = stat(soc, `soc.${which}.walker.walks`);
    const r = deviceCopy(soc, g.device, src.addr, dst.addr, bytes);
    expect(r.status).toBe(Status.Ok);
    expect(r.bytesWritten).toBe(bytes);
    for (let i = 0; i < 64; i++) expect(readBytes(soc, dstPages[i], K4)).toEqual(expected[i]);
    const walks1 = stat(soc, `soc.${which}.walker.walks`);
    // One walk per 4 KiB page touched, at least (a 512-entry L2 TLB holds them all).
    expect(walks1 - walks0).toBeGreaterThanOrEqual(128);

    // Copy again: every translation hits the TLBs, no walk.
    const l2miss1 = stat(soc, `soc.${which}.l2tlb.misses`);
    expect(deviceCopy(soc, g.device, src.addr, dst.addr, bytes).status).toBe(Status.Ok);
    expect(stat(soc, `soc.${which}.walker.walks`)).toBe(walks1);
    expect(stat(soc, `soc.${which}.l2tlb.misses`)).toBe(l2miss1);

    // Unmap the destination: one flush, the SPTEs go, and the copy faults with memory untouched.
    const f1 = stat(soc, `kernel.${which}.nvkm.flushes`);
    nvkmVmmUnmap(vmm, dst);
    expect(stat(soc, `kernel.${which}.nvkm.flushes`) - f1).toBe(1);
    expect(spte(soc, vmm, dst.addr)!.kind).toBe(EntryKind.Unmapped);
    for (const pa of dstPages) soc.physmem.fill(pa, K4, 0);
    const faults0 = stat(soc, `soc.${which}.faults`);
    const bad = deviceCopy(soc, g.device, src.addr, dst.addr, bytes);
    expect(bad.status).toBe(Status.TranslationFault);
    expect(bad.faultAddr).toBe(dst.addr);
    expect(stat(soc, `soc.${which}.faults`)).toBeGreaterThan(faults0);
    expect(stat(soc, `soc.${which}.walker.walks`)).toBeGreaterThan(walks1); // the flush dropped the TLB entries
    expect(iommu.drainFaults().some((f) => f.address === dst.addr && f.access === 'write' && f.reason === 'not_present')).toBe(true);
    expect(readBytes(soc, dstPages[0], K4).every((b) => b === 0)).toBe(true);

    // Source still mapped: a copy to a VA mapped again works.
    expect(nvkmVmmMap(vmm, dst, null, { memory: nvkmMemoryDma('host', dstPages) })).toBe(0);
    expect(deviceCopy(soc, g.device, src.addr, dst.addr, bytes).status).toBe(Status.Ok);
    expect(readBytes(soc, dstPages[63], K4)).toEqual(expected[63]);
    nvkmVmmPut(vmm, src);
    nvkmVmmPut(vmm, dst);
    expect(deviceCopy(soc, g.device, src.addr, src.addr + bytes, K4).status).toBe(Status.TranslationFault);
  });

  test('large pages: a VRAM buffer mapped with large pages is copied through LPTEs (one walk per large page)', () => {
    const { soc, vmm, buddy } = nvkmRig(which);
    const LP = 2 ** g.lptShift;
    // Contiguous, large-page aligned memory: the buddy allocator's blocks are size-aligned.
    const order = Math.log2((2 * LP) / K4);
    const srcPa = buddy.allocPages(order)!;
    const dstPa = buddy.allocPages(order)!;
    const src = vma(nvkmVmmGet(vmm, 0, 2 * LP)); // page size chosen at map time
    const dst = vma(nvkmVmmGet(vmm, 0, 2 * LP));
    expect(nvkmVmmMap(vmm, src, null, { memory: nvkmMemoryContig('vram', srcPa, 2 * LP) })).toBe(0);
    expect(nvkmVmmMap(vmm, dst, null, { memory: nvkmMemoryContig('vram', dstPa, 2 * LP) })).toBe(0);
    expect(vmm.page[src.refd].shift).toBe(which === 'gpu_mmu' ? 16 : 17); // not 2 MiB: the VMA is 2 large pages
    const data = fillPattern(soc, srcPa, 2 * LP, 9);
    const walks0 = stat(soc, `soc.${which}.walker.walks`);
    expect(deviceCopy(soc, g.device, src.addr, dst.addr, 2 * LP).status).toBe(Status.Ok);
    expect(readBytes(soc, dstPa, 2 * LP)).toEqual(data);
    expect(stat(soc, `soc.${which}.walker.walks`) - walks0).toBe(4); // 2 large pages each side
  });
});

describe('gpu_mmu (gp100): flush depth', () => {
  test('a map that creates directories flushes from the root; a map into existing tables flushes at PTE depth', () => {
    const { soc, vmm, buddy } = nvkmRig('gpu_mmu');
    const a = vma(nvkmVmmGet(vmm, 12, 16 * K4));
    const b = vma(nvkmVmmGet(vmm, 12, 16 * K4));
    expect(nvkmVmmMap(vmm, a, null, { memory: nvkmMemoryDma('host', allocPages4k(buddy, 16)) })).toBe(0);
    expect(vmm.lastFlushDepth).toBe(0); // PD3's PDE written
    expect(nvkmVmmMap(vmm, b, null, { memory: nvkmMemoryDma('host', allocPages4k(buddy, 16)) })).toBe(0);
    expect(vmm.lastFlushDepth).toBe(4); // SPTEs only (PD3 → PD2 → PD1 → PD0 → SPT)
    nvkmVmmUnmap(vmm, b);
    expect(vmm.lastFlushDepth).toBe(4); // the SPT is still referenced by `a`
    nvkmVmmUnmap(vmm, a);
    expect(vmm.lastFlushDepth).toBe(0); // the last reference: tables freed up to PD3's PDE
    const h = soc.ctx.stats.dump();
    expect(h['kernel.gpu_mmu.nvkm.flush_depth.samples']).toBe(4);
  });
});
