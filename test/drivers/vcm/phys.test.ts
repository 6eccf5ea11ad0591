import { BuddyAllocator } from '../../../drivers/mm/buddy';
import { Errno, KernelError } from '../../../drivers/errno';
import { vcmPhysAlloc, vcmPhysWalk } from '../../../drivers/vcm/phys';
import type { VcmEnv, VcmPhys } from '../../../drivers/vcm/types';
import { DRAM_BASE, kernelRig } from '../../helpers/kernelRig';

const KiB = 1024;
const MiB = 1024 * KiB;

function env(size = 64 * MiB): VcmEnv {
  const { kernel } = kernelRig();
  return { kernel, pages: new BuddyAllocator(DRAM_BASE, size) };
}

function thrown(f: () => unknown): KernelError {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

function phys(parts: Array<[number, number]>): VcmPhys {
  return { count: parts.length, size: parts.reduce((a, [, s]) => a + s, 0), bindings: 0, free: null, parts: parts.map(([start, size]) => ({ start, size })) };
}

describe('vcm_phys_alloc (vcm-drv.h)', () => {
  test('acceptance: orders {8,4,0}, 2 MiB + 68 KiB = two 1 MiB pages, one 64 KiB, one 4 KiB', () => {
    const e = env();
    const p = vcmPhysAlloc(e, 2 * MiB + 68 * KiB, 0, [8, 4, 0]);
    expect(p.parts.map((x) => x.size)).toEqual([MiB, MiB, 64 * KiB, 4 * KiB]);
    expect(p.count).toBe(4);
    expect(p.size).toBe(2 * MiB + 68 * KiB);
    for (const part of p.parts) {
      expect(part.start % part.size).toBe(0); // buddy blocks are naturally aligned
      expect(e.pages.isAllocated(part.start)).toBe(true);
    }
    const before = e.pages.freePageCount;
    p.free!(p);
    expect(e.pages.freePageCount).toBe(before + (2 * MiB + 68 * KiB) / 4096);
  });

  test('the header example: orders {8,0}, 2 MiB + 12 KiB = two 1 MiB pages and three 4 KiB pages', () => {
    const p = vcmPhysAlloc(env(), 2 * MiB + 12 * KiB, 0, [8, 0]);
    expect(p.parts.map((x) => x.size)).toEqual([MiB, MiB, 4 * KiB, 4 * KiB, 4 * KiB]);
  });

  test('falls back to smaller pages when a large page cannot be allocated', () => {
    // 1 MiB + 64 KiB of memory with max order 4 (64 KiB blocks): no 1 MiB page exists.
    const e = env();
    e.pages = new BuddyAllocator(DRAM_BASE, MiB + 64 * KiB, 4096, 4);
    const p = vcmPhysAlloc(e, MiB + 4 * KiB, 0, [8, 4, 0]);
    expect(p.parts.map((x) => x.size)).toEqual([...Array(16).fill(64 * KiB), 4 * KiB]);
  });

  test('ENOMEM when the memory is not there; everything allocated on the way is returned', () => {
    const e = env(MiB);
    const free = e.pages.freePageCount;
    const err = thrown(() => vcmPhysAlloc(e, MiB + 4 * KiB, 0, [8, 4, 0]));
    expect(err.errnoName).toBe('ENOMEM');
    expect(err.errno).toBe(-Errno.ENOMEM);
    expect(e.pages.freePageCount).toBe(free);
    expect(e.kernel.warnings).toBe(0);
  });

  test('EINVAL with a warning: size 0, size not page aligned, bad orders', () => {
    const e = env();
    expect(thrown(() => vcmPhysAlloc(e, 0, 0, [0])).errnoName).toBe('EINVAL');
    expect(thrown(() => vcmPhysAlloc(e, 4097, 0, [0])).errnoName).toBe('EINVAL');
    expect(thrown(() => vcmPhysAlloc(e, 4096, 0, [4, 8, 0])).errnoName).toBe('EINVAL');
    expect(thrown(() => vcmPhysAlloc(e, 4096, 0, [8, 4])).errnoName).toBe('EINVAL');
    expect(e.kernel.warnings).toBe(4);
    expect(e.kernel.messages('vcm', 'warn')).toEqual([
      'vcm_phys_alloc: size 0',
      'vcm_phys_alloc: size 0x1001 not page aligned',
      'vcm_phys_alloc: orders [4, 8, 0] not sorted from largest to smallest',
      'vcm_phys_alloc: orders [8, 4] do not end with 0',
    ]);
  });
});

describe('vcm_phys_walk (vcm-drv.h)', () => {
  type Page = [number, number, number];
  const record = (out: Page[]) => (v: number, p: number, o: number): number => { out.push([v, p, o]); return 0; };

  test('the header example: a 1 MiB part and an 8 KiB part with {8,0} = one 1 MiB page, two 4 KiB pages', () => {
    const pages: Page[] = [];
    const ph = phys([[0x8010_0000, MiB], [0x8030_0000, 8 * KiB]]);
    expect(vcmPhysWalk(0x1000_0000, ph, [8, 0], record(pages), null, null)).toBe(0);
    expect(pages).toEqual([[0x1000_0000, 0x8010_0000, 8], [0x1010_0000, 0x8030_0000, 0], [0x1010_1000, 0x8030_1000, 0]]);
  });

  test('address 0 is a valid virtual and physical address', () => {
    const pages: Page[] = [];
    expect(vcmPhysWalk(0, phys([[0, MiB]]), [8, 0], record(pages), null, null)).toBe(0);
    expect(pages).toEqual([[0, 0, 8]]);
  });

  test('a misaligned virtual address falls back to smaller pages', () => {
    const pages: Page[] = [];
    // vaddr is 64 KiB but not 1 MiB aligned: 1 MiB of memory maps as 16 x 64 KiB.
    expect(vcmPhysWalk(0x1001_0000, phys([[0x8010_0000, MiB]]), [8, 4, 0], record(pages), null, null)).toBe(0);
    expect(pages).toHaveLength(16);
    expect(pages.every(([, , o]) => o === 4)).toBe(true);
    // Only 4 KiB aligned: 256 x 4 KiB.
    pages.length = 0;
    vcmPhysWalk(0x1000_1000, phys([[0x8010_0000, MiB]]), [8, 4, 0], record(pages), null, null);
    expect(pages).toHaveLength(256);
    expect(pages.every(([, , o]) => o === 0)).toBe(true);
  });

  test('a misaligned physical address falls back to smaller pages too', () => {
    const pages: Page[] = [];
    vcmPhysWalk(0x1000_0000, phys([[0x8001_0000, MiB]]), [8, 4, 0], record(pages), null, null);
    expect(pages).toHaveLength(16);
    expect(pages.every(([, , o]) => o === 4)).toBe(true);
  });

  test('larger pages resume once both addresses reach a larger boundary (mm/vcm.c never grows the page again)', () => {
    const pages: Page[] = [];
    // Same offset (0xF0000) in both address spaces: 64 KiB up to the 1 MiB boundary, then 1 MiB.
    vcmPhysWalk(0x100f_0000, phys([[0x800f_0000, MiB + 64 * KiB]]), [8, 4, 0], record(pages), null, null);
    expect(pages).toEqual([[0x100f_0000, 0x800f_0000, 4], [0x1010_0000, 0x8010_0000, 8]]);
  });

  test('on a callback failure, recovery runs over exactly the pages already done, and the error is returned', () => {
    const done: Page[] = [];
    const recovered: Page[] = [];
    let n = 0;
    const cb = (v: number, p: number, o: number): number => {
      if (++n === 4) return -Errno.EIO;
      done.push([v, p, o]);
      return 0;
    };
    const ph = phys([[0x8010_0000, MiB], [0x8040_0000, 64 * KiB], [0x8050_0000, 12 * KiB]]);
    expect(vcmPhysWalk(0x1000_0000, ph, [8, 4, 0], cb, record(recovered), 'priv')).toBe(-Errno.EIO);
    expect(done).toHaveLength(3); // 1 MiB, 64 KiB, first 4 KiB
    expect(recovered).toEqual(done);
  });

  test('a failure on the first page recovers nothing; without recovery the error is just returned', () => {
    const recovered: Page[] = [];
    expect(vcmPhysWalk(0, phys([[0, MiB]]), [8, 0], () => -Errno.ENOMEM, record(recovered), null)).toBe(-Errno.ENOMEM);
    expect(recovered).toEqual([]);
    expect(vcmPhysWalk(0, phys([[0, MiB]]), [8, 0], () => -Errno.ENOMEM, null, null)).toBe(-Errno.ENOMEM);
  });

  test('recovery stops at its own failure', () => {
    let calls = 0;
    let recoveries = 0;
    const ret = vcmPhysWalk(0, phys([[0, 16 * KiB]]), [0], () => (++calls === 4 ? -Errno.EIO : 0), () => (++recoveries === 2 ? -Errno.EFAULT : 0), null);
    expect(ret).toBe(-Errno.EIO);
    expect(recoveries).toBe(2);
  });

  test('priv is passed to the callbacks', () => {
    const seen: unknown[] = [];
    vcmPhysWalk(0, phys([[0, 4 * KiB]]), [0], (_v, _p, _o, priv) => { seen.push(priv); return 0; }, null, { ctx: 1 });
    expect(seen).toEqual([{ ctx: 1 }]);
  });

  test('EINVAL with a warning for a misaligned vaddr, an unaligned part, empty memory, bad orders', () => {
    const { kernel } = kernelRig();
    const ok = () => 0;
    expect(vcmPhysWalk(0x800, phys([[0, 4096]]), [0], ok, null, null, kernel)).toBe(-Errno.EINVAL);
    expect(vcmPhysWalk(0, phys([[0x800, 4096]]), [0], ok, null, null, kernel)).toBe(-Errno.EINVAL);
    expect(vcmPhysWalk(0, phys([]), [0], ok, null, null, kernel)).toBe(-Errno.EINVAL);
    expect(vcmPhysWalk(0, phys([[0, 4096]]), [], ok, null, null, kernel)).toBe(-Errno.EINVAL);
    expect(kernel.warnings).toBe(4);
    expect(kernel.messages('vcm')[0]).toBe('vcm_phys_walk: vaddr 0x800 not page aligned');
  });
});
