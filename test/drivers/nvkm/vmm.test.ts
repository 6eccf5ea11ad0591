/**
 * The VMA allocator, error codes, PFN mapping, boot, the page-table cache and
 * out-of-memory unwinding of the nvkm VMM.
 */
import {
  NVKM_VMA_PAGE_NONE,
  NVKM_VMM_PFN_NONE,
  NvkmMmu,
  nvkmMemoryContig,
  nvkmMemoryDma,
  nvkmMmuPtcDump,
  nvkmMmuPtcGet,
  nvkmMmuPtcPut,
  nvkmUvmmMap,
  nvkmUvmmUnmap,
  nvkmVmmBoot,
  nvkmVmmGet,
  nvkmVmmGetLocked,
  nvkmVmmMap,
  nvkmVmmNew,
  nvkmVmmPfn,
  nvkmVmmPfnMap,
  nvkmVmmPfnUnmap,
  nvkmVmmJoin,
  nvkmVmmPart,
  nvkmVmmPut,
  nvkmVmmUnmap,
  nvkmVmmUnref,
  type NvkmVma,
  type NvkmVmm,
} from '../../../drivers/iommu/nvkm';
import { Errno } from '../../../drivers/errno';
import { BuddyAllocator } from '../../../drivers/mm/buddy';
import { Status } from '../../../sim/bus/transaction';
import { Aperture, EntryKind } from '../../../sim/mmu/format/types';
import { DRAM_BASE, deviceCopy, kernelRig } from '../../helpers/kernelRig';
import { allocPages4k, dualPde, fillPattern, nvkmRig, readBytes, rootIsEmpty, spte, stat, VA_BASE, VA_SIZE } from './nvkmRig';

const K4 = 4096;
const EINVAL = -Errno.EINVAL;
const ENOSPC = -Errno.ENOSPC;
const ENOMEM = -Errno.ENOMEM;
const ENOENT = -Errno.ENOENT;

function vma(v: NvkmVma | number): NvkmVma {
  if (typeof v === 'number') throw new Error(`expected a VMA, got ${v}`);
  return v;
}

/** [addr, size, used] of every VMA in address order. */
function layout(vmm: NvkmVmm): [number, number, boolean][] {
  return vmm.vmas.list().map((v) => [v.addr - VA_BASE, v.size, v.used]);
}

