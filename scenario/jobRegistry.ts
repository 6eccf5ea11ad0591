import { z } from 'zod';
import { SimInvariantError } from '../sim/engine/errors';
import { BUNDLED_JOB_KINDS } from './jobKinds';
import type { JobConfig, JobKindEntry } from './jobSpec';

/**
 * The job kinds a scenario may use (`jobs[].kind`). The bundled kinds are registered
 * when this module loads; `registerJobKind` adds one at run time (with the device kind
 * it programs, see sim/soc/deviceRegistry.ts), and `JobSchema` accepts it from then on.
 */
const kinds = new Map<string, JobKindEntry>();
let unionCache: z.ZodType | null = null;

/** Adds a job kind; its name must be new. */
export function registerJobKind<J extends JobConfig>(entry: JobKindEntry<J>): void {
  if (kinds.has(entry.kind)) throw new SimInvariantError(`job kind "${entry.kind}" is already registered`);
  kinds.set(entry.kind, entry as unknown as JobKindEntry);
  unionCache = null;
}

/** The entry of job kind `kind` (the scenario schema has checked that it exists). */
export function jobKind(kind: string): JobKindEntry {
  const e = kinds.get(kind);
  if (!e) throw new SimInvariantError(`no job kind "${kind}" is registered`);
  return e;
}

export function jobKinds(): JobKindEntry[] {
  return [...kinds.values()];
}

/** A discriminated union (on `kind`) of every registered job kind's spec, as of now. */
export function jobConfigSchema(): z.ZodType {
  if (!unionCache) {
    const specs = jobKinds().map((k) => k.spec) as unknown as [z.core.$ZodTypeDiscriminable, ...z.core.$ZodTypeDiscriminable[]];
    unionCache = z.discriminatedUnion('kind', specs);
  }
  return unionCache;
}

/** One entry of a scenario's `jobs`, parsed with the job kinds registered when it is parsed. */
export const JobSchema = z.unknown().transform((value, ctx): JobConfig => {
  const r = jobConfigSchema().safeParse(value);
  if (r.success) return r.data as JobConfig;
  for (const issue of r.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
  return z.NEVER;
}).describe('a job: `kind` selects what runs (one of the registered job kinds)');

for (const entry of BUNDLED_JOB_KINDS) registerJobKind(entry);
