import { BuddyAllocator, MAX_ORDER } from '../../../drivers/mm/buddy';
import { MiB } from '../../../sim/engine/addr';
import { SimInvariantError } from '../../../sim/engine/errors';
import { Rng } from '../../../sim/engine/rng';

const PAGE = 4096;
const BASE = 0x8000_0000;

/** freeBlocks for orders 0..maxOrder as an array. */
function blocks(b: BuddyAllocator): number[] {
  return Array.from({ length: b.maxOrder + 1 }, (_v, k) => b.freeBlocks(k));
}

/** [count at order k] with the given orders set. */
function only(maxOrder: number, counts: Record<number, number>): number[] {
  return Array.from({ length: maxOrder + 1 }, (_v, k) => counts[k] ?? 0);
}

describe('BuddyAllocator', () => {
  test('defaults: 4 KiB pages, orders 0..MAX_ORDER = 10', () => {
    const b = new BuddyAllocator(BASE, 4 * MiB);
    expect(MAX_ORDER).toBe(10);
    expect(b.pageSize).toBe(PAGE);
    expect(b.maxOrder).toBe(10);
    expect(b.base).toBe(BASE);
    expect(b.size).toBe(4 * MiB);
    expect(b.freePageCount).toBe(1024);
    expect(blocks(b)).toEqual(only(10, { 10: 1 }));
  });

  test('allocating order 0 from a fresh region splits down one block per order; freeing merges back', () => {
    const b = new BuddyAllocator(BASE, 4 * MiB);
    const a = b.allocPages(0);
    expect(a).toBe(BASE); // the lower half is kept at every split
    expect(blocks(b)).toEqual([1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    expect(b.freePageCount).toBe(1023);
    // The upper halves are the free blocks: order k at BASE + 2^k pages.
    const got: number[] = [];
    for (let k = 0; k < 10; k++) got.push(b.allocPages(k) as number);
    expect(got).toEqual(Array.from({ length: 10 }, (_v, k) => BASE + 2 ** k * PAGE));
    expect(b.freePageCount).toBe(0);
    for (let k = 0; k < 10; k++) b.freePages(got[k], k);
    b.freePages(a as number, 0);
    expect(blocks(b)).toEqual(only(10, { 10: 1 }));
    expect(b.freePageCount).toBe(1024);
  });

  test('a region not aligned to a max-order block is cut into the largest aligned blocks', () => {
    // pfns 0x80003 .. 0x81003: 1 page at 0x80003, then orders 2..9 up to 0x80400,
    // three order-10 blocks up to 0x81000, then an order-1 and an order-0 block.
    const b = new BuddyAllocator(BASE + 3 * PAGE, 16 * MiB);
    expect(blocks(b)).toEqual([2, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3]);
    expect(b.freePageCount).toBe(4096);
    // Allocating order 1 takes the lowest order-1 block (the one at the end).
    expect(b.allocPages(1)).toBe(BASE + 0x1000 * PAGE);
    // Allocating order 0 takes the lowest order-0 block, the unaligned first page.
    expect(b.allocPages(0)).toBe(BASE + 3 * PAGE);
  });

  test('every block is aligned to its size in absolute addresses', () => {
    const b = new BuddyAllocator(BASE + 5 * PAGE, 8 * MiB);
    const rng = new Rng(7);
    let n = 0;
    for (;;) {
      const order = rng.nextInt(11);
      const a = b.allocPages(order);
      if (a === null) {
        if (b.freePageCount === 0) break;
        continue;
      }
      expect(a % (2 ** order * PAGE)).toBe(0);
      expect(a).toBeGreaterThanOrEqual(b.base);
      expect(a + 2 ** order * PAGE).toBeLessThanOrEqual(b.base + b.size);
      n++;
    }
    expect(n).toBeGreaterThan(10);
  });

  test('buddies merge only with their true buddy', () => {
    const b = new BuddyAllocator(BASE, 4 * PAGE, PAGE, 2);
    const [p0, p1, p2, p3] = [0, 1, 2, 3].map(() => b.allocPages(0) as number);
    expect([p0, p1, p2, p3]).toEqual([BASE, BASE + PAGE, BASE + 2 * PAGE, BASE + 3 * PAGE]);
    // p1 and p2 are adjacent but not buddies (p1's buddy is p0, p2's is p3).
    b.freePages(p1, 0);
    b.freePages(p2, 0);
    expect(blocks(b)).toEqual([2, 0, 0]);
    b.freePages(p0, 0);
    expect(blocks(b)).toEqual([1, 1, 0]);
    expect(b.allocPages(1)).toBe(BASE); // the merged pair p0+p1
    b.freePages(BASE, 1);
    b.freePages(p3, 0); // p2+p3 merge, then with p0+p1
    expect(blocks(b)).toEqual([0, 0, 1]);
  });

  test('blocks never merge across the region ends', () => {
    // pfns 1..3: pfn 1 (order 0; its buddy pfn 0 is outside) and pfns 2-3 (order 1).
    const b = new BuddyAllocator(PAGE, 3 * PAGE, PAGE, 2);
    expect(blocks(b)).toEqual([1, 1, 0]);
    expect(b.allocPages(2)).toBeNull();
    const a = b.allocPages(1);
    expect(a).toBe(2 * PAGE);
    b.freePages(a as number, 1);
    expect(blocks(b)).toEqual([1, 1, 0]);
    expect(b.allocPages(2)).toBeNull();
  });

  test('exhaustion returns null; a freed block is handed out again', () => {
    const b = new BuddyAllocator(BASE, 16 * PAGE);
    const pages: number[] = [];
    for (let i = 0; i < 16; i++) pages.push(b.allocPages(0) as number);
    expect(new Set(pages).size).toBe(16);
    expect(b.allocPages(0)).toBeNull();
    expect(b.freePageCount).toBe(0);
    b.freePages(pages[9], 0);
    expect(b.allocPages(1)).toBeNull();
    expect(b.allocPages(0)).toBe(pages[9]);
    // Orders above what the region holds, or above maxOrder, fail with null.
    const c = new BuddyAllocator(BASE, 16 * PAGE);
    expect(c.allocPages(5)).toBeNull();
    expect(c.allocPages(11)).toBeNull();
    expect(c.allocPages(4)).toBe(BASE);
    expect(() => c.allocPages(-1)).toThrow(SimInvariantError);
  });

  test('address 0 is a valid allocation', () => {
    const b = new BuddyAllocator(0, 1 * MiB);
    const a = b.allocPages(0);
    expect(a).not.toBeNull();
    expect(a).toBe(0);
    expect(b.isAllocated(0)).toBe(true);
    b.freePages(0, 0);
    expect(b.isAllocated(0)).toBe(false);
    expect(b.allocPages(8)).toBe(0); // the whole 1 MiB
    expect(b.allocPages(0)).toBeNull();
  });

  test('double free, wrong order, misaligned, outside and never-allocated frees are refused as misuse, naming the address', () => {
    const b = new BuddyAllocator(BASE, 4 * MiB);
    const a = b.allocPages(2) as number;
    const before = blocks(b);
    const refused = (call: () => void): string => {
      const n = b.misuse.count;
      expect(call).not.toThrow();
      expect(b.misuse.count).toBe(n + 1);
      return b.misuse.last!;
    };
    expect(refused(() => b.freePages(a, 1))).toMatch(/__free_pages\(0x80000000, order 1\).*order 2/);
    expect(refused(() => b.freePages(a, 3))).toMatch(/0x80000000/);
    expect(refused(() => b.freePages(a + PAGE, 2))).toMatch(/0x80001000/); // inside the block, not its start
    expect(refused(() => b.freePages(a + 1, 0))).toMatch(/0x80000001.*page-aligned/);
    expect(refused(() => b.freePages(BASE + 4 * MiB, 0))).toMatch(/0x80400000.*outside/);
    expect(refused(() => b.freePages(BASE + 8 * PAGE, 0))).toMatch(/0x80008000.*free/);
    expect(blocks(b)).toEqual(before);
    expect(b.freePageCount).toBe(1020);
    b.freePages(a, 2);
    expect(refused(() => b.freePages(a, 2))).toMatch(/0x80000000.*double free/);
    expect(blocks(b)).toEqual(only(10, { 10: 1 }));
  });

  test('reserve carves pages out of the free blocks', () => {
    const b = new BuddyAllocator(BASE, 4 * MiB);
    b.reserve(BASE + PAGE, 2 * PAGE); // pages 1 and 2
    expect(b.freePageCount).toBe(1022);
    // page 0 (order 0), page 3 (order 0), then orders 2..9 from page 4 up.
    expect(blocks(b)).toEqual([2, 0, 1, 1, 1, 1, 1, 1, 1, 1, 0]);
    expect(b.isAllocated(BASE)).toBe(false);
    expect(b.isAllocated(BASE + PAGE)).toBe(true);
    expect(b.isAllocated(BASE + 2 * PAGE + 123)).toBe(true);
    expect(b.isAllocated(BASE + 3 * PAGE)).toBe(false);
    // Reserved pages are never handed out.
    const got = new Set<number>();
    for (let a = b.allocPages(0); a !== null; a = b.allocPages(0)) got.add(a);
    expect(got.size).toBe(1022);
    expect(got.has(BASE + PAGE) || got.has(BASE + 2 * PAGE)).toBe(false);
  });

  test('reserve throws on used pages, misalignment or outside, and then changes nothing', () => {
    const b = new BuddyAllocator(BASE, 4 * MiB);
    b.reserve(BASE + 16 * PAGE, 16 * PAGE);
    const a = b.allocPages(0) as number;
    expect(a).toBe(BASE);
    const before = blocks(b);
    expect(() => b.reserve(BASE + 8 * PAGE, 16 * PAGE)).toThrow(/0x80010000 is already in use/);
    expect(() => b.reserve(BASE, 2 * PAGE)).toThrow(/0x80000000 is already in use/);
    expect(() => b.reserve(BASE + 100, PAGE)).toThrow(SimInvariantError);
    expect(() => b.reserve(BASE + 4 * MiB - PAGE, 2 * PAGE)).toThrow(/outside/);
    expect(blocks(b)).toEqual(before);
    expect(b.freePageCount).toBe(1024 - 16 - 1);
    b.freePages(BASE + 16 * PAGE, 0);
    expect(b.misuse.last).toMatch(/0x80010000, order 0\): page is reserved/);
    expect(blocks(b)).toEqual(before);
  });

  test('fragmentation: unusable free space index on worked examples', () => {
    const b = new BuddyAllocator(BASE, 16 * PAGE, PAGE, 4);
    expect(b.fragmentation(4)).toBe(0);
    const pages = Array.from({ length: 16 }, () => b.allocPages(0) as number);
    expect(b.fragmentation(0)).toBe(0); // nothing free
    // Free every other page: 8 free order-0 blocks, none can merge.
    for (let i = 0; i < 16; i += 2) b.freePages(pages[i], 0);
    expect(blocks(b)).toEqual([8, 0, 0, 0, 0]);
    expect(b.fragmentation(0)).toBe(0);
    expect(b.fragmentation(1)).toBe(1);
    // Free pages 1 and 3 too: pages 0..3 merge into one order-2 block; free = 4 + 6 pages.
    b.freePages(pages[1], 0);
    b.freePages(pages[3], 0);
    expect(blocks(b)).toEqual([6, 0, 1, 0, 0]);
    expect(b.fragmentation(1)).toBeCloseTo(1 - 4 / 10, 12);
    expect(b.fragmentation(2)).toBeCloseTo(0.6, 12);
    expect(b.fragmentation(3)).toBe(1);
    expect(b.fragmentation(9)).toBe(1);
  });

  test('randomized operations agree with a page-map model (seeded)', () => {
    const rng = new Rng(20240611);
    const base = BASE + 3 * PAGE; // unaligned to exercise edge blocks
    const nPages = 1000;
    const b = new BuddyAllocator(base, nPages * PAGE, PAGE, 6);
    b.reserve(base + 301 * PAGE, 37 * PAGE);
    const initial = blocks(b);
    const model = new Uint8Array(nPages); // 0 free, 1 allocated, 2 reserved
    model.fill(2, 301, 338);
    const live: Array<[number, number]> = [];
    let modelFree = nPages - 37;
    const basePfn = base / PAGE;

    /** Whether the model has a free, absolutely aligned run of 2^order pages. */
    const modelHasBlock = (order: number): boolean => {
      const n = 2 ** order;
      const first = Math.ceil(basePfn / n) * n - basePfn;
      for (let i = first; i + n <= nPages; i += n) {
        let ok = true;
        for (let j = i; j < i + n; j++) if (model[j] !== 0) { ok = false; break; }
        if (ok) return true;
      }
      return false;
    };

    let nulls = 0;
    for (let step = 0; step < 4000; step++) {
      if (live.length === 0 || rng.nextFloat() < 0.55) {
        const order = rng.nextInt(7);
        const a = b.allocPages(order);
        if (a === null) {
          nulls++;
          expect(modelHasBlock(order)).toBe(false);
        } else {
          expect(a % (2 ** order * PAGE)).toBe(0);
          const i = (a - base) / PAGE;
          for (let j = i; j < i + 2 ** order; j++) {
            expect(model[j]).toBe(0);
            model[j] = 1;
          }
          live.push([a, order]);
          modelFree -= 2 ** order;
        }
      } else {
        const [a, order] = live.splice(rng.nextInt(live.length), 1)[0];
        b.freePages(a, order);
        const i = (a - base) / PAGE;
        model.fill(0, i, i + 2 ** order);
        modelFree += 2 ** order;
      }
      expect(b.freePageCount).toBe(modelFree);
      let sum = 0;
      for (let k = 0; k <= 6; k++) sum += b.freeBlocks(k) * 2 ** k;
      expect(sum).toBe(modelFree);
      const probe = rng.nextInt(nPages);
      expect(b.isAllocated(base + probe * PAGE)).toBe(model[probe] !== 0);
    }
    expect(nulls).toBeGreaterThan(0); // the run reached exhaustion for some orders
    for (const [a, order] of live) b.freePages(a, order);
    expect(blocks(b)).toEqual(initial);
    expect(b.freePageCount).toBe(nPages - 37);
  });

  test('1 GiB region: every page allocated then freed in random order coalesces back', () => {
    const b = new BuddyAllocator(BASE, 1024 * MiB);
    const n = 262144;
    const pages = new Float64Array(n);
    for (let i = 0; i < n; i++) pages[i] = b.allocPages(0) as number;
    expect(b.allocPages(0)).toBeNull();
    expect(pages[n - 1]).toBe(BASE + (n - 1) * PAGE);
    const rng = new Rng(99);
    for (let i = n - 1; i > 0; i--) {
      const j = rng.nextInt(i + 1);
      const t = pages[i]; pages[i] = pages[j]; pages[j] = t;
    }
    for (let i = 0; i < n; i++) b.freePages(pages[i], 0);
    expect(blocks(b)).toEqual(only(10, { 10: 256 }));
    expect(b.freePageCount).toBe(n);
  });

  test('bad construction arguments throw', () => {
    expect(() => new BuddyAllocator(BASE + 1, 4 * MiB)).toThrow(SimInvariantError);
    expect(() => new BuddyAllocator(BASE, 4 * MiB + 1)).toThrow(SimInvariantError);
    expect(() => new BuddyAllocator(BASE, 0)).toThrow(SimInvariantError);
    expect(() => new BuddyAllocator(BASE, 4 * MiB, 3000)).toThrow(SimInvariantError);
    expect(() => new BuddyAllocator(BASE, 4 * MiB, PAGE, -1)).toThrow(SimInvariantError);
  });

  test('large addresses (above 2^32) work without 32-bit truncation', () => {
    const base = 2 ** 40 + 2 ** 33;
    const b = new BuddyAllocator(base, 8 * MiB);
    const a = b.allocPages(10) as number;
    const c = b.allocPages(10) as number;
    expect([a, c]).toEqual([base, base + 4 * MiB]);
    b.freePages(c, 10);
    b.freePages(a, 10);
    expect(b.freePageCount).toBe(2048);
    expect(b.isAllocated(base + 5 * MiB)).toBe(false);
  });

  test('a 128 TiB region boots in O(1) memory: free top-order blocks are runs, not 2^25 set entries (issue 15)', () => {
    // On the per-block allocator this constructor died with "Set maximum size exceeded" after ~20 s and 1.3 GB.
    const size = 2 ** 47;
    const b = new BuddyAllocator(0, size);
    const top = size / (4 * MiB);
    expect(b.freePageCount).toBe(size / PAGE);
    expect(b.freeBlocks(10)).toBe(top);
    // A reservation in the middle (a CMA region not aligned to 4 MiB) splits one run.
    const cma = 2 ** 46 + 2 * MiB;
    b.reserve(cma, 64 * MiB);
    expect(b.isAllocated(cma)).toBe(true);
    expect(b.isAllocated(cma - PAGE)).toBe(false);
    expect(b.freeBlocks(10)).toBe(top - 17); // 16 whole blocks and the two halves around them
    expect(b.freeBlocks(9)).toBe(2);
    // Smallest order first (the half block below the CMA), lowest address first at the
    // top order too; frees merge back into the runs.
    const lo = b.allocPages(0) as number;
    expect(lo).toBe(2 ** 46);
    const hi = b.allocPages(10) as number;
    expect(hi).toBe(0);
    expect(b.allocPages(10)).toBe(4 * MiB);
    b.freePages(4 * MiB, 10);
    b.freePages(lo, 0);
    b.freePages(hi, 10);
    expect(b.freeBlocks(10)).toBe(top - 17);
    expect(b.freePageCount).toBe((size - 64 * MiB) / PAGE);
    expect(b.freePages.bind(b, hi, 10)).not.toThrow(); // a double free is the kernel's warning
    expect(b.freePageCount).toBe((size - 64 * MiB) / PAGE);
    expect(b.fragmentation(10)).toBeCloseTo(1 / b.freePageCount * 1024, 12);
  });
});
