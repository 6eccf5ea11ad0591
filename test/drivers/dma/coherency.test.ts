/**
 * Coherency you can observe (issue 5 item 3): a non-coherent device reads stale DRAM
 * when the driver skips the sync for the device, the CPU reads stale cache lines when
 * it skips the sync for the CPU, and an IO-coherent device needs neither. Every byte
 * here moves through the simulated CPU cache and the device's DMA engine.
 */
import {
  dmaAllocCoherent,
  dmaAllocNoncoherent,
  dmaCacheSync,
  dmaFreeCoherent,
  dmaFreeNoncoherent,
  dmaGetCacheAlignment,
  dmaIsConsistent,
  dmaMapSingle,
  dmaMapSingleAttrs,
  dmaMappingError,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaSyncSingleRange,
  dmaUnmapSingle,
  dmaUnmapSingleAttrs,
} from '../../../drivers/dma/mapping';
import { DMA_ATTR_SKIP_CPU_SYNC, DMA_ATTR_WEAK_ORDERING, DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE } from '../../../drivers/dma/types';
import { DmaRig, pattern } from '../../helpers/dmaRig';
import { Status } from '../../../sim/bus/transaction';

const N = 1024;

/** Reads `n` bytes at kernel virtual address `va` through the CPU (cache included). */
function cpuRead(rig: DmaRig, va: number, n = N): Uint8Array {
  const out = new Uint8Array(n);
  rig.cpu.read(va, out);
  return out;
}

function setup(device: string) {
  const rig = new DmaRig();
  const dev = rig.dev(device);
  const src = rig.kmalloc(N);
  const dst = rig.kmalloc(N);
  return { rig, dev, src, dst };
}

