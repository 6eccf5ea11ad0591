/**
 * swiotlb's slot allocator and bounce copies (kernel/dma/swiotlb.c, v4.x), on the
 * platform's pool shrunk to two segments (512 KiB, 256 slots) so that the slot rules
 * are visible: 2 KiB rounding, the rotating next-fit index, the page stride, segments
 * never crossed, free-run merging, per-slot original addresses, copies per direction,
 * and bad unmaps refused without touching the slot map.
 */
import {
  IO_TLB_SEGSIZE,
  IO_TLB_SHIFT,
  IO_TLB_SIZE,
  Swiotlb,
  swiotlbMaxMappingSize,
} from '../../../drivers/dma/swiotlb';
import {
  DMA_ATTR_NO_WARN,
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  type DmaDataDirection,
} from '../../../drivers/dma/types';
import { DRAM_BASE, DRAM_END, DmaRig, pattern } from '../../helpers/dmaRig';

const KiB = 1024;
const MiB = 1024 * KiB;
const POOL = 512 * KiB;
/** The platform's default CMA size: the pool sits right above it. */
const CMA = 64 * MiB;
/** A buffer above 4 GiB, near the top of DRAM (the page allocator hands out low pages first). */
const HIGH = DRAM_END - 2 * MiB;

function setup() {
  const rig = new DmaRig({ swiotlbSize: POOL });
  const tlb = rig.platform.swiotlb!;
  const dev = rig.dev('dma32');
  return { rig, tlb, dev };
}

/** Slot number of a bounce address. */
function slot(tlb: Swiotlb, addr: number): number {
  return (addr - tlb.start) / IO_TLB_SIZE;
}

function freeRuns(tlb: Swiotlb): number[] {
  const out: number[] = [];
  for (let i = 0; i < tlb.nslabs; i++) out.push(tlb.freeRunAt(i));
  return out;
}

function cpuReadPhys(rig: DmaRig, pa: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  rig.cpu.read(rig.cpu.physToVirt(pa), out);
  return out;
}

function cpuWritePhys(rig: DmaRig, pa: number, data: Uint8Array): void {
  rig.cpu.write(rig.cpu.physToVirt(pa), data);
}

describe('the pool', () => {
  test('Linux constants and the pool the platform reserved above CMA', () => {
    const { rig, tlb } = setup();
    expect([IO_TLB_SHIFT, IO_TLB_SIZE, IO_TLB_SEGSIZE]).toEqual([11, 2048, 128]);
    expect(swiotlbMaxMappingSize()).toBe(256 * KiB);
    expect(tlb.start).toBe(DRAM_BASE + CMA);
    expect(tlb.end).toBe(DRAM_BASE + CMA + POOL);
    expect(tlb.nslabs).toBe(256);
    expect(rig.platform.pages.isAllocated(tlb.start)).toBe(true);
    expect(rig.platform.pages.isAllocated(tlb.end - 1)).toBe(true);
    // io_tlb_list starts as the distance to the end of each segment.
    expect([tlb.freeRunAt(0), tlb.freeRunAt(1), tlb.freeRunAt(127), tlb.freeRunAt(128), tlb.freeRunAt(255)]).toEqual([128, 127, 1, 128, 1]);
    expect(tlb.isSwiotlbBuffer(tlb.start)).toBe(true);
    expect(tlb.isSwiotlbBuffer(tlb.end - 1)).toBe(true);
    expect(tlb.isSwiotlbBuffer(tlb.end)).toBe(false);
    expect(tlb.isSwiotlbBuffer(tlb.start - 1)).toBe(false);
    expect(rig.kernel.messages('swiotlb', 'info')).toContain('software IO TLB: mapped [mem 0x0000000084000000-0x000000008407ffff] (0MB)');
  });

  test('a pool that is not page-aligned or not whole segments is refused', () => {
    const { rig } = setup();
    expect(() => new Swiotlb(rig.kernel, DRAM_BASE + 2048, POOL)).toThrow(/not page-aligned/);
    expect(() => new Swiotlb(rig.kernel, DRAM_BASE, POOL + IO_TLB_SIZE)).toThrow(/multiple of 262144/);
    expect(() => new Swiotlb(rig.kernel, DRAM_BASE, 0)).toThrow(/multiple/);
  });
});

