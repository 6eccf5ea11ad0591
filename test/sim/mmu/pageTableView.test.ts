/**
 * The page-table inspector (issue 13) on tables the kernel drivers built in simulated
 * memory: io-pgtable-arm (arm-lpae-4k) and the nvkm VMM (nv-gp100, nv-gf100 dual tables).
 * Runs, holes, PA breaks, mixed page sizes, sparse ranges and per-level occupancy are
 * checked against what was mapped; the inspector must not change a stat.
 */
import { allocIoPgtableOps, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE, SZ_1G, SZ_2M, SZ_4K } from '../../../drivers/iommu/ioPgtableArm';
import { nvkmMemoryContig, nvkmUvmmMap, nvkmVmmGetLocked, nvkmVmmMap, type NvkmVma } from '../../../drivers/iommu/nvkm';
import { armLpae4k } from '../../../sim/mmu/format/armLpae';
import { Aperture, PageFlag } from '../../../sim/mmu/format/types';
import { FORMAT_NAMES, getFormat } from '../../../sim/mmu/format';
import { PageTableBuilder } from '../../../sim/mmu/pageTableBuilder';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import { Rng } from '../../../sim/engine/rng';
import { inspectPageTables, type MappedRun } from '../../../sim/mmu/pageTableView';
import { DATA, iommuRig, recordingFlushOps } from '../../drivers/iommu/rig';
import { GPU, nvkmRig, VA_BASE, type GpuMmuName } from '../../drivers/nvkm/nvkmRig';
import { DRAM_BASE } from '../../helpers/kernelRig';

const RW = IOMMU_READ | IOMMU_WRITE;
const K4 = 4096;

function lpaeRig() {
  const rig = iommuRig();
  const pgtbl = allocIoPgtableOps('ARM_64_LPAE_S1', {
    ias: 48, oas: 48, pgsizeBitmap: SZ_4K | SZ_2M | SZ_1G, kernel: rig.kernel, pages: rig.pages, tlb: recordingFlushOps(),
  })!;
  const view = (maxRuns?: number) => inspectPageTables(rig.soc.physmem, armLpae4k, pgtbl.pgd, { maxRuns });
  return { ...rig, pgtbl, view };
}

/** `pages` pages of `size` at va → pa; like iommu_map, calls map_pages again where it stopped (at a table's end). */
function mapRange(pgtbl: ReturnType<typeof lpaeRig>['pgtbl'], va: number, pa: number, size: number, pages: number, prot = RW): void {
  for (let done = 0; done < pages * size; ) {
    const mapped = { bytes: 0 };
    expect(pgtbl.mapPages(va + done, pa + done, size, pages - done / size, prot, mapped)).toBe(0);
    expect(mapped.bytes).toBeGreaterThan(0);
    done += mapped.bytes;
  }
}

const run = (va: number, pa: number, pageShift: number, pages: number, extra: Partial<MappedRun> = {}): MappedRun =>
  ({ va, pa, pageShift, pages, readOnly: false, privileged: false, volatile: false, aperture: Aperture.Vram, ...extra });

