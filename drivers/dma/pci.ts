/**
 * The pci_ equivalents of DMA-API.txt Part I (include/asm-generic/pci-dma-compat.h,
 * include/linux/pci.h): each is the dma_ call on &hwdev->dev with the document's
 * argument list. `hwdev` is the PCI device's struct device (a DmaDevice); directions are
 * plain ints (PCI_DMA_*, equal to the DMA_* values: "may be converted freely by
 * casting"), checked by the dma_ layer. pci_alloc_consistent has no gfp argument and
 * behaves as GFP_ATOMIC, as the document requires.
 *
 * Part II has no pci_ equivalent (the document says so), nor do the _attrs calls.
 */
import type { DmaDevice } from './device';
import {
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapPage,
  dmaMapSingle,
  dmaMappingError,
  dmaMapSg,
  dmaSetCoherentMask,
  dmaSetMask,
  dmaSupported,
  dmaSyncSg,
  dmaSyncSgForCpu,
  dmaSyncSgForDevice,
  dmaSyncSingle,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaUnmapPage,
  dmaUnmapSg,
  dmaUnmapSingle,
} from './mapping';
import { dmaPoolAlloc, dmaPoolCreate, dmaPoolDestroy, dmaPoolFree, type DmaPool } from './pool';
import {
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_NONE,
  DMA_TO_DEVICE,
  GFP_ATOMIC,
  type DmaCoherentBuffer,
  type DmaDataDirection,
  type ScatterlistEntry,
} from './types';

/** PCI_DMA_* directions (include/linux/pci-dma-compat.h): the DMA_* values. */
export const PCI_DMA_BIDIRECTIONAL = DMA_BIDIRECTIONAL;
export const PCI_DMA_TODEVICE = DMA_TO_DEVICE;
export const PCI_DMA_FROMDEVICE = DMA_FROM_DEVICE;
export const PCI_DMA_NONE = DMA_NONE;

/** struct pci_pool: a dma_pool. */
export type PciPool = DmaPool;

/** The cast the document allows: an int direction is passed on as is and checked by the dma_ call. */
function dir(direction: number): DmaDataDirection {
  return direction as DmaDataDirection;
}

// ---- Part Ia ----

/** pci_alloc_consistent(hwdev, size, &dma_handle): dma_alloc_coherent with GFP_ATOMIC. */
export function pciAllocConsistent(hwdev: DmaDevice, size: number): DmaCoherentBuffer | null {
  return dmaAllocCoherent(hwdev, size, GFP_ATOMIC);
}

/** pci_free_consistent(hwdev, size, cpu_addr, dma_handle). */
export function pciFreeConsistent(hwdev: DmaDevice, size: number, cpuAddr: number, dmaHandle: number): void {
  dmaFreeCoherent(hwdev, size, cpuAddr, dmaHandle);
}

// ---- Part Ib ----

/** pci_pool_create(name, dev, size, align, allocation): `allocation` is the boundary (0 = none). */
export function pciPoolCreate(name: string, dev: DmaDevice, size: number, align: number, allocation: number): PciPool | null {
  return dmaPoolCreate(name, dev, size, align, allocation);
}

/** pci_pool_alloc(pool, gfp_flags, &dma_handle). */
export function pciPoolAlloc(pool: PciPool, gfpFlags: number): DmaCoherentBuffer | null {
  return dmaPoolAlloc(pool, gfpFlags);
}

/** pci_pool_free(pool, vaddr, addr). */
export function pciPoolFree(pool: PciPool, vaddr: number, addr: number): void {
  dmaPoolFree(pool, vaddr, addr);
}

/** pci_pool_destroy(pool). */
export function pciPoolDestroy(pool: PciPool | null): void {
  dmaPoolDestroy(pool);
}

// ---- Part Ic ----

/** pci_dma_supported(hwdev, mask): 1 or 0. */
export function pciDmaSupported(hwdev: DmaDevice, mask: number): number {
  return dmaSupported(hwdev, mask);
}

/** pci_set_dma_mask(dev, mask): 0 or a negative errno. */
export function pciSetDmaMask(dev: DmaDevice, mask: number): number {
  return dmaSetMask(dev, mask);
}

