import { z } from 'zod';
import { KindRegistry } from '../engine/kindRegistry';
import { BUNDLED_DEVICE_KINDS } from '../devices/kinds';
import type { DeviceCommonConfig, DeviceKindEntry, DeviceModel } from './deviceSpec';

/**
 * The device kinds a SoC config may use (`soc.devices[].kind`), each with its spec and
 * builder. The bundled kinds are registered when this module loads;
 * `registerDeviceKind` adds one at run time (a user's model, or a test's), and the SoC
 * schema accepts it from then on: `DeviceSchema` looks the kinds up at parse time.
 */
const registry = new KindRegistry<DeviceKindEntry>('device kind');

/** Adds a device kind; its name must be new. */
export function registerDeviceKind<C extends DeviceCommonConfig, M extends DeviceModel>(entry: DeviceKindEntry<C, M>): void {
  registry.register(entry as unknown as DeviceKindEntry);
}

/** The entry of device kind `kind` (the SoC schema has checked that it exists). */
export function deviceKind(kind: string): DeviceKindEntry {
  return registry.get(kind);
}

/** The registered kinds, in registration order. */
export function deviceKinds(): DeviceKindEntry[] {
  return registry.all();
}

/** A discriminated union (on `kind`) of every registered kind's spec, as of now. */
export function deviceConfigSchema(): z.ZodType {
  return registry.unionSchema();
}

/** One entry of `soc.devices`, parsed with the kinds registered when it is parsed (issues keep their paths, e.g. `devices[3].fifoBytes`). */
export const DeviceSchema = registry.itemSchema<DeviceCommonConfig>('a device: `kind` selects its model (one of the registered device kinds)');

for (const entry of BUNDLED_DEVICE_KINDS) registerDeviceKind(entry);
