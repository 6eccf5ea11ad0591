import { ClockDomain } from '../../sim/engine/clock';
import { createSimContext, type SimContext } from '../../sim/engine/context';
import type { Tracer } from '../../sim/engine/trace';
import { Crossbar } from '../../sim/bus/crossbar';
import { connectPorts } from '../../sim/bus/port';
import { PhysicalMemory } from '../../sim/mem/physmem';
import { SimpleMemory } from '../../sim/mem/sram';
import { Iommu, type IommuParamsInput } from '../../sim/mmu/iommu';
import type { PageTableFormat } from '../../sim/mmu/format/types';
import type { TranslationContext } from '../../sim/mmu/translationUnit';
import type { TlbParams } from '../../sim/mmu/tlb';
import { PageTableBuilder } from '../../sim/mmu/pageTableBuilder';
import { TrafficMaster, type TrafficRequest } from './trafficMaster';

export const MEM_BASE = 0x8000_0000;
export const MEM_SIZE = 2 ** 30;
/** Page tables live in the top 256 MiB of memory. */
export const TABLE_ARENA = MEM_BASE + MEM_SIZE - 2 ** 28;

export function tlbParams(over: Partial<TlbParams> = {}): TlbParams {
  return { entries: 32, ways: 32, replacement: 'lru', latencyCycles: 1, pageSizes: [2 ** 12, 2 ** 21], mshrs: 4, ...over };
}

export function iommuParams(over: Partial<IommuParamsInput> = {}): IommuParamsInput {
  return {
    l1Tlb: tlbParams(),
    l2Tlb: tlbParams({ entries: 256, ways: 8, latencyCycles: 3, mshrs: 8 }),
    walker: { slots: 4, stepCycles: 0, walkCaches: [] },
    inputQueueDepth: 16,
    faultQueueDepth: 8,
    commandQueueDepth: 16,
    commandCycles: { invalidateAll: 40, invalidateAsid: 20, invalidateRange: 10, sync: 5 },
    ...over,
  };
}

/**
 * A 1 GHz crossbar with one fixed-latency memory (so latencies are easy to reason
 * about), an IOMMU on it, and page tables built by hand in that memory.
 */
export class MmuRig {
  readonly ctx: SimContext;
  readonly clock = new ClockDomain('sys', 1e9);
  readonly mem = new PhysicalMemory();
  readonly xbar: Crossbar;
  readonly memory: SimpleMemory;
  readonly iommu: Iommu;
  readonly tables: PageTableBuilder;
  private nextStream = 0;

  constructor(readonly format: PageTableFormat, params: IommuParamsInput = iommuParams(), memLatencyCycles = 20, tracer?: Tracer) {
    this.ctx = createSimContext(5, tracer);
    this.xbar = new Crossbar(this.ctx, 'soc.xbar', this.clock, { widthBytes: 32, latencyCycles: 1, arbitration: 'round-robin', inputQueueDepth: 16, maxOutstandingPerMaster: 0 });
    this.memory = new SimpleMemory(this.ctx, 'soc.mem', this.clock, { base: MEM_BASE, size: MEM_SIZE }, this.mem, { latencyCycles: memLatencyCycles, bytesPerCycle: 32, queueDepth: 64 });
    connectPorts(this.xbar.addOutput('mem', [{ base: MEM_BASE, size: MEM_SIZE }]), this.memory.port);
    this.iommu = new Iommu(this.ctx, 'soc.iommu', this.clock, format, 100, params);
    connectPorts(this.iommu.memSidePort, this.xbar.addInput('iommu'));
    connectPorts(this.iommu.walker.port, this.xbar.addInput('iommu_walker'));
    this.tables = new PageTableBuilder(this.mem, format, TABLE_ARENA);
  }

  /** A device on the next stream id, translating through `tables` with `asid`. */
  device(requests: TrafficRequest[], opts: { maxOutstanding?: number; asid?: number; context?: Partial<TranslationContext> } = {}): { master: TrafficMaster; streamId: number } {
    const streamId = this.nextStream++;
    const master = new TrafficMaster(this.ctx, `dev${streamId}`, streamId, requests, opts.maxOutstanding ?? 1);
    connectPorts(master.port, this.iommu.attachDevice(`dev${streamId}`, streamId));
    this.iommu.setStreamContext(streamId, {
      format: this.format, root: this.tables.root, asid: opts.asid ?? 1, mode: 'translate',
      privileged: false, allowRead: true, allowWrite: true, ...opts.context,
    });
    return { master, streamId };
  }

  run(): void {
    this.ctx.engine.runUntilIdle();
  }

  stat(name: string): number {
    return this.ctx.stats.value(name);
  }
}
