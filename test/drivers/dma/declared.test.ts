import { Status } from '../../../sim/bus/transaction';
import { KernelError } from '../../../drivers/errno';
import {
  DeclaredCoherentRegion,
  dmaDeclareCoherentMemory,
  dmaMarkDeclaredMemoryOccupied,
  dmaReleaseDeclaredMemory,
} from '../../../drivers/dma/declared';
import { DmaDevice } from '../../../drivers/dma/device';
import {
  DMA_MEMORY_EXCLUSIVE,
  DMA_MEMORY_INCLUDES_CHILDREN,
  DMA_MEMORY_IO,
  DMA_MEMORY_MAP,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaIsConsistent,
} from '../../../drivers/dma/mapping';
import type { DmaCoherentBuffer } from '../../../drivers/dma/types';
import { DmaRig, DRAM_END, pattern } from '../../helpers/dmaRig';

const PAGE = 4096;

/** `pages` pages of DRAM taken from the page allocator (so nothing else uses them): their physical address. */
function carve(rig: DmaRig, pages: number): number {
  const pa = rig.platform.pages.allocPages(Math.log2(pages));
  if (pa === null) throw new Error('out of pages');
  return pa;
}

function alloc(dev: DmaDevice, size: number): DmaCoherentBuffer {
  const b = dmaAllocCoherent(dev, size);
  if (!b) throw new Error(`dma_alloc_coherent ${size} failed`);
  return b;
}

function region(dev: DmaDevice): DeclaredCoherentRegion {
  if (!(dev.declaredMemory instanceof DeclaredCoherentRegion)) throw new Error('no declared region');
  return dev.declaredMemory;
}

function cpuBytes(rig: DmaRig, va: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  rig.cpu.read(va, out);
  return out;
}

function childOf(parent: DmaDevice, name: string): DmaDevice {
  return new DmaDevice(name, parent.env, parent.ops, { coherent: parent.coherent, busDmaLimit: parent.busDmaLimit, parent });
}

describe('dma_declare_coherent_memory: return values', () => {
  const rig = new DmaRig();
  const dev = rig.dev('dma64');
  const bus = carve(rig, 16);

  const declare = (flags: number, size = 16 * PAGE, busAddr = bus): number => {
    const rc = dmaDeclareCoherentMemory(dev, busAddr, busAddr, size, flags);
    const had = dev.declaredMemory !== null;
    dmaReleaseDeclaredMemory(dev);
    expect(had).toBe(rc !== 0); // a region exists exactly when the call succeeded
    return rc;
  };

  test('the honoured flag, which is one of those passed in', () => {
    expect(declare(DMA_MEMORY_MAP)).toBe(DMA_MEMORY_MAP);
    expect(declare(DMA_MEMORY_IO)).toBe(DMA_MEMORY_IO);
    expect(declare(DMA_MEMORY_MAP | DMA_MEMORY_IO)).toBe(DMA_MEMORY_MAP);
    expect(declare(DMA_MEMORY_MAP | DMA_MEMORY_EXCLUSIVE)).toBe(DMA_MEMORY_MAP);
    expect(declare(DMA_MEMORY_IO | DMA_MEMORY_INCLUDES_CHILDREN | DMA_MEMORY_EXCLUSIVE)).toBe(DMA_MEMORY_IO);
  });

  test('0 without MAP or IO, for a size that is zero or not whole pages, and outside the SoC memory', () => {
    expect(declare(0)).toBe(0);
    expect(declare(DMA_MEMORY_INCLUDES_CHILDREN | DMA_MEMORY_EXCLUSIVE)).toBe(0);
    expect(declare(DMA_MEMORY_MAP, 0)).toBe(0);
    expect(declare(DMA_MEMORY_MAP, 6000)).toBe(0);
    expect(declare(DMA_MEMORY_MAP, PAGE, 0x1000)).toBe(0); // no memory there
    expect(declare(DMA_MEMORY_MAP, 2 * PAGE, DRAM_END - PAGE)).toBe(0); // runs past the end of DRAM
  });

  test('only one region per device: a second declaration fails and leaves the first in place', () => {
    expect(dmaDeclareCoherentMemory(dev, bus, bus, 8 * PAGE, DMA_MEMORY_MAP)).toBe(DMA_MEMORY_MAP);
    const first = dev.declaredMemory;
    expect(dmaDeclareCoherentMemory(dev, bus + 8 * PAGE, bus + 8 * PAGE, 8 * PAGE, DMA_MEMORY_IO)).toBe(0);
    expect(dev.declaredMemory).toBe(first);
    expect(region(dev).pages).toBe(8);
    dmaReleaseDeclaredMemory(dev);
    expect(dmaDeclareCoherentMemory(dev, bus + 8 * PAGE, bus + 8 * PAGE, 8 * PAGE, DMA_MEMORY_IO)).toBe(DMA_MEMORY_IO);
    dmaReleaseDeclaredMemory(dev);
  });

  test('declaring memory the page allocator may still hand out is accepted with a warning', () => {
    const free = carve(rig, 1);
    rig.platform.pages.freePages(free, 0);
    const w = rig.kernel.warnings;
    expect(declare(DMA_MEMORY_MAP, PAGE, free)).toBe(DMA_MEMORY_MAP);
    expect(rig.kernel.warnings).toBe(w + 1);
    expect(declare(DMA_MEMORY_MAP)).toBe(DMA_MEMORY_MAP); // carved: no warning
    expect(rig.kernel.warnings).toBe(w + 1);
  });
});

