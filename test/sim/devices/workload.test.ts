import { Rng } from '../../../sim/engine/rng';
import { SimInvariantError } from '../../../sim/engine/errors';
import {
  createWorkload, newAccessSlot, validateWorkloadSpec, workloadPassAccesses, workloadRange, zeta, ZipfSampler,
  type AccessSlot, type Workload, type WorkloadSpec,
} from '../../../sim/devices/workload';

const BASE = 0x8000_0000;

interface Acc { addr: number; size: number; write: boolean }

/** Pulls up to `n` accesses (fewer if the workload ends). */
function take(w: Workload, n: number): Acc[] {
  const slot = newAccessSlot();
  const out: Acc[] = [];
  while (out.length < n && w.next(slot)) out.push({ addr: slot.addr, size: slot.size, write: slot.write });
  return out;
}

const addrs = (a: Acc[]): number[] => a.map((x) => x.addr);
const W = (spec: WorkloadSpec, seed = 1): Workload => createWorkload(spec, new Rng(seed));

describe('sequential', () => {
  test('walks the footprint block by block and wraps; stops after `accesses`', () => {
    const w = W({ kind: 'sequential', base: BASE, footprint: 256, accessBytes: 64, accesses: 10 });
    const got = take(w, 100);
    expect(got).toHaveLength(10);
    const expected = Array.from({ length: 10 }, (_v, i) => BASE + (i % 4) * 64);
    expect(addrs(got)).toEqual(expected);
    expect(got.every((a) => a.size === 64 && !a.write)).toBe(true);
    // Exhausted: false, and the slot is left alone.
    const slot: AccessSlot = { addr: 7, size: 7, write: true };
    expect(w.next(slot)).toBe(false);
    expect(slot).toEqual({ addr: 7, size: 7, write: true });
  });

  test('unlimited by default', () => {
    const w = W({ kind: 'sequential', base: 0, footprint: 4096, accessBytes: 128 });
    const got = take(w, 100);
    expect(got).toHaveLength(100);
    expect(got[99].addr).toBe((99 % 32) * 128);
  });
});

describe('strided', () => {
  /** Reference: step by the stride modulo N; when the next block was already visited in this pass, start one block further. */
  function reference(nBlocks: number, strideBlocks: number, ab: number, count: number): number[] {
    const out: number[] = [];
    let visited = new Set<number>();
    let start = 0;
    let pos = 0;
    for (let i = 0; i < count; i++) {
      out.push(pos * ab);
      visited.add(pos);
      if (visited.size === nBlocks) {
        visited = new Set();
        start = 0;
        pos = 0;
        continue;
      }
      const nxt = (pos + strideBlocks) % nBlocks;
      if (visited.has(nxt)) pos = ++start;
      else pos = nxt;
    }
    return out;
  }

  test('a stride dividing the footprint walks column by column (4 KiB, 64 B, stride 1 KiB)', () => {
    const w = W({ kind: 'strided', base: BASE, footprint: 4096, accessBytes: 64, strideBytes: 1024 });
    const got = addrs(take(w, 64 + 5)).map((a) => a - BASE);
    // Column-major over a 4 × 16 matrix of 64-byte blocks with a 1 KiB row pitch, then again.
    const expected: number[] = [];
    for (let col = 0; col < 16; col++) for (let row = 0; row < 4; row++) expected.push(row * 1024 + col * 64);
    expect(got.slice(0, 64)).toEqual(expected);
    expect(got.slice(64)).toEqual(expected.slice(0, 5));
    expect(new Set(got.slice(0, 64)).size).toBe(64);
  });

  test.each([
    [16, 3], [16, 6], [12, 8], [10, 4], [7, 7], [9, 23],
  ])('N=%i blocks, stride %i blocks: matches the reference walk and wraps', (n, s) => {
    const ab = 32;
    const w = W({ kind: 'strided', base: 0, footprint: n * ab, accessBytes: ab, strideBytes: s * ab, accesses: 3 * n });
    const got = addrs(take(w, 10 * n));
    expect(got).toHaveLength(3 * n);
    const ref = reference(n, s % n, ab, n);
    expect(got.slice(0, n)).toEqual(ref);
    expect(got.slice(n, 2 * n)).toEqual(ref);
    expect(new Set(ref).size).toBe(n);
  });

  test('a coprime stride is the plain modular walk', () => {
    const w = W({ kind: 'strided', base: 0x1000, footprint: 1024, accessBytes: 64, strideBytes: 192 });
    const got = addrs(take(w, 17));
    expect(got).toEqual(Array.from({ length: 17 }, (_v, i) => 0x1000 + ((i * 192) % 1024)));
  });
});

