import { Status } from '../../../sim/bus/transaction';
import { DmaRig, pattern } from '../../helpers/dmaRig';
import {
  DmaPool,
  POOL_POISON_ALLOCATED,
  POOL_POISON_FREED,
  dmaPoolAlloc,
  dmaPoolCreate,
  dmaPoolDestroy,
  dmaPoolFree,
  dmaPoolZalloc,
} from '../../../drivers/dma/pool';
import { dmaFreeCoherent } from '../../../drivers/dma/mapping';
import { GFP_KERNEL, type DmaCoherentBuffer } from '../../../drivers/dma/types';

function create(rig: DmaRig, name: string, size: number, align: number, boundary: number, device = 'dma64'): DmaPool {
  const pool = dmaPoolCreate(name, rig.dev(device), size, align, boundary);
  if (!pool) throw new Error(`dma_pool_create ${name} failed`);
  return pool;
}

function alloc(pool: DmaPool, gfp = GFP_KERNEL): DmaCoherentBuffer {
  const b = dmaPoolAlloc(pool, gfp);
  if (!b) throw new Error(`dma_pool_alloc ${pool.name} failed`);
  return b;
}

function cpuBytes(rig: DmaRig, va: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  rig.cpu.read(va, out);
  return out;
}

const errs = (rig: DmaRig) => rig.kernel.messages('dmapool', 'err');

describe('dma_pool_create: argument rules of mm/dmapool.c', () => {
  const rig = new DmaRig();
  const dev = rig.dev('dma64');

  test('size is rounded up to the alignment; allocation is at least a page; boundary 0 means the allocation', () => {
    const p = dmaPoolCreate('p100', dev, 100, 64, 0)!;
    expect([p.size, p.align, p.allocation, p.boundary, p.blocksPerPage]).toEqual([128, 64, 4096, 4096, 32]);
    const big = dmaPoolCreate('big', dev, 6000, 8, 0)!;
    expect([big.size, big.allocation, big.boundary, big.blocksPerPage]).toEqual([6000, 6000, 6000, 1]);
    const odd = dmaPoolCreate('odd', dev, 100, 0, 0)!;
    expect([odd.size, odd.align, odd.blocksPerPage]).toEqual([100, 1, 40]); // align 0 -> 1: 4096/100
    expect(dmaPoolCreate('tiny', dev, 2, 1, 0)!.size).toBe(4); // Linux's minimum block
  });

  test('invalid alignment, zero size and bad boundaries give null', () => {
    expect(dmaPoolCreate('a', dev, 64, 48, 0)).toBeNull(); // align not a power of two
    expect(dmaPoolCreate('b', dev, 0, 8, 0)).toBeNull();
    expect(dmaPoolCreate('c', dev, 128, 8, 64)).toBeNull(); // boundary < size
    expect(dmaPoolCreate('d', dev, 64, 8, 100)).toBeNull(); // boundary not a power of two
    expect(dmaPoolCreate('e', dev, 96, 32, 96)).toBeNull(); // 96 >= size but not a power of two
    expect(dmaPoolCreate('f', dev, 128, 8, 128)!.boundary).toBe(128); // boundary == size is fine
    const w = rig.kernel.warnings;
    expect(dmaPoolCreate('g', dev, -4, 8, 0)).toBeNull();
    expect(rig.kernel.warnings).toBe(w + 1);
  });
});

