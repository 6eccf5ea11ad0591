/**
 * dma-debug (lib/dma-debug.c): each check fires with Linux's message and counts, a
 * correct driver produces nothing, and the table of live mappings stays consistent.
 * Everything goes through the public DMA API (mapping.ts) on the DMA test SoC: `dma64`
 * (dma-direct) and `dma_smmu` (iommu-dma).
 */
import { DmaDebug, MAP_ERR_CHECKED, MAP_ERR_CHECK_NOT_APPLICABLE, MAP_ERR_NOT_CHECKED } from '../../../drivers/dma/debug';
import type { DmaDevice } from '../../../drivers/dma/device';
import {
  dmaAllocCoherent,
  dmaFreeCoherent,
  dmaMapPage,
  dmaMapSg,
  dmaMapSingle,
  dmaMapSingleAttrs,
  dmaMappingError,
  dmaSetMaskAndCoherent,
  dmaSyncSgForCpu,
  dmaSyncSgForDevice,
  dmaSyncSingleForCpu,
  dmaSyncSingleForDevice,
  dmaSyncSingleRangeForCpu,
  dmaUnmapPage,
  dmaUnmapSg,
  dmaUnmapSingle,
  dmaUnmapSingleAttrs,
} from '../../../drivers/dma/mapping';
import {
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_BIT_MASK,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  sgInitTable,
  sgSetPage,
  type DmaDataDirection,
  type ScatterlistEntry,
} from '../../../drivers/dma/types';
import { Status } from '../../../sim/bus/transaction';
import { DmaRig, pattern } from '../../helpers/dmaRig';

const DRIVER = 'dbgtest';

function setup(device = 'dma64', opts: ConstructorParameters<typeof DmaRig>[0] = {}) {
  const rig = new DmaRig(opts);
  const dev = rig.dev(device);
  dev.bindDriver(DRIVER);
  expect(dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(64))).toBe(0);
  const debug = rig.platform.dma.debug as DmaDebug;
  const prefix = `DMA-API: ${DRIVER} ${device}: `;
  const msgs = () => rig.kernel.messages('dma-debug');
  const stat = (check: string) => rig.stat(`kernel.dma_debug.${check}`);
  return { rig, dev, debug, prefix, msgs, stat };
}

/**
 * The live entries with the device replaced by its name: a DmaDevice reaches the whole
 * SoC, far too much for jest to print when an expectation fails.
 */
function live(debug: DmaDebug, dev?: DmaDevice) {
  return debug.activeEntries(dev).map(({ dev: d, ...rest }) => ({ dev: d.name, ...rest }));
}

/** 0x%016llx, written out independently of the implementation. */
function hex16(n: number): string {
  return '0x' + n.toString(16).padStart(16, '0');
}

/** A mapped-and-checked single mapping of a fresh kmalloc buffer. */
function mapChecked(dev: DmaDevice, va: number, size: number, dir: DmaDataDirection): number {
  const a = dmaMapSingle(dev, va, size, dir);
  expect(dmaMappingError(dev, a)).toBe(0);
  return a;
}

/** A scatterlist over `n` separate pages (so no two entries are physically contiguous), `len` bytes each at offset 128. */
function pageList(rig: DmaRig, n: number, len = 1024): ScatterlistEntry[] {
  const sg = sgInitTable(n);
  const pages: number[] = [];
  for (let i = 0; i < n; i++) {
    pages.push(rig.platform.pages.allocPages(0)!);
    rig.platform.pages.allocPages(0); // a gap page keeps the next one from being adjacent
  }
  pages.forEach((p, i) => sgSetPage(sg[i], p, len, 128));
  return sg;
}