describe('random', () => {
  const spec: WorkloadSpec = { kind: 'random', base: BASE, footprint: 16 * 64, accessBytes: 64 };

  test('stays inside the footprint, aligned, near-uniform over blocks', () => {
    const got = addrs(take(W(spec, 5), 32000));
    const counts = new Array(16).fill(0);
    let bad = 0;
    for (const a of got) {
      if (a < BASE || a >= BASE + 1024 || (a - BASE) % 64 !== 0) bad++;
      else counts[(a - BASE) / 64]++;
    }
    expect(bad).toBe(0);
    // 2000 expected per block, σ ≈ 43: allow 5σ.
    for (const c of counts) expect(Math.abs(c - 2000)).toBeLessThan(220);
  });

  test('deterministic per seed; different seeds differ; reset replays', () => {
    const a = take(W(spec, 9), 200);
    expect(take(W(spec, 9), 200)).toEqual(a);
    expect(addrs(take(W(spec, 10), 200))).not.toEqual(addrs(a));
    const w = W({ ...spec, readFraction: 0.5 }, 3);
    const first = take(w, 300);
    w.reset();
    expect(take(w, 300)).toEqual(first);
  });

  test('footprints of more than 2^32 blocks reach blocks above 2^32', () => {
    const blocks = 2 ** 34;
    const w = W({ kind: 'random', base: 0, footprint: blocks * 64, accessBytes: 64 }, 4);
    const got = addrs(take(w, 1000));
    expect(got.every((a) => a % 64 === 0 && a < blocks * 64)).toBe(true);
    // Uniform over 2^34 blocks: about 3/4 of the samples fall above block 2^32.
    const high = got.filter((a) => a / 64 >= 2 ** 32).length;
    expect(high).toBeGreaterThan(650);
    expect(high).toBeLessThan(850);
  });
});