describe('dma_pool_alloc: layout, alignment and boundary', () => {
  test('size 100 align 64: 128-byte blocks, 32 per page, each 64-byte aligned; a second page only when the first is full', () => {
    const rig = new DmaRig();
    const pool = create(rig, 'desc', 100, 64, 0);
    const blocks: DmaCoherentBuffer[] = [];
    for (let i = 0; i < 32; i++) blocks.push(alloc(pool));
    expect(rig.stat('kernel.dmapool.desc.pages')).toBe(1);
    const base = blocks[0].dmaHandle;
    expect(base % 4096).toBe(0);
    // Blocks come out in page order: offset i * 128, the CPU address at the same offset.
    blocks.forEach((b, i) => {
      expect(b.dmaHandle).toBe(base + i * 128);
      expect(b.cpuAddr).toBe(blocks[0].cpuAddr + i * 128);
      expect(b.dmaHandle % 64).toBe(0);
    });
    const next = alloc(pool);
    expect(rig.stat('kernel.dmapool.desc.pages')).toBe(2);
    expect(Math.floor(next.dmaHandle / 4096)).not.toBe(Math.floor(base / 4096));
    expect(next.dmaHandle % 4096).toBe(0);
    expect(rig.stat('kernel.dmapool.desc.blocks_in_use')).toBe(33);
    expect(rig.stat('kernel.dmapool.desc.blocks')).toBe(64);
  });

  test('boundary 256 with size 96: no block straddles a 256-byte line (two blocks per line)', () => {
    const rig = new DmaRig();
    const pool = create(rig, 'bnd', 96, 32, 256);
    expect(pool.blockOffsets.slice(0, 6)).toEqual([0, 96, 256, 352, 512, 608]);
    expect(pool.blocksPerPage).toBe(32);
    const seen = new Set<number>();
    for (let i = 0; i < 80; i++) {
      const b = alloc(pool);
      expect(Math.floor(b.dmaHandle / 256)).toBe(Math.floor((b.dmaHandle + 96 - 1) / 256));
      expect(b.dmaHandle % 32).toBe(0);
      seen.add(b.dmaHandle);
    }
    expect(seen.size).toBe(80);
    expect(rig.stat('kernel.dmapool.bnd.pages')).toBe(3); // 32 + 32 + 16
  });

  test('blocks larger than a page with a boundary: each page is one block that does not cross the boundary', () => {
    const rig = new DmaRig();
    const pool = create(rig, 'large', 5000, 8, 8192);
    expect([pool.allocation, pool.blocksPerPage, pool.pageAlign]).toEqual([5000, 1, 8192]);
    const w = rig.kernel.warnings;
    for (let i = 0; i < 4; i++) {
      const b = alloc(pool);
      expect(Math.floor(b.dmaHandle / 8192)).toBe(Math.floor((b.dmaHandle + 5000 - 1) / 8192));
    }
    expect(rig.stat('kernel.dmapool.large.pages')).toBe(4);
    expect(rig.kernel.warnings).toBe(w); // every page came back 8 KiB aligned
  });

  test('pages are dma_alloc_coherent allocations of the device (dma-debug and dma_is_consistent see them)', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const before = dev.coherentAllocations.size;
    const pool = create(rig, 'co', 64, 64, 0);
    const b = alloc(pool);
    expect(dev.coherentAllocations.size).toBe(before + 1);
    expect(dev.coherentAllocations.get(b.dmaHandle)).toEqual({ size: 4096, cpuAddr: b.cpuAddr, consistent: true });
  });
});

