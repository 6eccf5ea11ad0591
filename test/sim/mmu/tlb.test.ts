import { createSimContext, type SimContext } from '../../../sim/engine/context';
import { SimInvariantError } from '../../../sim/engine/errors';
import { Perm } from '../../../sim/mmu/perms';
import { REPLACEMENTS, Tlb, TlbSpec, pageSizeName, type Replacement, type TlbParams } from '../../../sim/mmu/tlb';
import { firstProblem } from '../../helpers/spec';

const PATH = 'soc.iommu.l2tlb';
const K4 = 4096;
const M2 = 2 * 1024 * 1024;
/** Physical addresses are va + PA_OFFSET (aligned to every page size used here). */
const PA_OFFSET = 2 ** 40;

function params(p: Partial<TlbParams> = {}): TlbParams {
  return { entries: 64, ways: 4, replacement: 'lru', latencyCycles: 2, pageSizes: [2 ** 12], mshrs: 4, ...p };
}

function make(p: Partial<TlbParams> = {}, seed = 1): { ctx: SimContext; tlb: Tlb } {
  const ctx = createSimContext(seed);
  return { ctx, tlb: new Tlb(ctx, PATH, params(p)) };
}

function stat(ctx: SimContext, name: string): number {
  return ctx.stats.value(`${PATH}.${name}`);
}

/** Insert the page of `shift` containing va, mapped to va's page + PA_OFFSET. */
function fill(tlb: Tlb, asid: number, va: number, shift = 12, perms: number = Perm.Read | Perm.Write): void {
  const base = va - (va % 2 ** shift);
  tlb.insert(asid, va, shift, base + PA_OFFSET, perms);
}

/** Lookup; on a miss insert the 4 KiB page (what an owner does after a walk). Returns hit. */
function access(tlb: Tlb, asid: number, va: number): boolean {
  if (tlb.lookup(asid, va)) return true;
  fill(tlb, asid, va);
  return false;
}

/** Which of these pages (4 KiB page numbers, asid 1) the TLB holds, by probe (no side effects). */
function held(tlb: Tlb, pages: number[]): number[] {
  return pages.filter((p) => tlb.probe(1, p * K4));
}

