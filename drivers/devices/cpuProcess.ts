import { errFromRet, KernelError } from '../errno';
import { CpuAddressSpace } from '../iommu/cpuPgtable';
import { IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE } from '../iommu/ioPgtableArm';
import { PAGE_OFFSET } from '../kernelCpu';
import type { Platform } from '../platform';

const PAGE = 4096;

/**
 * A user process for trace replay: its own address space (ASID, page tables) on a CPU
 * MMU, holding the pages its trace touches, plus the kernel's linear map (as every
 * process's tables carry the kernel half; the model has one TTBR, so it is copied in).
 *
 * The process runs privileged: the simulated MMU switches the context of all its cores
 * at once, and the kernel's own core must keep reaching the linear map.
 */
export class UserProcess {
  readonly space: CpuAddressSpace;
  private readonly frames = new Map<number, number>();

  constructor(readonly platform: Platform, readonly mmuName: string, asid: number) {
    const mmu = platform.soc.cpuMmu(mmuName);
    this.space = new CpuAddressSpace(platform.kernel, mmu, platform.pages, asid);
    const dram = platform.soc.config.memories.find((m) => m.kind === 'dram')!;
    const rc = this.space.map(PAGE_OFFSET + dram.base, dram.base, dram.size, IOMMU_READ | IOMMU_WRITE | IOMMU_PRIV);
    if (rc !== 0) throw errFromRet(rc, 'process: map kernel half');
  }

  /** Pages mapped for the program. */
  get residentPages(): number {
    return this.frames.size;
  }

  /**
   * Maps the page holding each address to a fresh zeroed frame, as the program's page
   * faults would have (demand paging done up front, so the replay sees no faults).
   * Returns the number of pages newly mapped.
   */
  prefault(addrs: Iterable<number>): number {
    let added = 0;
    for (const a of addrs) {
      const page = Math.floor(a / PAGE) * PAGE;
      if (this.frames.has(page)) continue;
      const pa = this.platform.pages.allocPages(0);
      if (pa === null) throw new KernelError('ENOMEM', 'process: page fault', `no memory for page ${page.toString(16)}`);
      // clear_user_highpage: through the linear map, so no stale cached line survives.
      const kcpu = this.platform.kcpu;
      kcpu.memset(kcpu.physToVirt(pa), 0, PAGE);
      const rc = this.space.map(page, pa, PAGE, IOMMU_READ | IOMMU_WRITE | IOMMU_PRIV);
      if (rc !== 0) throw errFromRet(rc, 'process: page fault', `map of ${page.toString(16)} failed`);
      this.frames.set(page, pa);
      added++;
    }
    return added;
  }

  /** Context switch to the process. */
  activate(): void {
    this.space.activate();
  }

  /** The process exits: back to the kernel's address space, pages and tables freed. */
  exit(): void {
    this.platform.cpu(this.mmuName).space.activate();
    for (const [page, pa] of this.frames) {
      this.space.unmap(page, PAGE);
      this.platform.pages.freePages(pa, 0);
    }
    this.frames.clear();
    this.space.free();
  }
}