describe('slot allocation', () => {
  test('sizes round up to 2 KiB slots; the search index moves past each mapping; pages get a page-aligned stride', () => {
    const { rig, tlb, dev } = setup();
    const a = tlb.mapSingle(dev, HIGH, 100, DMA_FROM_DEVICE, 0);
    expect(slot(tlb, a)).toBe(0);
    expect(tlb.usedSlots).toBe(1);
    const b = tlb.mapSingle(dev, HIGH + 8 * KiB, 2049, DMA_FROM_DEVICE, 0);
    expect(slot(tlb, b)).toBe(1); // 2049 bytes: 2 slots, 1 and 2
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(3);
    // 4 KiB: stride 2, the index (3) is aligned up to 4; slot 3 stays free.
    const c = tlb.mapSingle(dev, HIGH + 16 * KiB, 4096, DMA_FROM_DEVICE, 0);
    expect(slot(tlb, c)).toBe(4);
    expect((c - tlb.start) % 4096).toBe(0);
    // Next-fit: the next 1-slot mapping goes after c, not into the hole at slot 3.
    const d = tlb.mapSingle(dev, HIGH + 24 * KiB, 1, DMA_FROM_DEVICE, 0);
    expect(slot(tlb, d)).toBe(6);
    expect(tlb.usedSlots).toBe(1 + 2 + 2 + 1);
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(6);
    expect(freeRuns(tlb).slice(0, 9)).toEqual([0, 0, 0, 1, 0, 0, 0, 121, 120]);
    // io_tlb_orig_addr: one original address per slot, 2 KiB apart inside a mapping.
    expect(tlb.origAddrAt(1)).toBe(HIGH + 8 * KiB);
    expect(tlb.origAddrAt(2)).toBe(HIGH + 8 * KiB + 2048);
    expect(tlb.origAddrAt(3)).toBeNull();
  });

  test('an allocation never crosses a segment: 10 slots skip the 8 free at the end of segment 0', () => {
    const { tlb, dev } = setup();
    const a = tlb.mapSingle(dev, HIGH, 120 * IO_TLB_SIZE, DMA_FROM_DEVICE, 0);
    expect(slot(tlb, a)).toBe(0);
    expect(tlb.freeRunAt(120)).toBe(8);
    const b = tlb.mapSingle(dev, HIGH + 512 * KiB, 10 * IO_TLB_SIZE, DMA_FROM_DEVICE, 0);
    expect(slot(tlb, b)).toBe(128);
    expect(tlb.freeRunAt(120)).toBe(8); // untouched
    expect(tlb.freeRunAt(138)).toBe(118);
    // 8 slots do fit there once the search comes round to it.
    tlb.unmapSingle(dev, b, 10 * IO_TLB_SIZE, DMA_FROM_DEVICE, 0);
    const big = tlb.mapSingle(dev, HIGH + 512 * KiB, 256 * KiB, DMA_FROM_DEVICE, 0);
    expect(slot(tlb, big)).toBe(128);
    const c = tlb.mapSingle(dev, HIGH + 1 * MiB, 8 * IO_TLB_SIZE, DMA_FROM_DEVICE, 0);
    expect(slot(tlb, c)).toBe(120);
  });

  test('the largest mapping is one segment; one byte more can never be placed', () => {
    const { rig, tlb, dev } = setup();
    // All 256 slots are free, but 129 contiguous slots would cross a segment boundary.
    expect(tlb.mapSingle(dev, HIGH, swiotlbMaxMappingSize() + 1, DMA_FROM_DEVICE, 0)).toBe(DMA_MAPPING_ERROR);
    expect(rig.kernel.messages('swiotlb', 'warn')).toEqual([
      'platform dma32: swiotlb buffer is full (sz: 262145 bytes), total 256 (slots), used 0 (slots)',
    ]);
    expect(tlb.usedSlots).toBe(0);
    const a = tlb.mapSingle(dev, HIGH, swiotlbMaxMappingSize(), DMA_FROM_DEVICE, 0);
    expect(slot(tlb, a)).toBe(0);
    expect(tlb.usedSlots).toBe(128);
    expect(tlb.freeRunAt(128)).toBe(128);
  });

  test('unmap merges the freed slots with the free run above and renumbers the free slots below', () => {
    const { tlb, dev } = setup();
    const a = tlb.mapSingle(dev, HIGH, 10, DMA_FROM_DEVICE, 0);
    const b = tlb.mapSingle(dev, HIGH + 4 * KiB, 10, DMA_FROM_DEVICE, 0);
    const c = tlb.mapSingle(dev, HIGH + 8 * KiB, 10, DMA_FROM_DEVICE, 0);
    expect([slot(tlb, a), slot(tlb, b), slot(tlb, c)]).toEqual([0, 1, 2]);
    expect(freeRuns(tlb).slice(0, 4)).toEqual([0, 0, 0, 125]);
    tlb.unmapSingle(dev, b, 10, DMA_FROM_DEVICE, 0);
    expect(freeRuns(tlb).slice(0, 4)).toEqual([0, 1, 0, 125]); // c still blocks the merge
    tlb.unmapSingle(dev, c, 10, DMA_FROM_DEVICE, 0);
    expect(freeRuns(tlb).slice(0, 4)).toEqual([0, 127, 126, 125]);
    tlb.unmapSingle(dev, a, 10, DMA_FROM_DEVICE, 0);
    expect(freeRuns(tlb).slice(0, 4)).toEqual([128, 127, 126, 125]);
    expect(tlb.usedSlots).toBe(0);
    expect(tlb.origAddrAt(0)).toBeNull();
  });

  test('exhaustion: DMA_MAPPING_ERROR, Linux\'s message unless DMA_ATTR_NO_WARN, and every failure counted', () => {
    const { rig, tlb, dev } = setup();
    expect(tlb.mapSingle(dev, HIGH, 256 * KiB, DMA_FROM_DEVICE, 0)).not.toBe(DMA_MAPPING_ERROR);
    expect(tlb.mapSingle(dev, HIGH + 256 * KiB, 256 * KiB, DMA_FROM_DEVICE, 0)).not.toBe(DMA_MAPPING_ERROR);
    expect(tlb.mapSingle(dev, HIGH, 2048, DMA_FROM_DEVICE, 0)).toBe(DMA_MAPPING_ERROR);
    expect(rig.kernel.messages('swiotlb', 'warn')).toEqual([
      'platform dma32: swiotlb buffer is full (sz: 2048 bytes), total 256 (slots), used 256 (slots)',
    ]);
    expect(rig.stat('kernel.swiotlb.full')).toBe(1);
    const warnings = rig.kernel.warnings;
    expect(tlb.mapSingle(dev, HIGH, 2048, DMA_FROM_DEVICE, DMA_ATTR_NO_WARN)).toBe(DMA_MAPPING_ERROR);
    expect(rig.kernel.warnings).toBe(warnings);
    expect(rig.stat('kernel.swiotlb.full')).toBe(2);
    expect(tlb.usedSlots).toBe(256);
  });
});