describe('inspector on io-pgtable-arm tables (arm-lpae-4k)', () => {
  test('contiguous pages collapse to one run; a hole, a PA break and a permission change each split it', () => {
    const r = lpaeRig();
    const va = 0x4000_0000;
    mapRange(r.pgtbl, va, DATA, SZ_4K, 16);
    expect(r.view().runs).toEqual([run(va, DATA, 12, 16)]);

    // A hole: page 5 unmapped.
    expect(r.pgtbl.unmap(va + 5 * K4, SZ_4K, null)).toBe(SZ_4K);
    expect(r.view().runs).toEqual([run(va, DATA, 12, 5), run(va + 6 * K4, DATA + 6 * K4, 12, 10)]);

    // VA continues after page 15, PA jumps by 1 MiB: a new run.
    mapRange(r.pgtbl, va + 16 * K4, DATA + 0x10_0000, SZ_4K, 4);
    // Then read-only, privileged pages that continue both VA and PA: split by attributes.
    mapRange(r.pgtbl, va + 20 * K4, DATA + 0x10_0000 + 4 * K4, SZ_4K, 2, IOMMU_READ | IOMMU_PRIV);
    const v = r.view();
    expect(v.runs).toEqual([
      run(va, DATA, 12, 5),
      run(va + 6 * K4, DATA + 6 * K4, 12, 10),
      run(va + 16 * K4, DATA + 0x10_0000, 12, 4),
      run(va + 20 * K4, DATA + 0x10_0000 + 4 * K4, 12, 2, { readOnly: true, privileged: true }),
    ]);
    expect(v.runCount).toBe(4);
    expect(v.pageSizes).toEqual([{ pageShift: 12, pages: 5 + 10 + 4 + 2, bytes: 21 * K4 }]);
    expect(v.mappedBytes).toBe(21 * K4);
    // Every page of every run translates as the driver says.
    for (const x of v.runs) for (let k = 0; k < x.pages; k++) expect(r.pgtbl.iovaToPhys(x.va + k * K4 + 0x123)).toBe(x.pa + k * K4 + 0x123);
  });

  test('4 KiB pages and 2 MiB blocks: separate runs by page size, blocks collapse, totals per size', () => {
    const r = lpaeRig();
    const base = 0x8000_0000;
    // 3 blocks VA- and PA-contiguous, then 8 pages continuing both VA and PA: two runs.
    mapRange(r.pgtbl, base, DRAM_BASE + 0x2000_0000, SZ_2M, 3);
    mapRange(r.pgtbl, base + 3 * SZ_2M, DRAM_BASE + 0x2000_0000 + 3 * SZ_2M, SZ_4K, 8);
    const v = r.view();
    expect(v.runs).toEqual([run(base, DRAM_BASE + 0x2000_0000, 21, 3), run(base + 3 * SZ_2M, DRAM_BASE + 0x2000_0000 + 3 * SZ_2M, 12, 8)]);
    expect(v.pageSizes).toEqual([{ pageShift: 12, pages: 8, bytes: 8 * K4 }, { pageShift: 21, pages: 3, bytes: 3 * SZ_2M }]);
    expect(v.mappedBytes).toBe(3 * SZ_2M + 8 * K4);
  });

  test('occupancy per level against the closed form for n pages from an L3-table boundary plus one block', () => {
    const r = lpaeRig();
    const n = 1000;
    const base = 0x4000_0000; // L1 index 1, L2 index 0: 2 MiB aligned
    mapRange(r.pgtbl, base, DATA, SZ_4K, n);
    mapRange(r.pgtbl, base + 0x4000_0000, DATA + 0x40_0000, SZ_2M, 1); // another L1 entry → its own L2 table, one block
    const tablesL3 = Math.ceil(n / 512);
    const v = r.view();
    expect(v.levels.map((l) => l.level)).toEqual(['L0', 'L1', 'L2', 'L3']);
    const [l0, l1, l2, l3] = v.levels;
    expect(l0).toMatchObject({ tables: 1, validEntries: 1, entriesPerTable: 512, tableBytes: 4096 });
    expect(l1).toMatchObject({ tables: 1, validEntries: 2, validPerTable: { min: 2, mean: 2, max: 2 } });
    // Two L2 tables: one pointing at the L3 tables, one holding the block.
    expect(l2).toMatchObject({ tables: 2, validEntries: tablesL3 + 1, validPerTable: { min: 1, mean: (tablesL3 + 1) / 2, max: tablesL3 } });
    expect(l3).toMatchObject({ tables: tablesL3, validEntries: n, validPerTable: { min: n - 512 * (tablesL3 - 1), mean: n / tablesL3, max: 512 } });
    expect(v.levels.every((l) => l.sparseEntries === 0 && l.blockedEntries === 0)).toBe(true);
    // The driver's own count of table pages agrees.
    expect(v.levels.reduce((a, l) => a + l.tables, 0)).toBe(r.pgtbl.tablePages);
  });

  test('maxRuns lists the first runs and counts the rest; totals cover every page', () => {
    const r = lpaeRig();
    // 30 single pages with a hole after each: 30 runs.
    for (let i = 0; i < 30; i++) mapRange(r.pgtbl, 0x1000_0000 + 2 * i * K4, DATA + 2 * i * K4, SZ_4K, 1);
    const v = r.view(10);
    expect(v.runs).toHaveLength(10);
    expect(v.runs[9].va).toBe(0x1000_0000 + 18 * K4);
    expect(v.runCount).toBe(30);
    expect(v.mappedBytes).toBe(30 * K4);
  });

  test('reading the tables changes no stat and does not touch memory through the bus', () => {
    const r = lpaeRig();
    mapRange(r.pgtbl, 0x4000_0000, DATA, SZ_4K, 600);
    mapRange(r.pgtbl, 0x8000_0000, DATA, SZ_2M, 2);
    const before = JSON.stringify(r.soc.ctx.stats.dump());
    const events = r.soc.ctx.engine.eventsDispatched;
    const v = r.view();
    expect(v.mappedBytes).toBe(600 * K4 + 2 * SZ_2M);
    expect(JSON.stringify(r.soc.ctx.stats.dump())).toBe(before);
    expect(r.soc.ctx.engine.eventsDispatched).toBe(events);
  });
});

