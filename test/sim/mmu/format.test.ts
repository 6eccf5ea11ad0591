import { SimInvariantError } from '../../../sim/engine/errors';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import {
  Aperture,
  EntryKind,
  FORMAT_NAMES,
  FORMATS,
  PageFlag,
  armLpae4k,
  getFormat,
  levelIndex,
  newDecodedEntry,
  nvGf100_128k,
  nvGf100_64k,
  nvGp100,
  type DecodedEntry,
  type EntrySpec,
  type PageTableFormat,
} from '../../../sim/mmu/format';
import { PageTableBuilder } from '../../../sim/mmu/pageTableBuilder';

const KiB = 1024;

function lv(f: PageTableFormat, name: string): number {
  const i = f.levels.findIndex((l) => l.name === name);
  if (i < 0) throw new Error(`no level ${name} in ${f.name}`);
  return i;
}

/** Encodes and returns the entry's words as hex strings (easy to read in failures). */
function enc(f: PageTableFormat, level: string, spec: EntrySpec): string[] {
  const l = lv(f, level);
  const w = new Uint32Array(4);
  f.encode(l, spec, w);
  return Array.from(w.subarray(0, f.levels[l].entryBytes / 4), (x) => '0x' + x.toString(16));
}

function dec(f: PageTableFormat, level: string, words: number[]): DecodedEntry {
  const w = new Uint32Array(4);
  w.set(words);
  const out = newDecodedEntry();
  f.decode(lv(f, level), w, out);
  return out;
}

function hexWords(...words: number[]): string[] {
  return words.map((x) => '0x' + x.toString(16));
}

/** Which entry kinds each level of each format supports (the rest must throw on encode). */
const SUPPORTED: Record<string, Record<string, EntryKind[]>> = {
  'nv-gf100': {
    SPT: [EntryKind.Unmapped, EntryKind.Page, EntryKind.Sparse],
    LPT: [EntryKind.Unmapped, EntryKind.Page, EntryKind.Sparse, EntryKind.Blocked],
    PGD: [EntryKind.Unmapped, EntryKind.Table, EntryKind.Sparse],
  },
  'nv-gp100': {
    SPT: [EntryKind.Unmapped, EntryKind.Page, EntryKind.Sparse],
    LPT: [EntryKind.Unmapped, EntryKind.Page, EntryKind.Sparse, EntryKind.Blocked],
    PD0: [EntryKind.Unmapped, EntryKind.Table, EntryKind.Page, EntryKind.Sparse],
    PD1: [EntryKind.Unmapped, EntryKind.Table, EntryKind.Sparse],
    PD2: [EntryKind.Unmapped, EntryKind.Table, EntryKind.Sparse],
    PD3: [EntryKind.Unmapped, EntryKind.Table, EntryKind.Sparse],
  },
  'arm-lpae-4k': {
    L3: [EntryKind.Unmapped, EntryKind.Page],
    L2: [EntryKind.Unmapped, EntryKind.Table, EntryKind.Page],
    L1: [EntryKind.Unmapped, EntryKind.Table, EntryKind.Page],
    L0: [EntryKind.Unmapped, EntryKind.Table],
  },
};
SUPPORTED['nv-gf100-64k'] = SUPPORTED['nv-gf100'];
// 16K and 64K granules: blocks only at L2 (L1 blocks need FEAT_LPA2 / FEAT_LPA, not modelled).
SUPPORTED['arm-lpae-16k'] = {
  L3: [EntryKind.Unmapped, EntryKind.Page],
  L2: [EntryKind.Unmapped, EntryKind.Table, EntryKind.Page],
  L1: [EntryKind.Unmapped, EntryKind.Table],
  L0: [EntryKind.Unmapped, EntryKind.Table],
};
SUPPORTED['arm-lpae-64k'] = {
  L3: [EntryKind.Unmapped, EntryKind.Page],
  L2: [EntryKind.Unmapped, EntryKind.Table, EntryKind.Page],
  L1: [EntryKind.Unmapped, EntryKind.Table],
};

const ALL_KINDS = [EntryKind.Unmapped, EntryKind.Table, EntryKind.Page, EntryKind.Sparse, EntryKind.Blocked];

describe('format registry', () => {
  test('FORMATS, FORMAT_NAMES and getFormat agree', () => {
    expect([...FORMAT_NAMES].sort()).toEqual(['arm-lpae-16k', 'arm-lpae-4k', 'arm-lpae-64k', 'nv-gf100', 'nv-gf100-64k', 'nv-gp100']);
    for (const name of FORMAT_NAMES) {
      expect(getFormat(name)).toBe(FORMATS[name]);
      expect(FORMATS[name].name).toBe(name);
    }
    expect(getFormat('nv-gf100')).toBe(nvGf100_128k);
    expect(getFormat('nv-gf100-64k')).toBe(nvGf100_64k);
    expect(getFormat('nv-gp100')).toBe(nvGp100);
    expect(getFormat('arm-lpae-4k')).toBe(armLpae4k);
  });

  test('getFormat of an unknown name lists the known ones', () => {
    expect(() => getFormat('nv50')).toThrow(/unknown page-table format "nv50"; known formats: /);
    for (const n of FORMAT_NAMES) expect(() => getFormat('nv50')).toThrow(n);
    expect(() => getFormat('constructor')).toThrow(Error);
  });
});

