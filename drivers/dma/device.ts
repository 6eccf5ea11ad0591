import type { Kernel } from '../kernel';
import type { KernelCpu } from '../kernelCpu';
import type { BuddyAllocator } from '../mm/buddy';
import type { ContiguousRegion } from '../mm/contiguous';
import { DMA_BIT_MASK, type DeclaredCoherentMemory, type DmaCoherentBuffer, type DmaDataDirection, type ScatterlistEntry } from './types';

/** What every DMA operation of a platform shares. */
export interface DmaEnv {
  kernel: Kernel;
  /** The kernel's CPU loads/stores, virt<->phys, cache maintenance. */
  cpu: KernelCpu;
  /** The page allocator (buddy) over DRAM. */
  pages: BuddyAllocator;
  /** The contiguous region (CMA) at the bottom of DRAM. */
  cma: ContiguousRegion;
  /** dma-debug, or null when it is switched off. */
  debug: DmaDebugHooks | null;
}

export interface DmaDeviceOptions {
  /** dev_is_dma_coherent: the device snoops the CPU cache (IO-coherent). */
  coherent: boolean;
  /**
   * bus_dma_limit: the highest DMA address the device's bus reaches (its hardware
   * address width or bus window, from the SoC config). 2^53 - 1 for no limit.
   */
  busDmaLimit: number;
  /** Parent device (for DMA_MEMORY_INCLUDES_CHILDREN). */
  parent?: DmaDevice | null;
  /** Whether the device is on PCI (for the pci_* calls' wording only). */
  pci?: boolean;
}

/**
 * struct device, the part the DMA API uses: masks, coherency, the DMA ops the platform
 * chose, declared memory and the bound driver. Masks start at DMA_BIT_MASK(32), the
 * Linux default for platform devices; drivers widen them with dmaSetMask.
 */
export class DmaDevice {
  dmaMask = DMA_BIT_MASK(32);
  coherentDmaMask = DMA_BIT_MASK(32);
  /** Name of the bound driver (dev_driver_string), or null. */
  driverName: string | null = null;
  /** dma_declare_coherent_memory's region, or null. */
  declaredMemory: DeclaredCoherentMemory | null = null;
  /** Live coherent allocations by DMA handle (for dma_is_consistent): size, CPU address, consistent or not. */
  readonly coherentAllocations = new Map<number, { size: number; cpuAddr: number; consistent: boolean }>();
  readonly coherent: boolean;
  readonly busDmaLimit: number;
  readonly parent: DmaDevice | null;
  readonly pci: boolean;

  constructor(readonly name: string, readonly env: DmaEnv, readonly ops: DmaMapOps, opts: DmaDeviceOptions) {
    this.coherent = opts.coherent;
    this.busDmaLimit = opts.busDmaLimit;
    this.parent = opts.parent ?? null;
    this.pci = opts.pci ?? false;
  }

  /** dev_driver_string(): the bound driver's name, else the bus's. */
  get driverString(): string {
    return this.driverName ?? (this.pci ? 'pci' : 'platform');
  }

  /** The driver core binding `driver` (probe). */
  bindDriver(driver: string): void {
    this.driverName = driver;
  }

  /** The driver core unbinding the driver (after remove): dma-debug checks for leaked mappings. */
  unbindDriver(): void {
    this.env.debug?.driverUnbound(this);
    this.driverName = null;
  }

  /** min(dma mask, bus limit): the highest address a streaming mapping may use. */
  get streamingLimit(): number {
    return Math.min(this.dmaMask, this.busDmaLimit);
  }

  /** min(coherent mask, bus limit): the highest address a coherent allocation may use. */
  get coherentLimit(): number {
    return Math.min(this.coherentDmaMask, this.busDmaLimit);
  }
}

/**
 * struct dma_map_ops: how one kind of device reaches memory. `dma-direct` (one-to-one,
 * with swiotlb bouncing) and `iommu-dma` implement it; the public calls in mapping.ts
 * add argument checks, declared memory and dma-debug around them.
 *
 * Conventions: addresses are physical (`phys`) or DMA (`addr`); map calls return
 * DMA_MAPPING_ERROR or 0 entries on failure, as the kernel does.
 */
export interface DmaMapOps {
  readonly name: string;
  /** A coherent allocation of `size` bytes (already page-rounded), or null. */
  alloc(dev: DmaDevice, size: number, gfp: number, attrs: number): DmaCoherentBuffer | null;
  free(dev: DmaDevice, size: number, cpuAddr: number, dmaHandle: number, attrs: number): void;
  mapPage(dev: DmaDevice, phys: number, size: number, dir: DmaDataDirection, attrs: number): number;
  unmapPage(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection, attrs: number): void;
  /** Fills dmaAddress/dmaLength of the first n entries and returns n (<= nents), or 0 on failure. */
  mapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection, attrs: number): number;
  unmapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection, attrs: number): void;
  syncSingleForCpu(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection): void;
  syncSingleForDevice(dev: DmaDevice, addr: number, size: number, dir: DmaDataDirection): void;
  syncSgForCpu(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection): void;
  syncSgForDevice(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection): void;
  /** dma_supported: whether `mask` can reach the memory this device needs. */
  dmaSupported(dev: DmaDevice, mask: number): boolean;
  /** dma_get_required_mask: the smallest mask covering all memory this device may be handed. */
  getRequiredMask(dev: DmaDevice): number;
}

/**
 * The dma-debug hooks (lib/dma-debug.c's debug_dma_* calls) that mapping.ts invokes
 * after each operation; debug.ts implements them. Addresses: `phys` physical,
 * `dmaAddr` DMA, `cpuAddr` kernel virtual.
 */
export interface DmaDebugHooks {
  mapPage(dev: DmaDevice, phys: number, size: number, dir: DmaDataDirection, dmaAddr: number, mapSingle: boolean, attrs: number): void;
  mappingError(dev: DmaDevice, dmaAddr: number): void;
  unmapPage(dev: DmaDevice, dmaAddr: number, size: number, dir: DmaDataDirection, mapSingle: boolean): void;
  mapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, mappedEnts: number, dir: DmaDataDirection, attrs: number): void;
  unmapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, dir: DmaDataDirection): void;
  allocCoherent(dev: DmaDevice, size: number, dmaAddr: number, cpuAddr: number, attrs: number): void;
  freeCoherent(dev: DmaDevice, size: number, cpuAddr: number, dmaAddr: number): void;
  /** `offset` is 0 for dma_sync_single_for_*; dma_sync_single_range_for_* pass theirs. */
  syncSingle(dev: DmaDevice, dmaHandle: number, offset: number, size: number, dir: DmaDataDirection, toCpu: boolean): void;
  syncSg(dev: DmaDevice, sgl: ScatterlistEntry[], nelems: number, dir: DmaDataDirection, toCpu: boolean): void;
  /** BUS_NOTIFY_UNBOUND_DRIVER: the device's driver was removed; its mappings should be gone. */
  driverUnbound(dev: DmaDevice): void;
}