describe('allocations from the declared region', () => {
  test('the DMA address is deviceAddr + offset, the CPU address the uncached alias of busAddr + offset', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const bus = carve(rig, 16);
    const devBase = 0x4000_0000; // what the device is programmed with: not the bus address
    expect(dmaDeclareCoherentMemory(dev, bus, devBase, 16 * PAGE, DMA_MEMORY_MAP)).toBe(DMA_MEMORY_MAP);
    const at = (page: number) => ({ cpuAddr: rig.cpu.uncachedVirt(bus + page * PAGE), dmaHandle: devBase + page * PAGE });
    // Blocks of 2^order pages, aligned to their order (bitmap_find_free_region).
    expect(alloc(dev, PAGE)).toEqual(at(0));
    expect(alloc(dev, 2 * PAGE)).toEqual(at(2));
    expect(alloc(dev, 100)).toEqual(at(1));
    const three = alloc(dev, 3 * PAGE); // order 2: four pages
    expect(three).toEqual(at(4));
    expect(alloc(dev, PAGE)).toEqual(at(8));
    expect(region(dev).pagesInUse).toBe(9);
    expect(dmaIsConsistent(dev, three.dmaHandle + 5)).toBe(1);
    // Freed blocks go back to the region and are found again.
    dmaFreeCoherent(dev, 3 * PAGE, three.cpuAddr, three.dmaHandle);
    expect(region(dev).pagesInUse).toBe(5);
    expect(alloc(dev, 4 * PAGE)).toEqual(at(4));
    // Nothing of this went through the device's DMA ops.
    expect(dev.coherentAllocations.size).toBe(0);
  });

  test('the first `size` bytes are zeroed through the CPU (dma_alloc_from_coherent memset)', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const bus = carve(rig, 4);
    rig.poke(bus, new Uint8Array(4 * PAGE).fill(0xee));
    dmaDeclareCoherentMemory(dev, bus, bus, 4 * PAGE, DMA_MEMORY_IO);
    const b = alloc(dev, 100);
    const got = cpuBytes(rig, b.cpuAddr, 128);
    expect(got.subarray(0, 100)).toEqual(new Uint8Array(100));
    expect(got.subarray(100)).toEqual(new Uint8Array(28).fill(0xee));
    expect(rig.peek(bus, 100)).toEqual(new Uint8Array(100)); // uncached: the zeros are in DRAM
  });

  for (const device of ['dma64', 'dma_coh']) {
    test(`${device}: with deviceAddr == busAddr the device copies between two declared buffers`, () => {
      const rig = new DmaRig();
      const dev = rig.dev(device);
      const bus = carve(rig, 8);
      expect(dmaDeclareCoherentMemory(dev, bus, bus, 8 * PAGE, DMA_MEMORY_MAP)).toBe(DMA_MEMORY_MAP);
      const [src, dst] = [alloc(dev, 2 * PAGE), alloc(dev, 2 * PAGE)];
      expect([src.dmaHandle, dst.dmaHandle]).toEqual([bus, bus + 2 * PAGE]);
      const data = pattern(2 * PAGE, 5);
      rig.cpu.write(src.cpuAddr, data);
      expect(rig.copy(device, src.dmaHandle, dst.dmaHandle, 2 * PAGE).status).toBe(Status.Ok);
      expect(cpuBytes(rig, dst.cpuAddr, 2 * PAGE)).toEqual(data);
      expect(rig.peek(bus + 2 * PAGE, 2 * PAGE)).toEqual(data);
    });
  }
});

