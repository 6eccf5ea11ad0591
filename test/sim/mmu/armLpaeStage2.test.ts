import {
  armLpae4k,
  armLpaeS2_16k,
  armLpaeS2_4k,
  armLpaeS2_64k,
  armLpaeS2Format,
  armLpaeS2StartLevel,
  EntryKind,
  FORMATS,
  newDecodedEntry,
  STAGE2_FORMATS,
} from '../../../sim/mmu/format';
import { SimInvariantError } from '../../../sim/engine/errors';

const words = () => new Uint32Array(2);

describe('LPAE stage-2 geometry (concatenated initial-level tables)', () => {
  test.each([
    // granule, ias, levels, root entries, root alignment
    [0x1000, 48, 'L0', 512, 0x1000],
    [0x1000, 44, 'L0', 32, 256], // 32 L0 entries: more than 16, not concatenated (v6.8 rule)
    [0x1000, 42, 'L1', 8 * 512, 8 * 0x1000], // 8 concatenated L1 tables
    [0x1000, 40, 'L1', 2 * 512, 2 * 0x1000],
    [0x1000, 39, 'L1', 512, 0x1000],
    [0x4000, 48, 'L1', 2 * 2048, 2 * 0x4000], // 16K, 48-bit: 2 concatenated L1 tables (Arm ARM R_DXBSH)
    [0x4000, 40, 'L1', 16, 128],
    [0x1_0000, 48, 'L1', 64, 512],
    [0x1_0000, 42, 'L2', 8192, 0x1_0000],
  ] as const)('%i-byte granule, %i-bit IPA: starts at %s with %i root entries aligned to %i', (granule, ias, start, entries, align) => {
    const f = armLpaeS2Format(granule, ias);
    const root = f.levels[f.root];
    expect(root.name).toBe(start);
    expect(2 ** root.indexBits).toBe(entries);
    expect(root.tableAlign).toBe(Math.max(64, align));
    expect(f.vaBits).toBe(ias);
    expect(`L${armLpaeS2StartLevel(granule, ias)}`).toBe(start);
    // Every level below the root is one granule.
    for (let i = 0; i < f.root; i++) expect(f.levels[i].tableBytes).toBe(granule);
  });

  test('the registered 48-bit stage-2 formats, apart from the unit formats', () => {
    expect(Object.keys(STAGE2_FORMATS)).toEqual(['arm-lpae-s2-4k', 'arm-lpae-s2-16k', 'arm-lpae-s2-64k']);
    expect([armLpaeS2_4k, armLpaeS2_16k, armLpaeS2_64k].map((f) => f.levels.length)).toEqual([4, 3, 3]);
    for (const name of Object.keys(STAGE2_FORMATS)) {
      expect(FORMATS[name]).toBeUndefined();
      expect(STAGE2_FORMATS[name].stage).toBe(2);
    }
    expect(armLpae4k.stage).toBe(1);
    expect(armLpaeS2Format(0x1000, 40).name).toBe('arm-lpae-s2-4k-va40');
    expect(armLpaeS2Format(0x1000, 40, 0).name).toBe('arm-lpae-s2-4k-va40-sl0');
    expect(armLpaeS2Format(0x1000, 40, 0).levels.length).toBe(4);
  });

  test('more than 16 concatenated tables, or a start above the minimum, is refused', () => {
    expect(() => armLpaeS2Format(0x1000, 48, 1)).toThrow(SimInvariantError); // 512 L1 tables
    expect(() => armLpaeS2Format(0x1000, 44, 1)).toThrow(/16 concatenated/); // 32 tables
    const sixteen = armLpaeS2Format(0x1000, 43, 1); // 16 tables: the limit
    expect(sixteen.levels[sixteen.root].indexBits).toBe(13);
    expect(() => armLpaeS2Format(0x1000, 40, -1)).toThrow(SimInvariantError);
  });
});

describe('LPAE stage-2 descriptors', () => {
  test.each([
    [false, false, 0xc0],
    [true, false, 0x40],
    [false, true, 0x80],
    [true, true, 0x00],
  ])('readOnly %s, noRead %s: S2AP bits 7:6 = %i, round trip', (readOnly, noRead, s2ap) => {
    const w = words();
    armLpaeS2_4k.encode(0, { kind: EntryKind.Page, addr: 0x8_1234_5000, readOnly, noRead, privileged: true }, w);
    expect(w[0] & 0xc0).toBe(s2ap);
    expect(w[0] & (1 << 11)).toBe(0); // no nG at stage 2
    expect(w[0] & (1 << 10)).not.toBe(0); // AF
    expect((w[0] >>> 2) & 0xf).toBe(0x5); // MemAttr: Normal non-cacheable (ARM_LPAE_PTE_MEMATTR_NC)
    expect(w[0] & 3).toBe(3);
    const d = newDecodedEntry();
    armLpaeS2_4k.decode(0, w, d);
    expect(d).toEqual(expect.objectContaining({ kind: EntryKind.Page, addr: 0x8_1234_5000, pageShift: 12, readOnly, noRead, privileged: false }));
  });

  test('blocks at L1 / L2 and tables decode as at stage 1; the same leaf bits mean other permissions at stage 1', () => {
    const w = words();
    const d = newDecodedEntry();
    armLpaeS2_4k.encode(1, { kind: EntryKind.Page, addr: 0x20_0000 }, w);
    armLpaeS2_4k.decode(1, w, d);
    expect(d).toEqual(expect.objectContaining({ kind: EntryKind.Page, addr: 0x20_0000, pageShift: 21, readOnly: false, noRead: false }));
    // Read + write at stage 2 is AP[2:1] = 0b11 at stage 1: read-only, unprivileged.
    armLpae4k.decode(1, w, d);
    expect(d).toEqual(expect.objectContaining({ kind: EntryKind.Page, readOnly: true, privileged: false }));
    const t1 = words();
    const t2 = words();
    armLpaeS2_4k.encode(3, { kind: EntryKind.Table, addr: 0x1234_5000 }, t1);
    armLpae4k.encode(3, { kind: EntryKind.Table, addr: 0x1234_5000 }, t2);
    expect([...t1]).toEqual([...t2]);
    armLpaeS2_4k.decode(3, t1, d);
    expect(d).toEqual(expect.objectContaining({ kind: EntryKind.Table, addr: 0x1234_5000, noRead: false }));
  });

  test('an index into a concatenated root reaches the second table', () => {
    const f = armLpaeS2_16k;
    const root = f.levels[f.root];
    // IPA bit 47 selects the second 16 KiB L1 table: index 2048 and up.
    expect(Math.floor(2 ** 47 / 2 ** root.shift)).toBe(2048);
    expect(root.tableBytes).toBe(2 * 0x4000);
  });
});
