import { GenPool } from '../../../drivers/mm/genpool';
import { SimInvariantError } from '../../../sim/engine/errors';
import { Rng } from '../../../sim/engine/rng';

const PAGE = 4096;
const BASE = 0x1000_0000;

/**
 * A 32-page chunk at BASE with the free runs (page indices)
 *   A = [1, 4) (3 pages), B = [6, 8) (2), C = [9, 18) (9), D = [20, 22) (2);
 * everything else allocated.
 */
function handMadePool(): GenPool {
  const pool = new GenPool(12);
  pool.addChunk(BASE, 32 * PAGE);
  expect(pool.allocAt(BASE, 32 * PAGE)).toBe(BASE);
  for (const [s, e] of [[1, 4], [6, 8], [9, 18], [20, 22]]) pool.free(BASE + s * PAGE, (e - s) * PAGE);
  expect(pool.avail()).toBe(16 * PAGE);
  return pool;
}

describe('GenPool', () => {
  test('first-fit, best-fit and first-fit-aligned pick the documented blocks on a hand-made free map', () => {
    const ff = handMadePool();
    expect(ff.alloc(2 * PAGE)).toBe(BASE + 1 * PAGE); // first run that fits: A

    const bf = handMadePool();
    bf.setAlgo('best-fit');
    expect(bf.alloc(2 * PAGE)).toBe(BASE + 6 * PAGE); // smallest runs B and D tie: lowest, B
    expect(bf.alloc(2 * PAGE)).toBe(BASE + 20 * PAGE); // then D
    expect(bf.alloc(2 * PAGE)).toBe(BASE + 1 * PAGE); // then A (3 pages) beats C (9)
    expect(bf.alloc(1 * PAGE)).toBe(BASE + 3 * PAGE); // the 1-page rest of A is an exact fit

    const bf3 = handMadePool();
    bf3.setAlgo('best-fit');
    expect(bf3.alloc(3 * PAGE)).toBe(BASE + 1 * PAGE); // exact fit A
    expect(bf3.alloc(9 * PAGE)).toBe(BASE + 9 * PAGE); // only C fits

    const fa = handMadePool();
    fa.setAlgo('first-fit-aligned');
    // 16 KiB alignment = every 4 pages: 0, 4 and 8 are busy, 12-13 are free.
    expect(fa.alloc(2 * PAGE, 14)).toBe(BASE + 12 * PAGE);
    // Alignment at or below the granularity is plain first-fit.
    expect(fa.alloc(2 * PAGE, 12)).toBe(BASE + 1 * PAGE);
    expect(fa.alloc(2 * PAGE, 0)).toBe(BASE + 6 * PAGE);

    // Other algorithms ignore alignOrder.
    const ff2 = handMadePool();
    expect(ff2.alloc(2 * PAGE, 14)).toBe(BASE + 1 * PAGE);

    // Nothing has 10 free pages in a row.
    for (const algo of ['first-fit', 'best-fit', 'first-fit-aligned'] as const) {
      const p = handMadePool();
      p.setAlgo(algo);
      expect(p.alloc(10 * PAGE)).toBeNull();
      expect(p.avail()).toBe(16 * PAGE);
    }
  });

  test('first-fit-aligned aligns absolute addresses, not chunk offsets', () => {
    const pool = new GenPool(12, 'first-fit-aligned');
    pool.addChunk(BASE + PAGE, 16 * PAGE);
    expect(pool.alloc(PAGE, 14)).toBe(BASE + 4 * PAGE);
    expect(pool.alloc(PAGE, 15)).toBe(BASE + 8 * PAGE);
    pool.setAlgo('first-fit');
    expect(pool.alloc(PAGE)).toBe(BASE + PAGE);
  });

  test('sizes are rounded up to the granularity', () => {
    const pool = new GenPool(12);
    pool.addChunk(BASE, 8 * PAGE);
    expect(pool.size()).toBe(8 * PAGE);
    const a = pool.alloc(1) as number;
    expect(pool.avail()).toBe(7 * PAGE);
    const b = pool.alloc(PAGE + 1) as number;
    expect(b).toBe(a + PAGE);
    expect(pool.avail()).toBe(5 * PAGE);
    pool.free(a, 1);
    expect(pool.avail()).toBe(6 * PAGE);
    expect(pool.alloc(0)).toBeNull();

    const small = new GenPool(5); // 32-byte granules
    small.addChunk(0x2000, 0x100);
    expect(small.alloc(33)).toBe(0x2000);
    expect(small.alloc(1)).toBe(0x2040);
    expect(small.avail()).toBe(0x100 - 96);
  });

  test('allocAt takes exactly the requested range or returns null', () => {
    const pool = new GenPool(12);
    pool.addChunk(BASE, 8 * PAGE);
    expect(pool.allocAt(BASE + 2 * PAGE, 2 * PAGE)).toBe(BASE + 2 * PAGE);
    expect(pool.allocAt(BASE + 3 * PAGE, PAGE)).toBeNull(); // busy
    expect(pool.allocAt(BASE + PAGE, 2 * PAGE)).toBeNull(); // partly busy
    expect(pool.allocAt(BASE + 7 * PAGE, 2 * PAGE)).toBeNull(); // runs past the chunk
    expect(pool.allocAt(BASE + 8 * PAGE, PAGE)).toBeNull(); // outside
    expect(pool.avail()).toBe(6 * PAGE);
    expect(pool.alloc(3 * PAGE)).toBe(BASE + 4 * PAGE); // first-fit skips the fixed block
    expect(() => pool.allocAt(BASE + 100, PAGE)).toThrow(SimInvariantError);
  });

  test('freeing something not allocated is refused as misuse and changes nothing', () => {
    const pool = new GenPool(12);
    pool.addChunk(BASE, 8 * PAGE);
    const a = pool.alloc(2 * PAGE) as number;
    pool.free(a, 3 * PAGE);
    expect(pool.misuse.last).toMatch(/0x10002000 is not allocated/);
    expect(pool.avail()).toBe(6 * PAGE);
    pool.free(BASE + 8 * PAGE, PAGE);
    expect(pool.misuse.last).toMatch(/0x10008000.*not inside/);
    pool.free(a + 1, PAGE);
    expect(pool.misuse.last).toMatch(/0x10000001.*not aligned/);
    expect(pool.avail()).toBe(6 * PAGE);
    pool.free(a, 2 * PAGE);
    pool.free(a, 2 * PAGE);
    expect(pool.misuse.last).toMatch(/double free/);
    expect(pool.misuse.count).toBe(4);
    expect(pool.avail()).toBe(8 * PAGE);
    // As gen_pool_free, part of an allocation may be freed.
    const b = pool.alloc(4 * PAGE) as number;
    pool.free(b + 2 * PAGE, 2 * PAGE);
    expect(pool.avail()).toBe(6 * PAGE);
  });

  test('chunks: address order, no allocation across chunks, overlap throws, hasAddr, address 0', () => {
    const pool = new GenPool(12);
    pool.addChunk(4 * PAGE, 4 * PAGE);
    pool.addChunk(0, 4 * PAGE); // adjacent, added second, lower address
    expect(() => pool.addChunk(6 * PAGE, 4 * PAGE)).toThrow(/overlaps/);
    expect(() => pool.addChunk(100, PAGE)).toThrow(SimInvariantError);
    expect(pool.size()).toBe(8 * PAGE);
    expect(pool.hasAddr(0, 4 * PAGE)).toBe(true);
    expect(pool.hasAddr(2 * PAGE, 4 * PAGE)).toBe(false); // straddles two chunks
    expect(pool.hasAddr(8 * PAGE, 1)).toBe(false);
    expect(pool.hasAddr(7 * PAGE, PAGE)).toBe(true);
    expect(pool.alloc(6 * PAGE)).toBeNull();
    const a = pool.alloc(PAGE);
    expect(a).not.toBeNull();
    expect(a).toBe(0);
    expect(pool.alloc(3 * PAGE)).toBe(PAGE);
    expect(pool.alloc(PAGE)).toBe(4 * PAGE);
    pool.setAlgo('best-fit');
    pool.free(0, PAGE);
    expect(pool.alloc(PAGE)).toBe(0); // exact fit in the lower chunk beats the 3-page run
  });

  test('randomized operations agree with a granule-map model (seeded)', () => {
    const rng = new Rng(4242);
    const pool = new GenPool(12);
    const chunks: Array<[number, number]> = [[BASE + 64 * PAGE, 200], [BASE, 50], [BASE + 300 * PAGE, 120]];
    for (const [b, n] of chunks) pool.addChunk(b, n * PAGE);
    chunks.sort((x, y) => x[0] - y[0]);
    const models = chunks.map(([, n]) => new Uint8Array(n));
    const live: Array<[number, number]> = [];
    let free = 370;
    const algos = ['first-fit', 'best-fit', 'first-fit-aligned'] as const;

    /** Expected result per algorithm, computed on the model. */
    const expected = (algo: (typeof algos)[number], n: number, alignOrder: number): number | null => {
      let best: number | null = null;
      let bestLen = Infinity;
      for (let c = 0; c < chunks.length; c++) {
        const m = models[c];
        const base = chunks[c][0];
        for (let i = 0; i < m.length; ) {
          if (m[i] !== 0) { i++; continue; }
          let e = i;
          while (e < m.length && m[e] === 0) e++;
          if (algo === 'first-fit' && e - i >= n) return base + i * PAGE;
          if (algo === 'best-fit' && e - i >= n && e - i < bestLen) { bestLen = e - i; best = base + i * PAGE; }
          if (algo === 'first-fit-aligned') {
            const align = 2 ** Math.max(0, alignOrder - 12) * PAGE;
            const s = Math.ceil((base + i * PAGE) / align) * align;
            if (s + n * PAGE <= base + e * PAGE) return s;
          }
          i = e;
        }
      }
      return best;
    };

    for (let step = 0; step < 3000; step++) {
      if (live.length === 0 || rng.nextFloat() < 0.6) {
        const algo = algos[rng.nextInt(3)];
        pool.setAlgo(algo);
        const n = 1 + rng.nextInt(12);
        const alignOrder = 12 + rng.nextInt(4);
        const want = expected(algo, n, alignOrder);
        const got = pool.alloc(n * PAGE - rng.nextInt(PAGE), alignOrder);
        expect(got).toBe(want);
        if (got !== null) {
          const c = chunks.findIndex(([b, len]) => got >= b && got < b + len * PAGE);
          const i = (got - chunks[c][0]) / PAGE;
          models[c].fill(1, i, i + n);
          live.push([got, n]);
          free -= n;
        }
      } else {
        const [a, n] = live.splice(rng.nextInt(live.length), 1)[0];
        pool.free(a, n * PAGE);
        const c = chunks.findIndex(([b, len]) => a >= b && a < b + len * PAGE);
        const i = (a - chunks[c][0]) / PAGE;
        models[c].fill(0, i, i + n);
        free += n;
      }
      expect(pool.avail()).toBe(free * PAGE);
    }
    for (const [a, n] of live) pool.free(a, n * PAGE);
    expect(pool.avail()).toBe(pool.size());
  });
});
