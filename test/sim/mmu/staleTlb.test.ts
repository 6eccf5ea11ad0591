import { Cmd, Status } from '../../../sim/bus/transaction';
import { MemoryTraceWriter, Tracer } from '../../../sim/engine/trace';
import { getFormat } from '../../../sim/mmu/format';
import { SocConfigSchema } from '../../../sim/soc/schema';
import { iommuParams, MEM_BASE, MmuRig } from '../../helpers/mmuRig';

const lpae = getFormat('arm-lpae-4k');
const PAGE = 0x1000;
const VA = 0x4000_0000;
const PA_OLD = MEM_BASE + 0x1_0000;
const PA_NEW = MEM_BASE + 0x2_0000;

function rig(countStaleTlbHits: boolean, trace = false): { rig: MmuRig; trace: MemoryTraceWriter | null } {
  const writer = trace ? new MemoryTraceWriter() : null;
  const tracer = writer ? new Tracer(writer, ['tlb']) : undefined;
  tracer?.start({ configHash: 'stale', seed: 5 });
  return { rig: new MmuRig(lpae, iommuParams({ countStaleTlbHits }), 20, tracer), trace: writer };
}

/** One timing read of `size` bytes at `va` on a new device (new stream: cold L1, shared L2). */
function timingRead(r: MmuRig, va: number, size = 1) {
  const d = r.device([{ cmd: Cmd.Read, addr: va, size }]);
  d.master.start();
  r.run();
  return d.master.completed[0];
}

