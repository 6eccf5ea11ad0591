import { z } from 'zod';
import { Address, Frequency, Name, NonNegativeInt, Notes, PositiveInt, Size } from './schemaTypes';
import { BridgeSpec } from '../bus/bridge';
import { CrossbarSpec } from '../bus/crossbar';
import type { CpuCacheSpec } from '../devices/cpuCache';
import { DramSpec } from '../mem/dram';
import { SramSpec } from '../mem/sram';
import { CpuMmuSpec, type CpuCoreSpec } from '../mmu/cpuMmu';
import { IommuSpec } from '../mmu/iommu';
import type { TlbSpec } from '../mmu/tlb';

/**
 * The SoC config format (hardware only; scenarios say what runs). Parsed with zod,
 * which converts sizes/addresses/frequencies to numbers; `cli/write-schema.ts` exports
 * the same schema as `soc-configs/schema.json` for editors. Infrastructure entries are
 * their model's spec (parameters, defaults, cross-field rules, declared once in the
 * model's module) plus wiring. Cross-references (bus names, clocks, overlaps, routes)
 * are checked by the builder.
 */

const MemoryBase = {
  name: Name,
  base: Address,
  size: Size,
  bus: Name.describe('the bus this memory is attached to'),
  clock: Name.describe('clock domain'),
};

// Infrastructure components: each entry is its model's spec plus its wiring (name, bus,
// clock, region); the spec carries the defaults and the cross-field rules.
export const DramMemorySchema = DramSpec.safeExtend({ ...MemoryBase, kind: z.literal('dram') });

export const SramMemorySchema = SramSpec.safeExtend({ ...MemoryBase, kind: z.enum(['sram', 'mmio']) });

export const MemorySchema = z.discriminatedUnion('kind', [DramMemorySchema, SramMemorySchema]);

/** The kernel's page size: its allocator and linear map work in whole pages. */
const KERNEL_PAGE_BYTES = 4096;

/**
 * The kernel boots on the first DRAM (its page allocator, linear map, CMA and swiotlb
 * live there), so a SoC needs one, starting and ending on a page boundary.
 */
function checkKernelMemory(memories: { kind: string; base: number; size: number }[], ctx: z.RefinementCtx): void {
  const i = memories.findIndex((m) => m.kind === 'dram');
  if (i < 0) {
    ctx.addIssue({ code: 'custom', message: 'needs a memory of kind "dram": the kernel boots on the first one (page allocator, linear map, DMA pools)' });
    return;
  }
  for (const field of ['base', 'size'] as const) {
    const v = memories[i][field];
    if (v % KERNEL_PAGE_BYTES !== 0) {
      ctx.addIssue({ code: 'custom', path: [i, field], message: `must be a multiple of 4 KiB: the kernel boots on the first DRAM and manages it in 4 KiB pages, got ${v}` });
    }
  }
}

const Memories = z.array(MemorySchema).min(1).superRefine(checkKernelMemory).describe('memories; the kernel boots on the first of kind "dram"');

export const BusSchema = CrossbarSpec.safeExtend({ name: Name, clock: Name });

export const BridgeSchema = BridgeSpec.safeExtend({
  name: Name,
  from: Name.describe('upstream bus (where requests come from)'),
  to: Name.describe('downstream bus'),
  clock: Name,
});

const UnitWiring = {
  name: Name,
  bus: Name.describe('where translated traffic and walks go'),
  clock: Name,
};

export const IommuSchema = IommuSpec.safeExtend(UnitWiring);

export const CpuMmuSchema = CpuMmuSpec.safeExtend(UnitWiring);

const DirectTranslation = z.strictObject({
  kind: z.literal('direct'),
  dmaMaskBits: z.number().int().min(1).max(64).default(64).describe('device address bits (DMA mask = 2^bits - 1)'),
  window: z.strictObject({ base: Address, size: Size }).optional().describe('bus window the device can reach'),
});

const IommuTranslation = z.strictObject({
  kind: z.literal('iommu'),
  iommu: Name,
  streamId: NonNegativeInt,
  initialMode: z.enum(['abort', 'bypass']).default('abort').describe('stream state until a driver programs a context'),
});

export const TranslationSchema = z.discriminatedUnion('kind', [DirectTranslation, IommuTranslation]);