describe.each(['gpu_mmu', 'fermi_mmu'] as GpuMmuName[])('inspector on nvkm dual tables (%s)', (which) => {
  const g = GPU[which];
  const LP = 2 ** g.lptShift;

  function vma(v: NvkmVma | number): NvkmVma {
    if (typeof v === 'number') throw new Error(`expected a VMA, got ${v}`);
    return v;
  }

  test('large pages from the LPT, small pages from the SPT under unmapped LPTEs, invalid LPTEs map nothing', () => {
    const r = nvkmRig(which);
    const f = r.vmm.iommu.format;
    // Two large pages of VRAM, then (in the same dual PDE) 4 KiB pages of host memory.
    const big = vma(nvkmVmmGetLocked(r.vmm, false, true, false, g.lptShift, 0, 2 * LP));
    const lpa = DRAM_BASE + 0x1000_0000; // aligned to any LP
    expect(nvkmVmmMap(r.vmm, big, null, { memory: nvkmMemoryContig('vram', lpa, 2 * LP, g.lptShift), offset: 0 })).toBe(0);
    const small = vma(nvkmVmmGetLocked(r.vmm, false, true, false, 12, 0, LP));
    expect(small.addr).toBe(VA_BASE + 2 * LP);
    const spa = DRAM_BASE + 0x1800_0000;
    expect(nvkmUvmmMap(r.vmm, small.addr + 3 * K4, 5 * K4, null, nvkmMemoryContig('host', spa, 5 * K4, 12))).toBe(0);

    const v = inspectPageTables(r.soc.physmem, f, r.vmm.pdAddr);
    expect(v.runs).toEqual([
      run(VA_BASE, lpa, g.lptShift, 2),
      run(small.addr + 3 * K4, spa, 12, 5, { aperture: Aperture.Host, volatile: true }),
    ]);
    expect(v.pageSizes).toEqual([{ pageShift: 12, pages: 5, bytes: 5 * K4 }, { pageShift: g.lptShift, pages: 2, bytes: 2 * LP }]);
    const lpt = v.levels.find((l) => l.level === 'LPT')!;
    const spt = v.levels.find((l) => l.level === 'SPT')!;
    expect(lpt).toMatchObject({ tables: 1, validEntries: 2, entriesPerTable: 2 ** f.levels[f.largeLeaf].indexBits });
    // Every other LPTE is "invalid" (Blocked) except the one handing its range to the SPT: no mapping from them.
    expect(lpt.blockedEntries).toBe(lpt.entriesPerTable - 3);
    expect(spt).toMatchObject({ tables: 1, validEntries: 5, validPerTable: { min: 5, mean: 5, max: 5 } });
    // The dual PDE is one valid entry of the level above the leaves.
    expect(v.levels[v.levels.length - 3]).toMatchObject({ validEntries: 1 });
    expect(v.sparseRunCount).toBe(0);
  });

  if (which === 'gpu_mmu') {
    test('sparse LPTEs and SPTEs are sparse ranges, not mappings; adjacent sparse entries of both sizes merge', () => {
      const r = nvkmRig(which);
      const f = r.vmm.iommu.format;
      const sp = vma(nvkmVmmGetLocked(r.vmm, false, true, true, 12, 0, 4 * LP));
      const sub = sp.addr + LP; // under LPTE 1
      const pa = DRAM_BASE + 0x1800_0000;
      expect(nvkmUvmmMap(r.vmm, sub, 4 * K4, null, nvkmMemoryContig('host', pa, 4 * K4, 12))).toBe(0);
      const v = inspectPageTables(r.soc.physmem, f, r.vmm.pdAddr);
      expect(v.runs).toEqual([run(sub, pa, 12, 4, { aperture: Aperture.Host, volatile: true })]);
      // LPTE 0 sparse; then SPTEs 4..15 of LPTE 1 and LPTEs 2, 3 sparse: one range.
      expect(v.sparse).toEqual([
        { va: sp.addr, bytes: LP, entries: 1 },
        { va: sub + 4 * K4, bytes: (g.sptesPerLpte - 4) * K4 + 2 * LP, entries: g.sptesPerLpte - 4 + 2 },
      ]);
      expect(v.sparseBytes).toBe(4 * LP - 4 * K4);
      expect(v.mappedBytes).toBe(4 * K4);
      const lpt = v.levels.find((l) => l.level === 'LPT')!;
      expect(lpt).toMatchObject({ validEntries: 0, sparseEntries: 3 });
      // The LPT's other entries are "invalid" (Blocked): no mapping, counted apart.
      expect(lpt.blockedEntries).toBe(lpt.entriesPerTable - 4);
      expect(v.levels.find((l) => l.level === 'SPT')).toMatchObject({ validEntries: 4, sparseEntries: g.sptesPerLpte - 4 });
    });
  }
});