describe.each(FORMAT_NAMES.map((n) => [n]))('%s', (name) => {
  const f = getFormat(name);
  const nv = name.startsWith('nv-');
  const supported = SUPPORTED[name];

  test('level geometry is consistent', () => {
    expect(f.root).toBe(f.levels.length - 1);
    expect(f.smallLeaf).toBe(0);
    const root = f.levels[f.root];
    expect(root.shift + root.indexBits).toBe(f.vaBits);
    f.levels.forEach((l, i) => {
      expect(l.tableBytes).toBe(2 ** l.indexBits * l.entryBytes);
      expect(l.tableBytes % l.tableAlign === 0 || l.tableAlign >= l.tableBytes).toBe(true);
      const c = f.child(i);
      if (c >= 0) {
        expect(c).toBe(i - 1);
        expect(l.shift).toBe(f.levels[c].shift + f.levels[c].indexBits);
      }
      if (f.isDual(i)) {
        expect(c).toBe(f.largeLeaf);
        const spt = f.levels[f.smallLeaf];
        expect(spt.shift + spt.indexBits).toBe(l.shift);
      }
    });
    expect(f.child(f.smallLeaf)).toBe(-1);
    if (f.largeLeaf >= 0) expect(f.child(f.largeLeaf)).toBe(-1);
    for (const p of f.pageSizes) expect(f.levels[p.level].shift).toBe(p.shift);
    expect(Object.keys(supported).sort()).toEqual(f.levels.map((l) => l.name).sort());
  });

  test('an all-zero entry is Unmapped at every level', () => {
    for (const l of f.levels) expect(dec(f, l.name, [0, 0, 0, 0]).kind).toBe(EntryKind.Unmapped);
  });

  test('round-trips every supported kind with high addresses and flags', () => {
    const top = 2 ** (f.paBits - 1);
    const words = new Uint32Array(4);
    const again = new Uint32Array(4);
    const out = newDecodedEntry();
    const roundTrip = (level: number, spec: EntrySpec): DecodedEntry => {
      words.fill(0);
      f.encode(level, spec, words);
      f.decode(level, words, out);
      // encode(decode(x)) == x: the codec is a bijection on what it writes.
      again.fill(0);
      f.encode(level, { ...out, addr: out.addr, addr2: out.addr2, aperture2: spec.aperture2 ?? spec.aperture }, again);
      expect(Array.from(again)).toEqual(Array.from(words));
      return out;
    };
    f.levels.forEach((l, i) => {
      const kinds = supported[l.name];
      for (const kind of kinds) {
        if (kind === EntryKind.Page) {
          const size = 2 ** l.shift;
          for (const pa of [top + 3 * size, 2 ** f.paBits - size, size, 0]) {
            for (const readOnly of [false, true]) {
              for (const privileged of [false, true]) {
                for (const aperture of nv ? [Aperture.Vram, Aperture.Host, Aperture.HostNonCoherent] : [Aperture.Vram]) {
                  const volatile = nv && aperture === Aperture.Host;
                  const e = roundTrip(i, { kind, addr: pa, readOnly, privileged, aperture, volatile });
                  expect(e).toEqual({ kind, addr: pa, addr2: -1, pageShift: l.shift, readOnly, privileged, volatile, aperture });
                }
              }
            }
          }
        } else if (kind === EntryKind.Table) {
          const child = f.child(i);
          const a = top + 5 * f.levels[child].tableAlign;
          if (f.isDual(i)) {
            const b = 2 ** f.paBits - f.levels[f.smallLeaf].tableAlign * 7;
            const cases: [number, number, Aperture, Aperture, boolean][] = [
              [a, b, Aperture.Vram, Aperture.Host, false],
              [a, -1, Aperture.HostNonCoherent, Aperture.Vram, true],
              [-1, b, Aperture.Host, Aperture.Host, true],
              [f.levels[child].tableAlign, 0x1000, Aperture.Vram, Aperture.Vram, false],
            ];
            for (const [lpt, spt, ap, ap2, vol] of cases) {
              const e = roundTrip(i, { kind, addr: lpt, addr2: spt, aperture: ap, aperture2: ap2, volatile: vol });
              expect(e.kind).toBe(EntryKind.Table);
              expect(e.addr).toBe(lpt);
              expect(e.addr2).toBe(spt);
              expect(e.aperture).toBe(lpt >= 0 ? ap : ap2);
              expect(e.volatile).toBe(vol);
            }
          } else {
            for (const aperture of nv ? [Aperture.Vram, Aperture.Host, Aperture.HostNonCoherent] : [Aperture.Vram]) {
              const e = roundTrip(i, { kind, addr: a, aperture });
              expect(e).toMatchObject({ kind, addr: a, addr2: -1, aperture });
            }
          }
        } else {
          const e = roundTrip(i, { kind });
          expect(e).toEqual({ ...newDecodedEntry(), kind });
        }
      }
    });
  });

  test('unsupported kinds throw SimInvariantError', () => {
    const w = new Uint32Array(4);
    f.levels.forEach((l, i) => {
      for (const kind of ALL_KINDS) {
        if (supported[l.name].includes(kind)) continue;
        expect(() => f.encode(i, { kind, addr: 0x10000000, addr2: 0x20000000 }, w)).toThrow(SimInvariantError);
      }
    });
  });

  test('encode rejects addresses out of range or misaligned', () => {
    const w = new Uint32Array(4);
    for (const p of f.pageSizes) {
      if ((p.flags & ~PageFlag.SPARSE) === 0) continue;
      expect(() => f.encode(p.level, { kind: EntryKind.Page, addr: 2 ** f.paBits }, w)).toThrow(SimInvariantError);
      expect(() => f.encode(p.level, { kind: EntryKind.Page, addr: 2 ** p.shift + 2 ** (p.shift - 1) }, w)).toThrow(SimInvariantError);
      expect(() => f.encode(p.level, { kind: EntryKind.Page, addr: -4096 }, w)).toThrow(SimInvariantError);
      expect(() => f.encode(p.level, { kind: EntryKind.Page }, w)).toThrow(SimInvariantError);
    }
    f.levels.forEach((_, i) => {
      const c = f.child(i);
      if (c < 0) return;
      expect(() => f.encode(i, { kind: EntryKind.Table, addr: f.levels[c].tableAlign / 2 }, w)).toThrow(SimInvariantError);
      expect(() => f.encode(i, { kind: EntryKind.Table, addr: 2 ** f.paBits }, w)).toThrow(SimInvariantError);
      if (f.isDual(i)) expect(() => f.encode(i, { kind: EntryKind.Table, addr: -1, addr2: -1 }, w)).toThrow(SimInvariantError);
    });
  });

  test('decode never throws and keeps addresses in range on arbitrary words', () => {
    let x = 0x9e3779b9; // xorshift32, fixed seed
    const rnd = (): number => {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      return x >>> 0;
    };
    const w = new Uint32Array(4);
    const out = newDecodedEntry();
    for (let n = 0; n < 1000; n++) {
      for (let k = 0; k < 4; k++) w[k] = rnd();
      if (n % 3 === 0) w[0] &= 0xffffff0f; // clear VOL/VALID bits now and then to reach Table/Unmapped decodes
      f.levels.forEach((_, i) => {
        f.decode(i, w, out);
        expect(ALL_KINDS).toContain(out.kind);
        if (out.kind === EntryKind.Page) {
          expect(out.addr % 2 ** out.pageShift).toBe(0);
          expect(out.addr + 2 ** out.pageShift).toBeLessThanOrEqual(2 ** f.paBits);
        }
        if (out.kind === EntryKind.Table) {
          expect(out.addr >= 0 || out.addr2 >= 0).toBe(true);
          expect(Math.max(out.addr, out.addr2)).toBeLessThan(2 ** f.paBits);
        }
        if (out.kind === EntryKind.Blocked) expect(i).toBe(f.largeLeaf);
      });
    }
  });
});

