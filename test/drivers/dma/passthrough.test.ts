/**
 * iommu.passthrough=1 (PlatformOptions.iommuPassthrough): a device behind the LPAE SMMU
 * gets the identity domain - its stream bypasses translation - and the DMA API on it is
 * dma-direct, exactly as on a direct-mapped device: DMA addresses are physical, a
 * 32-bit mask bounces through swiotlb, and no page table or IOTLB is touched.
 */
import { dmaMapSingle, dmaMappingError, dmaSetMask, dmaUnmapSingle } from '../../../drivers/dma/mapping';
import { DMA_BIT_MASK, DMA_FROM_DEVICE, DMA_TO_DEVICE } from '../../../drivers/dma/types';
import { iommuAttachIdentity } from '../../../drivers/iommu/identityDomain';
import { Errno } from '../../../drivers/errno';
import { Status } from '../../../sim/bus/transaction';
import { ABOVE_4G, DRAM_END, DmaRig, pattern } from '../../helpers/dmaRig';

const N = 3000;
const HIGH = DRAM_END - 4 * 2 ** 20;

function setup(passthrough: boolean) {
  const rig = new DmaRig({ iommuPassthrough: passthrough });
  const dev = rig.dev('dma_smmu');
  const src = rig.cpu.virtToPhys(rig.kmalloc(16384));
  const dst = rig.cpu.virtToPhys(rig.kmalloc(16384));
  rig.poke(src, pattern(N, 7));
  return { rig, dev, src, dst };
}

test('passthrough: the SMMU device uses dma-direct, its DMA addresses are physical and its stream bypasses the tables', () => {
  const { rig, dev, src, dst } = setup(true);
  expect(dev.ops.name).toBe('dma-direct');
  expect(rig.soc.iommu('smmu').streamContext(1)!.mode).toBe('bypass');
  expect(rig.platform.platdata('dma_smmu').kind).toBe('identity');
  expect(dmaSetMask(dev, DMA_BIT_MASK(64))).toBe(0);
  const a = dmaMapSingle(dev, rig.cpu.physToVirt(src), N, DMA_TO_DEVICE);
  const b = dmaMapSingle(dev, rig.cpu.physToVirt(dst), N, DMA_FROM_DEVICE);
  expect([a, b]).toEqual([src, dst]);
  expect(rig.copy('dma_smmu', a, b, N).status).toBe(Status.Ok);
  expect(rig.peek(dst, N)).toEqual(pattern(N, 7));
  expect(rig.stat('soc.smmu.bypassed')).toBeGreaterThan(0);
  expect(rig.stat('soc.smmu.walker.walks')).toBe(0);
  // Identity domains have no page tables: the kernel built none for this SMMU.
  expect(Object.keys(rig.soc.ctx.stats.dump()).filter((k) => k.startsWith('kernel.smmu.pgtable'))).toEqual([]);
  dmaUnmapSingle(dev, a, N, DMA_TO_DEVICE);
  dmaUnmapSingle(dev, b, N, DMA_FROM_DEVICE);
});

test('without passthrough the same device maps through iommu-dma: an IOVA, walks, page tables', () => {
  const { rig, dev, src, dst } = setup(false);
  expect(dev.ops.name).toBe('iommu-dma');
  const a = dmaMapSingle(dev, rig.cpu.physToVirt(src), N, DMA_TO_DEVICE);
  const b = dmaMapSingle(dev, rig.cpu.physToVirt(dst), N, DMA_FROM_DEVICE);
  expect(a).not.toBe(src);
  expect(rig.copy('dma_smmu', a, b, N).status).toBe(Status.Ok);
  expect(rig.stat('soc.smmu.bypassed')).toBe(0);
  expect(rig.stat('soc.smmu.walker.walks')).toBeGreaterThan(0);
  expect(rig.peek(dst, N)).toEqual(pattern(N, 7));
  expect(rig.stat('kernel.smmu.pgtable.pages')).toBeGreaterThan(0);
});

test('passthrough keeps dma-direct\'s mask rules: a 32-bit device bounces a buffer above 4 GiB through swiotlb', () => {
  const rig = new DmaRig({ iommuPassthrough: true });
  const dev = rig.dev('dma_smmu'); // masks start at DMA_BIT_MASK(32), as Linux's
  expect(rig.platform.pages.isAllocated(HIGH)).toBe(false);
  const a = dmaMapSingle(dev, rig.cpu.physToVirt(HIGH), N, DMA_TO_DEVICE);
  expect(dmaMappingError(dev, a)).toBe(0);
  expect(rig.platform.swiotlb!.isSwiotlbBuffer(a)).toBe(true);
  expect(a + N - 1).toBeLessThan(ABOVE_4G);
  dmaUnmapSingle(dev, a, N, DMA_TO_DEVICE);
  expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(N);
  // Behind iommu-dma the same mapping needs no bounce: the IOVA is below the mask.
  const rig2 = new DmaRig();
  const b = dmaMapSingle(rig2.dev('dma_smmu'), rig2.cpu.physToVirt(HIGH), N, DMA_TO_DEVICE);
  expect(rig2.platform.swiotlb!.isSwiotlbBuffer(b)).toBe(false);
});

test('iommuAttachIdentity: -ENODEV for a stream with no device', () => {
  const rig = new DmaRig();
  expect(iommuAttachIdentity(rig.soc.iommu('smmu'), 99)).toBe(-Errno.ENODEV);
});
