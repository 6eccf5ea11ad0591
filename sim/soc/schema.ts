import { z } from 'zod';
import { Address, Frequency, Name, Notes, Size } from './schemaTypes';
import { BridgeSpec } from '../bus/bridge';
import { CrossbarSpec } from '../bus/crossbar';
import type { CpuCacheSpec } from '../devices/cpuCache';
import { DramSpec } from '../mem/dramSpec';
import { SramSpec } from '../mem/sram';
import { CpuMmuSpec, type CpuCoreSpec } from '../mmu/cpuMmu';
import { IommuSpec } from '../mmu/iommu';
import { RootComplexParamsSpec } from '../pcie/rootComplex';
import type { TlbSpec } from '../mmu/tlb';
import { DeviceSchema } from './deviceRegistry';
import type { DeviceCommonConfig } from './deviceSpec';

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

/** A PCIe root complex: devices with a `pcie` entry reach their translation path through one of its root ports. */
export const RootComplexSchema = RootComplexParamsSpec.safeExtend({ name: Name, clock: Name });

// Devices: the common fields and the translation schema are in deviceSpec.ts; each
// kind's own fields are in its registry entry (deviceRegistry.ts), so `devices` accepts
// whatever kinds are registered when a config is parsed.
export { TranslationSchema } from './deviceSpec';
export { DeviceSchema };

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
  rootComplexes: z.array(RootComplexSchema).default([]).describe('PCIe root complexes (sim/pcie/rootComplex.ts); a device joins one with its `pcie` entry'),
  devices: z.array(DeviceSchema).default([]),
});

export type SocConfig = z.output<typeof SocConfigSchema>;
export type MemoryConfig = z.output<typeof MemorySchema>;
export type DramMemoryConfig = z.output<typeof DramMemorySchema>;
export type BusConfig = z.output<typeof BusSchema>;
export type BridgeConfig = z.output<typeof BridgeSchema>;
/** A parsed device entry: the common fields; its kind's own fields are checked by its spec. */
export type DeviceConfig = DeviceCommonConfig & Record<string, unknown>;
export type TlbConfig = z.output<typeof TlbSpec>;
export type IommuConfig = z.output<typeof IommuSchema>;
export type CpuMmuConfig = z.output<typeof CpuMmuSchema>;
export type RootComplexConfig = z.output<typeof RootComplexSchema>;
export type CpuCacheConfig = z.output<typeof CpuCacheSpec>;
export type CpuCoreConfig = z.output<typeof CpuCoreSpec>;