describe('nv-gf100 (vmmgf100.c / vmmgk104.c / vmmgm200.c)', () => {
  const f = nvGf100_128k;

  test('geometry: gf100_vmm_desc_17_12 / _17_17 and _16_12 / _16_16', () => {
    expect(f.vaBits).toBe(40);
    expect(f.paBits).toBe(40);
    expect(f.levels.map((l) => [l.name, l.indexBits, l.shift, l.entryBytes, l.tableBytes, l.tableAlign])).toEqual([
      ['SPT', 15, 12, 8, 256 * KiB, 0x1000],
      ['LPT', 10, 17, 8, 8 * KiB, 0x1000],
      ['PGD', 13, 27, 8, 64 * KiB, 0x1000],
    ]);
    expect([f.smallLeaf, f.largeLeaf, f.root]).toEqual([0, 1, 2]);
    expect(f.isDual(2)).toBe(true);
    expect(f.isDual(0) || f.isDual(1)).toBe(false);
    expect(f.child(2)).toBe(1);
    expect(f.pageSizes.map((p) => p.shift)).toEqual([27, 17, 12]);

    const g = nvGf100_64k;
    expect(g.levels.map((l) => [l.name, l.indexBits, l.shift, l.tableBytes])).toEqual([
      ['SPT', 14, 12, 128 * KiB],
      ['LPT', 10, 16, 8 * KiB],
      ['PGD', 14, 26, 128 * KiB],
    ]);
    expect(g.pageSizes.map((p) => p.shift)).toEqual([26, 16, 12]);
  });

  test('PTE bits match gf100_vmm_pgt_pte / gf100_vmm_valid', () => {
    // data = (addr >> 8) | VALID: 0x12345000 >> 8 = 0x123450, | 1.
    expect(enc(f, 'SPT', { kind: EntryKind.Page, addr: 0x12345000 })).toEqual(hexWords(0x00123451, 0));
    // 128 KiB page at 2^39 + 0x23400000, HOST (aper 2 << 33 = high bit 2), VOL (bit 32 = high bit 0),
    // PRIV (bit 1), RO (bit 2): low = 0x80234000 | 7, high = 1 | 4.
    expect(
      enc(f, 'LPT', { kind: EntryKind.Page, addr: 0x80_2340_0000, aperture: Aperture.Host, volatile: true, privileged: true, readOnly: true }),
    ).toEqual(hexWords(0x80234007, 0x5));
    // NCOH is aperture 3 << 33: high word 6.
    expect(enc(f, 'SPT', { kind: EntryKind.Page, addr: 0xff_ffff_f000, aperture: Aperture.HostNonCoherent })).toEqual(hexWords(0xfffffff1, 0x6));
    expect(dec(f, 'LPT', [0x80234007, 0x5])).toEqual({
      kind: EntryKind.Page, addr: 0x80_2340_0000, addr2: -1, pageShift: 17, readOnly: true, privileged: true, volatile: true, aperture: Aperture.Host,
    });
  });

  test('PDE bits match gf100_vmm_pgd_pde (low word: LPT, high word: SPT)', () => {
    // LPT (pt[0]) at 0x10000000 in VRAM: low = (addr >> 8) | 1 = 0x00100001.
    // SPT (pt[1]) at 0x2_0000_0000 in HOST: (addr << 24) >> 32 = 0x02000000, | 2 (target 2 at bit 32).
    expect(enc(f, 'PGD', { kind: EntryKind.Table, addr: 0x1000_0000, addr2: 0x2_0000_0000, aperture: Aperture.Vram, aperture2: Aperture.Host })).toEqual(
      hexWords(0x00100001, 0x02000002),
    );
    // With VOL: BIT_ULL(35) for the LPT, BIT_ULL(34) for the SPT: high += 8 + 4.
    expect(
      enc(f, 'PGD', { kind: EntryKind.Table, addr: 0x1000_0000, addr2: 0x2_0000_0000, aperture: Aperture.Vram, aperture2: Aperture.Host, volatile: true }),
    ).toEqual(hexWords(0x00100001, 0x0200000e));
    // SPT only, NCOH (3): low word empty.
    expect(enc(f, 'PGD', { kind: EntryKind.Table, addr: -1, addr2: 0xab_cdef_0000, aperture: Aperture.HostNonCoherent })).toEqual(
      hexWords(0, 0xabcdef03),
    );
    const e = dec(f, 'PGD', [0x00100001, 0x02000002]);
    expect([e.kind, e.addr, e.addr2, e.aperture]).toEqual([EntryKind.Table, 0x1000_0000, 0x2_0000_0000, Aperture.Vram]);
  });

  test('GK104 invalid LPTE and GM200 sparse PTE/PDE encodings', () => {
    expect(enc(f, 'LPT', { kind: EntryKind.Blocked })).toEqual(hexWords(0x2, 0)); // gk104_vmm_lpt_invalid: BIT_ULL(1) PRIV
    expect(enc(f, 'SPT', { kind: EntryKind.Sparse })).toEqual(hexWords(0, 0x1)); // gm200_vmm_pgt_sparse: BIT_ULL(32) VOL
    expect(enc(f, 'LPT', { kind: EntryKind.Sparse })).toEqual(hexWords(0, 0x1));
    expect(enc(f, 'PGD', { kind: EntryKind.Sparse })).toEqual(hexWords(0, 0x8)); // gm200_vmm_pgd_sparse: BIT_ULL(35) VOL_BIG
    // PRIV without VALID is only meaningful on an LPTE: on an SPTE it is just not valid.
    expect(dec(f, 'SPT', [0x2, 0]).kind).toBe(EntryKind.Unmapped);
    expect(dec(f, 'LPT', [0x2, 0]).kind).toBe(EntryKind.Blocked);
    // A PDE with a table pointer is a Table even with VOL_BIG set (that is the LPT's VOL bit).
    expect(dec(f, 'PGD', [0x00100002, 0x8]).kind).toBe(EntryKind.Table);
  });
});

