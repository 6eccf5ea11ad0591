import { BuddyAllocator } from '../../../drivers/mm/buddy';
import type { IommuFlushOps, IommuIotlbGather, PageAllocator } from '../../../drivers/iommu/ioPgtableArm';
import { DRAM_BASE, kernelRig } from '../../helpers/kernelRig';

/** Where table pages come from in these tests: 16 MiB of DRAM at +256 MiB. */
export const TABLE_POOL = DRAM_BASE + 0x1000_0000;
export const TABLE_POOL_SIZE = 0x100_0000;
/** Data buffers live here (never handed to the allocator). */
export const DATA = DRAM_BASE + 0x2000_0000;

/** A page allocator that forwards to a buddy allocator and records what it handed out and got back. */
export class TrackingAllocator implements PageAllocator {
  readonly allocs: number[] = [];
  readonly frees: number[] = [];
  /** When set, allocPages fails (returns null) from the Nth call on (1-based). */
  failFrom: number | null = null;
  constructor(readonly buddy: BuddyAllocator) {}
  allocPages(order: number): number | null {
    if (this.failFrom !== null && this.allocs.length + 1 >= this.failFrom) return null;
    const pa = this.buddy.allocPages(order);
    if (pa !== null) this.allocs.push(pa);
    return pa;
  }
  freePages(addr: number, order: number): void {
    this.frees.push(addr);
    this.buddy.freePages(addr, order);
  }
  get inUse(): number {
    return this.allocs.length - this.frees.length;
  }
}

export function iommuRig(seed = 1) {
  const { soc, kernel } = kernelRig(seed);
  const buddy = new BuddyAllocator(TABLE_POOL, TABLE_POOL_SIZE);
  const pages = new TrackingAllocator(buddy);
  const stats = soc.ctx.stats;
  const stat = (name: string) => stats.value(name);
  return { soc, kernel, buddy, pages, stats, stat };
}

export interface FlushCall {
  op: 'all' | 'walk' | 'page';
  iova: number;
  size: number;
  gathered: boolean;
}

/** Flush ops that only record what the page table asked for. */
export function recordingFlushOps(): IommuFlushOps & { calls: FlushCall[] } {
  const calls: FlushCall[] = [];
  return {
    calls,
    tlbFlushAll: () => { calls.push({ op: 'all', iova: 0, size: 0, gathered: false }); },
    tlbFlushWalk: (iova, size) => { calls.push({ op: 'walk', iova, size, gathered: false }); },
    tlbAddPage: (gather: IommuIotlbGather | null, iova, granule) => { calls.push({ op: 'page', iova, size: granule, gathered: gather !== null }); },
  };
}
