/**
 * Issue 15 item 2: kernel allocations of absurd sizes fail the way the kernel fails them
 * (DMA_MAPPING_ERROR, dma_map_sg → 0, NULL from dma_alloc_coherent) with a kernel warning,
 * before any page-by-page work: no page of the page allocator or CMA is taken (no page
 * tables built), no IOVA is allocated. With a 64-bit mask behind the SMMU a 2^40-byte
 * map used to find IOVA space and map 2^28 pages one by one (hours).
 */
import {
  dmaAllocCoherent,
  dmaMapPage,
  dmaMappingError,
  dmaMapSg,
  dmaMapSingle,
  dmaSetMaskAndCoherent,
  dmaUnmapSingle,
} from '../../../drivers/dma/mapping';
import { DMA_BIT_MASK, DMA_MAPPING_ERROR, DMA_TO_DEVICE, sgInitTable, sgSetPage } from '../../../drivers/dma/types';
import { DRAM_END, DmaRig } from '../../helpers/dmaRig';

const DEVICES = ['dma64', 'dma_coh', 'dma_smmu', 'dma_smmu_coh'];
const SIZES = [2 ** 33, 2 ** 40, 2 ** 52];

/** A rig with `name` widened to a 64-bit mask, a one-page kernel buffer, and what to compare after. */
function setup(name: string) {
  const rig = new DmaRig();
  const dev = rig.dev(name);
  expect(dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(64))).toBe(0);
  const va = rig.kmalloc(4096);
  const freePages = rig.platform.pages.freePageCount;
  const warnings = rig.kernel.warnings;
  const untouched = () => {
    expect(rig.platform.pages.freePageCount).toBe(freePages);
    // Behind the SMMU: no IOVA was taken. Direct-mapped: swiotlb was not asked (it would warn too).
    if (name.includes('smmu')) expect(rig.stat(`kernel.${name}.iommu_dma.maps`)).toBe(0);
  };
  return { rig, dev, va, pa: rig.cpu.virtToPhys(va), warnings, untouched };
}

describe.each(DEVICES)('%s with a 64-bit mask', (name) => {
  test.each(SIZES)('dma_map_single / dma_map_page / dma_map_sg of %d bytes fail at once with a warning', (size) => {
    const { rig, dev, va, pa, warnings, untouched } = setup(name);
    const a = dmaMapSingle(dev, va, size, DMA_TO_DEVICE);
    expect(a).toBe(DMA_MAPPING_ERROR);
    expect(dmaMappingError(dev, a)).toBe(1);
    expect(dmaMapPage(dev, pa, 0, size, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    const sg = sgInitTable(2);
    sgSetPage(sg[0], pa, 4096, 0);
    sgSetPage(sg[1], pa, size, 0);
    expect(dmaMapSg(dev, sg, 2, DMA_TO_DEVICE)).toBe(0);
    expect(rig.kernel.warnings).toBe(warnings + 3);
    expect(rig.kernel.messages('dma-mapping').at(-1)).toMatch(/^dma_map_sg: .*is not within system RAM/);
    untouched();
  });

  test('a buffer running past the end of RAM by one page is refused too; one inside RAM maps', () => {
    const { rig, dev, warnings, untouched } = setup(name);
    const last = rig.cpu.physToVirt(DRAM_END - 4096);
    expect(dmaMapSingle(dev, last, 8192, DMA_TO_DEVICE)).toBe(DMA_MAPPING_ERROR);
    expect(rig.kernel.warnings).toBe(warnings + 1);
    untouched();
    const ok = dmaMapSingle(dev, last, 4096, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, ok)).toBe(0);
    dmaUnmapSingle(dev, ok, 4096, DMA_TO_DEVICE);
    expect(rig.kernel.warnings).toBe(warnings + 1);
  });

  test.each(SIZES)('dma_alloc_coherent of %d bytes returns NULL without taking pages', (size) => {
    const { rig, dev, untouched } = setup(name);
    const cmaFree = rig.platform.cma.freeBytes;
    expect(dmaAllocCoherent(dev, size)).toBeNull();
    expect(rig.platform.cma.freeBytes).toBe(cmaFree);
    untouched();
  });
});
