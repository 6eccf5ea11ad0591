/**
 * The architecture's cache maintenance for streaming DMA (arch/arm64/mm/dma-mapping.c,
 * v5.10+): what dma-direct and iommu-dma call for devices that do not snoop the CPU
 * cache. Coherent devices need none (dev_is_dma_coherent).
 */
import type { DmaDevice } from './device';
import { DMA_TO_DEVICE, type DmaDataDirection } from './types';

/**
 * arch_sync_dma_for_device: clean [phys, phys+size) to the point of coherency for every
 * direction, so the device reads what the CPU wrote and no dirty line can later be
 * written back over what the device writes.
 */
export function archSyncDmaForDevice(dev: DmaDevice, phys: number, size: number, _dir: DmaDataDirection): void {
  if (!dev.coherent) dev.env.cpu.cleanRange(phys, size);
}

/**
 * arch_sync_dma_for_cpu: invalidate [phys, phys+size) unless the device only read it
 * (DMA_TO_DEVICE), so the CPU's next loads miss and fetch what the device wrote.
 */
export function archSyncDmaForCpu(dev: DmaDevice, phys: number, size: number, dir: DmaDataDirection): void {
  if (!dev.coherent && dir !== DMA_TO_DEVICE) dev.env.cpu.invalidateRange(phys, size);
}
