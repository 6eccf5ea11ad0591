import * as fs from 'fs';
import * as path from 'path';
import { createSimContext } from '../../../sim/engine/context';
import { DescDma } from '../../../sim/devices/descDma';
import { decodeSgDesc, SG_DESC_BYTES, SGD_CTRL_IRQ, SGD_CTRL_LAST, type SgDesc } from '../../../sim/devices/descriptors';
import { buildSoc, loadSocConfig, validateSocConfig, type Soc } from '../../../sim/soc/builder';
import { SocConfigSchema } from '../../../sim/soc/schema';
import { DescDmaDriver, type DescDmaDriverOptions, type DescDmaResult } from '../../../drivers/devices/descDmaDriver';
import { KernelError } from '../../../drivers/errno';
import { IOMMU_READ } from '../../../drivers/iommu/ioPgtableArm';
import { bootPlatform, type Platform } from '../../../drivers/platform';
import type { DmaDebug } from '../../../drivers/dma/debug';
import { sgInitTable, sgSetPage, type ScatterlistEntry } from '../../../drivers/dma/types';

const SERVER_IO = path.join(__dirname, '..', '..', '..', 'soc-configs', 'server-io.json');
const DEV = 'storage';
const PAGE = 4096;
const TOTAL = 3 * PAGE;
/** Pool stats of the driver's descriptor pool. */
const POOL = `kernel.dmapool.${DEV}-desc`;

interface Rig {
  soc: Soc;
  platform: Platform;
  hw: DescDma;
  driver: DescDmaDriver;
  /** Device addresses the driver started chains at, in order. */
  starts: number[];
  stat(name: string): number;
  run(): void;
}

/**
 * server-io.json booted, its `storage` descdma model built as cli/deviceJobs.ts builds
 * device models. 'iommu' is the SoC as shipped (storage behind the IOMMU, stream 2);
 * 'direct' is the same SoC with storage direct-mapped with a 32-bit DMA mask and no
 * swiotlb (so a buffer above 4 GiB cannot be mapped).
 */
function rig(variant: 'iommu' | 'direct', opts: DescDmaDriverOptions = {}): Rig {
  const ctx = createSimContext(1);
  let soc: Soc;
  if (variant === 'iommu') {
    soc = buildSoc(ctx, loadSocConfig(SERVER_IO), SERVER_IO);
  } else {
    const raw = JSON.parse(fs.readFileSync(SERVER_IO, 'utf8'));
    raw.name = 'server_io_direct_storage';
    raw.devices.find((d: { name: string }) => d.name === DEV).translation = { kind: 'direct', dmaMaskBits: 32 };
    const cfg = SocConfigSchema.parse(raw);
    validateSocConfig(cfg, '<server-io, storage direct>');
    soc = buildSoc(ctx, cfg, '<server-io, storage direct>');
  }
  const platform = bootPlatform(soc, variant === 'direct' ? { swiotlbSize: 0 } : {});
  const hw = soc.model(DEV, DescDma);
  const starts: number[] = [];
  const start = hw.start.bind(hw);
  hw.start = (addr: number) => {
    starts.push(addr);
    return start(addr);
  };
  const driver = new DescDmaDriver(platform, DEV, hw, opts);
  return {
    soc, platform, hw, driver, starts,
    stat: (name) => ctx.stats.value(name),
    run: () => {
      ctx.engine.runUntilIdle();
    },
  };
}

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_v, i) => (seed * 29 + i * 7 + (i >> 8) * 5) & 0xff);
}

function cpuWrite(r: Rig, pa: number, data: Uint8Array): void {
  r.platform.kcpu.write(r.platform.kcpu.physToVirt(pa), data);
}

function cpuRead(r: Rig, pa: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  r.platform.kcpu.read(r.platform.kcpu.physToVirt(pa), out);
  return out;
}

function allocPages(r: Rig, order: number): number {
  const pa = r.platform.pages.allocPages(order);
  if (pa === null) throw new Error('out of pages');
  return pa;
}

/**
 * The copy every test uses. Source: three whole pages, not adjacent and out of address
 * order. Destination: the second half of a page, an 8 KiB block (two contiguous pages),
 * the first half of another page. Boundaries in the 12 KiB stream: source at 4096 and
 * 8192, destination at 2048 and 10240, so five pieces when nothing merges. Behind the
 * IOMMU both lists merge into one IOVA segment each (whole pages, or ending/starting on
 * a page boundary), so one piece.
 */
