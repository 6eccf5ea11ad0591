/**
 * Arm LPAE stage 1 with the 16 KiB and 64 KiB granules (issue 17): geometry per granule and
 * input-address size, descriptor bits, the contiguous hint, walks through the simulator's
 * walker, TLB page sizes and the config rule tying them to the format.
 */
import { Cmd } from '../../../sim/bus/transaction';
import {
  armLpae16k,
  armLpae4k,
  armLpae64k,
  armLpaeFormat,
  armLpaeIsContiguous,
  EntryKind,
  FORMATS,
  newDecodedEntry,
  type ArmLpaeGranule,
  type PageTableFormat,
} from '../../../sim/mmu/format';
import { IommuSpec } from '../../../sim/mmu/iommu';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import { PageTableBuilder } from '../../../sim/mmu/pageTableBuilder';
import { iommuParams, MEM_BASE, MmuRig, tlbParams } from '../../helpers/mmuRig';

const KiB = 1024;
const MiB = 1024 * KiB;

function level(f: PageTableFormat, name: string): number {
  const i = f.levels.findIndex((l) => l.name === name);
  if (i < 0) throw new Error(`no ${name} in ${f.name}`);
  return i;
}

function encode(f: PageTableFormat, lvl: string, spec: Parameters<PageTableFormat['encode']>[1]): number[] {
  const w = new Uint32Array(4);
  f.encode(level(f, lvl), spec, w);
  return [w[0], w[1]];
}

function decode(f: PageTableFormat, lvl: string, words: number[]) {
  const w = new Uint32Array(4);
  w.set(words);
  const out = newDecodedEntry();
  f.decode(level(f, lvl), w, out);
  return out;
}

describe('registry and geometry', () => {
  test('arm-lpae-16k and arm-lpae-64k are registered; arm-lpae-4k is the same object as before', () => {
    expect(FORMATS['arm-lpae-16k']).toBe(armLpae16k);
    expect(FORMATS['arm-lpae-64k']).toBe(armLpae64k);
    expect(armLpaeFormat(0x1000)).toBe(armLpae4k);
    expect(armLpae4k.levels.map((l) => [l.name, l.indexBits, l.shift, l.tableBytes, l.tableAlign])).toEqual([
      ['L3', 9, 12, 4096, 4096], ['L2', 9, 21, 4096, 4096], ['L1', 9, 30, 4096, 4096], ['L0', 9, 39, 4096, 4096],
    ]);
  });

  test('16K, 48-bit VA: L0 has 2 entries (64-byte aligned 16-byte table), L1..L3 2048; 16 KiB pages and 32 MiB blocks', () => {
    const f = armLpae16k;
    expect(f.levels.map((l) => [l.name, l.indexBits, l.shift, l.tableBytes, l.tableAlign])).toEqual([
      ['L3', 11, 14, 16 * KiB, 16 * KiB], ['L2', 11, 25, 16 * KiB, 16 * KiB], ['L1', 11, 36, 16 * KiB, 16 * KiB], ['L0', 1, 47, 16, 64],
    ]);
    expect(f.pageSizes.map((p) => [2 ** p.shift, f.levels[p.level].name])).toEqual([[32 * MiB, 'L2'], [16 * KiB, 'L3']]);
  });

  test('64K, 48-bit VA: three levels, L1 of 64 entries (512 bytes); 64 KiB pages and 512 MiB blocks', () => {
    const f = armLpae64k;
    expect(f.levels.map((l) => [l.name, l.indexBits, l.shift, l.tableBytes, l.tableAlign])).toEqual([
      ['L3', 13, 16, 64 * KiB, 64 * KiB], ['L2', 13, 29, 64 * KiB, 64 * KiB], ['L1', 6, 42, 512, 512],
    ]);
    expect(f.pageSizes.map((p) => [2 ** p.shift, f.levels[p.level].name])).toEqual([[512 * MiB, 'L2'], [64 * KiB, 'L3']]);
  });

  // arm_lpae_alloc_pgtable: levels = DIV_ROUND_UP(ias - pg_shift, bits_per_level), pgd_bits the rest,
  // for the input sizes Linux's selftest uses.
  test.each([
    [0x1000, 32, 'L1', 2], [0x1000, 36, 'L1', 6], [0x1000, 40, 'L0', 1], [0x1000, 42, 'L0', 3], [0x1000, 44, 'L0', 5], [0x1000, 48, 'L0', 9],
    [0x4000, 32, 'L2', 7], [0x4000, 36, 'L2', 11], [0x4000, 40, 'L1', 4], [0x4000, 42, 'L1', 6], [0x4000, 44, 'L1', 8], [0x4000, 48, 'L0', 1],
    [0x1_0000, 32, 'L2', 3], [0x1_0000, 36, 'L2', 7], [0x1_0000, 40, 'L2', 11], [0x1_0000, 42, 'L2', 13], [0x1_0000, 44, 'L1', 2], [0x1_0000, 48, 'L1', 6],
  ])('granule %i, %i-bit VA: root %s with %i index bits', (granule, va, root, bits) => {
    const f = armLpaeFormat(granule as ArmLpaeGranule, va);
    expect(f.levels[f.root].name).toBe(root);
    expect(f.levels[f.root].indexBits).toBe(bits);
    expect(f.levels.length).toBe(4 - Number(root[1]));
    expect(f.vaBits).toBe(va);
    expect(f.name).toBe(va === 48 ? `arm-lpae-${granule / KiB}k` : `arm-lpae-${granule / KiB}k-va${va}`);
  });

  test('input sizes with fewer than two levels or above 48 bits are refused', () => {
    expect(() => armLpaeFormat(0x1_0000, 24)).toThrow(/not supported/);
    expect(() => armLpaeFormat(0x1000, 52)).toThrow(/not supported/);
    expect(() => armLpaeFormat(0x2000 as ArmLpaeGranule)).toThrow(/granule/);
  });
});