describe('nv-gp100 (vmmgp100.c)', () => {
  const f = nvGp100;

  test('geometry: gp100_vmm_desc_12 / gp100_vmm_desc_16', () => {
    expect(f.vaBits).toBe(49);
    expect(f.paBits).toBe(47);
    expect(f.levels.map((l) => [l.name, l.indexBits, l.shift, l.entryBytes, l.tableBytes, l.tableAlign])).toEqual([
      ['SPT', 9, 12, 8, 4 * KiB, 0x1000],
      ['LPT', 5, 16, 8, 256, 0x100],
      ['PD0', 8, 21, 16, 4 * KiB, 0x1000],
      ['PD1', 9, 29, 8, 4 * KiB, 0x1000],
      ['PD2', 9, 38, 8, 4 * KiB, 0x1000],
      ['PD3', 2, 47, 8, 32, 0x1000],
    ]);
    expect(f.isDual(lv(f, 'PD0'))).toBe(true);
    expect(f.levels.filter((_, i) => f.isDual(i)).length).toBe(1);
    expect(f.child(lv(f, 'PD0'))).toBe(lv(f, 'LPT'));
    expect(f.child(lv(f, 'PD3'))).toBe(lv(f, 'PD2'));
    expect(f.pageSizes.map((p) => [p.shift, f.levels[p.level].name])).toEqual([
      [47, 'PD3'], [38, 'PD2'], [29, 'PD1'], [21, 'PD0'], [16, 'LPT'], [12, 'SPT'],
    ]);
  });

  test('PTE bits match gp100_vmm_pgt_pte / gp100_vmm_valid', () => {
    // data = (addr >> 4) | VALID | aper << 1 | vol << 3 | priv << 5 | ro << 6.
    // 0x4001_2345_6000 >> 4 = 0x400_1234_5600; HOST = 2 << 1 = 4: flags 1 + 4 + 8 + 0x20 + 0x40 = 0x6d.
    expect(
      enc(f, 'SPT', { kind: EntryKind.Page, addr: 0x4001_2345_6000, aperture: Aperture.Host, volatile: true, privileged: true, readOnly: true }),
    ).toEqual(hexWords(0x1234566d, 0x400));
    expect(enc(f, 'LPT', { kind: EntryKind.Page, addr: 0x7fff_ffff_0000 })).toEqual(hexWords(0xfffff001, 0x7ff));
    // 2 MiB PTE in PD0: VMM_WO128(data, 0). 0x5_0020_0000 >> 4 = 0x5002_0000.
    expect(enc(f, 'PD0', { kind: EntryKind.Page, addr: 0x5_0020_0000 })).toEqual(hexWords(0x50020001, 0, 0, 0));
    expect(dec(f, 'PD0', [0x50020001, 0, 0, 0])).toMatchObject({ kind: EntryKind.Page, addr: 0x5_0020_0000, pageShift: 21 });
  });

  test('PDE bits match gp100_vmm_pde / gp100_vmm_pd0_pde', () => {
    // PD3 → table at 0x1000 in VRAM: (0x1000 >> 4) | 1 << 1.
    expect(enc(f, 'PD3', { kind: EntryKind.Table, addr: 0x1000 })).toEqual(hexWords(0x102, 0));
    // HOST table with VOL (nvkm sets both): 0x4000_0000_0000 >> 4 = 0x400_0000_0000: high 0x400; low 2 << 1 | 8.
    expect(enc(f, 'PD1', { kind: EntryKind.Table, addr: 0x4000_0000_0000, aperture: Aperture.Host, volatile: true })).toEqual(hexWords(0xc, 0x400));
    // PD0: big half (LPT, 256-byte aligned) 0x1_2345_6700 VRAM -> 0x12345670 | 2;
    //      small half (SPT) 0x7_6543_2000 NCOH -> 0x76543200 | 3 << 1.
    expect(
      enc(f, 'PD0', { kind: EntryKind.Table, addr: 0x1_2345_6700, addr2: 0x7_6543_2000, aperture: Aperture.Vram, aperture2: Aperture.HostNonCoherent }),
    ).toEqual(hexWords(0x12345672, 0, 0x76543206, 0));
    const e = dec(f, 'PD0', [0x12345672, 0, 0x76543206, 0]);
    expect([e.kind, e.addr, e.addr2]).toEqual([EntryKind.Table, 0x1_2345_6700, 0x7_6543_2000]);
    // SPT only: the big half is zero.
    expect(enc(f, 'PD0', { kind: EntryKind.Table, addr2: 0x3000 })).toEqual(hexWords(0, 0, 0x302, 0));
  });

  test('sparse and invalid encodings match gp100_vmm_*_sparse / gp100_vmm_lpt_invalid', () => {
    expect(enc(f, 'SPT', { kind: EntryKind.Sparse })).toEqual(hexWords(0x8, 0)); // BIT_ULL(3) VOL
    expect(enc(f, 'LPT', { kind: EntryKind.Sparse })).toEqual(hexWords(0x8, 0));
    expect(enc(f, 'LPT', { kind: EntryKind.Blocked })).toEqual(hexWords(0x20, 0)); // BIT_ULL(5) PRIV
    expect(enc(f, 'PD0', { kind: EntryKind.Sparse })).toEqual(hexWords(0x8, 0, 0, 0)); // VMM_FO128(BIT_ULL(3), 0)
    for (const pd of ['PD1', 'PD2', 'PD3']) expect(enc(f, pd, { kind: EntryKind.Sparse })).toEqual(hexWords(0x8, 0));
    expect(dec(f, 'SPT', [0x20, 0]).kind).toBe(EntryKind.Unmapped);
  });
});