describe('VMA allocator (nvkm_vmm_get / nvkm_vmm_put / node split and merge)', () => {
  test('allocations split the free block; puts merge adjacent free blocks back into one', () => {
    const { vmm } = nvkmRig('gpu_mmu');
    const a = vma(nvkmVmmGet(vmm, 12, 8 * K4));
    const b = vma(nvkmVmmGet(vmm, 12, 4 * K4));
    const c = vma(nvkmVmmGet(vmm, 12, 4 * K4));
    expect([a.addr, b.addr, c.addr].map((x) => x - VA_BASE)).toEqual([0, 8 * K4, 12 * K4]);
    expect(layout(vmm)).toEqual([[0, 8 * K4, true], [8 * K4, 4 * K4, true], [12 * K4, 4 * K4, true], [16 * K4, VA_SIZE - 16 * K4, false]]);
    nvkmVmmPut(vmm, b);
    // The hole left by b is the smallest block that fits 4 KiB × 2: best fit, lowest address.
    const d = vma(nvkmVmmGet(vmm, 12, 2 * K4));
    expect(d.addr - VA_BASE).toBe(8 * K4);
    nvkmVmmPut(vmm, a);
    nvkmVmmPut(vmm, d);
    expect(layout(vmm)).toEqual([[0, 12 * K4, false], [12 * K4, 4 * K4, true], [16 * K4, VA_SIZE - 16 * K4, false]]);
    nvkmVmmPut(vmm, c);
    expect(layout(vmm)).toEqual([[0, VA_SIZE, false]]);
    expect(vmm.vmas.free.size).toBe(1);
    expect(vmm.vmas.root.size).toBe(0);
  });

  test('alignment: a 2 MiB-page region is placed on a 2 MiB boundary and the gap stays free', () => {
    const { vmm } = nvkmRig('gpu_mmu');
    vma(nvkmVmmGet(vmm, 12, K4));
    const big = vma(nvkmVmmGet(vmm, 21, 2 ** 21));
    expect(big.addr - VA_BASE).toBe(2 ** 21);
    expect(layout(vmm)[1]).toEqual([K4, 2 ** 21 - K4, false]);
  });

  test('error codes: -EINVAL for bad arguments, -ENOSPC when no block fits', () => {
    const { vmm } = nvkmRig('gpu_mmu');
    expect(nvkmVmmGet(vmm, 12, 0)).toBe(EINVAL); // zero size
    expect(nvkmVmmGet(vmm, 13, 2 * K4)).toBe(EINVAL); // no such page size
    expect(nvkmVmmGet(vmm, 16, K4)).toBe(EINVAL); // size not a multiple of the page
    expect(nvkmVmmGetLocked(vmm, true, false, false, 0, 0, K4)).toBe(EINVAL); // getref needs a page size
    expect(nvkmVmmGetLocked(vmm, false, false, true, 12, 0, K4)).toBe(EINVAL); // lazily-allocated sparse
    expect(nvkmVmmGet(vmm, 12, VA_SIZE + K4)).toBe(ENOSPC);
    vma(nvkmVmmGet(vmm, 12, K4));
    expect(nvkmVmmGet(vmm, 12, VA_SIZE)).toBe(ENOSPC);
    expect(nvkmUvmmUnmap(vmm, VA_BASE + 2 ** 29)).toBe(ENOENT);
    expect(nvkmUvmmMap(vmm, VA_BASE + 2 ** 29, K4, null, nvkmMemoryDma('host', [DRAM_BASE]))).toBe(ENOENT);
  });

  test('map errors: memory too small, misaligned, wrong aperture for the page size, unsupported kind', () => {
    const { vmm, buddy } = nvkmRig('gpu_mmu');
    const v = vma(nvkmVmmGet(vmm, 12, 4 * K4));
    expect(nvkmVmmMap(vmm, v, null, { memory: nvkmMemoryDma('host', allocPages4k(buddy, 3)) })).toBe(EINVAL);
    expect(nvkmVmmMap(vmm, v, { kind: 0xfe }, { memory: nvkmMemoryDma('host', allocPages4k(buddy, 4)) })).toBe(EINVAL);
    const lp = vma(nvkmVmmGet(vmm, 16, 2 ** 16));
    // 64 KiB pages map VRAM only (NVKM_VMM_PAGE_SVxC), and the memory must have 64 KiB pages.
    expect(nvkmVmmMap(vmm, lp, null, { memory: nvkmMemoryContig('host', DRAM_BASE, 2 ** 16) })).toBe(EINVAL);
    expect(nvkmVmmMap(vmm, lp, null, { memory: nvkmMemoryContig('vram', DRAM_BASE, 2 ** 16, 12) })).toBe(EINVAL);
    expect(nvkmVmmMap(vmm, lp, null, { memory: nvkmMemoryContig('vram', DRAM_BASE, 2 ** 16), offset: K4 })).toBe(EINVAL);
    expect(v.mapped || lp.mapped).toBe(false);
    expect(nvkmVmmMap(vmm, lp, null, { memory: nvkmMemoryContig('vram', DRAM_BASE, 2 ** 17), offset: 2 ** 16 })).toBe(0);
    expect(lp.refd).not.toBe(NVKM_VMA_PAGE_NONE);
  });

  test('sub-range maps split the region; unmapping merges the pieces back (nvkm_vmm_node_split / _merge)', () => {
    const { soc, vmm, buddy } = nvkmRig('gpu_mmu');
    const v = vma(nvkmVmmGet(vmm, 12, 16 * K4));
    const pages = allocPages4k(buddy, 2);
    expect(nvkmUvmmMap(vmm, v.addr + 4 * K4, 2 * K4, null, nvkmMemoryDma('host', pages))).toBe(0);
    expect(layout(vmm).slice(0, 3)).toEqual([[0, 4 * K4, true], [4 * K4, 2 * K4, true], [6 * K4, 10 * K4, true]]);
    expect(vmm.vmas.list()[1].part).toBe(true);
    expect(spte(soc, vmm, v.addr + 5 * K4)!.addr).toBe(pages[1]);
    // Mapping over a piece that is already mapped is refused.
    expect(nvkmUvmmMap(vmm, v.addr + 4 * K4, K4, null, nvkmMemoryDma('host', pages))).toBe(EINVAL);
    expect(nvkmUvmmUnmap(vmm, v.addr + 4 * K4)).toBe(0);
    expect(layout(vmm).slice(0, 2)).toEqual([[0, 16 * K4, true], [16 * K4, VA_SIZE - 16 * K4, false]]);
    expect(nvkmUvmmUnmap(vmm, v.addr)).toBe(EINVAL); // nothing mapped there
    nvkmVmmPut(vmm, v);
    expect(rootIsEmpty(soc, vmm)).toBe(true);
  });
});