describe('bad unmaps and syncs', () => {
  test('an address that is not a live mapping, or another size, warns and leaves the slot map as it was', () => {
    const { rig, tlb, dev } = setup();
    const a = tlb.mapSingle(dev, HIGH, 3000, DMA_FROM_DEVICE, 0); // slots 0, 1
    const b = tlb.mapSingle(dev, HIGH + 8 * KiB, 100, DMA_FROM_DEVICE, 0); // slot 2
    const before = freeRuns(tlb);
    const bounced = rig.stat('kernel.swiotlb.bounced_bytes');
    const warnings = rig.kernel.warnings;
    tlb.unmapSingle(dev, tlb.start + 10 * IO_TLB_SIZE, 100, DMA_FROM_DEVICE, 0); // never mapped
    tlb.unmapSingle(dev, a, 2048, DMA_FROM_DEVICE, 0); // same slot count, other size
    tlb.unmapSingle(dev, a, 5000, DMA_FROM_DEVICE, 0); // more slots than mapped
    tlb.unmapSingle(dev, a + IO_TLB_SIZE, 952, DMA_FROM_DEVICE, 0); // the middle of a mapping
    tlb.unmapSingle(dev, tlb.end, 100, DMA_FROM_DEVICE, 0); // outside the pool
    expect(rig.kernel.warnings - warnings).toBe(5);
    expect(rig.kernel.messages('swiotlb', 'warn')).toEqual([
      `platform dma32: swiotlb_tbl_unmap_single: 0x${(tlb.start + 10 * IO_TLB_SIZE).toString(16)} is not a live swiotlb mapping (size 100)`,
      `platform dma32: swiotlb_tbl_unmap_single: 0x${a.toString(16)} was mapped with 3000 bytes, unmapped with 2048`,
      `platform dma32: swiotlb_tbl_unmap_single: 0x${a.toString(16)} was mapped with 3000 bytes, unmapped with 5000`,
      `platform dma32: swiotlb_tbl_unmap_single: 0x${(a + IO_TLB_SIZE).toString(16)} is not a live swiotlb mapping (size 952)`,
      `platform dma32: swiotlb_tbl_unmap_single: 0x${tlb.end.toString(16)} is not a live swiotlb mapping (size 100)`,
    ]);
    expect(freeRuns(tlb)).toEqual(before);
    expect(tlb.usedSlots).toBe(3);
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(bounced);
    // The real unmaps still work, and a second unmap of the same address is refused.
    tlb.unmapSingle(dev, a, 3000, DMA_FROM_DEVICE, 0);
    tlb.unmapSingle(dev, b, 100, DMA_FROM_DEVICE, 0);
    expect(tlb.usedSlots).toBe(0);
    const clean = freeRuns(tlb);
    tlb.unmapSingle(dev, a, 3000, DMA_FROM_DEVICE, 0);
    expect(freeRuns(tlb)).toEqual(clean);
    expect(tlb.usedSlots).toBe(0);
    expect(rig.stat('kernel.swiotlb.used_slots')).toBe(0);
  });

  test('a sync outside a live mapping warns and copies nothing', () => {
    const { rig, tlb, dev } = setup();
    const a = tlb.mapSingle(dev, HIGH, 3000, DMA_FROM_DEVICE, 0);
    const bounced = rig.stat('kernel.swiotlb.bounced_bytes');
    tlb.syncSingle(dev, a + 2000, 1001, DMA_FROM_DEVICE, 'cpu'); // runs past the 3000 mapped bytes
    tlb.syncSingle(dev, tlb.start + 20 * IO_TLB_SIZE, 16, DMA_FROM_DEVICE, 'cpu');
    expect(rig.kernel.messages('swiotlb', 'warn')).toHaveLength(2);
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(bounced);
    tlb.syncSingle(dev, a + 2000, 1000, DMA_FROM_DEVICE, 'cpu'); // exactly to the end: fine
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(bounced + 1000);
    expect(rig.kernel.messages('swiotlb', 'warn')).toHaveLength(2);
  });
});