describe('streaming DMA on a non-coherent device (dma64)', () => {
  test('TO_DEVICE: the map cleans the CPU\'s dirty lines, so the device reads what the CPU wrote', () => {
    const { rig, dev, src, dst } = setup('dma64');
    const data = pattern(N, 1);
    rig.cpu.write(src, data); // dirty in the cache; DRAM still zeros
    const a = dmaMapSingle(dev, src, N, DMA_TO_DEVICE);
    const b = dmaMapSingle(dev, dst, N, DMA_FROM_DEVICE);
    expect(dmaMappingError(dev, a) + dmaMappingError(dev, b)).toBe(0);
    expect(rig.copy('dma64', a, b, N).status).toBe(Status.Ok);
    dmaUnmapSingle(dev, a, N, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, b, N, DMA_FROM_DEVICE);
    expect(cpuRead(rig, dst)).toEqual(data);
  });

  test('TO_DEVICE with the sync skipped: the device reads stale bytes from DRAM', () => {
    const { rig, dev, src, dst } = setup('dma64');
    rig.cpu.write(src, pattern(N, 1));
    const a = dmaMapSingleAttrs(dev, src, N, DMA_TO_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    const b = dmaMapSingle(dev, dst, N, DMA_FROM_DEVICE);
    rig.copy('dma64', a, b, N);
    dmaUnmapSingleAttrs(dev, a, N, DMA_TO_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    dmaUnmapSingle(dev, b, N, DMA_FROM_DEVICE);
    // The CPU's data never left its cache: the device copied the zeros in DRAM.
    expect(cpuRead(rig, dst)).toEqual(new Uint8Array(N));
    expect(rig.stat('soc.dma64.bytes_written')).toBe(N);
  });

  test('FROM_DEVICE: the unmap invalidates, so the CPU sees what the device wrote', () => {
    const { rig, dev, src, dst } = setup('dma64');
    rig.poke(rig.cpu.virtToPhys(src), pattern(N, 2));
    cpuRead(rig, dst); // the destination's old (zero) lines are now cached
    const a = dmaMapSingle(dev, src, N, DMA_TO_DEVICE);
    const b = dmaMapSingle(dev, dst, N, DMA_FROM_DEVICE);
    rig.copy('dma64', a, b, N);
    dmaUnmapSingle(dev, a, N, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, b, N, DMA_FROM_DEVICE);
    expect(cpuRead(rig, dst)).toEqual(pattern(N, 2));
  });

  test('FROM_DEVICE with the CPU sync skipped: the CPU reads its stale cached lines', () => {
    const { rig, dev, src, dst } = setup('dma64');
    rig.poke(rig.cpu.virtToPhys(src), pattern(N, 2));
    cpuRead(rig, dst);
    const a = dmaMapSingle(dev, src, N, DMA_TO_DEVICE);
    const b = dmaMapSingle(dev, dst, N, DMA_FROM_DEVICE);
    rig.copy('dma64', a, b, N);
    dmaUnmapSingle(dev, a, N, DMA_TO_DEVICE);
    dmaUnmapSingleAttrs(dev, b, N, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    expect(rig.peek(rig.cpu.virtToPhys(dst), N)).toEqual(pattern(N, 2)); // DRAM has the data
    expect(cpuRead(rig, dst)).toEqual(new Uint8Array(N)); // the CPU does not
  });

  test('a BIDIRECTIONAL ring slot reused with sync_for_device / sync_for_cpu stays coherent both ways', () => {
    const { rig, dev, src, dst } = setup('dma64');
    const ring = dmaMapSingle(dev, src, N, DMA_BIDIRECTIONAL);
    const out = dmaMapSingle(dev, dst, N, DMA_BIDIRECTIONAL);
    expect(dmaMappingError(dev, ring) + dmaMappingError(dev, out)).toBe(0);
    for (let round = 1; round <= 3; round++) {
      rig.cpu.write(src, pattern(N, round));
      dmaSyncSingleForDevice(dev, ring, N, DMA_BIDIRECTIONAL);
      dmaSyncSingleForDevice(dev, out, N, DMA_BIDIRECTIONAL);
      rig.copy('dma64', ring, out, N);
      dmaSyncSingleForCpu(dev, out, N, DMA_BIDIRECTIONAL);
      expect(cpuRead(rig, dst)).toEqual(pattern(N, round));
    }
    dmaUnmapSingle(dev, ring, N, DMA_BIDIRECTIONAL);
    dmaUnmapSingle(dev, out, N, DMA_BIDIRECTIONAL);
    expect(rig.kernel.messages('dma-debug')).toEqual([]);
  });
});

describe('an IO-coherent device (dma_coh) needs no cache maintenance', () => {
  test('even with every sync skipped, the device snoops the CPU\'s dirty lines and the CPU sees its writes', () => {
    const { rig, dev, src, dst } = setup('dma_coh');
    rig.cpu.write(src, pattern(N, 4));
    cpuRead(rig, dst);
    const a = dmaMapSingleAttrs(dev, src, N, DMA_TO_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    const b = dmaMapSingleAttrs(dev, dst, N, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    rig.copy('dma_coh', a, b, N);
    dmaUnmapSingleAttrs(dev, a, N, DMA_TO_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    dmaUnmapSingleAttrs(dev, b, N, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    expect(cpuRead(rig, dst)).toEqual(pattern(N, 4));
    expect(rig.stat('soc.dma_coh.coherent.read_snoops')).toBe(N / 64);
    expect(rig.stat('kernel.cpu.cache_maint_ops')).toBe(0);
  });
});

describe('coherent and non-coherent allocations', () => {
  test('dma_alloc_coherent on a non-coherent device: CPU stores through the uncached mapping reach the device without syncs', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const buf = dmaAllocCoherent(dev, N)!;
    expect(buf).not.toBeNull();
    expect(rig.cpu.isUncached(buf.cpuAddr)).toBe(true);
    expect(cpuRead(rig, buf.cpuAddr)).toEqual(new Uint8Array(N)); // zeroed
    rig.cpu.write(buf.cpuAddr, pattern(N, 6));
    const dst = rig.kmalloc(N);
    const b = dmaMapSingle(dev, dst, N, DMA_FROM_DEVICE);
    rig.copy('dma64', buf.dmaHandle, b, N);
    dmaUnmapSingle(dev, b, N, DMA_FROM_DEVICE);
    expect(cpuRead(rig, dst)).toEqual(pattern(N, 6));
    expect(dmaIsConsistent(dev, buf.dmaHandle + 100)).toBe(1);
    dmaFreeCoherent(dev, N, buf.cpuAddr, buf.dmaHandle);
  });

  test('dma_alloc_noncoherent: cacheable memory, stale for the device until dma_cache_sync', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma64');
    const buf = dmaAllocNoncoherent(dev, N)!;
    expect(rig.cpu.isUncached(buf.cpuAddr)).toBe(false);
    expect(dmaIsConsistent(dev, buf.dmaHandle)).toBe(0);
    const dst = rig.kmalloc(N);
    const b = dmaMapSingle(dev, dst, N, DMA_FROM_DEVICE);
    rig.cpu.write(buf.cpuAddr, pattern(N, 7));
    rig.copy('dma64', buf.dmaHandle, b, N);
    dmaSyncSingleForCpu(dev, b, N, DMA_FROM_DEVICE);
    expect(cpuRead(rig, dst)).toEqual(new Uint8Array(N)); // no dma_cache_sync yet: stale
    dmaCacheSync(dev, buf.cpuAddr, N, DMA_TO_DEVICE);
    dmaSyncSingleForDevice(dev, b, N, DMA_FROM_DEVICE);
    rig.copy('dma64', buf.dmaHandle, b, N);
    dmaUnmapSingle(dev, b, N, DMA_FROM_DEVICE);
    expect(cpuRead(rig, dst)).toEqual(pattern(N, 7));
    dmaFreeNoncoherent(dev, N, buf.cpuAddr, buf.dmaHandle);
    expect(dmaIsConsistent(dev, buf.dmaHandle)).toBe(0);
  });

  test('on an IO-coherent device every handle is consistent and noncoherent memory is cacheable', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_coh');
    const buf = dmaAllocNoncoherent(dev, N)!;
    expect(dmaIsConsistent(dev, buf.dmaHandle)).toBe(1);
    const c = dmaAllocCoherent(dev, N)!;
    expect(rig.cpu.isUncached(c.cpuAddr)).toBe(false);
  });

  test('dma_get_cache_alignment is the CPU cache line', () => {
    const rig = new DmaRig();
    expect(dmaGetCacheAlignment(rig.dev('dma64'))).toBe(64);
    expect(dmaGetCacheAlignment(rig.platform.dma)).toBe(64);
  });
});

describe('attributes and the Part II partial sync', () => {
  test('DMA_ATTR_WEAK_ORDERING is accepted by both ops and changes nothing (as on arm64 and iommu-dma)', () => {
    for (const device of ['dma64', 'dma_smmu']) {
      const { rig, dev, src, dst } = setup(device);
      rig.cpu.write(src, pattern(N, 11));
      const a = dmaMapSingleAttrs(dev, src, N, DMA_TO_DEVICE, DMA_ATTR_WEAK_ORDERING);
      const b = dmaMapSingleAttrs(dev, dst, N, DMA_FROM_DEVICE, DMA_ATTR_WEAK_ORDERING);
      expect(dmaMappingError(dev, a) + dmaMappingError(dev, b)).toBe(0);
      expect(rig.copy(device, a, b, N).status).toBe(Status.Ok);
      dmaUnmapSingleAttrs(dev, a, N, DMA_TO_DEVICE, DMA_ATTR_WEAK_ORDERING);
      dmaUnmapSingleAttrs(dev, b, N, DMA_FROM_DEVICE, DMA_ATTR_WEAK_ORDERING);
      expect(cpuRead(rig, dst)).toEqual(pattern(N, 11));
      expect(rig.kernel.messages('dma-debug')).toEqual([]);
    }
  });

  test('dma_sync_single_range follows the direction: TO_DEVICE cleans, FROM_DEVICE invalidates, only the range', () => {
    const { rig, dev, src, dst } = setup('dma64');
    const a = dmaMapSingle(dev, src, N, DMA_BIDIRECTIONAL);
    const b = dmaMapSingle(dev, dst, N, DMA_BIDIRECTIONAL);
    expect(dmaMappingError(dev, a) + dmaMappingError(dev, b)).toBe(0);
    cpuRead(rig, dst); // destination lines cached
    rig.cpu.write(src, pattern(N, 12)); // dirty in the cache
    // Sync only the second half for the device: the device sees new bytes there, stale zeros before.
    dmaSyncSingleRange(dev, a, N / 2, N / 2, DMA_TO_DEVICE);
    rig.copy('dma64', a, b, N);
    // FROM_DEVICE range sync of the whole destination: the CPU sees what the device wrote.
    dmaSyncSingleRange(dev, b, 0, N, DMA_FROM_DEVICE);
    const got = cpuRead(rig, dst);
    expect(got.subarray(0, N / 2)).toEqual(new Uint8Array(N / 2));
    expect(got.subarray(N / 2)).toEqual(pattern(N, 12).subarray(N / 2));
    dmaUnmapSingle(dev, a, N, DMA_BIDIRECTIONAL);
    dmaUnmapSingle(dev, b, N, DMA_BIDIRECTIONAL);
    expect(rig.kernel.messages('dma-debug')).toEqual([]);
  });
});