describe('when the region is full', () => {
  test('without EXCLUSIVE: dma_alloc_coherent falls back to the device\'s normal memory', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const bus = carve(rig, 2);
    dmaDeclareCoherentMemory(dev, bus, bus, 2 * PAGE, DMA_MEMORY_MAP);
    const inRegion = [alloc(dev, PAGE), alloc(dev, PAGE)];
    expect(inRegion.map((b) => b.dmaHandle)).toEqual([bus, bus + PAGE]);
    const fallback = alloc(dev, PAGE);
    expect(region(dev).containsDma(fallback.dmaHandle)).toBe(false);
    expect(dev.coherentAllocations.has(fallback.dmaHandle)).toBe(true); // from the DMA ops
    const big = alloc(dev, 4 * PAGE); // larger than the whole region
    expect(region(dev).containsDma(big.dmaHandle)).toBe(false);
    dmaFreeCoherent(dev, PAGE, fallback.cpuAddr, fallback.dmaHandle);
    expect(dev.coherentAllocations.has(fallback.dmaHandle)).toBe(false);
    expect(region(dev).pagesInUse).toBe(2);
  });

  test('with EXCLUSIVE: null, and the normal allocator is not used', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const bus = carve(rig, 2);
    dmaDeclareCoherentMemory(dev, bus, bus, 2 * PAGE, DMA_MEMORY_MAP | DMA_MEMORY_EXCLUSIVE);
    alloc(dev, PAGE);
    expect(dmaAllocCoherent(dev, 2 * PAGE)).toBeNull(); // one page left, aligned pair needed
    expect(alloc(dev, PAGE).dmaHandle).toBe(bus + PAGE);
    expect(dmaAllocCoherent(dev, PAGE)).toBeNull();
    expect(dmaAllocCoherent(dev, 8 * PAGE)).toBeNull();
    expect(dev.coherentAllocations.size).toBe(0);
  });
});

describe('DMA_MEMORY_INCLUDES_CHILDREN', () => {
  test('a child device allocates from its parent\'s region only when the parent declared it with INCLUDES_CHILDREN', () => {
    const rig = new DmaRig();
    const parent = rig.dev('dma64');
    const child = childOf(parent, 'dma64_child');
    const bus = carve(rig, 4);
    dmaDeclareCoherentMemory(parent, bus, bus, 4 * PAGE, DMA_MEMORY_MAP | DMA_MEMORY_INCLUDES_CHILDREN);
    const c = alloc(child, PAGE);
    expect(c.dmaHandle).toBe(bus);
    expect(region(parent).pagesInUse).toBe(1);
    dmaFreeCoherent(child, PAGE, c.cpuAddr, c.dmaHandle);
    expect(region(parent).pagesInUse).toBe(0);

    dmaReleaseDeclaredMemory(parent);
    dmaDeclareCoherentMemory(parent, bus, bus, 4 * PAGE, DMA_MEMORY_MAP);
    const n = alloc(child, PAGE);
    expect(region(parent).containsDma(n.dmaHandle)).toBe(false);
    expect(child.coherentAllocations.has(n.dmaHandle)).toBe(true);
    expect(region(parent).pagesInUse).toBe(0);
    expect(alloc(parent, PAGE).dmaHandle).toBe(bus); // the parent itself still uses it
  });
});

