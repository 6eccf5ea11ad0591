import { Errno } from '../../../drivers/errno';
import {
  allocIoPgtableOps, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE, iommuIotlbGatherInit, SZ_1G, SZ_2M, SZ_4K, type IoPgtableCfg,
} from '../../../drivers/iommu/ioPgtableArm';
import { armLpae4k } from '../../../sim/mmu/format/armLpae';
import { EntryKind, newDecodedEntry } from '../../../sim/mmu/format/types';
import { DATA, iommuRig, recordingFlushOps } from './rig';

const RW = IOMMU_READ | IOMMU_WRITE;

function pgtableRig(cfg: Partial<IoPgtableCfg> = {}) {
  const rig = iommuRig();
  const tlb = recordingFlushOps();
  const pgtbl = allocIoPgtableOps('ARM_64_LPAE_S1', {
    ias: 48, oas: 48, pgsizeBitmap: SZ_4K | SZ_2M | SZ_1G, kernel: rig.kernel, pages: rig.pages, tlb, ...cfg,
  })!;
  expect(pgtbl).not.toBeNull();
  return { ...rig, tlb, pgtbl };
}

/** Decodes the leaf for `va` from simulated memory the way the hardware walker would. */
function walk(rig: ReturnType<typeof pgtableRig>, va: number) {
  const w = new Uint32Array(2);
  const d = newDecodedEntry();
  let table = rig.pgtbl.pgd;
  for (let lvl = 0; lvl < 4; lvl++) {
    const level = armLpae4k.levels[3 - lvl];
    const idx = Math.floor(va / 2 ** level.shift) % 512;
    w[0] = rig.soc.physmem.read32(table + idx * 8);
    w[1] = rig.soc.physmem.read32(table + idx * 8 + 4);
    armLpae4k.decode(3 - lvl, w, d);
    if (d.kind !== EntryKind.Table) return { ...d, level: level.name };
    table = d.addr;
  }
  throw new Error('walked past L3');
}

