/**
 * io-pgtable-arm with the 16 KiB and 64 KiB granules (issue 17): Linux's selftest
 * (arm_lpae_run_tests / arm_lpae_do_selftests, ARM_64_LPAE_S1) for every granule and
 * address-size pair, arm_lpae_restrict_pgsizes, the errors of map, and tables the walker
 * reads.
 */
import { Errno } from '../../../drivers/errno';
import {
  allocIoPgtableOps, armLpaeGranuleOf, IOMMU_CACHE, IOMMU_NOEXEC, IOMMU_READ, IOMMU_WRITE, iommuIotlbGatherInit,
  SZ_16K, SZ_1G, SZ_2M, SZ_32M, SZ_4K, SZ_512M, SZ_64K, type IoPgtableArm, type IoPgtableCfg, type IommuFlushOps,
} from '../../../drivers/iommu/ioPgtableArm';
import { IommuDomain } from '../../../drivers/iommu/iommuDomain';
import { VcmIommuDriver } from '../../../drivers/iommu/vcmIommuDriver';
import { KernelError } from '../../../drivers/errno';
import { armLpae16k, armLpae4k, armLpae64k } from '../../../sim/mmu/format/armLpae';
import { EntryKind, newDecodedEntry, levelIndex, type PageTableFormat } from '../../../sim/mmu/format/types';
import { BuddyAllocator } from '../../../drivers/mm/buddy';
import { DRAM_BASE, DRAM_SIZE, kernelRig } from '../../helpers/kernelRig';
import { DATA, iommuRig } from './rig';

const RW = IOMMU_READ | IOMMU_WRITE;
const SZ_2G = 2 * SZ_1G;

/** The selftest's dummy_tlb_ops: counts WARN_ON(!(size & cfg->pgsize_bitmap)). */
function dummyTlb(bitmap: () => number): IommuFlushOps & { bad: number } {
  const t = {
    bad: 0,
    tlbFlushAll: () => {},
    tlbFlushWalk: (_iova: number, size: number) => { if ((size & bitmap()) === 0) t.bad++; },
    tlbAddPage: (_g: unknown, _iova: number, granule: number) => { if ((granule & bitmap()) === 0) t.bad++; },
  };
  return t;
}

/** Set bits of a bitmap below 2^31, lowest first (for_each_set_bit). */
function sizesOf(bitmap: number): number[] {
  const out: number[] = [];
  for (let s = 1; s <= SZ_1G; s *= 2) if ((bitmap & s) !== 0) out.push(s);
  return out;
}

/**
 * arm_lpae_run_tests for ARM_64_LPAE_S1: returns the name of the first failed check, or
 * null. A map "fails" when it returns non-zero; iova_to_phys's "0" is null here.
 */
function runSelftest(ops: IoPgtableArm): string | null {
  const mapped = { bytes: 0 };
  for (const iova of [42, SZ_1G + 42, SZ_2G + 42]) if (ops.iovaToPhys(iova) !== null) return `empty table translates ${iova}`;
  const sizes = sizesOf(ops.pgsizeBitmap);
  let iova = 0;
  for (const size of sizes) {
    if (ops.mapPages(iova, iova, size, 1, RW | IOMMU_NOEXEC | IOMMU_CACHE, mapped) !== 0) return `map ${size} at ${iova}`;
    // Overlapping mappings
    if (ops.mapPages(iova, iova + size, size, 1, IOMMU_READ | IOMMU_NOEXEC, mapped) === 0) return `overlapping map ${size} at ${iova}`;
    if (ops.iovaToPhys(iova + 42) !== iova + 42) return `iova_to_phys after map ${size}`;
    iova += SZ_1G;
  }
  // Partial unmap
  const size = sizes[0];
  if (ops.unmapPages(SZ_1G + size, size, 1, null) !== size) return 'partial unmap';
  // Remap of partial unmap
  if (ops.mapPages(SZ_1G + size, size, size, 1, IOMMU_READ, mapped) !== 0) return 'remap of partial unmap';
  if (ops.iovaToPhys(SZ_1G + size + 42) !== size + 42) return 'iova_to_phys after remap';
  // Full unmap
  iova = 0;
  for (const s of sizes) {
    if (ops.unmapPages(iova, s, 1, null) !== s) return `full unmap ${s}`;
    if (ops.iovaToPhys(iova + 42) !== null) return `iova_to_phys after unmap ${s}`;
    // Remap full block
    if (ops.mapPages(iova, iova, s, 1, IOMMU_WRITE, mapped) !== 0) return `remap full block ${s}`;
    if (ops.iovaToPhys(iova + 42) !== iova + 42) return `iova_to_phys after remap ${s}`;
    iova += SZ_1G;
  }
  return null;
}