describe('dma_mark_declared_memory_occupied', () => {
  test('occupied pages are skipped by later allocations; the CPU address of the first page is returned', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const bus = carve(rig, 16);
    const devBase = 0x2000_0000;
    dmaDeclareCoherentMemory(dev, bus, devBase, 16 * PAGE, DMA_MEMORY_MAP);
    const virt = (page: number) => rig.cpu.uncachedVirt(bus + page * PAGE);
    expect(dmaMarkDeclaredMemoryOccupied(dev, devBase + PAGE, PAGE)).toBe(virt(1));
    expect(alloc(dev, PAGE).dmaHandle).toBe(devBase);
    expect(alloc(dev, PAGE).dmaHandle).toBe(devBase + 2 * PAGE); // page 1 skipped
    // Three pages occupy 2^get_order = 4 (pages 4..7), so an order-2 request lands at 8.
    expect(dmaMarkDeclaredMemoryOccupied(dev, devBase + 4 * PAGE, 3 * PAGE)).toBe(virt(4));
    expect(alloc(dev, 4 * PAGE).dmaHandle).toBe(devBase + 8 * PAGE);
    // An unaligned start counts its offset into the size: 0x800 + 0x1000 bytes = two pages from page 12.
    expect(dmaMarkDeclaredMemoryOccupied(dev, devBase + 12 * PAGE + 0x800, PAGE)).toBe(virt(12));
    // At the end of the region the order's pages are clipped to the region.
    expect(dmaMarkDeclaredMemoryOccupied(dev, devBase + 14 * PAGE, 2 * PAGE)).toBe(virt(14));
    expect(region(dev).pagesInUse).toBe(1 + 1 + 1 + 4 + 4 + 2 + 2);
    expect(alloc(dev, PAGE).dmaHandle).toBe(devBase + 3 * PAGE);
    expect(region(dev).pagesInUse).toBe(16);
    const fallback = alloc(dev, PAGE); // full: the DMA ops' memory
    expect(region(dev).containsDma(fallback.dmaHandle)).toBe(false);
    expect(dev.coherentAllocations.has(fallback.dmaHandle)).toBe(true);
  });

  test('EBUSY when any page is allocated or occupied (and nothing is marked); EINVAL outside the region or without one', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const bus = carve(rig, 8);
    const catchErr = (f: () => unknown): KernelError => {
      try {
        f();
      } catch (e) {
        if (e instanceof KernelError) return e;
        throw e;
      }
      throw new Error('no KernelError');
    };
    const none = catchErr(() => dmaMarkDeclaredMemoryOccupied(dev, bus, PAGE));
    expect([none.errnoName, none.errno]).toEqual(['EINVAL', -22]);
    dmaDeclareCoherentMemory(dev, bus, bus, 8 * PAGE, DMA_MEMORY_MAP);
    alloc(dev, PAGE); // page 0
    const busy = catchErr(() => dmaMarkDeclaredMemoryOccupied(dev, bus, 2 * PAGE));
    expect([busy.errnoName, busy.errno]).toEqual(['EBUSY', -16]);
    expect(region(dev).pagesInUse).toBe(1); // page 1 was not taken
    expect(alloc(dev, PAGE).dmaHandle).toBe(bus + PAGE);
    expect(catchErr(() => dmaMarkDeclaredMemoryOccupied(dev, bus + 7 * PAGE, 2 * PAGE)).errnoName).toBe('EINVAL');
    expect(catchErr(() => dmaMarkDeclaredMemoryOccupied(dev, bus - PAGE, PAGE)).errnoName).toBe('EINVAL');
    expect(catchErr(() => dmaMarkDeclaredMemoryOccupied(dev, bus + 8 * PAGE, PAGE)).errnoName).toBe('EINVAL');
    expect(region(dev).pagesInUse).toBe(2);
  });
});

describe('dma_release_declared_memory', () => {
  test('after release, dma_alloc_coherent uses normal memory; live allocations are warned about', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const bus = carve(rig, 4);
    dmaDeclareCoherentMemory(dev, bus, bus, 4 * PAGE, DMA_MEMORY_MAP | DMA_MEMORY_EXCLUSIVE);
    const held = alloc(dev, PAGE);
    expect(held.dmaHandle).toBe(bus);
    const w = rig.kernel.warnings;
    dmaReleaseDeclaredMemory(dev);
    expect(rig.kernel.warnings).toBe(w + 1);
    expect(dev.declaredMemory).toBeNull();
    const b = alloc(dev, PAGE);
    expect(b.dmaHandle < bus || b.dmaHandle >= bus + 4 * PAGE).toBe(true);
    expect(dev.coherentAllocations.has(b.dmaHandle)).toBe(true);
    dmaReleaseDeclaredMemory(dev); // nothing declared: no effect
    expect(rig.kernel.warnings).toBe(w + 1);
  });

  test('freeing an address of the region that is not a live allocation warns and changes nothing', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const bus = carve(rig, 4);
    dmaDeclareCoherentMemory(dev, bus, bus, 4 * PAGE, DMA_MEMORY_MAP);
    const occupied = dmaMarkDeclaredMemoryOccupied(dev, bus + PAGE, PAGE);
    const a = alloc(dev, 2 * PAGE); // pages 2..3
    const w = rig.kernel.warnings;
    dmaFreeCoherent(dev, PAGE, occupied, bus + PAGE); // marked, not allocated
    dmaFreeCoherent(dev, PAGE, a.cpuAddr + PAGE, a.dmaHandle + PAGE); // inside an allocation
    expect(rig.kernel.warnings).toBe(w + 2);
    expect(region(dev).pagesInUse).toBe(3);
    dmaFreeCoherent(dev, 2 * PAGE, a.cpuAddr, a.dmaHandle);
    expect(region(dev).pagesInUse).toBe(1);
    expect(rig.kernel.warnings).toBe(w + 2);
  });
});