describe('inspector on every bundled format (hand-built tables, checked against the reference walk)', () => {
  // Formats added later (other granules) join this loop through FORMATS without changes here.
  test.each(FORMAT_NAMES.map((n) => [n]))('%s: every mapped page shows up once, at its PA, with its size', (name) => {
    const f = getFormat(name);
    const mem = new PhysicalMemory();
    const b = new PageTableBuilder(mem, f, 0x1000_0000);
    const rng = new Rng(7);
    // Page sizes that map memory (not sparse-only directory sizes), smallest first.
    const sizes = f.pageSizes.filter((p) => (p.flags & (PageFlag.VRAM | PageFlag.HOST)) !== 0).map((p) => p.shift).sort((a, b) => a - b);
    const mapped = new Map<number, number>(); // va → pa, per page
    let vaNext = 2 ** 32;
    for (let i = 0; i < 40; i++) {
      const shift = sizes[rng.nextInt(sizes.length)];
      const size = 2 ** shift;
      // Each group starts on a largest-page boundary: no page sizes mixed under one LPTE.
      vaNext = Math.ceil(vaNext / 2 ** sizes[sizes.length - 1]) * 2 ** sizes[sizes.length - 1];
      const count = 1 + rng.nextInt(3);
      // Half the groups continue their PA; the others jump.
      let pa = (i + 1) * 4 * 2 ** sizes[sizes.length - 1];
      for (let k = 0; k < count; k++) {
        b.map(vaNext, pa, shift, { readOnly: i % 3 === 0 });
        mapped.set(vaNext, pa);
        vaNext += size;
        pa += k === 0 && i % 2 === 1 ? 2 * size : size;
      }
      vaNext += size * rng.nextInt(2); // sometimes a hole
    }
    const v = inspectPageTables(mem, f, b.root);
    let pages = 0;
    for (const r of v.runs) {
      const size = 2 ** r.pageShift;
      for (let k = 0; k < r.pages; k++) {
        const t = b.translate(r.va + k * size);
        expect([r.va + k * size, t.kind, t.pa, t.pageShift, t.readOnly]).toEqual([r.va + k * size, 'page', r.pa + k * size, r.pageShift, r.readOnly]);
        expect(mapped.get(r.va + k * size)).toBe(r.pa + k * size);
      }
      pages += r.pages;
    }
    expect(pages).toBe(mapped.size);
    expect(v.pageSizes.reduce((a, p) => a + p.pages, 0)).toBe(mapped.size);
    // Runs are maximal: no run continues the previous one in VA, PA, size and attributes.
    for (let i = 1; i < v.runs.length; i++) {
      const p = v.runs[i - 1], r = v.runs[i];
      const end = p.pages * 2 ** p.pageShift;
      expect(p.va + end === r.va && p.pa + end === r.pa && p.pageShift === r.pageShift && p.readOnly === r.readOnly).toBe(false);
    }
    expect(v.runs.length).toBeLessThan(mapped.size);
  });
});
