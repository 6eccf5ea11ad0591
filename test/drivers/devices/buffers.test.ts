import { Status } from '../../../sim/bus/transaction';
import { obtainBuffer, type BufferDirection, type BufferSpec, type DeviceBuffer } from '../../../drivers/devices/buffers';
import { KernelError } from '../../../drivers/errno';
import { PAGE_OFFSET } from '../../../drivers/kernelCpu';
import { nvkmVmmNodeSearch } from '../../../drivers/iommu/nvkm';
import { DevicesRig, PAGE, allOk, pattern, type KernelAccounts } from '../../helpers/devicesRig';

const KiB = 1024;
const MiB = 1024 * KiB;
const FOUR_GIB = 2 ** 32;

function spec(device: string, via: BufferSpec['via'], size: number, extra: Partial<BufferSpec> = {}): BufferSpec {
  return { name: `${device}_${via}`, device, size, via, ...extra };
}

/** The IOMMU domain behind an LPAE-translated device. */
function domainOf(r: DevicesRig, device: string) {
  const pd = r.platform.platdata(device);
  if (pd.kind !== 'iommu') throw new Error(`${device} is not behind an LPAE IOMMU`);
  return pd.domain;
}

/** Every page of the buffer's device range translates to the backing page at the same offset. */
function expectIovasReachBacking(r: DevicesRig, device: string, buf: DeviceBuffer): void {
  const d = domainOf(r, device);
  for (let off = 0; off < buf.size; off += PAGE) {
    expect(d.iovaToPhys(buf.deviceAddr + off)).toBe(r.backingPa(buf, off));
  }
}

/** After release: no page of the range translates any more, in the tables and through the TLBs. */
function expectIovasGone(r: DevicesRig, device: string, buf: DeviceBuffer): void {
  const d = domainOf(r, device);
  for (let off = 0; off < buf.size; off += PAGE) expect(d.iovaToPhys(buf.deviceAddr + off)).toBeNull();
  const m = r.master(device);
  expect(m.functionalRead(buf.deviceAddr, 64).statuses).toEqual([Status.TranslationFault]);
  // The timing path's TLBs were filled by the reads before: strict mode invalidated them.
  expect(m.read(buf.deviceAddr, 64).statuses).toEqual([Status.TranslationFault]);
}

/** The kernel holds what it held before (pages, tables, CMA, swiotlb slots, mappings, dma-debug entries). */
function expectReturned(r: DevicesRig, before: KernelAccounts): void {
  expect(r.accounts()).toEqual(before);
  expect(r.debug.errorCount).toBe(0);
}

/** A DMA engine reads the buffer: it copies it to a scratch block (physical) and the copy is compared. */
function dmaEngineReads(r: DevicesRig, device: string, buf: DeviceBuffer, expected: Uint8Array): void {
  const order = Math.ceil(Math.log2(Math.ceil(buf.size / PAGE)));
  const dst = r.platform.pages.allocPages(order)!;
  expect(r.dmaCopy(device, buf.deviceAddr, dst, buf.size).status).toBe(Status.Ok);
  const got = new Uint8Array(buf.size);
  r.soc.physmem.read(dst, got);
  expect(Buffer.compare(got, expected)).toBe(0);
  r.platform.pages.freePages(dst, order);
}

/** A DMA engine writes `data` into the buffer (from a physical scratch block). */
function dmaEngineWrites(r: DevicesRig, device: string, buf: DeviceBuffer, data: Uint8Array): void {
  const order = Math.ceil(Math.log2(Math.ceil(data.length / PAGE)));
  const src = r.platform.pages.allocPages(order)!;
  r.soc.physmem.write(src, data);
  expect(r.dmaCopy(device, src, buf.deviceAddr, data.length).status).toBe(Status.Ok);
  r.platform.pages.freePages(src, order);
}

