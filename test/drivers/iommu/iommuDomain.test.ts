import { Errno, KernelError } from '../../../drivers/errno';
import { IommuDomain, IOMMU_READ, IOMMU_WRITE } from '../../../drivers/iommu/iommuDomain';
import { iommuIotlbGatherInit, SZ_2M, SZ_4K } from '../../../drivers/iommu/ioPgtableArm';
import { Status } from '../../../sim/bus/transaction';
import { createSimContext } from '../../../sim/engine/context';
import { MemoryTraceWriter, Tracer } from '../../../sim/engine/trace';
import { buildSoc, loadSocConfig } from '../../../sim/soc/builder';
import { Kernel } from '../../../drivers/kernel';
import { BuddyAllocator } from '../../../drivers/mm/buddy';
import { copyOk, deviceCopy, KERNEL_SOC } from '../../helpers/kernelRig';
import { DATA, iommuRig, TABLE_POOL, TABLE_POOL_SIZE } from './rig';

const RW = IOMMU_READ | IOMMU_WRITE;
const STREAM = 1; // dma_smmu
const IOVA_SRC = 0x1000_0000;
const IOVA_DST = 0x2000_0000;
const PA_SRC = DATA;
const PA_DST = DATA + 0x10_0000;

function domainRig() {
  const rig = iommuRig();
  const smmu = rig.soc.iommu('smmu');
  const dom = new IommuDomain(rig.kernel, smmu, rig.pages, 5);
  expect(dom.attachDevice(STREAM)).toBe(0);
  const fill = (pa: number, n: number, seed: number) => {
    const b = new Uint8Array(n);
    for (let i = 0; i < n; i++) b[i] = (i * 7 + seed) & 0xff;
    rig.soc.physmem.write(pa, b);
    return b;
  };
  const read = (pa: number, n: number) => {
    const b = new Uint8Array(n);
    rig.soc.physmem.read(pa, b);
    return b;
  };
  const copy = (src: number, dst: number, n: number) => deviceCopy(rig.soc, 'dma_smmu', src, dst, n);
  return { ...rig, smmu, dom, fill, read, copy };
}

