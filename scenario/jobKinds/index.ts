import type { JobKindEntry } from '../jobSpec';
import { cameraJobKind } from './camera';
import { cpuTraceJobKind } from './cpuTrace';
import { displayJobKind } from './display';
import { dmaCopyJobKind } from './dmaCopy';
import { gpuJobKind } from './gpu';
import { nicJobKind } from './nic';
import { sgCopyJobKind } from './sgCopy';
import { trafficJobKind } from './traffic';

/** The job kinds socsim ships (registered by scenario/jobRegistry.ts at startup). */
export const BUNDLED_JOB_KINDS: ReadonlyArray<JobKindEntry<never>> = [
  sgCopyJobKind, dmaCopyJobKind, trafficJobKind, gpuJobKind, displayJobKind, cameraJobKind, cpuTraceJobKind, nicJobKind,
];
