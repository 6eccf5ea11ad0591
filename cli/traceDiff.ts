import * as fs from 'fs';
import { StringDecoder } from 'string_decoder';
import { inputFileProblem } from '../sim/engine/inputFile';
import { TRACE_END_CATEGORY, TRACE_FORMAT, TRACE_VERSION } from '../sim/engine/trace';

/** A trace file that cannot be read or is not a socsim trace, or a bad option: the user's input, exit 1. */
export class TraceInputError extends Error {}

/**
 * `socsim trace diff <a> <b>`: compares two JSON Lines traces (DESIGN.md "Traces").
 *
 * Both files are streamed line by line with synchronous reads, so traces of hundreds of
 * MB never sit in memory. The report has up to three parts, each deterministic:
 *   1. header differences (config hash, seed, categories, extra fields);
 *   2. the first divergent record, with the records before it that both files share,
 *      the fields that differ, and a few records after it on each side;
 *   3. how each trace ended: its end record (`"cat":"end"`, not counted as a record)
 *      differs (another reason: complete, until, interrupted, error), or is missing: the
 *      trace was cut off (the run was killed or is still running);
 *   4. per-category record counts over the whole of both files, with the delta.
 * When headers, records and end records are byte-identical, the report is one line,
 * `identical: N records` (with a note when neither trace has an end record).
 */

export interface TraceDiffOptions {
  /** Common records shown before the first divergence, and records shown after it on each side (default 3). */
  context?: number;
}

const CHUNK_BYTES = 1 << 16;
/** A header line longer than this is not a socsim header (guards against binary files). */
const MAX_HEADER_CHARS = 1 << 20;
/** A record line longer than this is not a socsim record. */
const MAX_LINE_CHARS = 1 << 24;
/** Records are shown cut to this many characters. */
const MAX_SHOWN_CHARS = 400;

interface Line {
  text: string;
  /** 1-based line number in the file. */
  lineNo: number;
}

interface Rec extends Line {
  /** 1-based record number (the header is not a record). */
  index: number;
}

/** Reads a file one line at a time with fs.readSync, decoding UTF-8 across chunk boundaries. */
class LineReader {
  private fd: number;
  private decoder = new StringDecoder('utf8');
  private buf = '';
  private pos = 0;
  private eof = false;
  private lineNo = 0;
  private readonly chunk = Buffer.allocUnsafe(CHUNK_BYTES);
  /** False when the last line of the file has no trailing newline (a cut-off write). */
  endsWithNewline = true;

  constructor(readonly file: string) {
    // Checked before opening: opening a FIFO would block. Traces are streamed, so any size is fine.
    const problem = inputFileProblem(file);
    if (problem) throw new TraceInputError(`cannot read trace ${file}: ${problem}`);
    try {
      this.fd = fs.openSync(file, 'r');
    } catch (e) {
      throw new TraceInputError(`cannot read trace ${file}: ${(e as Error).message}`);
    }
  }

  /** The next line without its newline (and without a trailing CR), or null at end of file. */
  next(maxChars = MAX_LINE_CHARS): Line | null {
    for (;;) {
      const nl = this.buf.indexOf('\n', this.pos);
      if (nl >= 0) {
        const end = nl > this.pos && this.buf.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        const text = this.buf.slice(this.pos, end);
        this.pos = nl + 1;
        return { text, lineNo: ++this.lineNo };
      }
      if (this.buf.length - this.pos > maxChars) {
        throw new TraceInputError(`${this.file}: line ${this.lineNo + 1} is longer than ${maxChars} characters: not a socsim trace`);
      }
      if (this.eof) {
        if (this.pos >= this.buf.length) return null;
        const text = this.buf.slice(this.pos);
        this.buf = '';
        this.pos = 0;
        this.endsWithNewline = false;
        return { text: text.endsWith('\r') ? text.slice(0, -1) : text, lineNo: ++this.lineNo };
      }
      this.fill();
    }
  }

  private fill(): void {
    let n: number;
    try {
      n = fs.readSync(this.fd, this.chunk, 0, CHUNK_BYTES, null);
    } catch (e) {
      throw new TraceInputError(`cannot read trace ${this.file}: ${(e as Error).message}`);
    }
    const rest = this.pos < this.buf.length ? this.buf.slice(this.pos) : '';
    if (n === 0) {
      this.eof = true;
      this.buf = rest + this.decoder.end();
    } else {
      this.buf = rest + this.decoder.write(this.chunk.subarray(0, n));
    }
    this.pos = 0;
  }