describe('zipf', () => {
  function exactZeta(n: number, theta: number): number {
    let s = 0;
    for (let i = 1; i <= n; i++) s += 1 / i ** theta;
    return s;
  }

  test('ζ(n, θ): Euler–Maclaurin tail agrees with the exact sum for n = 3,000,000', () => {
    for (const theta of [0.5, 0.99]) {
      const exact = exactZeta(3_000_000, theta);
      expect(Math.abs(zeta(3_000_000, theta) - exact) / exact).toBeLessThan(1e-12);
    }
    expect(zeta(3, 0.5)).toBeCloseTo(1 + 1 / Math.SQRT2 + 1 / Math.sqrt(3), 14);
  });

  test.each([[0.99, 1000], [0.5, 5000]])('θ=%f, N=%i: ranks 1 and 2 have frequency 1/(k^θ ζ(N,θ)) over 100k samples', (theta, n) => {
    const ab = 64;
    const w = W({ kind: 'zipf', base: BASE, footprint: n * ab, accessBytes: ab, theta }, 21);
    const samples = 100_000;
    const counts = new Float64Array(n);
    let bad = 0;
    for (const a of addrs(take(w, samples))) {
      const block = (a - BASE) / ab;
      if (Number.isInteger(block) && block >= 0 && block < n) counts[block]++;
      else bad++;
    }
    expect(bad).toBe(0);
    const z = exactZeta(n, theta);
    for (const k of [1, 2]) {
      const p = 1 / (k ** theta * z);
      const sigma = Math.sqrt((p * (1 - p)) / samples);
      expect(Math.abs(counts[k - 1] / samples - p)).toBeLessThan(5 * sigma);
    }
    // The head of the distribution (Gray's approximation above rank 2): mass of the first 10% of ranks.
    const head = Math.floor(n / 10);
    let pHead = 0;
    for (let k = 1; k <= head; k++) pHead += 1 / (k ** theta * z);
    let got = 0;
    for (let k = 0; k < head; k++) got += counts[k];
    expect(Math.abs(got / samples - pHead) / pHead).toBeLessThan(0.03);
    // Popularity falls with rank: the first 10 blocks each beat the median block.
    const sorted = Array.from(counts).sort((x, y) => x - y);
    for (let k = 0; k < 10; k++) expect(counts[k]).toBeGreaterThan(sorted[n >> 1]);
  });

  test('deterministic per seed', () => {
    const spec: WorkloadSpec = { kind: 'zipf', base: 0, footprint: 1 << 20, accessBytes: 64, theta: 0.9 };
    expect(take(W(spec, 4), 500)).toEqual(take(W(spec, 4), 500));
    expect(addrs(take(W(spec, 4), 500))).not.toEqual(addrs(take(W(spec, 5), 500)));
  });

  test('sampler edge cases: N=1 is always rank 0, N=2 gives ranks 0 and 1 in ratio 1 : 2^-θ', () => {
    const one = new ZipfSampler(1, 0.99);
    expect([0, 0.3, 0.999999].map((u) => one.sample(u))).toEqual([0, 0, 0]);
    const two = new ZipfSampler(2, 0.5);
    const p0 = 1 / (1 + 2 ** -0.5);
    expect(two.sample(p0 - 1e-9)).toBe(0);
    expect(two.sample(p0 + 1e-9)).toBe(1);
    expect(two.sample(0.9999999)).toBe(1);
    const big = new ZipfSampler(1000, 0.99);
    expect(big.sample(0.9999999999)).toBeLessThan(1000);
    expect(() => new ZipfSampler(10, 1)).toThrow(SimInvariantError);
  });
});

describe('ring', () => {
  const tag = (a: Acc[]): string[] => a.map((x) => `${x.write ? 'W' : 'R'}${x.addr - BASE}`);

  test('exact 50/50 mix: producer and consumer wrap around a 4-slot ring', () => {
    const w = W({ kind: 'ring', base: BASE, footprint: 256, accessBytes: 64, mix: 'exact' });
    // Mix R W R W …; the first read finds the ring empty and becomes a write.
    expect(tag(take(w, 12))).toEqual(['W0', 'W64', 'R0', 'W128', 'R64', 'W192', 'R128', 'W0', 'R192', 'W64', 'R0', 'W128']);
  });

  test('all writes: a full ring turns writes into reads', () => {
    const w = W({ kind: 'ring', base: BASE, footprint: 256, accessBytes: 64, readFraction: 0 });
    expect(tag(take(w, 8))).toEqual(['W0', 'W64', 'W128', 'W192', 'R0', 'W0', 'R64', 'W64']);
  });

  test('random mix: reads consume exactly the written slots, in FIFO order, never ahead of the producer', () => {
    const n = 8;
    const w = W({ kind: 'ring', base: BASE, footprint: n * 64, accessBytes: 64, readFraction: 0.45 }, 77);
    const got = take(w, 5000);
    const writes = got.filter((a) => a.write).map((a) => a.addr);
    const reads = got.filter((a) => !a.write).map((a) => a.addr);
    let fill = 0;
    let minFill = 0;
    let maxFill = 0;
    for (const a of got) {
      fill += a.write ? 1 : -1;
      minFill = Math.min(minFill, fill);
      maxFill = Math.max(maxFill, fill);
    }
    expect(minFill).toBe(0);
    expect(maxFill).toBe(n);
    expect(reads).toEqual(writes.slice(0, reads.length));
    expect(writes.slice(0, 20)).toEqual(Array.from({ length: 20 }, (_v, i) => BASE + (i % n) * 64));
  });
});