describe('arm-lpae-4k (io-pgtable-arm.c)', () => {
  const f = armLpae4k;

  test('geometry: 4 levels of 9 bits over 4 KiB pages', () => {
    expect([f.vaBits, f.paBits, f.largeLeaf]).toEqual([48, 48, -1]);
    expect(f.levels.map((l) => [l.name, l.shift, l.tableBytes])).toEqual([
      ['L3', 12, 4 * KiB],
      ['L2', 21, 4 * KiB],
      ['L1', 30, 4 * KiB],
      ['L0', 39, 4 * KiB],
    ]);
    expect(f.pageSizes.map((p) => [p.shift, f.levels[p.level].name])).toEqual([[30, 'L1'], [21, 'L2'], [12, 'L3']]);
    expect(f.levels.some((_, i) => f.isDual(i))).toBe(false);
  });

  test('descriptor bits match arm_lpae_prot_to_pte + arm_lpae_init_pte', () => {
    // IOMMU_READ|IOMMU_WRITE, stage 1: AP_UNPRIV (1 << 6) | nG (1 << 11); init_pte adds
    // TYPE_PAGE (3) | AF (1 << 10) | SH_IS (3 << 8): 0x40 + 0x800 + 3 + 0x400 + 0x300 = 0xf43.
    expect(enc(f, 'L3', { kind: EntryKind.Page, addr: 0x8000_1234_5000 })).toEqual(hexWords(0x12345f43, 0x8000));
    // IOMMU_READ only + IOMMU_PRIV: AP_RDONLY (2 << 6), no AP_UNPRIV: 0xf03 + 0x80.
    expect(enc(f, 'L3', { kind: EntryKind.Page, addr: 0x1000, readOnly: true, privileged: true })).toEqual(hexWords(0x1f83, 0));
    // 2 MiB block at L2: TYPE_BLOCK (1).
    expect(enc(f, 'L2', { kind: EntryKind.Page, addr: 0x4020_0000 })).toEqual(hexWords(0x40200f41, 0));
    expect(enc(f, 'L1', { kind: EntryKind.Page, addr: 0xffff_c000_0000 })).toEqual(hexWords(0xc0000f41, 0xffff));
    // Table: __pa(cptep) | ARM_LPAE_PTE_TYPE_TABLE.
    expect(enc(f, 'L0', { kind: EntryKind.Table, addr: 0x4_0000_0000 })).toEqual(hexWords(0x3, 0x4));
  });

  test('decode: AP bits, AF, and reserved types', () => {
    expect(dec(f, 'L3', [0x12345f43, 0x8000])).toEqual({
      kind: EntryKind.Page, addr: 0x8000_1234_5000, addr2: -1, pageShift: 12, readOnly: false, privileged: false, volatile: false, aperture: Aperture.Vram,
    });
    expect(dec(f, 'L3', [0x1f83, 0])).toMatchObject({ kind: EntryKind.Page, readOnly: true, privileged: true });
    // AF = 0: an Access Flag fault on hardware; modelled as Unmapped.
    expect(dec(f, 'L3', [0x12345b43, 0x8000]).kind).toBe(EntryKind.Unmapped);
    expect(dec(f, 'L2', [0x40200b41, 0]).kind).toBe(EntryKind.Unmapped);
    // Type 1 is reserved at L3 and at L0 (no 512 GiB blocks with a 4 KiB granule).
    expect(dec(f, 'L3', [0x12345f41, 0]).kind).toBe(EntryKind.Unmapped);
    expect(dec(f, 'L0', [0x40000f41, 0]).kind).toBe(EntryKind.Unmapped);
    // Type 3 at L2 is a table (attributes ignored); type 2 is invalid everywhere.
    expect(dec(f, 'L2', [0x5003, 0x1])).toMatchObject({ kind: EntryKind.Table, addr: 0x1_0000_5000 });
    for (const l of ['L0', 'L1', 'L2', 'L3']) expect(dec(f, l, [0x5f42, 0]).kind).toBe(EntryKind.Unmapped);
    // Block address bits below the block size are RES0 and ignored.
    expect(dec(f, 'L2', [0x40201f41, 0])).toMatchObject({ kind: EntryKind.Page, addr: 0x4020_0000, pageShift: 21 });
  });

  test('no sparse or blocked states', () => {
    const w = new Uint32Array(4);
    for (let i = 0; i < f.levels.length; i++) {
      expect(() => f.encode(i, { kind: EntryKind.Sparse }, w)).toThrow(SimInvariantError);
      expect(() => f.encode(i, { kind: EntryKind.Blocked }, w)).toThrow(SimInvariantError);
    }
  });
});

