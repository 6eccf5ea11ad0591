import { Status } from '../../../sim/bus/transaction';
import type { DmaCopyResult } from '../../../sim/devices/dmaEngine';
import { PS_PER_MS } from '../../../sim/engine/time';
import type { DmaDevice } from '../../../drivers/dma/device';
import { DMA_MAX_SEG_SIZE, dmaInfoToProt, IommuDmaOps } from '../../../drivers/dma/iommuDma';
import { IOVA_FQ_SIZE } from '../../../drivers/dma/flushQueue';
import {
  dmaAllocAttrs,
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaGetRequiredMask,
  dmaMapPageAttrs,
  dmaMappingError,
  dmaMapSg,
  dmaMapSingle,
  dmaMapSingleAttrs,
  dmaSetMask,
  dmaSupported,
  dmaSyncSingleForCpu,
  dmaUnmapSg,
  dmaUnmapSingle,
  dmaUnmapSingleAttrs,
} from '../../../drivers/dma/mapping';
import {
  DMA_ATTR_NON_CONSISTENT,
  DMA_ATTR_PRIVILEGED,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_BIT_MASK,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_NONE,
  DMA_TO_DEVICE,
  sgInitTable,
  sgSetPage,
  type DmaDataDirection,
} from '../../../drivers/dma/types';
import { IOMMU_CACHE, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE } from '../../../drivers/iommu/ioPgtableArm';
import type { IommuDomain } from '../../../drivers/iommu/iommuDomain';
import { DmaRig, pattern } from '../../helpers/dmaRig';

const PAGE = 4096;
const GiB = 2 ** 30;

function opsOf(dev: DmaDevice): IommuDmaOps {
  return dev.ops as IommuDmaOps;
}

function domainOf(rig: DmaRig, device: string): IommuDomain {
  const p = rig.platform.platdata(device);
  if (p.kind !== 'iommu') throw new Error(`${device} is not behind an IOMMU`);
  return p.domain;
}

/** dma_map_single that must succeed (and is checked, as dma-debug wants). */
function mapOk(dev: DmaDevice, va: number, size: number, dir: DmaDataDirection, attrs = 0): number {
  const a = dmaMapSingleAttrs(dev, va, size, dir, attrs);
  expect(dmaMappingError(dev, a)).toBe(0);
  return a;
}

/**
 * A device copy that runs the engine only until the copy completes: rig.copy runs until
 * idle, which would also fire the flush queue's 10 ms timer.
 */
function copyNow(rig: DmaRig, device: string, src: number, dst: number, bytes: number): DmaCopyResult {
  const engine = rig.soc.ctx.engine;
  let result: DmaCopyResult | null = null;
  rig.soc.dma(device).copy(src, dst, bytes, (r) => {
    result = r;
    engine.stop();
  });
  engine.runUntil(engine.now + PS_PER_MS);
  if (!result) throw new Error(`copy on ${device} did not complete within 1 ms`);
  return result;
}

function bytesAt(rig: DmaRig, va: number, n: number): number[] {
  const out = new Uint8Array(n);
  rig.cpu.read(va, out);
  return [...out];
}

