import { Errno } from '../../../drivers/errno';
import {
  allocIoPgtableOps, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE, iommuIotlbGatherInit, SZ_16K, SZ_1G, SZ_2M, SZ_32M, SZ_4K, type IoPgtableCfg,
} from '../../../drivers/iommu/ioPgtableArm';
import { EntryKind, newDecodedEntry } from '../../../sim/mmu/format/types';
import { DATA, iommuRig, recordingFlushOps } from './rig';

const RW = IOMMU_READ | IOMMU_WRITE;

function s2Rig(cfg: Partial<IoPgtableCfg> = {}) {
  const rig = iommuRig();
  const tlb = recordingFlushOps();
  const pgtbl = allocIoPgtableOps('ARM_64_LPAE_S2', {
    ias: 48, oas: 48, pgsizeBitmap: SZ_4K | SZ_2M | SZ_1G, kernel: rig.kernel, pages: rig.pages, tlb, ...cfg,
  })!;
  expect(pgtbl).not.toBeNull();
  return { ...rig, tlb, pgtbl };
}

/** The leaf for `ipa`, decoded from simulated memory with the stage-2 codec (as the walker does). */
function leaf(rig: ReturnType<typeof s2Rig>, ipa: number) {
  const f = rig.pgtbl.format;
  const w = new Uint32Array(2);
  const d = newDecodedEntry();
  let table = rig.pgtbl.pgd;
  for (let i = f.root; i >= 0; i--) {
    const level = f.levels[i];
    const idx = Math.floor(ipa / 2 ** level.shift) % 2 ** level.indexBits;
    w[0] = rig.soc.physmem.read32(table + idx * 8);
    w[1] = rig.soc.physmem.read32(table + idx * 8 + 4);
    f.decode(i, w, d);
    if (d.kind !== EntryKind.Table) return { ...d, level: level.name, lo: w[0] };
    table = d.addr;
  }
  throw new Error('walked past L3');
}