describe.each(['dma64', 'dma_smmu'])('a correct driver on %s', (device) => {
  test('map, mapping_error, syncs the right way, unmap, sg and coherent: no error, nothing left', () => {
    const { rig, dev, debug, msgs, stat } = setup(device);
    const N = 2048;
    const src = rig.kmalloc(N);
    const dst = rig.kmalloc(N);
    const data = pattern(N, 7);
    rig.cpu.write(src, data);
    const s = mapChecked(dev, src, N, DMA_TO_DEVICE);
    const d = mapChecked(dev, dst, N, DMA_FROM_DEVICE);

    // The table holds both, as Linux's dma_debug_entry.
    expect(live(debug, dev)).toEqual([
      { dev: device, type: 'single', devAddr: s, paddr: rig.cpu.virtToPhys(src), size: N, direction: DMA_TO_DEVICE, sgCallEnts: 0, sgMappedEnts: 0, mapErrType: MAP_ERR_CHECKED },
      { dev: device, type: 'single', devAddr: d, paddr: rig.cpu.virtToPhys(dst), size: N, direction: DMA_FROM_DEVICE, sgCallEnts: 0, sgMappedEnts: 0, mapErrType: MAP_ERR_CHECKED },
    ]);

    expect(rig.copy(device, s, d, N).status).toBe(Status.Ok);
    dmaSyncSingleForCpu(dev, d, N, DMA_FROM_DEVICE);
    const got = new Uint8Array(N);
    rig.cpu.read(dst, got);
    expect(got).toEqual(data);
    // Give the buffer back to the device and sync part of it again, as a ring driver does.
    dmaSyncSingleForDevice(dev, d, N, DMA_FROM_DEVICE);
    dmaSyncSingleRangeForCpu(dev, d, 512, 256, DMA_FROM_DEVICE);
    dmaSyncSingleForCpu(dev, d + 1024, 64, DMA_FROM_DEVICE); // inside the mapping, not at its start
    // For a TO_DEVICE buffer: a CPU update then a sync for the device; a sync for the CPU is allowed too.
    dmaSyncSingleForCpu(dev, s, N, DMA_TO_DEVICE);
    dmaSyncSingleForDevice(dev, s, N, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, s, N, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, d, N, DMA_FROM_DEVICE);

    // dma_map_page with a page offset.
    const page = rig.platform.pages.allocPages(0)!;
    const p = dmaMapPage(dev, page, 256, 512, DMA_BIDIRECTIONAL);
    expect(dmaMappingError(dev, p)).toBe(0);
    expect(live(debug, dev)).toMatchObject([{ type: 'page', devAddr: p, paddr: page + 256, size: 512, direction: DMA_BIDIRECTIONAL }]);
    dmaSyncSingleForCpu(dev, p, 512, DMA_BIDIRECTIONAL);
    dmaSyncSingleForDevice(dev, p, 512, DMA_BIDIRECTIONAL);
    dmaUnmapPage(dev, p, 512, DMA_BIDIRECTIONAL);

    const sg = pageList(rig, 3);
    const ents = dmaMapSg(dev, sg, 3, DMA_FROM_DEVICE);
    expect(ents).toBeGreaterThan(0);
    const sgEntries = live(debug, dev);
    expect(sgEntries).toHaveLength(ents);
    sgEntries.forEach((e, i) => {
      expect(e).toMatchObject({ type: 'sg', devAddr: sg[i].dmaAddress, size: sg[i].dmaLength, sgCallEnts: 3, sgMappedEnts: ents });
      expect(e.mapErrType).toBe(MAP_ERR_CHECK_NOT_APPLICABLE);
    });
    dmaSyncSgForCpu(dev, sg, 3, DMA_FROM_DEVICE);
    dmaSyncSgForDevice(dev, sg, 3, DMA_FROM_DEVICE);
    dmaUnmapSg(dev, sg, 3, DMA_FROM_DEVICE);

    const buf = dmaAllocCoherent(dev, 8192)!;
    expect(buf).not.toBeNull();
    expect(live(debug, dev)).toMatchObject([
      { type: 'coherent', devAddr: buf.dmaHandle, paddr: rig.cpu.virtToPhys(buf.cpuAddr), size: 8192, direction: DMA_BIDIRECTIONAL, mapErrType: MAP_ERR_CHECK_NOT_APPLICABLE },
    ]);
    dmaFreeCoherent(dev, 8192, buf.cpuAddr, buf.dmaHandle);

    expect(msgs()).toEqual([]);
    expect(debug.errorCount).toBe(0);
    expect(stat('errors')).toBe(0);
    expect(live(debug)).toEqual([]);
    dev.unbindDriver();
    expect(msgs()).toEqual([]);
  });
});