describe('dma-alloc-coherent', () => {
  test('behind the SMMU (mobile codec): an IOVA onto the backing; the device reads the fill and CPU stores; release unmaps and frees', () => {
    const r = new DevicesRig('mobile');
    const m = r.master('codec');
    const before = r.accounts();
    const buf = obtainBuffer(r.contexts, spec('codec', 'dma-alloc-coherent', 24 * KiB));
    expect(buf.backing).toHaveLength(1);
    expect(buf.cpuAddr).not.toBeNull();
    expect(r.platform.kcpu.virtToPhys(buf.cpuAddr!)).toBe(buf.backing[0][0]);
    expect(buf.deviceAddr).not.toBe(buf.backing[0][0]); // an IOVA, not the physical address
    expectIovasReachBacking(r, 'codec', buf);
    expect(r.debug.activeEntries(r.platform.dmaDevice('codec'))).toMatchObject([{ type: 'coherent', size: 24 * KiB, devAddr: buf.deviceAddr }]);

    const fill = r.fillBacking(buf, 1);
    const rd = m.read(buf.deviceAddr, buf.size);
    expect(allOk(rd.statuses)).toBe(true);
    expect(Buffer.compare(rd.data, fill)).toBe(0);
    // Coherent memory: a CPU store through cpuAddr is what the (non-coherent) device reads, without a sync.
    const cpuBytes = pattern(256, 9);
    r.platform.kcpu.write(buf.cpuAddr! + 4096, cpuBytes);
    expect(Buffer.compare(m.read(buf.deviceAddr + 4096, 256).data, cpuBytes)).toBe(0);

    buf.release();
    expectIovasGone(r, 'codec', buf);
    expectReturned(r, before);
  });

  test('direct (mobile dma0): the handle is the physical address; the DMA engine copies the fill out; release frees it', () => {
    const r = new DevicesRig('mobile');
    const before = r.accounts();
    const buf = obtainBuffer(r.contexts, spec('dma0', 'dma-alloc-coherent', 16 * KiB));
    expect(buf.deviceAddr).toBe(buf.backing[0][0]);
    expect(r.platform.kcpu.virtToPhys(buf.cpuAddr!)).toBe(buf.deviceAddr);
    dmaEngineReads(r, 'dma0', buf, r.fillBacking(buf, 2));
    expect(r.accounts().debugEntries).toBe(1);
    buf.release();
    expectReturned(r, before);
  });

  test('direct with a 32-bit mask (mobile display): below 4 GiB and readable by the device', () => {
    const r = new DevicesRig('mobile');
    const before = r.accounts();
    const buf = obtainBuffer(r.contexts, spec('display', 'dma-alloc-coherent', 64 * KiB));
    expect(buf.deviceAddr + buf.size).toBeLessThanOrEqual(FOUR_GIB);
    const fill = r.fillBacking(buf, 3);
    const rd = r.master('display').read(buf.deviceAddr, buf.size);
    expect(allOk(rd.statuses)).toBe(true);
    expect(Buffer.compare(rd.data, fill)).toBe(0);
    buf.release();
    expectReturned(r, before);
  });
});

