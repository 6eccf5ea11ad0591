import * as fs from 'fs';
import * as path from 'path';
import { formatStatValue } from '../sim/engine/stats';
import { InputFileError, MAX_JSON_INPUT_BYTES, readInputText } from '../sim/engine/inputFile';
import { statsFilter, StatsSelectError } from '../sim/engine/statsSelect';
import { CsvSyntaxError, parseCsv } from '../sim/engine/statsCsv';

/**
 * `socsim stats diff A B`: which stats moved between two runs, for CI gates on users'
 * own scenarios. A and B are run directories (their `stats.json`) or stats files: JSON
 * as `run --stats json` writes it, or CSV as `run --stats csv` writes it. Scalar stats
 * are compared; histogram bucket arrays are left out (their summary stats are compared,
 * and CSV has no arrays).
 */

/** Unreadable or malformed input: exit 1 with the message. */
export class StatsInputError extends Error {}

export type ScalarStats = Map<string, number | null>;

export interface StatsFile {
  /** The file actually read (a run directory's stats.json). */
  file: string;
  stats: ScalarStats;
}

/** Reads a run directory or a stats file. */
export function readStats(p: string): StatsFile {
  let file = p;
  let st: fs.Stats;
  try {
    st = fs.statSync(p);
  } catch (e) {
    throw new StatsInputError(`cannot read stats ${p}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file or directory' : (e as Error).message}`);
  }
  if (st.isDirectory()) {
    file = path.join(p, 'stats.json');
    if (!fs.existsSync(file)) throw new StatsInputError(`${p} is a directory without stats.json (not a run directory)`);
  }
  let text: string;
  try {
    text = readInputText(file, MAX_JSON_INPUT_BYTES);
  } catch (e) {
    if (!(e instanceof InputFileError)) throw e;
    throw new StatsInputError(`cannot read stats ${file}: ${e.reason}`);
  }
  return { file, stats: file.toLowerCase().endsWith('.csv') ? parseStatsCsv(text, file) : parseStatsJson(text, file) };
}

/** A flat JSON object of stat → number | null | number[] (arrays are skipped). */
export function parseStatsJson(text: string, file: string): ScalarStats {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    throw new StatsInputError(`${file}: not JSON (${(e as Error).message})`);
  }
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new StatsInputError(`${file}: not a stats file: expected one JSON object of stat names to values`);
  }
  const out: ScalarStats = new Map();
  for (const [k, v] of Object.entries(data)) {
    if (Array.isArray(v)) continue;
    if (v !== null && typeof v !== 'number') {
      throw new StatsInputError(`${file}: stat "${k}" is ${JSON.stringify(v)}, not a number, null or an array`);
    }
    out.set(k, v);
  }
  return out;
}

/** CSV with a `stat,value` header (RFC 4180 quoting); an empty value is null. */
export function parseStatsCsv(text: string, file: string): ScalarStats {
  let rows: string[][];
  try {
    rows = parseCsv(text);
  } catch (e) {
    if (!(e instanceof CsvSyntaxError)) throw e;
    throw new StatsInputError(`${file}: ${e.message}`);
  }
  if (rows.length === 0 || rows[0].length !== 2 || rows[0][0] !== 'stat' || rows[0][1] !== 'value') {
    throw new StatsInputError(`${file}: not a stats CSV: the first line must be "stat,value"`);
  }
  const out: ScalarStats = new Map();
  rows.slice(1).forEach((r, i) => {
    const line = i + 2;
    if (r.length !== 2) throw new StatsInputError(`${file}:${line}: expected 2 cells (stat,value), got ${r.length}`);
    const [k, cell] = r;
    if (cell.trim() === '') out.set(k, null);
    else {
      const v = Number(cell);
      if (!Number.isFinite(v)) throw new StatsInputError(`${file}:${line}: stat "${k}": value ${JSON.stringify(cell)} is not a number`);
      out.set(k, v);
    }
  });
  return out;
}


export interface DiffOptions {
  /** Relative tolerance as a fraction of |a| (0.01 for 1%). */
  tol: number;
  /** Absolute tolerance in the stat's own unit. */
  absTol: number;
  filters?: readonly string[];
}

export interface StatChange {
  stat: string;
  a: number | null;
  b: number | null;
  /** b − a; null when one side is null. */
  abs: number | null;
  /** (b − a) / |a|; ±Infinity from 0, null when one side is null. */
  rel: number | null;
}

export interface StatsDiff {
  /** Changes beyond both tolerances, the largest relative change first. */
  moved: StatChange[];
  /** Changes within a tolerance. */
  within: StatChange[];
  onlyInA: string[];
  onlyInB: string[];
  equal: number;
}

/**
 * Compares two stat sets. A change moved when it exceeds both the absolute and the
 * relative tolerance (|b − a| > absTol and |b − a| > tol·|a|); null against a number
 * always moved. Stats on one side only are reported apart.
 */
