/**
 * dma-direct (kernel/dma/direct.c) through the public DMA API of mapping.ts on the DMA
 * test SoC: bouncing through swiotlb when a 32-bit device cannot reach a buffer above
 * 4 GiB (bytes checked after the device's DMA engine moved them), no bounce when it
 * can, coherent allocations (where, zeroed, cached or not), bad frees, and the masks.
 */
import { Errno } from '../../../drivers/errno';
import {
  dmaAllocAttrs,
  dmaAllocCoherent,
  dmaAllocNoncoherent,
  dmaFreeCoherent,
  dmaGetRequiredMask,
  dmaMapPage,
  dmaMapSg,
  dmaMapSingle,
  dmaMapSingleAttrs,
  dmaMappingError,
  dmaSetCoherentMask,
  dmaSetMask,
  dmaSupported,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaSyncSingleRangeForCpu,
  dmaUnmapSg,
  dmaUnmapSingle,
  dmaUnmapSingleAttrs,
} from '../../../drivers/dma/mapping';
import {
  DMA_ATTR_NO_WARN,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_ATTR_WRITE_COMBINE,
  DMA_BIDIRECTIONAL,
  DMA_BIT_MASK,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  sgInitTable,
  sgSetPage,
} from '../../../drivers/dma/types';
import { Status } from '../../../sim/bus/transaction';
import { ABOVE_4G, DRAM_BASE, DRAM_END, DmaRig, pattern } from '../../helpers/dmaRig';

const KiB = 1024;
const MiB = 1024 * KiB;
const N = 3000;
/** The platform defaults: CMA at the bottom of DRAM, the swiotlb pool right above it. */
const CMA_END = DRAM_BASE + 64 * MiB;
const SWIOTLB_END = CMA_END + 64 * MiB;
/** A kernel buffer above 4 GiB, near the top of DRAM (the page allocator hands out low pages first). */
const HIGH = DRAM_END - 4 * MiB;

function readPhys(rig: DmaRig, pa: number, n = N): Uint8Array {
  const out = new Uint8Array(n);
  rig.cpu.read(rig.cpu.physToVirt(pa), out);
  return out;
}

function writePhys(rig: DmaRig, pa: number, data: Uint8Array): void {
  rig.cpu.write(rig.cpu.physToVirt(pa), data);
}

function setup(device = 'dma32', opts: ConstructorParameters<typeof DmaRig>[0] = {}) {
  const rig = new DmaRig(opts);
  const dev = rig.dev(device);
  expect(rig.platform.pages.isAllocated(HIGH)).toBe(false);
  /** A low kernel buffer (below 4 GiB): its physical address. */
  const low = () => rig.cpu.virtToPhys(rig.kmalloc(16 * KiB));
  return { rig, dev, low };
}