describe('acceptance: analytic cases', () => {
  test.each([4, 16, 32, 64])('fully associative LRU, %i entries: a cyclic sweep over E+1 pages never hits after warm-up', (E) => {
    const { ctx, tlb } = make({ entries: E, ways: E, replacement: 'lru' });
    for (let p = 0; p <= E; p++) access(tlb, 1, p * K4); // warm-up sweep
    ctx.stats.reset();
    for (let sweep = 0; sweep < 10; sweep++) for (let p = 0; p <= E; p++) access(tlb, 1, p * K4 + 8);
    expect(stat(ctx, 'lookups')).toBe(10 * (E + 1));
    expect(stat(ctx, 'hits')).toBe(0);
    expect(stat(ctx, 'misses')).toBe(10 * (E + 1));
    expect(stat(ctx, 'evictions')).toBe(10 * (E + 1));
    expect(tlb.validCount).toBe(E);
    // Control: a sweep over exactly E pages always hits after warm-up.
    ctx.stats.reset();
    tlb.invalidateAll();
    for (let sweep = 0; sweep < 11; sweep++) for (let p = 0; p < E; p++) access(tlb, 1, p * K4);
    expect(stat(ctx, 'hits')).toBe(10 * E);
  });

  const cases: { E: number; ways: number; N: number }[] = [
    { E: 16, ways: 16, N: 64 },
    { E: 32, ways: 32, N: 48 },
    { E: 8, ways: 8, N: 10 },
    { E: 64, ways: 64, N: 256 },
    { E: 64, ways: 4, N: 128 }, // set-associative: each of the 16 sets sees 8 pages uniformly
  ];
  for (const { E, ways, N } of cases) {
    test.each([...REPLACEMENTS])(`uniform random over N=${N} pages, E=${E} (${ways}-way), %s: hit rate E/N ± 0.02`, (replacement) => {
      const { ctx, tlb } = make({ entries: E, ways, replacement });
      const rng = ctx.rng.fork('workload');
      const base = 2 ** 52 - 2 ** 40; // page numbers have bits 31..39 set: no 32-bit truncation anywhere
      for (let i = 0; i < 20 * N; i++) access(tlb, 3, base + rng.nextInt(N) * K4 + rng.nextInt(K4));
      ctx.stats.reset();
      const n = 100_000;
      for (let i = 0; i < n; i++) access(tlb, 3, base + rng.nextInt(N) * K4 + rng.nextInt(K4));
      expect(stat(ctx, 'lookups')).toBe(n);
      const rate = stat(ctx, 'hit_rate');
      expect(Math.abs(rate - E / N)).toBeLessThan(0.02);
      expect(tlb.validCount).toBe(E);
    });
  }

  test('sequential 64-byte accesses over 4 KiB pages hit exactly 63/64', () => {
    const { ctx, tlb } = make({ entries: 64, ways: 4 });
    const pages = 256;
    for (let va = 0x8000_0000; va < 0x8000_0000 + pages * K4; va += 64) access(tlb, 1, va);
    expect(stat(ctx, 'lookups')).toBe(pages * 64);
    expect(stat(ctx, 'hits')).toBe(pages * 63);
    expect(stat(ctx, 'misses')).toBe(pages);
    expect(stat(ctx, 'fills')).toBe(pages);
    expect(stat(ctx, 'fills_4KiB')).toBe(pages);
    expect(stat(ctx, 'hit_rate')).toBe(63 / 64);
  });

  test.each([0x4020_0000, 2 ** 47 + 3 * M2])('a 2 MiB entry at %d hits for all 512 of its 4 KiB sub-pages in a set-associative TLB', (vaBase) => {
    const { ctx, tlb } = make({ entries: 64, ways: 4, pageSizes: [2 ** 12, 2 ** 21] });
    const pa = 0x1_8000_0000 + 7 * M2;
    tlb.insert(5, vaBase + 0x1234, 21, pa, Perm.Read);
    for (let j = 0; j < 512; j++) {
      const va = vaBase + j * K4 + (j % 64) * 64;
      expect(tlb.lookup(5, va)).toBe(true);
      expect(tlb.hitPa).toBe(pa + (va - vaBase));
      expect(tlb.hitPageShift).toBe(21);
      expect(tlb.hitPerms).toBe(Perm.Read);
    }
    expect(stat(ctx, 'lookups')).toBe(512);
    expect(stat(ctx, 'hits')).toBe(512);
    expect(stat(ctx, 'hits_2MiB')).toBe(512);
    expect(stat(ctx, 'hits_4KiB')).toBe(0);
    // Just outside the page: misses on both sides.
    expect(tlb.lookup(5, vaBase - 1)).toBe(false);
    expect(tlb.lookup(5, vaBase + M2)).toBe(false);
    expect(tlb.lookup(6, vaBase)).toBe(false); // other ASID
    expect(stat(ctx, 'misses')).toBe(3);
  });
});

