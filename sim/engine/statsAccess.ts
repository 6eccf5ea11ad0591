import type { StatsDump } from './stats';

/** A stat the caller asked for by name is not in the dump, or not a number. */
export class StatLookupError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StatLookupError';
  }
}

/**
 * The number a stats dump holds under `name`, for library users and scripts: a typo or
 * a stat with no samples (null) is an error naming the stat, never an `undefined` that
 * turns into NaN further on.
 */
export function statNumber(stats: StatsDump, name: string): number {
  if (!Object.hasOwn(stats, name)) {
    const prefix = name.slice(0, name.lastIndexOf('.') + 1);
    const siblings = Object.keys(stats).filter((k) => k.startsWith(prefix) && !k.slice(prefix.length).includes('.')).slice(0, 8);
    throw new StatLookupError(`no stat named "${name}"${siblings.length ? ` (under ${prefix || 'the root'}: ${siblings.join(', ')})` : ''}`);
  }
  const v = stats[name];
  if (typeof v !== 'number') throw new StatLookupError(`stat "${name}" is ${v === null ? 'null (no samples)' : 'a list, not a number'}`);
  return v;
}

/** `statNumber`, or `fallback` when the stat is missing or null (e.g. a percentile of an empty histogram). */
export function statNumberOr(stats: StatsDump, name: string, fallback: number): number {
  const v = Object.hasOwn(stats, name) ? stats[name] : undefined;
  return typeof v === 'number' ? v : fallback;
}