describe('streaming mappings a 32-bit device cannot reach are bounced through swiotlb', () => {
  test('TO_DEVICE: the device reads the CPU\'s bytes from the bounce buffer', () => {
    const { rig, dev, low } = setup();
    const data = pattern(N, 1);
    writePhys(rig, HIGH, data); // dirty in the CPU cache, DRAM still zeros
    // The device itself cannot address the buffer.
    const dst = low();
    expect(rig.copy('dma32', HIGH, dst, N).status).not.toBe(Status.Ok);
    const a = dmaMapSingle(dev, rig.cpu.physToVirt(HIGH), N, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, a)).toBe(0);
    expect(rig.platform.swiotlb!.isSwiotlbBuffer(a)).toBe(true);
    expect(a + N - 1).toBeLessThan(ABOVE_4G);
    const b = dmaMapPage(dev, dst, 0, N, DMA_FROM_DEVICE);
    expect(b).toBe(dst); // reachable: no bounce
    expect(rig.copy('dma32', a, b, N).status).toBe(Status.Ok);
    dmaUnmapSingle(dev, a, N, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, b, N, DMA_FROM_DEVICE);
    expect(readPhys(rig, dst)).toEqual(data);
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(N); // in at map, nothing back for TO_DEVICE
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(0);
  });

  test('FROM_DEVICE: what the device wrote into the bounce buffer reaches the CPU at unmap', () => {
    const { rig, dev, low } = setup();
    const src = low();
    rig.poke(src, pattern(N, 2));
    readPhys(rig, HIGH); // the buffer's old (zero) lines are now in the CPU cache
    const a = dmaMapSingle(dev, rig.cpu.physToVirt(HIGH), N, DMA_FROM_DEVICE);
    expect(rig.platform.swiotlb!.isSwiotlbBuffer(a)).toBe(true);
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(0);
    expect(rig.copy('dma32', dmaMapPage(dev, src, 0, N, DMA_TO_DEVICE), a, N).status).toBe(Status.Ok);
    expect(readPhys(rig, HIGH)).toEqual(new Uint8Array(N)); // not yet
    dmaUnmapSingle(dev, a, N, DMA_FROM_DEVICE);
    expect(readPhys(rig, HIGH)).toEqual(pattern(N, 2));
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(N);
  });

  test('BIDIRECTIONAL: both ways, and the syncs copy in the middle of a mapping\'s life', () => {
    const { rig, dev, low } = setup();
    const [out, inp] = [low(), low()];
    writePhys(rig, HIGH, pattern(N, 3));
    const a = dmaMapSingle(dev, rig.cpu.physToVirt(HIGH), N, DMA_BIDIRECTIONAL);
    rig.copy('dma32', a, out, N);
    expect(rig.peek(out, N)).toEqual(pattern(N, 3));
    // Device writes; the CPU looks before unmapping.
    rig.poke(inp, pattern(N, 4));
    rig.copy('dma32', inp, a, N);
    dmaSyncSingleForCpu(dev, a, N, DMA_BIDIRECTIONAL);
    expect(readPhys(rig, HIGH)).toEqual(pattern(N, 4));
    // The CPU changes the buffer and hands it back to the device.
    writePhys(rig, HIGH, pattern(N, 5));
    dmaSyncSingleForDevice(dev, a, N, DMA_BIDIRECTIONAL);
    rig.copy('dma32', a, out, N);
    expect(rig.peek(out, N)).toEqual(pattern(N, 5));
    // A partial sync for the CPU: only bytes 2500..2999, from the second slot.
    rig.poke(inp, pattern(N, 6));
    rig.copy('dma32', inp, a, N);
    dmaSyncSingleRangeForCpu(dev, a, 2500, 500, DMA_BIDIRECTIONAL);
    const expected = pattern(N, 5);
    expected.set(pattern(N, 6).subarray(2500), 2500);
    expect(readPhys(rig, HIGH)).toEqual(expected);
    dmaUnmapSingle(dev, a, N, DMA_BIDIRECTIONAL);
    expect(readPhys(rig, HIGH)).toEqual(pattern(N, 6));
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(N + N + N + 500 + N);
  });

  test('DMA_ATTR_SKIP_CPU_SYNC: no copy at map, so the device reads stale bounce bytes until the driver syncs', () => {
    const { rig, dev, low } = setup();
    const dst = low();
    writePhys(rig, HIGH, pattern(N, 7));
    const a = dmaMapSingleAttrs(dev, rig.cpu.physToVirt(HIGH), N, DMA_TO_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    expect(rig.platform.swiotlb!.isSwiotlbBuffer(a)).toBe(true);
    const stale = rig.peek(a, N);
    expect(stale).not.toEqual(pattern(N, 7));
    rig.copy('dma32', a, dst, N);
    expect(rig.peek(dst, N)).toEqual(stale);
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(0);
    dmaSyncSingleForDevice(dev, a, N, DMA_TO_DEVICE);
    rig.copy('dma32', a, dst, N);
    expect(rig.peek(dst, N)).toEqual(pattern(N, 7));
    dmaUnmapSingleAttrs(dev, a, N, DMA_TO_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(0);
  });

  test('a full pool: DMA_MAPPING_ERROR with Linux\'s message; DMA_ATTR_NO_WARN keeps quiet', () => {
    const { rig, dev } = setup('dma32', { swiotlbSize: 512 * KiB });
    const va = rig.cpu.physToVirt(HIGH);
    const a = dmaMapSingle(dev, va, 256 * KiB, DMA_FROM_DEVICE);
    const b = dmaMapSingle(dev, va + 256 * KiB, 256 * KiB, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, a) + dmaMappingError(dev, b)).toBe(0);
    const c = dmaMapSingle(dev, va + 512 * KiB, 100, DMA_FROM_DEVICE);
    expect(c).toBe(DMA_MAPPING_ERROR);
    expect(dmaMappingError(dev, c)).toBe(1);
    expect(rig.kernel.messages('swiotlb', 'warn')).toEqual([
      'platform dma32: swiotlb buffer is full (sz: 100 bytes), total 256 (slots), used 256 (slots)',
    ]);
    const d = dmaMapSingleAttrs(dev, va + 512 * KiB, 100, DMA_FROM_DEVICE, DMA_ATTR_NO_WARN);
    expect(dmaMappingError(dev, d)).toBe(1);
    expect(rig.kernel.messages('swiotlb', 'warn')).toHaveLength(1);
    expect(rig.stat('kernel.swiotlb.full')).toBe(2);
    dmaUnmapSingle(dev, a, 256 * KiB, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, dmaMapSingle(dev, va + 512 * KiB, 100, DMA_FROM_DEVICE))).toBe(0);
  });

  test('an unmap of a bounce address with the wrong size warns and leaves the mapping live', () => {
    const { rig, dev } = setup();
    const a = dmaMapSingle(dev, rig.cpu.physToVirt(HIGH), N, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, a, 2 * N, DMA_FROM_DEVICE);
    expect(rig.kernel.messages('swiotlb', 'warn')).toEqual([
      `platform dma32: dma_direct_unmap_page: 0x${a.toString(16)} was mapped with ${N} bytes, unmapped with ${2 * N}`,
    ]);
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(2);
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(0);
    dmaUnmapSingle(dev, a, N, DMA_FROM_DEVICE);
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(0);
  });

  test('without swiotlb the map fails with Linux\'s overflow warning', () => {
    const { rig, dev, low } = setup('dma32', { swiotlbSize: 0 });
    expect(rig.platform.swiotlb).toBeNull();
    const a = dmaMapSingle(dev, rig.cpu.physToVirt(HIGH), 4096, DMA_TO_DEVICE);
    expect(a).toBe(DMA_MAPPING_ERROR);
    expect(rig.kernel.messages('dma-direct', 'warn')).toEqual([
      'platform dma32: DMA addr 0x000000017fc00000+4096 overflow (mask ffffffff, bus limit ffffffff).',
    ]);
    // The last byte decides: a buffer ending exactly at 4 GiB maps, one byte more does not.
    const edge = dmaMapPage(dev, ABOVE_4G - 4096, 0, 4096, DMA_TO_DEVICE);
    expect(edge).toBe(ABOVE_4G - 4096);
    expect(dmaMapPage(dev, ABOVE_4G - 4096, 0, 4097, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    const lo = low();
    expect(dmaMapPage(dev, lo, 0, 4096, DMA_TO_DEVICE)).toBe(lo);
    // Unmapping or syncing the error value is refused, not passed on to the cache.
    const maint = rig.stat('kernel.cpu.cache_maint_ops');
    dmaUnmapSingle(dev, a, 4096, DMA_TO_DEVICE);
    dmaSyncSingleForCpu(dev, a, 4096, DMA_FROM_DEVICE);
    expect(rig.kernel.messages('dma-direct', 'warn').slice(2)).toEqual([
      `platform dma32: dma_direct_unmap_page: bad DMA address 0x${DMA_MAPPING_ERROR.toString(16)}`,
      `platform dma32: dma_direct_sync_single_for_cpu: bad DMA address 0x${DMA_MAPPING_ERROR.toString(16)}`,
    ]);
    expect(rig.stat('kernel.cpu.cache_maint_ops')).toBe(maint);
  });

  test('a bounce buffer the device cannot reach either is released and refused', () => {
    const { rig, dev } = setup();
    // dma_set_mask would refuse this mask (it does not reach the pool); forced to show the guard.
    dev.dmaMask = DMA_BIT_MASK(31);
    const a = dmaMapSingle(dev, rig.cpu.physToVirt(HIGH), 4096, DMA_TO_DEVICE);
    expect(a).toBe(DMA_MAPPING_ERROR);
    const tlb = rig.platform.swiotlb!;
    expect(rig.kernel.messages('swiotlb', 'warn')).toEqual([
      `platform dma32: swiotlb addr 0x${tlb.start.toString(16).padStart(16, '0')}+4096 overflow (mask 7fffffff, bus limit ffffffff).`,
    ]);
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(0);
  });
});

describe('no bounce when the device reaches the buffer', () => {
  test('dma64 after dma_set_mask(64): DMA address == physical address above 4 GiB, nothing bounced, bytes intact', () => {
    const { rig, dev, low } = setup('dma64');
    const dst = low();
    writePhys(rig, HIGH, pattern(N, 8));
    // Until the driver widens it, the mask is Linux's default 32 bits: even dma64 bounces.
    const bounced = dmaMapSingle(dev, rig.cpu.physToVirt(HIGH), N, DMA_TO_DEVICE);
    expect(rig.platform.swiotlb!.isSwiotlbBuffer(bounced)).toBe(true);
    dmaUnmapSingle(dev, bounced, N, DMA_TO_DEVICE);
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(N);
    expect(dmaSetMask(dev, DMA_BIT_MASK(64))).toBe(0);
    const maint = rig.stat('kernel.cpu.cache_maint_ops');
    const a = dmaMapSingle(dev, rig.cpu.physToVirt(HIGH), N, DMA_TO_DEVICE);
    expect(a).toBe(HIGH);
    expect(rig.stat('kernel.cpu.cache_maint_ops')).toBe(maint + 1); // the clean for the device
    expect(rig.copy('dma64', a, dst, N).status).toBe(Status.Ok);
    dmaUnmapSingle(dev, a, N, DMA_TO_DEVICE);
    expect(rig.peek(dst, N)).toEqual(pattern(N, 8));
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(N); // nothing more
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(0);
  });

  test('dma32 with a buffer below 4 GiB: DMA address == physical address', () => {
    const { rig, dev, low } = setup();
    const buf = low();
    expect(dmaMapPage(dev, buf, 100, N, DMA_BIDIRECTIONAL)).toBe(buf + 100);
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(0);
  });

  test('dma_coh (IO-coherent): no cache maintenance at map or unmap', () => {
    const { rig, dev } = setup('dma_coh');
    expect(dmaSetMask(dev, DMA_BIT_MASK(64))).toBe(0);
    const maint = rig.stat('kernel.cpu.cache_maint_ops');
    const a = dmaMapSingle(dev, rig.cpu.physToVirt(HIGH), N, DMA_BIDIRECTIONAL);
    expect(a).toBe(HIGH);
    dmaUnmapSingle(dev, a, N, DMA_BIDIRECTIONAL);
    expect(rig.stat('kernel.cpu.cache_maint_ops')).toBe(maint);
  });
});

describe('scatterlists', () => {
  test('dma32 with scattered pages above 4 GiB: one bounced segment per entry, bytes intact', () => {
    const { rig, dev, low } = setup();
    const pages = [HIGH + 5 * 4096, HIGH + 1 * 4096, HIGH + 3 * 4096];
    const lens = [4096, 1000, 2500];
    const offs = [0, 100, 1500];
    const sgl = sgInitTable(3);
    pages.forEach((p, i) => {
      sgSetPage(sgl[i], p, lens[i], offs[i]);
      writePhys(rig, p + offs[i], pattern(lens[i], 10 + i));
    });
    expect(dmaMapSg(dev, sgl, 3, DMA_TO_DEVICE)).toBe(3);
    const tlb = rig.platform.swiotlb!;
    for (let i = 0; i < 3; i++) {
      expect(tlb.isSwiotlbBuffer(sgl[i].dmaAddress)).toBe(true);
      expect(sgl[i].dmaLength).toBe(lens[i]);
      const dst = low();
      expect(rig.copy('dma32', sgl[i].dmaAddress, dst, lens[i]).status).toBe(Status.Ok);
      expect(rig.peek(dst, lens[i])).toEqual(pattern(lens[i], 10 + i));
    }
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(2 + 1 + 2);
    dmaUnmapSg(dev, sgl, 3, DMA_TO_DEVICE);
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(0);
  });

  test('dma64: adjacent pages are still one segment each (dma-direct never merges)', () => {
    const { dev } = setup('dma64');
    expect(dmaSetMask(dev, DMA_BIT_MASK(64))).toBe(0);
    const sgl = sgInitTable(2);
    sgSetPage(sgl[0], HIGH, 4096, 0);
    sgSetPage(sgl[1], HIGH + 4096, 4096, 0);
    expect(dmaMapSg(dev, sgl, 2, DMA_TO_DEVICE)).toBe(2);
    expect([sgl[0].dmaAddress, sgl[1].dmaAddress]).toEqual([HIGH, HIGH + 4096]);
  });

  test('a failure part way unmaps what was mapped and returns 0', () => {
    const { rig, dev } = setup('dma32', { swiotlbSize: 512 * KiB });
    const sgl = sgInitTable(3);
    for (let i = 0; i < 3; i++) sgSetPage(sgl[i], HIGH + i * 256 * KiB, 200 * KiB, 0);
    expect(dmaMapSg(dev, sgl, 3, DMA_FROM_DEVICE)).toBe(0);
    expect(rig.kernel.messages('swiotlb', 'warn')).toEqual([
      'platform dma32: swiotlb buffer is full (sz: 204800 bytes), total 256 (slots), used 200 (slots)',
    ]);
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(0);
    // FROM_DEVICE, unmapped with SKIP_CPU_SYNC: nothing was copied either way.
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(0);
    // The whole pool is free again.
    const va = rig.cpu.physToVirt(HIGH);
    expect(dmaMappingError(dev, dmaMapSingle(dev, va, 256 * KiB, DMA_FROM_DEVICE))).toBe(0);
    expect(dmaMappingError(dev, dmaMapSingle(dev, va, 256 * KiB, DMA_FROM_DEVICE))).toBe(0);
  });
});

describe('coherent allocations', () => {
  test('dma32, several pages: from CMA, zeroed, uncached CPU address, and no stale cache line shadows it', () => {
    const { rig, dev, low } = setup();
    const size = 3 * 4096 - 100;
    const first = dmaAllocCoherent(dev, size)!;
    const pa = first.dmaHandle;
    dmaFreeCoherent(dev, size, first.cpuAddr, pa);
    // The next user gets the same block: leave garbage in DRAM and dirty garbage lines in the cache.
    rig.poke(pa, new Uint8Array(3 * 4096).fill(0xa5));
    writePhys(rig, pa, new Uint8Array(3 * 4096).fill(0x5a));
    const buf = dmaAllocCoherent(dev, size)!;
    expect(buf.dmaHandle).toBe(pa);
    expect(pa).toBeGreaterThanOrEqual(DRAM_BASE);
    expect(pa + 3 * 4096).toBeLessThanOrEqual(CMA_END);
    expect(rig.platform.cma.usedBytes).toBe(3 * 4096);
    expect(buf.cpuAddr).toBe(rig.cpu.uncachedVirt(pa));
    const zeros = new Uint8Array(3 * 4096);
    const seen = new Uint8Array(3 * 4096);
    rig.cpu.read(buf.cpuAddr, seen);
    expect(seen).toEqual(zeros);
    expect(rig.peek(pa, 3 * 4096)).toEqual(zeros);
    expect(readPhys(rig, pa, 3 * 4096)).toEqual(zeros); // the cached alias holds no old line
    // The device writes; the CPU sees it through the uncached address, and a later eviction changes nothing.
    const src = low();
    rig.poke(src, pattern(4096, 20));
    rig.copy('dma32', src, pa + 4096, 4096);
    const mid = new Uint8Array(4096);
    rig.cpu.read(buf.cpuAddr + 4096, mid);
    expect(mid).toEqual(pattern(4096, 20));
    rig.cpu.flushRange(pa, 3 * 4096);
    expect(rig.peek(pa + 4096, 4096)).toEqual(pattern(4096, 20));
    dmaFreeCoherent(dev, size, buf.cpuAddr, pa);
    expect(rig.platform.cma.usedBytes).toBe(0);
  });

  test('dma32, one page: from the page allocator below the mask; above the coherent limit it goes to CMA', () => {
    const { rig, dev } = setup();
    const pages = rig.platform.pages;
    const one = dmaAllocCoherent(dev, 4096)!;
    expect(one.dmaHandle).toBeGreaterThanOrEqual(SWIOTLB_END); // not CMA: the page allocator's lowest page
    expect(one.dmaHandle).toBeLessThan(ABOVE_4G);
    expect(pages.isAllocated(one.dmaHandle)).toBe(true);
    expect(rig.platform.cma.usedBytes).toBe(0);
    // The lowest mask dma-direct accepts ends at the swiotlb pool: every page-allocator page is above it.
    expect(dmaSetCoherentMask(dev, SWIOTLB_END - 1)).toBe(0);
    const free = pages.freePageCount;
    const two = dmaAllocCoherent(dev, 4096)!;
    expect(two.dmaHandle).toBe(DRAM_BASE);
    expect(pages.freePageCount).toBe(free); // the buddy page was given back
    expect(rig.platform.cma.usedBytes).toBe(4096);
  });

  test('null when nothing fits, with nothing leaked', () => {
    const { rig, dev } = setup('dma32', { cmaSize: 1 * MiB, swiotlbSize: 512 * KiB });
    const limit = DRAM_BASE + 1 * MiB + 512 * KiB - 1;
    expect(dmaSetCoherentMask(dev, limit)).toBe(0);
    const pages = rig.platform.pages;
    const free = pages.freePageCount;
    const all = dmaAllocCoherent(dev, 1 * MiB)!;
    expect(all.dmaHandle).toBe(DRAM_BASE);
    expect(dmaAllocCoherent(dev, 4096)).toBeNull(); // CMA full, the page allocator's pages are above the limit
    expect(dmaAllocCoherent(dev, 8192)).toBeNull();
    expect(pages.freePageCount).toBe(free);
    expect(rig.platform.cma.usedBytes).toBe(1 * MiB);
    // Bigger than CMA and than the page allocator's largest block (4 MiB).
    const wide = setup('dma64').rig;
    expect(dmaAllocCoherent(wide.dev('dma64'), 128 * MiB)).toBeNull();
    expect(wide.platform.cma.usedBytes).toBe(0);
  });

  test('dma_coh: cached linear-map CPU address, zeroed through the cache', () => {
    const { rig } = setup();
    const dev = rig.dev('dma_coh');
    const first = dmaAllocCoherent(dev, 8192)!;
    dmaFreeCoherent(dev, 8192, first.cpuAddr, first.dmaHandle);
    writePhys(rig, first.dmaHandle, new Uint8Array(8192).fill(0x77));
    const buf = dmaAllocCoherent(dev, 8192)!;
    expect(buf.dmaHandle).toBe(first.dmaHandle);
    expect(buf.cpuAddr).toBe(rig.cpu.physToVirt(buf.dmaHandle));
    const seen = new Uint8Array(8192);
    rig.cpu.read(buf.cpuAddr, seen);
    expect(seen).toEqual(new Uint8Array(8192));
  });

  test('DMA_ATTR_NON_CONSISTENT gives cached memory, DMA_ATTR_WRITE_COMBINE uncached even on dma_coh', () => {
    const { rig, dev } = setup();
    const nc = dmaAllocNoncoherent(dev, 4096)!;
    expect(nc.cpuAddr).toBe(rig.cpu.physToVirt(nc.dmaHandle));
    const wc = dmaAllocAttrs(rig.dev('dma_coh'), 4096, 0, DMA_ATTR_WRITE_COMBINE)!;
    expect(wc.cpuAddr).toBe(rig.cpu.uncachedVirt(wc.dmaHandle));
  });

  test('a free that does not match a live allocation warns and frees nothing', () => {
    const { rig, dev } = setup();
    const cma = rig.platform.cma;
    const buf = dmaAllocCoherent(dev, 8192)!;
    const h = buf.dmaHandle;
    dmaFreeCoherent(dev, 4096, buf.cpuAddr, h); // wrong size
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, h + 4096); // wrong handle
    dmaFreeCoherent(dev, 8192, rig.cpu.physToVirt(h), h); // the cached alias, not the address returned
    dmaFreeCoherent(rig.dev('dma64'), 8192, buf.cpuAddr, h); // another device
    const hx = h.toString(16);
    expect(rig.kernel.messages('dma-direct', 'warn')).toEqual([
      `platform dma32: dma_direct_free: handle 0x${hx} was allocated with 8192 bytes, freed with 4096; nothing freed`,
      `platform dma32: dma_direct_free: handle 0x${(h + 4096).toString(16)} is not a live coherent allocation; nothing freed`,
      `platform dma32: dma_direct_free: handle 0x${hx} has CPU address 0x${buf.cpuAddr.toString(16)}, freed with 0x${rig.cpu.physToVirt(h).toString(16)}; nothing freed`,
      `platform dma64: dma_direct_free: handle 0x${hx} was allocated by dma32; nothing freed`,
    ]);
    expect(cma.usedBytes).toBe(8192);
    // Still allocated: the next allocation does not get the same block.
    const other = dmaAllocCoherent(dev, 8192)!;
    expect(other.dmaHandle).not.toBe(h);
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, h);
    expect(cma.usedBytes).toBe(8192);
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, h); // double free
    expect(rig.kernel.messages('dma-direct', 'warn')).toHaveLength(5);
    expect(cma.usedBytes).toBe(8192);
  });
});

