import type { Kernel } from '../kernel';
import type { KernelCpu } from '../kernelCpu';
import type { BuddyAllocator } from '../mm/buddy';
import type { ContiguousRegion } from '../mm/contiguous';
import { DMA_BIT_MASK, type DeclaredCoherentMemory, type DmaDebugHooks, type DmaMapOps } from './types';

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