describe('replacement policies on one 4-way set', () => {
  // Fully associative, 4 entries: fills go to ways 0..3 in order (lowest invalid way first).
  // A..I are 4 KiB page numbers 10..18.
  const [A, B, C, D, E, F, G, H, I] = [10, 11, 12, 13, 14, 15, 16, 17, 18];
  const ALL = [A, B, C, D, E, F, G, H, I];

  function setUp(replacement: Replacement, seed = 1): { ctx: SimContext; tlb: Tlb } {
    const r = make({ entries: 4, ways: 4, replacement }, seed);
    for (const p of [A, B, C, D]) fill(r.tlb, 1, p * K4);
    expect(r.tlb.lookup(1, A * K4)).toBe(true); // A is now the most recently used
    return r;
  }

  test('lru evicts the least recently used', () => {
    const { ctx, tlb } = setUp('lru');
    fill(tlb, 1, E * K4);
    expect(held(tlb, ALL)).toEqual([A, C, D, E]); // B was LRU
    expect(tlb.lookup(1, C * K4)).toBe(true);
    fill(tlb, 1, F * K4);
    expect(held(tlb, ALL)).toEqual([A, C, E, F]); // D was LRU
    expect(stat(ctx, 'evictions')).toBe(2);
    expect(stat(ctx, 'evictions_4KiB')).toBe(2);
    expect(stat(ctx, 'fills')).toBe(6);
  });

  test('fifo evicts the oldest fill even if it was just used', () => {
    const { tlb } = setUp('fifo');
    fill(tlb, 1, E * K4);
    expect(held(tlb, ALL)).toEqual([B, C, D, E]); // A: oldest fill, despite the hit
    expect(tlb.lookup(1, C * K4)).toBe(true);
    fill(tlb, 1, F * K4);
    expect(held(tlb, ALL)).toEqual([C, D, E, F]);
  });

  test('tree-PLRU follows the tree bits (worked example)', () => {
    // Bits: root (ways 0-1 vs 2-3), left (0 vs 1), right (2 vs 3); 0 = victim on the left.
    // fill A@0 → root=1 left=1; B@1 → root=1 left=0; C@2 → root=0 right=1; D@3 → root=0 right=0;
    // hit A@0 → root=1 left=1.
    const { tlb } = setUp('plru');
    // Victim: root=1 → right; right=0 → way 2 (C). True LRU would evict B.
    fill(tlb, 1, E * K4); // E@2 → root=0, right=1
    expect(held(tlb, ALL)).toEqual([A, B, D, E]);
    // root=0 → left; left=1 → way 1 (B).
    fill(tlb, 1, F * K4); // F@1 → root=1, left=0
    expect(held(tlb, ALL)).toEqual([A, D, E, F]);
    // root=1 → right; right=1 → way 3 (D).
    fill(tlb, 1, G * K4); // G@3 → root=0, right=0
    expect(held(tlb, ALL)).toEqual([A, E, F, G]);
    // root=0 → left; left=0 → way 0 (A).
    fill(tlb, 1, H * K4);
    expect(held(tlb, ALL)).toEqual([E, F, G, H]);
  });

  test('round-robin cycles through the ways whatever the use', () => {
    const { tlb } = setUp('round-robin');
    const expected = [
      [B, C, D, E], // way 0 (A, despite the hit)
      [C, D, E, F], // way 1
      [D, E, F, G], // way 2
      [E, F, G, H], // way 3
      [F, G, H, I], // way 0 again (E)
    ];
    [E, F, G, H, I].forEach((p, n) => {
      fill(tlb, 1, p * K4);
      expect(held(tlb, ALL)).toEqual(expected[n]);
    });
  });

  test('round-robin and fifo differ after an invalidation leaves a hole', () => {
    for (const [policy, survivors] of [['round-robin', [C, D, E]], ['fifo', [D, E, F]]] as const) {
      const { tlb } = setUp(policy);
      fill(tlb, 1, E * K4); // replaces way 0 (A) in both
      tlb.invalidatePage(1, B * K4); // way 1 now invalid
      fill(tlb, 1, F * K4); // fills the hole, way 1
      fill(tlb, 1, G * K4); // rr: pointer is at way 1 → F goes; fifo: oldest is C → C goes
      expect(held(tlb, ALL).filter((p) => p !== G)).toEqual(survivors);
      expect(tlb.validCount).toBe(4);
    }
  });

  /** Fill `n` new pages into a full 4-way set; returns the way evicted each time. */
  function randomVictims(seed: number, n: number): number[] {
    const { tlb } = make({ entries: 4, ways: 4, replacement: 'random' }, seed);
    const resident = [0, 1, 2, 3];
    resident.forEach((p) => fill(tlb, 1, p * K4));
    const ways: number[] = [];
    for (let next = 4; next < 4 + n; next++) {
      fill(tlb, 1, next * K4);
      const gone = resident.filter((p) => !tlb.probe(1, p * K4));
      expect(gone.length).toBe(1);
      const w = resident.indexOf(gone[0]);
      resident[w] = next;
      ways.push(w);
    }
    return ways;
  }

  test('random is deterministic per seed and spreads over the ways', () => {
    const a = randomVictims(7, 4000);
    expect(randomVictims(7, 4000)).toEqual(a);
    expect(randomVictims(8, 200)).not.toEqual(a.slice(0, 200));
    const counts = [0, 0, 0, 0];
    for (const w of a) counts[w]++;
    for (const c of counts) {
      expect(c).toBeGreaterThan(900);
      expect(c).toBeLessThan(1100);
    }
  });

  test('sets are independent: pages of another set are never victims', () => {
    // 8 entries, 2 sets of 4 ways; even 4 KiB pages go to set 0, odd to set 1.
    const { tlb } = make({ entries: 8, ways: 4, replacement: 'lru' });
    for (const p of [1, 3, 0, 2, 4, 6, 8]) fill(tlb, 1, p * K4);
    expect(held(tlb, [0, 1, 2, 3, 4, 6, 8])).toEqual([1, 2, 3, 4, 6, 8]); // 0 evicted, set 1 untouched
  });

  test('probe gives the lookup answer without stats or replacement updates', () => {
    const { ctx, tlb } = make({ entries: 4, ways: 4, replacement: 'lru' });
    for (const p of [A, B, C, D]) fill(tlb, 1, p * K4);
    expect(tlb.probe(1, A * K4 + 5)).toBe(true);
    expect(tlb.hitPa).toBe(A * K4 + PA_OFFSET + 5);
    expect(tlb.probe(1, E * K4)).toBe(false);
    fill(tlb, 1, E * K4);
    expect(held(tlb, ALL)).toEqual([B, C, D, E]); // A still LRU: probe did not touch it
    expect(stat(ctx, 'lookups')).toBe(0);
    expect(stat(ctx, 'hits')).toBe(0);
    expect(stat(ctx, 'misses')).toBe(0);
  });
});

