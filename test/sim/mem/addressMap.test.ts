import { AddressMap, RegionOverlapError, type Region } from '../../../sim/mem/addressMap';

function region(name: string, base: number, size: number, kind: Region['kind'] = 'dram'): Region {
  return { name, base, size, kind };
}

function sampleMap(): AddressMap {
  const m = new AddressMap();
  // Added out of order on purpose: the map keeps them sorted.
  m.add(region('dram', 0x8000_0000, 0x4000_0000));
  m.add(region('sram', 0x1000_0000, 0x4_0000, 'sram'));
  m.add(region('uart', 0x0900_0000, 0x1000, 'mmio'));
  m.add(region('dram_hi', 2 ** 40, 2 ** 32));
  m.add(region('gpu_regs', 0x0a00_0000, 0x10_0000, 'mmio'));
  return m;
}

describe('AddressMap', () => {
  test('keeps regions sorted by base', () => {
    expect(sampleMap().all().map((r) => r.name)).toEqual(['uart', 'gpu_regs', 'sram', 'dram', 'dram_hi']);
  });

  test('overlapping regions are rejected with RegionOverlapError', () => {
    const m = sampleMap();
    const bad = [
      region('a', 0x8000_0000, 1), // same base
      region('b', 0x7fff_f000, 0x2000), // straddles dram start
      region('c', 0xbfff_ffff, 0x10), // straddles dram end
      region('d', 0x7000_0000, 0x8000_0000), // contains sram? no: contains dram entirely
      region('e', 0x0900_0800, 0x10), // inside uart
    ];
    for (const r of bad) {
      let err: unknown;
      try { m.add(r); } catch (e) { err = e; }
      expect(err).toBeInstanceOf(RegionOverlapError);
      expect((err as RegionOverlapError).region).toBe(r);
    }
    const e = (() => { try { m.add(region('x', 0x1000_1000, 0x10)); } catch (x) { return x as RegionOverlapError; } return null; })();
    expect(e?.existing.name).toBe('sram');
    expect(e?.message).toContain('0x10000000');
    expect(m.all()).toHaveLength(5);
    // Touching (adjacent) regions are fine.
    m.add(region('adj', 0xc000_0000, 0x1000));
    m.add(region('adj2', 0x7fff_f000, 0x1000));
    expect(m.all()).toHaveLength(7);
  });

  test('a non-positive size is rejected', () => {
    expect(() => new AddressMap().add(region('z', 0, 0))).toThrow(/size/);
  });

  test('find() hits the right region at its edges and misses in gaps', () => {
    const m = sampleMap();
    expect(m.find(0x0900_0000)?.name).toBe('uart');
    expect(m.find(0x0900_0fff)?.name).toBe('uart');
    expect(m.find(0x0900_1000)).toBeUndefined();
    expect(m.find(0x0a00_0000, 4)?.name).toBe('gpu_regs');
    expect(m.find(0x1000_0000 + 0x3_fff0, 16)?.name).toBe('sram');
    expect(m.find(0x8000_0000)?.name).toBe('dram');
    expect(m.find(0xbfff_ffc0, 64)?.name).toBe('dram');
    expect(m.find(2 ** 40 + 2 ** 32 - 1)?.name).toBe('dram_hi');
    expect(m.find(2 ** 40 + 2 ** 32)).toBeUndefined();
    expect(m.find(0)).toBeUndefined();
    expect(m.find(0x0fff_ffff)).toBeUndefined();
    expect(m.find(0x7fff_ffff)).toBeUndefined();
    expect(m.find(0xc000_0000)).toBeUndefined();
    expect(m.find(2 ** 52)).toBeUndefined();
  });

  test('lookups that straddle a region boundary return undefined', () => {
    const m = sampleMap();
    expect(m.find(0xbfff_ffc1, 64)).toBeUndefined(); // runs off the end of dram
    expect(m.find(0x0900_0ffe, 4)).toBeUndefined(); // runs off uart into the gap
    expect(m.find(0x7fff_fffc, 8)).toBeUndefined(); // starts in a gap, ends in dram
    m.add(region('next', 0x0900_1000, 0x1000, 'mmio'));
    expect(m.find(0x0900_0ffe, 4)).toBeUndefined(); // spans two adjacent regions
    expect(m.find(0x0900_1000, 4)?.name).toBe('next');
  });

  test('find() over many regions agrees with a linear scan', () => {
    const m = new AddressMap();
    const rs: Region[] = [];
    for (let i = 0; i < 200; i++) {
      const r = region(`r${i}`, i * 0x3000 + (i % 3) * 0x100, 0x1000 + (i % 5) * 0x100);
      rs.push(r);
      m.add(r);
    }
    for (let a = 0; a < 200 * 0x3000; a += 0x80) {
      const want = rs.find((r) => a >= r.base && a + 0x40 <= r.base + r.size);
      expect(m.find(a, 0x40)).toBe(want);
    }
    expect(m.byName('r17')).toBe(rs[17]);
    expect(m.byName('nope')).toBeUndefined();
  });
});
