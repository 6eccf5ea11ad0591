import * as path from 'path';
import { createSimContext } from '../../sim/engine/context';
import { MemoryTraceWriter, Tracer, type TraceCategory } from '../../sim/engine/trace';
import { buildSoc, loadSocConfig, type Soc } from '../../sim/soc/builder';
import { bootPlatform, type Platform, type PlatformOptions } from '../../drivers/platform';
import type { DmaDevice } from '../../drivers/dma/device';
import { deviceCopy } from './kernelRig';
import type { DmaCopyResult } from '../../sim/devices/dmaEngine';

export const DMA_SOC = path.join(__dirname, '..', 'fixtures', 'dma-soc.json');
export const DRAM_BASE = 0x8000_0000;
/** DRAM is 4 GiB: [2 GiB, 6 GiB). Addresses from 4 GiB up are beyond a 32-bit mask. */
export const DRAM_END = DRAM_BASE + 4 * 2 ** 30;
export const ABOVE_4G = 0x1_0000_0000;

/**
 * The DMA test SoC (test/fixtures/dma-soc.json) booted: devices dma32 (direct, 32-bit
 * mask), dma64 (direct), dma_coh (direct, IO-coherent), dma_smmu (LPAE SMMU stream 1)
 * and dma_smmu_coh (stream 2, IO-coherent); a CPU MMU with a 32 KiB data cache.
 */
export class DmaRig {
  readonly soc: Soc;
  readonly platform: Platform;
  readonly trace: MemoryTraceWriter | null;

  constructor(opts: PlatformOptions & { seed?: number; trace?: TraceCategory[] } = {}) {
    this.trace = opts.trace ? new MemoryTraceWriter() : null;
    const tracer = this.trace ? new Tracer(this.trace, opts.trace!) : undefined;
    tracer?.start({ configHash: 'dma-soc', seed: opts.seed ?? 1 });
    const ctx = createSimContext(opts.seed ?? 1, tracer);
    this.soc = buildSoc(ctx, loadSocConfig(DMA_SOC), DMA_SOC);
    this.platform = bootPlatform(this.soc, opts);
  }

  dev(name: string): DmaDevice {
    return this.platform.dmaDevice(name);
  }

  get kernel() {
    return this.platform.kernel;
  }

  get cpu() {
    return this.platform.kcpu;
  }

  /** A kernel buffer (kmalloc-like): `bytes` rounded up to pages from the buddy allocator; its linear-map address. */
  kmalloc(bytes: number): number {
    const order = Math.max(0, Math.ceil(Math.log2(Math.ceil(bytes / 4096))));
    const pa = this.platform.pages.allocPages(order);
    if (pa === null) throw new Error('out of pages');
    return this.cpu.physToVirt(pa);
  }

  /** Runs a copy on `device` between device addresses, to completion. */
  copy(device: string, src: number, dst: number, bytes: number): DmaCopyResult {
    return deviceCopy(this.soc, device, src, dst, bytes);
  }

  /** Bytes in DRAM (behind every cache), functionally. */
  peek(pa: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.soc.physmem.read(pa, out);
    return out;
  }

  poke(pa: number, data: Uint8Array): void {
    this.soc.physmem.write(pa, data);
  }

  stat(name: string): number {
    return this.soc.ctx.stats.value(name);
  }
}

export function pattern(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (seed * 31 + i * 7 + ((i >> 3) * 13)) & 0xff;
  return out;
}