describe('io-pgtable-arm ARM_64_LPAE_S2', () => {
  test('map / iovaToPhys / unmap round trip for 4K, 2M and 1G, stage-2 leaf attributes', () => {
    const rig = s2Rig();
    expect(rig.pgtbl.fmt).toBe('ARM_64_LPAE_S2');
    expect(rig.pgtbl.format.name).toBe('arm-lpae-s2-4k');
    const cases: [number, number, number][] = [[0x1234_5000, DATA + 0x7000, SZ_4K], [0x8020_0000, DATA + SZ_2M, SZ_2M], [0x1_4000_0000, 0x4000_0000, SZ_1G]];
    for (const [ipa, pa, size] of cases) {
      expect(rig.pgtbl.map(ipa, pa, size, RW | IOMMU_PRIV)).toBe(0);
      expect(rig.pgtbl.iovaToPhys(ipa + 0x123)).toBe(pa + 0x123);
      const l = leaf(rig, ipa);
      expect(l).toMatchObject({ kind: EntryKind.Page, addr: pa, pageShift: Math.log2(size), readOnly: false, noRead: false, privileged: false });
      expect(l.lo & (1 << 11)).toBe(0); // no nG: stage 2
      expect(l.lo & 0xc0).toBe(0xc0); // S2AP = read + write (IOMMU_PRIV means nothing at stage 2)
    }
    for (const [ipa, , size] of cases) {
      expect(rig.pgtbl.unmap(ipa, size, iommuIotlbGatherInit())).toBe(size);
      expect(rig.pgtbl.iovaToPhys(ipa)).toBeNull();
    }
    expect(rig.tlb.calls.filter((c) => c.op === 'page').map((c) => c.size)).toEqual([SZ_4K, SZ_2M, SZ_1G]);
    const pages = rig.pages.inUse;
    rig.pgtbl.free();
    expect(rig.pages.inUse).toBe(0);
    expect(pages).toBeGreaterThan(1);
    expect(rig.kernel.warnings).toBe(0);
  });

  test('S2AP from IOMMU_READ / IOMMU_WRITE: read-only, write-only; a split block keeps them', () => {
    const rig = s2Rig();
    expect(rig.pgtbl.map(0x10_0000, DATA, SZ_4K, IOMMU_READ)).toBe(0);
    expect(rig.pgtbl.map(0x10_1000, DATA, SZ_4K, IOMMU_WRITE)).toBe(0);
    expect(leaf(rig, 0x10_0000)).toMatchObject({ readOnly: true, noRead: false });
    expect(leaf(rig, 0x10_1000)).toMatchObject({ readOnly: false, noRead: true });
    expect(rig.pgtbl.map(0x4000_0000, DATA, SZ_2M, IOMMU_WRITE)).toBe(0);
    expect(rig.pgtbl.unmap(0x4000_1000, SZ_4K)).toBe(SZ_4K);
    expect(leaf(rig, 0x4000_2000)).toMatchObject({ kind: EntryKind.Page, pageShift: 12, addr: DATA + 0x2000, noRead: true, readOnly: false });
  });

  test('errors as for stage 1: -EINVAL, -ERANGE, -EEXIST', () => {
    const rig = s2Rig();
    expect(rig.pgtbl.map(0x1000, DATA, 0x8000, RW)).toBe(-Errno.EINVAL); // not a page size
    expect(rig.pgtbl.map(0x1000, DATA, SZ_4K, 0)).toBe(-Errno.EINVAL); // no permission
    expect(rig.pgtbl.map(2 ** 48, DATA, SZ_4K, RW)).toBe(-Errno.ERANGE);
    expect(rig.pgtbl.map(0x1000, 2 ** 48, SZ_4K, RW)).toBe(-Errno.ERANGE);
    expect(rig.pgtbl.map(0x1000, DATA, SZ_4K, RW)).toBe(0);
    expect(rig.pgtbl.map(0x1000, DATA, SZ_4K, RW)).toBe(-Errno.EEXIST);
    expect(rig.pgtbl.map(0, DATA, SZ_2M, RW)).toBe(0); // a block over the table: the table is unmapped first
    expect(rig.pgtbl.map(0x1000, DATA, SZ_4K, RW)).toBe(-Errno.EEXIST); // a block is in the way
  });

  test('concatenated root: a 40-bit IPA space starts at L1 with 2 tables (one order-1 allocation)', () => {
    const rig = s2Rig({ ias: 40 });
    const f = rig.pgtbl.format;
    expect(f.name).toBe('arm-lpae-s2-4k-va40');
    expect(f.levels.length).toBe(3);
    expect(f.levels[f.root]).toMatchObject({ name: 'L1', indexBits: 10 });
    expect(rig.pages.allocs[0] % (2 * SZ_4K)).toBe(0);
    // IPA bit 39 selects the second concatenated table.
    const ipa = 2 ** 39 + 0x4000_0000 + 0x3000;
    expect(rig.pgtbl.map(ipa, DATA, SZ_4K, RW)).toBe(0);
    const w = rig.soc.physmem.read32(rig.pgtbl.pgd + (512 + 1) * 8);
    expect(w & 3).toBe(3); // a table entry in the second 4 KiB of the root
    expect(rig.pgtbl.iovaToPhys(ipa + 8)).toBe(DATA + 8);
    expect(leaf(rig, ipa)).toMatchObject({ kind: EntryKind.Page, level: 'L3' });
    expect(rig.pgtbl.map(2 ** 40, DATA, SZ_4K, RW)).toBe(-Errno.ERANGE);
    expect(rig.pgtbl.unmap(ipa, SZ_4K)).toBe(SZ_4K);
    rig.pgtbl.free();
    expect(rig.pages.inUse).toBe(0);
  });

  test('16K granule, 48-bit IPA: 2 concatenated L1 tables, 3 levels, 32M blocks', () => {
    const rig = s2Rig({ pgsizeBitmap: SZ_16K | SZ_32M });
    const f = rig.pgtbl.format;
    expect(f.name).toBe('arm-lpae-s2-16k');
    expect(f.levels.map((l) => l.name)).toEqual(['L3', 'L2', 'L1']);
    expect(rig.pgtbl.map(2 ** 47 + SZ_32M, DATA, SZ_32M, RW)).toBe(0);
    expect(rig.pgtbl.iovaToPhys(2 ** 47 + SZ_32M + 0x4321)).toBe(DATA + 0x4321);
    expect(leaf(rig, 2 ** 47 + SZ_32M)).toMatchObject({ level: 'L2', pageShift: 25 });
  });
});
