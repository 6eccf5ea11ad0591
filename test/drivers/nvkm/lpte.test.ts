/**
 * The LPTE state machine of dual page tables (vmm.c: nvkm_vmm_ref_sptes,
 * nvkm_vmm_unref_sptes, nvkm_vmm_ref_hwpt, nvkm_vmm_unref_pdes), checked on the bytes
 * the driver wrote to memory: every entry below is decoded from soc.physmem with the
 * format's codec, not read from driver state.
 */
import {
  nvkmMemoryDma,
  nvkmUvmmMap,
  nvkmUvmmUnmap,
  nvkmVmmGet,
  nvkmVmmGetLocked,
  nvkmVmmMap,
  nvkmVmmPut,
  nvkmVmmUnmap,
  type NvkmVma,
} from '../../../drivers/iommu/nvkm';
import { Aperture, EntryKind } from '../../../sim/mmu/format/types';
import { allocPages4k, dualPde, GPU, lpte, nvkmRig, rootIsEmpty, spte, VA_BASE, type GpuMmuName } from './nvkmRig';

const K4 = 4096;

function vma(v: NvkmVma | number): NvkmVma {
  if (typeof v === 'number') throw new Error(`expected a VMA, got ${v}`);
  return v;
}

describe.each(['gpu_mmu', 'fermi_mmu'] as GpuMmuName[])('%s: LPTE states in memory', (which) => {
  const g = GPU[which];
  const LP = 2 ** g.lptShift;

  test('non-sparse: LPTE INVALID -> UNMAPPED when SPTEs map under it -> INVALID when the last goes; then everything is freed', () => {
    const r = nvkmRig(which);
    const { soc, vmm, mmu, buddy } = r;
    expect(rootIsEmpty(soc, vmm)).toBe(true);

    // A large-page region with its PTEs referenced up front: the LPT exists, all INVALID.
    const big = vma(nvkmVmmGetLocked(vmm, true, false, false, g.lptShift, 0, 4 * LP));
    expect(big.addr).toBe(VA_BASE);
    for (let i = 0; i < 8; i++) expect(lpte(soc, vmm, VA_BASE + i * LP)!.kind).toBe(EntryKind.Blocked);
    expect(dualPde(soc, vmm, VA_BASE).spt).toBe(-1);

    // A small-page region right after it, in the same dual PDE: LPTE index 4.
    const small = vma(nvkmVmmGet(vmm, 12, LP));
    expect(small.addr).toBe(VA_BASE + 4 * LP);
    // Nothing mapped yet (references are taken at map time): no SPT.
    expect(dualPde(soc, vmm, small.addr).spt).toBe(-1);

    const pages = allocPages4k(buddy, 4);
    const sub = small.addr + LP / 2; // map 4 pages in the middle of the LPTE's range
    expect(nvkmUvmmMap(vmm, sub, 4 * K4, null, nvkmMemoryDma('host', pages))).toBe(0);

    // The LPTE hands its range to the SPTEs: UNMAPPED (the MMU now looks at the SPT).
    expect(lpte(soc, vmm, sub)!.kind).toBe(EntryKind.Unmapped);
    // Its neighbours stay INVALID.
    expect(lpte(soc, vmm, sub - LP)!.kind).toBe(EntryKind.Blocked);
    expect(lpte(soc, vmm, sub + LP)!.kind).toBe(EntryKind.Blocked);
    // The dual PDE now points at both tables; the SPTEs map the pages.
    const { lpt, spt } = dualPde(soc, vmm, sub);
    expect(lpt).toBeGreaterThanOrEqual(0);
    expect(spt).toBeGreaterThanOrEqual(0);
    for (let i = 0; i < 4; i++) {
      const e = spte(soc, vmm, sub + i * K4)!;
      expect(e.kind).toBe(EntryKind.Page);
      expect(e.addr).toBe(pages[i]);
      expect(e.aperture).toBe(Aperture.Host);
      expect(e.volatile).toBe(true); // nvkm: VOL for host memory by default
    }
    // Other SPTEs under the same LPTE are unmapped (the SPT was zeroed).
    expect(spte(soc, vmm, sub - K4)!.kind).toBe(EntryKind.Unmapped);

    // Unmap: the last SPTE under the LPTE goes, the LPTE returns to INVALID and the SPT is freed.
    expect(nvkmUvmmUnmap(vmm, sub)).toBe(0);
    expect(lpte(soc, vmm, sub)!.kind).toBe(EntryKind.Blocked);
    expect(dualPde(soc, vmm, sub).spt).toBe(-1);
    expect(dualPde(soc, vmm, sub).lpt).toBe(lpt);
    expect(mmu.ptcCount(g.sptBytes)).toBeGreaterThanOrEqual(1);

    // Put both regions: every table is freed, the root is empty, reference counts are 0.
    nvkmVmmPut(vmm, small);
    nvkmVmmPut(vmm, big);
    expect(rootIsEmpty(soc, vmm)).toBe(true);
    expect(vmm.pd!.refs[0]).toBe(1); // the VMM's own reference (nvkm_vmm_ctor)
    expect(vmm.pd!.pde!.every((p) => p === null)).toBe(true);
    for (const b of pages) buddy.freePages(b, 0);
    // Everything not in the page-table cache is back in the buddy allocator.
    expect(mmu.ptpCount).toBe(0);
    expect(buddy.freePageCount).toBe(r.freeAtStart - mmu.ptcCachedPages);
    if (which === 'gpu_mmu') {
      // PD2, PD1, PD0, the SPT and the LPT's shared page: five 4 KiB tables cached.
      expect(mmu.ptcCount(4096)).toBe(5);
      expect(mmu.ptcCachedPages).toBe(5);
    } else {
      // One 256 KiB SPT and one 8 KiB LPT.
      expect(mmu.ptcCount(256 * 1024)).toBe(1);
      expect(mmu.ptcCount(8192)).toBe(1);
      expect(mmu.ptcCachedPages).toBe(64 + 2);
    }
  });

  test('sparse: LPTE SPARSE -> UNMAPPED (SPTEs made sparse first) -> SPARSE when the last SPTE goes', () => {
    const r = nvkmRig(which);
    const { soc, vmm, mmu, buddy } = r;
    // A sparse region of 4 large pages, mapped later with 4 KiB pages.
    const sp = vma(nvkmVmmGetLocked(vmm, false, true, true, 12, 0, 4 * LP));
    for (let i = 0; i < 4; i++) expect(lpte(soc, vmm, sp.addr + i * LP)!.kind).toBe(EntryKind.Sparse);
    expect(lpte(soc, vmm, sp.addr + 4 * LP)!.kind).toBe(EntryKind.Blocked); // outside the region

    const pages = allocPages4k(buddy, 4);
    const sub = sp.addr + LP; // the first 4 SPTEs under LPTE 1
    expect(nvkmUvmmMap(vmm, sub, 4 * K4, null, nvkmMemoryDma('host', pages))).toBe(0);
    expect(lpte(soc, vmm, sub)!.kind).toBe(EntryKind.Unmapped);
    // SPTEs of the LPTE's range that are not mapped were set SPARSE before the LPTE let go.
    for (let i = 0; i < g.sptesPerLpte; i++) {
      expect(spte(soc, vmm, sub + i * K4)!.kind).toBe(i < 4 ? EntryKind.Page : EntryKind.Sparse);
    }
    // The other LPTEs of the region are still SPARSE.
    expect(lpte(soc, vmm, sp.addr)!.kind).toBe(EntryKind.Sparse);
    expect(lpte(soc, vmm, sp.addr + 2 * LP)!.kind).toBe(EntryKind.Sparse);

    // Unmap: U -> S, and the SPT (no references left) is freed; the PDE keeps the LPT.
    expect(nvkmUvmmUnmap(vmm, sub)).toBe(0);
    expect(lpte(soc, vmm, sub)!.kind).toBe(EntryKind.Sparse);
    expect(dualPde(soc, vmm, sub).spt).toBe(-1);

    // Map again, then put the region while mapped: one walk unmaps, unsparses and frees.
    expect(nvkmUvmmMap(vmm, sub + 8 * K4, 2 * K4, null, nvkmMemoryDma('host', pages.slice(0, 2)))).toBe(0);
    expect(lpte(soc, vmm, sub)!.kind).toBe(EntryKind.Unmapped);
    nvkmVmmPut(vmm, sp);
    expect(rootIsEmpty(soc, vmm)).toBe(true);
    for (const b of pages) buddy.freePages(b, 0);
    expect(buddy.freePageCount).toBe(r.freeAtStart - mmu.ptcCachedPages);
  });

  test('an LPT created while SPTEs are referenced starts UNMAPPED over them (nvkm_vmm_ref_hwpt)', () => {
    const { soc, vmm, buddy } = nvkmRig(which);
    // 4 KiB pages first, at LPTE index 2 of the first dual PDE.
    const small = vma(nvkmVmmGet(vmm, 12, LP));
    const skip = vma(nvkmVmmGet(vmm, 12, LP)); // LPTE 1
    void skip;
    const s2 = vma(nvkmVmmGet(vmm, 12, LP)); // LPTE 2
    expect(s2.addr).toBe(VA_BASE + 2 * LP);
    const pages = allocPages4k(buddy, LP / K4);
    expect(nvkmVmmMap(vmm, s2, null, { memory: nvkmMemoryDma('host', pages) })).toBe(0);
    expect(dualPde(soc, vmm, s2.addr).lpt).toBe(-1);
    // Now a large-page region with PTEs referenced up front, in the same dual PDE.
    const big = vma(nvkmVmmGetLocked(vmm, true, false, false, g.lptShift, 0, LP));
    expect(big.addr).toBe(VA_BASE + 3 * LP);
    expect(lpte(soc, vmm, s2.addr)!.kind).toBe(EntryKind.Unmapped); // SPTEs referenced here
    expect(lpte(soc, vmm, small.addr)!.kind).toBe(EntryKind.Blocked);
    expect(lpte(soc, vmm, big.addr)!.kind).toBe(EntryKind.Blocked);
    // Unmapping the small pages hands the range back to the LPTE: INVALID.
    nvkmVmmUnmap(vmm, s2);
    expect(lpte(soc, vmm, s2.addr)!.kind).toBe(EntryKind.Blocked);
  });
});

describe('gf100 without INVALID LPTEs (chip gf100)', () => {
  test('LPTEs are zero (UNMAPPED) from the start and stay so: the MMU always falls through to the SPT', () => {
    const { soc, vmm, buddy } = nvkmRig('fermi_mmu', { chip: 'gf100' });
    const LP = 2 ** 17;
    const big = vma(nvkmVmmGetLocked(vmm, true, false, false, 17, 0, LP));
    expect(lpte(soc, vmm, big.addr)!.kind).toBe(EntryKind.Unmapped);
    const small = vma(nvkmVmmGet(vmm, 12, LP));
    const pages = allocPages4k(buddy, 2);
    expect(nvkmUvmmMap(vmm, small.addr, 2 * K4, null, nvkmMemoryDma('host', pages))).toBe(0);
    expect(lpte(soc, vmm, small.addr)!.kind).toBe(EntryKind.Unmapped);
    expect(nvkmUvmmUnmap(vmm, small.addr)).toBe(0);
    expect(lpte(soc, vmm, small.addr)!.kind).toBe(EntryKind.Unmapped);
    // No sparse support on GF100.
    expect(nvkmVmmGetLocked(vmm, false, true, true, 12, 0, LP)).toBe(-22);
  });
});