  close(): void {
    if (this.fd >= 0) fs.closeSync(this.fd);
    this.fd = -1;
  }
}

/** Record reader over a trace: checks the header, then yields non-blank lines as numbered records. */
class TraceReader {
  readonly header: Record<string, unknown>;
  readonly headerText: string;
  readonly counts = new Map<string, number>();
  records = 0;
  /** The end record (the last one, should a file hold several), or null: the trace was cut off. */
  end: Line | null = null;
  private lines: LineReader;

  constructor(readonly file: string) {
    this.lines = new LineReader(file);
    try {
      const first = this.lines.next(MAX_HEADER_CHARS);
      if (!first) throw new TraceInputError(`${file}: empty file, not a socsim trace`);
      let header: unknown;
      try {
        header = JSON.parse(first.text);
      } catch {
        throw new TraceInputError(`${file}: not a socsim trace: line 1 is not a JSON header`);
      }
      if (!isObject(header) || header.format !== TRACE_FORMAT) {
        throw new TraceInputError(`${file}: not a socsim trace: line 1 has no "format":"${TRACE_FORMAT}" header`);
      }
      if (header.version !== TRACE_VERSION) {
        throw new TraceInputError(`${file}: trace format version ${JSON.stringify(header.version)} is not supported (this socsim reads version ${TRACE_VERSION})`);
      }
      this.header = header;
      this.headerText = first.text;
    } catch (e) {
      this.lines.close();
      throw e;
    }
  }

  get endsWithNewline(): boolean {
    return this.lines.endsWithNewline;
  }

  /** The next record (blank lines are skipped), counted under its category; null at end of file. The end record is kept in `end`. */
  next(): Rec | null {
    for (;;) {
      const line = this.lines.next();
      if (!line) return null;
      if (line.text.trim() === '') continue;
      const cat = categoryOf(line.text);
      if (cat === TRACE_END_CATEGORY) {
        this.end = line;
        continue;
      }
      const rec: Rec = { ...line, index: ++this.records };
      this.counts.set(cat, (this.counts.get(cat) ?? 0) + 1);
      return rec;
    }
  }