describe('unmap checks (check_unmap)', () => {
  test('unmapping DMA_MAPPING_ERROR: "tries to free an invalid DMA memory address"', () => {
    const { dev, debug, prefix, msgs, stat } = setup();
    dmaUnmapSingle(dev, DMA_MAPPING_ERROR, 256, DMA_TO_DEVICE);
    expect(msgs()).toEqual([`${prefix}device driver tries to free an invalid DMA memory address`]);
    expect(stat('free_invalid_address')).toBe(1);
    expect(stat('free_not_allocated')).toBe(0);
    expect(stat('errors')).toBe(1);
    expect(debug.errorCount).toBe(1);
  });

  test('unmapping twice: the second unmap frees memory "it has not allocated"', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const va = rig.kmalloc(4096);
    const a = mapChecked(dev, va, 4096, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, 4096, DMA_TO_DEVICE);
    expect(msgs()).toEqual([]);
    dmaUnmapSingle(dev, a, 4096, DMA_TO_DEVICE);
    expect(msgs()).toEqual([`${prefix}device driver tries to free DMA memory it has not allocated [device address=${hex16(a)}] [size=4096 bytes]`]);
    expect(stat('free_not_allocated')).toBe(1);
    expect(debug.errorCount).toBe(1);
    // The address format is 0x%016llx: 18 characters, zero-padded.
    expect(msgs()[0]).toMatch(/\[device address=0x[0-9a-f]{16}\] \[size=4096 bytes\]$/);
  });

  test('wrong size: reported with both sizes, and the entry is still removed', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const a = mapChecked(dev, rig.kmalloc(4096), 512, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, 256, DMA_TO_DEVICE);
    expect(msgs()).toEqual([
      `${prefix}device driver frees DMA memory with different size [device address=${hex16(a)}] [map size=512 bytes] [unmap size=256 bytes]`,
    ]);
    expect(stat('free_wrong_size')).toBe(1);
    expect(debug.errorCount).toBe(1);
    expect(live(debug, dev)).toEqual([]);
  });

  test('wrong function: mapped with dma_map_single, unmapped with dma_unmap_page; an sg segment unmapped as a page', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const a = mapChecked(dev, rig.kmalloc(4096), 1024, DMA_TO_DEVICE);
    dmaUnmapPage(dev, a, 1024, DMA_TO_DEVICE);
    const sg = pageList(rig, 1, 2048);
    expect(dmaMapSg(dev, sg, 1, DMA_TO_DEVICE)).toBe(1);
    dmaUnmapPage(dev, sg[0].dmaAddress, 2048, DMA_TO_DEVICE);
    expect(msgs()).toEqual([
      `${prefix}device driver frees DMA memory with wrong function [device address=${hex16(a)}] [size=1024 bytes] [mapped as single] [unmapped as page]`,
      `${prefix}device driver frees DMA memory with wrong function [device address=${hex16(sg[0].dmaAddress)}] [size=2048 bytes] [mapped as scather-gather] [unmapped as page]`,
    ]);
    expect(stat('free_wrong_function')).toBe(2);
    expect(debug.errorCount).toBe(2);
    expect(live(debug)).toEqual([]);
  });

  test('wrong CPU address: dma_free_coherent with another allocation\'s CPU address', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const x = dmaAllocCoherent(dev, 4096)!;
    const y = dmaAllocCoherent(dev, 4096)!;
    const px = rig.cpu.virtToPhys(x.cpuAddr);
    const py = rig.cpu.virtToPhys(y.cpuAddr);
    expect(px).not.toBe(py);
    // Swapped CPU addresses. (dma-direct refuses such a free; dma-debug reports it and drops its entry, as Linux does.)
    dmaFreeCoherent(dev, 4096, y.cpuAddr, x.dmaHandle);
    dmaFreeCoherent(dev, 4096, x.cpuAddr, y.dmaHandle);
    expect(msgs()).toEqual([
      `${prefix}device driver frees DMA memory with different CPU address [device address=${hex16(x.dmaHandle)}] [size=4096 bytes] [cpu alloc address=${hex16(px)}] [cpu free address=${hex16(py)}]`,
      `${prefix}device driver frees DMA memory with different CPU address [device address=${hex16(y.dmaHandle)}] [size=4096 bytes] [cpu alloc address=${hex16(py)}] [cpu free address=${hex16(px)}]`,
    ]);
    expect(stat('free_wrong_cpu_address')).toBe(2);
    expect(debug.errorCount).toBe(2);
    expect(live(debug)).toEqual([]);
  });

  test('wrong sg count: each unmapped segment reports [map count=3] [unmap count=2]; the third stays mapped', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const sg = pageList(rig, 3);
    expect(dmaMapSg(dev, sg, 3, DMA_FROM_DEVICE)).toBe(3); // dma-direct never merges
    dmaUnmapSg(dev, sg, 2, DMA_FROM_DEVICE);
    const line = `${prefix}device driver frees DMA sg list with different entry count [map count=3] [unmap count=2]`;
    expect(msgs()).toEqual([line, line]);
    expect(stat('free_wrong_sg_count')).toBe(2);
    expect(debug.errorCount).toBe(2);
    expect(live(debug, dev)).toMatchObject([{ type: 'sg', devAddr: sg[2].dmaAddress, sgCallEnts: 3 }]);
  });

  test('wrong direction: mapped FROM_DEVICE, unmapped TO_DEVICE', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const a = mapChecked(dev, rig.kmalloc(4096), 256, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, a, 256, DMA_TO_DEVICE);
    expect(msgs()).toEqual([
      `${prefix}device driver frees DMA memory with different direction [device address=${hex16(a)}] [size=256 bytes] [mapped with DMA_FROM_DEVICE] [unmapped with DMA_TO_DEVICE]`,
    ]);
    expect(stat('free_wrong_direction')).toBe(1);
    expect(debug.errorCount).toBe(1);
    expect(live(debug)).toEqual([]);
  });

  test('several faults in one unmap are each reported, in Linux\'s order', () => {
    const { rig, dev, debug, prefix, msgs } = setup();
    const a = dmaMapSingle(dev, rig.kmalloc(4096), 512, DMA_FROM_DEVICE); // not checked
    dmaUnmapPage(dev, a, 256, DMA_TO_DEVICE);
    const at = hex16(a);
    expect(msgs()).toEqual([
      `${prefix}device driver frees DMA memory with different size [device address=${at}] [map size=512 bytes] [unmap size=256 bytes]`,
      `${prefix}device driver frees DMA memory with wrong function [device address=${at}] [size=256 bytes] [mapped as single] [unmapped as page]`,
      `${prefix}device driver frees DMA memory with different direction [device address=${at}] [size=256 bytes] [mapped with DMA_FROM_DEVICE] [unmapped with DMA_TO_DEVICE]`,
      `${prefix}device driver failed to check map error[device address=${at}] [size=256 bytes] [mapped as single]`,
    ]);
    expect(debug.errorCount).toBe(4);
    expect(live(debug)).toEqual([]);
  });
});

