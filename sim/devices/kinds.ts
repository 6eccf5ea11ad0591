import type { DeviceKindEntry } from '../soc/deviceSpec';
import { cameraDeviceKind } from './camera';
import { descDmaDeviceKind } from './descDma';
import { displayDeviceKind } from './display';
import { dmaDeviceKind } from './dmaEngine';
import { gpuDeviceKind } from './gpuEngine';
import { nicDeviceKind } from './nic';
import { trafficDeviceKind } from './trafficGenerator';

/** The device kinds socsim ships (registered by sim/soc/deviceRegistry.ts at startup). */
export const BUNDLED_DEVICE_KINDS: ReadonlyArray<DeviceKindEntry<never>> = [
  dmaDeviceKind, trafficDeviceKind, gpuDeviceKind, displayDeviceKind, cameraDeviceKind, nicDeviceKind, descDmaDeviceKind,
];