describe('free list: LIFO per page, newest page first', () => {
  test('the last block freed is the first reused', () => {
    const rig = new DmaRig();
    const pool = create(rig, 'lifo', 64, 64, 0);
    const [a, b, c] = [alloc(pool), alloc(pool), alloc(pool)];
    dmaPoolFree(pool, b.cpuAddr, b.dmaHandle);
    dmaPoolFree(pool, a.cpuAddr, a.dmaHandle);
    expect(alloc(pool)).toEqual(a);
    expect(alloc(pool)).toEqual(b);
    expect(alloc(pool).dmaHandle).toBe(c.dmaHandle + 64); // the untouched chain continues
    expect(rig.stat('kernel.dmapool.lifo.blocks_in_use')).toBe(4);
  });

  test('a block freed on an older page waits while the newest page has free blocks (list_add order)', () => {
    const rig = new DmaRig();
    const pool = create(rig, 'order', 2048, 8, 0); // 2 blocks a page
    const p1 = [alloc(pool), alloc(pool)];
    const p2a = alloc(pool); // second page
    dmaPoolFree(pool, p1[0].cpuAddr, p1[0].dmaHandle);
    expect(alloc(pool).dmaHandle).toBe(p2a.dmaHandle + 2048); // from the newest page
    expect(alloc(pool)).toEqual(p1[0]); // newest page full: the older page's free block
    expect(rig.stat('kernel.dmapool.order.pages')).toBe(2);
  });

  test('pages stay when every block is free and go only on destroy', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const pool = create(rig, 'keep', 1024, 8, 0);
    const bs = Array.from({ length: 9 }, () => alloc(pool)); // 4 a page: 3 pages
    const pageHandles = [bs[0], bs[4], bs[8]].map((b) => b.dmaHandle);
    expect(rig.stat('kernel.dmapool.keep.pages')).toBe(3);
    for (const b of bs) dmaPoolFree(pool, b.cpuAddr, b.dmaHandle);
    expect(rig.stat('kernel.dmapool.keep.blocks_in_use')).toBe(0);
    expect(rig.stat('kernel.dmapool.keep.pages')).toBe(3);
    for (const h of pageHandles) expect(dev.coherentAllocations.has(h)).toBe(true);
    // Reuse takes no new page until all 12 blocks of the 3 pages are out again.
    const again = Array.from({ length: 12 }, () => alloc(pool));
    expect(rig.stat('kernel.dmapool.keep.pages')).toBe(3);
    const extra = alloc(pool);
    expect(rig.stat('kernel.dmapool.keep.pages')).toBe(4);
    for (const b of [...again, extra]) dmaPoolFree(pool, b.cpuAddr, b.dmaHandle);
    expect(rig.stat('kernel.dmapool.keep.pages')).toBe(4);
    const w = rig.kernel.warnings;
    dmaPoolDestroy(pool);
    expect(rig.stat('kernel.dmapool.keep.pages')).toBe(0);
    for (const h of pageHandles) expect(dev.coherentAllocations.has(h)).toBe(false);
    expect(errs(rig)).toEqual([]);
    expect(rig.kernel.warnings).toBe(w);
  });

  test('destroy of an idle pool frees every page back to the DMA layer', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const pool = create(rig, 'idle', 1024, 8, 0);
    const bs = Array.from({ length: 5 }, () => alloc(pool));
    const pages = [bs[0].dmaHandle, bs[4].dmaHandle];
    for (const b of bs) dmaPoolFree(pool, b.cpuAddr, b.dmaHandle);
    const before = dev.coherentAllocations.size;
    dmaPoolDestroy(pool);
    expect(dev.coherentAllocations.size).toBe(before - 2);
    for (const h of pages) expect(dev.coherentAllocations.has(h)).toBe(false);
    expect(rig.stat('kernel.dmapool.idle.pages')).toBe(0);
    expect(errs(rig)).toEqual([]);
    expect(pool.destroyed).toBe(true);
  });
});