describe('tiled2d', () => {
  // 2 × 2 tiles of 128 bytes × 2 rows on a 256-byte-pitch, 4-row surface, 64-byte accesses.
  const spec: WorkloadSpec = { kind: 'tiled2d', base: BASE, accessBytes: 64, widthBytes: 256, height: 4, tileWidthBytes: 128, tileHeight: 2 };

  test('tile by tile, row by row inside a tile (literal 2×2-tile example)', () => {
    const got = addrs(take(W(spec), 20)).map((a) => a - BASE);
    const tile0 = [0, 64, 256, 320];
    const tile1 = [128, 192, 384, 448];
    const tile2 = [512, 576, 768, 832];
    const tile3 = [640, 704, 896, 960];
    expect(got).toEqual([...tile0, ...tile1, ...tile2, ...tile3, ...tile0]);
  });

  test('general shape against nested loops; startTile rotates the walk', () => {
    const s = { kind: 'tiled2d' as const, base: 0x10000, accessBytes: 32, widthBytes: 384, height: 6, tileWidthBytes: 128, tileHeight: 3 };
    const order: number[] = [];
    for (let ty = 0; ty < 2; ty++) {
      for (let tx = 0; tx < 3; tx++) {
        for (let r = 0; r < 3; r++) for (let c = 0; c < 4; c++) order.push(0x10000 + (ty * 3 + r) * 384 + tx * 128 + c * 32);
      }
    }
    const perTile = 12;
    expect(addrs(take(W(s), order.length))).toEqual(order);
    const rotated = [...order.slice(4 * perTile), ...order.slice(0, 4 * perTile)];
    expect(addrs(take(W({ ...s, startTile: 4 }), order.length))).toEqual(rotated);
    expect(workloadPassAccesses(s)).toBe(order.length);
    expect(workloadRange(s)).toEqual({ base: 0x10000, bytes: 384 * 6 });
  });
});

describe('trace', () => {
  const records = [
    { addr: 0x100, size: 4, write: false },
    { addr: 0x2000, size: 64, write: true },
    { addr: 0x40, size: 8, write: false },
  ];

  test('replays the records once by default, and wraps with a larger `accesses`', () => {
    expect(take(W({ kind: 'trace', records }), 10)).toEqual(records);
    expect(take(W({ kind: 'trace', records, accesses: 7 }), 10)).toEqual([...records, ...records, records[0]]);
    expect(workloadRange({ kind: 'trace', records })).toEqual({ base: 0x40, bytes: 0x2040 - 0x40 });
  });
});

describe('read/write mix', () => {
  test('random mix: read fraction within 1% over 50k accesses', () => {
    for (const rf of [0.7, 0.2]) {
      const got = take(W({ kind: 'sequential', base: 0, footprint: 1 << 16, accessBytes: 64, readFraction: rf }, 8), 50_000);
      const reads = got.filter((a) => !a.write).length / got.length;
      expect(Math.abs(reads - rf)).toBeLessThan(0.01);
    }
  });

  test('exact mix: writes among the first i accesses = floor(i × (1 − readFraction))', () => {
    const got = take(W({ kind: 'random', base: 0, footprint: 4096, accessBytes: 64, readFraction: 0.7, mix: 'exact' }), 1000);
    let writes = 0;
    const mismatches: number[] = [];
    for (let i = 1; i <= 1000; i++) {
      if (got[i - 1].write) writes++;
      if (writes !== Math.floor((i * 3) / 10)) mismatches.push(i);
    }
    expect(mismatches).toEqual([]);
    expect(writes).toBe(300);
  });

  test('readFraction 0 and 1 are all writes and all reads', () => {
    expect(take(W({ kind: 'random', base: 0, footprint: 4096, accessBytes: 64, readFraction: 0 }), 100).every((a) => a.write)).toBe(true);
    expect(take(W({ kind: 'zipf', base: 0, footprint: 4096, accessBytes: 64, theta: 0.5 }), 100).every((a) => !a.write)).toBe(true);
  });
});