describe('iommu-dma: permissions from the DMA direction (dma_info_to_prot)', () => {
  test('prot flags: TO_DEVICE read, FROM_DEVICE write, BIDIRECTIONAL both; PRIV and CACHE added', () => {
    expect(dmaInfoToProt(DMA_TO_DEVICE, false, 0)).toBe(IOMMU_READ);
    expect(dmaInfoToProt(DMA_FROM_DEVICE, false, 0)).toBe(IOMMU_WRITE);
    expect(dmaInfoToProt(DMA_BIDIRECTIONAL, false, 0)).toBe(IOMMU_READ | IOMMU_WRITE);
    expect(dmaInfoToProt(DMA_TO_DEVICE, true, DMA_ATTR_PRIVILEGED)).toBe(IOMMU_READ | IOMMU_CACHE | IOMMU_PRIV);
    expect(dmaInfoToProt(DMA_NONE, false, 0)).toBe(0);
  });

  test('a device write to a TO_DEVICE mapping faults in the SMMU and leaves memory alone; reads succeed', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    const src = rig.kmalloc(PAGE);
    const other = rig.kmalloc(PAGE);
    rig.cpu.write(src, pattern(PAGE, 1));
    rig.cpu.write(other, pattern(PAGE, 2));
    const s = mapOk(dev, src, PAGE, DMA_TO_DEVICE);
    const o = mapOk(dev, other, PAGE, DMA_BIDIRECTIONAL);
    const smmu = rig.soc.iommu('smmu');
    smmu.drainFaults();

    const bad = rig.copy('dma_smmu', o, s, 64); // reads `other`, writes the TO_DEVICE buffer
    expect(bad.status).toBe(Status.TranslationFault);
    expect(bad.faultAddr).toBe(s);
    expect(bad.bytesWritten).toBe(0);
    expect(smmu.faults).toEqual([expect.objectContaining({ device: 'dma_smmu', address: s, access: 'write', reason: 'permission' })]);
    expect([...rig.peek(rig.cpu.virtToPhys(src), 64)]).toEqual([...pattern(PAGE, 1).subarray(0, 64)]);

    const good = rig.copy('dma_smmu', s, o, PAGE); // reads the TO_DEVICE buffer
    expect(good.status).toBe(Status.Ok);
    dmaUnmapSingle(dev, o, PAGE, DMA_BIDIRECTIONAL);
    expect(bytesAt(rig, other, PAGE)).toEqual([...pattern(PAGE, 1)]);
    expect(rig.stat('soc.smmu.dma_smmu.faults')).toBe(1);
  });

  test('FROM_DEVICE is writable (LPAE stage 1 has no write-only pages, so reads work too); PRIVILEGED needs a privileged stream', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    const a = rig.kmalloc(PAGE);
    const b = rig.kmalloc(PAGE);
    const from = mapOk(dev, a, PAGE, DMA_FROM_DEVICE);
    const bidi = mapOk(dev, b, PAGE, DMA_BIDIRECTIONAL);
    expect(rig.copy('dma_smmu', bidi, from, 64).status).toBe(Status.Ok);
    expect(rig.copy('dma_smmu', from, bidi, 64).status).toBe(Status.Ok);
    const priv = mapOk(dev, rig.kmalloc(PAGE), PAGE, DMA_BIDIRECTIONAL, DMA_ATTR_PRIVILEGED);
    const r = rig.copy('dma_smmu', priv, bidi, 64);
    expect(r.status).toBe(Status.TranslationFault);
    expect(rig.soc.iommu('smmu').faults.at(-1)).toMatchObject({ address: priv, access: 'read', reason: 'permission' });
  });
});