describe('stale-IOTLB oracle (countStaleTlbHits)', () => {
  test('an unmapped page still in the L2 TLB: the hit is counted as stale, and the access still uses it', () => {
    const { rig: r, trace } = rig(true, true);
    r.tables.map(VA, PA_OLD, 12);
    r.mem.write(PA_OLD, Uint8Array.of(0x11));
    expect(timingRead(r, VA).data[0]).toBe(0x11); // miss, walk, fill
    expect(r.stat('soc.iommu.stale_tlb_hits')).toBe(0);
    r.tables.unmap(VA, 12); // no invalidation: the lazy-flush window
    const c = timingRead(r, VA); // dev1: cold L1, L2 hit
    expect(c.status).toBe(Status.Ok);
    expect(c.data[0]).toBe(0x11);
    expect(r.stat('soc.iommu.stale_tlb_hits')).toBe(1);
    expect(r.stat('soc.iommu.dev1.stale_tlb_hits')).toBe(1);
    expect(r.stat('soc.iommu.dev0.stale_tlb_hits')).toBe(0);
    const recs = trace!.lines.slice(1).map((l) => JSON.parse(l)).filter((x) => x.ev === 'stale-hit');
    expect(recs).toEqual([{ t: expect.any(Number), cat: 'tlb', unit: 'soc.iommu', dev: 'dev1', asid: 1, va: '0x40000000', pa: '0x80010000', ev: 'stale-hit' }]);
  });

  test('L1 hits are checked too; a remap to another page is stale; a valid hit is not', () => {
    const { rig: r } = rig(true);
    r.tables.map(VA, PA_OLD, 12);
    r.mem.write(PA_OLD, Uint8Array.of(0x11));
    r.mem.write(PA_NEW, Uint8Array.of(0x22));
    // One device, three reads: miss, L1 hit (valid), then after the remap an L1 hit (stale).
    const d = r.device([{ cmd: Cmd.Read, addr: VA, size: 1 }, { cmd: Cmd.Read, addr: VA + 8, size: 1 }]);
    d.master.start();
    r.run();
    expect(r.stat('soc.iommu.dev0.l1tlb.hits')).toBe(1);
    expect(r.stat('soc.iommu.stale_tlb_hits')).toBe(0);
    r.tables.unmap(VA, 12);
    r.tables.map(VA, PA_NEW, 12);
    const stale = d.master.atomic({ cmd: Cmd.Read, addr: VA, size: 1 });
    expect(stale.status).toBe(Status.Ok);
    expect(stale.data[0]).toBe(0x11); // the cached translation, not the new one
    expect(r.stat('soc.iommu.dev0.stale_tlb_hits')).toBe(1);
    // Invalidate + sync: the next access walks and gets the new page, not stale.
    r.iommu.executeAtomic({ op: 'invalidate-range', asid: 1, va: VA, size: PAGE });
    expect(d.master.atomic({ cmd: Cmd.Read, addr: VA, size: 1 }).data[0]).toBe(0x22);
    expect(d.master.atomic({ cmd: Cmd.Read, addr: VA, size: 1 }).data[0]).toBe(0x22); // L1 hit, fresh
    expect(r.stat('soc.iommu.stale_tlb_hits')).toBe(1);
  });

  test('a permission taken away (read-write to read-only) is stale; the stale write still lands', () => {
    const { rig: r } = rig(true);
    r.tables.map(VA, PA_OLD, 12);
    const d = r.device([]);
    expect(d.master.atomic({ cmd: Cmd.Write, addr: VA, size: 1, data: Uint8Array.of(1) }).status).toBe(Status.Ok);
    r.tables.unmap(VA, 12);
    r.tables.map(VA, PA_OLD, 12, { readOnly: true });
    expect(d.master.atomic({ cmd: Cmd.Write, addr: VA, size: 1, data: Uint8Array.of(7) }).status).toBe(Status.Ok);
    expect(readByte(r, PA_OLD)).toBe(7);
    expect(r.stat('soc.iommu.stale_tlb_hits')).toBe(1);
  });

  test('a permission added (read-only to read-write) is not stale', () => {
    const { rig: r } = rig(true);
    r.tables.map(VA, PA_OLD, 12, { readOnly: true });
    const d = r.device([]);
    expect(d.master.atomic({ cmd: Cmd.Read, addr: VA, size: 1 }).status).toBe(Status.Ok);
    r.tables.unmap(VA, 12);
    r.tables.map(VA, PA_OLD, 12);
    expect(d.master.atomic({ cmd: Cmd.Read, addr: VA, size: 1 }).status).toBe(Status.Ok);
    expect(r.stat('soc.iommu.stale_tlb_hits')).toBe(0);
  });

  test('off (the default): no stale counters are registered and stale hits go uncounted', () => {
    const { rig: r } = rig(false);
    r.tables.map(VA, PA_OLD, 12);
    timingRead(r, VA);
    r.tables.unmap(VA, 12);
    expect(timingRead(r, VA).status).toBe(Status.Ok);
    expect(() => r.stat('soc.iommu.stale_tlb_hits')).toThrow(/no counter/);
    expect(() => r.stat('soc.iommu.dev1.stale_tlb_hits')).toThrow(/no counter/);
  });

  test('the oracle walk changes no walker or walk-cache stats', () => {
    const { rig: r } = rig(true);
    r.tables.map(VA, PA_OLD, 12);
    const d = r.device([]);
    d.master.atomic({ cmd: Cmd.Read, addr: VA, size: 1 });
    const walks = r.stat('soc.iommu.walker.walks');
    const reads = r.stat('soc.iommu.walker.mem_reads');
    for (let i = 0; i < 5; i++) d.master.atomic({ cmd: Cmd.Read, addr: VA, size: 1 });
    expect(r.stat('soc.iommu.walker.walks')).toBe(walks);
    expect(r.stat('soc.iommu.walker.mem_reads')).toBe(reads);
  });

  test('the config field defaults to false', () => {
    const cfg = SocConfigSchema.parse({
      name: 'x', clocks: { sys: '1GHz' },
      memories: [{
        name: 'm', kind: 'dram', base: 0, size: '1GiB', bus: 'b', clock: 'sys', channels: 1, banks: 8, rowBytes: '2KiB', burstBytes: 64,
        timing: { tRCD: 14, tCL: 14, tRP: 14, tRAS: 32, tBURST: 2.5 },
      }],
      buses: [{ name: 'b', clock: 'sys', widthBytes: 8, latencyCycles: 1 }],
      iommus: [{
        name: 'u', bus: 'b', clock: 'sys', format: 'arm-lpae-4k',
        l1Tlb: { entries: 4, ways: 4, latencyCycles: 1, pageSizes: ['4KiB'] },
        l2Tlb: { entries: 4, ways: 4, latencyCycles: 1, pageSizes: ['4KiB'] },
        walker: { slots: 1, stepCycles: 1 },
        commandCycles: { invalidateAll: 1, invalidateAsid: 1, invalidateRange: 1, sync: 1 },
      }],
    });
    expect(cfg.iommus[0].countStaleTlbHits).toBe(false);
  });
});

function readByte(r: MmuRig, pa: number): number {
  const b = new Uint8Array(1);
  r.mem.read(pa, b);
  return b[0];
}