describe('descriptors', () => {
  test('16K: page and 32 MiB block bits as io-pgtable-arm.c writes them; table addresses are 16 KiB-aligned', () => {
    const f = armLpae16k;
    expect(encode(f, 'L3', { kind: EntryKind.Page, addr: 0x8000_1234_4000 })).toEqual([0x12344f43, 0x8000]);
    expect(encode(f, 'L2', { kind: EntryKind.Page, addr: 0x4200_0000, readOnly: true })).toEqual([0x42000fc1, 0]);
    expect(decode(f, 'L2', [0x42000fc1, 0])).toMatchObject({ kind: EntryKind.Page, addr: 0x4200_0000, pageShift: 25, readOnly: true });
    expect(() => encode(f, 'L2', { kind: EntryKind.Table, addr: 0x1000 })).toThrow(/aligned/);
    // Bits 13:12 of a table descriptor are below the granule: ignored.
    expect(decode(f, 'L1', [0x4000_3003, 0])).toMatchObject({ kind: EntryKind.Table, addr: 0x4000_0000 });
    // No 64 GiB L1 blocks without FEAT_LPA2, no L0 blocks: type 1 there is invalid.
    expect(decode(f, 'L1', [0x0000_0f41, 0x1]).kind).toBe(EntryKind.Unmapped);
    expect(decode(f, 'L0', [0x0000_0f41, 0]).kind).toBe(EntryKind.Unmapped);
    expect(() => encode(f, 'L1', { kind: EntryKind.Page, addr: 2 ** 36 })).toThrow(/cannot be Page/);
  });

  test('64K: page and 512 MiB block bits; bits 15:12 (PA[51:48] with FEAT_LPA) are ignored with 48-bit output', () => {
    const f = armLpae64k;
    expect(encode(f, 'L3', { kind: EntryKind.Page, addr: 0xffff_ffff_0000 })).toEqual([0xffff0f43, 0xffff]);
    expect(encode(f, 'L2', { kind: EntryKind.Page, addr: 0x2000_0000, privileged: true })).toEqual([0x20000f01, 0]);
    expect(decode(f, 'L3', [0x1234_ff43, 0])).toMatchObject({ kind: EntryKind.Page, addr: 0x1234_0000, pageShift: 16 });
    expect(decode(f, 'L2', [0x2000_0f01, 0])).toMatchObject({ kind: EntryKind.Page, addr: 0x2000_0000, pageShift: 29, privileged: true });
    expect(decode(f, 'L2', [0x0001_f003, 0])).toMatchObject({ kind: EntryKind.Table, addr: 0x1_0000 });
    expect(decode(f, 'L1', [0x0000_0f41, 0x400]).kind).toBe(EntryKind.Unmapped); // 4 TiB block: FEAT_LPA only
  });

  test('contiguous hint: bit 52 round-trips, spans per granule and level as in the Arm ARM', () => {
    for (const f of [armLpae4k, armLpae16k, armLpae64k]) {
      const w = new Uint32Array(2);
      f.encode(f.smallLeaf, { kind: EntryKind.Page, addr: 2 ** 40, contiguous: true }, w);
      expect(w[1]).toBe(0x100 + 0x10_0000);
      expect(armLpaeIsContiguous(w)).toBe(true);
      const out = newDecodedEntry();
      f.decode(f.smallLeaf, w, out);
      expect(out).toMatchObject({ kind: EntryKind.Page, addr: 2 ** 40 });
      f.encode(f.smallLeaf, { kind: EntryKind.Page, addr: 2 ** 40 }, w);
      expect(armLpaeIsContiguous(w)).toBe(false);
    }
    const spans = (f: PageTableFormat) => Object.fromEntries(f.levels.map((l) => [l.name, l.contiguousEntries]));
    expect(spans(armLpae4k)).toEqual({ L3: 16, L2: 16, L1: 16, L0: 0 });
    expect(spans(armLpae16k)).toEqual({ L3: 128, L2: 32, L1: 0, L0: 0 });
    expect(spans(armLpae64k)).toEqual({ L3: 32, L2: 32, L1: 0 });
    // Spans in bytes: 64 KiB / 2 MiB / 2 MiB at L3; 32 MiB / 1 GiB / 16 GiB at L2.
    expect([armLpae4k, armLpae16k, armLpae64k].map((f) => 2 ** f.levels[0].shift * f.levels[0].contiguousEntries)).toEqual([64 * KiB, 2 * MiB, 2 * MiB]);
    expect([armLpae4k, armLpae16k, armLpae64k].map((f) => 2 ** f.levels[1].shift * f.levels[1].contiguousEntries)).toEqual([32 * MiB, 1024 * MiB, 16 * 1024 * MiB]);
  });

  test('hand-built tables: reads per walk are the level count below the leaf (reference walk)', () => {
    const b16 = new PageTableBuilder(new PhysicalMemory(), armLpae16k, 0x10_0000_0000);
    b16.map(0x7fff_ffff_c000, 0x1_0000_4000, 14);
    b16.map(0x4200_0000, 0x8200_0000, 25);
    expect(b16.translate(0x7fff_ffff_c123)).toMatchObject({ kind: 'page', pa: 0x1_0000_4123, reads: 4, level: 'L3' });
    expect(b16.translate(0x43ff_ffff)).toMatchObject({ kind: 'page', pa: 0x83ff_ffff, reads: 3, level: 'L2' });
    const b64 = new PageTableBuilder(new PhysicalMemory(), armLpae64k, 0x10_0000_0000);
    b64.map(0xffff_fff0_0000, 0x1_0000_0000, 16);
    b64.map(0x6000_0000, 0x2000_0000, 29);
    expect(b64.translate(0xffff_fff0_fffe)).toMatchObject({ kind: 'page', pa: 0x1_0000_fffe, reads: 3, level: 'L3' });
    expect(b64.translate(0x7fff_ffff)).toMatchObject({ kind: 'page', pa: 0x3fff_ffff, reads: 2, level: 'L2' });
    const b42 = new PageTableBuilder(new PhysicalMemory(), armLpaeFormat(0x1_0000, 42), 0x10_0000_0000);
    b42.map(0x3ff_ffff_0000, 0x1_0000, 16);
    expect(b42.translate(0x3ff_ffff_0010)).toMatchObject({ kind: 'page', pa: 0x1_0010, reads: 2 });
  });
});