describe('iommu-dma: streaming mappings', () => {
  test('data round trip through the IOMMU with a sub-page offset (non-coherent: map cleans, unmap invalidates)', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    const src = rig.kmalloc(2 * PAGE);
    const dst = rig.kmalloc(2 * PAGE);
    const data = pattern(2 * PAGE, 3);
    rig.cpu.write(src, data); // dirty in the CPU cache
    bytesAt(rig, dst, 2 * PAGE); // dst lines cached: stale once the device writes
    const n = 8000;
    const s = mapOk(dev, src + 0x10, n, DMA_TO_DEVICE);
    const d = mapOk(dev, dst + 0x10, n, DMA_FROM_DEVICE);
    expect(s % PAGE).toBe(0x10);
    expect(d % PAGE).toBe(0x10);
    expect(s).toBeLessThan(2 ** 32);
    expect(s - 0x10).not.toBe(rig.cpu.virtToPhys(src)); // an IOVA, not the physical address
    expect(domainOf(rig, 'dma_smmu').iovaToPhys(s)).toBe(rig.cpu.virtToPhys(src) + 0x10);
    expect(rig.copy('dma_smmu', s, d, n).status).toBe(Status.Ok);
    dmaUnmapSingle(dev, d, n, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, s, n, DMA_TO_DEVICE);
    expect(bytesAt(rig, dst + 0x10, n)).toEqual([...data.subarray(0x10, 0x10 + n)]);
    expect(domainOf(rig, 'dma_smmu').iovaToPhys(s)).toBeNull();
    expect(rig.stat('kernel.dma_smmu.iommu_dma.maps')).toBe(2);
    expect(rig.stat('kernel.dma_smmu.iommu_dma.unmaps')).toBe(2);
    expect(opsOf(dev).liveMappings).toBe(0);
  });

  test('sync_single_for_cpu finds the physical pages through the IOMMU: the CPU sees device writes without an unmap', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    const src = rig.kmalloc(PAGE);
    const dst = rig.kmalloc(PAGE);
    rig.cpu.write(src, pattern(PAGE, 4));
    const s = mapOk(dev, src, PAGE, DMA_TO_DEVICE);
    const d = mapOk(dev, dst, PAGE, DMA_FROM_DEVICE);
    const before = bytesAt(rig, dst, 64); // cached: zeros
    expect(rig.copy('dma_smmu', s, d, PAGE).status).toBe(Status.Ok);
    expect(bytesAt(rig, dst, 64)).toEqual(before); // stale: the CPU cache still has the old lines
    dmaSyncSingleForCpu(dev, d, PAGE, DMA_FROM_DEVICE);
    expect(bytesAt(rig, dst, PAGE)).toEqual([...pattern(PAGE, 4)]);
  });

  test('coherent devices and DMA_ATTR_SKIP_CPU_SYNC do no cache maintenance', () => {
    const rig = new DmaRig();
    const coh = rig.dev('dma_smmu_coh');
    const buf = rig.kmalloc(PAGE);
    const maint0 = rig.stat('kernel.cpu.cache_maint_ops');
    dmaUnmapSingle(coh, mapOk(coh, buf, PAGE, DMA_BIDIRECTIONAL), PAGE, DMA_BIDIRECTIONAL);
    const dev = rig.dev('dma_smmu');
    const a = mapOk(dev, buf, PAGE, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
    dmaUnmapSingleAttrs(dev, a, PAGE, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
    expect(rig.stat('kernel.cpu.cache_maint_ops')).toBe(maint0);
    dmaUnmapSingle(dev, mapOk(dev, buf, PAGE, DMA_BIDIRECTIONAL), PAGE, DMA_BIDIRECTIONAL);
    expect(rig.stat('kernel.cpu.cache_maint_ops')).toBe(maint0 + 2); // clean at map, invalidate at unmap
  });

  test('IOVAs are size-aligned, top-down, below 4 GiB first for a 64-bit mask', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    expect(dmaSetMask(dev, DMA_BIT_MASK(64))).toBe(0);
    const a = mapOk(dev, rig.kmalloc(PAGE), PAGE, DMA_BIDIRECTIONAL);
    const b = mapOk(dev, rig.kmalloc(PAGE), PAGE, DMA_BIDIRECTIONAL);
    const c = mapOk(dev, rig.kmalloc(3 * PAGE), 3 * PAGE, DMA_BIDIRECTIONAL); // 3 pages: 4-page (16 KiB) aligned
    const d = mapOk(dev, rig.kmalloc(2 * PAGE) + 0x123, PAGE, DMA_BIDIRECTIONAL); // straddles: 2 pages, 8 KiB aligned
    expect([a, b, c, d]).toEqual([0xffff_f000, 0xffff_e000, 0xffff_8000, 0xffff_6123]);
    expect(rig.stat('soc.smmu.stale_tlb_hits')).toBe(0);
  });

  test('masks: every mask reaching an IOVA page above 0 is supported; the required mask is 32 bits (what the IOVA allocator needs), not the 48-bit aperture', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    expect(dmaSupported(dev, 0xfff)).toBe(0);
    expect(dmaSupported(dev, 0x1fff)).toBe(1);
    expect(dmaSupported(dev, DMA_BIT_MASK(24))).toBe(1);
    expect(dmaGetRequiredMask(dev)).toBe(DMA_BIT_MASK(32));
  });

  test('IOVA exhaustion: DMA_MAPPING_ERROR, counted, nothing taken; freeing makes room again', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    expect(dmaSetMask(dev, 0x3fff)).toBe(0); // IOVA pages 1..3
    const iovad = opsOf(dev).iovad;
    const buf = rig.kmalloc(PAGE);
    const got = [0, 1, 2].map(() => mapOk(dev, buf, PAGE, DMA_TO_DEVICE));
    expect(got).toEqual([0x3000, 0x2000, 0x1000]);
    const pages = iovad.allocatedPages;
    const fail = dmaMapSingle(dev, buf, PAGE, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, fail)).toBe(1);
    expect(fail).toBe(DMA_MAPPING_ERROR);
    expect(rig.stat('kernel.dma_smmu.iommu_dma.iova_allocs_failed')).toBe(1);
    expect(iovad.allocatedPages).toBe(pages);
    expect(opsOf(dev).liveMappings).toBe(3);
    dmaUnmapSingle(dev, got[1], PAGE, DMA_TO_DEVICE);
    expect(mapOk(dev, buf, PAGE, DMA_TO_DEVICE)).toBe(0x2000);
    expect(dmaSetMask(dev, 0xfff)).toBeLessThan(0);
  });

  test('an iommu_map error frees the IOVA at once (and the next mapping reuses it)', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu_coh');
    const buf = rig.kmalloc(PAGE);
    const first = mapOk(dev, buf, PAGE, DMA_BIDIRECTIONAL);
    dmaUnmapSingle(dev, first, PAGE, DMA_BIDIRECTIONAL);
    const iovad = opsOf(dev).iovad;
    const pages = iovad.allocatedPages;
    // A physical address beyond the 48-bit output size: the io-pgtable refuses it (-ERANGE).
    const bad = dmaMapPageAttrs(dev, 2 ** 48, 0, PAGE, DMA_BIDIRECTIONAL, 0);
    expect(dmaMappingError(dev, bad)).toBe(1);
    expect(iovad.allocatedPages).toBe(pages);
    expect(rig.stat('kernel.dma_smmu_coh.iommu_dma.iova_allocs_failed')).toBe(0);
    expect(mapOk(dev, buf, PAGE, DMA_BIDIRECTIONAL)).toBe(first);
  });

  test('unmapping an address that is not mapped, or with the wrong size, warns and frees nothing', () => {
    const rig = new DmaRig({ dmaDebug: false });
    const dev = rig.dev('dma_smmu');
    const buf = rig.kmalloc(2 * PAGE);
    const a = mapOk(dev, buf, 2 * PAGE, DMA_BIDIRECTIONAL);
    const iovad = opsOf(dev).iovad;
    const pages = iovad.allocatedPages;
    const inval = rig.stat('kernel.smmu.pgtable.inval_cmds');
    dmaUnmapSingle(dev, 0x1234_5000, PAGE, DMA_BIDIRECTIONAL);
    dmaUnmapSingle(dev, a, PAGE, DMA_BIDIRECTIONAL); // mapped as 2 pages
    dmaUnmapSingle(dev, a + PAGE, PAGE, DMA_BIDIRECTIONAL); // inside, not the start
    const msgs = rig.kernel.messages('iommu-dma', 'warn');
    expect(msgs).toHaveLength(3);
    expect(msgs[0]).toMatch(/dma_smmu: DMA address 0x1234_?5000 is not mapped/);
    expect(msgs[1]).toMatch(/with size 4096, but 8192 bytes are mapped/);
    expect(iovad.allocatedPages).toBe(pages);
    expect(rig.stat('kernel.smmu.pgtable.inval_cmds')).toBe(inval);
    expect(rig.copy('dma_smmu', a, a + PAGE, 64).status).toBe(Status.Ok); // still mapped
    dmaUnmapSingle(dev, a, 2 * PAGE, DMA_BIDIRECTIONAL);
    dmaUnmapSingle(dev, a, 2 * PAGE, DMA_BIDIRECTIONAL); // double unmap
    expect(rig.kernel.messages('iommu-dma', 'warn')).toHaveLength(4);
    expect(rig.stat('kernel.dma_smmu.iommu_dma.unmaps')).toBe(1);
  });

  test('the reserved VCM window [1 GiB, 2 GiB) is never handed out, even when everything else is used', () => {
    const rig = new DmaRig({ dmaDebug: false });
    const dev = rig.dev('dma_smmu_coh');
    expect(dmaSetMask(dev, DMA_BIT_MASK(32))).toBe(0);
    const chunk = 256 * 2 ** 20;
    const phys = 0x1_0000_0000; // 2 MiB aligned DRAM: mapped with 2 MiB blocks
    const got: number[] = [];
    for (;;) {
      const a = dmaMapPageAttrs(dev, phys, 0, chunk, DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC);
      if (a === DMA_MAPPING_ERROR) break;
      got.push(a);
    }
    // [2 GiB, 4 GiB) top-down, then [256 MiB, 1 GiB); [0, 256 MiB) would start at IOVA 0.
    expect(got).toHaveLength(11);
    expect(got.slice(0, 8)).toEqual([7, 6, 5, 4, 3, 2, 1, 0].map((k) => 2 * GiB + k * chunk));
    expect(got.slice(8)).toEqual([3, 2, 1].map((k) => k * chunk));
    expect(got.every((a) => a + chunk <= 1 * GiB || a >= 2 * GiB)).toBe(true);
    expect(rig.stat('kernel.dma_smmu_coh.iommu_dma.iova_allocs_failed')).toBe(1);
  });
});