const DeviceBase = {
  name: Name,
  bus: Name.describe('the bus this master is attached to'),
  clock: Name,
  priority: z.number().int().default(0).describe('fixed-priority arbitration: higher wins'),
  translation: TranslationSchema.default({ kind: 'direct', dmaMaskBits: 64 }).describe('how the device reaches memory'),
  coherent: z.boolean().default(false).describe('IO-coherent: snoops the CPU data cache (of the first CPU MMU with one)'),
  snoopLatencyCycles: NonNegativeInt.default(2).describe('bus cycles a snoop adds to each access of a coherent device'),
};

export const DmaDeviceSchema = z.strictObject({
  ...DeviceBase,
  kind: z.literal('dma'),
  burstBytes: Size.describe('bytes per read/write transaction'),
  maxOutstanding: PositiveInt.describe('transactions in flight (reads + writes)'),
});

export const TrafficDeviceSchema = z.strictObject({
  ...DeviceBase,
  kind: z.literal('traffic'),
  maxOutstanding: PositiveInt.describe('requests in flight'),
}).describe('a traffic generator: runs the workloads a scenario gives it');

export const GpuDeviceSchema = z.strictObject({
  ...DeviceBase,
  kind: z.literal('gpu'),
  maxOutstanding: PositiveInt.describe('memory requests in flight across all streams'),
}).describe('a GPU-like engine: many concurrent streams sweeping tiled 2D surfaces');

export const DisplayDeviceSchema = z.strictObject({
  ...DeviceBase,
  kind: z.literal('display'),
  burstBytes: Size.describe('bytes per scanout read'),
  maxOutstanding: PositiveInt,
  fifoBytes: Size.describe('pixel FIFO (latency buffer) between memory and the panel'),
}).describe('a display controller scanning a frame buffer at the refresh rate the scenario sets');

export const CameraDeviceSchema = z.strictObject({
  ...DeviceBase,
  kind: z.literal('camera'),
  burstBytes: Size.describe('bytes per write'),
  maxOutstanding: PositiveInt,
  lineBufferBytes: Size.describe('buffer between the sensor and memory; a line that does not fit is dropped'),
}).describe('a camera/ISP writing frames at the frame rate the scenario sets');

export const NicDeviceSchema = z.strictObject({
  ...DeviceBase,
  kind: z.literal('nic'),
  burstBytes: Size.describe('bytes per DMA transaction'),
  maxOutstanding: PositiveInt,
  lineRateGbps: z.number().positive().describe('wire speed (transmit pacing)'),
  rxFifoBytes: Size.describe('receive packet buffer on the NIC; packets that do not fit are missed'),
}).describe('a NIC with e1000-style RX/TX descriptor rings in memory');

export const DescDmaDeviceSchema = z.strictObject({
  ...DeviceBase,
  kind: z.literal('descdma'),
  burstBytes: Size,
  maxOutstanding: PositiveInt,
}).describe('a DMA engine driven by linked descriptors (scatter-gather) in memory');

export const DeviceSchema = z.discriminatedUnion('kind', [
  DmaDeviceSchema, TrafficDeviceSchema, GpuDeviceSchema, DisplayDeviceSchema, CameraDeviceSchema, NicDeviceSchema, DescDmaDeviceSchema,
]);

export const SocConfigSchema = z.strictObject({
  $schema: z.string().optional(),
  name: Name,
  description: z.string().default(''),
  notes: Notes,
  clocks: z.record(Name, Frequency).describe('clock domains: name → frequency'),
  memories: Memories,
  buses: z.array(BusSchema).min(1),
  bridges: z.array(BridgeSchema).default([]),
  iommus: z.array(IommuSchema).default([]),
  cpuMmus: z.array(CpuMmuSchema).default([]),
  devices: z.array(DeviceSchema).default([]),
});

export type SocConfig = z.output<typeof SocConfigSchema>;
export type MemoryConfig = z.output<typeof MemorySchema>;
export type DramMemoryConfig = z.output<typeof DramMemorySchema>;
export type BusConfig = z.output<typeof BusSchema>;
export type BridgeConfig = z.output<typeof BridgeSchema>;
export type DeviceConfig = z.output<typeof DeviceSchema>;
export type TlbConfig = z.output<typeof TlbSpec>;
export type IommuConfig = z.output<typeof IommuSchema>;
export type CpuMmuConfig = z.output<typeof CpuMmuSchema>;
export type CpuCacheConfig = z.output<typeof CpuCacheSpec>;
export type CpuCoreConfig = z.output<typeof CpuCoreSpec>;
