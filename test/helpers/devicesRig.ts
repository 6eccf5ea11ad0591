import * as path from 'path';
import { createSimContext } from '../../sim/engine/context';
import { Cmd, Status } from '../../sim/bus/transaction';
import type { DmaCopyResult } from '../../sim/devices/dmaEngine';
import { buildSoc, loadSocConfig, type Soc } from '../../sim/soc/builder';
import { bootPlatform, type Platform, type PlatformOptions } from '../../drivers/platform';
import { DeviceContexts, type DeviceBuffer } from '../../drivers/devices/buffers';
import type { DmaDebug } from '../../drivers/dma/debug';
import { IommuDmaOps } from '../../drivers/dma/iommuDma';
import type { NvkmVmm } from '../../drivers/iommu/nvkm';
import { deviceCopy } from './kernelRig';
import { TrafficMaster, type TrafficRequest } from './trafficMaster';
import type { AccessMode } from '../../sim/engine/accessMode';

const REPO = path.join(__dirname, '..', '..');

/** The SoCs the device-driver tests boot: the bundled configs and the DMA test fixture. */
export const SOC_FILES = {
  mobile: path.join(REPO, 'soc-configs', 'mobile.json'),
  'server-io': path.join(REPO, 'soc-configs', 'server-io.json'),
  minimal: path.join(REPO, 'soc-configs', 'minimal.json'),
  'dma-soc': path.join(REPO, 'test', 'fixtures', 'dma-soc.json'),
} as const;
export type SocName = keyof typeof SOC_FILES;

export const PAGE = 4096;

/**
 * Test pattern `seed` of `bytes` bytes: every 4 KiB page is a window of one
 * pseudo-random block, shifted by the page index, so pages differ from each other and
 * from other seeds (built with copies: fast for buffers of several MiB).
 */
export function pattern(bytes: number, seed: number): Uint8Array {
  const block = new Uint8Array(PAGE + 256);
  let x = (Math.imul(seed, 2654435761) + 12345) >>> 0;
  for (let i = 0; i < block.length; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0; // an LCG on 32-bit words (data, not addresses)
    block[i] = x >>> 24;
  }
  const out = new Uint8Array(bytes);
  for (let page = 0; page * PAGE < bytes; page++) {
    const k = page % 251;
    const n = Math.min(PAGE, bytes - page * PAGE);
    out.set(block.subarray(k, k + n), page * PAGE);
  }
  return out;
}

/** What the kernel holds, to compare before and after a buffer's life. */
export interface KernelAccounts {
  /** Buddy free pages plus page-table pages held by IOMMU/CPU io-pgtables and nvkm MMUs (tables may stay allocated after an unmap). */
  freePlusTables: number;
  cmaUsedBytes: number;
  swiotlbUsedSlots: number;
  debugEntries: number;
  iommuDmaLiveMappings: number;
}

/** One outcome of a device read or write: status per chunk and the bytes read. */
export interface DeviceAccess {
  statuses: number[];
  data: Uint8Array;
}

/**
 * A test bus master attached to a device's translation path (`soc.attach`), so its
 * addresses are device addresses: IOVAs and GPU VAs go through the device's IOMMU
 * input (L1/L2 TLBs and the walker, or functionally through the tables), physical
 * addresses through a direct device's DMA-mask check. Accesses are split into
 * 64-byte-aligned chunks (the TrafficMaster's payload size).
 */
export class DeviceMaster {
  private readonly script: TrafficRequest[] = [];
  readonly master: TrafficMaster;

  constructor(private readonly soc: Soc, readonly device: string) {
    const a = soc.attachPoint(device);
    this.master = new TrafficMaster(soc.ctx, `test_${device}`, a.masterId, this.script, 8);
    soc.attach(device, this.master);
  }