describe.each(['dma64', 'dma_smmu'])('dma_mapping_error tracking on %s', (device) => {
  test('unmap without dma_mapping_error: "failed to check map error"', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup(device);
    const a = dmaMapSingle(dev, rig.kmalloc(4096), 256, DMA_TO_DEVICE);
    expect(live(debug, dev)[0].mapErrType).toBe(MAP_ERR_NOT_CHECKED);
    dmaUnmapSingle(dev, a, 256, DMA_TO_DEVICE);
    expect(msgs()).toEqual([`${prefix}device driver failed to check map error[device address=${hex16(a)}] [size=256 bytes] [mapped as single]`]);
    expect(stat('map_error_not_checked')).toBe(1);
    expect(debug.errorCount).toBe(1);
  });

  test('wrong direction at unmap', () => {
    const { rig, dev, prefix, msgs, stat } = setup(device);
    const a = mapChecked(dev, rig.kmalloc(4096), 256, DMA_BIDIRECTIONAL);
    dmaUnmapSingle(dev, a, 256, DMA_FROM_DEVICE);
    expect(msgs()).toEqual([
      `${prefix}device driver frees DMA memory with different direction [device address=${hex16(a)}] [size=256 bytes] [mapped with DMA_BIDIRECTIONAL] [unmapped with DMA_FROM_DEVICE]`,
    ]);
    expect(stat('free_wrong_direction')).toBe(1);
  });
});

describe('dma_mapping_error marks one entry (debug_dma_mapping_error)', () => {
  test('the same buffer mapped twice (same DMA address on dma-direct): one check covers one mapping', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const va = rig.kmalloc(4096);
    const a = dmaMapSingle(dev, va, 128, DMA_TO_DEVICE);
    expect(dmaMapSingle(dev, va, 128, DMA_TO_DEVICE)).toBe(a);
    expect(dmaMapSingle(dev, va, 128, DMA_TO_DEVICE)).toBe(a);
    dmaMappingError(dev, a);
    expect(live(debug, dev).map((e) => e.mapErrType)).toEqual([MAP_ERR_CHECKED, MAP_ERR_NOT_CHECKED, MAP_ERR_NOT_CHECKED]);
    dmaMappingError(dev, a); // the next unchecked one
    dmaMappingError(dev, a + 4096); // another address marks nothing
    expect(live(debug, dev).map((e) => e.mapErrType)).toEqual([MAP_ERR_CHECKED, MAP_ERR_CHECKED, MAP_ERR_NOT_CHECKED]);
    // Each unmap removes the first perfect fit in the bucket: the checked entries go first.
    dmaUnmapSingle(dev, a, 128, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, 128, DMA_TO_DEVICE);
    expect(msgs()).toEqual([]);
    dmaUnmapSingle(dev, a, 128, DMA_TO_DEVICE);
    expect(msgs()).toEqual([`${prefix}device driver failed to check map error[device address=${hex16(a)}] [size=128 bytes] [mapped as single]`]);
    expect(stat('map_error_not_checked')).toBe(1);
    expect(live(debug)).toEqual([]);
  });
});

describe('entry lookup (__hash_bucket_find best fit)', () => {
  test('one buffer mapped twice with different sizes: the unmap that fits one exactly takes it', () => {
    const { rig, dev, debug, msgs } = setup();
    const va = rig.kmalloc(4096);
    const a = mapChecked(dev, va, 128, DMA_TO_DEVICE);
    expect(mapChecked(dev, va, 256, DMA_TO_DEVICE)).toBe(a);
    dmaUnmapSingle(dev, a, 256, DMA_TO_DEVICE);
    expect(live(debug, dev)).toMatchObject([{ devAddr: a, size: 128 }]);
    dmaUnmapSingle(dev, a, 128, DMA_TO_DEVICE);
    expect(msgs()).toEqual([]);
    expect(live(debug)).toEqual([]);
  });

  test('several candidates and none fits exactly: no entry is found (Linux returns NULL) and none is removed', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const va = rig.kmalloc(4096);
    const a = mapChecked(dev, va, 128, DMA_TO_DEVICE);
    mapChecked(dev, va, 256, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, 64, DMA_TO_DEVICE);
    expect(msgs()).toEqual([`${prefix}device driver tries to free DMA memory it has not allocated [device address=${hex16(a)}] [size=64 bytes]`]);
    expect(stat('free_not_allocated')).toBe(1);
    expect(live(debug, dev).map((e) => e.size)).toEqual([128, 256]);
  });
});