describe('iommu-dma: scatterlists in one IOVA range', () => {
  test('physically adjacent pages (and IOVA-contiguous others) merge into one segment; the device copies the list through it', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    const block = rig.platform.pages.allocPages(3)!; // 8 pages
    const data = pattern(8 * PAGE, 6);
    rig.cpu.write(rig.cpu.physToVirt(block), data);
    const order = [0, 1, 2, 3, 6, 5]; // 4 adjacent pages, then two that are not adjacent to anything before them
    const sgl = sgInitTable(order.length);
    order.forEach((p, i) => sgSetPage(sgl[i], block + p * PAGE, PAGE, 0));
    const n = dmaMapSg(dev, sgl, sgl.length, DMA_TO_DEVICE);
    expect(n).toBe(1);
    expect(sgl[0].dmaLength).toBe(6 * PAGE);
    expect(sgl[0].dmaAddress % (8 * PAGE)).toBe(0); // 6 pages rounded to 8: 32 KiB aligned
    expect(sgl.slice(1).every((s) => s.dmaAddress === DMA_MAPPING_ERROR && s.dmaLength === 0)).toBe(true);
    expect(opsOf(dev).liveMappings).toBe(1);

    const dst = rig.kmalloc(8 * PAGE);
    const d = mapOk(dev, dst, 6 * PAGE, DMA_FROM_DEVICE);
    expect(rig.copy('dma_smmu', sgl[0].dmaAddress, d, 6 * PAGE).status).toBe(Status.Ok);
    dmaUnmapSingle(dev, d, 6 * PAGE, DMA_FROM_DEVICE);
    const want = order.flatMap((p) => [...data.subarray(p * PAGE, (p + 1) * PAGE)]);
    expect(bytesAt(rig, dst, 6 * PAGE)).toEqual(want);

    const domain = domainOf(rig, 'dma_smmu');
    const iova = sgl[0].dmaAddress;
    dmaUnmapSg(dev, sgl, sgl.length, DMA_TO_DEVICE);
    for (let p = 0; p < 6; p++) expect(domain.iovaToPhys(iova + p * PAGE)).toBeNull();
    expect(opsOf(dev).liveMappings).toBe(0);
    expect(rig.kernel.messages('iommu-dma')).toEqual([]);
  });

  test('segments end at the 64 KiB max segment size, at entries with an offset and after a partial page', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    const block = rig.platform.pages.allocPages(5)!; // 32 pages
    const sgl = sgInitTable(20);
    sgl.forEach((s, i) => sgSetPage(s, block + i * PAGE, PAGE, 0));
    expect(dmaMapSg(dev, sgl, 20, DMA_BIDIRECTIONAL)).toBe(2);
    expect(sgl[0].dmaLength).toBe(DMA_MAX_SEG_SIZE);
    expect(sgl[1].dmaAddress).toBe(sgl[0].dmaAddress + DMA_MAX_SEG_SIZE);
    expect(sgl[1].dmaLength).toBe(4 * PAGE);
    dmaUnmapSg(dev, sgl, 20, DMA_BIDIRECTIONAL);

    const mixed = sgInitTable(4);
    sgSetPage(mixed[0], block, PAGE, 0);
    sgSetPage(mixed[1], block + PAGE, 0x200, 0x100); // starts inside its page: new segment; ends early: closes it
    sgSetPage(mixed[2], block + 2 * PAGE, PAGE, 0);
    sgSetPage(mixed[3], block + 3 * PAGE, 100, 0); // partial last page
    expect(dmaMapSg(dev, mixed, 4, DMA_BIDIRECTIONAL)).toBe(3);
    const base = mixed[0].dmaAddress;
    expect(mixed.map((s) => [s.dmaAddress - base, s.dmaLength])).toEqual([
      [0, PAGE], [PAGE + 0x100, 0x200], [2 * PAGE, PAGE + 100], [DMA_MAPPING_ERROR - base, 0],
    ]);
    expect(domainOf(rig, 'dma_smmu').iovaToPhys(base + PAGE + 0x100)).toBe(block + PAGE + 0x100);
    dmaUnmapSg(dev, mixed, 4, DMA_BIDIRECTIONAL);
    expect(opsOf(dev).liveMappings).toBe(0);
    expect(rig.kernel.messages('iommu-dma')).toEqual([]);
  });

  test('no IOVA space: 0 segments, every entry invalidated, nothing taken', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    expect(dmaSetMask(dev, 0x3fff)).toBe(0); // 3 IOVA pages
    const block = rig.platform.pages.allocPages(2)!;
    const sgl = sgInitTable(4);
    sgl.forEach((s, i) => sgSetPage(s, block + i * PAGE, PAGE, 0));
    const pages = opsOf(dev).iovad.allocatedPages;
    expect(dmaMapSg(dev, sgl, 4, DMA_TO_DEVICE)).toBe(0);
    expect(sgl.every((s) => s.dmaAddress === DMA_MAPPING_ERROR && s.dmaLength === 0)).toBe(true);
    expect(opsOf(dev).iovad.allocatedPages).toBe(pages);
    expect(rig.stat('kernel.dma_smmu.iommu_dma.iova_allocs_failed')).toBe(1);
  });
});

