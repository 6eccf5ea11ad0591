import { Cmd, Status } from '../../../sim/bus/transaction';
import { getFormat } from '../../../sim/mmu/format';
import type { FaultRecord } from '../../../sim/mmu/translationUnit';
import { iommuParams, MEM_BASE, MmuRig, tlbParams } from '../../helpers/mmuRig';

const lpae = getFormat('arm-lpae-4k');
const PAGE = 0x1000;
const bytes = (...v: number[]) => Uint8Array.from(v);

describe('IOMMU translation', () => {
  test('translated reads return the bytes at the physical page', () => {
    const rig = new MmuRig(lpae);
    rig.tables.map(0x10_0000, MEM_BASE + 0x30_0000, 12);
    rig.mem.write(MEM_BASE + 0x30_0040, bytes(1, 2, 3, 4));
    const { master } = rig.device([{ cmd: Cmd.Read, addr: 0x10_0040, size: 4 }]);
    master.start();
    rig.run();
    expect(master.completed[0].status).toBe(Status.Ok);
    expect([...master.completed[0].data]).toEqual([1, 2, 3, 4]);
    expect(master.completed[0].addr).toBe(0x10_0040); // the device sees its own address back
  });

  test('an access to an unmapped address faults: record, error response, memory untouched', () => {
    const rig = new MmuRig(lpae);
    const seen: FaultRecord[] = [];
    rig.iommu.onFault = (f) => seen.push(f);
    rig.device([]); // stream 0 unused
    const { master, streamId } = rig.device([{ cmd: Cmd.Write, addr: 0x7777_0000, size: 64, data: new Uint8Array(64).fill(0xab) }]);
    const framesBefore = rig.mem.framesAllocated;
    master.start();
    rig.run();
    expect(master.completed[0].status).toBe(Status.TranslationFault);
    expect(rig.iommu.faults).toHaveLength(1);
    expect(rig.iommu.faults[0]).toMatchObject({ streamId, device: 'dev1', address: 0x7777_0000, access: 'write', reason: 'not_present' });
    expect(seen).toHaveLength(1);
    expect(rig.mem.framesAllocated).toBe(framesBefore);
    expect(rig.stat('soc.iommu.faults')).toBe(1);
    expect(rig.stat('soc.iommu.dev1.faults')).toBe(1);
  });

  test('a write to a read-only page is a permission fault and leaves memory unchanged', () => {
    const rig = new MmuRig(lpae);
    rig.tables.map(0x2000, MEM_BASE + 0x5000, 12, { readOnly: true });
    rig.mem.write(MEM_BASE + 0x5000, bytes(9, 9, 9, 9));
    const { master } = rig.device([
      { cmd: Cmd.Write, addr: 0x2000, size: 4, data: bytes(1, 1, 1, 1) },
      { cmd: Cmd.Read, addr: 0x2000, size: 4 },
    ]);
    master.start();
    rig.run();
    expect(master.completed.map((c) => c.status)).toEqual([Status.TranslationFault, Status.Ok]);
    expect(rig.iommu.faults[0].reason).toBe('permission');
    expect([...master.completed[1].data]).toEqual([9, 9, 9, 9]);
  });

  test('privileged pages need a privileged stream; context permissions apply on top', () => {
    const rig = new MmuRig(lpae);
    rig.tables.map(0x2000, MEM_BASE + 0x5000, 12, { privileged: true });
    rig.tables.map(0x3000, MEM_BASE + 0x6000, 12);
    const user = rig.device([{ cmd: Cmd.Read, addr: 0x2000, size: 4 }]);
    const kernel = rig.device([{ cmd: Cmd.Read, addr: 0x2000, size: 4 }], { context: { privileged: true } });
    const readOnlyStream = rig.device([{ cmd: Cmd.Write, addr: 0x3000, size: 4 }], { context: { allowWrite: false } });
    for (const d of [user, kernel, readOnlyStream]) d.master.start();
    rig.run();
    expect(user.master.completed[0].status).toBe(Status.TranslationFault);
    expect(kernel.master.completed[0].status).toBe(Status.Ok);
    expect(readOnlyStream.master.completed[0].status).toBe(Status.TranslationFault);
  });

  test('after a PTE change without invalidation the stale translation is used; after invalidate + SYNC the new one', () => {
    const rig = new MmuRig(lpae);
    const va = 0x4000_0000;
    rig.tables.map(va, MEM_BASE + 0x1_0000, 12);
    rig.mem.write(MEM_BASE + 0x1_0000, bytes(0x11));
    rig.mem.write(MEM_BASE + 0x2_0000, bytes(0x22));
    const first = rig.device([{ cmd: Cmd.Read, addr: va, size: 1 }]);
    first.master.start();
    rig.run();
    expect(first.master.completed[0].data[0]).toBe(0x11);

    // Remap without invalidating: the TLB still holds the old translation.
    rig.tables.unmap(va, 12);
    rig.tables.map(va, MEM_BASE + 0x2_0000, 12);
    const read = () => {
      const d = rig.device([{ cmd: Cmd.Read, addr: va, size: 1 }]);
      d.master.start();
      rig.run();
      return d.master.completed[0].data[0];
    };
    // A new device on a new stream has a cold L1, but the shared L2 still holds the page.
    expect(read()).toBe(0x11);

    let synced = -1;
    expect(rig.iommu.submit({ op: 'invalidate-range', asid: 1, va, size: PAGE })).toBe(true);
    expect(rig.iommu.submit({ op: 'sync', done: () => { synced = rig.ctx.engine.now; } })).toBe(true);
    rig.run();
    expect(synced).toBeGreaterThan(0);
    expect(read()).toBe(0x22);
  });

  test('commands execute in order, each costing its cycles; SYNC completes after all earlier ones', () => {
    const rig = new MmuRig(lpae);
    const done: string[] = [];
    rig.iommu.submit({ op: 'invalidate-all' });
    rig.iommu.submit({ op: 'invalidate-asid', asid: 3 });
    rig.iommu.submit({ op: 'invalidate-range', asid: 3, va: 0, size: PAGE });
    rig.iommu.submit({ op: 'sync', done: () => done.push(`sync@${rig.ctx.engine.now}`) });
    rig.run();
    // 40 + 20 + 10 + 5 cycles at 1 GHz.
    expect(done).toEqual(['sync@75000']);
    expect(rig.stat('soc.iommu.commands')).toBe(4);
    expect(rig.stat('soc.iommu.cmd.invalidate_all')).toBe(1);
    expect(rig.stat('soc.iommu.cmd.sync')).toBe(1);
  });

  test('the command queue is bounded', () => {
    const rig = new MmuRig(lpae, iommuParams({ commandQueueDepth: 2 }));
    expect(rig.iommu.submit({ op: 'invalidate-all' })).toBe(true);
    expect(rig.iommu.submit({ op: 'invalidate-all' })).toBe(true);
    expect(rig.iommu.submit({ op: 'invalidate-all' })).toBe(false);
  });

  test('a full fault queue counts overflows and drops the records', () => {
    const rig = new MmuRig(lpae, iommuParams({ faultQueueDepth: 3 }));
    let interrupts = 0;
    rig.iommu.onFault = () => interrupts++;
    const reqs = Array.from({ length: 5 }, (_v, i) => ({ cmd: Cmd.Read, addr: i * PAGE, size: 4 }));
    const { master } = rig.device(reqs);
    master.start();
    rig.run();
    expect(master.completed.every((c) => c.status === Status.TranslationFault)).toBe(true);
    expect(rig.iommu.faults).toHaveLength(3);
    expect(interrupts).toBe(3);
    expect(rig.stat('soc.iommu.fault_queue_overflows')).toBe(2);
    expect(rig.iommu.drainFaults()).toHaveLength(3);
    expect(rig.iommu.faults).toHaveLength(0);
  });

  test('concurrent misses to one page merge in an MSHR and share one walk', () => {
    const rig = new MmuRig(lpae);
    rig.tables.map(0x8000, MEM_BASE, 12);
    const reqs = [0, 64, 128, 192].map((o) => ({ cmd: Cmd.Read, addr: 0x8000 + o, size: 64 }));
    const a = rig.device(reqs, { maxOutstanding: 4 });
    const b = rig.device(reqs, { maxOutstanding: 4 });
    a.master.start();
    b.master.start();
    rig.run();
    expect(rig.stat('soc.iommu.walker.walks')).toBe(1);
    expect(rig.stat('soc.iommu.l2tlb.mshr_merges')).toBeGreaterThanOrEqual(1);
    expect([...a.master.completed, ...b.master.completed].every((c) => c.status === Status.Ok)).toBe(true);
  });

  test('one walk of a 2 MiB block serves all 512 of its 4 KiB pages', () => {
    const rig = new MmuRig(lpae);
    rig.tables.map(0x20_0000, MEM_BASE + 0x40_0000, 21);
    // One at a time: concurrent misses to different 4 KiB pages would each walk, since
    // MSHRs key on the smallest page size (the page size is unknown until the walk ends).
    const reqs = Array.from({ length: 512 }, (_v, i) => ({ cmd: Cmd.Read, addr: 0x20_0000 + i * PAGE, size: 64 }));
    const { master } = rig.device(reqs, { maxOutstanding: 1 });
    master.start();
    rig.run();
    expect(master.completed.every((c) => c.status === Status.Ok)).toBe(true);
    expect(rig.stat('soc.iommu.walker.walks')).toBe(1);
    expect(rig.stat('soc.iommu.dev0.l1tlb.hits')).toBe(511);
  });

  test('a TLB that holds only 4 KiB pages splinters a 2 MiB block', () => {
    const rig = new MmuRig(lpae, iommuParams({ l1Tlb: tlbParams({ pageSizes: [2 ** 12] }), l2Tlb: tlbParams({ entries: 256, ways: 8, pageSizes: [2 ** 12] }) }));
    rig.tables.map(0x20_0000, MEM_BASE + 0x40_0000, 21);
    rig.mem.write(MEM_BASE + 0x40_3008, bytes(0x5a));
    const reqs = [0, 0x3008, 0x3010].map((o) => ({ cmd: Cmd.Read, addr: 0x20_0000 + o, size: 1 }));
    const { master } = rig.device(reqs);
    master.start();
    rig.run();
    expect(master.completed[1].data[0]).toBe(0x5a);
    expect(rig.stat('soc.iommu.walker.walks')).toBe(2); // two distinct 4 KiB splinters
  });

  test('streams are isolated by their own contexts and ASIDs', () => {
    const rig = new MmuRig(lpae);
    rig.tables.map(0x1000, MEM_BASE + 0x1000, 12);
    rig.mem.write(MEM_BASE + 0x1000, bytes(7));
    const a = rig.device([{ cmd: Cmd.Read, addr: 0x1000, size: 1 }], { asid: 1 });
    const b = rig.device([{ cmd: Cmd.Read, addr: 0x1000, size: 1 }], { asid: 2, context: { root: rig.tables.allocTable(lpae.root) } });
    a.master.start();
    rig.run();
    b.master.start();
    rig.run();
    expect(a.master.completed[0].status).toBe(Status.Ok);
    expect(b.master.completed[0].status).toBe(Status.TranslationFault); // its (empty) tables, not a's TLB entry
  });

  test('bypass streams pass physical addresses through; abort and unprogrammed streams fault', () => {
    const rig = new MmuRig(lpae);
    rig.mem.write(MEM_BASE + 0x9000, bytes(0x42));
    const bypass = rig.device([{ cmd: Cmd.Read, addr: MEM_BASE + 0x9000, size: 1 }], { context: { mode: 'bypass' } });
    const abort = rig.device([{ cmd: Cmd.Read, addr: MEM_BASE + 0x9000, size: 1 }], { context: { mode: 'abort' } });
    bypass.master.start();
    abort.master.start();
    rig.run();
    expect(bypass.master.completed[0].data[0]).toBe(0x42);
    expect(abort.master.completed[0].status).toBe(Status.TranslationFault);
    expect(rig.iommu.faults[0].reason).toBe('no_context');
    expect(rig.stat('soc.iommu.bypassed')).toBe(1);
  });
});