describe('insert, ASIDs and invalidation', () => {
  test('re-inserting the same page replaces the entry; ASIDs and page sizes keep separate entries', () => {
    const { ctx, tlb } = make({ pageSizes: [2 ** 12, 2 ** 21] });
    tlb.insert(1, 0x5000, 12, 0x10_0000, Perm.Read);
    tlb.insert(1, 0x5abc, 12, 0x20_0000, Perm.Read | Perm.Write);
    expect(tlb.validCount).toBe(1);
    expect(tlb.lookup(1, 0x5010)).toBe(true);
    expect(tlb.hitPa).toBe(0x20_0010);
    expect(tlb.hitPerms).toBe(Perm.Read | Perm.Write);
    expect(stat(ctx, 'fills')).toBe(2);
    expect(stat(ctx, 'evictions')).toBe(0);
    tlb.insert(2, 0x5000, 12, 0x30_0000, Perm.Read);
    expect(tlb.validCount).toBe(2);
    expect(tlb.lookup(1, 0x5008) && tlb.hitPa).toBe(0x20_0008);
    expect(tlb.lookup(2, 0x5008) && tlb.hitPa).toBe(0x30_0008);
    expect(tlb.lookup(3, 0x5008)).toBe(false);
    tlb.insert(1, 0x5000, 21, 0x40_0000, Perm.Read); // same va, other size: a separate entry
    expect(tlb.validCount).toBe(3);
    expect(stat(ctx, 'fills_4KiB')).toBe(3);
    expect(stat(ctx, 'fills_2MiB')).toBe(1);
  });

  test('insert rejects page sizes not held, unaligned PAs and bad addresses', () => {
    const { tlb } = make({ pageSizes: [2 ** 12, 2 ** 21] });
    expect(() => tlb.insert(1, 0, 16, 0, Perm.Read)).toThrow(SimInvariantError);
    expect(() => tlb.insert(1, 0, 16, 0, Perm.Read)).toThrow(/page shift 16, not one of \[12, 21\]/);
    expect(() => tlb.insert(1, 0, 12.5, 0, Perm.Read)).toThrow(SimInvariantError);
    expect(() => tlb.insert(1, 0, 21, 0x1000, Perm.Read)).toThrow(SimInvariantError);
    expect(() => tlb.insert(1, -4096, 12, 0, Perm.Read)).toThrow(SimInvariantError);
    expect(() => tlb.insert(1, 2 ** 53, 12, 0, Perm.Read)).toThrow(SimInvariantError);
    expect(tlb.validCount).toBe(0);
  });

  function filled(): { ctx: SimContext; tlb: Tlb } {
    const r = make({ entries: 64, ways: 4, pageSizes: [2 ** 12, 2 ** 21] });
    fill(r.tlb, 1, 0x20_0000, 21); // 2 MiB page [0x20_0000, 0x40_0000)
    for (const va of [0x3000, 0x40_0000, 0x40_1000, 0x40_2000]) fill(r.tlb, 1, va);
    fill(r.tlb, 2, 0x20_0000, 21);
    fill(r.tlb, 2, 0x40_0000);
    fill(r.tlb, 1, 2 ** 45 + 0x3000); // same low 32 bits as 0x3000
    return r;
  }

  test('invalidateAll empties the TLB, counting entries', () => {
    const { ctx, tlb } = filled();
    expect(tlb.validCount).toBe(8);
    tlb.invalidateAll();
    expect(tlb.validCount).toBe(0);
    for (const va of [0x3000, 0x20_0000, 0x40_0000, 2 ** 45 + 0x3000]) {
      expect(tlb.probe(1, va)).toBe(false);
      expect(tlb.probe(2, va)).toBe(false);
    }
    expect(stat(ctx, 'invalidations')).toBe(1);
    expect(stat(ctx, 'invalidated_entries')).toBe(8);
    tlb.invalidateAll();
    expect(stat(ctx, 'invalidations')).toBe(2);
    expect(stat(ctx, 'invalidated_entries')).toBe(8);
    fill(tlb, 1, 0x3000);
    expect(tlb.probe(1, 0x3000)).toBe(true);
    expect(tlb.validCount).toBe(1);
  });

  test('invalidateAsid removes only that ASID', () => {
    const { ctx, tlb } = filled();
    tlb.invalidateAsid(1);
    expect(tlb.validCount).toBe(2);
    expect(stat(ctx, 'invalidated_entries')).toBe(6);
    expect(tlb.probe(1, 0x30_0000)).toBe(false);
    expect(tlb.probe(2, 0x30_0000)).toBe(true);
    expect(tlb.probe(2, 0x40_0000)).toBe(true);
    expect(tlb.probe(1, 0x40_0000)).toBe(false);
  });

  test('invalidateRange removes every entry of the ASID overlapping the range, a large page at its edge included', () => {
    const { ctx, tlb } = filled();
    // [0x3f_f000, 0x40_2000) overlaps the last 4 KiB of the 2 MiB page and the 4 KiB pages at
    // 0x40_0000 and 0x40_1000; the range end is exclusive, so 0x40_2000 stays.
    tlb.invalidateRange(1, 0x3f_f000, 0x3000);
    expect(stat(ctx, 'invalidations')).toBe(1);
    expect(stat(ctx, 'invalidated_entries')).toBe(3);
    expect(tlb.validCount).toBe(5);
    expect(tlb.probe(1, 0x20_0000)).toBe(false);
    expect(tlb.probe(1, 0x40_0000)).toBe(false);
    expect(tlb.probe(1, 0x40_1000)).toBe(false);
    expect(tlb.probe(1, 0x40_2000)).toBe(true);
    expect(tlb.probe(1, 0x3000)).toBe(true);
    expect(tlb.probe(1, 2 ** 45 + 0x3000)).toBe(true);
    expect(tlb.probe(2, 0x20_0000)).toBe(true);
    expect(tlb.probe(2, 0x40_0000)).toBe(true);
    // A range inside the 2 MiB page of ASID 2 removes it; an empty range removes nothing.
    tlb.invalidateRange(2, 0x30_0000, 1);
    expect(tlb.probe(2, 0x20_0000)).toBe(false);
    tlb.invalidateRange(1, 0x3000, 0);
    expect(tlb.probe(1, 0x3000)).toBe(true);
    // A range just below a page does not touch it.
    tlb.invalidateRange(1, 0x2000, 0x1000);
    expect(tlb.probe(1, 0x3000)).toBe(true);
    // Above 2^32: only the high page goes.
    tlb.invalidateRange(1, 2 ** 45 + 0x2000, 0x2000);
    expect(tlb.probe(1, 2 ** 45 + 0x3000)).toBe(false);
    expect(tlb.probe(1, 0x3000)).toBe(true);
    expect(stat(ctx, 'invalidations')).toBe(5);
    expect(stat(ctx, 'invalidated_entries')).toBe(5);
  });

  test.each([4, 64])('invalidatePage removes every entry of the ASID containing va, whatever its size (%i-way)', (ways) => {
    const { ctx, tlb } = make({ entries: 64, ways, pageSizes: [2 ** 12, 2 ** 21] });
    fill(tlb, 1, 0x40_0000, 21); // 2 MiB vpn 2: set 2 of 16
    fill(tlb, 1, 0x40_1000); // 4 KiB vpn 0x401: set 1; overlaps the 2 MiB page (a conflict)
    fill(tlb, 1, 0x40_2000);
    fill(tlb, 2, 0x40_1000);
    tlb.invalidatePage(1, 0x40_1800);
    expect(stat(ctx, 'invalidated_entries')).toBe(2);
    expect(tlb.validCount).toBe(2);
    expect(tlb.probe(1, 0x40_1000)).toBe(false);
    expect(tlb.probe(1, 0x50_0000)).toBe(false);
    expect(tlb.probe(1, 0x40_2000)).toBe(true);
    expect(tlb.hitPageShift).toBe(12);
    expect(tlb.probe(2, 0x40_1000)).toBe(true);
    tlb.invalidatePage(1, 0x40_3000); // nothing there
    expect(stat(ctx, 'invalidated_entries')).toBe(2);
    expect(stat(ctx, 'invalidations')).toBe(2);
  });

  test.each([4, 64])('a TLB conflict (overlapping entries of two sizes) answers with the smaller page (%i-way)', (ways) => {
    const { ctx, tlb } = make({ entries: 64, ways, pageSizes: [2 ** 12, 2 ** 21] });
    tlb.insert(1, 0x40_0000, 21, 0x8000_0000, Perm.Read);
    tlb.insert(1, 0x40_1000, 12, 0x1234_5000, Perm.Read | Perm.Write);
    expect(tlb.lookup(1, 0x40_1800)).toBe(true);
    expect([tlb.hitPa, tlb.hitPageShift, tlb.hitPerms]).toEqual([0x1234_5800, 12, Perm.Read | Perm.Write]);
    expect(tlb.lookup(1, 0x40_2800)).toBe(true);
    expect([tlb.hitPa, tlb.hitPageShift, tlb.hitPerms]).toEqual([0x8000_2800, 21, Perm.Read]);
    expect([stat(ctx, 'hits_4KiB'), stat(ctx, 'hits_2MiB')]).toEqual([1, 1]);
  });

  test('the valid list stays consistent through mixed fills, evictions and invalidations', () => {
    const { ctx, tlb } = make({ entries: 16, ways: 4, replacement: 'random', pageSizes: [2 ** 12, 2 ** 21] });
    const rng = ctx.rng.fork('mix');
    // 4 KiB pages in [0, 256 KiB), 2 MiB pages from 1 GiB up: no two candidate pages overlap,
    // so each valid entry answers exactly one of the probes below.
    const va4k = (): number => rng.nextInt(64) * K4;
    const va2m = (): number => 2 ** 30 + rng.nextInt(4) * M2;
    for (let i = 0; i < 20_000; i++) {
      const op = rng.nextInt(10);
      const asid = rng.nextInt(3);
      const big = rng.nextInt(4) === 0;
      const va = big ? va2m() : va4k();
      if (op < 6) fill(tlb, asid, va, big ? 21 : 12);
      else if (op === 6) tlb.invalidatePage(asid, va + 0x10);
      else if (op === 7) tlb.invalidateRange(asid, va, rng.nextInt(3) * K4 * 5);
      else if (op === 8) tlb.invalidateAsid(asid);
      else if (rng.nextInt(50) === 0) tlb.invalidateAll();
    }
    let count = 0;
    for (let asid = 0; asid < 3; asid++) {
      for (let p = 0; p < 64; p++) if (tlb.probe(asid, p * K4)) count++;
      for (let p = 0; p < 4; p++) if (tlb.probe(asid, 2 ** 30 + p * M2 + 0x1234)) count++;
    }
    expect(tlb.validCount).toBeGreaterThan(0);
    expect(count).toBe(tlb.validCount);
    const before = stat(ctx, 'invalidated_entries');
    const valid = tlb.validCount;
    tlb.invalidateAll();
    expect(tlb.validCount).toBe(0);
    expect(stat(ctx, 'invalidated_entries')).toBe(before + valid);
  });
});