interface Copy {
  src: ScatterlistEntry[];
  dst: ScatterlistEntry[];
  srcPages: number[];
  /** Physical address and length of each destination entry. */
  dstParts: Array<{ pa: number; len: number }>;
  data: Uint8Array;
  /** Destination pages with their guard bytes (the parts outside the entries). */
  d0: number;
  d2: number;
}

function makeCopy(r: Rig, seed: number): Copy {
  // One 16-page block carved by hand, so that no two buffers touch: source pages 8, 0
  // and 4 (out of address order), destination pages 2, 10-11 and 14.
  const block = allocPages(r, 4);
  const pg = (i: number) => block + i * PAGE;
  const srcPages = [pg(8), pg(0), pg(4)];
  const d0 = pg(2);
  const d1 = pg(10);
  const d2 = pg(14);
  const data = pattern(TOTAL, seed);
  const src = sgInitTable(3);
  srcPages.forEach((pa, i) => {
    sgSetPage(src[i], pa, PAGE, 0);
    cpuWrite(r, pa, data.subarray(i * PAGE, (i + 1) * PAGE));
  });
  const dst = sgInitTable(3);
  sgSetPage(dst[0], d0, PAGE / 2, PAGE / 2);
  sgSetPage(dst[1], d1, 2 * PAGE, 0);
  sgSetPage(dst[2], d2, PAGE / 2, 0);
  // Stale, dirty CPU lines over the destination: the mapping must not let them win.
  for (const pa of [d0, d1, d1 + PAGE, d2]) cpuWrite(r, pa, new Uint8Array(PAGE).fill(0x55));
  return {
    src, dst, srcPages, data, d0, d2,
    dstParts: [{ pa: d0 + PAGE / 2, len: PAGE / 2 }, { pa: d1, len: 2 * PAGE }, { pa: d2, len: PAGE / 2 }],
  };
}

/** The destination as the CPU reads it, entries concatenated. */
function readDst(r: Rig, c: Copy): Uint8Array {
  const out = new Uint8Array(TOTAL);
  let off = 0;
  for (const p of c.dstParts) {
    out.set(cpuRead(r, p.pa, p.len), off);
    off += p.len;
  }
  return out;
}

function expectGuards(r: Rig, c: Copy): void {
  expect(cpuRead(r, c.d0, PAGE / 2)).toEqual(new Uint8Array(PAGE / 2).fill(0x55));
  expect(cpuRead(r, c.d2 + PAGE / 2, PAGE / 2)).toEqual(new Uint8Array(PAGE / 2).fill(0x55));
}

function submit(r: Rig, c: Copy, results: DescDmaResult[]): void {
  r.driver.memcpySg(c.src, 3, c.dst, 3, (res) => results.push(res));
}

/** Streaming mappings dma-debug tracks for the device (coherent ones are the pool's pages). */
function streamingEntries(r: Rig): number {
  const dev = r.platform.dmaDevice(DEV);
  return (r.platform.dma.debug as DmaDebug).activeEntries(dev).filter((e) => e.type !== 'coherent').length;
}

/** Reads the chain from DRAM behind every cache, following `next` from the first descriptor's physical address. */
function readChain(r: Rig, firstPa: number, toPa: (dma: number) => number): SgDesc[] {
  const out: SgDesc[] = [];
  const buf = new Uint8Array(SG_DESC_BYTES);
  let pa = firstPa;
  for (;;) {
    r.soc.physmem.read(pa, buf);
    const d = decodeSgDesc(buf);
    out.push(d);
    if (d.next === 0 || out.length > 16) return out;
    pa = toPa(d.next);
  }
}