  private chunks(addr: number, bytes: number): Array<[number, number]> {
    const out: Array<[number, number]> = [];
    for (let a = addr; a < addr + bytes; ) {
      const n = Math.min(64 - (a % 64), addr + bytes - a);
      out.push([a, n]);
      a += n;
    }
    return out;
  }

  /** Timing-mode accesses run to completion (the engine runs until idle). */
  private run(reqs: TrafficRequest[]): TrafficMaster['completed'] {
    const before = this.master.completed.length;
    this.script.push(...reqs);
    this.master.start();
    this.soc.ctx.engine.runUntilIdle();
    const done = this.master.completed.slice(before);
    if (done.length !== reqs.length) throw new Error(`${this.device}: ${done.length} of ${reqs.length} accesses completed`);
    return done.sort((x, y) => x.addr - y.addr);
  }

  /** Reads `bytes` at device address `addr` in timing mode. */
  read(addr: number, bytes: number): DeviceAccess {
    const cs = this.chunks(addr, bytes);
    const done = this.run(cs.map(([a, n]) => ({ cmd: Cmd.Read, addr: a, size: n })));
    const data = new Uint8Array(bytes);
    for (const d of done) data.set(d.data, d.addr - addr);
    return { statuses: done.map((d) => d.status), data };
  }

  /** Writes `data` at device address `addr` in timing mode; the status of each chunk. */
  write(addr: number, data: Uint8Array): number[] {
    const cs = this.chunks(addr, data.length);
    return this.run(cs.map(([a, n]) => ({ cmd: Cmd.Write, addr: a, size: n, data: data.subarray(a - addr, a - addr + n) }))).map((d) => d.status);
  }

  /** A zero-time read through the page tables (no TLBs): the status of each chunk. */
  functionalRead(addr: number, bytes: number): DeviceAccess {
    const data = new Uint8Array(bytes);
    const statuses = this.chunks(addr, bytes).map(([a, n]) => {
      const r = this.master.functional({ cmd: Cmd.Read, addr: a, size: n });
      data.set(r.data, a - addr);
      return r.status;
    });
    return { statuses, data };
  }
}

/** Every status Ok. */
export function allOk(statuses: number[]): boolean {
  return statuses.length > 0 && statuses.every((s) => s === Status.Ok);
}

/**
 * A bundled SoC (or the DMA fixture) built and booted with `bootPlatform`, with the
 * per-platform driver state the buffer providers share (`DeviceContexts`).
 */
export class DevicesRig {
  readonly soc: Soc;
  readonly platform: Platform;
  readonly contexts: DeviceContexts;
  private readonly masters = new Map<string, DeviceMaster>();
  private readonly gpuVmms: NvkmVmm[] = [];

  constructor(readonly which: SocName, opts: PlatformOptions & { seed?: number; mode?: AccessMode } = {}) {
    const file = SOC_FILES[which];
    const cfg = loadSocConfig(file);
    // Every bus master but the DMA engines is left detached: the tests attach their own
    // masters (DeviceMaster, an instrumented NIC, a scripted core) to its translation path.
    const detached = [...cfg.devices.filter((d) => d.kind !== 'dma').map((d) => d.name), ...cfg.cpuMmus.flatMap((u) => u.cores.map((c) => c.name))];
    this.soc = buildSoc(createSimContext(opts.seed ?? 1), cfg, file, { mode: opts.mode ?? 'timing', detached });
    this.platform = bootPlatform(this.soc, opts);
    this.contexts = new DeviceContexts(this.platform);
  }

  get kernel() {
    return this.platform.kernel;
  }

  get debug(): DmaDebug {
    const d = this.platform.dma.debug;
    if (!d) throw new Error('dma-debug is off');
    return d as DmaDebug;
  }

  stat(name: string): number {
    return this.soc.ctx.stats.value(name);
  }

  /** The GPU's nvkm VMM (created on first use), tracked for the table-page accounts. */
  gpuVmm(device: string): NvkmVmm {
    const vmm = this.contexts.gpuVmm(device);
    if (!this.gpuVmms.includes(vmm)) this.gpuVmms.push(vmm);
    return vmm;
  }