describe('io-pgtable-arm: map', () => {
  test('a 4K page: three tables from the page allocator, the leaf as the walker reads it, iovaToPhys', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.tablePages).toBe(1);
    expect(rig.pgtbl.map(0x1234_5000, DATA + 0x7000, SZ_4K, RW)).toBe(0);
    expect(rig.pgtbl.tablePages).toBe(4);
    expect(rig.pages.inUse).toBe(4);
    expect(rig.pgtbl.iovaToPhys(0x1234_5abc)).toBe(DATA + 0x7abc);
    expect(rig.pgtbl.iovaToPhys(0x1234_6000)).toBeNull();
    expect(walk(rig, 0x1234_5000)).toMatchObject({ kind: EntryKind.Page, addr: DATA + 0x7000, pageShift: 12, readOnly: false, privileged: false, level: 'L3' });
    expect(rig.kernel.warnings).toBe(0);
  });

  test('every PTE write is a kernel store on the bus, counted by the crossbar and DRAM', () => {
    const rig = pgtableRig();
    const before = { w: rig.stat('kernel.mem_writes'), r: rig.stat('kernel.mem_reads'), x: rig.stat('soc.xbar.kernel.transactions'), d: rig.stat('soc.dram.writes') };
    expect(rig.pgtbl.map(0x4000_0000, DATA, SZ_4K, RW)).toBe(0);
    // Three new tables: each zeroed (16 stores of 256 bytes) and linked (1 store); then the leaf (1 store).
    expect(rig.stat('kernel.mem_writes') - before.w).toBe(3 * 17 + 1);
    // One load per level (L0, L1, L2 entries, then the L3 entry).
    expect(rig.stat('kernel.mem_reads') - before.r).toBe(4);
    expect(rig.stat('soc.xbar.kernel.transactions') - before.x).toBe(3 * 17 + 1 + 4);
    expect(rig.stat('soc.dram.writes') - before.d).toBe(3 * 17 + 1);
    // A neighbour in the same L3 table: one store, the leaf.
    const w1 = rig.stat('kernel.mem_writes');
    const x1 = rig.stat('soc.xbar.kernel.transactions');
    expect(rig.pgtbl.map(0x4000_1000, DATA + 0x1000, SZ_4K, RW)).toBe(0);
    expect(rig.stat('kernel.mem_writes') - w1).toBe(1);
    expect(rig.stat('soc.xbar.kernel.transactions') - x1).toBe(1 + 4);
    expect(rig.kernel.mem.timePs).toBeGreaterThan(0);
  });

  test('2M and 1G blocks need fewer tables; prot gives the AP bits (read-only, privileged)', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.map(0x4000_0000, DATA, SZ_2M, IOMMU_READ)).toBe(0);
    expect(rig.pgtbl.tablePages).toBe(3);
    expect(walk(rig, 0x4001_2345)).toMatchObject({ kind: EntryKind.Page, addr: DATA, pageShift: 21, readOnly: true, privileged: false, level: 'L2' });
    expect(rig.pgtbl.iovaToPhys(0x4001_2345)).toBe(DATA + 0x1_2345);
    expect(rig.pgtbl.map(0x80_0000_0000, 0x8000_0000, SZ_1G, RW | IOMMU_PRIV)).toBe(0);
    expect(walk(rig, 0x80_1234_5678)).toMatchObject({ pageShift: 30, addr: 0x8000_0000, readOnly: false, privileged: true, level: 'L1' });
    // Write-only is not read-only (arm_lpae_prot_to_pte sets RDONLY only for READ without WRITE).
    expect(rig.pgtbl.map(0x1000, DATA, SZ_4K, IOMMU_WRITE)).toBe(0);
    expect(walk(rig, 0x1000)).toMatchObject({ readOnly: false });
  });

  test('-EEXIST over an existing leaf, and for a page under an existing block (with a WARN)', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.map(0x10_0000, DATA, SZ_4K, RW)).toBe(0);
    expect(rig.pgtbl.map(0x10_0000, DATA + 0x1000, SZ_4K, RW)).toBe(-Errno.EEXIST);
    expect(rig.pgtbl.iovaToPhys(0x10_0000)).toBe(DATA); // unchanged
    expect(rig.pgtbl.map(0x4000_0000, DATA, SZ_2M, RW)).toBe(0); // a fresh block
    expect(rig.pgtbl.map(0x4000_3000, DATA + 0x3000, SZ_4K, RW)).toBe(-Errno.EEXIST);
    expect(rig.pgtbl.map(0x4000_0000, DATA, SZ_2M, RW)).toBe(-Errno.EEXIST);
    expect(rig.kernel.warnings).toBe(3);
    expect(rig.kernel.messages('io-pgtable', 'warn').join('\n')).toMatch(/we require an unmap first/);
  });

  test('-EINVAL for a size that is not exactly one supported page size, for no access, and for misalignment', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.map(0, DATA, 2 * SZ_4K, RW)).toBe(-Errno.EINVAL);
    expect(rig.pgtbl.map(0, DATA, SZ_4K | SZ_2M, RW)).toBe(-Errno.EINVAL);
    expect(rig.pgtbl.map(0, DATA, 0, RW)).toBe(-Errno.EINVAL);
    expect(rig.pgtbl.map(0, DATA, 2 * SZ_1G, RW)).toBe(-Errno.EINVAL);
    expect(rig.pgtbl.map(0, DATA, SZ_4K, 0)).toBe(-Errno.EINVAL);
    expect(rig.pgtbl.map(0, DATA, SZ_4K, IOMMU_PRIV)).toBe(-Errno.EINVAL);
    expect(rig.pgtbl.map(0x1000, DATA, SZ_2M, RW)).toBe(-Errno.EINVAL);
    expect(rig.pgtbl.map(0x20_0000, DATA + 0x1000, SZ_2M, RW)).toBe(-Errno.EINVAL);
    expect(rig.pgtbl.tablePages).toBe(1); // nothing allocated on the way
    // A page table restricted to 4K pages refuses 2M.
    const small = pgtableRig({ pgsizeBitmap: SZ_4K });
    expect(small.pgtbl.pgsizeBitmap).toBe(SZ_4K);
    expect(small.pgtbl.map(0x20_0000, DATA, SZ_2M, RW)).toBe(-Errno.EINVAL);
  });

  test('-ERANGE for an IOVA beyond ias or a PA beyond oas', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.map(2 ** 48, DATA, SZ_4K, RW)).toBe(-Errno.ERANGE);
    expect(rig.pgtbl.map(2 ** 48 - SZ_4K, DATA, SZ_4K, RW)).toBe(0);
    expect(rig.pgtbl.map(0, 2 ** 48, SZ_4K, RW)).toBe(-Errno.ERANGE);
    const narrow = pgtableRig({ ias: 32, oas: 40 });
    expect(narrow.pgtbl.map(2 ** 32, DATA, SZ_4K, RW)).toBe(-Errno.ERANGE);
    expect(narrow.pgtbl.map(2 ** 32 - SZ_4K, DATA, SZ_4K, RW)).toBe(0);
    expect(narrow.pgtbl.map(0, 2 ** 40, SZ_4K, RW)).toBe(-Errno.ERANGE);
    expect(narrow.pgtbl.iovaToPhys(2 ** 32)).toBeNull();
  });

  test('a block over a TABLE: the walks are flushed, the table is freed back to the allocator, the block replaces it', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.map(0x4000_5000, DATA + 0x5000, SZ_4K, RW)).toBe(0);
    const l3 = rig.pages.allocs[rig.pages.allocs.length - 1];
    const freeBefore = rig.buddy.freePageCount;
    expect(rig.pgtbl.map(0x4000_0000, DATA + 0x40_0000, SZ_2M, RW)).toBe(0);
    expect(rig.pages.frees).toEqual([l3]);
    expect(rig.buddy.freePageCount).toBe(freeBefore + 1);
    expect(rig.pgtbl.tablePages).toBe(3);
    expect(rig.tlb.calls).toEqual([{ op: 'walk', iova: 0x4000_0000, size: SZ_2M, gathered: false }]);
    // The old 4K mapping went with its table (Linux frees the sub-tree, mappings and all).
    expect(rig.pgtbl.iovaToPhys(0x4000_5000)).toBe(DATA + 0x40_5000);
    expect(walk(rig, 0x4000_5000)).toMatchObject({ pageShift: 21, level: 'L2' });
  });

  test('a 1G block over a table with tables below frees the whole sub-tree', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.map(0x4000_0000, DATA, SZ_4K, RW)).toBe(0);
    expect(rig.pgtbl.map(0x4020_0000, DATA, SZ_4K, RW)).toBe(0); // a second L3 table under the same L2
    expect(rig.pgtbl.tablePages).toBe(5);
    expect(rig.pgtbl.map(0x4000_0000, 0x8000_0000, SZ_1G, RW)).toBe(0);
    expect(rig.pgtbl.tablePages).toBe(2); // root + L1
    expect(rig.pages.frees).toHaveLength(3); // L2 and both L3s
    expect(rig.pages.inUse).toBe(2);
  });
});