const PGSIZES = [SZ_4K | SZ_2M | SZ_1G, SZ_16K | SZ_32M, SZ_64K | SZ_512M];
const ADDRESS_SIZES = [32, 36, 40, 42, 44, 48];
/** Every (ias, oas) pair with ias <= oas: 21 per granule. */
const PAIRS: [number, number][] = ADDRESS_SIZES.flatMap((oas, j) => ADDRESS_SIZES.slice(0, j + 1).map((ias): [number, number] => [ias, oas]));

describe('Linux io-pgtable selftest, ARM_64_LPAE_S1', () => {
  test.each(PGSIZES.map((p) => [p]))('pgsize_bitmap %#x: all 21 (ias, oas) pairs pass, every table page freed, no WARN', (pgsize) => {
    expect(PAIRS).toHaveLength(21);
    const rig = iommuRig();
    const free0 = rig.buddy.freePageCount;
    let pass = 0;
    const failures: string[] = [];
    for (const [ias, oas] of PAIRS) {
      const cfgHolder = { bitmap: pgsize };
      const tlb = dummyTlb(() => cfgHolder.bitmap);
      const ops = allocIoPgtableOps('ARM_64_LPAE_S1', { ias, oas, pgsizeBitmap: pgsize, kernel: rig.kernel, pages: rig.pages, tlb });
      if (ops === null) {
        failures.push(`ias ${ias} oas ${oas}: NULL`);
        continue;
      }
      cfgHolder.bitmap = ops.pgsizeBitmap;
      const why = runSelftest(ops);
      ops.free();
      if (why === null && tlb.bad === 0) pass++;
      else failures.push(`ias ${ias} oas ${oas}: ${why ?? `${tlb.bad} flushes of sizes outside the bitmap`}`);
    }
    expect(failures).toEqual([]);
    expect(pass).toBe(21);
    expect(rig.buddy.freePageCount).toBe(free0);
    // The overlapping maps WARN (-EEXIST, "we require an unmap first"); nothing else does.
    const warns = rig.kernel.messages('io-pgtable', 'warn');
    expect(warns).toHaveLength(21 * sizesOf(pgsize).length);
    expect(warns.every((m) => /already mapped/.test(m))).toBe(true);
  });
});

describe('arm_lpae_restrict_pgsizes', () => {
  test.each([
    [SZ_4K | SZ_2M | SZ_1G, SZ_4K, SZ_4K | SZ_2M | SZ_1G, armLpae4k.name],
    [SZ_4K | SZ_64K | SZ_512M, SZ_4K, SZ_4K, armLpae4k.name], // PAGE_SIZE (4 KiB) preferred
    [SZ_16K | SZ_32M | SZ_1G | SZ_2M, SZ_16K, SZ_16K | SZ_32M, armLpae16k.name],
    [SZ_16K | SZ_64K, SZ_16K, SZ_16K, armLpae16k.name], // the smallest above PAGE_SIZE
    [SZ_64K | SZ_512M | SZ_2M, SZ_64K, SZ_64K | SZ_512M, armLpae64k.name],
  ])('bitmap %#x: granule %#x, restricted to %#x, tables of %s', (bitmap, granule, restricted, format) => {
    const rig = iommuRig();
    expect(armLpaeGranuleOf(bitmap)).toBe(granule);
    const ops = allocIoPgtableOps('ARM_64_LPAE_S1', { ias: 48, oas: 48, pgsizeBitmap: bitmap, kernel: rig.kernel, pages: rig.pages })!;
    expect(ops.pgsizeBitmap).toBe(restricted);
    expect(ops.granule).toBe(granule);
    expect(ops.format.name).toBe(format);
  });

  test('no 4K/16K/64K granule in the bitmap: NULL', () => {
    const rig = iommuRig();
    for (const bitmap of [SZ_2M, SZ_512M | SZ_1G, 0, 0x2000]) {
      expect(allocIoPgtableOps('ARM_64_LPAE_S1', { ias: 48, oas: 48, pgsizeBitmap: bitmap, kernel: rig.kernel, pages: rig.pages })).toBeNull();
    }
    expect(rig.pages.allocs).toHaveLength(0);
  });
});