describe('sync checks (check_sync)', () => {
  test('syncing memory that is not mapped', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const a = mapChecked(dev, rig.kmalloc(4096), 256, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, a, 256, DMA_FROM_DEVICE);
    dmaSyncSingleForCpu(dev, a, 64, DMA_FROM_DEVICE);
    expect(msgs()).toEqual([`${prefix}device driver tries to sync DMA memory it has not allocated [device address=${hex16(a)}] [size=64 bytes]`]);
    expect(stat('sync_not_allocated')).toBe(1);
    expect(debug.errorCount).toBe(1);
  });

  test.each(['dma64', 'dma_smmu'])('syncing beyond the end of a mapping on %s', (device) => {
    const { rig, dev, debug, prefix, msgs, stat } = setup(device);
    const a = mapChecked(dev, rig.kmalloc(4096), 256, DMA_FROM_DEVICE);
    dmaSyncSingleRangeForCpu(dev, a, 128, 256, DMA_FROM_DEVICE);
    dmaSyncSingleForCpu(dev, a + 192, 128, DMA_FROM_DEVICE);
    expect(msgs()).toEqual([
      `${prefix}device driver syncs DMA memory outside allocated range [device address=${hex16(a)}] [allocation size=256 bytes] [sync offset+size=384]`,
      `${prefix}device driver syncs DMA memory outside allocated range [device address=${hex16(a)}] [allocation size=256 bytes] [sync offset+size=320]`,
    ]);
    expect(stat('sync_outside_range')).toBe(2);
    expect(debug.errorCount).toBe(2);
    // A sync that fits raises nothing.
    dmaSyncSingleRangeForCpu(dev, a, 128, 128, DMA_FROM_DEVICE);
    expect(debug.errorCount).toBe(2);
  });

  test.each(['dma64', 'dma_smmu'])('a sync deep inside a 256 KiB mapping on %s finds its entry (many hash buckets back)', (device) => {
    const { rig, dev, debug, msgs } = setup(device);
    const size = 256 * 1024;
    const a = mapChecked(dev, rig.kmalloc(size), size, DMA_FROM_DEVICE);
    dmaSyncSingleForCpu(dev, a + 200 * 1024, 4096, DMA_FROM_DEVICE);
    dmaSyncSingleRangeForCpu(dev, a, size - 64, 64, DMA_FROM_DEVICE);
    expect(msgs()).toEqual([]);
    expect(debug.errorCount).toBe(0);
    dmaSyncSingleForCpu(dev, a + size, 64, DMA_FROM_DEVICE); // the first byte after it
    expect(debug.checkCount('sync_not_allocated')).toBe(1);
    dmaUnmapSingle(dev, a, size, DMA_FROM_DEVICE);
    expect(debug.errorCount).toBe(1);
  });

  test('sync direction different from the mapping\'s', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const a = mapChecked(dev, rig.kmalloc(4096), 256, DMA_TO_DEVICE);
    dmaSyncSingleForDevice(dev, a, 256, DMA_FROM_DEVICE);
    expect(msgs()).toEqual([
      `${prefix}device driver syncs DMA memory with different direction [device address=${hex16(a)}] [size=256 bytes] [mapped with DMA_TO_DEVICE] [synced with DMA_FROM_DEVICE]`,
    ]);
    expect(stat('sync_wrong_direction')).toBe(1);
    expect(stat('sync_write_only_to_device')).toBe(0);
    expect(debug.errorCount).toBe(1);
  });

  test('sync for the CPU of device read-only memory (mapped TO_DEVICE)', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const a = mapChecked(dev, rig.kmalloc(4096), 256, DMA_TO_DEVICE);
    dmaSyncSingleForCpu(dev, a, 256, DMA_FROM_DEVICE);
    const detail = `[device address=${hex16(a)}] [size=256 bytes] [mapped with DMA_TO_DEVICE] [synced with DMA_FROM_DEVICE]`;
    expect(msgs()).toEqual([
      `${prefix}device driver syncs DMA memory with different direction ${detail}`,
      `${prefix}device driver syncs device read-only DMA memory for cpu ${detail}`,
    ]);
    expect(stat('sync_read_only_for_cpu')).toBe(1);
    expect(stat('sync_wrong_direction')).toBe(1);
    expect(debug.errorCount).toBe(2);
  });

  test('sync for the device of device write-only memory (mapped FROM_DEVICE)', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const a = mapChecked(dev, rig.kmalloc(4096), 256, DMA_FROM_DEVICE);
    dmaSyncSingleForDevice(dev, a, 256, DMA_BIDIRECTIONAL);
    const detail = `[device address=${hex16(a)}] [size=256 bytes] [mapped with DMA_FROM_DEVICE] [synced with DMA_BIDIRECTIONAL]`;
    expect(msgs()).toEqual([
      `${prefix}device driver syncs DMA memory with different direction ${detail}`,
      `${prefix}device driver syncs device write-only DMA memory to device ${detail}`,
    ]);
    expect(stat('sync_write_only_to_device')).toBe(1);
    expect(stat('sync_read_only_for_cpu')).toBe(0);
    expect(debug.errorCount).toBe(2);
  });

  test('a BIDIRECTIONAL mapping never complains about sync directions', () => {
    const { rig, dev, debug, msgs } = setup();
    const a = mapChecked(dev, rig.kmalloc(4096), 256, DMA_BIDIRECTIONAL);
    dmaSyncSingleForCpu(dev, a, 256, DMA_TO_DEVICE);
    dmaSyncSingleForCpu(dev, a, 256, DMA_FROM_DEVICE);
    dmaSyncSingleForDevice(dev, a, 256, DMA_FROM_DEVICE);
    dmaSyncSingleForDevice(dev, a, 256, DMA_TO_DEVICE);
    expect(msgs()).toEqual([]);
    expect(debug.errorCount).toBe(0);
  });

  test('dma_sync_sg with a different entry count than dma_map_sg', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    const sg = pageList(rig, 3);
    expect(dmaMapSg(dev, sg, 3, DMA_FROM_DEVICE)).toBe(3);
    dmaSyncSgForCpu(dev, sg, 2, DMA_FROM_DEVICE);
    const line = `${prefix}device driver syncs DMA sg list with different entry count [map count=3] [sync count=2]`;
    expect(msgs()).toEqual([line, line]);
    expect(stat('sync_wrong_sg_count')).toBe(2);
    expect(debug.errorCount).toBe(2);
  });
});

