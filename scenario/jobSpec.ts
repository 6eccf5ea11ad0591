import { z } from 'zod';
import { KernelError } from '../drivers/errno';
import type { SimContext } from '../sim/engine/context';
import { SimInvariantError } from '../sim/engine/errors';
import type { Soc } from '../sim/soc/builder';
import type { DeviceConfig, SocConfig } from '../sim/soc/schema';
import { Name, Time } from '../sim/soc/schemaTypes';
import type { DeviceBuffer } from '../drivers/devices/buffers';
import type { Platform } from '../drivers/platform';
import type { JobResult, RunningJob } from './jobTypes';
import type { AccessMode } from '../sim/engine/accessMode';

/**
 * What a job kind is (scenario `jobs[].kind`): its spec, the devices it runs on, its
 * load-time check against the SoC, and how it starts. The registry is
 * `jobRegistry.ts`; the bundled kinds are in `scenario/jobKinds/`.
 */

/** Fields of every job. */
export const JobBase = {
  name: Name.describe('job name; stats appear under scenario.<name>'),
  at: Time.default(0).describe('simulated time at which the job starts'),
};

/** A parsed job of any kind: the common fields; its kind's own fields are checked by its spec. */
export interface JobConfig {
  kind: string;
  name: string;
  at: number;
  [field: string]: unknown;
}

/** A problem a check found: the path inside the job (e.g. ['rx', 'packetsPerSecond']) and the reason. */
export type JobIssue = [path: (string | number)[], reason: string];

/** What a job's check sees of the scenario and the SoC. */
export interface JobCheckContext {
  soc: SocConfig;
  /** The scenario's stop time, if any. */
  until: number | undefined;
  /** Directory of the scenario file (relative paths in jobs). */
  scenarioDir: string;
  /** The SoC config entry of the device the job runs on (checked to exist and be of the job's kinds). */
  device: DeviceConfig | null;
  /** The page-table format the device is behind: 'direct' or an IOMMU format name. */
  deviceFormat: string;
  /** Whether the kernel gives the device DMA-API ops (direct-mapped, or an io-pgtable IOMMU; not a GPU MMU driven by nvkm). */
  deviceUsesDmaApi: boolean;
  /** The buffer `name`, which must belong to the job's device, or an issue at `path`. */
  buffer(name: string, path: (string | number)[]): { size: number } | JobIssue;
}

/** Everything a job needs when it starts. */
export interface JobEnv {
  ctx: SimContext;
  soc: Soc;
  mode: AccessMode;
  /** The booted kernel (null when no job or buffer needed it). */
  platform: Platform | null;
  buffers: Map<string, DeviceBuffer>;
  /** Directory of the scenario file (trace paths are relative to it). */
  scenarioDir: string;
  /** Called when the run ends (process exit, driver remove). */
  atExit: Array<() => void>;
}

/** On what a job runs: a device of `kinds` named by field `device`, or a CPU core named by `core`. */
export type JobTarget =
  | { field: 'device'; kinds: readonly string[]; exclusive: boolean }
  | { field: 'core'; exclusive: boolean };

export interface JobKindEntry<J extends JobConfig = JobConfig> {
  readonly kind: string;
  /** The job's schema (common fields, `kind` and its own; rules as refinements with relative paths). */
  readonly spec: z.ZodType;
  readonly target: JobTarget;
  /** Whether the kernel must be booted for it (drivers, buffers). */
  readonly needsKernel: boolean;
  /** Whether its device model has an atomic (fast-forward) path; a run in atomic mode refuses jobs without one. */
  readonly atomic: boolean;
  /**
   * `true` when its device can fast-forward (atomic phase, then timing from its next
   * access: sim/devices/fastForward.ts); otherwise why not, for the ConfigError.
   */
  readonly fastForward: true | string;
  /** Load-time checks against the SoC and buffers; each issue becomes a ConfigError under `scenario.jobs[i]`. */
  check(job: J, c: JobCheckContext): JobIssue[];
  /** Files the job reads, as written (relative to the scenario): a queue sweep sends them to its workers, and a run refuses to write its outputs over them. */
  inputs(job: J): string[];
  start(env: JobEnv, job: J): RunningJob;
}

/** The schema of a job kind: the common fields, `kind` and its own `fields`. */
export function jobFields<K extends string, F extends z.ZodRawShape>(kind: K, fields: F) {
  return z.strictObject({ kind: z.literal(kind), ...JobBase, ...fields });
}