describe('dma-map-single', () => {
  const DIRS: BufferDirection[] = ['to-device', 'from-device', 'bidirectional'];

  test.each(DIRS)('behind the SMMU (mobile codec), %s: the IOVA reaches the kernel buffer with the direction\'s permissions', (direction) => {
    const r = new DevicesRig('mobile');
    const m = r.master('codec');
    const before = r.accounts();
    const buf = obtainBuffer(r.contexts, spec('codec', 'dma-map-single', 12 * KiB, { direction }));
    expect(buf.cpuAddr).toBe(PAGE_OFFSET + buf.backing[0][0]);
    expectIovasReachBacking(r, 'codec', buf);
    expect(r.stat('kernel.codec.iommu_dma.maps')).toBe(1);

    const fill = r.fillBacking(buf, 4);
    const rd = m.read(buf.deviceAddr, buf.size);
    // LPAE has no write-only pages: a FROM_DEVICE mapping is readable too (as on arm64).
    expect(allOk(rd.statuses)).toBe(true);
    expect(Buffer.compare(rd.data, fill)).toBe(0);

    const dev = pattern(buf.size, 5);
    const wr = m.write(buf.deviceAddr, dev);
    if (direction === 'to-device') {
      // DMA_TO_DEVICE maps read-only: the device's writes fault and the buffer keeps its bytes.
      expect(wr.every((s) => s === Status.TranslationFault)).toBe(true);
      expect(Buffer.compare(r.readBacking(buf), fill)).toBe(0);
    } else {
      expect(allOk(wr)).toBe(true);
      expect(Buffer.compare(r.readBacking(buf), dev)).toBe(0);
    }

    buf.release();
    expect(r.stat('kernel.codec.iommu_dma.unmaps')).toBe(1);
    expectIovasGone(r, 'codec', buf);
    expectReturned(r, before);
  });

  test.each(DIRS)('direct (mobile dma0), %s: the DMA address is the buffer, the engine reads and writes it', (direction) => {
    const r = new DevicesRig('mobile');
    const before = r.accounts();
    const buf = obtainBuffer(r.contexts, spec('dma0', 'dma-map-single', 8 * KiB, { direction }));
    expect(buf.deviceAddr).toBe(buf.backing[0][0]); // below 4 GiB: no bounce
    expect(r.accounts().swiotlbUsedSlots).toBe(0);
    if (direction !== 'from-device') dmaEngineReads(r, 'dma0', buf, r.fillBacking(buf, 6));
    if (direction !== 'to-device') {
      const data = pattern(buf.size, 7);
      dmaEngineWrites(r, 'dma0', buf, data);
      expect(Buffer.compare(r.readBacking(buf), data)).toBe(0);
    }
    buf.release();
    expectReturned(r, before);
  });

  test('more than 4 MiB comes from CMA, and goes back to it', () => {
    const r = new DevicesRig('mobile');
    const before = r.accounts();
    const buf = obtainBuffer(r.contexts, spec('codec', 'dma-map-single', 6 * MiB, { direction: 'to-device' }));
    expect(r.accounts().cmaUsedBytes).toBe(6 * MiB);
    expect(r.platform.cma.contains(buf.backing[0][0], 6 * MiB)).toBe(true);
    const fill = r.fillBacking(buf, 8);
    const m = r.master('codec');
    for (const off of [0, 3 * MiB + 4096, 6 * MiB - 64]) {
      expect(Buffer.compare(m.read(buf.deviceAddr + off, 64).data, fill.subarray(off, off + 64))).toBe(0);
    }
    buf.release();
    expectReturned(r, before);
  });

  // Was a bug: a bounced mapping's device address is the swiotlb slot, `backing` names the
  // original pages, and a fill of `backing` after obtainBuffer never reached the slot.
  // syncForDevice (dma_sync_single_for_device) now copies it there; cli/run.ts calls it
  // after a fill. (dma0's mask is 32 bits here: no driver probe widened it.)
  test('a bounced mapping (dma0, buffer above 4 GiB): after syncForDevice the device reads what was written to `backing`', () => {
    const r = new DevicesRig('mobile');
    const giveBack = r.exhaustBelow(FOUR_GIB);
    const buf = obtainBuffer(r.contexts, spec('dma0', 'dma-map-single', 8 * KiB, { direction: 'to-device' }));
    expect(buf.backing[0][0]).toBeGreaterThanOrEqual(FOUR_GIB);
    expect(r.accounts().swiotlbUsedSlots).toBeGreaterThan(0); // it did bounce
    const fill = r.fillBacking(buf, 10);
    buf.syncForDevice();
    dmaEngineReads(r, 'dma0', buf, fill);
    buf.release();
    giveBack();
  });
});