describe('io-pgtable-arm: unmap', () => {
  test('returns the size unmapped; 0 (and a WARN) where nothing is mapped; tables stay (as in Linux)', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.map(0x10_0000, DATA, SZ_4K, RW)).toBe(0);
    const gather = iommuIotlbGatherInit();
    expect(rig.pgtbl.unmap(0x10_0000, SZ_4K, gather)).toBe(SZ_4K);
    expect(rig.tlb.calls).toEqual([{ op: 'page', iova: 0x10_0000, size: SZ_4K, gathered: true }]);
    expect(rig.pgtbl.iovaToPhys(0x10_0000)).toBeNull();
    expect(walk(rig, 0x10_0000)).toMatchObject({ kind: EntryKind.Unmapped, level: 'L3' });
    expect(rig.pgtbl.tablePages).toBe(4); // empty tables are not freed
    expect(rig.kernel.warnings).toBe(0);
    expect(rig.pgtbl.unmap(0x10_0000, SZ_4K)).toBe(0);
    expect(rig.pgtbl.unmap(0x7000_0000, SZ_4K)).toBe(0);
    expect(rig.kernel.warnings).toBe(2);
  });

  test('unmapping 4K of a 2M block splits it: a new table maps the rest with the block attributes', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.map(0x4000_0000, DATA, SZ_2M, IOMMU_READ)).toBe(0);
    expect(rig.pgtbl.unmap(0x4000_3000, SZ_4K, iommuIotlbGatherInit())).toBe(SZ_4K);
    expect(rig.pgtbl.tablePages).toBe(4);
    expect(rig.pgtbl.iovaToPhys(0x4000_3000)).toBeNull();
    expect(rig.pgtbl.iovaToPhys(0x4000_2fff)).toBe(DATA + 0x2fff);
    expect(rig.pgtbl.iovaToPhys(0x4000_4000)).toBe(DATA + 0x4000);
    expect(rig.pgtbl.iovaToPhys(0x401f_f000)).toBe(DATA + 0x1f_f000);
    expect(walk(rig, 0x4000_4000)).toMatchObject({ pageShift: 12, readOnly: true, level: 'L3' });
    expect(rig.tlb.calls).toEqual([{ op: 'page', iova: 0x4000_3000, size: SZ_4K, gathered: true }]);
  });

  test('unmapping 4K of a 1G block splits twice (1G → 2M blocks → 4K pages)', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.map(0x4000_0000, 0x8000_0000, SZ_1G, RW)).toBe(0);
    expect(rig.pgtbl.unmap(0x4060_1000, SZ_4K, iommuIotlbGatherInit())).toBe(SZ_4K);
    expect(rig.pgtbl.tablePages).toBe(4);
    expect(rig.pgtbl.iovaToPhys(0x4060_1000)).toBeNull();
    expect(rig.pgtbl.iovaToPhys(0x4060_2000)).toBe(0x8060_2000);
    expect(walk(rig, 0x4000_0000)).toMatchObject({ pageShift: 21, level: 'L2' });
    expect(walk(rig, 0x4060_0000)).toMatchObject({ pageShift: 12, level: 'L3' });
  });

  test('a table-sized unmap over 4K pages clears the table entry, flushes the walk and frees the table', () => {
    const rig = pgtableRig();
    for (let i = 0; i < 4; i++) expect(rig.pgtbl.map(0x4000_0000 + i * SZ_4K, DATA + i * SZ_4K, SZ_4K, RW)).toBe(0);
    const l3 = rig.pages.allocs[3];
    expect(rig.pgtbl.unmap(0x4000_0000, SZ_2M, iommuIotlbGatherInit())).toBe(SZ_2M);
    expect(rig.pages.frees).toEqual([l3]);
    expect(rig.tlb.calls).toEqual([{ op: 'walk', iova: 0x4000_0000, size: SZ_2M, gathered: false }]);
    expect(rig.pgtbl.iovaToPhys(0x4000_1000)).toBeNull();
  });

  test('mapPages/unmapPages handle runs, stopping at the end of a table', () => {
    const rig = pgtableRig();
    const mapped = { bytes: 0 };
    // 600 pages from index 500 of an L3 table: only 12 fit before its end.
    expect(rig.pgtbl.mapPages(0x4000_0000 + 500 * SZ_4K, DATA, SZ_4K, 600, RW, mapped)).toBe(0);
    expect(mapped.bytes).toBe(12 * SZ_4K);
    expect(rig.pgtbl.iovaToPhys(0x4000_0000 + 511 * SZ_4K)).toBe(DATA + 11 * SZ_4K);
    expect(rig.pgtbl.iovaToPhys(0x4000_0000 + 512 * SZ_4K)).toBeNull();
    const gather = iommuIotlbGatherInit();
    expect(rig.pgtbl.unmapPages(0x4000_0000 + 500 * SZ_4K, SZ_4K, 12, gather)).toBe(12 * SZ_4K);
    expect(rig.tlb.calls.filter((c) => c.op === 'page')).toHaveLength(12);
    // A run that meets a hole stops there (WARN) and reports what it did.
    expect(rig.pgtbl.mapPages(0x5000_0000, DATA, SZ_4K, 3, RW, { bytes: 0 })).toBe(0);
    expect(rig.pgtbl.unmapPages(0x5000_0000, SZ_4K, 5, gather)).toBe(3 * SZ_4K);
    expect(rig.kernel.warnings).toBe(1);
  });
});