// ---- tables in memory ----

/** Reads the words of the entry for `va` at `level` straight from memory. */
function memWords(b: PageTableBuilder, va: number, level: string): string[] {
  const l = lv(b.format, level);
  const at = b.entryAddr(va, l)!;
  const out: number[] = [];
  for (let i = 0; i < b.format.levels[l].entryBytes / 4; i++) out.push(b.mem.read32(at + 4 * i));
  return hexWords(...out);
}

describe('hand-built tables translate (PageTableBuilder)', () => {
  const ARENA = 0x10_0000_0000; // tables at 64 GiB

  describe('nv-gf100', () => {
    const f = nvGf100_128k;

    test('4 KiB page: PGD + SPT = 2 reads; bytes in memory are the codec encoding', () => {
      const mem = new PhysicalMemory();
      const b = new PageTableBuilder(mem, f, ARENA);
      expect(b.root % 0x1000).toBe(0);
      const va = 0xab_cdef_3000;
      const pa = 0x80_0000_7000; // 2^39 + 28 KiB
      b.map(va, pa, 12, { readOnly: true });
      expect(b.translate(va + 0x123)).toEqual({
        kind: 'page', pa: pa + 0x123, pageShift: 12, reads: 2, readOnly: true, privileged: false, aperture: Aperture.Vram, level: 'SPT',
      });
      // PGD entry: SPT pointer only (high word), LPT half empty.
      const spt = b.entryAddr(va, 'SPT')! - levelIndex(f.levels[0], va) * 8;
      expect(memWords(b, va, 'PGD')).toEqual(hexWords(0, spt / 256 + 1));
      expect(memWords(b, va, 'SPT')).toEqual(hexWords(pa / 256 + 1 + 4, 0));
      // Neighbouring VA in the same SPT is not mapped.
      expect(b.translate(va + 0x1000)).toMatchObject({ kind: 'fault', reads: 2 });
      // A VA under an empty PGD entry faults after one read.
      expect(b.translate(0x1000)).toMatchObject({ kind: 'fault', reads: 1, level: 'PGD' });
    });

    test('128 KiB page: PGD + LPT = 2 reads', () => {
      const b = new PageTableBuilder(new PhysicalMemory(), f, ARENA);
      const va = 0x12_3456_0000 - (0x12_3456_0000 % (128 * KiB));
      b.map(va, 0xff_fffe_0000, 17, { privileged: true, aperture: Aperture.Host });
      expect(b.translate(va + 0x1_fff8)).toEqual({
        kind: 'page', pa: 0xff_fffe_0000 + 0x1_fff8, pageShift: 17, reads: 2, readOnly: false, privileged: true, aperture: Aperture.Host, level: 'LPT',
      });
    });

    test('LPTE state machine: Unmapped falls through to the SPT (3 reads), Blocked faults, Sparse is sparse', () => {
      const mem = new PhysicalMemory();
      const b = new PageTableBuilder(mem, f, ARENA);
      const big = 0x40_0000_0000; // a 128 KiB-aligned VA
      // A 128 KiB page at big, then a 4 KiB page in the *next* 128 KiB: the PGD entry gets both pointers.
      b.map(big, 0x1_0000_0000, 17);
      const lptPtr = b.read(b.entryAddr(big, 'PGD')!, lv(f, 'PGD')).addr;
      const small = big + 128 * KiB + 0x5000;
      b.map(small, 0x2_0000_5000, 12);
      const pde = b.read(b.entryAddr(big, 'PGD')!, lv(f, 'PGD'));
      expect(pde.addr).toBe(lptPtr); // adding the SPT kept the LPT pointer
      expect(pde.addr2).toBeGreaterThanOrEqual(0);

      // LPTE valid: 2 reads, the SPT is never looked at.
      expect(b.translate(big + 0x42)).toMatchObject({ kind: 'page', pa: 0x1_0000_0042, reads: 2, level: 'LPT' });
      // LPTE unmapped (all zero) -> SPTE: 3 reads.
      expect(memWords(b, small, 'LPT')).toEqual(hexWords(0, 0));
      expect(b.translate(small + 7)).toMatchObject({ kind: 'page', pa: 0x2_0000_5007, pageShift: 12, reads: 3, level: 'SPT' });
      // LPTE unmapped and SPTE unmapped: fault after 3 reads.
      expect(b.translate(small + 0x1000)).toMatchObject({ kind: 'fault', reads: 3, level: 'SPT' });

      // Blocked (GK104 "invalid") LPTE: fault without reading the SPT, even though the SPTE maps.
      b.setBlocked(small);
      expect(memWords(b, small, 'LPT')).toEqual(hexWords(0x2, 0));
      expect(b.translate(small + 7)).toMatchObject({ kind: 'fault', reads: 2, level: 'LPT' });

      // Sparse LPTE: sparse, 2 reads.
      b.setSparse(small, 'LPT');
      expect(memWords(b, small, 'LPT')).toEqual(hexWords(0, 0x1));
      expect(b.translate(small + 7)).toEqual({ kind: 'sparse', reads: 2, level: 'LPT' });

      // Back to unmapped: the SPTE decides again.
      b.unmap(small - 0x5000, 17);
      expect(b.translate(small + 7)).toMatchObject({ kind: 'page', reads: 3 });

      // Sparse SPTE under an unmapped LPTE: sparse after 3 reads.
      b.setSparse(small + 0x1000, 'SPT');
      expect(b.translate(small + 0x1000)).toEqual({ kind: 'sparse', reads: 3, level: 'SPT' });

      // Sparse PDE: sparse after 1 read.
      b.setSparse(0x80_0000_0000, 'PGD');
      expect(memWords(b, 0x80_0000_0000, 'PGD')).toEqual(hexWords(0, 0x8));
      expect(b.translate(0x80_0123_4567)).toEqual({ kind: 'sparse', reads: 1, level: 'PGD' });
    });

    test('adding an LPT keeps an existing SPT pointer', () => {
      const b = new PageTableBuilder(new PhysicalMemory(), f, ARENA);
      b.map(0x3000, 0x9000, 12);
      const spt = b.read(b.entryAddr(0, 'PGD')!, lv(f, 'PGD')).addr2;
      b.map(0x20000, 0x40000, 17);
      const pde = b.read(b.entryAddr(0, 'PGD')!, lv(f, 'PGD'));
      expect(pde.addr2).toBe(spt);
      expect(pde.addr).toBeGreaterThanOrEqual(0);
      expect(b.translate(0x3010)).toMatchObject({ kind: 'page', pa: 0x9010, reads: 3 });
      expect(b.translate(0x20010)).toMatchObject({ kind: 'page', pa: 0x40010, reads: 2 });
    });

    test('nv-gf100-64k: 64 KiB and 4 KiB pages', () => {
      const g = nvGf100_64k;
      const b = new PageTableBuilder(new PhysicalMemory(), g, ARENA);
      b.map(0xff_ffff_0000, 0x80_0001_0000, 16);
      b.map(0x3_0000_1000, 0x5000, 12);
      expect(b.translate(0xff_ffff_fffc)).toMatchObject({ kind: 'page', pa: 0x80_0001_fffc, pageShift: 16, reads: 2 });
      expect(b.translate(0x3_0000_1004)).toMatchObject({ kind: 'page', pa: 0x5004, pageShift: 12, reads: 2 });
      expect(levelIndex(g.levels[lv(g, 'PGD')], 0xff_ffff_0000)).toBe(2 ** 14 - 1);
    });
  });

  describe('nv-gp100', () => {
    const f = nvGp100;

    test('ACCEPTANCE: 4 KiB page = 5 reads (PD3, PD2, PD1, PD0, SPT) with no LPT pointer', () => {
      const mem = new PhysicalMemory();
      const b = new PageTableBuilder(mem, f, ARENA);
      const va = 0x1_2345_6789_a000; // near the top of the 49-bit VA
      const pa = 0x4000_0000_3000; // 2^46 + 12 KiB
      b.map(va, pa, 12, { privileged: true, aperture: Aperture.HostNonCoherent });
      expect(b.translate(va + 0xfff)).toEqual({
        kind: 'page', pa: pa + 0xfff, pageShift: 12, reads: 5, readOnly: false, privileged: true, aperture: Aperture.HostNonCoherent, level: 'SPT',
      });
      const pd0 = memWords(b, va, 'PD0');
      expect(pd0.slice(0, 2)).toEqual(hexWords(0, 0)); // no LPT half
      expect(b.read(b.entryAddr(va, 'PD0')!, lv(f, 'PD0')).addr).toBe(-1);
      // The SPTE in memory is the gp100_vmm_pgt_pte encoding: (pa >> 4) | VALID | NCOH << 1 | PRIV.
      expect(memWords(b, va, 'SPT')).toEqual(hexWords((pa / 16) % 2 ** 32 + 1 + 6 + 0x20, Math.floor(pa / 2 ** 36)));
    });

    test('64 KiB page = 5 reads; 2 MiB PD0 page = 4 reads', () => {
      const b = new PageTableBuilder(new PhysicalMemory(), f, ARENA);
      b.map(0x7000_0001_0000, 0x10_0003_0000, 16, { readOnly: true });
      b.map(0x1_0000_0020_0000, 0x7fff_ffe0_0000, 21);
      expect(b.translate(0x7000_0001_fffe)).toMatchObject({ kind: 'page', pa: 0x10_0003_fffe, pageShift: 16, reads: 5, readOnly: true, level: 'LPT' });
      expect(b.translate(0x1_0000_003f_ffff)).toMatchObject({ kind: 'page', pa: 0x7fff_ffff_ffff, pageShift: 21, reads: 4, level: 'PD0' });
    });

    test('LPTE state machine through memory (6 reads when the LPTE is unmapped)', () => {
      const b = new PageTableBuilder(new PhysicalMemory(), f, ARENA);
      const base = 0x2_0000_0000; // 2 MiB aligned
      b.map(base, 0x100_0000, 16); // LPT created first
      b.map(base + 0x1_0000 + 0x3000, 0x2_0000, 12); // then the SPT: both pointers kept
      const pde = b.read(b.entryAddr(base, 'PD0')!, lv(f, 'PD0'));
      expect(pde.addr).toBeGreaterThanOrEqual(0);
      expect(pde.addr % 0x100).toBe(0);
      expect(pde.addr2).toBeGreaterThanOrEqual(0);
      expect(b.translate(base + 5)).toMatchObject({ kind: 'page', pa: 0x100_0005, reads: 5 });
      expect(b.translate(base + 0x1_3008)).toMatchObject({ kind: 'page', pa: 0x2_0008, reads: 6, level: 'SPT' });
      b.setBlocked(base + 0x1_0000);
      expect(memWords(b, base + 0x1_0000, 'LPT')).toEqual(hexWords(0x20, 0));
      expect(b.translate(base + 0x1_3008)).toMatchObject({ kind: 'fault', reads: 5, level: 'LPT' });
      b.setSparse(base + 0x1_0000, 'LPT');
      expect(b.translate(base + 0x1_3008)).toEqual({ kind: 'sparse', reads: 5, level: 'LPT' });
    });

    test('sparse at every PDE level', () => {
      const b = new PageTableBuilder(new PhysicalMemory(), f, ARENA);
      b.setSparse(0x1_8000_0000_0000, 'PD3');
      expect(b.translate(0x1_8000_1234_5678)).toEqual({ kind: 'sparse', reads: 1, level: 'PD3' });
      b.setSparse(0x40_0000_0000, 'PD2');
      expect(b.translate(0x40_0000_1000)).toEqual({ kind: 'sparse', reads: 2, level: 'PD2' });
      b.setSparse(0x2000_0000, 'PD1');
      expect(b.translate(0x2000_1000)).toEqual({ kind: 'sparse', reads: 3, level: 'PD1' });
      b.setSparse(0x20_0000, 'PD0');
      expect(memWords(b, 0x20_0000, 'PD0')).toEqual(hexWords(0x8, 0, 0, 0));
      expect(b.translate(0x20_1000)).toEqual({ kind: 'sparse', reads: 4, level: 'PD0' });
      b.setSparse(0x40_0000, 'SPT');
      expect(b.translate(0x40_0000)).toEqual({ kind: 'sparse', reads: 5, level: 'SPT' });
    });
  });

  describe('arm-lpae-4k', () => {
    const f = armLpae4k;

    test('ACCEPTANCE: 4 KiB page = 4 reads, 2 MiB block = 3, 1 GiB block = 2', () => {
      const mem = new PhysicalMemory();
      const b = new PageTableBuilder(mem, f, ARENA);
      b.map(0xffff_ffff_f000, 0x8000_0000_1000, 12, { readOnly: true }); // 2^47 + 4 KiB
      b.map(0x7f_8020_0000, 0xff_ffe0_0000, 21);
      b.map(0x1_4000_0000, 0x8000_4000_0000, 30, { privileged: true });
      expect(b.translate(0xffff_ffff_fabc)).toEqual({
        kind: 'page', pa: 0x8000_0000_1abc, pageShift: 12, reads: 4, readOnly: true, privileged: false, aperture: Aperture.Vram, level: 'L3',
      });
      expect(b.translate(0x7f_803f_ffff)).toMatchObject({ kind: 'page', pa: 0xff_ffff_ffff, pageShift: 21, reads: 3, level: 'L2' });
      expect(b.translate(0x1_7fff_fff0)).toMatchObject({ kind: 'page', pa: 0x8000_7fff_fff0, pageShift: 30, reads: 2, privileged: true, level: 'L1' });
      expect(memWords(b, 0xffff_ffff_f000, 'L3')).toEqual(hexWords(0x00001fc3, 0x8000)); // RO, unpriv: 0xf43 + 0x80
      expect(b.translate(0x100_0000_2000)).toMatchObject({ kind: 'fault', reads: 1, level: 'L0' }); // empty L0 entry
      expect(b.translate(0x2000)).toMatchObject({ kind: 'fault', reads: 2, level: 'L1' }); // same L0 entry as the 1 GiB block
      b.unmap(0xffff_ffff_f000, 12);
      expect(b.translate(0xffff_ffff_f000)).toMatchObject({ kind: 'fault', reads: 4 });
    });

    test('a leaf with AF = 0 faults', () => {
      const mem = new PhysicalMemory();
      const b = new PageTableBuilder(mem, f, ARENA);
      b.map(0x4000_0000, 0x8000_0000, 21);
      const at = b.entryAddr(0x4000_0000, 'L2')!;
      mem.write32(at, mem.read32(at) & ~0x400);
      expect(b.translate(0x4000_0000)).toMatchObject({ kind: 'fault', reads: 3, level: 'L2' });
    });

    test('setSparse and setBlocked are refused', () => {
      const b = new PageTableBuilder(new PhysicalMemory(), f, ARENA);
      expect(() => b.setSparse(0x1000, 'L3')).toThrow(SimInvariantError);
      expect(() => b.setBlocked(0x1000)).toThrow(/no LPT/);
    });
  });

  test('tables are aligned and placed above the arena base', () => {
    for (const name of FORMAT_NAMES) {
      const f = getFormat(name);
      const b = new PageTableBuilder(new PhysicalMemory(), f, ARENA + 8);
      expect(b.root % f.levels[f.root].tableAlign).toBe(0);
      expect(b.root).toBeGreaterThanOrEqual(ARENA + 8);
      const page = 2 ** f.levels[f.smallLeaf].shift;
      b.map(page, page, f.levels[f.smallLeaf].shift);
      const leaf = b.entryAddr(page, f.smallLeaf)!;
      expect(leaf).toBeGreaterThan(b.root);
      expect(b.arenaEnd).toBeGreaterThan(leaf);
      expect(b.translate(page)).toMatchObject({ kind: 'page', pa: page, reads: f.levels.length - (f.largeLeaf >= 0 ? 1 : 0) });
    }
  });
});
