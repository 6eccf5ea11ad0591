import { z } from 'zod';
import { ACCESS_MODES } from '../sim/engine/accessMode';
import { Address, Name, Notes, PositiveInt, Size, Time } from '../sim/soc/schemaTypes';
import { mustBe } from '../sim/engine/spec';
import { MAX_VMID } from '../sim/mmu/walker';
import { JobSchema } from './jobRegistry';
import type { JobConfig } from './jobSpec';

/**
 * The scenario format: which SoC, which seed, how long, and the jobs that run on it.
 * Paths are relative to the scenario file. Each job kind's fields are in its registry
 * entry (scenario/jobKinds/), so `jobs` accepts whatever kinds are registered.
 */

export const FillPattern = z.enum(['random', 'zero', 'incrementing']);

/**
 * Largest buffer or init fill: 1 GiB. Both are allocated, mapped and written before time
 * zero (where --until and Ctrl-C cannot stop them) at about 10 ns of host time per byte,
 * so 1 GiB takes 10-20 s and 2 GiB would look like a hang.
 */
export const MAX_PRELOAD_BYTES = 2 ** 30;
const PreloadSize = Size.refine((v) => v <= MAX_PRELOAD_BYTES, mustBe('at most 1GiB (written before time zero)'));

export const InitFillSchema = z.strictObject({
  kind: z.literal('fill'),
  addr: Address,
  bytes: PreloadSize,
  pattern: FillPattern.default('random').describe('random uses the scenario seed; incrementing writes byte i = i mod 256'),
});

export const BufferSchema = z.strictObject({
  name: Name,
  device: Name.describe('the device whose address space the buffer is mapped into'),
  size: PreloadSize,
  via: z.enum(['dma-alloc-coherent', 'dma-map-single', 'dma-map-sg', 'vcm', 'nvkm', 'physical'])
    .describe('how the driver obtains it: dma_alloc_coherent, a kernel buffer + dma_map_single, pages + dma_map_sg, vcm_make_binding, nvkm_vmm_get + nvkm_vmm_map, or raw physical memory'),
  direction: z.enum(['to-device', 'from-device', 'bidirectional']).default('bidirectional').describe('for dma-map-single and dma-map-sg'),
  pageSize: Size.optional().describe('nvkm: GPU page size (4KiB, a large page, 2MiB)'),
  fill: FillPattern.optional().describe('initial contents (functional write before the run)'),
});

export const HypervisorSchema = z.strictObject({
  vmid: z.number().int().min(1).max(MAX_VMID).default(1).describe(`the guest's VMID (1..${MAX_VMID})`),
  stage2PageSize: Size.refine((v) => v === 4096 || v === 2 ** 21, mustBe('4KiB or 2MiB')).default(2 ** 21)
    .describe('largest page the hypervisor maps guest RAM with at stage 2: 2MiB blocks (3-level stage-2 walks) or 4KiB pages (4 levels; slow to build for large DRAM)'),
});

export const KernelOptionsSchema = z.strictObject({
  iommuStrict: z.boolean().default(true).describe('iommu.strict: invalidate on every unmap (true) or batch through the flush queue (false, lazy)'),
  dmaDebug: z.boolean().default(true).describe('dma-debug checks on'),
  swiotlbSize: Size.optional().describe('swiotlb bounce pool (default 64 MiB, at most DRAM/16)'),
  cmaSize: Size.optional().describe('contiguous region for direct-mapped devices and large GPU pages (default 64 MiB)'),
  iommuPassthrough: z.boolean().optional().describe('iommu.passthrough=1 (default false): devices behind an LPAE IOMMU get the identity domain (their streams bypass translation) and dma-direct, so their DMA addresses are physical; GPUs behind nv MMUs keep their VMM'),
  hypervisor: HypervisorSchema.optional().describe('run the kernel as a guest over a hypervisor: stage 2 maps all of DRAM at IPA = PA, and devices behind an LPAE IOMMU get nested (stage 1 + stage 2) streams (stage 2 only with iommuPassthrough)'),
}).describe('kernel boot options (the platform is booted only when a scenario has buffers or device jobs)');

export const ScenarioSchema = z.strictObject({
  $schema: z.string().optional(),
  name: Name,
  description: z.string().default(''),
  notes: Notes,
  soc: z.union([z.string().min(1), z.looseObject({})]).describe('the SoC: its config file, relative to this scenario, or the SoC config itself (inline; checked as a SoC file, its paths start at soc.)'),
  seed: z.number().int().nonnegative().max(2 ** 32 - 1).default(1).describe('RNG seed: an integer from 0 to 2^32-1'),
  mode: z.enum(ACCESS_MODES).default('timing').describe('timing: every latency and contention; atomic: fast-forward with estimated latencies, no event per access'),
  until: Time.optional().describe('stop at this simulated time; default: when all jobs are done'),
  warmup: Time.default(0).describe('stats are reset at this simulated time'),
  fastForward: Time.refine((t) => t > 0, mustBe('a positive time, e.g. "200us"')).optional()
    .describe('fast-forward: run in atomic mode until this simulated time, then switch every device to timing mode and reset the stats (README: Access modes)'),
  fastForwardAccesses: PositiveInt.optional()
    .describe('fast-forward by count: each job\'s device performs this many atomic accesses (bus transactions), then the run switches to timing mode and resets the stats'),
  kernel: KernelOptionsSchema.default({ iommuStrict: true, dmaDebug: true }),
  init: z.array(InitFillSchema).default([]),
  buffers: z.array(BufferSchema).default([]).describe('device buffers the drivers obtain before the jobs start'),
  jobs: z.array(JobSchema).min(1),
});

export type Scenario = z.output<typeof ScenarioSchema>;
export type Job = JobConfig;
export { JobSchema };
export type InitFill = z.output<typeof InitFillSchema>;
export type BufferConfig = z.output<typeof BufferSchema>;