describe('overlapping mappings of one cache line (active_cacheline)', () => {
  test.each(['dma64', 'dma_smmu'])('two FROM_DEVICE mappings in one cache line on %s: EEXIST, counted until both are unmapped', (device) => {
    const { rig, dev, debug, prefix, msgs, stat } = setup(device);
    const va = rig.kmalloc(4096);
    const pa = rig.cpu.virtToPhys(va);
    expect(rig.cpu.cacheLineBytes).toBe(64);
    const a = mapChecked(dev, va, 32, DMA_FROM_DEVICE);
    expect(debug.cachelineMappings(dev, pa)).toBe(1);
    const b = mapChecked(dev, va + 32, 32, DMA_FROM_DEVICE);
    expect(msgs()).toEqual([`${prefix}cacheline tracking EEXIST, overlapping mappings aren't supported`]);
    expect(stat('overlapping_mapping')).toBe(1);
    expect(debug.errorCount).toBe(1);
    expect(debug.cachelineMappings(dev, pa + 63)).toBe(2);
    dmaUnmapSingle(dev, a, 32, DMA_FROM_DEVICE);
    expect(debug.cachelineMappings(dev, pa)).toBe(1);
    // The line is still active: a third mapping in it overlaps again.
    const c = mapChecked(dev, va + 16, 16, DMA_FROM_DEVICE);
    expect(stat('overlapping_mapping')).toBe(2);
    dmaUnmapSingle(dev, c, 16, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, b, 32, DMA_FROM_DEVICE);
    expect(debug.cachelineMappings(dev, pa)).toBe(0);
    // Idle again: a new mapping there is fine.
    const d = mapChecked(dev, va, 64, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, d, 64, DMA_FROM_DEVICE);
    expect(debug.errorCount).toBe(2);
  });

  test('TO_DEVICE mappings of one line are not tracked and never overlap', () => {
    const { rig, dev, debug, msgs } = setup();
    const va = rig.kmalloc(4096);
    const a = mapChecked(dev, va, 32, DMA_TO_DEVICE);
    const b = mapChecked(dev, va + 32, 32, DMA_TO_DEVICE);
    expect(debug.cachelineMappings(dev, rig.cpu.virtToPhys(va))).toBe(0);
    // A device-writable mapping next to them is the line's only tracked one.
    const c = mapChecked(dev, va + 8, 8, DMA_FROM_DEVICE);
    expect(debug.cachelineMappings(dev, rig.cpu.virtToPhys(va))).toBe(1);
    for (const [x, n, dir] of [[a, 32, DMA_TO_DEVICE], [b, 32, DMA_TO_DEVICE], [c, 8, DMA_FROM_DEVICE]] as const) dmaUnmapSingle(dev, x, n, dir);
    expect(msgs()).toEqual([]);
    expect(debug.errorCount).toBe(0);
  });

  test('mappings in different cache lines of one page do not overlap', () => {
    const { rig, dev, debug } = setup();
    const va = rig.kmalloc(4096);
    const a = mapChecked(dev, va, 64, DMA_FROM_DEVICE);
    const b = mapChecked(dev, va + 64, 64, DMA_FROM_DEVICE);
    expect(debug.errorCount).toBe(0);
    dmaUnmapSingle(dev, a, 64, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, b, 64, DMA_FROM_DEVICE);
    expect(debug.errorCount).toBe(0);
  });

  test('DMA_ATTR_SKIP_CPU_SYNC suppresses the report but the overlap is still counted', () => {
    const { rig, dev, debug, msgs } = setup();
    const va = rig.kmalloc(4096);
    const pa = rig.cpu.virtToPhys(va);
    const a = mapChecked(dev, va, 32, DMA_FROM_DEVICE);
    const b = dmaMapSingleAttrs(dev, va + 32, 32, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    dmaMappingError(dev, b);
    expect(msgs()).toEqual([]);
    expect(debug.cachelineMappings(dev, pa)).toBe(2);
    dmaUnmapSingleAttrs(dev, b, 32, DMA_FROM_DEVICE, DMA_ATTR_SKIP_CPU_SYNC);
    dmaUnmapSingle(dev, a, 32, DMA_FROM_DEVICE);
    expect(debug.cachelineMappings(dev, pa)).toBe(0);
  });

  test('an IO-coherent device (dma_coh) is not reported', () => {
    const { rig, dev, debug, msgs } = setup('dma_coh');
    const va = rig.kmalloc(4096);
    const a = mapChecked(dev, va, 32, DMA_FROM_DEVICE);
    const b = mapChecked(dev, va + 32, 32, DMA_FROM_DEVICE);
    expect(msgs()).toEqual([]);
    expect(debug.cachelineMappings(dev, rig.cpu.virtToPhys(va))).toBe(2);
    dmaUnmapSingle(dev, a, 32, DMA_FROM_DEVICE);
    dmaUnmapSingle(dev, b, 32, DMA_FROM_DEVICE);
    expect(debug.errorCount).toBe(0);
  });
});

describe('driver unbind with live mappings (BUS_NOTIFY_UNBOUND_DRIVER)', () => {
  /** hash_fn() of lib/dma-debug.c: device_dma_allocations() reports the last entry in bucket order. */
  const linuxBucket = (addr: number) => Math.floor(addr / 8192) % 1024;

  test.each(['dma64', 'dma_smmu'])('3 leaked mappings on %s: one report with count=3 and one leaked entry\'s details', (device) => {
    const { rig, dev, debug, prefix, msgs, stat } = setup(device);
    const s = mapChecked(dev, rig.kmalloc(4096), 256, DMA_TO_DEVICE);
    const page = rig.platform.pages.allocPages(0)!;
    const p = dmaMapPage(dev, page, 0, 4096, DMA_FROM_DEVICE);
    dmaMappingError(dev, p);
    const c = dmaAllocCoherent(dev, 4096)!;
    const leaked = [
      { addr: s, size: 256, dir: 'DMA_TO_DEVICE', type: 'single' },
      { addr: p, size: 4096, dir: 'DMA_FROM_DEVICE', type: 'page' },
      { addr: c.dmaHandle, size: 4096, dir: 'DMA_BIDIRECTIONAL', type: 'coherent' },
    ];
    let shown = leaked[0];
    for (const l of leaked) if (linuxBucket(l.addr) >= linuxBucket(shown.addr)) shown = l;

    dev.unbindDriver();
    expect(msgs()).toEqual([
      `${prefix}device driver has pending DMA allocations while released from device [count=3]\n` +
        `One of leaked entries details: [device address=${hex16(shown.addr)}] [size=${shown.size} bytes] [mapped with ${shown.dir}] [mapped as ${shown.type}]`,
    ]);
    expect(stat('pending_at_unbind')).toBe(1);
    expect(debug.errorCount).toBe(1);
    // Linux only reports: the entries stay, and their late unmaps are not errors.
    expect(live(debug, dev)).toHaveLength(3);
  });

  test('a driver that cleaned up is unbound silently; other devices\' mappings do not count', () => {
    const { rig, dev, debug, msgs } = setup();
    const other = rig.dev('dma32');
    const o = dmaMapSingle(other, rig.kmalloc(4096), 64, DMA_TO_DEVICE);
    dmaMappingError(other, o);
    dev.unbindDriver();
    expect(msgs()).toEqual([]);
    expect(debug.errorCount).toBe(0);
    expect(live(debug)).toHaveLength(1);
  });
});

describe('switching dma-debug', () => {
  test('enabled = false: no reports, no counting, no tracking; errors resume when re-enabled', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    debug.enabled = false;
    const va = rig.kmalloc(4096);
    const a = dmaMapSingle(dev, va, 256, DMA_FROM_DEVICE);
    dmaSyncSingleForDevice(dev, a, 256, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, 128, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, 128, DMA_TO_DEVICE);
    dev.unbindDriver();
    expect(msgs()).toEqual([]);
    expect(debug.errorCount).toBe(0);
    expect(stat('errors')).toBe(0);
    expect(live(debug)).toEqual([]);

    debug.enabled = true;
    dev.bindDriver(DRIVER);
    dmaUnmapSingle(dev, a, 128, DMA_TO_DEVICE);
    expect(msgs()).toEqual([`${prefix}device driver tries to free DMA memory it has not allocated [device address=${hex16(a)}] [size=128 bytes]`]);
    expect(debug.errorCount).toBe(1);
  });

  test('PlatformOptions.dmaDebug = false: no dma-debug at all', () => {
    const rig = new DmaRig({ dmaDebug: false });
    expect(rig.platform.dma.debug).toBeNull();
    const dev = rig.dev('dma64');
    const a = dmaMapSingle(dev, rig.kmalloc(4096), 256, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, 256, DMA_TO_DEVICE);
    dmaUnmapSingle(dev, a, 256, DMA_TO_DEVICE);
    expect(rig.kernel.messages('dma-debug')).toEqual([]);
  });

  test('showAllErrors = false: Linux\'s limit (show_num_errors) on logging, never on counting', () => {
    const { rig, dev, debug, prefix, msgs, stat } = setup();
    debug.showAllErrors = false;
    expect(debug.showNumErrors).toBe(1);
    const va = rig.kmalloc(4096);
    const bad = () => {
      const a = dmaMapSingle(dev, va, 64, DMA_TO_DEVICE);
      dmaUnmapSingle(dev, a, 64, DMA_TO_DEVICE); // map error not checked
      return a;
    };
    const a = bad();
    bad();
    bad();
    const line = `${prefix}device driver failed to check map error[device address=${hex16(a)}] [size=64 bytes] [mapped as single]`;
    expect(msgs()).toEqual([line]);
    expect(debug.errorCount).toBe(3);
    expect(stat('map_error_not_checked')).toBe(3);
    expect(debug.showNumErrors).toBe(0);
    debug.showNumErrors = 2;
    bad();
    bad();
    bad();
    expect(msgs()).toEqual([line, line, line]);
    expect(debug.errorCount).toBe(6);
  });

  test('driverFilter logs only the named driver\'s errors', () => {
    const { rig, dev, debug, msgs } = setup();
    const other = rig.dev('dma32');
    other.bindDriver('otherdrv');
    debug.driverFilter = 'otherdrv';
    dmaUnmapSingle(dev, 0x9000_0000, 64, DMA_TO_DEVICE);
    dmaUnmapSingle(other, 0x9000_0000, 64, DMA_TO_DEVICE);
    expect(msgs()).toEqual(['DMA-API: otherdrv dma32: device driver tries to free DMA memory it has not allocated [device address=0x0000000090000000] [size=64 bytes]']);
    expect(debug.errorCount).toBe(2);
  });

  test('an unbound device is reported under its bus name', () => {
    const { rig, debug, msgs } = setup();
    const other = rig.dev('dma32');
    dmaUnmapSingle(other, 0x9000_0000, 64, DMA_TO_DEVICE);
    expect(msgs()).toEqual(['DMA-API: platform dma32: device driver tries to free DMA memory it has not allocated [device address=0x0000000090000000] [size=64 bytes]']);
    expect(debug.errorCount).toBe(1);
  });
});

describe('debug_dma_dump_mappings', () => {
  test('one info line per live entry, in Linux\'s format', () => {
    const { rig, dev, debug } = setup();
    const va = rig.kmalloc(4096);
    const pa = rig.cpu.virtToPhys(va);
    const a = mapChecked(dev, va + 64, 256, DMA_FROM_DEVICE);
    debug.dumpMappings(dev);
    const idx = Math.floor(a / 8192) % 1024;
    expect(rig.kernel.messages('dma-debug', 'info')).toEqual([
      `${DRIVER} dma64: single idx ${idx} P=${(pa + 64).toString(16)} N=${Math.floor((pa + 64) / 4096).toString(16)} D=${a.toString(16)} L=100 DMA_FROM_DEVICE dma map error checked`,
    ]);
    expect(rig.kernel.messages('dma-debug', 'warn')).toEqual([]);
  });
});