/** pci_set_consistent_dma_mask(dev, mask): dma_set_coherent_mask. */
export function pciSetConsistentDmaMask(dev: DmaDevice, mask: number): number {
  return dmaSetCoherentMask(dev, mask);
}

// ---- Part Id ----

/** pci_map_single(hwdev, cpu_addr, size, direction). */
export function pciMapSingle(hwdev: DmaDevice, cpuAddr: number, size: number, direction: number): number {
  return dmaMapSingle(hwdev, cpuAddr, size, dir(direction));
}

/** pci_unmap_single(hwdev, dma_addr, size, direction). */
export function pciUnmapSingle(hwdev: DmaDevice, dmaAddr: number, size: number, direction: number): void {
  dmaUnmapSingle(hwdev, dmaAddr, size, dir(direction));
}

/** pci_map_page(hwdev, page, offset, size, direction): `page` is the page's physical address. */
export function pciMapPage(hwdev: DmaDevice, page: number, offset: number, size: number, direction: number): number {
  return dmaMapPage(hwdev, page, offset, size, dir(direction));
}

/** pci_unmap_page(hwdev, dma_address, size, direction). */
export function pciUnmapPage(hwdev: DmaDevice, dmaAddress: number, size: number, direction: number): void {
  dmaUnmapPage(hwdev, dmaAddress, size, dir(direction));
}

/** pci_dma_mapping_error(hwdev, dma_addr): non-zero when the map call failed. */
export function pciDmaMappingError(hwdev: DmaDevice, dmaAddr: number): number {
  return dmaMappingError(hwdev, dmaAddr);
}

/** pci_map_sg(hwdev, sg, nents, direction): the number of DMA segments, or 0. */
export function pciMapSg(hwdev: DmaDevice, sg: ScatterlistEntry[], nents: number, direction: number): number {
  return dmaMapSg(hwdev, sg, nents, dir(direction));
}

/** pci_unmap_sg(hwdev, sg, nents, direction): `nents` as passed to pci_map_sg. */
export function pciUnmapSg(hwdev: DmaDevice, sg: ScatterlistEntry[], nents: number, direction: number): void {
  dmaUnmapSg(hwdev, sg, nents, dir(direction));
}

/** pci_dma_sync_single(hwdev, dma_handle, size, direction): the direction-driven sync of dma_sync_single. */
export function pciDmaSyncSingle(hwdev: DmaDevice, dmaHandle: number, size: number, direction: number): void {
  dmaSyncSingle(hwdev, dmaHandle, size, dir(direction));
}

/** pci_dma_sync_sg(hwdev, sg, nelems, direction). */
export function pciDmaSyncSg(hwdev: DmaDevice, sg: ScatterlistEntry[], nelems: number, direction: number): void {
  dmaSyncSg(hwdev, sg, nelems, dir(direction));
}

/** pci_dma_sync_single_for_cpu(hwdev, dma_handle, size, direction). */
export function pciDmaSyncSingleForCpu(hwdev: DmaDevice, dmaHandle: number, size: number, direction: number): void {
  dmaSyncSingleForCpu(hwdev, dmaHandle, size, dir(direction));
}

/** pci_dma_sync_single_for_device(hwdev, dma_handle, size, direction). */
export function pciDmaSyncSingleForDevice(hwdev: DmaDevice, dmaHandle: number, size: number, direction: number): void {
  dmaSyncSingleForDevice(hwdev, dmaHandle, size, dir(direction));
}

/** pci_dma_sync_sg_for_cpu(hwdev, sg, nelems, direction). */
export function pciDmaSyncSgForCpu(hwdev: DmaDevice, sg: ScatterlistEntry[], nelems: number, direction: number): void {
  dmaSyncSgForCpu(hwdev, sg, nelems, dir(direction));
}

/** pci_dma_sync_sg_for_device(hwdev, sg, nelems, direction). */
export function pciDmaSyncSgForDevice(hwdev: DmaDevice, sg: ScatterlistEntry[], nelems: number, direction: number): void {
  dmaSyncSgForDevice(hwdev, sg, nelems, dir(direction));
}