describe('DescDmaDriver on a direct-mapped engine', () => {
  test('five pieces become a five-descriptor chain written through the CPU, and the bytes arrive', () => {
    const r = rig('direct');
    r.driver.probe();
    const c = makeCopy(r, 1);
    const results: DescDmaResult[] = [];
    submit(r, c, results);
    expect(r.driver.busy).toBe(true);
    expect(r.starts).toHaveLength(1);
    // Before the engine runs: the chain is in DRAM (written uncached), one descriptor per piece.
    const [s0, s1, s2] = c.srcPages;
    const [p0, p1, p2] = c.dstParts.map((p) => p.pa);
    const chain = readChain(r, r.starts[0], (dma) => dma);
    expect(chain.map(({ src, dst, len }) => ({ src, dst, len }))).toEqual([
      { src: s0, dst: p0, len: 2048 },
      { src: s0 + 2048, dst: p1, len: 2048 },
      { src: s1, dst: p1 + 2048, len: 4096 },
      { src: s2, dst: p1 + 6144, len: 2048 },
      { src: s2 + 2048, dst: p2, len: 2048 },
    ]);
    expect(chain.map((d) => d.control)).toEqual([0, 0, 0, 0, SGD_CTRL_LAST | SGD_CTRL_IRQ]);
    expect(r.stat(`${POOL}.blocks_in_use`)).toBe(5);
    // dma-debug tracks each scatterlist entry: three per list.
    expect(streamingEntries(r)).toBe(6);

    r.run();
    expect(results).toEqual([{ bytes: TOTAL, descriptors: 5, error: null }]);
    expect(readDst(r, c)).toEqual(c.data);
    expectGuards(r, c);
    expect(r.stat(`soc.${DEV}.descriptors`)).toBe(5);
    expect(r.stat(`soc.${DEV}.chains`)).toBe(1);
    expect(r.stat(`kernel.${DEV}.driver.transfers`)).toBe(1);
    expect(r.stat(`kernel.${DEV}.driver.descriptors`)).toBe(5);
    expect(r.stat(`kernel.${DEV}.driver.bytes`)).toBe(TOTAL);
    expect(r.stat(`kernel.${DEV}.driver.errors`)).toBe(0);
    expect(r.driver.busy).toBe(false);
    expect(r.stat(`${POOL}.blocks_in_use`)).toBe(0);
    expect(streamingEntries(r)).toBe(0);
    expect(r.stat('kernel.dma_debug.errors')).toBe(0);
    expect(r.stat('kernel.warnings')).toBe(0);
  });

  test('a destination beyond the DMA mask fails the mapping: ENOMEM, the source is unmapped, the engine never starts', () => {
    const r = rig('direct');
    r.driver.probe();
    const c = makeCopy(r, 2);
    // A page above 4 GiB (the allocator hands out low pages first, so take one there).
    const high = 0x1_8000_0000;
    r.platform.pages.reserve(high, PAGE);
    sgSetPage(c.dst[2], high, PAGE / 2, 0);
    const results: DescDmaResult[] = [];
    submit(r, c, results);
    // Called before memcpySg returned.
    expect(results).toEqual([{ bytes: 0, descriptors: 0, error: 'ENOMEM' }]);
    expect(r.starts).toHaveLength(0);
    expect(r.driver.busy).toBe(false);
    expect(streamingEntries(r)).toBe(0);
    expect(r.stat(`${POOL}.blocks_in_use`)).toBe(0);
    expect(r.platform.kernel.messages('dma-direct')).toEqual([expect.stringMatching(/overflow/)]);
    expect(r.stat('kernel.dma_debug.errors')).toBe(0);
    expect(r.stat(`kernel.${DEV}.driver.transfers`)).toBe(1);
    expect(r.stat(`kernel.${DEV}.driver.errors`)).toBe(1);
    expect(r.stat(`kernel.${DEV}.driver.descriptors`)).toBe(0);
    // The driver is still usable: the same lists with a good page copy fine.
    sgSetPage(c.dst[2], c.d2, PAGE / 2, 0);
    submit(r, c, results);
    r.run();
    expect(results[1]).toEqual({ bytes: TOTAL, descriptors: 5, error: null });
    expect(readDst(r, c)).toEqual(c.data);
  });

  test('maxDescriptorBytes splits long pieces', () => {
    const r = rig('direct', { maxDescriptorBytes: 1024 });
    r.driver.probe();
    const c = makeCopy(r, 3);
    const results: DescDmaResult[] = [];
    submit(r, c, results);
    r.run();
    // Pieces 2048, 2048, 4096, 2048, 2048 in 1 KiB descriptors.
    expect(results).toEqual([{ bytes: TOTAL, descriptors: 12, error: null }]);
    expect(r.stat(`soc.${DEV}.descriptors`)).toBe(12);
    expect(readDst(r, c)).toEqual(c.data);
  });
});

