/** The DMA API (Documentation/DMA-API.txt) and what it runs on: see README "The DMA API". */
export * from './types';
export * from './mapping';
export * from './pool';
export * from './declared';
export * from './pci';
export { DmaDevice, type DmaEnv, type DmaDeviceOptions, type DmaMapOps, type DmaDebugHooks } from './device';
export { DmaDebug } from './debug';
export { DmaDirectOps } from './direct';
export { IommuDmaOps } from './iommuDma';
export { Swiotlb } from './swiotlb';
export { IovaDomain, iommuDmaAllocIova, iommuDmaFreeIova } from './iova';