describe('IommuDomain: attach, map, device access', () => {
  test('attach programs the stream context: translate, the root table, the ASID', () => {
    const rig = domainRig();
    expect(rig.smmu.streamContext(STREAM)).toMatchObject({ mode: 'translate', root: rig.dom.root, asid: 5, privileged: false });
    expect(rig.dom.attachDevice(7)).toBe(-Errno.ENODEV);
    expect(rig.dom.attachedStreams).toEqual([STREAM]);
  });

  test('a domain needs an LPAE IOMMU', () => {
    const rig = iommuRig();
    expect(() => new IommuDomain(rig.kernel, rig.soc.iommu('gpu_mmu'), rig.pages, 1)).toThrow(KernelError);
    expect(() => new IommuDomain(rig.kernel, rig.soc.iommu('smmu'), rig.pages, 1, { ias: 52 })).toThrow(/EINVAL/);
    rig.pages.failFrom = 1;
    expect(() => new IommuDomain(rig.kernel, rig.soc.iommu('smmu'), rig.pages, 1)).toThrow(/ENOMEM/);
  });

  test('after map the device copies through its real translation path', () => {
    const rig = domainRig();
    const data = rig.fill(PA_SRC, 3 * SZ_4K, 1);
    expect(rig.dom.map(IOVA_SRC, PA_SRC, 3 * SZ_4K, IOMMU_READ)).toBe(0);
    expect(rig.dom.map(IOVA_DST, PA_DST, 3 * SZ_4K, RW)).toBe(0);
    const r = rig.copy(IOVA_SRC, IOVA_DST, 3 * SZ_4K);
    expect(copyOk(r)).toBe(true);
    expect(rig.read(PA_DST, 3 * SZ_4K)).toEqual(data);
    expect(rig.stat('soc.smmu.walker.walks')).toBe(6); // one walk per page touched
    expect(rig.smmu.faults).toHaveLength(0);
  });

  test('before attach, and after detach, the device faults (no_context)', () => {
    const rig = iommuRig();
    const smmu = rig.soc.iommu('smmu');
    const dom = new IommuDomain(rig.kernel, smmu, rig.pages, 1);
    expect(dom.map(IOVA_SRC, PA_SRC, SZ_4K, RW)).toBe(0);
    expect(deviceCopy(rig.soc, 'dma_smmu', IOVA_SRC, IOVA_SRC, 64).status).toBe(Status.TranslationFault);
    dom.attachDevice(STREAM);
    expect(copyOk(deviceCopy(rig.soc, 'dma_smmu', IOVA_SRC, IOVA_SRC, 64))).toBe(true);
    dom.detachDevice(STREAM);
    smmu.drainFaults();
    expect(deviceCopy(rig.soc, 'dma_smmu', IOVA_SRC, IOVA_SRC, 64).status).toBe(Status.TranslationFault);
    expect(smmu.faults[0]).toMatchObject({ reason: 'no_context', streamId: STREAM });
    dom.detachDevice(STREAM);
    expect(rig.kernel.warnings).toBe(1);
  });

  test('a read-only mapping faults on device writes (permission)', () => {
    const rig = domainRig();
    expect(rig.dom.map(IOVA_SRC, PA_SRC, SZ_4K, RW)).toBe(0);
    expect(rig.dom.map(IOVA_DST, PA_DST, SZ_4K, IOMMU_READ)).toBe(0);
    const before = rig.read(PA_DST, 64);
    const r = rig.copy(IOVA_SRC, IOVA_DST, 64);
    expect(r.status).toBe(Status.TranslationFault);
    expect(rig.smmu.faults[0]).toMatchObject({ reason: 'permission', access: 'write', address: IOVA_DST });
    expect(rig.read(PA_DST, 64)).toEqual(before); // memory untouched
  });

  test('map uses the largest pages alignment allows (iommu_pgsize): 4K up to a 2M boundary, a 2M block, then 4K', () => {
    const rig = domainRig();
    // [0x1ff000, 0x402000): one 4K page, one 2M block, two 4K pages.
    expect(rig.dom.map(0x1f_f000, DATA + 0x1f_f000, SZ_4K + SZ_2M + 2 * SZ_4K, RW)).toBe(0);
    expect(rig.dom.iovaToPhys(0x1f_f000)).toBe(DATA + 0x1f_f000);
    expect(rig.dom.iovaToPhys(0x30_0000)).toBe(DATA + 0x30_0000);
    expect(rig.dom.iovaToPhys(0x40_1fff)).toBe(DATA + 0x40_1fff);
    expect(rig.dom.iovaToPhys(0x40_2000)).toBeNull();
    // root, L1, L2, and two L3 tables (the 2M block needs none).
    expect(rig.dom.pgtbl.tablePages).toBe(5);
    expect(rig.stat('kernel.smmu.pgtable.pages')).toBe(5);
    // iova and pa offset differently within 2M: 4K pages only.
    expect(rig.dom.map(0x4000_0000, DATA + 0x80_1000, SZ_2M, RW)).toBe(0);
    expect(rig.dom.pgtbl.tablePages).toBe(7);
  });

  test('unaligned map is -EINVAL (pr_err), and a failing map unrolls what it mapped', () => {
    const rig = domainRig();
    expect(rig.dom.map(IOVA_SRC + 0x10, PA_SRC, SZ_4K, RW)).toBe(-Errno.EINVAL);
    expect(rig.kernel.messages('iommu', 'err')[0]).toMatch(/^unaligned: iova 0x10000010/);
    expect(rig.dom.map(IOVA_SRC + 2 * SZ_4K, PA_SRC, SZ_4K, RW)).toBe(0);
    expect(rig.dom.map(IOVA_SRC, PA_DST, 4 * SZ_4K, RW)).toBe(-Errno.EEXIST);
    expect(rig.dom.iovaToPhys(IOVA_SRC)).toBeNull();
    expect(rig.dom.iovaToPhys(IOVA_SRC + SZ_4K)).toBeNull();
    expect(rig.dom.iovaToPhys(IOVA_SRC + 2 * SZ_4K)).toBe(PA_SRC); // the old mapping stays
  });
});

