import { z } from 'zod';
import { Address, Name, Notes, Size, Time } from '../sim/soc/schemaTypes';

/**
 * The scenario format: which SoC, which seed, how long, and the jobs that run on it.
 * Paths are relative to the scenario file. Later issues add more job kinds.
 */

export const FillPattern = z.enum(['random', 'zero', 'incrementing']);

export const InitFillSchema = z.strictObject({
  kind: z.literal('fill'),
  addr: Address,
  bytes: Size,
  pattern: FillPattern.default('random').describe('random uses the scenario seed; incrementing writes byte i = i mod 256'),
});

export const DmaCopyJobSchema = z.strictObject({
  kind: z.literal('dma-copy'),
  name: Name.describe('job name; stats appear under scenario.<name>'),
  device: Name.describe('a DMA engine in the SoC config'),
  src: Address,
  dst: Address,
  bytes: Size,
  at: Time.default(0).describe('simulated time at which the copy is started'),
  verify: z.boolean().default(true).describe('compare destination with source bytes at the end'),
});

const JobBase = {
  name: Name.describe('job name; stats appear under scenario.<name>'),
  at: Time.default(0).describe('simulated time at which the job starts'),
};

export const BufferSchema = z.strictObject({
  name: Name,
  device: Name.describe('the device whose address space the buffer is mapped into'),
  size: Size,
  via: z.enum(['dma-alloc-coherent', 'dma-map-single', 'dma-map-sg', 'vcm', 'nvkm', 'physical'])
    .describe('how the driver obtains it: dma_alloc_coherent, a kernel buffer + dma_map_single, pages + dma_map_sg, vcm_make_binding, nvkm_vmm_get + nvkm_vmm_map, or raw physical memory'),
  direction: z.enum(['to-device', 'from-device', 'bidirectional']).default('bidirectional').describe('for dma-map-single and dma-map-sg'),
  pageSize: Size.optional().describe('nvkm: GPU page size (4KiB, a large page, 2MiB)'),
  fill: FillPattern.optional().describe('initial contents (functional write before the run)'),
});

const WorkloadCommon = {
  accessBytes: Size.describe('bytes per access (a power of two)'),
  readFraction: z.number().min(0).max(1).optional(),
  mix: z.enum(['random', 'exact']).optional(),
  accesses: z.number().int().positive().optional().describe('accesses to issue (default: one pass over the footprint)'),
  offset: Size.default(0).describe('start of the workload inside the buffer'),
  footprint: Size.optional().describe('bytes of the buffer used (default: the rest of the buffer)'),
};

export const WorkloadSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('sequential'), ...WorkloadCommon }),
  z.strictObject({ kind: z.literal('strided'), ...WorkloadCommon, strideBytes: Size }),
  z.strictObject({ kind: z.literal('random'), ...WorkloadCommon }),
  z.strictObject({ kind: z.literal('zipf'), ...WorkloadCommon, theta: z.number().min(0).lt(1) }),
  z.strictObject({ kind: z.literal('ring'), ...WorkloadCommon }),
  z.strictObject({ kind: z.literal('tiled2d'), ...WorkloadCommon, widthBytes: Size, height: z.number().int().positive(), tileWidthBytes: Size, tileHeight: z.number().int().positive() }),
]);

export const TrafficJobSchema = z.strictObject({
  kind: z.literal('traffic'),
  ...JobBase,
  device: Name.describe('a device of kind "traffic" (or "gpu") in the SoC'),
  buffer: Name,
  streams: z.array(WorkloadSchema).min(1),
  ratePerUs: z.number().positive().optional().describe('accesses per microsecond per stream (default: as fast as outstanding requests allow)'),
});

export const GpuJobSchema = z.strictObject({
  kind: z.literal('gpu'),
  ...JobBase,
  device: Name.describe('a device of kind "gpu"'),
  buffer: Name,
  streams: z.number().int().positive().describe('concurrent streams (warps/CTAs)'),
  widthBytes: Size.describe('surface pitch'),
  height: z.number().int().positive(),
  tileWidthBytes: Size,
  tileHeight: z.number().int().positive(),
  accessBytes: Size,
  sharing: z.enum(['slice', 'shared']).default('slice'),
  passes: z.number().int().positive().default(1),
  readFraction: z.number().min(0).max(1).default(1),
});

export const DisplayJobSchema = z.strictObject({
  kind: z.literal('display'),
  ...JobBase,
  device: Name.describe('a device of kind "display"'),
  buffer: Name.describe('the frame buffer'),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  bytesPerPixel: z.number().int().positive(),
  pitchBytes: Size.optional().describe('default width × bytesPerPixel'),
  refreshHz: z.number().positive(),
  frames: z.number().int().positive().optional().describe('stop after this many frames (default: until the run ends)'),
  vblankFraction: z.number().min(0).lt(1).default(0),
});

export const CameraJobSchema = z.strictObject({
  kind: z.literal('camera'),
  ...JobBase,
  device: Name.describe('a device of kind "camera"'),
  buffer: Name.describe('holds `buffers` frames back to back'),
  width: z.number().int().positive(),
  height: z.number().int().positive(),
  bytesPerPixel: z.number().int().positive(),
  fps: z.number().positive(),
  buffers: z.number().int().positive().default(2),
  frames: z.number().int().positive().optional(),
});

