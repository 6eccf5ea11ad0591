import { z } from 'zod';
import { KindRegistry } from '../sim/engine/kindRegistry';
import { BUNDLED_JOB_KINDS } from './jobKinds';
import type { JobConfig, JobKindEntry } from './jobSpec';

/**
 * The job kinds a scenario may use (`jobs[].kind`). The bundled kinds are registered
 * when this module loads; `registerJobKind` adds one at run time (with the device kind
 * it programs, see sim/soc/deviceRegistry.ts), and `JobSchema` accepts it from then on.
 */
const registry = new KindRegistry<JobKindEntry>('job kind');

/** Adds a job kind; its name must be new. */
export function registerJobKind<J extends JobConfig>(entry: JobKindEntry<J>): void {
  registry.register(entry as unknown as JobKindEntry);
}

/** The entry of job kind `kind` (the scenario schema has checked that it exists). */
export function jobKind(kind: string): JobKindEntry {
  return registry.get(kind);
}

export function jobKinds(): JobKindEntry[] {
  return registry.all();
}

/** A discriminated union (on `kind`) of every registered job kind's spec, as of now. */
export function jobConfigSchema(): z.ZodType {
  return registry.unionSchema();
}

/** One entry of a scenario's `jobs`, parsed with the job kinds registered when it is parsed. */
export const JobSchema = registry.itemSchema<JobConfig>('a job: `kind` selects what runs (one of the registered job kinds)');

for (const entry of BUNDLED_JOB_KINDS) registerJobKind(entry);