describe('sparse mappings (nv formats)', () => {
  test.each(['nv-gf100', 'nv-gp100'])('%s: sparse reads give zeros, writes are dropped, nothing faults', (name) => {
    const f = getFormat(name);
    const rig = new MmuRig(f, iommuParams({
      l1Tlb: tlbParams({ pageSizes: [2 ** 12] }),
      l2Tlb: tlbParams({ entries: 64, ways: 4, pageSizes: [2 ** 12] }),
    }));
    // A sparse large-page entry covering va.
    rig.tables.setSparse(0x20_0000, f.largeLeaf);
    const { master } = rig.device([
      { cmd: Cmd.Write, addr: 0x20_0000, size: 4, data: bytes(1, 2, 3, 4) },
      { cmd: Cmd.Read, addr: 0x20_0000, size: 4 },
    ]);
    const frames = rig.mem.framesAllocated;
    master.start();
    rig.run();
    expect(master.completed.map((c) => c.status)).toEqual([Status.Ok, Status.Ok]);
    expect([...master.completed[1].data]).toEqual([0, 0, 0, 0]);
    expect(rig.mem.framesAllocated).toBe(frames);
    expect(rig.stat('soc.iommu.sparse_accesses')).toBe(2);
    expect(rig.iommu.faults).toHaveLength(0);
  });

  test('nv-gf100: a blocked (GK104 invalid) LPTE faults even where the SPT maps the page', () => {
    const f = getFormat('nv-gf100');
    const rig = new MmuRig(f, iommuParams({ l1Tlb: tlbParams({ pageSizes: [2 ** 12] }), l2Tlb: tlbParams({ entries: 64, ways: 4, pageSizes: [2 ** 12] }) }));
    rig.tables.map(0x4_0000, MEM_BASE, 12);
    rig.tables.setBlocked(0x4_0000);
    const { master } = rig.device([{ cmd: Cmd.Read, addr: 0x4_0000, size: 4 }]);
    master.start();
    rig.run();
    expect(master.completed[0].status).toBe(Status.TranslationFault);
    expect(rig.stat('soc.iommu.walker.mem_reads')).toBe(2); // PGD + LPTE; the SPT is never read
  });
});