describe('page-table memory: cache, sub-allocation, out of memory', () => {
  test('the cache keeps up to 8 freed tables per size and hands them back zeroed on request', () => {
    const { kernel, soc } = kernelRig();
    const buddy = new BuddyAllocator(DRAM_BASE, 2 ** 24);
    const mmu = new NvkmMmu(kernel, buddy, 'ptc_test');
    const free0 = buddy.freePageCount;
    const pts = Array.from({ length: 10 }, () => nvkmMmuPtcGet(mmu, 0x1000, 0x1000, true)!);
    expect(buddy.freePageCount).toBe(free0 - 10);
    soc.physmem.write32(pts[0].addr + 8, 0xdeadbeef);
    for (const pt of pts) nvkmMmuPtcPut(mmu, false, pt);
    expect(mmu.ptcCount(0x1000)).toBe(8);
    expect(buddy.freePageCount).toBe(free0 - 8);
    const again = nvkmMmuPtcGet(mmu, 0x1000, 0x1000, true)!;
    expect(again).toBe(pts[0]); // oldest first
    expect(soc.physmem.read32(again.addr + 8)).toBe(0); // zeroed with kernel stores
    expect(stat(soc, 'kernel.ptc_test.nvkm.ptc_hits')).toBe(1);
    nvkmMmuPtcPut(mmu, true, again); // forced: freed, not cached
    expect(mmu.ptcCount(0x1000)).toBe(7);
    nvkmMmuPtcDump(mmu);
    expect(buddy.freePageCount).toBe(free0);
    // Sizes are cached separately; the gf100 SPT (256 KiB) takes an order-6 block.
    const spt = nvkmMmuPtcGet(mmu, 256 * 1024, 0x1000, false)!;
    expect(buddy.freePageCount).toBe(free0 - 64);
    nvkmMmuPtcPut(mmu, false, spt);
    expect(mmu.ptcCount(256 * 1024)).toBe(1);
    expect(mmu.ptcCount(0x1000)).toBe(0);
  });

  test('tables smaller than 4 KiB are sub-allocated from shared pages (16 × 256-byte LPTs per page)', () => {
    const { kernel } = kernelRig();
    const buddy = new BuddyAllocator(DRAM_BASE, 2 ** 24);
    const mmu = new NvkmMmu(kernel, buddy, 'ptp_test');
    const free0 = buddy.freePageCount;
    const lpts = Array.from({ length: 17 }, () => nvkmMmuPtcGet(mmu, 256, 0x100, false)!);
    expect(buddy.freePageCount).toBe(free0 - 2);
    expect(lpts[1].addr - lpts[0].addr).toBe(256);
    expect(lpts[15].addr - lpts[0].addr).toBe(15 * 256);
    expect(lpts[16].sub).toBe(true);
    for (const pt of lpts) nvkmMmuPtcPut(mmu, false, pt);
    // Both pages were released to the 4 KiB cache when their last slot went.
    expect(mmu.ptpCount).toBe(0);
    expect(mmu.ptcCount(0x1000)).toBe(2);
  });

  test('-ENOMEM when page-table memory runs out: the partial walk is undone', () => {
    const { kernel, soc } = kernelRig();
    const buddy = new BuddyAllocator(DRAM_BASE, 4 * K4); // root + 3 tables, not 4
    const mmu = new NvkmMmu(kernel, buddy, 'oom');
    const vmm = nvkmVmmNew(mmu, soc.iommu('gpu_mmu'), VA_BASE, VA_SIZE, { name: 'oom' }) as NvkmVmm;
    const v = vma(nvkmVmmGet(vmm, 12, K4));
    expect(nvkmVmmMap(vmm, v, null, { memory: nvkmMemoryDma('host', [DRAM_BASE + 2 ** 20]) })).toBe(ENOMEM);
    expect(v.mapped).toBe(false);
    expect(v.refd).toBe(NVKM_VMA_PAGE_NONE);
    expect(rootIsEmpty(soc, vmm)).toBe(true);
    expect(vmm.pd!.refs[0]).toBe(1);
    expect(mmu.ptcCount(0x1000)).toBe(3); // PD2, PD1, PD0 went to the cache
    // Getting a region with PTEs referenced up front fails the same way, and frees the region.
    expect(nvkmVmmGetLocked(vmm, true, false, false, 12, 0, K4)).toBe(ENOMEM);
    expect(vmm.vmas.root.size).toBe(1);
    nvkmVmmUnref(vmm);
    nvkmMmuPtcDump(mmu);
    expect(buddy.freePageCount).toBe(4);
  });
});

