import * as path from 'path';
import { createSimContext } from '../../sim/engine/context';
import { Status } from '../../sim/bus/transaction';
import type { DmaCopyResult } from '../../sim/devices/dmaEngine';
import { buildSoc, loadSocConfig, type Soc } from '../../sim/soc/builder';
import { Kernel } from '../../drivers/kernel';

export const KERNEL_SOC = path.join(__dirname, '..', 'fixtures', 'kernel-soc.json');
export const DRAM_BASE = 0x8000_0000;
export const DRAM_SIZE = 2 ** 30;

/** A built kernel-test SoC with a Kernel on it (no allocators: tests add what they need). */
export function kernelRig(seed = 1): { soc: Soc; kernel: Kernel } {
  const ctx = createSimContext(seed);
  const soc = buildSoc(ctx, loadSocConfig(KERNEL_SOC), KERNEL_SOC);
  return { soc, kernel: new Kernel(soc) };
}

/**
 * Runs a DMA copy on `device` (addresses as the device sees them: IOVAs behind an IOMMU)
 * until it completes, and returns its result. The device's real translation path is used.
 */
export function deviceCopy(soc: Soc, device: string, src: number, dst: number, bytes: number): DmaCopyResult {
  let result: DmaCopyResult | null = null;
  soc.dma(device).copy(src, dst, bytes, (r) => { result = r; });
  soc.ctx.engine.runUntilIdle();
  if (!result) throw new Error(`copy on ${device} did not complete`);
  return result;
}

export function copyOk(r: DmaCopyResult): boolean {
  return r.status === Status.Ok;
}
