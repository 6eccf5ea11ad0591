import { z } from 'zod';
import { Address, Frequency, Name, NonNegativeInt, Notes, PositiveInt, Size } from './schemaTypes';
import { DeviceSchema } from './deviceRegistry';
import type { DeviceCommonConfig } from './deviceSpec';

/**
 * The SoC config format (hardware only; scenarios say what runs). Parsed with zod,
 * which converts sizes/addresses/frequencies to numbers; `cli/write-schema.ts` exports
 * the same schema as `soc-configs/schema.json` for editors. Cross-references (bus
 * names, clocks, overlaps, routes) are checked by the builder.
 */

const DramTimingSchema = z
  .strictObject({
    tRCD: z.number().positive().describe('ACTIVATE to READ/WRITE, ns'),
    tCL: z.number().positive().describe('READ to first data (CAS latency), ns'),
    tRP: z.number().positive().describe('PRECHARGE to ACTIVATE, ns'),
    tRAS: z.number().positive().describe('ACTIVATE to PRECHARGE minimum, ns'),
    tBURST: z.number().positive().describe('data-bus time of one burst, ns'),
  })
  .describe('DRAM timing parameters in nanoseconds');

const MemoryBase = {
  name: Name,
  base: Address,
  size: Size,
  bus: Name.describe('the bus this memory is attached to'),
  clock: Name.describe('clock domain'),
};

export const DramMemorySchema = z.strictObject({
  ...MemoryBase,
  kind: z.literal('dram'),
  channels: PositiveInt,
  banks: PositiveInt.describe('banks per channel (ranks × banks)'),
  rowBytes: Size.describe('row-buffer size per bank'),
  burstBytes: Size.describe('bytes per column burst'),
  mapping: z.string().default('row:bank:channel:column').describe('address interleaving, most-significant field first'),
  queueDepth: PositiveInt.default(32),
  frontendLatencyNs: z.number().nonnegative().default(0),
  timing: DramTimingSchema,
});

export const SramMemorySchema = z.strictObject({
  ...MemoryBase,
  kind: z.enum(['sram', 'mmio']),
  latencyCycles: NonNegativeInt,
  bytesPerCycle: PositiveInt,
  queueDepth: PositiveInt.default(8),
});

export const MemorySchema = z.discriminatedUnion('kind', [DramMemorySchema, SramMemorySchema]);

export const BusSchema = z.strictObject({
  name: Name,
  clock: Name,
  widthBytes: PositiveInt.describe('data bytes per cycle per layer'),
  latencyCycles: NonNegativeInt.describe('request and response path latency, each'),
  arbitration: z.enum(['round-robin', 'fixed-priority']).default('round-robin'),
  inputQueueDepth: PositiveInt.default(8),
  maxOutstandingPerMaster: NonNegativeInt.default(0).describe('0 = unlimited'),
});

export const BridgeSchema = z.strictObject({
  name: Name,
  from: Name.describe('upstream bus (where requests come from)'),
  to: Name.describe('downstream bus'),
  clock: Name,
  latencyCycles: NonNegativeInt,
  queueDepth: PositiveInt.default(8),
});

export const TlbSchema = z.strictObject({
  entries: PositiveInt,
  ways: PositiveInt.describe('ways = entries is fully associative'),
  replacement: z.enum(['lru', 'plru', 'fifo', 'random', 'round-robin']).default('lru'),
  latencyCycles: NonNegativeInt,
  pageSizes: z.array(Size).min(1).describe('page sizes held, e.g. ["4KiB", "2MiB"]'),
  mshrs: PositiveInt.default(4).describe('distinct outstanding misses'),
});

export const WalkCacheSchema = z.strictObject({
  level: z.string().describe('format level whose entries it caches, e.g. "PD0", "L2"'),
  entries: PositiveInt,
  ways: PositiveInt,
  latencyCycles: NonNegativeInt,
});

export const WalkerSchema = z.strictObject({
  slots: PositiveInt.describe('concurrent walks'),
  stepCycles: NonNegativeInt.describe('walker work before each table read'),
  walkCaches: z.array(WalkCacheSchema).default([]),
});

const TranslationUnitBase = {
  name: Name,
  bus: Name.describe('where translated traffic and walks go'),
  clock: Name,
  format: z.string().describe('page-table format: nv-gf100, nv-gf100-64k, nv-gp100, arm-lpae-4k'),
  l1Tlb: TlbSchema.describe('per-device (IOMMU) or data (CPU) L1 TLB'),
  l2Tlb: TlbSchema.describe('shared L2 TLB'),
  walker: WalkerSchema,
  inputQueueDepth: PositiveInt.default(16).describe('requests per device in translation before back-pressure'),
};

export const IommuSchema = z.strictObject({
  ...TranslationUnitBase,
  faultQueueDepth: PositiveInt.default(64),
  commandQueueDepth: PositiveInt.default(64),
  commandCycles: z.strictObject({
    invalidateAll: NonNegativeInt,
    invalidateAsid: NonNegativeInt,
    invalidateRange: NonNegativeInt,
    sync: NonNegativeInt,
  }).describe('cycles each command takes'),
  countStaleTlbHits: z.boolean().default(false).describe(
    'stale-TLB oracle: check every TLB hit against a functional walk of the current page tables and count hits the tables no longer allow (<iommu>.stale_tlb_hits); costs a walk per hit',
  ),
});

export const CpuCacheSchema = z.strictObject({
  sizeBytes: Size.describe('capacity: ways × lineBytes × a power-of-two number of sets'),
  ways: PositiveInt,
  lineBytes: Size.describe('line size (the cache alignment), a power of two'),
  hitLatencyCycles: NonNegativeInt.describe('cycles from request to tag lookup (and a hit\'s response)'),
  mshrs: PositiveInt.default(4).describe('lines being fetched at once'),
}).describe('CPU data cache: PIPT, write-back, write-allocate, LRU');

export const CpuCoreSchema = z.strictObject({
  name: Name,
  maxOutstanding: PositiveInt.default(1).describe('loads (and unposted stores) in flight: 1 = a blocking in-order core'),
  storeBuffer: NonNegativeInt.default(0).describe('posted stores in flight; 0 = stores block like loads'),
  cyclesBetween: NonNegativeInt.default(0).describe('compute cycles before each trace record (added to the trace\'s own gaps)'),
}).describe('a trace-driven CPU core on this MMU (scenarios replay traces on it)');

export const CpuMmuSchema = z.strictObject({
  ...TranslationUnitBase,
  cache: CpuCacheSchema.optional().describe('data cache between this MMU and the bus; none = uncached'),
  cores: z.array(CpuCoreSchema).default([]).describe('CPU cores sharing this MMU\'s L2 TLB, walker and cache'),
});

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
  memories: z.array(MemorySchema).min(1),
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
/** A parsed device entry: the common fields; its kind's own fields are checked by its spec. */
export type DeviceConfig = DeviceCommonConfig & Record<string, unknown>;
export type TlbConfig = z.output<typeof TlbSchema>;
export type IommuConfig = z.output<typeof IommuSchema>;
export type CpuMmuConfig = z.output<typeof CpuMmuSchema>;
export type CpuCacheConfig = z.output<typeof CpuCacheSchema>;
export type CpuCoreConfig = z.output<typeof CpuCoreSchema>;