/** Walks `va` through the tables in simulated memory with the format's codec, as the hardware walker does. */
function walk(rig: ReturnType<typeof iommuRig>, ops: IoPgtableArm, va: number) {
  const f: PageTableFormat = ops.format;
  const w = new Uint32Array(2);
  const d = newDecodedEntry();
  let table = ops.pgd;
  let reads = 0;
  for (let i = f.root; i >= 0; i--) {
    const at = table + levelIndex(f.levels[i], va) * 8;
    w[0] = rig.soc.physmem.read32(at);
    w[1] = rig.soc.physmem.read32(at + 4);
    reads++;
    f.decode(i, w, d);
    if (d.kind !== EntryKind.Table) return { ...d, level: f.levels[i].name, reads };
    table = d.addr;
  }
  throw new Error('walked past L3');
}

describe.each([
  ['16K', SZ_16K | SZ_32M, SZ_16K, SZ_32M, 4, 2],
  ['64K', SZ_64K | SZ_512M, SZ_64K, SZ_512M, 3, 4],
])('%s granule: map, unmap, errors', (_name, bitmap, page, block, levels, order) => {
  function setup() {
    const rig = iommuRig();
    const ops = allocIoPgtableOps('ARM_64_LPAE_S1', { ias: 48, oas: 48, pgsizeBitmap: bitmap, kernel: rig.kernel, pages: rig.pages })!;
    return { rig, ops };
  }

  test('a page: one table per level below the root, each a granule (page order), read by the walker', () => {
    const { rig, ops } = setup();
    expect(rig.pages.allocs).toHaveLength(1); // the root: one 4 KiB page (16 or 512 bytes used)
    expect(ops.map(0x7f_0000_0000 + page, DATA, page, RW)).toBe(0);
    expect(rig.pages.allocs).toHaveLength(levels); // levels - 1 tables below the root
    for (const t of rig.pages.allocs.slice(1)) expect(t % page).toBe(0);
    expect(rig.pages.allocs.length - 1).toBe(levels - 1);
    expect(rig.buddy.freePageCount).toBe(rig.buddy.totalPages - 1 - (levels - 1) * 2 ** order);
    expect(walk(rig, ops, 0x7f_0000_0000 + page + 0x123)).toMatchObject({ kind: EntryKind.Page, addr: DATA, pageShift: Math.log2(page), reads: levels, level: 'L3' });
    expect(ops.iovaToPhys(0x7f_0000_0000 + page + 0x123)).toBe(DATA + 0x123);
    expect(ops.map(0x4000_0000, DATA + block, block, IOMMU_READ)).toBe(0);
    expect(walk(rig, ops, 0x4000_0000 + block - 1)).toMatchObject({ kind: EntryKind.Page, addr: DATA + block, pageShift: Math.log2(block), readOnly: true, reads: levels - 1, level: 'L2' });
  });

  test('-EINVAL for a size of another granule or misalignment, -ERANGE beyond ias/oas, -EEXIST over a leaf or under a block', () => {
    const { rig, ops } = setup();
    expect(ops.map(0, DATA, SZ_4K, RW)).toBe(-Errno.EINVAL);
    expect(ops.map(0, DATA, SZ_2M, RW)).toBe(-Errno.EINVAL);
    expect(ops.map(page / 2, DATA, page, RW)).toBe(-Errno.EINVAL);
    expect(ops.map(0, DATA + page / 2, page, RW)).toBe(-Errno.EINVAL);
    expect(ops.map(2 ** 48, DATA, page, RW)).toBe(-Errno.ERANGE);
    expect(ops.map(0, 2 ** 48, page, RW)).toBe(-Errno.ERANGE);
    expect(ops.map(0, DATA, page, 0)).toBe(-Errno.EINVAL);
    expect(ops.map(block, DATA, block, RW)).toBe(0);
    expect(ops.map(block, DATA, block, RW)).toBe(-Errno.EEXIST);
    expect(ops.map(block + page, DATA, page, RW)).toBe(-Errno.EEXIST);
    expect(rig.kernel.warnings).toBe(8); // every refusal but the no-access prot WARNs
  });

  test('unmapping one page of a block splits it: a new table maps the other entries with the block\'s attributes', () => {
    const { rig, ops } = setup();
    expect(ops.map(block, DATA, block, IOMMU_READ)).toBe(0);
    const tables = ops.tablePages;
    const gather = iommuIotlbGatherInit();
    expect(ops.unmap(block + 3 * page, page, gather)).toBe(page);
    expect(ops.tablePages).toBe(tables + 1);
    expect(ops.iovaToPhys(block + 3 * page)).toBeNull();
    expect(ops.iovaToPhys(block + 2 * page + 5)).toBe(DATA + 2 * page + 5);
    expect(ops.iovaToPhys(block + block - 1)).toBe(DATA + block - 1);
    expect(walk(rig, ops, block + block - page)).toMatchObject({ kind: EntryKind.Page, pageShift: Math.log2(page), readOnly: true, level: 'L3', reads: levels });
    // A table-sized unmap over the pages clears the L2 entry and frees the table.
    expect(ops.unmap(block, block, iommuIotlbGatherInit())).toBe(block);
    expect(ops.tablePages).toBe(tables);
    ops.free();
    expect(rig.pages.inUse).toBe(0);
  });

  test('mapPages stops at the end of a last-level table (2^(granule bits - 3) entries)', () => {
    const { ops } = setup();
    const perTable = page / 8;
    const mapped = { bytes: 0 };
    expect(ops.mapPages(block - 2 * page, DATA, page, 4, RW, mapped)).toBe(0);
    expect(mapped.bytes).toBe(2 * page); // the rest is in the next table
    expect(ops.mapPages(block, DATA + 2 * page, page, perTable + 1, RW, mapped)).toBe(0);
    expect(mapped.bytes).toBe(2 * page + perTable * page);
  });
});