export const CpuTraceJobSchema = z.strictObject({
  kind: z.literal('cpu-trace'),
  ...JobBase,
  core: Name.describe('a CPU core declared under cpuMmus[].cores'),
  trace: z.string().min(1).describe('trace file, relative to the scenario: valgrind lackey --trace-mem=yes output or the compact socsim format'),
  includeFetches: z.boolean().default(false).describe('replay instruction fetches (lackey "I" records) as loads'),
});

export const NicRxSchema = z.strictObject({
  ringEntries: z.number().int().positive().multipleOf(8).default(256).describe('receive descriptors (a multiple of 8)'),
  bufferBytes: Size.default(2048).describe('bytes per receive buffer (e1000: 2048)'),
  mapping: z.enum(['per-packet', 'reuse']).default('per-packet')
    .describe('per-packet: dma_unmap_single + dma_map_single for every packet (e1000); reuse: buffers stay mapped and are synced (ixgbe page reuse)'),
  packetBytes: z.number().int().positive().max(65535),
  packetsPerSecond: z.number().positive().describe('offered load on the wire'),
  packets: z.number().int().positive().describe('packets the wire delivers'),
  rogueLagPackets: z.number().int().positive().max(4096).optional()
    .describe('a malicious NIC (Thunderclap): after each packet it also writes to the buffer it used this many packets earlier, which its driver has unmapped'),
}).describe('receive: packets arrive from the wire at a fixed rate');

export const NicTxSchema = z.strictObject({
  ringEntries: z.number().int().positive().multipleOf(8).default(256).describe('transmit descriptors (a multiple of 8)'),
  packetBytes: z.number().int().positive().max(4096).describe('bytes per packet (one page at most)'),
  packetsPerSecond: z.number().positive().describe('rate at which the stack hands packets to the driver'),
  packets: z.number().int().positive(),
}).describe('transmit: the driver maps each packet, the NIC sends it at line rate');

export const NicJobSchema = z.strictObject({
  kind: z.literal('nic'),
  ...JobBase,
  device: Name.describe('a device of kind "nic"; its driver allocates its rings and buffers itself'),
  rx: NicRxSchema.optional(),
  tx: NicTxSchema.optional(),
  interruptEvery: z.number().int().positive().default(1).describe('interrupt moderation: completions per interrupt'),
  interruptDelay: Time.default(10_000_000).describe('moderation timer (e1000 RADV/TADV): an interrupt this long after the first completion not yet signalled; default 10us'),
  verify: z.boolean().default(true).describe('the driver checks each received payload through the CPU'),
});

export const SgCopyJobSchema = z.strictObject({
  kind: z.literal('sg-copy'),
  ...JobBase,
  device: Name.describe('a device of kind "descdma"'),
  bytes: Size.describe('bytes per transfer: a multiple of 4 KiB'),
  transfers: z.number().int().positive().default(1).describe('transfers, each between freshly allocated scattered pages'),
  verify: z.boolean().default(true).describe('compare destination with source through the CPU after each transfer'),
});

export const JobSchema = z.discriminatedUnion('kind', [SgCopyJobSchema, DmaCopyJobSchema, TrafficJobSchema, GpuJobSchema, DisplayJobSchema, CameraJobSchema, CpuTraceJobSchema, NicJobSchema]);

export const KernelOptionsSchema = z.strictObject({
  iommuStrict: z.boolean().default(true).describe('iommu.strict: invalidate on every unmap (true) or batch through the flush queue (false, lazy)'),
  dmaDebug: z.boolean().default(true).describe('dma-debug checks on'),
  swiotlbSize: Size.optional().describe('swiotlb bounce pool (default 64 MiB, at most DRAM/16)'),
  cmaSize: Size.optional().describe('contiguous region for direct-mapped devices and large GPU pages (default 64 MiB)'),
}).describe('kernel boot options (the platform is booted only when a scenario has buffers or device jobs)');

export const ScenarioSchema = z.strictObject({
  $schema: z.string().optional(),
  name: Name,
  description: z.string().default(''),
  notes: Notes,
  soc: z.string().min(1).describe('SoC config file, relative to this scenario'),
  seed: z.number().int().nonnegative().default(1),
  mode: z.enum(['timing', 'atomic']).default('timing').describe('timing: every latency and contention; atomic: fast-forward with estimated latencies, no event per access'),
  until: Time.optional().describe('stop at this simulated time; default: when all jobs are done'),
  warmup: Time.default(0).describe('stats are reset at this simulated time'),
  kernel: KernelOptionsSchema.default({ iommuStrict: true, dmaDebug: true }),
  init: z.array(InitFillSchema).default([]),
  buffers: z.array(BufferSchema).default([]).describe('device buffers the drivers obtain before the jobs start'),
  jobs: z.array(JobSchema).min(1),
});

export type Scenario = z.output<typeof ScenarioSchema>;
export type Job = z.output<typeof JobSchema>;
export type InitFill = z.output<typeof InitFillSchema>;
export type BufferConfig = z.output<typeof BufferSchema>;
export type WorkloadConfig = z.output<typeof WorkloadSchema>;