describe('the walker and TLBs on 16K and 64K tables', () => {
  function cacheAllTableLevels(f: PageTableFormat) {
    return f.levels.filter((_l, i) => i !== f.smallLeaf).map((l) => ({ level: l.name, entries: 16, ways: 16, latencyCycles: 0 }));
  }

  test.each([
    [armLpae16k, 4, 16 * KiB],
    [armLpae64k, 3, 64 * KiB],
    [armLpaeFormat(0x1_0000, 42), 2, 64 * KiB],
    [armLpaeFormat(0x4000, 36), 2, 16 * KiB],
  ])('%s: a cold walk reads every level, a warm one reads the leaf only', (f, levels, page) => {
    const tlb = tlbParams({ pageSizes: [page] });
    const rig = new MmuRig(f, iommuParams({ l1Tlb: tlb, l2Tlb: { ...tlb, entries: 64, ways: 8 }, walker: { slots: 2, stepCycles: 0, walkCaches: cacheAllTableLevels(f) } }));
    const va = 2 ** f.vaBits - 4 * page;
    rig.tables.map(va, MEM_BASE, Math.log2(page));
    rig.tables.map(va + page, MEM_BASE + page, Math.log2(page));
    const { master } = rig.device([{ cmd: Cmd.Read, addr: va + 8, size: 64 }, { cmd: Cmd.Read, addr: va + page + 8, size: 64 }, { cmd: Cmd.Read, addr: va + page + 64, size: 64 }]);
    master.start();
    rig.run();
    expect(master.completed.map((c) => c.status)).toEqual([1, 1, 1]);
    expect(rig.stat('soc.iommu.walker.walks')).toBe(2); // the third access hits the TLB's 16K/64K entry
    expect(rig.stat('soc.iommu.walker.mem_reads')).toBe(levels + 1);
  });

  test('a 32 MiB block is one TLB entry when the TLB holds 32 MiB pages, 2048 16 KiB entries when it does not', () => {
    const run = (pageSizes: number[]) => {
      const tlb = tlbParams({ pageSizes });
      const rig = new MmuRig(armLpae16k, iommuParams({ l1Tlb: tlb, l2Tlb: { ...tlb, entries: 64, ways: 8 } }));
      rig.tables.map(0x4000_0000 + 32 * MiB, MEM_BASE, 25);
      const reqs = [0, 1, 2, 3].map((k) => ({ cmd: Cmd.Read, addr: 0x4000_0000 + 32 * MiB + k * 1 * MiB, size: 64 }));
      const { master } = rig.device(reqs);
      master.start();
      rig.run();
      expect(master.completed.every((c) => c.status === 1)).toBe(true);
      return rig.stat('soc.iommu.walker.walks');
    };
    expect(run([16 * KiB, 32 * MiB])).toBe(1);
    expect(run([16 * KiB])).toBe(4); // splintered: each MiB is another 16 KiB entry
  });

  test('config: a TLB page size the format lacks is a problem at that pageSizes entry', () => {
    const base = { ...iommuParams(), format: 'arm-lpae-64k' };
    const ok = IommuSpec.safeParse({ ...base, l1Tlb: tlbParams({ pageSizes: [64 * KiB, 512 * MiB] }), l2Tlb: tlbParams({ pageSizes: [64 * KiB] }) });
    expect(ok.success).toBe(true);
    const bad = IommuSpec.safeParse({ ...base, l1Tlb: tlbParams({ pageSizes: [64 * KiB, 2 * MiB] }), l2Tlb: tlbParams({ pageSizes: [64 * KiB] }) });
    expect(bad.success).toBe(false);
    const issue = bad.error!.issues[0];
    expect(issue.path).toEqual(['l1Tlb', 'pageSizes', 1]);
    expect(issue.message).toMatch(/arm-lpae-64k has no 2097152-byte pages \(it has 512MiB, 64KiB\)/);
    const cache = IommuSpec.safeParse({ ...base, l1Tlb: tlbParams({ pageSizes: [64 * KiB] }), l2Tlb: tlbParams({ pageSizes: [64 * KiB] }), walker: { slots: 1, stepCycles: 0, walkCaches: [{ level: 'L0', entries: 4, ways: 4, latencyCycles: 0 }] } });
    expect(cache.error!.issues[0]).toMatchObject({ path: ['walker', 'walkCaches', 0, 'level'] });
    expect(cache.error!.issues[0].message).toMatch(/choose from L1, L2/);
  });
});
