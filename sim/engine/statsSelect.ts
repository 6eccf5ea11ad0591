import type { StatsDump, StatValue } from './stats';
import { editDistance } from './editDistance';

/**
 * Choosing which stats of a dump to show (`--stats-filter GLOB`, `--nonzero`). Pure
 * functions on a dump, so the table, JSON and CSV of a run show the same selection.
 *
 * Globs are matched against dotted stat names, case-sensitively:
 * - `*` matches any characters within one segment (never a dot);
 * - `**` as a whole segment matches zero or more whole segments (`soc.**.misses` matches
 *   `soc.misses` and `soc.iommu.l2tlb.misses`); inside a segment it matches any
 *   characters, dots included;
 * - everything else is literal.
 * A glob selects a stat when it matches the stat's name or any dotted prefix of it, so a
 * glob names a stat or a whole subtree: `soc.iommu` selects everything under
 * `soc.iommu`, and `soc.nic.packet_latency_ns` selects that histogram's `.p50`, `.p99`
 * and other keys.
 */

export class StatsSelectError extends Error {}

export interface StatsSelection {
  /** Globs, any of which keeps a stat; none (or empty) keeps every stat. */
  filters?: readonly string[];
  /** Drops stats that carry no information: 0, null, and bucket arrays of zeros. */
  nonzero?: boolean;
}

/** A glob as an anchored regular expression that matches a stat name or a dotted prefix of one. */
export function globToRegExp(glob: string): RegExp {
  if (glob.trim() === '') throw new StatsSelectError('a stats filter must not be empty');
  // Consecutive `**` segments mean the same as one.
  const segs = glob.split('.').filter((seg, i, all) => !(seg === '**' && all[i - 1] === '**'));
  let re = '';
  segs.forEach((seg, i) => {
    const last = i === segs.length - 1;
    if (seg === '**') {
      // Zero or more whole segments, with their dots.
      if (segs.length === 1) re += '.*';
      else if (i === 0) re += '(?:[^]*\\.)?';
      else if (last) re += '(?:\\.[^]*)?';
      else re += '\\.(?:[^]*\\.)?';
      return;
    }
    if (i > 0 && segs[i - 1] !== '**') re += '\\.';
    re += seg.split('**').map((part) => part.split('*').map(escapeRe).join('[^.]*')).join('[^]*');
  });
  // The stat itself or anything below it.
  return new RegExp(`^(?:${re})(?:\\.[^]*)?$`);
}

function escapeRe(s: string): string {
  return s.replace(/[\\^$.|?+()[\]{}]/g, '\\$&');
}

/** True when `v` says something: a non-zero number, or an array with a non-zero element. */
export function isNonzero(v: StatValue): boolean {
  if (v === null) return false;
  if (Array.isArray(v)) return v.some((x) => x !== 0);
  return v !== 0;
}

/**
 * The stats of `dump` the selection keeps, in the dump's order. Throws StatsSelectError
 * when a glob matches no stat of the dump (before `nonzero` is applied), naming the glob
 * and suggesting close names: a filter that silently selects nothing is a typo.
 */
export function selectStats(dump: StatsDump, sel: StatsSelection): StatsDump {
  const keep = statsFilter(Object.keys(dump), sel.filters ?? []);
  const out: StatsDump = {};
  for (const [n, v] of Object.entries(dump)) {
    if (keep(n) && !(sel.nonzero && !isNonzero(v))) out[n] = v;
  }
  return out;
}

/**
 * A predicate for the stats any of `filters` selects (every stat when there are none),
 * after checking that each glob matches at least one of `names`.
 */
export function statsFilter(names: readonly string[], filters: readonly string[]): (name: string) => boolean {
  const res = filters.map((g) => ({ glob: g, re: globToRegExp(g) }));
  for (const { glob, re } of res) {
    if (!names.some((n) => re.test(n))) {
      const close = suggestStatNames(glob, names);
      const hint = close.length ? `; close names: ${close.join(', ')}` : '';
      throw new StatsSelectError(`--stats-filter ${glob} matches no stat${hint}`);
    }
  }
  return res.length === 0 ? () => true : (n) => res.some(({ re }) => re.test(n));
}

/**
 * Up to `max` stat names or subtrees close to a glob that matched nothing. Candidates are
 * the names and their dotted prefixes; a candidate with as many segments as the glob is
 * scored segment by segment (a wildcard segment that matches costs nothing, and the
 * suggestion keeps it), anything else by edit distance over the whole string.
 */
export function suggestStatNames(glob: string, names: readonly string[], max = 3): string[] {
  const candidates = new Set<string>();
  for (const n of names) {
    let i = n.indexOf('.');
    while (i > 0) {
      candidates.add(n.slice(0, i));
      i = n.indexOf('.', i + 1);
    }
    candidates.add(n);
  }
  const gsegs = glob.split('.');
  const scored: { text: string; cost: number }[] = [];
  for (const c of candidates) {
    const csegs = c.split('.');
    if (csegs.length === gsegs.length) {
      let cost = 0;
      const fixed = gsegs.map((g, i) => {
        if (g.includes('*') && globToRegExp(g).test(csegs[i]) && !csegs[i].includes('.')) return g;
        cost += editDistance(g, csegs[i]);
        return csegs[i];
      });
      scored.push({ text: fixed.join('.'), cost });
    } else {
      scored.push({ text: c, cost: editDistance(glob, c) });
    }
  }
  // Close means at most a third of the glob's length wrong (at least one edit).
  const limit = Math.max(1, Math.floor(glob.length / 3));
  const seen = new Set<string>();
  return scored
    .filter((s) => s.cost > 0 && s.cost <= limit)
    .sort((a, b) => a.cost - b.cost || a.text.localeCompare(b.text))
    .filter((s) => !seen.has(s.text) && seen.add(s.text))
    .slice(0, max)
    .map((s) => s.text);
}