describe('iommu-dma: coherent allocations', () => {
  test('zeroed pages mapped bidirectionally below the coherent mask; uncached CPU alias for a non-coherent device', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    const domain = domainOf(rig, 'dma_smmu');
    const size = 3 * PAGE;
    const first = dmaAllocCoherent(dev, size)!;
    const pa = domain.iovaToPhys(first.dmaHandle)!;
    rig.cpu.write(first.cpuAddr, new Uint8Array(size).fill(0xee));
    dmaFreeCoherent(dev, size, first.cpuAddr, first.dmaHandle);
    expect(domain.iovaToPhys(first.dmaHandle)).toBeNull();

    const buf = dmaAllocCoherent(dev, size)!;
    expect(domain.iovaToPhys(buf.dmaHandle)).toBe(pa); // the same pages again: the zeroing is what we see
    expect(rig.cpu.isUncached(buf.cpuAddr)).toBe(true);
    expect(rig.cpu.virtToPhys(buf.cpuAddr)).toBe(pa);
    expect(buf.dmaHandle % PAGE).toBe(0);
    expect(buf.dmaHandle + size - 1).toBeLessThanOrEqual(dev.coherentLimit);
    expect(bytesAt(rig, buf.cpuAddr, size).every((b) => b === 0)).toBe(true);
    expect([...rig.peek(pa, size)].every((b) => b === 0)).toBe(true);

    // No syncs: the CPU writes through the uncached alias, the device reads; and back.
    rig.cpu.write(buf.cpuAddr, pattern(size, 7));
    const other = rig.kmalloc(4 * PAGE);
    const o = mapOk(dev, other, size, DMA_BIDIRECTIONAL);
    expect(rig.copy('dma_smmu', buf.dmaHandle, o, size).status).toBe(Status.Ok);
    dmaUnmapSingle(dev, o, size, DMA_BIDIRECTIONAL);
    expect(bytesAt(rig, other, size)).toEqual([...pattern(size, 7)]);
    rig.cpu.write(other, pattern(size, 8));
    const o2 = mapOk(dev, other, size, DMA_TO_DEVICE);
    expect(rig.copy('dma_smmu', o2, buf.dmaHandle, size).status).toBe(Status.Ok);
    expect(bytesAt(rig, buf.cpuAddr, size)).toEqual([...pattern(size, 8)]);
    dmaUnmapSingle(dev, o2, size, DMA_TO_DEVICE);
    dmaFreeCoherent(dev, size, buf.cpuAddr, buf.dmaHandle);
    expect(opsOf(dev).liveMappings).toBe(0);
  });

  test('cached CPU address for an IO-coherent device and with DMA_ATTR_NON_CONSISTENT', () => {
    const rig = new DmaRig();
    const coh = dmaAllocCoherent(rig.dev('dma_smmu_coh'), PAGE)!;
    expect(rig.cpu.isLinear(coh.cpuAddr)).toBe(true);
    const nc = dmaAllocAttrs(rig.dev('dma_smmu'), PAGE, 0, DMA_ATTR_NON_CONSISTENT)!;
    expect(rig.cpu.isLinear(nc.cpuAddr)).toBe(true);
    expect(domainOf(rig, 'dma_smmu').iovaToPhys(nc.dmaHandle)).toBe(rig.cpu.virtToPhys(nc.cpuAddr));
  });

  test('a bad free (unknown handle, wrong size or CPU address) warns and frees nothing', () => {
    const rig = new DmaRig({ dmaDebug: false });
    const dev = rig.dev('dma_smmu');
    const buf = dmaAllocCoherent(dev, 2 * PAGE)!;
    const free0 = rig.platform.pages.freePageCount;
    dmaFreeCoherent(dev, 2 * PAGE, buf.cpuAddr, buf.dmaHandle + 2 * PAGE);
    dmaFreeCoherent(dev, PAGE, buf.cpuAddr, buf.dmaHandle);
    dmaFreeCoherent(dev, 2 * PAGE, buf.cpuAddr + PAGE, buf.dmaHandle);
    expect(rig.kernel.messages('iommu-dma', 'warn')).toHaveLength(3);
    expect(rig.platform.pages.freePageCount).toBe(free0);
    expect(domainOf(rig, 'dma_smmu').iovaToPhys(buf.dmaHandle)).not.toBeNull();
    dmaFreeCoherent(dev, 2 * PAGE, buf.cpuAddr, buf.dmaHandle);
    expect(rig.platform.pages.freePageCount).toBe(free0 + 2);
  });
});