describe('masks', () => {
  test('dma_set_mask: 24 bits cannot reach the swiotlb pool (-EIO); 32 bits can', () => {
    const { dev } = setup();
    expect(dmaSetMask(dev, DMA_BIT_MASK(24))).toBe(-Errno.EIO);
    expect(dev.dmaMask).toBe(DMA_BIT_MASK(32));
    expect(dmaSupported(dev, SWIOTLB_END - 1)).toBe(1);
    expect(dmaSupported(dev, SWIOTLB_END - 2)).toBe(0);
    expect(dmaSetMask(dev, DMA_BIT_MASK(31))).toBe(-Errno.EIO); // below DRAM altogether
    expect(dmaSetMask(dev, DMA_BIT_MASK(32))).toBe(0);
    expect(dmaSetMask(dev, DMA_BIT_MASK(64))).toBe(0);
    expect(dev.dmaMask).toBe(DMA_BIT_MASK(64));
  });

  test('without swiotlb the mask must reach the top of CMA', () => {
    const { dev } = setup('dma32', { swiotlbSize: 0 });
    expect(dmaSupported(dev, CMA_END - 1)).toBe(1);
    expect(dmaSupported(dev, CMA_END - 2)).toBe(0);
  });

  test('the required mask covers the top of DRAM: 2^33 - 1', () => {
    const { dev } = setup();
    expect(DRAM_END - 1).toBe(0x1_7fff_ffff);
    expect(dmaGetRequiredMask(dev)).toBe(0x1_ffff_ffff);
  });
});