describe('dma-map-sg', () => {
  /** Allocates 2n pages and frees every other one, so the next n order-0 allocations are not adjacent. Returns the pages kept. */
  function scatter(r: DevicesRig, n: number): number[] {
    const all = Array.from({ length: 2 * n }, () => r.platform.pages.allocPages(0)!);
    const kept: number[] = [];
    all.forEach((pa, i) => (i % 2 === 0 ? r.platform.pages.freePages(pa, 0) : kept.push(pa)));
    return kept;
  }

  test('behind the SMMU (mobile codec): scattered pages become one IOVA range (one merged segment)', () => {
    const r = new DevicesRig('mobile');
    const m = r.master('codec');
    const before = r.accounts();
    const kept = scatter(r, 5);
    const buf = obtainBuffer(r.contexts, spec('codec', 'dma-map-sg', 5 * PAGE, { direction: 'to-device' }));
    expect(buf.backing).toHaveLength(5);
    for (let i = 1; i < 5; i++) expect(buf.backing[i][0]).not.toBe(buf.backing[i - 1][0] + PAGE); // really scattered
    const dev = r.platform.dmaDevice('codec');
    expect(r.debug.activeEntries(dev)).toMatchObject([{ type: 'sg', sgCallEnts: 5, sgMappedEnts: 1, devAddr: buf.deviceAddr, size: 5 * PAGE }]);
    expectIovasReachBacking(r, 'codec', buf);
    const fill = r.fillBacking(buf, 11);
    const rd = m.read(buf.deviceAddr, buf.size);
    expect(allOk(rd.statuses)).toBe(true);
    expect(Buffer.compare(rd.data, fill)).toBe(0);
    buf.release();
    expectIovasGone(r, 'codec', buf);
    kept.forEach((pa) => r.platform.pages.freePages(pa, 0));
    expectReturned(r, before);
  });

  test('direct (mobile dma0), adjacent pages: one range at the first page; the engine reads it', () => {
    const r = new DevicesRig('mobile');
    const before = r.accounts();
    const buf = obtainBuffer(r.contexts, spec('dma0', 'dma-map-sg', 3 * PAGE));
    expect(buf.backing.map(([pa]) => pa - buf.deviceAddr)).toEqual([0, PAGE, 2 * PAGE]);
    expect(r.debug.activeEntries(r.platform.dmaDevice('dma0'))).toHaveLength(3); // dma-direct does not merge
    dmaEngineReads(r, 'dma0', buf, r.fillBacking(buf, 12));
    buf.release();
    expectReturned(r, before);
  });

  test('direct (mobile dma0), scattered pages: KernelError about non-contiguous segments, and nothing is left behind', () => {
    const r = new DevicesRig('mobile');
    const kept = scatter(r, 4);
    const before = r.accounts();
    let err: unknown = null;
    try {
      obtainBuffer(r.contexts, spec('dma0', 'dma-map-sg', 4 * PAGE));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    const ke = err as KernelError;
    expect(ke.call).toBe('dma_map_sg');
    expect(ke.errnoName).toBe('EINVAL');
    expect(ke.message).toMatch(/dma0_dma-map-sg: 4 segments are not contiguous in dma0's address space \(segment 1 at 0x/);
    expectReturned(r, before);
    kept.forEach((pa) => r.platform.pages.freePages(pa, 0));
  });
});

describe('vcm', () => {
  test('IOMMU context (mobile codec): a reservation in the VCM window mapped onto the binding\'s memory', () => {
    const r = new DevicesRig('mobile');
    const m = r.master('codec');
    const before = r.accounts();
    const buf = obtainBuffer(r.contexts, spec('codec', 'vcm', 40 * KiB));
    expect(r.platform.deviceVcm('codec').activations).toBe(1);
    // The platform's VCM window: [1 GiB, 2 GiB) by default.
    expect(buf.deviceAddr).toBeGreaterThanOrEqual(2 ** 30);
    expect(buf.deviceAddr + buf.size).toBeLessThanOrEqual(2 ** 31);
    expect(buf.backing.reduce((a, [, n]) => a + n, 0)).toBe(40 * KiB);
    expectIovasReachBacking(r, 'codec', buf);
    const fill = r.fillBacking(buf, 13);
    const rd = m.read(buf.deviceAddr, buf.size);
    expect(allOk(rd.statuses)).toBe(true);
    expect(Buffer.compare(rd.data, fill)).toBe(0);
    buf.release();
    expectIovasGone(r, 'codec', buf);
    expectReturned(r, before);
  });

  test('one-to-one context (mobile display): the device address is the CMA block itself', () => {
    const r = new DevicesRig('mobile');
    const before = r.accounts();
    const buf = obtainBuffer(r.contexts, spec('display', 'vcm', 20 * KiB));
    expect(buf.backing).toEqual([[buf.deviceAddr, 20 * KiB]]);
    expect(r.platform.cma.contains(buf.deviceAddr, 20 * KiB)).toBe(true);
    expect(r.accounts().cmaUsedBytes).toBe(20 * KiB);
    const fill = r.fillBacking(buf, 14);
    const rd = r.master('display').read(buf.deviceAddr, buf.size);
    expect(allOk(rd.statuses)).toBe(true);
    expect(Buffer.compare(rd.data, fill)).toBe(0);
    buf.release();
    expectReturned(r, before);
  });
});

describe('nvkm', () => {
  const SIZES: Array<[string, number, string]> = [
    ['4 KiB', 4 * KiB, '4KiB'],
    ['64 KiB', 64 * KiB, '64KiB'],
    ['2 MiB', 2 * MiB, '2MiB'],
  ];

  test.each(SIZES)('mobile gpu, %s pages: the GPU VA reaches the memory through pages of that size; release unmaps and frees', (_name, pageSize, sizeName) => {
    const r = new DevicesRig('mobile');
    const vmm = r.gpuVmm('gpu');
    const m = r.master('gpu');
    const before = r.accounts();
    const size = 2 * MiB;
    const buf = obtainBuffer(r.contexts, spec('gpu', 'nvkm', size, { pageSize }));
    expect(buf.deviceAddr % pageSize).toBe(0);
    expect(buf.deviceAddr).toBeGreaterThanOrEqual(FOUR_GIB); // the VMM's window starts at 4 GiB
    if (pageSize === 4 * KiB) {
      expect(buf.backing).toHaveLength(size / PAGE);
      expect(r.accounts().cmaUsedBytes).toBe(0);
    } else {
      expect(buf.backing).toHaveLength(1);
      expect(buf.backing[0][0] % pageSize).toBe(0);
      expect(r.accounts().cmaUsedBytes).toBe(size);
    }
    const fill = r.fillBacking(buf, 15);
    const walks0 = r.stat('soc.gpu_mmu.walker.walks');
    // 64 bytes at the start and the end of every 4 KiB page.
    for (let off = 0; off < size; off += PAGE) {
      for (const at of [off, off + PAGE - 64]) {
        const rd = m.read(buf.deviceAddr + at, 64);
        expect(rd.statuses).toEqual([Status.Ok]);
        if (Buffer.compare(rd.data, fill.subarray(at, at + 64)) !== 0) throw new Error(`GPU read at +${at} differs from the fill`);
      }
    }
    // One walk per GPU page, and the TLB holds entries of the chosen size.
    expect(r.stat('soc.gpu_mmu.walker.walks') - walks0).toBe(size / pageSize);
    expect(r.stat(`soc.gpu_mmu.l2tlb.fills_${sizeName}`)).toBe(size / pageSize);

    buf.release();
    expect(nvkmVmmNodeSearch(vmm, buf.deviceAddr)).toBeNull();
    expect(m.functionalRead(buf.deviceAddr, 64).statuses).toEqual([Status.TranslationFault]);
    expect(m.functionalRead(buf.deviceAddr + size - 64, 64).statuses).toEqual([Status.TranslationFault]);
    // nvkm flushed the GPU TLB on unmap: the timing path faults too.
    expect(m.read(buf.deviceAddr, 64).statuses).toEqual([Status.TranslationFault]);
    expect(r.accounts()).toEqual(before);
  });

  test('a page size the GPU MMU lacks: KernelError EINVAL from nvkm_vmm_get, nothing allocated', () => {
    const r = new DevicesRig('mobile');
    r.gpuVmm('gpu');
    const before = r.accounts();
    expect(() => obtainBuffer(r.contexts, spec('gpu', 'nvkm', 1 * MiB, { pageSize: 128 * KiB }))).toThrow(
      /^nvkm_vmm_get: EINVAL \(gpu_nvkm: nv-gp100 has no 131072-byte pages \(it has [0-9, ]+\)\)$/,
    );
    expect(r.accounts()).toEqual(before);
  });

  // BUG (drivers/devices/buffers.ts, nvkmBuffer, the page-size check): `vmm.page` also
  // lists gp100's sparse-only levels (2^47, 2^38, 2^29: NVKM_VMM_PAGE_Sxxx, no VRAM/HOST
  // flag), so the message offers sizes no memory can be mapped with.
  test('the error names only the page sizes memory can be mapped with (4 KiB, 64 KiB, 2 MiB)', () => {
    const r = new DevicesRig('mobile');
    expect(() => obtainBuffer(r.contexts, spec('gpu', 'nvkm', 1 * MiB, { pageSize: 128 * KiB }))).toThrow(
      new KernelError('EINVAL', 'nvkm_vmm_get', 'gpu_nvkm: nv-gp100 has no 131072-byte pages (it has 4096, 65536, 2097152)'),
    );
  });

  // BUG (same check, and nvkmBuffer's error paths): a sparse-only size (512 MiB on gp100)
  // passes the check; nvkm_vmm_map then fails with -EINVAL, and the KernelError is thrown
  // with the CMA block and the VMA still held (the same for a failed nvkm_vmm_get).
  test('a sparse-only page size (512 MiB) is refused by the check, with nothing held', () => {
    const r = new DevicesRig('mobile', { cmaSize: 1536 * MiB });
    const vmm = r.gpuVmm('gpu');
    const before = r.accounts();
    let err: unknown = null;
    try {
      obtainBuffer(r.contexts, spec('gpu', 'nvkm', 512 * MiB, { pageSize: 512 * MiB }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect(r.accounts()).toEqual(before); // today: 512 MiB of CMA stays allocated
    expect(vmm.vmas.list().filter((v) => v.used)).toHaveLength(0);
    expect((err as KernelError).call).toBe('nvkm_vmm_get');
  });

  // The kernel's errno survives: nvkm_vmm_new failing for want of a page for the root
  // table is ENOMEM (it used to be rethrown as EINVAL), with no VMM left behind.
  test('no page for the GPU VMM root table: ENOMEM from nvkm_vmm_new, not EINVAL', () => {
    const r = new DevicesRig('mobile');
    const giveBack = r.exhaustBelow(Number.MAX_SAFE_INTEGER);
    let err: unknown = null;
    try {
      obtainBuffer(r.contexts, spec('gpu', 'nvkm', 64 * KiB, { pageSize: 64 * KiB }));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).call).toBe('nvkm_vmm_new');
    expect((err as KernelError).errnoName).toBe('ENOMEM');
    expect((err as KernelError).errno).toBe(-12);
    giveBack();
    // With memory back, the same request succeeds.
    expect(obtainBuffer(r.contexts, spec('gpu', 'nvkm', 64 * KiB, { pageSize: 64 * KiB })).size).toBe(64 * KiB);
  });

  test('a device not behind a GPU MMU: ENODEV from nvkm_vmm_new', () => {
    const r = new DevicesRig('mobile');
    expect(() => obtainBuffer(r.contexts, spec('display', 'nvkm', 64 * KiB))).toThrow(/nvkm_vmm_new: ENODEV \(display is not behind a GPU MMU\)/);
  });

  // BUG (drivers/devices/buffers.ts, nvkmBuffer, the 4 KiB branch): when alloc_page fails
  // part way, the KernelError is thrown without running `frees`, so every page taken so
  // far stays allocated (mapSgBuffer frees them on the same failure).
  test('4 KiB pages: running out of pages part way gives every page taken back', () => {
    const r = new DevicesRig('mobile');
    r.gpuVmm('gpu');
    // Leave exactly 3 free pages: a 4-page buffer fails on its fourth page.
    const spare = [0, 1, 2].map(() => r.platform.pages.allocPages(0)!);
    const giveBack = r.exhaustBelow(Number.MAX_SAFE_INTEGER);
    expect(r.platform.pages.freePageCount).toBe(0);
    spare.forEach((pa) => r.platform.pages.freePages(pa, 0));
    const before = r.accounts();
    expect(r.platform.pages.freePageCount).toBe(3);
    expect(() => obtainBuffer(r.contexts, spec('gpu', 'nvkm', 4 * PAGE, { pageSize: 4 * KiB }))).toThrow(/alloc_page: ENOMEM/);
    expect(r.accounts()).toEqual(before);
    giveBack();
  });
});

describe('physical', () => {
  test('direct (mobile dma0): the physical block as is; the engine reads it; release frees it', () => {
    const r = new DevicesRig('mobile');
    const before = r.accounts();
    const free0 = r.platform.pages.freePageCount;
    const buf = obtainBuffer(r.contexts, spec('dma0', 'physical', 20 * KiB));
    expect(buf.backing).toEqual([[buf.deviceAddr, 20 * KiB]]);
    expect(buf.cpuAddr).toBe(PAGE_OFFSET + buf.deviceAddr);
    // 20 KiB takes an order-3 block (8 pages).
    expect(r.platform.pages.freePageCount).toBe(free0 - 8);
    expect(r.platform.pages.isAllocated(buf.deviceAddr)).toBe(true);
    dmaEngineReads(r, 'dma0', buf, r.fillBacking(buf, 16));
    expect(r.accounts().debugEntries).toBe(0); // no DMA API call involved
    buf.release();
    expect(r.platform.pages.isAllocated(buf.deviceAddr)).toBe(false);
    expect(r.platform.pages.freePageCount).toBe(free0);
    expectReturned(r, before);
  });

  test('more than 4 MiB comes from CMA (mobile display, 32-bit): below its mask and readable', () => {
    const r = new DevicesRig('mobile');
    const before = r.accounts();
    const buf = obtainBuffer(r.contexts, spec('display', 'physical', 8 * MiB));
    expect(r.accounts().cmaUsedBytes).toBe(8 * MiB);
    expect(buf.deviceAddr + buf.size).toBeLessThanOrEqual(FOUR_GIB);
    const fill = r.fillBacking(buf, 17);
    const m = r.master('display');
    for (const off of [0, 4 * MiB, 8 * MiB - 64]) {
      const rd = m.read(buf.deviceAddr + off, 64);
      expect(rd.statuses).toEqual([Status.Ok]);
      expect(Buffer.compare(rd.data, fill.subarray(off, off + 64))).toBe(0);
    }
    buf.release();
    expectReturned(r, before);
  });
});