/** Defines a job kind from its schema (`jobFields`, refinements allowed) and behaviour. */
export function defineJobKind<S extends z.ZodType>(def: {
  spec: S;
  target: JobTarget;
  needsKernel?: boolean;
  atomic?: boolean;
  fastForward?: true | string;
  check?: (job: z.output<S>, c: JobCheckContext) => JobIssue[];
  inputs?: (job: z.output<S>) => string[];
  start: (env: JobEnv, job: z.output<S>) => RunningJob;
}): JobKindEntry<z.output<S> & JobConfig> {
  const shape = (def.spec as unknown as { shape?: { kind?: z.ZodLiteral<string> } }).shape
    ?? (def.spec as unknown as { def: { in?: { shape: { kind: z.ZodLiteral<string> } } } }).def.in?.shape;
  const kind = shape?.kind?.value;
  if (typeof kind !== 'string') throw new SimInvariantError('a job kind spec needs a literal "kind" field');
  return {
    kind,
    spec: def.spec,
    target: def.target,
    needsKernel: def.needsKernel ?? true,
    atomic: def.atomic ?? true,
    fastForward: def.fastForward ?? 'its device model cannot switch from atomic to timing mode in the middle of a job',
    check: def.check ?? (() => []),
    inputs: def.inputs ?? (() => []),
    start: def.start,
  };
}

/** Adds a refinement whose issues are [path, reason] pairs relative to the job. */
export function withRules<S extends z.ZodType>(spec: S, rules: (job: z.output<S>) => JobIssue[]): S {
  return spec.superRefine((job, ctx) => {
    for (const [path, message] of rules(job as z.output<S>)) ctx.addIssue({ code: 'custom', path, message });
  }) as unknown as S;
}

/**
 * A kernel call of job `job` failed for lack of a resource (ENOMEM, ENOSPC): the scenario
 * asked for more than the simulated machine has. run() reports it as a ConfigError at the
 * job's JSON path.
 */
export class JobResourceError extends Error {
  constructor(readonly job: string, override readonly cause: KernelError) {
    super(`job "${job}": ${cause.message}`);
    this.name = 'JobResourceError';
  }
}

/** Runs `fn` on behalf of job `job`, turning the kernel's resource failures into a JobResourceError. */
export function asJob<T>(job: JobConfig, fn: () => T): T {
  try {
    return fn();
  } catch (e) {
    if (e instanceof KernelError && (e.errnoName === 'ENOMEM' || e.errnoName === 'ENOSPC')) throw new JobResourceError(job.name, e);
    throw e;
  }
}

/** The issue at `path` when `bytes` do not fit in buffer `name` of `size` bytes, else null. */
export function bufferTooSmall(bytes: number, name: string, size: number, path: (string | number)[]): JobIssue | null {
  return bytes > size ? [path, `needs ${bytes} bytes, buffer "${name}" has ${size}`] : null;
}

/** The buffer a job named (the loader has checked it exists). */
export function jobBuffer(env: JobEnv, name: string): DeviceBuffer {
  const b = env.buffers.get(name);
  if (!b) throw new SimInvariantError(`no buffer ${name} (the scenario loader checks this)`);
  return b;
}

/** The booted kernel (a job whose kind needs it). */
export function jobPlatform(env: JobEnv, job: JobConfig): Platform {
  if (!env.platform) throw new SimInvariantError(`job ${job.name}: needs the booted platform`);
  return env.platform;
}

/**
 * A job whose device signals completion once: `done` and `duration_ps` under
 * `scenario.<name>`; result details come from `detail()`.
 */
export function runningJob(
  job: JobConfig, ctx: SimContext, start: (done: () => void) => void, detail: () => JobResult['detail'],
  /** Completion the device does not signal (e.g. the last packets dropped on the wire). */
  finishedAnyway: () => boolean = () => false,
): RunningJob {
  let started = false;
  let done = false;
  const scope = ctx.stats.scope(`scenario.${job.name}`);
  const sDone = scope.counter('done', '1 when the job completed');
  const sDuration = scope.counter('duration_ps', 'start to completion, ps');
  ctx.engine.schedule(job.at, () => {
    started = true;
    const t0 = ctx.engine.now;
    asJob(job, () => start(() => {
      done = true;
      sDone.value = 1;
      sDuration.value = ctx.engine.now - t0;
    }));
  });
  const isDone = () => done || (started && finishedAnyway());
  return {
    name: job.name,
    progress: () => (isDone() ? 1 : started ? 0.5 : 0),
    isDone,
    result: () => {
      const d = isDone();
      if (d && !done) sDone.value = 1;
      return { name: job.name, kind: job.kind, done: d, status: d ? 'ok' : started ? 'not_finished' : 'not_started', verified: null, detail: detail() };
    },
  };
}