describe('MSHRs', () => {
  test('find, alloc, release, merges and full', () => {
    const { ctx, tlb } = make({ mshrs: 2, pageSizes: [2 ** 12, 2 ** 21] });
    expect(tlb.mshrsInUse).toBe(0);
    expect(tlb.mshrFind(1, 0x1000)).toBe(-1);
    const m0 = tlb.mshrAlloc(1, 0x1000);
    expect(m0).toBe(0);
    expect(tlb.mshrFind(1, 0x1fff)).toBe(0); // same 4 KiB page (smallest size held)
    expect(tlb.mshrFind(1, 0x1000)).toBe(0);
    expect(stat(ctx, 'mshr_merges')).toBe(2);
    expect(tlb.mshrFind(1, 0x2000)).toBe(-1); // next page, same 2 MiB page: separate
    expect(tlb.mshrFind(2, 0x1000)).toBe(-1); // other ASID
    expect(tlb.mshrFind(1, 2 ** 45 + 0x1000)).toBe(-1); // same low 32 bits
    expect(stat(ctx, 'mshr_merges')).toBe(2);
    expect(tlb.mshrAlloc(1, 2 ** 45 + 0x1000)).toBe(1);
    expect(tlb.mshrsInUse).toBe(2);
    expect(tlb.mshrAlloc(1, 0x3000)).toBe(-1);
    expect(tlb.mshrAlloc(2, 0x3000)).toBe(-1);
    expect(stat(ctx, 'mshr_full')).toBe(2);
    tlb.mshrRelease(m0);
    expect(tlb.mshrsInUse).toBe(1);
    expect(tlb.mshrFind(1, 0x1000)).toBe(-1);
    expect(tlb.mshrAlloc(1, 0x3000)).toBe(0);
    expect(tlb.mshrFind(1, 2 ** 45 + 0x1abc)).toBe(1);
    expect(stat(ctx, 'mshr_merges')).toBe(3);
    expect(stat(ctx, 'mshr_full')).toBe(2);
  });

  test('misuse throws', () => {
    const { tlb } = make({ mshrs: 2 });
    const m = tlb.mshrAlloc(1, 0x1000);
    expect(() => tlb.mshrAlloc(1, 0x1800)).toThrow(SimInvariantError); // already outstanding
    tlb.mshrRelease(m);
    expect(() => tlb.mshrRelease(m)).toThrow(SimInvariantError);
    expect(() => tlb.mshrRelease(2)).toThrow(SimInvariantError);
    expect(() => tlb.mshrRelease(-1)).toThrow(SimInvariantError);
    expect(tlb.mshrsInUse).toBe(0);
  });
});