describe('validation', () => {
  const seq = { kind: 'sequential' as const, base: 0, footprint: 4096, accessBytes: 64 };
  test.each<[string, unknown]>([
    ['kind', { ...seq, kind: 'linear' }],
    ['accessBytes', { ...seq, accessBytes: 48 }],
    ['base', { ...seq, base: 32 }],
    ['base', { ...seq, base: -64 }],
    ['footprint', { ...seq, footprint: 100 }],
    ['footprint', { ...seq, base: 2 ** 53 - 1024 }],
    ['readFraction', { ...seq, readFraction: 1.5 }],
    ['mix', { ...seq, mix: 'even' }],
    ['accesses', { ...seq, accesses: 2.5 }],
    ['strideBytes', { ...seq, kind: 'strided', strideBytes: 96 }],
    ['theta', { ...seq, kind: 'zipf', theta: 1 }],
    ['theta', { ...seq, kind: 'zipf' }],
    ['widthBytes', { kind: 'tiled2d', base: 0, accessBytes: 64, widthBytes: 300, height: 4, tileWidthBytes: 128, tileHeight: 2 }],
    ['tileWidthBytes', { kind: 'tiled2d', base: 0, accessBytes: 64, widthBytes: 256, height: 4, tileWidthBytes: 96, tileHeight: 2 }],
    ['height', { kind: 'tiled2d', base: 0, accessBytes: 64, widthBytes: 256, height: 5, tileWidthBytes: 128, tileHeight: 2 }],
    ['startTile', { kind: 'tiled2d', base: 0, accessBytes: 64, widthBytes: 256, height: 4, tileWidthBytes: 128, tileHeight: 2, startTile: 4 }],
    ['records', { kind: 'trace', records: [] }],
    ['records[1].size', { kind: 'trace', records: [{ addr: 0, size: 4, write: false }, { addr: 4, size: 0, write: false }] }],
    ['records[0].write', { kind: 'trace', records: [{ addr: 0, size: 4, write: 'yes' }] }],
    // One access is one bus transaction, and none crosses a 4 KiB boundary (sim/bus/boundary.ts).
    ['accessBytes', { ...seq, footprint: 16384, accessBytes: 8192 }],
    ['records[1]', { kind: 'trace', records: [{ addr: 0, size: 4, write: false }, { addr: 0x1_0000_0ffc, size: 8, write: true }] }],
  ])('a bad %s is reported by name', (field, spec) => {
    const msg = validateWorkloadSpec(spec as WorkloadSpec);
    expect(msg).not.toBeNull();
    expect(msg!.startsWith(`${field}: `)).toBe(true);
    expect(() => createWorkload(spec as WorkloadSpec, new Rng(1))).toThrow(SimInvariantError);
  });

  test('valid specs pass', () => {
    expect(validateWorkloadSpec(seq)).toBeNull();
    expect(validateWorkloadSpec({ ...seq, kind: 'zipf', theta: 0 })).toBeNull();
    expect(validateWorkloadSpec({ kind: 'trace', records: [{ addr: 0, size: 3, write: true }] })).toBeNull();
    // Up to a 4 KiB boundary, not across it.
    expect(validateWorkloadSpec({ ...seq, footprint: 8192, accessBytes: 4096 })).toBeNull();
    expect(validateWorkloadSpec({ kind: 'trace', records: [{ addr: 0x1_0000_0ff8, size: 8, write: true }, { addr: 0x1000, size: 4096, write: false }] })).toBeNull();
  });
});
