/**
 * Memory-access traces for trace-driven cores (CpuCore): parsers for valgrind lackey
 * output and for socsim's compact trace format, a writer for the compact format, and a
 * lackey → compact converter.
 *
 * Everything streams: a file is read in fixed-size chunks and handed on line by line
 * (`fileLines`), and the parsers are generators that yield one record per access, so a
 * multi-gigabyte trace never becomes one string or one array. Lines are scanned by
 * character code (no regex, no split), so a record costs one line string and, unless
 * `reuseRecord` is set, one small record object.
 *
 * Addresses are numbers below 2^53 (DESIGN.md "Addresses"), parsed digit by digit
 * without BigInt; a longer address is an error, not a silent rounding.
 *
 * Errors: bad input throws a `TraceParseError` naming the source, the 1-based line
 * number and the problem (`trace.txt:12: bad size "x" (expected a decimal byte count)`).
 *
 * ## valgrind lackey (`valgrind --tool=lackey --trace-mem=yes prog`)
 *
 *     ==785== Lackey, an example Valgrind tool        valgrind message: skipped
 *     I  0401ab70,3                                   instruction fetch of 3 bytes
 *      S 1fff000778,8                                 store of 8 bytes
 *      L 04e1a320,4                                   load
 *      M 0421c7f0,4                                   modify: a load then a store
 *
 * Addresses are hex without `0x`, sizes decimal. Lines starting with `==` (valgrind's
 * messages: header and summary), `--` (its verbose messages) and blank lines are
 * skipped; anything else that is not a record is an error. Instruction fetches are
 * skipped unless `includeFetches` (the CPU core modelled is data-side only).
 *
 * ## socsim compact trace (version 1)
 *
 *     socsim-memtrace 1            header, exactly, on line 1
 *     # a comment                  comments and blank lines are skipped
 *     R 7ff000398 8                load of 8 bytes at 0x7ff000398
 *     W 4e1a320 4 +12              store, issued after 12 cycles of compute
 *     M 421c7f0 4                  modify (read-modify-write: a load, then a store)
 *     I 400d7d4 8                  instruction fetch
 *
 * Fields are separated by spaces or tabs: an op letter, the address in hex (no `0x`,
 * at most 2^53 - 1), the size in bytes (decimal, 1..MAX_ACCESS_BYTES), and optionally
 * `+<n>`: n compute cycles the core spends before issuing this access (see CpuCore).
 * The format is line-oriented text so traces can be produced with awk, diffed and
 * grepped; gzip it for storage.
 */

import * as fs from 'fs';
import { StringDecoder } from 'string_decoder';

/** Kind of access in a trace. */
export const TraceOp = { Load: 0, Store: 1, Modify: 2, Fetch: 3 } as const;
export type TraceOp = (typeof TraceOp)[keyof typeof TraceOp];

export const TRACE_OP_NAMES = ['load', 'store', 'modify', 'fetch'] as const;

/** One access of a trace. */
export interface TraceRecord {
  op: TraceOp;
  /** Virtual address, an integer below 2^53. */
  addr: number;
  /** Bytes, 1..MAX_ACCESS_BYTES. */
  size: number;
  /** Compute cycles before this access is issued (0 for lackey traces). */
  gap: number;
}

/** Largest access size a parser accepts (lackey's own limit is 512 bytes, MAX_DSIZE). */
export const MAX_ACCESS_BYTES = 4096;

/** Line 1 of a compact trace. */
export const COMPACT_MAGIC = 'socsim-memtrace 1';

/** Longest line `fileLines` accepts: beyond it the file is not a text trace. */
export const MAX_LINE_CHARS = 1 << 20;