describe('PFN mapping (gp100: nvkm_vmm_pfn_map / nvkm_vmm_pfn_unmap)', () => {
  test('host PFNs map as coherent system memory; the device copies through them; pfn unmap clears and releases them', () => {
    const { soc, vmm, buddy } = nvkmRig('gpu_mmu');
    const v = vma(nvkmVmmGet(vmm, 12, 16 * K4));
    const pages = allocPages4k(buddy, 16);
    const pfns = pages.map((pa, i) => nvkmVmmPfn(pa, { write: i !== 3 }));
    pfns[8] = NVKM_VMM_PFN_NONE; // a hole
    expect(nvkmVmmPfnMap(vmm, 12, v.addr, 16 * K4, pfns)).toBe(0);
    const e0 = spte(soc, vmm, v.addr)!;
    expect(e0.kind).toBe(EntryKind.Page);
    expect(e0.addr).toBe(pages[0]);
    expect(e0.aperture).toBe(Aperture.Host);
    expect(e0.volatile).toBe(true);
    expect(spte(soc, vmm, v.addr + 3 * K4)!.readOnly).toBe(true);
    expect(spte(soc, vmm, v.addr + 8 * K4)!.kind).toBe(EntryKind.Unmapped);
    // The region is split into mapped / unmapped / mapped pieces.
    expect(vmm.vmas.list().slice(0, 3).map((x) => [x.size / K4, x.mapped])).toEqual([[8, true], [1, false], [7, true]]);

    const data = fillPattern(soc, pages[0], K4, 3);
    expect(deviceCopy(soc, 'dma_gpu', v.addr, v.addr + K4, K4).status).toBe(Status.Ok);
    expect(readBytes(soc, pages[1], K4)).toEqual(data);
    expect(deviceCopy(soc, 'dma_gpu', v.addr, v.addr + 3 * K4, K4).status).toBe(Status.TranslationFault); // read-only page
    expect(deviceCopy(soc, 'dma_gpu', v.addr + 8 * K4, v.addr, K4).status).toBe(Status.TranslationFault); // the hole

    const reads0 = stat(soc, 'kernel.mem_reads');
    expect(nvkmVmmPfnUnmap(vmm, v.addr, 16 * K4)).toBe(0);
    expect(stat(soc, 'kernel.mem_reads')).toBeGreaterThan(reads0); // PTEs read back (pfn_clear)
    expect(stat(soc, 'kernel.gpu_mmu.nvkm.pfn_dma_unmaps')).toBe(15);
    expect(spte(soc, vmm, v.addr)).toBe(null); // last reference gone: the SPT was freed
    expect(deviceCopy(soc, 'dma_gpu', v.addr, v.addr + K4, K4).status).toBe(Status.TranslationFault);
    nvkmVmmPut(vmm, v);
    expect(rootIsEmpty(soc, vmm)).toBe(true);
  });

  test('2 MiB PFNs are PD0 PTEs', () => {
    const { soc, vmm, buddy } = nvkmRig('gpu_mmu');
    const M2 = 2 ** 21;
    const v = vma(nvkmVmmGet(vmm, 21, 2 * M2));
    const pa = buddy.allocPages(9)!; // 2 MiB, 2 MiB aligned
    expect(nvkmVmmPfnMap(vmm, 21, v.addr, 2 * M2, [nvkmVmmPfn(pa, { vram: true }), nvkmVmmPfn(pa, { vram: true, write: false })])).toBe(0);
    const { pde } = dualPde(soc, vmm, v.addr);
    expect(pde!.kind).toBe(EntryKind.Page);
    expect(pde!.pageShift).toBe(21);
    expect(pde!.addr).toBe(pa);
    expect(pde!.aperture).toBe(Aperture.Vram);
    expect(dualPde(soc, vmm, v.addr + M2).pde!.readOnly).toBe(true);
    const data = fillPattern(soc, pa + 12345, 100, 5);
    expect(deviceCopy(soc, 'dma_gpu', v.addr + 12345, v.addr + 2 * K4, 100).status).toBe(Status.Ok);
    expect(readBytes(soc, pa + 2 * K4, 100)).toEqual(data);
    expect(nvkmVmmPfnUnmap(vmm, v.addr, 2 * M2)).toBe(0);
    expect(stat(soc, 'kernel.gpu_mmu.nvkm.pfn_dma_unmaps')).toBe(0); // VRAM: nothing to release
    expect(deviceCopy(soc, 'dma_gpu', v.addr, v.addr + K4, 64).status).toBe(Status.TranslationFault);
    nvkmVmmPut(vmm, v);
    expect(rootIsEmpty(soc, vmm)).toBe(true);
  });

  test('PFN map errors: unsupported page size, misalignment, no region', () => {
    const { vmm } = nvkmRig('gpu_mmu');
    expect(nvkmVmmPfnMap(vmm, 16, VA_BASE, 2 ** 16, [nvkmVmmPfn(DRAM_BASE)])).toBe(EINVAL); // no PFN at 64 KiB
    expect(nvkmVmmPfnMap(vmm, 12, VA_BASE + 1, K4, [nvkmVmmPfn(DRAM_BASE)])).toBe(EINVAL);
    expect(nvkmVmmPfnMap(vmm, 12, VA_BASE, K4, [nvkmVmmPfn(DRAM_BASE)])).toBe(ENOENT);
    const { vmm: fermi } = nvkmRig('fermi_mmu');
    expect(nvkmVmmPfnMap(fermi, 12, VA_BASE, K4, [nvkmVmmPfn(DRAM_BASE)])).toBe(EINVAL); // no PFN before gp100
  });
});