describe('iommu-dma: strict vs lazy (flush queue)', () => {
  /**
   * 1000 rounds of map (TO_DEVICE + FROM_DEVICE) / device copy / unmap of 4 KiB; every
   * 100th round the device (wrongly) reads the source IOVA again after its unmap.
   */
  function workload(strict: boolean) {
    const rig = new DmaRig({ iommuStrict: strict });
    const dev = rig.dev('dma_smmu');
    const a = rig.kmalloc(PAGE);
    const b = rig.kmalloc(PAGE);
    const late = rig.kmalloc(PAGE);
    rig.cpu.write(a, pattern(PAGE, 9));
    const lateDst = mapOk(dev, late, PAGE, DMA_FROM_DEVICE);
    const inval0 = rig.stat('kernel.smmu.pgtable.inval_cmds');
    const sync0 = rig.stat('kernel.smmu.pgtable.sync_cmds');
    let copiesOk = 0;
    let lateOk = 0;
    let lateFaults = 0;
    for (let i = 0; i < 1000; i++) {
      const s = mapOk(dev, a, PAGE, DMA_TO_DEVICE);
      const d = mapOk(dev, b, PAGE, DMA_FROM_DEVICE);
      if (copyNow(rig, 'dma_smmu', s, d, 256).status === Status.Ok) copiesOk++;
      dmaUnmapSingle(dev, s, PAGE, DMA_TO_DEVICE);
      dmaUnmapSingle(dev, d, PAGE, DMA_FROM_DEVICE);
      if (i % 100 === 99) {
        if (copyNow(rig, 'dma_smmu', s, lateDst, 64).status === Status.Ok) lateOk++;
        else lateFaults++;
      }
    }
    return {
      rig, copiesOk, lateOk, lateFaults,
      inval: rig.stat('kernel.smmu.pgtable.inval_cmds') - inval0,
      sync: rig.stat('kernel.smmu.pgtable.sync_cmds') - sync0,
      stale: rig.stat('soc.smmu.stale_tlb_hits'),
      staleDev: rig.stat('soc.smmu.dma_smmu.stale_tlb_hits'),
      late: [...rig.peek(rig.cpu.virtToPhys(late), 64)],
      simTime: rig.soc.ctx.engine.now,
    };
  }

  test('lazy sends one INVALIDATE-ASID per 255 unmaps instead of one range invalidation each; the late access faults in strict and hits the stale IOTLB in lazy', () => {
    const strict = workload(true);
    const lazy = workload(false);
    expect(strict.copiesOk).toBe(1000);
    expect(lazy.copiesOk).toBe(1000);
    expect(lazy.simTime).toBeLessThan(10 * PS_PER_MS); // no timer flush in the run: only full-ring flushes

    expect(strict.inval).toBe(2000);
    expect(strict.sync).toBe(2000);
    expect(strict.stale).toBe(0);
    expect(strict.lateFaults).toBe(10);
    expect(strict.lateOk).toBe(0);
    expect(strict.late).toEqual(new Array(64).fill(0));
    expect(strict.rig.stat('kernel.dma_smmu.iommu_dma.fq_flushes')).toBe(0);

    // 2000 queued: the ring fills at the 256th, 511th, ..., 1786th entry.
    expect(lazy.inval).toBe(7);
    expect(lazy.sync).toBe(7);
    expect(lazy.rig.stat('kernel.dma_smmu.iommu_dma.fq_full_flushes')).toBe(7);
    expect(lazy.rig.stat('kernel.dma_smmu.iommu_dma.fq_flushes')).toBe(7);
    expect(lazy.rig.stat('kernel.dma_smmu.iommu_dma.fq_timer_flushes')).toBe(0);
    expect(lazy.rig.stat('kernel.dma_smmu.iommu_dma.fq_queued')).toBe(2000);
    expect(lazy.rig.stat('soc.smmu.cmd.invalidate_asid')).toBe(7);
    expect(lazy.rig.stat('soc.smmu.cmd.invalidate_range')).toBe(0);
    expect(lazy.lateOk).toBe(10);
    expect(lazy.lateFaults).toBe(0);
    expect(lazy.stale).toBe(10);
    expect(lazy.staleDev).toBe(10);
    // The unmapped buffer's data reached the device: the hazard lazy mode accepts.
    expect(lazy.late).toEqual([...pattern(PAGE, 9).subarray(0, 64)]);
    expect(lazy.rig.soc.iommu('smmu').faults).toHaveLength(0);
  });

  test('lazy: an IOVA is not reused until the 10 ms timer flush; then it is, and the stale entry is gone', () => {
    const rig = new DmaRig({ iommuStrict: false });
    const dev = rig.dev('dma_smmu');
    const buf = rig.kmalloc(PAGE);
    const other = mapOk(dev, rig.kmalloc(PAGE), PAGE, DMA_FROM_DEVICE);
    const first = mapOk(dev, buf, PAGE, DMA_TO_DEVICE);
    expect(copyNow(rig, 'dma_smmu', first, other, 64).status).toBe(Status.Ok);
    dmaUnmapSingle(dev, first, PAGE, DMA_TO_DEVICE);
    const second = mapOk(dev, buf, PAGE, DMA_TO_DEVICE);
    expect(second).not.toBe(first);
    dmaUnmapSingle(dev, second, PAGE, DMA_TO_DEVICE);
    const fq = opsOf(dev).flushQueue!;
    expect(fq.length).toBe(2);
    expect(fq.timerPending).toBe(true);
    expect(rig.stat('kernel.dma_smmu.iommu_dma.fq_timer_flushes')).toBe(0);

    const engine = rig.soc.ctx.engine;
    engine.runUntil(engine.now + 10 * PS_PER_MS);
    expect(rig.stat('kernel.dma_smmu.iommu_dma.fq_timer_flushes')).toBe(1);
    expect(rig.stat('soc.smmu.cmd.invalidate_asid')).toBe(1);
    expect(fq.length).toBe(0);
    const third = mapOk(dev, buf, PAGE, DMA_TO_DEVICE);
    expect(third).toBe(second); // last freed, first reused
    dmaUnmapSingle(dev, third, PAGE, DMA_TO_DEVICE);
    // After the flush a late access to `first` walks the tables and faults: no stale hit.
    expect(copyNow(rig, 'dma_smmu', first, other, 64).status).toBe(Status.TranslationFault);
    expect(rig.stat('soc.smmu.stale_tlb_hits')).toBe(0);
  });

  test('strict: the IOVA is reused at once', () => {
    const rig = new DmaRig();
    const dev = rig.dev('dma_smmu');
    const buf = rig.kmalloc(PAGE);
    const a = mapOk(dev, buf, PAGE, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, PAGE, DMA_TO_DEVICE);
    expect(mapOk(dev, buf, PAGE, DMA_TO_DEVICE)).toBe(a);
    expect(opsOf(dev).flushQueue).toBeNull();
  });

  test('lazy: 255 unmaps wait in the ring; the 256th forces a flush', () => {
    const rig = new DmaRig({ iommuStrict: false, dmaDebug: false });
    const dev = rig.dev('dma_smmu');
    const buf = rig.kmalloc(PAGE);
    const seen = new Set<number>();
    for (let i = 0; i < IOVA_FQ_SIZE - 1; i++) {
      const a = mapOk(dev, buf, PAGE, DMA_BIDIRECTIONAL);
      seen.add(a);
      dmaUnmapSingle(dev, a, PAGE, DMA_BIDIRECTIONAL);
    }
    expect(seen.size).toBe(255);
    expect(rig.stat('kernel.smmu.pgtable.inval_cmds')).toBe(0);
    expect(opsOf(dev).flushQueue!.length).toBe(255);
    const a = mapOk(dev, buf, PAGE, DMA_BIDIRECTIONAL);
    dmaUnmapSingle(dev, a, PAGE, DMA_BIDIRECTIONAL);
    expect(rig.stat('kernel.smmu.pgtable.inval_cmds')).toBe(1);
    expect(rig.stat('kernel.dma_smmu.iommu_dma.fq_full_flushes')).toBe(1);
    expect(opsOf(dev).flushQueue!.length).toBe(1);
    expect(seen.has(mapOk(dev, buf, PAGE, DMA_BIDIRECTIONAL))).toBe(true); // flushed IOVAs reusable
  });

  test('traces: lazy unmap records the unmap and no invalidation until the flush (one invalidate-asid)', () => {
    const rig = new DmaRig({ iommuStrict: false, trace: ['map', 'unmap', 'inval'] });
    const dev = rig.dev('dma_smmu');
    const a = mapOk(dev, rig.kmalloc(PAGE), PAGE, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, PAGE, DMA_TO_DEVICE);
    const records = () => rig.trace!.lines.slice(1).map((l) => JSON.parse(l)).filter((r) => r.unit === 'soc.smmu');
    expect(records().map((r) => r.cat)).toEqual(['map', 'unmap']);
    expect(records()[1]).toMatchObject({ iova: '0xfffff000', size: PAGE, unmapped: PAGE });
    opsOf(dev).flushQueue!.drain();
    expect(records().map((r) => [r.cat, r.op ?? null])).toEqual([['map', null], ['unmap', null], ['inval', 'invalidate-asid']]);
  });

  test('lazy coherent free goes through the flush queue too; drain returns everything', () => {
    const rig = new DmaRig({ iommuStrict: false });
    const dev = rig.dev('dma_smmu');
    const buf = dmaAllocCoherent(dev, PAGE)!;
    dmaFreeCoherent(dev, PAGE, buf.cpuAddr, buf.dmaHandle);
    const ops = opsOf(dev);
    expect(ops.flushQueue!.length).toBe(1);
    const pages = ops.iovad.allocatedPages;
    expect(ops.iovad.cachedCount).toBe(0);
    ops.flushQueue!.drain();
    expect(ops.flushQueue!.length).toBe(0);
    expect(ops.iovad.cachedCount).toBe(1);
    expect(ops.iovad.allocatedPages).toBe(pages); // cached ranges stay in the tree
    expect(rig.stat('kernel.dma_smmu.iommu_dma.fq_flushes')).toBe(1);
  });
});