/** Bad trace input: names the source, the line (1-based) and the problem. */
export class TraceParseError extends Error {
  constructor(
    readonly source: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${source}:${line}: ${reason}`);
    this.name = 'TraceParseError';
  }
}

/** Counters a parser updates as it goes (pass one in the options to read them). */
export interface TraceParseCounts {
  /** Lines read, including skipped ones. */
  lines: number;
  /** Records yielded. */
  records: number;
  /** Lines skipped: blank, comments, valgrind messages, header. */
  skippedLines: number;
  /** Lackey instruction fetches dropped because `includeFetches` was off. */
  skippedFetches: number;
}

export function newParseCounts(): TraceParseCounts {
  return { lines: 0, records: 0, skippedLines: 0, skippedFetches: 0 };
}

export interface TraceParseOptions {
  /** Name used in error messages (default "trace"). */
  source?: string;
  /**
   * Yield the same record object every time, overwritten by the next one (no allocation
   * per record). Only for consumers that copy what they need before pulling the next
   * record, as CpuCore does; `Array.from` of such a generator repeats the last record.
   */
  reuseRecord?: boolean;
  /** Updated while parsing. */
  counts?: TraceParseCounts;
}

export interface LackeyParseOptions extends TraceParseOptions {
  /** Yield instruction fetches (`I` lines) as TraceOp.Fetch records. Default false. */
  includeFetches?: boolean;
}

// ---- line sources ----

/**
 * Lines of the file at `path`, read `chunkBytes` at a time (UTF-8; a trailing `\r` is
 * dropped). Only the current chunk and one partial line are held in memory. A line
 * longer than MAX_LINE_CHARS throws a TraceParseError. The file is closed when the
 * generator finishes or is returned from early.
 */
export function* fileLines(path: string, chunkBytes = 1 << 16): Generator<string, void, undefined> {
  const fd = fs.openSync(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(chunkBytes);
    const decoder = new StringDecoder('utf8');
    let carry = '';
    let lineNo = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, 0, chunkBytes, null);
      const text = n > 0 ? carry + decoder.write(buf.subarray(0, n)) : carry + decoder.end();
      let start = 0;
      for (;;) {
        const nl = text.indexOf('\n', start);
        if (nl < 0) break;
        lineNo++;
        yield stripCr(text, start, nl);
        start = nl + 1;
      }
      carry = start === 0 ? text : text.slice(start);
      if (n === 0) {
        if (carry.length > 0) yield stripCr(carry, 0, carry.length);
        return;
      }
      if (carry.length > MAX_LINE_CHARS) {
        throw new TraceParseError(path, lineNo + 1, `line longer than ${MAX_LINE_CHARS} characters (not a text trace?)`);
      }
    }
  } finally {
    fs.closeSync(fd);
  }
}

/** Lines of an in-memory string (a trailing `\r` is dropped; no final empty line). */
export function* textLines(text: string): Generator<string, void, undefined> {
  let start = 0;
  while (start < text.length) {
    let nl = text.indexOf('\n', start);
    if (nl < 0) nl = text.length;
    yield stripCr(text, start, nl);
    start = nl + 1;
  }
}

function stripCr(text: string, start: number, end: number): string {
  if (end > start && text.charCodeAt(end - 1) === 13) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

// ---- character-level scanning ----

const SPACE = 32;
const TAB = 9;
const COMMA = 44;
const PLUS = 43;
/** Largest value that can take one more hex digit and stay below 2^53. */
const HEX_ACC_LIMIT = 2 ** 49;

/**
 * A cursor over one line: the scan helpers return a value and leave `pos` after what they
 * consumed, or return -1 (nothing parseable) with `pos` unchanged. One instance per parser.
 */
class LineScanner {
  line = '';
  pos = 0;
  /** Set when a hex number overflowed 2^53; `pos` is at its first digit. */
  overflow = false;

  reset(line: string): void {
    this.line = line;
    this.pos = 0;
    this.overflow = false;
  }

  skipBlanks(): number {
    const s = this.line;
    const start = this.pos;
    let p = start;
    while (p < s.length) {
      const c = s.charCodeAt(p);
      if (c !== SPACE && c !== TAB) break;
      p++;
    }
    this.pos = p;
    return p - start;
  }

  atEnd(): boolean {
    return this.pos >= this.line.length;
  }

  peek(): number {
    return this.pos < this.line.length ? this.line.charCodeAt(this.pos) : -1;
  }

  /** Hex digits (no prefix) as a number below 2^53, or -1 (`overflow` tells why). */
  hex(): number {
    const s = this.line;
    let p = this.pos;
    let v = 0;
    while (p < s.length) {
      const c = s.charCodeAt(p);
      let d: number;
      if (c >= 48 && c <= 57) d = c - 48;
      else if (c >= 97 && c <= 102) d = c - 87;
      else if (c >= 65 && c <= 70) d = c - 55;
      else break;
      if (v >= HEX_ACC_LIMIT) {
        this.overflow = true;
        return -1;
      }
      v = v * 16 + d;
      p++;
    }
    if (p === this.pos) return -1;
    this.pos = p;
    return v;
  }

  /** Decimal digits as a safe integer, or -1. */
  dec(): number {
    const s = this.line;
    let p = this.pos;
    let v = 0;
    while (p < s.length) {
      const c = s.charCodeAt(p);
      if (c < 48 || c > 57) break;
      v = v * 10 + (c - 48);
      p++;
    }
    if (p === this.pos || !Number.isSafeInteger(v)) return -1;
    this.pos = p;
    return v;
  }

  /** The run of non-blank characters at `pos` (for error messages). */
  token(): string {
    const s = this.line;
    let p = this.pos;
    while (p < s.length && s.charCodeAt(p) !== SPACE && s.charCodeAt(p) !== TAB) p++;
    return s.slice(this.pos, p);
  }
}

/** The characters of `line` from `start` up to a blank, `stop` (a char code) or the end. */
function tokenFrom(line: string, start: number, stop: number): string {
  let p = start;
  while (p < line.length) {
    const c = line.charCodeAt(p);
    if (c === SPACE || c === TAB || c === stop) break;
    p++;
  }
  return line.slice(start, p);
}

function quote(s: string): string {
  return JSON.stringify(s.length > 80 ? s.slice(0, 77) + '...' : s);
}

// ---- lackey ----

/**
 * Parses valgrind lackey `--trace-mem=yes` output (see the module doc), yielding one
 * record per data access (and per instruction fetch with `includeFetches`). Lackey has
 * no compute gaps: `gap` is 0. Throws TraceParseError on a malformed line.
 */
export function* parseLackey(lines: Iterable<string>, opts: LackeyParseOptions = {}): Generator<TraceRecord, void, undefined> {
  const source = opts.source ?? 'trace';
  const counts = opts.counts ?? newParseCounts();
  const fetches = opts.includeFetches ?? false;
  const sc = new LineScanner();
  const shared: TraceRecord = { op: TraceOp.Load, addr: 0, size: 0, gap: 0 };
  for (const line of lines) {
    const lineNo = ++counts.lines;
    sc.reset(line);
    sc.skipBlanks();
    if (sc.atEnd()) {
      counts.skippedLines++;
      continue;
    }
    const c0 = sc.peek();
    const c1 = sc.pos + 1 < line.length ? line.charCodeAt(sc.pos + 1) : -1;
    if ((c0 === 61 /* = */ && c1 === 61) || (c0 === 45 /* - */ && c1 === 45)) {
      counts.skippedLines++;
      continue;
    }
    let op: TraceOp;
    switch (c0) {
      case 73: // I
        op = TraceOp.Fetch;
        break;
      case 76: // L
        op = TraceOp.Load;
        break;
      case 83: // S
        op = TraceOp.Store;
        break;
      case 77: // M
        op = TraceOp.Modify;
        break;
      default:
        throw new TraceParseError(source, lineNo, `unknown lackey record ${quote(line)} (expected I, L, S or M, or a valgrind "==" message)`);
    }
    sc.pos++;
    if (sc.skipBlanks() === 0) throw new TraceParseError(source, lineNo, `expected a blank after the record type in ${quote(line)}`);
    const aStart = sc.pos;
    const addr = parseAddress(sc, source, lineNo);
    if (sc.peek() !== COMMA) {
      const c = sc.peek();
      if (c === -1 || c === SPACE || c === TAB) throw new TraceParseError(source, lineNo, `expected ",<size>" right after the address in ${quote(line)}`);
      throw new TraceParseError(source, lineNo, `bad address ${quote(tokenFrom(line, aStart, COMMA))} (expected hex digits)`);
    }
    sc.pos++;
    const size = parseSize(sc, source, lineNo);
    sc.skipBlanks();
    if (!sc.atEnd()) throw new TraceParseError(source, lineNo, `unexpected ${quote(sc.token())} after the size`);
    if (op === TraceOp.Fetch && !fetches) {
      counts.skippedFetches++;
      continue;
    }
    const r = opts.reuseRecord ? shared : { op, addr, size, gap: 0 };
    r.op = op;
    r.addr = addr;
    r.size = size;
    r.gap = 0;
    counts.records++;
    yield r;
  }
}

function parseAddress(sc: LineScanner, source: string, lineNo: number): number {
  if (sc.peek() === 48 /* 0 */ && (sc.line.charCodeAt(sc.pos + 1) | 0x20) === 120 /* x */) sc.pos += 2;
  const addr = sc.hex();
  if (addr < 0) {
    if (sc.overflow) {
      throw new TraceParseError(source, lineNo, `address ${quote(hexToken(sc))} does not fit below 2^53 (0x20000000000000)`);
    }
    const c = sc.peek();
    if (c === -1 || c === COMMA) throw new TraceParseError(source, lineNo, `missing address in ${quote(sc.line)}`);
    throw new TraceParseError(source, lineNo, `bad address ${quote(tokenFrom(sc.line, sc.pos, COMMA))} (expected hex digits)`);
  }
  return addr;
}

/** The hex digits at `pos` (the overflowing address, without what follows it). */
function hexToken(sc: LineScanner): string {
  return tokenFrom(sc.line, sc.pos, COMMA);
}

function parseSize(sc: LineScanner, source: string, lineNo: number): number {
  const size = sc.dec();
  if (size < 0) throw new TraceParseError(source, lineNo, `bad size ${quote(sc.token())} (expected a decimal byte count)`);
  if (size < 1 || size > MAX_ACCESS_BYTES) {
    throw new TraceParseError(source, lineNo, `size ${size} outside 1..${MAX_ACCESS_BYTES}`);
  }
  return size;
}

// ---- compact format ----

const OP_LETTERS = ['R', 'W', 'M', 'I'] as const;

/** One record as a compact-format line (no newline). */
export function formatCompactRecord(r: TraceRecord): string {
  const base = `${OP_LETTERS[r.op]} ${r.addr.toString(16)} ${r.size}`;
  return r.gap > 0 ? `${base} +${r.gap}` : base;
}

/** Checks a record before it is written, so a writer never produces an unreadable file. */
function checkRecord(r: TraceRecord): string | null {
  if (!(r.op >= 0 && r.op <= 3 && Number.isInteger(r.op))) return `op: unknown ${r.op}`;
  if (!(Number.isSafeInteger(r.addr) && r.addr >= 0)) return `addr: must be an integer in [0, 2^53), got ${r.addr}`;
  if (!(Number.isInteger(r.size) && r.size >= 1 && r.size <= MAX_ACCESS_BYTES)) return `size: must be in 1..${MAX_ACCESS_BYTES}, got ${r.size}`;
  if (!(Number.isSafeInteger(r.gap) && r.gap >= 0)) return `gap: must be a non-negative integer, got ${r.gap}`;
  return null;
}

/**
 * Writes a compact trace to `sink` (e.g. `fileSink(path).write`) in chunks of about
 * `chunkChars` characters. The header goes out with the first chunk; `close()` flushes
 * (and writes the header even for an empty trace). Invalid records throw RangeError.
 */
export class CompactTraceWriter {
  private buf: string[] = [COMPACT_MAGIC];
  private chars = COMPACT_MAGIC.length + 1;
  private closed = false;
  /** Records written so far. */
  records = 0;

  constructor(
    private readonly sink: (chunk: string) => void,
    private readonly chunkChars = 1 << 16,
  ) {}

  /** Adds a comment line (`# text`); `text` must not contain a newline. */
  comment(text: string): void {
    if (/[\r\n]/.test(text)) throw new RangeError('compact trace comment: must be one line');
    this.push(`# ${text}`);
  }

  write(r: TraceRecord): void {
    const bad = checkRecord(r);
    if (bad) throw new RangeError(`compact trace record ${this.records + 1}: ${bad}`);
    this.push(formatCompactRecord(r));
    this.records++;
  }

  /** Flushes what is buffered. Further writes throw. */
  close(): void {
    if (this.closed) return;
    this.flush();
    this.closed = true;
  }

  private push(line: string): void {
    if (this.closed) throw new RangeError('compact trace writer: write after close');
    this.buf.push(line);
    this.chars += line.length + 1;
    if (this.chars >= this.chunkChars) this.flush();
  }

  private flush(): void {
    if (this.buf.length === 0) return;
    this.sink(this.buf.join('\n') + '\n');
    this.buf = [];
    this.chars = 0;
  }
}

/**
 * Parses a compact trace (see the module doc). Line 1 must be the header; blank lines
 * and `#` comments are skipped. Throws TraceParseError on anything else malformed.
 */
export function* parseCompact(lines: Iterable<string>, opts: TraceParseOptions = {}): Generator<TraceRecord, void, undefined> {
  const source = opts.source ?? 'trace';
  const counts = opts.counts ?? newParseCounts();
  const sc = new LineScanner();
  const shared: TraceRecord = { op: TraceOp.Load, addr: 0, size: 0, gap: 0 };
  let first = true;
  for (const line of lines) {
    const lineNo = ++counts.lines;
    if (first) {
      first = false;
      if (line.trim() !== COMPACT_MAGIC) {
        const why = line.startsWith('socsim-memtrace ') ? `unsupported version ${quote(line.trim())}` : `missing header ${quote(COMPACT_MAGIC)}, found ${quote(line)}`;
        throw new TraceParseError(source, lineNo, `${why} (a compact trace starts with the line "${COMPACT_MAGIC}")`);
      }
      counts.skippedLines++;
      continue;
    }
    sc.reset(line);
    sc.skipBlanks();
    if (sc.atEnd() || sc.peek() === 35 /* # */) {
      counts.skippedLines++;
      continue;
    }
    let op: TraceOp;
    switch (sc.peek()) {
      case 82: // R
        op = TraceOp.Load;
        break;
      case 87: // W
        op = TraceOp.Store;
        break;
      case 77: // M
        op = TraceOp.Modify;
        break;
      case 73: // I
        op = TraceOp.Fetch;
        break;
      default:
        throw new TraceParseError(source, lineNo, `unknown op ${quote(sc.token())} (expected R, W, M or I)`);
    }
    sc.pos++;
    if (sc.skipBlanks() === 0) throw new TraceParseError(source, lineNo, `expected a blank after the op in ${quote(line)}`);
    const aStart = sc.pos;
    const addr = parseAddress(sc, source, lineNo);
    if (sc.skipBlanks() === 0) {
      throw new TraceParseError(source, lineNo, sc.atEnd() ? `missing size in ${quote(line)}` : `bad address ${quote(tokenFrom(line, aStart, -1))} (expected hex digits)`);
    }
    const size = parseSize(sc, source, lineNo);
    let gap = 0;
    const blanks = sc.skipBlanks();
    if (!sc.atEnd()) {
      if (blanks === 0 || sc.peek() !== PLUS) throw new TraceParseError(source, lineNo, `unexpected ${quote(sc.token())} after the size (expected "+<gap cycles>")`);
      sc.pos++;
      gap = sc.dec();
      if (gap < 0) throw new TraceParseError(source, lineNo, `bad gap ${quote('+' + sc.token())} (expected "+<decimal cycles>")`);
      sc.skipBlanks();
      if (!sc.atEnd()) throw new TraceParseError(source, lineNo, `unexpected ${quote(sc.token())} after the gap`);
    }
    const r = opts.reuseRecord ? shared : { op, addr, size, gap };
    r.op = op;
    r.addr = addr;
    r.size = size;
    r.gap = gap;
    counts.records++;
    yield r;
  }
  if (first) throw new TraceParseError(source, 1, `empty file (a compact trace starts with the line "${COMPACT_MAGIC}")`);
}

// ---- files and conversion ----

/** A sink writing to a file (created or truncated), synchronously. */
export function fileSink(path: string): { write: (chunk: string) => void; close: () => void } {
  const fd = fs.openSync(path, 'w');
  let open = true;
  return {
    write: (chunk: string) => {
      fs.writeSync(fd, chunk);
    },
    close: () => {
      if (open) fs.closeSync(fd);
      open = false;
    },
  };
}

/** Which format a trace file is in, from its first line. */
export function detectTraceFormat(firstLine: string): 'compact' | 'lackey' {
  return firstLine.startsWith('socsim-memtrace') ? 'compact' : 'lackey';
}

/**
 * Streams the trace file at `path`, compact or lackey (detected from line 1), as
 * records. `includeFetches` applies to lackey files only (compact files keep theirs).
 */
export function* readTraceFile(path: string, opts: LackeyParseOptions = {}): Generator<TraceRecord, void, undefined> {
  const o = { source: path, ...opts };
  const lines = fileLines(path);
  const head = lines.next();
  if (head.done) return;
  const all = prepend(head.value, lines);
  if (detectTraceFormat(head.value) === 'compact') yield* parseCompact(all, o);
  else yield* parseLackey(all, o);
}

/** `first`, then the rest of `rest`; returning early closes `rest` (and so the file). */
function* prepend(first: string, rest: Generator<string, void, undefined>): Generator<string, void, undefined> {
  try {
    yield first;
    yield* rest;
  } finally {
    rest.return();
  }
}

/**
 * Converts lackey lines to a compact trace written to `sink`; returns the parse counts.
 * Every gap is `gapCycles` (default 0: lackey has no timing).
 */
export function lackeyToCompact(
  lines: Iterable<string>,
  sink: (chunk: string) => void,
  opts: LackeyParseOptions & { gapCycles?: number; comment?: string } = {},
): TraceParseCounts {
  const counts = opts.counts ?? newParseCounts();
  const w = new CompactTraceWriter(sink);
  if (opts.comment !== undefined) w.comment(opts.comment);
  const gap = opts.gapCycles ?? 0;
  for (const r of parseLackey(lines, { ...opts, counts, reuseRecord: true })) {
    r.gap = gap;
    w.write(r);
  }
  w.close();
  return counts;
}

/** `lackeyToCompact` from file to file. */
export function convertLackeyFile(inPath: string, outPath: string, opts: LackeyParseOptions & { gapCycles?: number } = {}): TraceParseCounts {
  const out = fileSink(outPath);
  try {
    return lackeyToCompact(fileLines(inPath), out.write, { source: inPath, comment: `converted from lackey output ${inPath}`, ...opts });
  } finally {
    out.close();
  }
}
