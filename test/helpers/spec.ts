import type { z } from 'zod';
import { formatJsonPath } from '../../sim/engine/errors';

/** The first problem `spec` finds in `value`, as `field.path: reason`, or null when it passes. */
export function firstProblem(spec: z.ZodType, value: unknown): string | null {
  const r = spec.safeParse(value);
  if (r.success) return null;
  const issue = r.error.issues[0];
  const field = formatJsonPath('', issue.path.map((p) => (typeof p === 'number' ? p : String(p)))).replace(/^\./, '');
  return `${field}: ${issue.message}`;
}