describe('io-pgtable-arm: lookup, allocation failure, teardown', () => {
  test('iovaToPhys returns null for unmapped and 0 for a mapping of physical address 0', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.iovaToPhys(0x1000)).toBeNull();
    expect(rig.pgtbl.map(0x1000, 0, SZ_4K, RW)).toBe(0);
    expect(rig.pgtbl.iovaToPhys(0x1000)).toBe(0);
  });

  test('-ENOMEM when a table page cannot be allocated; split fails with 0 bytes unmapped', () => {
    const rig = pgtableRig();
    expect(rig.pgtbl.map(0x4000_0000, DATA, SZ_2M, RW)).toBe(0);
    rig.pages.failFrom = rig.pages.allocs.length + 1;
    expect(rig.pgtbl.map(0x8000_0000, DATA, SZ_4K, RW)).toBe(-Errno.ENOMEM);
    expect(rig.pgtbl.unmap(0x4000_1000, SZ_4K)).toBe(0);
    expect(rig.pgtbl.iovaToPhys(0x4000_1000)).toBe(DATA + 0x1000); // the block is intact
  });

  test('allocIoPgtableOps refuses what the model cannot build', () => {
    const rig = iommuRig();
    const base = { ias: 48, oas: 48, pgsizeBitmap: SZ_4K, kernel: rig.kernel, pages: rig.pages };
    expect(allocIoPgtableOps('ARM_64_LPAE_S1', { ...base, ias: 52 })).toBeNull();
    expect(allocIoPgtableOps('ARM_64_LPAE_S1', { ...base, oas: 52 })).toBeNull();
    expect(allocIoPgtableOps('ARM_64_LPAE_S1', { ...base, pgsizeBitmap: SZ_2M })).toBeNull();
    rig.pages.failFrom = 1;
    expect(allocIoPgtableOps('ARM_64_LPAE_S1', base)).toBeNull();
    rig.pages.failFrom = null;
    const p = allocIoPgtableOps('ARM_64_LPAE_S1', { ...base, pgsizeBitmap: SZ_4K | SZ_2M | 0x1_0000 })!;
    expect(p.pgsizeBitmap).toBe(SZ_4K | SZ_2M);
  });

  test('free() flushes everything, then returns every table page, the root included', () => {
    const rig = pgtableRig();
    const freeAtStart = rig.buddy.freePageCount + 1; // the root is already allocated
    rig.pgtbl.map(0x4000_0000, DATA, SZ_4K, RW);
    rig.pgtbl.map(0x80_0000_0000, DATA, SZ_2M, RW);
    rig.pgtbl.free();
    expect(rig.buddy.freePageCount).toBe(freeAtStart);
    expect(rig.pages.inUse).toBe(0);
    expect(rig.tlb.calls[0]).toMatchObject({ op: 'all' });
    expect(() => rig.pgtbl.map(0, DATA, SZ_4K, RW)).toThrow(/used after free/);
  });
});