describe('IOMMU domains pick the granule of the unit they program', () => {
  test('a 4 KiB-granule SMMU refuses a 64K bitmap with EINVAL naming both', () => {
    const { soc, kernel } = kernelRig();
    const pages = new BuddyAllocator(DRAM_BASE, DRAM_SIZE);
    let err: unknown = null;
    try {
      new IommuDomain(kernel, soc.iommu('smmu'), pages, 1, { pgsizeBitmap: SZ_64K | SZ_512M });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).message).toMatch(/pgsize_bitmap 0x20010000 selects the 0x10000 granule, but soc.smmu walks arm-lpae-4k tables/);
  });
});

// Keep the rig's 4 KiB tests meaningful: the 4 KiB geometry is unchanged.
test('the 4 KiB granule still builds four levels of 4 KiB tables', () => {
  const rig = iommuRig();
  const ops = allocIoPgtableOps('ARM_64_LPAE_S1', { ias: 32, oas: 48, pgsizeBitmap: SZ_4K, kernel: rig.kernel, pages: rig.pages } as IoPgtableCfg)!;
  expect(ops.map(0x1000, DATA, SZ_4K, RW)).toBe(0);
  expect(rig.pages.allocs).toHaveLength(4);
  expect(walk(rig, ops, 0x1000)).toMatchObject({ kind: EntryKind.Page, reads: 4 });
});

test('VCM on a 64K-granule domain: orders [17, 4, 0] (VCM allocates 4 KiB pages; those fail at the domain)', () => {
  const domain = { pageSizes: [SZ_64K, SZ_512M], map: () => -Errno.EINVAL, unmap: () => 0 } as unknown as ConstructorParameters<typeof VcmIommuDriver>[0];
  expect(new VcmIommuDriver(domain).orders).toEqual([17, 4, 0]);
  const four = { pageSizes: [SZ_4K, SZ_2M, SZ_1G] } as unknown as ConstructorParameters<typeof VcmIommuDriver>[0];
  expect(new VcmIommuDriver(four).orders).toEqual([18, 9, 0]);
});