  close(): void {
    this.lines.close();
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** Records written by the Tracer start `{"t":…,"cat":"…"`; anything else is parsed. */
const FAST_CAT = /^\{"t":[-0-9.eE+]+,"cat":"([a-z_]+)"/;

function categoryOf(text: string): string {
  const m = FAST_CAT.exec(text);
  if (m) return m[1];
  try {
    const v: unknown = JSON.parse(text);
    if (!isObject(v)) return '(not an object)';
    return typeof v.cat === 'string' ? v.cat : '(no cat)';
  } catch {
    return '(invalid JSON)';
  }
}

function parseObject(text: string): Record<string, unknown> | null {
  try {
    const v: unknown = JSON.parse(text);
    return isObject(v) ? v : null;
  } catch {
    return null;
  }
}

function show(v: unknown): string {
  return v === undefined ? '(absent)' : JSON.stringify(v);
}

function same(x: unknown, y: unknown): boolean {
  return JSON.stringify(x) === JSON.stringify(y);
}

/** Keys of a in order, then keys only in b in order. */
function unionKeys(a: Record<string, unknown>, b: Record<string, unknown>): string[] {
  const keys = Object.keys(a);
  for (const k of Object.keys(b)) if (!(k in a)) keys.push(k);
  return keys;
}

function cut(text: string): string {
  return text.length > MAX_SHOWN_CHARS ? `${text.slice(0, MAX_SHOWN_CHARS)}… (${text.length} characters)` : text;
}

function recLine(r: Rec, prefix = ''): string {
  return `${prefix}record ${r.index} (line ${r.lineNo}): ${cut(r.text)}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? '' : 's'}`;
}

function headerDiff(a: TraceReader, b: TraceReader): string[] {
  if (a.headerText === b.headerText) return [];
  const out: string[] = ['header differs:'];
  for (const k of unionKeys(a.header, b.header)) {
    const x = a.header[k];
    const y = b.header[k];
    if (same(x, y)) continue;
    out.push(`  ${k}: ${show(x)} vs ${show(y)}`);
    if (k === 'config_hash') {
      out.push('    the runs used different configs (the config hash covers the SoC config and the scenario);');
      out.push('    this is the usual cause of a golden trace failure: the config or scenario changed, not the model');
    } else if (k === 'categories' && Array.isArray(x) && Array.isArray(y)) {
      const onlyA = x.filter((c) => !y.includes(c));
      const onlyB = y.filter((c) => !x.includes(c));
      if (onlyA.length || onlyB.length) {
        out.push(`    only in a: ${onlyA.length ? onlyA.join(', ') : '-'}; only in b: ${onlyB.length ? onlyB.join(', ') : '-'}`);
      } else {
        out.push('    same categories in a different order');
      }
    }
  }
  if (out.length === 1) out.push('  same fields and values, different key order or formatting');
  return out;
}

function fieldDiff(ta: string, tb: string): string[] {
  const a = parseObject(ta);
  const b = parseObject(tb);
  if (!a || !b) {
    const out: string[] = [];
    if (!a) out.push('  a: not a JSON object (a cut-off line?)');
    if (!b) out.push('  b: not a JSON object (a cut-off line?)');
    return out;
  }
  const out: string[] = [];
  for (const k of unionKeys(a, b)) {
    if (!same(a[k], b[k])) out.push(`  ${k}: ${show(a[k])} vs ${show(b[k])}`);
  }
  if (out.length === 0) return ['  same fields and values, different key order or formatting'];
  return ['differing fields:', ...out];
}

function countTable(a: TraceReader, b: TraceReader): string[] {
  const cats = [...new Set([...a.counts.keys(), ...b.counts.keys()])].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0));
  const rows: string[][] = [['category', 'a', 'b', 'delta']];
  const delta = (x: number, y: number) => (y - x > 0 ? `+${y - x}` : `${y - x}`);
  for (const c of cats) {
    const x = a.counts.get(c) ?? 0;
    const y = b.counts.get(c) ?? 0;
    rows.push([c, String(x), String(y), delta(x, y)]);
  }
  rows.push(['total', String(a.records), String(b.records), delta(a.records, b.records)]);
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return [
    'records per category (b - a):',
    ...rows.map((r) => '  ' + r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')),
  ];
}

function endReason(l: Line): string {
  const v = parseObject(l.text);
  return v && typeof v.reason === 'string' ? v.reason : '(no reason)';
}

/** How the traces ended: nothing when their end records are identical. */
function endDiff(a: TraceReader, b: TraceReader): string[] {
  if (a.end && b.end && a.end.text === b.end.text) return [];
  if (!a.end && !b.end) return [];
  const out: string[] = [];
  for (const [side, r] of [['a', a], ['b', b]] as const) {
    if (!r.end) {
      out.push(`${side} has no end record: the trace was cut off after ${plural(r.records, 'record')} (the run was killed, or is still running)`);
    }
  }
  if (a.end && b.end) {
    const ra = endReason(a.end);
    const rb = endReason(b.end);
    out.push(ra === rb ? `the runs ended differently (both ${JSON.stringify(ra)}):` : `the runs ended differently: ${JSON.stringify(ra)} vs ${JSON.stringify(rb)}`);
    out.push(`a end (line ${a.end.lineNo}): ${cut(a.end.text)}`, `b end (line ${b.end.lineNo}): ${cut(b.end.text)}`);
    out.push(...fieldDiff(a.end.text, b.end.text));
  } else {
    const [side, r] = a.end ? ['a', a] : ['b', b];
    out.push(`${side} ended with reason ${JSON.stringify(endReason(r.end!))}: ${cut(r.end!.text)}`);
  }
  return out;
}

interface Divergence {
  index: number;
  before: Rec[];
  a: Rec | null;
  b: Rec | null;
  afterA: Rec[];
  afterB: Rec[];
  /** The record after the divergent one on each side, whatever the context. */
  nextA: Rec | null;
  nextB: Rec | null;
}

function divergenceReport(d: Divergence, a: TraceReader, b: TraceReader, context: number): string[] {
  const out: string[] = [];
  const ra = d.a;
  const rb = d.b;
  if (ra && rb) {
    const where = ra.lineNo === rb.lineNo ? `line ${ra.lineNo}` : `line ${ra.lineNo} in a, line ${rb.lineNo} in b`;
    out.push(`first divergence at record ${d.index} (${where})`);
  } else {
    const [ended, other, otherReader] = ra ? ['b', 'a', a] : ['a', 'b', b];
    out.push(`first divergence at record ${d.index}: ${ended} ends after ${plural(d.index - 1, 'record')}, ${other} continues with ${plural(otherReader.records - d.index + 1, 'more record')}`);
  }
  if (context > 0) {
    if (d.before.length) {
      out.push(`${plural(d.before.length, 'record')} before it, the same in both:`);
      for (const r of d.before) out.push(recLine(r, '  '));
    } else {
      out.push('no records before it');
    }
  }
  out.push(ra ? recLine(ra, 'a ') : `a: end of file after ${plural(d.index - 1, 'record')}`);
  out.push(rb ? recLine(rb, 'b ') : `b: end of file after ${plural(d.index - 1, 'record')}`);
  if (ra && rb) {
    out.push(...fieldDiff(ra.text, rb.text));
    // One record dropped or inserted shows up as the other side resuming one record later.
    const aNext = d.nextA?.text === rb.text;
    const bNext = d.nextB?.text === ra.text;
    if (aNext && !bNext) out.push(`a's record ${d.index} is not in b: b's record ${d.index} is a's record ${d.index + 1}`);
    if (bNext && !aNext) out.push(`b's record ${d.index} is not in a: a's record ${d.index} is b's record ${d.index + 1}`);
  }
  for (const [side, after, reader] of [['a', d.afterA, a], ['b', d.afterB, b]] as const) {
    if (after.length === 0) continue;
    out.push(`then in ${side}:`);
    for (const r of after) out.push(recLine(r, '  '));
    const last = after[after.length - 1].index;
    if (reader.records > last) out.push(`  … ${plural(reader.records - last, 'more record')}`);
  }
  return out;
}

/**
 * Compares traces `a` and `b` and writes a report through `out`, one line per call and
 * without a trailing newline (so `console.log` fits). Returns the exit code: 0 when
 * identical, 1 when different. Throws an Error naming the file when a file cannot be
 * read or is not a socsim trace of the supported version; nothing is written then.
 */
export function traceDiffCommand(a: string, b: string, out: (text: string) => void, opts: TraceDiffOptions = {}): number {
  const context = opts.context ?? 3;
  if (!Number.isInteger(context) || context < 0) throw new TraceInputError(`--context must be a non-negative integer, got ${context}`);
  const ta = new TraceReader(a);
  let tb: TraceReader;
  try {
    tb = new TraceReader(b);
  } catch (e) {
    ta.close();
    throw e;
  }
  try {
    const ring: Rec[] = [];
    let div: Divergence | null = null;
    for (;;) {
      const ra = ta.next();
      const rb = tb.next();
      if (!ra && !rb) break;
      if (div) {
        if (ra && ra.index === div.index + 1) div.nextA = ra;
        if (rb && rb.index === div.index + 1) div.nextB = rb;
        if (ra && div.afterA.length < context) div.afterA.push(ra);
        if (rb && div.afterB.length < context) div.afterB.push(rb);
        continue;
      }
      if (ra && rb && ra.text === rb.text) {
        if (context > 0) {
          if (ring.length === context) ring.shift();
          ring.push(ra);
        }
        continue;
      }
      div = { index: (ra ?? rb)!.index, before: ring.slice(), a: ra, b: rb, afterA: [], afterB: [], nextA: null, nextB: null };
    }

    const header = headerDiff(ta, tb);
    const ends = endDiff(ta, tb);
    if (!div && header.length === 0 && ends.length === 0 && ta.endsWithNewline === tb.endsWithNewline) {
      const note = ta.end ? '' : ' (neither trace has an end record: both were cut off, or written by a socsim older than end records)';
      out(`identical: ${plural(ta.records, 'record')}${note}`);
      return 0;
    }

    const lines: string[] = [`a: ${a}`, `b: ${b}`, ''];
    if (header.length) lines.push(...header, '');
    if (div) {
      lines.push(...divergenceReport(div, ta, tb, context), '');
    } else {
      lines.push(`records: identical (${plural(ta.records, 'record')})`, '');
    }
    if (ends.length) lines.push(...ends, '');
    for (const [side, reader] of [['a', ta], ['b', tb]] as const) {
      if (!reader.endsWithNewline) lines.push(`${side}: the last line has no newline: the file was cut off (a run killed while writing?)`, '');
    }
    lines.push(...countTable(ta, tb));
    for (const l of lines) out(l);
    return 1;
  } finally {
    ta.close();
    tb.close();
  }
}
