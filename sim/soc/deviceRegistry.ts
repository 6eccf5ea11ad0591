import { z } from 'zod';
import { SimInvariantError } from '../engine/errors';
import { BUNDLED_DEVICE_KINDS } from '../devices/kinds';
import type { DeviceCommonConfig, DeviceKindEntry, DeviceModel } from './deviceSpec';

/**
 * The device kinds a SoC config may use (`soc.devices[].kind`), each with its spec and
 * builder. The bundled kinds are registered when this module loads;
 * `registerDeviceKind` adds one at run time (a user's model, or a test's), and the SoC
 * schema accepts it from then on: `DeviceSchema` looks the kinds up at parse time.
 */
const kinds = new Map<string, DeviceKindEntry>();
let unionCache: z.ZodType | null = null;

/** Adds a device kind; its name must be new. */
export function registerDeviceKind<C extends DeviceCommonConfig, M extends DeviceModel>(entry: DeviceKindEntry<C, M>): void {
  if (kinds.has(entry.kind)) throw new SimInvariantError(`device kind "${entry.kind}" is already registered`);
  kinds.set(entry.kind, entry as unknown as DeviceKindEntry);
  unionCache = null;
}

/** The entry of device kind `kind` (the SoC schema has checked that it exists). */
export function deviceKind(kind: string): DeviceKindEntry {
  const e = kinds.get(kind);
  if (!e) throw new SimInvariantError(`no device kind "${kind}" is registered`);
  return e;
}

/** The registered kinds, in registration order. */
export function deviceKinds(): DeviceKindEntry[] {
  return [...kinds.values()];
}

/** A discriminated union (on `kind`) of every registered kind's spec, as of now. */
export function deviceConfigSchema(): z.ZodType {
  if (!unionCache) {
    const specs = deviceKinds().map((k) => k.spec);
    unionCache = z.discriminatedUnion('kind', specs as unknown as [typeof specs[0], ...typeof specs]);
  }
  return unionCache;
}

/**
 * One entry of `soc.devices`: parsed with the union of the kinds registered when it is
 * parsed (issues keep their paths, e.g. `devices[3].fifoBytes`).
 */
export const DeviceSchema = z.unknown().transform((value, ctx): DeviceCommonConfig => {
  const r = deviceConfigSchema().safeParse(value);
  if (r.success) return r.data as DeviceCommonConfig;
  for (const issue of r.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
  return z.NEVER;
}).describe('a device: `kind` selects its model (one of the registered device kinds)');

for (const entry of BUNDLED_DEVICE_KINDS) registerDeviceKind(entry);
