/**
 * Two DMA-API answers (issue 17): dma_get_required_mask on a device behind an IOMMU, and
 * the alignment cap of coherent allocations from CMA (README "DMA API").
 */
import { dmaAllocCoherent, dmaFreeCoherent, dmaGetRequiredMask, dmaMapSingle, dmaMappingError, dmaSetMask } from '../../../drivers/dma/mapping';
import { DMA_BIDIRECTIONAL, DMA_BIT_MASK } from '../../../drivers/dma/types';
import { DmaRig } from '../../helpers/dmaRig';

const KiB = 1024;
const MiB = 1024 * KiB;

describe('dma_get_required_mask behind an IOMMU', () => {
  test('32 bits for a 32-bit device and for a 64-bit one (every IOVA it gets is below 4 GiB), not the 48-bit input size', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    expect(dev.dmaMask).toBe(DMA_BIT_MASK(32));
    expect(dmaGetRequiredMask(dev)).toBe(DMA_BIT_MASK(32));
    expect(dmaSetMask(dev, DMA_BIT_MASK(64))).toBe(0);
    const required = dmaGetRequiredMask(dev);
    expect(required).toBe(DMA_BIT_MASK(32));
    expect(required).toBeLessThan(2 ** 48 - 1);
    // What the allocator hands out fits in the answer: 64 mappings of 64 KiB.
    const buf = rig.kmalloc(64 * KiB);
    for (let i = 0; i < 64; i++) {
      const a = dmaMapSingle(dev, buf, 64 * KiB, DMA_BIDIRECTIONAL);
      expect(dmaMappingError(dev, a)).toBe(0);
      expect(a + 64 * KiB - 1).toBeLessThanOrEqual(required);
    }
  });

  test('a device with a narrower mask needs only its mask', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    expect(dmaSetMask(dev, DMA_BIT_MASK(28))).toBe(0);
    expect(dmaGetRequiredMask(dev)).toBe(DMA_BIT_MASK(28));
    const a = dmaMapSingle(dev, rig.kmalloc(4 * KiB), 4 * KiB, DMA_BIDIRECTIONAL);
    expect(a).toBeLessThanOrEqual(DMA_BIT_MASK(28));
  });
});

describe('coherent allocations from CMA are aligned to their size, capped at 1 MiB (CONFIG_CMA_ALIGNMENT = 8: 2^8 pages)', () => {
  test('a 4 MiB allocation after a small one starts at the next 1 MiB boundary, not the next 4 MiB one', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma32');
    const small = dmaAllocCoherent(dev, 8 * KiB)!; // two pages from CMA, at its base
    const big = dmaAllocCoherent(dev, 4 * MiB)!;
    const base = small.dmaHandle;
    expect(base % MiB).toBe(0);
    expect(big.dmaHandle % MiB).toBe(0);
    expect(big.dmaHandle).toBe(base + 1 * MiB); // 4 MiB alignment would have put it at base + 4 MiB
    // Below the cap, the alignment is the allocation's order: 64 KiB after the 8 KiB block.
    const mid = dmaAllocCoherent(dev, 64 * KiB)!;
    expect(mid.dmaHandle).toBe(base + 64 * KiB);
    dmaFreeCoherent(dev, 4 * MiB, big.cpuAddr, big.dmaHandle);
    dmaFreeCoherent(dev, 64 * KiB, mid.cpuAddr, mid.dmaHandle);
    dmaFreeCoherent(dev, 8 * KiB, small.cpuAddr, small.dmaHandle);
    expect(rig.platform.cma.usedBytes).toBe(0);
  });
});