export function diffStats(a: ScalarStats, b: ScalarStats, opts: DiffOptions): StatsDiff {
  const keep = statsFilter([...new Set([...a.keys(), ...b.keys()])], opts.filters ?? []);
  const d: StatsDiff = { moved: [], within: [], onlyInA: [], onlyInB: [], equal: 0 };
  for (const [k, va] of a) {
    if (!keep(k)) continue;
    if (!b.has(k)) { d.onlyInA.push(k); continue; }
    const vb = b.get(k)!;
    if (va === vb) { d.equal++; continue; }
    if (va === null || vb === null) { d.moved.push({ stat: k, a: va, b: vb, abs: null, rel: null }); continue; }
    const abs = vb - va;
    const rel = va === 0 ? Math.sign(abs) * Infinity : abs / Math.abs(va);
    const change = { stat: k, a: va, b: vb, abs, rel };
    if (Math.abs(abs) > opts.absTol && Math.abs(abs) > opts.tol * Math.abs(va)) d.moved.push(change);
    else d.within.push(change);
  }
  for (const k of b.keys()) if (keep(k) && !a.has(k)) d.onlyInB.push(k);
  const size = (c: StatChange): number => (c.rel === null ? Infinity : Math.abs(c.rel));
  const order = (x: StatChange, y: StatChange): number => size(y) - size(x) || (x.stat < y.stat ? -1 : 1);
  d.moved.sort(order);
  d.within.sort(order);
  d.onlyInA.sort();
  d.onlyInB.sort();
  return d;
}

/** `1%`, `0.5%` or `0`: a relative tolerance as a fraction. A bare number other than 0 is refused (1 could mean 1% or 100%). */
export function parseTolerance(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(s);
  if (m) return Number(m[1]) / 100;
  if (/^\s*0+(\.0+)?\s*$/.test(s)) return 0;
  throw new StatsInputError(`--tol: give a percentage, e.g. 1% or 0.5%, got ${JSON.stringify(s)}`);
}

export function parseAbsTolerance(s: string): number {
  const v = Number(s);
  if (s.trim() === '' || !Number.isFinite(v) || v < 0) throw new StatsInputError(`--abs-tol: give a number ≥ 0, got ${JSON.stringify(s)}`);
  return v;
}

function formatRel(c: StatChange): string {
  if (c.rel === null) return 'n/a';
  if (!Number.isFinite(c.rel)) return c.rel > 0 ? '+inf' : '-inf';
  return `${c.rel > 0 ? '+' : ''}${(c.rel * 100).toPrecision(3)}%`;
}

function formatAbs(v: number | null): string {
  if (v === null) return 'n/a';
  return `${v > 0 ? '+' : ''}${formatStatValue(v)}`;
}

/** The report: a table of the moved stats, the one-sided ones, and the counts. */
export function formatStatsDiff(d: StatsDiff, fa: StatsFile, fb: StatsFile, opts: DiffOptions): string[] {
  const lines = [
    `a: ${fa.file} (${fa.stats.size} stats)`,
    `b: ${fb.file} (${fb.stats.size} stats)`,
    `tolerance: ${+(opts.tol * 100).toPrecision(12)}% relative, ${opts.absTol} absolute${opts.filters?.length ? `; filter ${opts.filters.join(' ')}` : ''}`,
  ];
  if (d.moved.length) {
    const rows = d.moved.map((c) => [c.stat, formatStatValue(c.a), formatStatValue(c.b), formatAbs(c.abs), formatRel(c)]);
    const head = ['stat', 'a', 'b', 'change', 'relative'];
    const w = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const fmt = (r: string[]): string => r.map((x, i) => (i === 0 ? x.padEnd(w[i]) : x.padStart(w[i]))).join('  ');
    lines.push('', fmt(head), '-'.repeat(w.reduce((s, x) => s + x + 2, -2)), ...rows.map(fmt));
  }
  if (d.onlyInA.length) lines.push('', `only in a (${d.onlyInA.length}): ${d.onlyInA.join(', ')}`);
  if (d.onlyInB.length) lines.push('', `only in b (${d.onlyInB.length}): ${d.onlyInB.join(', ')}`);
  lines.push('', `${d.moved.length} moved beyond the tolerance, ${d.within.length} changed within it, ${d.equal} equal; ${d.onlyInA.length} only in a, ${d.onlyInB.length} only in b`);
  return lines;
}

export interface StatsDiffArgs {
  tol?: string;
  absTol?: string;
  filters?: string[];
  json?: boolean;
}

/** Exit 0 when nothing moved beyond the tolerance and both sides have the same stats, else 1. */
export function statsDiffCommand(pa: string, pb: string, args: StatsDiffArgs, out: (line: string) => void): number {
  const opts: DiffOptions = {
    tol: args.tol === undefined ? 0 : parseTolerance(args.tol),
    absTol: args.absTol === undefined ? 0 : parseAbsTolerance(args.absTol),
    filters: args.filters ?? [],
  };
  const fa = readStats(pa);
  const fb = readStats(pb);
  let d: StatsDiff;
  try {
    d = diffStats(fa.stats, fb.stats, opts);
  } catch (e) {
    if (e instanceof StatsSelectError) throw new StatsInputError(e.message);
    throw e;
  }
  if (args.json) {
    // JSON has no Infinity: a relative change from 0 is written as null next to its abs.
    const plain = (cs: StatChange[]) => cs.map((c) => ({ ...c, rel: c.rel !== null && Number.isFinite(c.rel) ? c.rel : null }));
    out(JSON.stringify({ a: fa.file, b: fb.file, tol: opts.tol, absTol: opts.absTol, moved: plain(d.moved), within: plain(d.within), onlyInA: d.onlyInA, onlyInB: d.onlyInB, equal: d.equal }, null, 2));
  } else {
    for (const l of formatStatsDiff(d, fa, fb, opts)) out(l);
  }
  return d.moved.length || d.onlyInA.length || d.onlyInB.length ? 1 : 0;
}