  /** A master on `device`'s translation path (attached once, then reused). */
  master(device: string): DeviceMaster {
    let m = this.masters.get(device);
    if (!m) {
      m = new DeviceMaster(this.soc, device);
      this.masters.set(device, m);
    }
    return m;
  }

  /** Runs a copy on DMA engine `device` (device addresses) to completion. */
  dmaCopy(device: string, src: number, dst: number, bytes: number): DmaCopyResult {
    return deviceCopy(this.soc, device, src, dst, bytes);
  }

  /** Writes pattern `seed` over the buffer's backing in device-address order (DRAM, behind the caches); returns the bytes written. */
  fillBacking(buf: DeviceBuffer, seed: number): Uint8Array {
    const total = buf.backing.reduce((a, [, n]) => a + n, 0);
    const bytes = pattern(total, seed);
    let off = 0;
    for (const [pa, n] of buf.backing) {
      this.platform.kcpu.flushRange(pa, n); // nothing cached may shadow what is written behind the cache
      this.soc.physmem.write(pa, bytes.subarray(off, off + n));
      off += n;
    }
    return bytes.subarray(0, buf.size);
  }

  /** The first `bytes` of the buffer's backing in device-address order, from DRAM. */
  readBacking(buf: DeviceBuffer, bytes = buf.size): Uint8Array {
    const out = new Uint8Array(bytes);
    let off = 0;
    for (const [pa, n] of buf.backing) {
      if (off >= bytes) break;
      const k = Math.min(n, bytes - off);
      this.soc.physmem.read(pa, out, off, k);
      off += k;
    }
    return out;
  }

  /** Physical address of byte `offset` of the buffer, from its backing. */
  backingPa(buf: DeviceBuffer, offset: number): number {
    let off = offset;
    for (const [pa, n] of buf.backing) {
      if (off < n) return pa + off;
      off -= n;
    }
    throw new Error(`offset ${offset} beyond the backing of ${buf.spec.name}`);
  }

  /** What the kernel holds now (see KernelAccounts). */
  accounts(): KernelAccounts {
    const dump = this.soc.ctx.stats.dump();
    let tables = 0;
    for (const [name, v] of Object.entries(dump)) {
      if (/^kernel\.[^.]+\.pgtable\.pages$/.test(name) && typeof v === 'number') tables += v;
    }
    const mmus = new Set(this.gpuVmms.map((v) => v.mmu));
    for (const m of mmus) tables += m.pagesInUse;
    let live = 0;
    for (const d of this.soc.config.devices) {
      let ops: unknown = null;
      try {
        ops = this.platform.dmaDevice(d.name).ops;
      } catch {
        continue; // GPUs behind nv MMUs have no DMA API device
      }
      if (ops instanceof IommuDmaOps) live += ops.liveMappings;
    }
    const p = this.platform;
    return {
      freePlusTables: p.pages.freePageCount + tables,
      cmaUsedBytes: p.cma.usedBytes,
      swiotlbUsedSlots: p.swiotlb?.usedSlots ?? 0,
      debugEntries: p.dma.debug ? (p.dma.debug as DmaDebug).activeEntries().length : 0,
      iommuDmaLiveMappings: live,
    };
  }

  /** Takes every free page of the buddy allocator below `limit` (to make later allocations land above it); returns a function that gives them back. */
  exhaustBelow(limit: number): () => void {
    const held: Array<[number, number]> = [];
    const pages = this.platform.pages;
    for (let order = pages.maxOrder; order >= 0; order--) {
      for (;;) {
        const pa = pages.allocPages(order);
        if (pa === null) break;
        if (pa >= limit) {
          pages.freePages(pa, order);
          break;
        }
        held.push([pa, order]);
      }
    }
    return () => held.forEach(([pa, order]) => pages.freePages(pa, order));
  }
}
