import { z } from 'zod';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import type { RequestPort } from '../bus/port';
import { Address, Cycles, Name, NonNegativeInt, Size } from './schemaTypes';
import { count, MAX_BURST_BYTES, MAX_DEVICE_BUFFER_BYTES, MAX_OUTSTANDING, sizeUpTo } from '../engine/spec';
import type { AccessMode } from '../engine/accessMode';
import { PcieLinkSpec } from '../pcie/linkSpec';

/** Bytes per device transaction: 1 byte to 64 KiB. */
export const BurstBytes = sizeUpTo(MAX_BURST_BYTES, '64 KiB');
/** A device's on-chip buffer (FIFO, line buffer): 1 byte to 256 MiB. */
export const DeviceBufferBytes = sizeUpTo(MAX_DEVICE_BUFFER_BYTES, '256 MiB');
/** Requests a device keeps in flight: 1 to 4096. */
export const Outstanding = count(MAX_OUTSTANDING, '4096');

/**
 * What every device kind shares: the fields common to all devices in a SoC config
 * (`soc.devices[]`) and the shape of a device-kind entry (its spec and how the builder
 * builds it). The registry of kinds is `deviceRegistry.ts`; the bundled entries live
 * next to their models (`sim/devices/*.ts`, listed in `sim/devices/kinds.ts`).
 */

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

/** Fields of every device, whatever its kind. */
export const DeviceBase = {
  name: Name,
  bus: Name.describe('the bus this master is attached to'),
  clock: Name,
  priority: z.number().int().default(0).describe('fixed-priority arbitration: higher wins'),
  translation: TranslationSchema.default({ kind: 'direct', dmaMaskBits: 64 }).describe('how the device reaches memory'),
  coherent: z.boolean().default(false).describe('IO-coherent: snoops the CPU data cache (of the first CPU MMU with one)'),
  snoopLatencyCycles: Cycles.default(2).describe('bus cycles a snoop adds to each access of a coherent device'),
  pcie: PcieLinkSpec.optional().describe('the device sits behind a PCIe link to a root port of rootComplexes[] (sim/pcie/link.ts); without it, on the on-chip bus'),
};

const DeviceBaseSchema = z.object(DeviceBase);
/** The common fields of a parsed device (any kind). */
export type DeviceCommonConfig = z.output<typeof DeviceBaseSchema> & { kind: string };


/** What the builder hands a device kind's `build`. */
export interface DeviceBuildEnv {
  ctx: SimContext;
  /** Stats path of the device: `soc.<name>`. */
  path: string;
  clock: ClockDomain;
  masterId: number;
  /** How the run reaches memory (timing or atomic fast-forward). */
  mode: AccessMode;
}

/** A built device model: a bus master with one request port. */
export interface DeviceModel {
  readonly port: RequestPort;
}

/** The zod schema of one device kind's config entry (common fields + its own). */
export type DeviceSpec = z.ZodType<DeviceCommonConfig, unknown> & z.core.$ZodTypeDiscriminable;

/**
 * One device kind: `spec` validates its hardware parameters (defaults and cross-field
 * rules included; a rule adds an issue with a path relative to the device, so the
 * ConfigError names e.g. `soc.devices[3].fifoBytes`), and `build` constructs the model.
 */
export interface DeviceKindEntry<C = DeviceCommonConfig, M extends DeviceModel = DeviceModel> {
  readonly kind: string;
  readonly spec: DeviceSpec;
  build(env: DeviceBuildEnv, params: C): M;
}

/** The config schema of a device kind: the common fields, `kind`, and its own `fields`. */
export function deviceFields<K extends string, F extends z.ZodRawShape>(kind: K, fields: F) {
  return z.strictObject({ ...DeviceBase, kind: z.literal(kind), ...fields });
}

/**
 * Defines a device kind from its config schema (`deviceFields`), cross-field `rules`
 * (each problem as [field, reason]), a description, and its builder.
 */
export function defineDeviceKind<S extends z.ZodObject, M extends DeviceModel>(def: {
  spec: S;
  describe?: string;
  rules?: (params: z.output<S>) => Array<[string, string]>;
  build: (env: DeviceBuildEnv, params: z.output<S>) => M;
}): DeviceKindEntry<z.output<S>, M> {
  let spec: z.ZodType = def.spec;
  const rules = def.rules;
  if (rules) {
    spec = def.spec.superRefine((d, ctx) => {
      for (const [field, message] of rules(d as z.output<S>)) ctx.addIssue({ code: 'custom', path: [field], message });
    });
  }
  if (def.describe) spec = spec.describe(def.describe);
  const kind = (def.spec.shape as { kind: z.ZodLiteral<string> }).kind.value;
  return { kind, spec: spec as unknown as DeviceSpec, build: def.build };
}