describe('access modes', () => {
  function rigWithPage() {
    const rig = new MmuRig(lpae);
    rig.tables.map(0x1000, MEM_BASE + 0x7000, 12);
    rig.mem.write(MEM_BASE + 0x7010, bytes(0x99));
    const { master } = rig.device([]);
    return { rig, port: master.port };
  }

  test('atomic: translates, fills TLBs and counts, with no events', () => {
    const { rig, port } = rigWithPage();
    const t = new (require('../../../sim/bus/transaction').Transaction)(64);
    t.cmd = Cmd.Read; t.addr = 0x1010; t.size = 1;
    const cold = port.sendAtomic(t);
    expect(t.status).toBe(Status.Ok);
    expect(t.data[0]).toBe(0x99);
    expect(t.addr).toBe(0x1010);
    t.status = Status.Pending;
    const warm = port.sendAtomic(t);
    expect(warm).toBeLessThan(cold);
    expect(rig.stat('soc.iommu.walker.walks')).toBe(1);
    expect(rig.stat('soc.iommu.dev0.l1tlb.hits')).toBe(1);
    expect(rig.ctx.engine.pending).toBe(0);
  });

  test('functional: translates through the tables but bypasses TLBs and leaves stats alone', () => {
    const { rig, port } = rigWithPage();
    const before = JSON.stringify(rig.ctx.stats.dump());
    const t = new (require('../../../sim/bus/transaction').Transaction)(64);
    t.cmd = Cmd.Read; t.addr = 0x1010; t.size = 1;
    port.sendFunctional(t);
    expect(t.status).toBe(Status.Ok);
    expect(t.data[0]).toBe(0x99);
    expect(JSON.stringify(rig.ctx.stats.dump())).toBe(before);
    t.addr = 0x5_0000;
    t.status = Status.Pending;
    port.sendFunctional(t);
    expect(t.status).toBe(Status.TranslationFault);
    expect(rig.iommu.faults).toHaveLength(0);
  });
});