describe('IommuDomain: unmap and invalidation', () => {
  test('unmap returns the size, invalidates (range + sync) and the device then faults not_present', () => {
    const rig = domainRig();
    rig.fill(PA_SRC, SZ_4K, 3);
    expect(rig.dom.map(IOVA_SRC, PA_SRC, SZ_4K, RW)).toBe(0);
    expect(rig.dom.map(IOVA_DST, PA_DST, SZ_4K, RW)).toBe(0);
    expect(copyOk(rig.copy(IOVA_SRC, IOVA_DST, SZ_4K))).toBe(true);
    expect(rig.stat('kernel.smmu.pgtable.inval_cmds')).toBe(0);

    expect(rig.dom.unmap(IOVA_SRC, SZ_4K)).toBe(SZ_4K);
    expect(rig.stat('kernel.smmu.pgtable.inval_cmds')).toBe(1);
    expect(rig.stat('kernel.smmu.pgtable.sync_cmds')).toBe(1);
    expect(rig.stat('soc.smmu.cmd.invalidate_range')).toBe(1);
    expect(rig.stat('soc.smmu.cmd.sync')).toBe(1);
    // 40 + 20 cycles of the 1 GHz IOMMU clock.
    expect(rig.stat('kernel.iommu_time_ps')).toBe(60_000);
    expect(rig.dom.iovaToPhys(IOVA_SRC)).toBeNull();

    const r = rig.copy(IOVA_SRC, IOVA_DST, 64);
    expect(r.status).toBe(Status.TranslationFault);
    expect(r.faultAddr).toBe(IOVA_SRC);
    expect(rig.smmu.faults[0]).toMatchObject({ streamId: STREAM, device: 'dma_smmu', address: IOVA_SRC, access: 'read', reason: 'not_present' });
    // Nothing mapped there any more: 0 bytes, a WARN, and no invalidation to send.
    expect(rig.dom.unmap(IOVA_SRC, SZ_4K)).toBe(0);
    expect(rig.kernel.warnings).toBe(1);
    expect(rig.stat('kernel.smmu.pgtable.inval_cmds')).toBe(1);
  });

  test('without the invalidation the stale translation is still used; the sync removes it', () => {
    const rig = domainRig();
    const data = rig.fill(PA_SRC, SZ_4K, 9);
    expect(rig.dom.map(IOVA_SRC, PA_SRC, SZ_4K, RW)).toBe(0);
    expect(rig.dom.map(IOVA_DST, PA_DST, SZ_4K, RW)).toBe(0);
    expect(copyOk(rig.copy(IOVA_SRC, IOVA_DST, SZ_4K))).toBe(true);
    const walks = rig.stat('soc.smmu.walker.walks');

    // Clear the PTE (iommu_unmap_fast) but do not sync the IOTLB yet.
    const gather = iommuIotlbGatherInit();
    expect(rig.dom.unmapFast(IOVA_SRC, SZ_4K, gather)).toBe(SZ_4K);
    expect(rig.dom.iovaToPhys(IOVA_SRC)).toBeNull(); // the tables say: not mapped
    rig.soc.physmem.fill(PA_DST, SZ_4K, 0);
    const stale = rig.copy(IOVA_SRC, IOVA_DST, SZ_4K);
    expect(copyOk(stale)).toBe(true); // ... but the TLB still translates
    expect(rig.read(PA_DST, SZ_4K)).toEqual(data);
    expect(rig.stat('soc.smmu.walker.walks')).toBe(walks); // no walk: TLB hits
    expect(rig.smmu.faults).toHaveLength(0);

    rig.dom.iotlbSync(gather);
    expect(rig.stat('kernel.smmu.pgtable.inval_cmds')).toBe(1);
    const r = rig.copy(IOVA_SRC, IOVA_DST, 64);
    expect(r.status).toBe(Status.TranslationFault);
    expect(rig.smmu.faults[0].reason).toBe('not_present');
    expect(rig.stat('soc.smmu.walker.walks')).toBe(walks + 1);
  });

  test('the same with a PTE cleared by a raw kernel store: stale until flushIotlbAll', () => {
    const rig = domainRig();
    expect(rig.dom.map(IOVA_SRC, PA_SRC, SZ_4K, RW)).toBe(0);
    expect(rig.dom.map(IOVA_DST, PA_DST, SZ_4K, RW)).toBe(0);
    expect(copyOk(rig.copy(IOVA_SRC, IOVA_DST, 64))).toBe(true);
    // Find the L3 entry for IOVA_SRC: it is the last table allocated for it (L1, L2, L3 after the root).
    const l3 = rig.pages.allocs[3];
    const pte = l3 + (Math.floor(IOVA_SRC / SZ_4K) % 512) * 8;
    expect(rig.soc.physmem.read32(pte) & 3).toBe(3);
    rig.kernel.mem.writeWords(pte, new Uint32Array(2), 2);
    expect(copyOk(rig.copy(IOVA_SRC, IOVA_DST, 64))).toBe(true); // stale
    rig.dom.flushIotlbAll();
    expect(rig.stat('soc.smmu.cmd.invalidate_asid')).toBe(1);
    expect(rig.copy(IOVA_SRC, IOVA_DST, 64).status).toBe(Status.TranslationFault);
    expect(rig.smmu.faults[0].reason).toBe('not_present');
  });

  test('walks and TLB misses follow map / unmap / invalidate', () => {
    const rig = domainRig();
    const walks = () => rig.stat('soc.smmu.walker.walks');
    const l2Misses = () => rig.stat('soc.smmu.l2tlb.misses');
    expect(rig.dom.map(IOVA_SRC, PA_SRC, 2 * SZ_4K, RW)).toBe(0);
    expect(rig.dom.map(IOVA_DST, PA_DST, 2 * SZ_4K, RW)).toBe(0);

    rig.copy(IOVA_SRC, IOVA_DST, 2 * SZ_4K);
    expect(walks()).toBe(4);
    const m1 = l2Misses();
    expect(m1).toBeGreaterThanOrEqual(4);

    rig.copy(IOVA_SRC, IOVA_DST, 2 * SZ_4K); // all hits
    expect(walks()).toBe(4);
    expect(l2Misses()).toBe(m1);

    // Unmap one source page and map it again elsewhere: only that page is walked again.
    expect(rig.dom.unmap(IOVA_SRC, SZ_4K)).toBe(SZ_4K);
    expect(rig.dom.map(IOVA_SRC, PA_SRC + 0x8000, SZ_4K, RW)).toBe(0);
    const data = rig.fill(PA_SRC + 0x8000, SZ_4K, 42);
    rig.copy(IOVA_SRC, IOVA_DST, SZ_4K);
    expect(walks()).toBe(5);
    expect(l2Misses()).toBeGreaterThan(m1);
    expect(rig.read(PA_DST, SZ_4K)).toEqual(data); // the new translation

    // A full flush: every page is walked again; the walk cache (L2 entries) was flushed too.
    const wcMisses = rig.stat('soc.smmu.walker.walk_cache.l2.misses');
    rig.dom.flushIotlbAll();
    rig.copy(IOVA_SRC, IOVA_DST, 2 * SZ_4K);
    expect(walks()).toBe(9);
    expect(rig.stat('soc.smmu.walker.walk_cache.l2.misses')).toBeGreaterThan(wcMisses);
  });

  test('a 2M block is one walk for the whole block; unmapping 4K of it splits it and invalidates the block', () => {
    const rig = domainRig();
    const data = rig.fill(PA_SRC, 0x4000, 5);
    expect(rig.dom.map(0x4000_0000, DATA, SZ_2M, RW)).toBe(0); // PA_SRC == DATA
    expect(rig.dom.map(IOVA_DST, PA_DST, 0x4000, RW)).toBe(0);
    rig.copy(0x4000_0000, IOVA_DST, 0x4000);
    expect(rig.read(PA_DST, 0x4000)).toEqual(data);
    expect(rig.stat('soc.smmu.walker.walks')).toBe(1 + 4); // the block once, four dst pages
    expect(rig.stat('soc.smmu.l2tlb.fills_2MiB')).toBe(1);

    expect(rig.dom.unmap(0x4000_1000, SZ_4K)).toBe(SZ_4K);
    expect(rig.dom.pgtbl.tablePages).toBe(6); // root, L1, two L2s, the dst L3, and the split's new L3
    const r = rig.copy(0x4000_0000, IOVA_DST, 0x4000);
    expect(r.status).toBe(Status.TranslationFault);
    expect(r.faultAddr).toBe(0x4000_1000);
    expect(copyOk(rig.copy(0x4000_2000, IOVA_DST + 0x2000, 0x2000))).toBe(true);
  });

  test('free() detaches with a warning, flushes the ASID and returns every table page', () => {
    const rig = domainRig();
    const free0 = rig.buddy.freePageCount + 1;
    rig.dom.map(IOVA_SRC, PA_SRC, SZ_2M + SZ_4K, RW);
    rig.dom.free();
    expect(rig.kernel.warnings).toBe(1);
    expect(rig.smmu.streamContext(STREAM)).toMatchObject({ mode: 'abort' });
    expect(rig.stat('soc.smmu.cmd.invalidate_asid')).toBe(1);
    expect(rig.buddy.freePageCount).toBe(free0);
    expect(rig.stat('kernel.smmu.pgtable.pages')).toBe(0);
    expect(rig.dom.map(IOVA_SRC, PA_SRC, SZ_4K, RW)).toBe(-Errno.EINVAL);
  });

  test('two domains on one IOMMU share the kernel counters and keep their ASIDs apart', () => {
    const rig = domainRig();
    const other = new IommuDomain(rig.kernel, rig.smmu, rig.pages, 6);
    expect(other.map(IOVA_SRC, PA_DST, SZ_4K, RW)).toBe(0);
    expect(rig.dom.map(IOVA_SRC, PA_SRC, SZ_4K, RW)).toBe(0);
    expect(other.unmap(IOVA_SRC, SZ_4K)).toBe(SZ_4K);
    expect(rig.dom.unmap(IOVA_SRC, SZ_4K)).toBe(SZ_4K);
    expect(rig.stat('kernel.smmu.pgtable.inval_cmds')).toBe(2);
    expect(rig.stat('kernel.smmu.pgtable.pages')).toBe(8);
  });

  test('a block mapped over a table flushes the old table\'s walks: the device sees the block at once', () => {
    const rig = domainRig();
    const oldData = rig.fill(PA_SRC, SZ_4K, 1);
    const newData = rig.fill(DATA + 0x40_0000, SZ_4K, 77);
    expect(rig.dom.map(0x4000_0000, PA_SRC, SZ_4K, RW)).toBe(0);
    expect(rig.dom.map(IOVA_DST, PA_DST, SZ_4K, RW)).toBe(0);
    rig.copy(0x4000_0000, IOVA_DST, SZ_4K);
    expect(rig.read(PA_DST, SZ_4K)).toEqual(oldData);
    // A 2M block over the L3 table (arm_lpae_init_pte unmaps and frees it first).
    expect(rig.dom.map(0x4000_0000, DATA + 0x40_0000, SZ_2M, RW)).toBe(0);
    expect(rig.stat('soc.smmu.cmd.invalidate_range')).toBe(1);
    expect(rig.pages.frees).toHaveLength(1);
    rig.copy(0x4000_0000, IOVA_DST, SZ_4K);
    expect(rig.read(PA_DST, SZ_4K)).toEqual(newData);
  });

  test('map and unmap are traced (trace_map / trace_unmap), with the invalidations they cause', () => {
    const writer = new MemoryTraceWriter();
    const tracer = new Tracer(writer, ['map', 'unmap', 'inval']);
    const ctx = createSimContext(1, tracer);
    const soc = buildSoc(ctx, loadSocConfig(KERNEL_SOC), KERNEL_SOC);
    tracer.start({ configHash: soc.configHash, seed: 1 });
    const kernel = new Kernel(soc);
    const dom = new IommuDomain(kernel, soc.iommu('smmu'), new BuddyAllocator(TABLE_POOL, TABLE_POOL_SIZE), 3);
    expect(dom.map(IOVA_SRC, PA_SRC, 2 * SZ_4K, RW)).toBe(0);
    expect(dom.unmap(IOVA_SRC, 2 * SZ_4K)).toBe(2 * SZ_4K);
    const recs = writer.lines.slice(1).map((l) => JSON.parse(l));
    expect(recs).toEqual([
      { t: 0, cat: 'map', unit: 'soc.smmu', asid: 3, iova: '0x10000000', pa: '0xa0000000', size: 0x2000 },
      { t: 0, cat: 'inval', unit: 'soc.smmu', op: 'invalidate-range', asid: 3, va: '0x10000000', size: 0x2000 },
      { t: 0, cat: 'unmap', unit: 'soc.smmu', asid: 3, iova: '0x10000000', size: 0x2000, unmapped: 0x2000 },
    ]);
  });
});
