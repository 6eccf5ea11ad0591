import { ContiguousRegion } from '../../../drivers/mm/contiguous';
import { MiB } from '../../../sim/engine/addr';
import { SimInvariantError } from '../../../sim/engine/errors';
import { Rng } from '../../../sim/engine/rng';

const PAGE = 4096;
const BASE = 0x9000_0000;

describe('ContiguousRegion', () => {
  test('fields and first allocations', () => {
    const r = new ContiguousRegion('display', BASE, 16 * MiB);
    expect([r.name, r.base, r.size, r.pageSize]).toEqual(['display', BASE, 16 * MiB, PAGE]);
    expect(r.alloc(8 * PAGE)).toBe(BASE);
    expect(r.alloc(PAGE)).toBe(BASE + 8 * PAGE);
    expect(r.usedBytes).toBe(9 * PAGE);
    expect(r.freeBytes).toBe(16 * MiB - 9 * PAGE);
  });

  test('sizes are rounded up to pages', () => {
    const r = new ContiguousRegion('cam', BASE, 1 * MiB);
    const a = r.alloc(1) as number;
    expect(r.usedBytes).toBe(PAGE);
    expect(r.alloc(PAGE + 1)).toBe(a + PAGE);
    expect(r.usedBytes).toBe(3 * PAGE);
    expect(r.release(a + PAGE, 5000)).toBe(true); // 5000 bytes = the same 2 pages
    expect(r.usedBytes).toBe(PAGE);
    expect(r.alloc(0)).toBeNull();
  });

  test('blocks are aligned to 2^alignOrder pages in absolute page numbers', () => {
    const r = new ContiguousRegion('gpu', BASE, 4 * MiB);
    expect(r.alloc(PAGE)).toBe(BASE);
    expect(r.alloc(PAGE, 4)).toBe(BASE + 16 * PAGE); // 64 KiB aligned, first such after page 0
    expect(r.alloc(PAGE, 0)).toBe(BASE + PAGE);
    expect(r.alloc(1 * MiB, 8)).toBe(BASE + 1 * MiB);

    // A region whose base is not aligned: alignment is of the physical address.
    const u = new ContiguousRegion('u', BASE + 3 * PAGE, 1 * MiB);
    expect(u.alloc(PAGE, 2)).toBe(BASE + 4 * PAGE);
    expect(u.alloc(2 * PAGE, 3)).toBe(BASE + 8 * PAGE);
    expect(u.alloc(PAGE)).toBe(BASE + 3 * PAGE);
    expect(() => u.alloc(PAGE, -1)).toThrow(SimInvariantError);
  });

  test('exhaustion returns null and a release makes room again', () => {
    const r = new ContiguousRegion('r', BASE, 8 * PAGE);
    const a = r.alloc(3 * PAGE) as number;
    const b = r.alloc(3 * PAGE) as number;
    expect(r.alloc(3 * PAGE)).toBeNull(); // 2 pages left
    expect(r.alloc(2 * PAGE)).toBe(BASE + 6 * PAGE);
    expect(r.alloc(PAGE)).toBeNull();
    expect(r.release(a, 3 * PAGE)).toBe(true);
    expect(r.alloc(4 * PAGE)).toBeNull(); // 3 free pages, not 4
    expect(r.alloc(3 * PAGE)).toBe(a);
    expect(b).toBe(BASE + 3 * PAGE);
  });

  test('release of a wrong range returns false and changes nothing', () => {
    const r = new ContiguousRegion('r', BASE, 1 * MiB);
    const a = r.alloc(4 * PAGE) as number;
    const used = r.usedBytes;
    expect(r.release(a, 2 * PAGE)).toBe(false); // part of the block
    expect(r.release(a, 8 * PAGE)).toBe(false); // more than the block
    expect(r.release(a + PAGE, 3 * PAGE)).toBe(false); // inside, not its start
    expect(r.release(a + 1, 4 * PAGE)).toBe(false); // misaligned
    expect(r.release(BASE + 100 * PAGE, PAGE)).toBe(false); // never allocated
    expect(r.release(BASE - 4 * PAGE, 4 * PAGE)).toBe(false); // outside
    expect(r.release(a, 0)).toBe(false);
    expect(r.usedBytes).toBe(used);
    expect(r.release(a, 4 * PAGE)).toBe(true);
    expect(r.release(a, 4 * PAGE)).toBe(false); // double release
    expect(r.usedBytes).toBe(0);
  });

  test('two adjacent blocks can not be released as one', () => {
    const r = new ContiguousRegion('r', BASE, 1 * MiB);
    const a = r.alloc(2 * PAGE) as number;
    const b = r.alloc(2 * PAGE) as number;
    expect(b).toBe(a + 2 * PAGE);
    expect(r.release(a, 4 * PAGE)).toBe(false);
    expect(r.release(b, 2 * PAGE)).toBe(true);
    expect(r.release(a, 2 * PAGE)).toBe(true);
  });

  test('address 0 is a valid allocation; contains', () => {
    const r = new ContiguousRegion('low', 0, 1 * MiB);
    const a = r.alloc(PAGE);
    expect(a).not.toBeNull();
    expect(a).toBe(0);
    expect(r.release(0, PAGE)).toBe(true);
    expect(r.contains(0, 1 * MiB)).toBe(true);
    expect(r.contains(PAGE, 1 * MiB)).toBe(false);
    expect(r.contains(1 * MiB, 1)).toBe(false);
    expect(r.contains(1 * MiB - 1, 0)).toBe(true);
  });

  test('bad construction arguments throw', () => {
    expect(() => new ContiguousRegion('x', BASE + 1, MiB)).toThrow(SimInvariantError);
    expect(() => new ContiguousRegion('x', BASE, 0)).toThrow(SimInvariantError);
    expect(() => new ContiguousRegion('x', BASE, MiB, 1000)).toThrow(SimInvariantError);
  });

  test('randomized operations agree with a page-map model (seeded)', () => {
    const rng = new Rng(777);
    const base = BASE + 5 * PAGE;
    const n = 512;
    const r = new ContiguousRegion('rand', base, n * PAGE);
    const model = new Uint8Array(n);
    const live: Array<[number, number]> = [];
    let used = 0;
    const basePfn = base / PAGE;
    for (let step = 0; step < 3000; step++) {
      if (live.length === 0 || rng.nextFloat() < 0.55) {
        const count = 1 + rng.nextInt(24);
        const alignOrder = rng.nextInt(5);
        const align = 2 ** alignOrder;
        let want: number | null = null;
        for (let i = (Math.ceil(basePfn / align) * align) - basePfn; i + count <= n; i += align) {
          let ok = true;
          for (let j = i; j < i + count; j++) if (model[j]) { ok = false; break; }
          if (ok) { want = base + i * PAGE; break; }
        }
        const got = r.alloc(count * PAGE, alignOrder);
        expect(got).toBe(want);
        if (got !== null) {
          const i = (got - base) / PAGE;
          model.fill(1, i, i + count);
          live.push([got, count]);
          used += count;
        }
      } else {
        const [a, count] = live.splice(rng.nextInt(live.length), 1)[0];
        if (count > 1) expect(r.release(a, (count - 1) * PAGE)).toBe(false);
        expect(r.release(a, count * PAGE)).toBe(true);
        const i = (a - base) / PAGE;
        model.fill(0, i, i + count);
        used -= count;
      }
      expect(r.usedBytes).toBe(used * PAGE);
      expect(r.freeBytes).toBe((n - used) * PAGE);
    }
  });
});