describe('error reports (dev_err wording of mm/dmapool.c)', () => {
  test('destroy with a busy block: "dma_pool_destroy <name>, <vaddr> busy" and that page leaks', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const pool = create(rig, 'busy', 2048, 8, 0);
    const [a, b] = [alloc(pool), alloc(pool)];
    const c = alloc(pool); // second page, freed below
    dmaPoolFree(pool, b.cpuAddr, b.dmaHandle);
    dmaPoolFree(pool, c.cpuAddr, c.dmaHandle);
    const w = rig.kernel.warnings;
    dmaPoolDestroy(pool);
    expect(errs(rig)).toEqual([`platform dma64: dma_pool_destroy busy, 0x${a.cpuAddr.toString(16)} busy`]);
    expect(dev.coherentAllocations.has(a.dmaHandle)).toBe(true); // leaked: still allocated
    expect(dev.coherentAllocations.has(c.dmaHandle)).toBe(false); // idle page freed
    expect(rig.stat('kernel.dmapool.busy.pages')).toBe(0);
    // The leaked page is a real live allocation: freeing it by hand is accepted without complaint.
    dmaFreeCoherent(dev, 4096, a.cpuAddr, a.dmaHandle);
    expect(dev.coherentAllocations.has(a.dmaHandle)).toBe(false);
    expect(rig.kernel.warnings).toBe(w);
  });

  test('free of an address outside the pool: "(bad dma)" and nothing changes', () => {
    const rig = new DmaRig();
    const pool = create(rig, 'bad', 64, 64, 0);
    const a = alloc(pool);
    const wrong = a.dmaHandle + 16 * 4096;
    dmaPoolFree(pool, a.cpuAddr, wrong);
    expect(errs(rig)).toEqual([`platform dma64: dma_pool_free bad, 0x${a.cpuAddr.toString(16)}/${wrong.toString(16)} (bad dma)`]);
    // Inside a page but not a block start: refused the same way.
    dmaPoolFree(pool, a.cpuAddr + 4, a.dmaHandle + 4);
    expect(errs(rig)[1]).toBe(`platform dma64: dma_pool_free bad, 0x${(a.cpuAddr + 4).toString(16)}/${(a.dmaHandle + 4).toString(16)} (bad dma)`);
    expect(rig.stat('kernel.dmapool.bad.blocks_in_use')).toBe(1);
    expect(alloc(pool).dmaHandle).toBe(a.dmaHandle + 64); // a was not put back
  });

  test('free with a CPU address that does not match the DMA address: "(bad vaddr)"', () => {
    const rig = new DmaRig();
    const pool = create(rig, 'bv', 64, 64, 0);
    const [a, b] = [alloc(pool), alloc(pool)];
    dmaPoolFree(pool, b.cpuAddr, a.dmaHandle);
    expect(errs(rig)).toEqual([`platform dma64: dma_pool_free bv, 0x${b.cpuAddr.toString(16)} (bad vaddr)/0x${a.dmaHandle.toString(16).padStart(16, '0')}`]);
    expect(rig.stat('kernel.dmapool.bv.blocks_in_use')).toBe(2);
  });

  test('double free: "dma_pool_free <name>, dma <dma> already free", the block is not listed twice', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    dev.bindDriver('nvme');
    const pool = create(rig, 'dbl', 64, 64, 0);
    const [a, b] = [alloc(pool), alloc(pool)];
    dmaPoolFree(pool, a.cpuAddr, a.dmaHandle);
    dmaPoolFree(pool, a.cpuAddr, a.dmaHandle);
    expect(errs(rig)).toEqual([`nvme dma64: dma_pool_free dbl, dma 0x${a.dmaHandle.toString(16).padStart(16, '0')} already free`]);
    expect(rig.stat('kernel.dmapool.dbl.blocks_in_use')).toBe(1);
    expect(alloc(pool)).toEqual(a);
    expect(alloc(pool).dmaHandle).toBe(b.dmaHandle + 64); // a is not handed out a second time
  });

  test('calls on a destroyed pool are refused with a warning', () => {
    const rig = new DmaRig();
    const pool = create(rig, 'gone', 64, 64, 0);
    dmaPoolDestroy(pool);
    const w = rig.kernel.warnings;
    expect(dmaPoolAlloc(pool, GFP_KERNEL)).toBeNull();
    dmaPoolDestroy(pool);
    expect(rig.kernel.warnings).toBe(w + 2);
    dmaPoolDestroy(null); // allowed, as in Linux
    expect(rig.kernel.warnings).toBe(w + 2);
  });
});