describe('boot (nvkm_vmm_boot) and teardown', () => {
  test('boot allocates every table of the range up front; maps then allocate nothing; unref frees all', () => {
    const { kernel, soc } = kernelRig();
    const buddy = new BuddyAllocator(DRAM_BASE, 2 ** 26);
    const free0 = buddy.freePageCount;
    const mmu = new NvkmMmu(kernel, buddy, 'boot');
    const size = 8 * 2 ** 20; // 4 PD0 entries of 2 MiB
    const vmm = nvkmVmmNew(mmu, soc.iommu('gpu_mmu'), VA_BASE, size, { name: 'boot', asid: 3 }) as NvkmVmm;
    expect(nvkmVmmBoot(vmm)).toBe(0);
    expect(vmm.bootstrapped).toBe(true);
    // PD3 + PD2 + PD1 + PD0 + 4 SPTs.
    expect(mmu.pagesInUse).toBe(8);
    for (let i = 0; i < 4; i++) {
      const { spt, lpt } = dualPde(soc, vmm, VA_BASE + i * 2 ** 21);
      expect(spt).toBeGreaterThanOrEqual(0);
      expect(lpt).toBe(-1);
    }
    const allocs = stat(soc, 'kernel.boot.nvkm.pt_allocs');
    const v = vma(nvkmVmmGet(vmm, 12, 2 ** 21));
    const flushes = stat(soc, 'kernel.boot.nvkm.flushes');
    expect(nvkmVmmMap(vmm, v, null, { memory: nvkmMemoryContig('host', DRAM_BASE + 2 ** 25, 2 ** 21, 12) })).toBe(0);
    expect(stat(soc, 'kernel.boot.nvkm.pt_allocs')).toBe(allocs);
    expect(stat(soc, 'kernel.boot.nvkm.flushes') - flushes).toBe(1);
    expect(vmm.lastFlushDepth).toBe(4);
    nvkmVmmUnmap(vmm, v);
    expect(mmu.pagesInUse).toBe(8); // the boot references keep the tables
    nvkmVmmUnref(vmm);
    // Bootstrapped: tables are freed, not cached.
    expect(mmu.ptcCachedPages).toBe(0);
    expect(buddy.freePageCount).toBe(free0);
  });

  test('a VMM rejects a format its backend cannot drive, and a range beyond the VA limit', () => {
    const { kernel, soc } = kernelRig();
    const mmu = new NvkmMmu(kernel, new BuddyAllocator(DRAM_BASE, 2 ** 24), 'bad');
    expect(nvkmVmmNew(mmu, soc.iommu('fermi_mmu'), 0, 0, { chip: 'gp100' })).toBe(EINVAL);
    expect(nvkmVmmNew(mmu, soc.iommu('fermi_mmu'), 2 ** 40, 2 ** 20, { name: 'bad2' })).toBe(EINVAL);
    expect(mmu.pagesInUse).toBe(0);
  });

  test('join programs the stream; part clears it (requests fault with no context)', () => {
    const { soc, vmm, kernel } = nvkmRig('gpu_mmu');
    const ctx = soc.iommu('gpu_mmu').streamContext(0)!;
    expect(ctx.root).toBe(vmm.pdAddr);
    expect(ctx.asid).toBe(1);
    expect(ctx.mode).toBe('translate');
    nvkmVmmPart(vmm, 0);
    expect(soc.iommu('gpu_mmu').streamContext(0)).toBe(null);
    expect(deviceCopy(soc, 'dma_gpu', VA_BASE, VA_BASE + K4, K4).status).toBe(Status.TranslationFault);
    // Destroying a VMM that still has a stream joined parts it, with a kernel warning.
    nvkmVmmJoin(vmm, 0);
    const warnings = kernel.warnings;
    nvkmVmmUnref(vmm);
    expect(kernel.warnings).toBe(warnings + 1);
    expect(soc.iommu('gpu_mmu').streamContext(0)).toBe(null);
  });
});