describe('bounce copies (CPU memcpy through the linear map)', () => {
  const N = 3000;
  const cases: Array<[string, DmaDataDirection, number, boolean, boolean]> = [
    ['TO_DEVICE: copied in at map, not back at unmap', DMA_TO_DEVICE, 0, true, false],
    ['FROM_DEVICE: not copied in at map, copied back at unmap', DMA_FROM_DEVICE, 0, false, true],
    ['BIDIRECTIONAL: copied both ways', DMA_BIDIRECTIONAL, 0, true, true],
    ['BIDIRECTIONAL with DMA_ATTR_SKIP_CPU_SYNC: no copy either way', DMA_BIDIRECTIONAL, DMA_ATTR_SKIP_CPU_SYNC, false, false],
  ];
  test.each(cases)('%s', (_name, dir, attrs, copyIn, copyBack) => {
    const { rig, tlb, dev } = setup();
    const orig = pattern(N, 3);
    cpuWritePhys(rig, HIGH, orig);
    const a = tlb.mapSingle(dev, HIGH, N, dir, attrs);
    expect(cpuReadPhys(rig, a, N)).toEqual(copyIn ? orig : new Uint8Array(N));
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(copyIn ? N : 0);
    // What the device "writes" into the bounce buffer.
    const written = pattern(N, 4);
    cpuWritePhys(rig, a, written);
    tlb.unmapSingle(dev, a, N, dir, attrs);
    expect(cpuReadPhys(rig, HIGH, N)).toEqual(copyBack ? written : orig);
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe((copyIn ? N : 0) + (copyBack ? N : 0));
  });

  test('a partial sync finds its bytes through the original address of its slot', () => {
    const { rig, tlb, dev } = setup();
    const n = 6000; // 3 slots
    cpuWritePhys(rig, HIGH, pattern(n, 5));
    const a = tlb.mapSingle(dev, HIGH, n, DMA_BIDIRECTIONAL, 0);
    const dev2 = pattern(1000, 6);
    cpuWritePhys(rig, a + 3000, dev2); // slot 1, offset 952
    tlb.syncSingle(dev, a + 3000, 1000, DMA_BIDIRECTIONAL, 'cpu');
    const expected = pattern(n, 5);
    expected.set(dev2, 3000);
    expect(cpuReadPhys(rig, HIGH, n)).toEqual(expected);
    // For the device, the other way: the CPU's new bytes go into slot 2.
    const cpu2 = pattern(500, 7);
    cpuWritePhys(rig, HIGH + 4500, cpu2);
    tlb.syncSingle(dev, a + 4500, 500, DMA_BIDIRECTIONAL, 'device');
    expect(cpuReadPhys(rig, a + 4500, 500)).toEqual(cpu2);
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(n + 1000 + 500);
    // Direction rules: no copy for the CPU of a TO_DEVICE mapping, none for the device of FROM_DEVICE.
    tlb.syncSingle(dev, a, 100, DMA_TO_DEVICE, 'cpu');
    tlb.syncSingle(dev, a, 100, DMA_FROM_DEVICE, 'device');
    expect(rig.stat('kernel.swiotlb.bounced_bytes')).toBe(n + 1000 + 500);
  });

  test('a map of size 0 warns and fails without taking a slot', () => {
    const { rig, tlb, dev } = setup();
    expect(tlb.mapSingle(dev, HIGH, 0, DMA_TO_DEVICE, 0)).toBe(DMA_MAPPING_ERROR);
    expect(tlb.usedSlots).toBe(0);
    expect(rig.kernel.messages('swiotlb', 'warn')).toEqual(['platform dma32: swiotlb_tbl_map_single: bad buffer 0x17fe00000 size 0']);
  });
});
