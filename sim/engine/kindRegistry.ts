import { z } from 'zod';
import { SimInvariantError } from './errors';

/**
 * A registry of kinds keyed by `kind` (device kinds, job kinds): each entry carries the
 * zod spec of its config entries. `itemSchema` parses one config entry with the union of
 * the kinds registered *when it is parsed*, so a kind registered at run time (a user's
 * model, a test's) is accepted exactly like a bundled one.
 */
export class KindRegistry<E extends { readonly kind: string; readonly spec: z.ZodType }> {
  private readonly entries = new Map<string, E>();
  private union: z.ZodType | null = null;

  /** `what` names the kind in messages, e.g. "device kind". */
  constructor(private readonly what: string) {}

  /** Adds a kind; its name must be new. */
  register(entry: E): void {
    if (this.entries.has(entry.kind)) throw new SimInvariantError(`${this.what} "${entry.kind}" is already registered`);
    this.entries.set(entry.kind, entry);
    this.union = null;
  }

  /** The entry of `kind` (the schema has checked that it exists). */
  get(kind: string): E {
    const e = this.entries.get(kind);
    if (!e) throw new SimInvariantError(`no ${this.what} "${kind}" is registered`);
    return e;
  }

  /** The registered kinds, in registration order. */
  all(): E[] {
    return [...this.entries.values()];
  }

  /** A discriminated union (on `kind`) of every registered kind's spec, as of now. */
  unionSchema(): z.ZodType {
    if (!this.union) {
      const specs = this.all().map((k) => k.spec) as unknown as [z.core.$ZodTypeDiscriminable, ...z.core.$ZodTypeDiscriminable[]];
      this.union = z.discriminatedUnion('kind', specs);
    }
    return this.union;
  }

  /** The schema of one config entry, resolved against the kinds registered at parse time (issues keep their paths). */
  itemSchema<T>(description: string): z.ZodType<T> {
    return z.unknown().transform((value, ctx): T => {
      const r = this.unionSchema().safeParse(value);
      if (r.success) return r.data as T;
      for (const issue of r.error.issues) ctx.addIssue(issue as Parameters<typeof ctx.addIssue>[0]);
      return z.NEVER;
    }).describe(description) as unknown as z.ZodType<T>;
  }
}