describe('DescDmaDriver behind the IOMMU (server-io)', () => {
  test('merged segments make one descriptor; the bytes arrive', () => {
    const r = rig('iommu');
    r.driver.probe();
    const c = makeCopy(r, 4);
    const results: DescDmaResult[] = [];
    submit(r, c, results);
    expect(c.src[0].dmaLength).toBe(TOTAL);
    expect(c.dst[0].dmaLength).toBe(TOTAL);
    r.run();
    expect(results).toEqual([{ bytes: TOTAL, descriptors: 1, error: null }]);
    expect(readDst(r, c)).toEqual(c.data);
    expectGuards(r, c);
    expect(r.stat(`soc.${DEV}.descriptors`)).toBe(1);
    expect(r.stat(`kernel.${DEV}.driver.descriptors`)).toBe(1);
    expect(r.stat(`kernel.${DEV}.driver.bytes`)).toBe(TOTAL);
    expect(r.soc.iommu('iommu').faults).toHaveLength(0);
    expect(streamingEntries(r)).toBe(0);
    expect(r.stat('kernel.dma_debug.errors')).toBe(0);

    // The same copy on the direct-mapped engine takes five descriptors.
    const d = rig('direct');
    d.driver.probe();
    const dr: DescDmaResult[] = [];
    submit(d, makeCopy(d, 4), dr);
    d.run();
    expect(dr[0].descriptors).toBe(5);
    expect(results[0].descriptors).toBeLessThan(dr[0].descriptors);
  });

  test('pool blocks are reused: one pool page across transfers; queued requests run in FIFO order', () => {
    const r = rig('iommu', { maxDescriptorBytes: 2048 });
    r.driver.probe();
    const order: string[] = [];
    const copies: Copy[] = [];
    for (let i = 0; i < 3; i++) {
      const c = makeCopy(r, 10 + i);
      copies.push(c);
      r.driver.memcpySg(c.src, 3, c.dst, 3, (res) => {
        order.push(`${i}:${res.bytes}:${res.descriptors}:${res.error}`);
        expect(readDst(r, c)).toEqual(c.data);
      });
      expect(r.stat(`${POOL}.blocks_in_use`)).toBe(6 * (i + 1));
    }
    expect(r.driver.queued).toBe(2);
    expect(r.starts).toHaveLength(1);
    r.run();
    expect(order).toEqual([`0:${TOTAL}:6:null`, `1:${TOTAL}:6:null`, `2:${TOTAL}:6:null`]);
    expect(r.starts).toHaveLength(3);
    // Three more, one at a time: still the same pool page, the same blocks.
    for (let i = 0; i < 3; i++) {
      const c = makeCopy(r, 20 + i);
      const res: DescDmaResult[] = [];
      submit(r, c, res);
      r.run();
      expect(res).toEqual([{ bytes: TOTAL, descriptors: 6, error: null }]);
    }
    expect(r.stat(`${POOL}.pages`)).toBe(1);
    expect(r.stat(`${POOL}.blocks_in_use`)).toBe(0);
    const poolPage = r.starts.map((a) => Math.floor(a / PAGE));
    expect(new Set(poolPage).size).toBe(1);
    // Last freed, first reused: a chain frees its blocks first to last, so the next one
    // takes them back last to first and starts where the previous one ended; the one
    // after that starts where the first one did.
    expect(r.starts[5]).toBe(r.starts[3]);
    expect(r.starts[4]).not.toBe(r.starts[3]);
    expect(r.stat(`kernel.${DEV}.driver.transfers`)).toBe(6);
    expect(r.stat(`soc.${DEV}.descriptors`)).toBe(36);
  });

  // server-io's storage engine sits behind PCIe (Gen3 x4): its writes are posted, so an
  // IOMMU fault on one cannot reach the device (PCIe has no completion for a posted
  // write). The IOMMU records the fault and the link counts it; the device reports the
  // copy done; the faulted bytes never land.
  test('an IOMMU fault on the destination of posted writes: the device is not told, the IOMMU and the link count it, the bytes never land, nothing leaked', () => {
    // 4 KiB descriptors: three pieces, the last writes IOVA pages 2 and 3 of the destination.
    const r = rig('iommu', { maxDescriptorBytes: PAGE });
    r.driver.probe();
    const c = makeCopy(r, 5);
    const results: DescDmaResult[] = [];
    submit(r, c, results);
    // Behind the driver's back, make the destination's last IOVA page read-only.
    const p = r.platform.platdata(DEV);
    if (p.kind !== 'iommu') throw new Error('storage is not behind the IOMMU');
    const lastPage = Math.floor((c.dst[0].dmaAddress + c.dst[0].dmaLength - 1) / PAGE) * PAGE;
    const pa = p.domain.iovaToPhys(lastPage);
    expect(pa).toBe(c.d2);
    expect(p.domain.unmap(lastPage, PAGE)).toBe(PAGE);
    expect(p.domain.map(lastPage, c.d2, PAGE, IOMMU_READ)).toBe(0);

    r.run();
    expect(results).toEqual([{ bytes: 3 * PAGE, descriptors: 3, error: null }]);
    const faults = r.soc.iommu('iommu').faults;
    expect(faults.length).toBeGreaterThan(0);
    expect(faults.every((f) => f.access === 'write' && f.address >= lastPage && f.address < lastPage + PAGE)).toBe(true);
    expect(r.stat(`soc.${DEV}.pcie.posted_errors`)).toBe(r.stat(`soc.iommu.${DEV}.faults`));
    expect(r.stat(`soc.${DEV}.pcie.posted_errors`)).toBeGreaterThan(0);
    // The pieces before the fault arrived; the faulted page kept its old bytes.
    expect(readDst(r, c).subarray(0, 2 * PAGE)).toEqual(c.data.subarray(0, 2 * PAGE));
    expect(cpuRead(r, c.d2, PAGE / 2)).toEqual(new Uint8Array(PAGE / 2).fill(0x55));
    expect(r.stat(`kernel.${DEV}.driver.errors`)).toBe(0);
    expect(r.stat(`kernel.${DEV}.driver.bytes`)).toBe(3 * PAGE);
    expect(r.stat(`${POOL}.blocks_in_use`)).toBe(0);
    expect(streamingEntries(r)).toBe(0);
    expect(r.stat('kernel.dma_debug.errors')).toBe(0);
    expect(r.stat('kernel.warnings')).toBe(0);
    // The channel recovers.
    const c2 = makeCopy(r, 6);
    const res2: DescDmaResult[] = [];
    submit(r, c2, res2);
    r.run();
    expect(res2).toEqual([{ bytes: TOTAL, descriptors: 3, error: null }]);
    expect(readDst(r, c2)).toEqual(c2.data);
  });

  test('remove refuses while busy, then destroys the pool and unbinds with nothing left', () => {
    const r = rig('iommu');
    r.driver.probe();
    const dev = r.platform.dmaDevice(DEV);
    expect(dev.driverName).toBe('descdma');
    const c = makeCopy(r, 7);
    const results: DescDmaResult[] = [];
    submit(r, c, results);
    expect(() => r.driver.remove()).toThrow(KernelError);
    try {
      r.driver.remove();
    } catch (e) {
      expect((e as KernelError).errnoName).toBe('EBUSY');
    }
    expect(r.stat(`${POOL}.pages`)).toBe(1);
    r.run();
    expect(results).toEqual([{ bytes: TOTAL, descriptors: 1, error: null }]);
    expect(readDst(r, c)).toEqual(c.data);
    r.driver.remove();
    expect(dev.driverName).toBeNull();
    expect(r.stat(`${POOL}.pages`)).toBe(0);
    expect((r.platform.dma.debug as DmaDebug).activeEntries(dev)).toHaveLength(0);
    expect(dev.coherentAllocations.size).toBe(0);
    expect(r.stat('kernel.dma_debug.errors')).toBe(0);
    expect(() => submit(r, c, results)).toThrow(/ENODEV/);
  });

  test('bad arguments throw EINVAL and map nothing', () => {
    const r = rig('iommu');
    r.driver.probe();
    const c = makeCopy(r, 8);
    const results: DescDmaResult[] = [];
    // Two source pages against the whole destination.
    expect(() => r.driver.memcpySg(c.src, 2, c.dst, 3, (res) => results.push(res))).toThrow(/EINVAL.*8192 bytes, destination 12288/);
    expect(() => r.driver.memcpySg(c.src, 4, c.dst, 3, (res) => results.push(res))).toThrow(/EINVAL/);
    expect(() => r.driver.memcpySg(c.src, 0, c.dst, 3, (res) => results.push(res))).toThrow(/EINVAL/);
    expect(results).toHaveLength(0);
    expect(streamingEntries(r)).toBe(0);
    expect(r.starts).toHaveLength(0);
    expect(r.stat(`kernel.${DEV}.driver.transfers`)).toBe(0);
  });
});