describe('DMAPOOL_DEBUG poisoning, through the CPU', () => {
  test('a new page is 0xa7, an allocated block 0xa9, a freed block 0xa7, a zalloc block 0', () => {
    const rig = new DmaRig();
    const pool = create(rig, 'poison', 128, 64, 0);
    const a = alloc(pool);
    expect(cpuBytes(rig, a.cpuAddr, 128)).toEqual(new Uint8Array(128).fill(POOL_POISON_ALLOCATED));
    expect(cpuBytes(rig, a.cpuAddr + 128, 4096 - 128)).toEqual(new Uint8Array(4096 - 128).fill(POOL_POISON_FREED));
    rig.cpu.write(a.cpuAddr, pattern(128, 1));
    dmaPoolFree(pool, a.cpuAddr, a.dmaHandle);
    expect(cpuBytes(rig, a.cpuAddr, 128)).toEqual(new Uint8Array(128).fill(POOL_POISON_FREED));
    const z = dmaPoolZalloc(pool)!;
    expect(z).toEqual(a);
    expect(cpuBytes(rig, z.cpuAddr, 128)).toEqual(new Uint8Array(128));
    // The bytes are in memory, where the device reads them (the CPU address is uncached).
    expect(rig.peek(z.dmaHandle + 128, 4)).toEqual(new Uint8Array(4).fill(POOL_POISON_FREED));
    expect(errs(rig)).toEqual([]);
  });

  test('a device write into a free block is reported at its next allocation: "(corrupted)"', () => {
    const rig = new DmaRig();
    const pool = create(rig, 'uaf', 256, 64, 0);
    const [a, b] = [alloc(pool), alloc(pool)];
    rig.cpu.write(b.cpuAddr, pattern(256, 4));
    dmaPoolFree(pool, a.cpuAddr, a.dmaHandle);
    // A buggy device still holds a's address and writes 16 bytes into it.
    expect(rig.copy('dma64', b.dmaHandle, a.dmaHandle + 32, 16).status).toBe(Status.Ok);
    const again = alloc(pool);
    expect(again).toEqual(a);
    expect(errs(rig)[0]).toBe(`platform dma64: dma_pool_alloc uaf, 0x${a.cpuAddr.toString(16)} (corrupted)`);
    const row = Array.from(pattern(256, 4).subarray(0, 16), (x) => x.toString(16).padStart(2, '0')).join(' ');
    expect(errs(rig)[1]).toBe(`00000020: ${row}`);
    expect(cpuBytes(rig, again.cpuAddr, 256)).toEqual(new Uint8Array(256).fill(POOL_POISON_ALLOCATED));
  });
});

describe('pool memory is usable by the device', () => {
  for (const device of ['dma64', 'dma_coh']) {
    test(`${device}: the device copies between two pool blocks; the CPU reads the copy through cpuAddr`, () => {
      const rig = new DmaRig();
      const pool = create(rig, 'xfer', 512, 64, 0, device);
      const [src, dst] = [alloc(pool), alloc(pool)];
      const data = pattern(512, 7);
      rig.cpu.write(src.cpuAddr, data);
      const r = rig.copy(device, src.dmaHandle, dst.dmaHandle, 512);
      expect(r.status).toBe(Status.Ok);
      expect(cpuBytes(rig, dst.cpuAddr, 512)).toEqual(data);
    });
  }

  test('behind the SMMU the block handles are IOVAs of the page plus the block offset', () => {
    const rig = new DmaRig();
    const pool = create(rig, 'iova', 1024, 64, 0, 'dma_smmu');
    const [src, dst] = [alloc(pool), alloc(pool)];
    expect(dst.dmaHandle - src.dmaHandle).toBe(1024);
    const phys = rig.cpu.virtToPhys(src.cpuAddr);
    expect(src.dmaHandle).not.toBe(phys); // an IOVA, not the physical address
    const data = pattern(1024, 11);
    rig.cpu.write(src.cpuAddr, data);
    expect(rig.copy('dma_smmu', src.dmaHandle, dst.dmaHandle, 1024).status).toBe(Status.Ok);
    expect(cpuBytes(rig, dst.cpuAddr, 1024)).toEqual(data);
  });
});

describe('stats', () => {
  test('pools of the same name add up; odd characters in names become _', () => {
    const rig = new DmaRig();
    const p1 = create(rig, 'ring buf.0', 64, 64, 0);
    const p2 = create(rig, 'ring buf.0', 64, 64, 0, 'dma_coh');
    alloc(p1);
    alloc(p1);
    alloc(p2);
    expect(rig.stat('kernel.dmapool.ring_buf_0.blocks_in_use')).toBe(3);
    expect(rig.stat('kernel.dmapool.ring_buf_0.pages')).toBe(2);
    expect(rig.stat('kernel.dmapool.ring_buf_0.blocks')).toBe(128);
    dmaPoolDestroy(p2); // busy: leaked, and no longer counted
    expect(rig.stat('kernel.dmapool.ring_buf_0.blocks_in_use')).toBe(2);
    expect(rig.stat('kernel.dmapool.ring_buf_0.pages')).toBe(1);
  });
});