describe('params and stats', () => {
  test('TlbSpec accepts good params, fills defaults and names the first bad field', () => {
    const check = (p: unknown) => firstProblem(TlbSpec, p);
    expect(check(params())).toBeNull();
    expect(check(params({ entries: 48, ways: 48 }))).toBeNull();
    expect(check(params({ entries: 32, ways: 8, replacement: 'plru', latencyCycles: 0 }))).toBeNull();
    expect(check(params({ entries: 1536, ways: 12, pageSizes: [2 ** 21, 2 ** 12, 2 ** 30] }))).toBeNull();
    expect(TlbSpec.parse({ entries: 8, ways: 8, latencyCycles: 1, pageSizes: ['4KiB', '2MiB'] })).toEqual(
      { entries: 8, ways: 8, replacement: 'lru', latencyCycles: 1, pageSizes: [4096, 2 ** 21], mshrs: 4 });
    expect(check(params({ entries: 0 }))).toBe('entries: must be an integer from 1 to 2^20, got 0');
    expect(check(params({ entries: 6.5 }))).toBe('entries: must be an integer from 1 to 2^20, got 6.5');
    expect(check(params({ entries: 2 ** 21, ways: 2 ** 21 }))).toBe('entries: must be an integer from 1 to 2^20, got 2097152');
    expect(check(params({ entries: NaN }))).toBe('entries: must be an integer from 1 to 2^20, got NaN');
    expect(check(params({ ways: 0 }))).toBe('ways: must be an integer from 1 to 2^20, got 0');
    expect(check(params({ ways: 6 }))).toBe('ways: must divide entries (64), got 6');
    expect(check(params({ entries: 48, ways: 4 }))).toBe(
      'ways: entries / ways (the number of sets) must be a power of two, got 48 / 4 = 12');
    expect(check(params({ replacement: 'mru' as Replacement }))).toMatch(/^replacement: /);
    expect(check(params({ entries: 48, ways: 48, replacement: 'plru' }))).toBe(
      'ways: plru needs a power-of-two number of ways, got 48');
    expect(check(params({ latencyCycles: -1 }))).toBe('latencyCycles: must be an integer from 0 to 2^20, got -1');
    expect(check(params({ pageSizes: [] }))).toBe('pageSizes: must be a non-empty list of page sizes, got []');
    expect(check(params({ pageSizes: [2 ** 12, 2 ** 9] }))).toBe('pageSizes[1]: must be at least 1KiB, got 512');
    expect(check(params({ pageSizes: [2 ** 12, 2 ** 53] }))).toMatch(/^pageSizes\[1\]: /);
    expect(check(params({ pageSizes: [2 ** 12, 3 * 2 ** 12] }))).toBe('pageSizes[1]: must be a power of two, got 12288');
    expect(check(params({ pageSizes: [2 ** 12, 2 ** 21, 2 ** 12] }))).toBe('pageSizes[2]: duplicate page size 4KiB');
    expect(check(params({ mshrs: 0 }))).toBe('mshrs: must be an integer from 1 to 1024, got 0');
    expect(check(params({ mshrs: 4096 }))).toBe('mshrs: must be an integer from 1 to 1024, got 4096');
  });

  test('the constructor rejects bad params, converts page sizes to shifts once and keeps a frozen copy', () => {
    const ctx = createSimContext();
    expect(() => new Tlb(ctx, 'soc.x', params({ ways: 6 }))).toThrow('tlb soc.x: ways: must divide entries (64), got 6');
    const sizes = [2 ** 21, 2 ** 12];
    const tlb = new Tlb(ctx, 'soc.y', params({ pageSizes: sizes }));
    sizes.push(2 ** 30);
    expect(tlb.params.pageSizes).toEqual([2 ** 21, 2 ** 12]);
    expect(tlb.pageShifts).toEqual([21, 12]);
    expect(tlb.params.latencyCycles).toBe(2);
    expect(Object.isFrozen(tlb.params)).toBe(true);
    expect(new Tlb(ctx, 'soc.z', { entries: 4, ways: 4, latencyCycles: 0, pageSizes: ['64KiB'] }).pageShifts).toEqual([16]);
  });

  test('pageSizeName', () => {
    expect([10, 12, 16, 17, 21, 30, 40, 52].map(pageSizeName)).toEqual(
      ['1KiB', '4KiB', '64KiB', '128KiB', '2MiB', '1GiB', '1TiB', '4PiB']);
  });

  test('stat names; hit_rate is null before any lookup', () => {
    const { ctx } = make({ pageSizes: [2 ** 21, 2 ** 12, 2 ** 16, 2 ** 30] });
    const dump = ctx.stats.dump();
    const base = ['lookups', 'hits', 'misses', 'mshr_merges', 'mshr_full', 'evictions', 'fills', 'invalidations', 'invalidated_entries', 'hit_rate'];
    const sized = ['4KiB', '64KiB', '2MiB', '1GiB'].flatMap((s) => [`hits_${s}`, `fills_${s}`, `evictions_${s}`]);
    expect(Object.keys(dump).sort()).toEqual([...base, ...sized].map((n) => `${PATH}.${n}`).sort());
    expect(dump[`${PATH}.hit_rate`]).toBeNull();
    expect(dump[`${PATH}.lookups`]).toBe(0);
  });

  test('hits are counted by the size of the entry that hit', () => {
    const { ctx, tlb } = make({ entries: 16, ways: 16, pageSizes: [2 ** 12, 2 ** 16, 2 ** 21] });
    fill(tlb, 1, 0x10000, 16);
    fill(tlb, 1, 0x1000, 12);
    fill(tlb, 1, 0x40_0000, 21);
    expect(tlb.lookup(1, 0x1f000)).toBe(true);
    expect(tlb.hitPageShift).toBe(16);
    expect(tlb.lookup(1, 0x1010)).toBe(true);
    expect(tlb.lookup(1, 0x5f_ffff)).toBe(true);
    expect(tlb.hitPa).toBe(0x5f_ffff + PA_OFFSET);
    expect(tlb.lookup(1, 0x2000)).toBe(false);
    expect([stat(ctx, 'hits_4KiB'), stat(ctx, 'hits_64KiB'), stat(ctx, 'hits_2MiB')]).toEqual([1, 1, 1]);
    expect(stat(ctx, 'hit_rate')).toBe(0.75);
  });

  test('evictions are counted by the size of the entry evicted', () => {
    const { ctx, tlb } = make({ entries: 4, ways: 4, pageSizes: [2 ** 12, 2 ** 21] });
    fill(tlb, 1, 0x20_0000, 21); // least recently used
    for (const va of [0x1000, 0x2000, 0x3000]) fill(tlb, 1, va);
    fill(tlb, 1, 0x4000); // evicts the 2 MiB entry
    expect(tlb.probe(1, 0x20_0000)).toBe(false);
    expect([stat(ctx, 'evictions'), stat(ctx, 'evictions_2MiB'), stat(ctx, 'evictions_4KiB')]).toEqual([1, 1, 0]);
    fill(tlb, 1, 0x40_0000, 21); // evicts 0x1000
    expect(tlb.probe(1, 0x1000)).toBe(false);
    expect([stat(ctx, 'evictions'), stat(ctx, 'evictions_2MiB'), stat(ctx, 'evictions_4KiB')]).toEqual([2, 1, 1]);
    expect([stat(ctx, 'fills'), stat(ctx, 'fills_2MiB'), stat(ctx, 'fills_4KiB')]).toEqual([6, 2, 4]);
  });
});
