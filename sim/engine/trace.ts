import { SimInvariantError } from './errors';
import type { MasterRegistry } from './masters';
import { OutputFile } from './outputFile';
import type { Tick } from './time';
import { traceWindowFields, type TraceWindow } from './traceWindow';

/**
 * Versioned JSON Lines traces (DESIGN.md "Traces"): one header record, then one record
 * per event of the enabled categories. Records are built by callers in a fixed key
 * order and written with JSON.stringify, so equal runs give byte-identical files.
 */

export const TRACE_FORMAT = 'socsim-trace';
export const TRACE_VERSION = 1;
export const TRACE_CATEGORIES = ['map', 'unmap', 'tlb', 'walk', 'fault', 'inval', 'dma', 'bus'] as const;
export type TraceCategory = (typeof TRACE_CATEGORIES)[number];

/**
 * Why a trace ended, written as its last record `{"t","cat":"end","reason","records",…}`:
 * `complete` (the run ran out of events), `until` (it stopped at its time limit),
 * `interrupted` (SIGINT/SIGTERM), `error` (the run threw). A trace without an end
 * record was cut off (the process was killed, or is still running).
 */
export const TRACE_END_REASONS = ['complete', 'until', 'interrupted', 'error'] as const;
export type TraceEndReason = (typeof TRACE_END_REASONS)[number];
/** The end record's category; not a filter category (written whenever a trace is). */
export const TRACE_END_CATEGORY = 'end';

/** Header fields the tracer writes itself; extra header fields may not use them. */
const RESERVED_HEADER_KEYS = ['format', 'version', 'config_hash', 'categories', 'window'] as const;

export interface TraceHeader {
  configHash: string;
  seed: number;
  [extra: string]: unknown;
}

/** Where trace lines go. */
export interface TraceWriter {
  writeLine(line: string): void;
  close(): void;
}

/**
 * Buffers lines and writes them to a file in large chunks, through a temporary file
 * renamed into place on close (OutputFile): the file appears whole when the run ends,
 * however it ends (its end record says how). A write error (a full disk) is an
 * OutputFileError; later lines are dropped.
 */
export class FileTraceWriter implements TraceWriter {
  private readonly out: OutputFile;
  private chunk: string[] = [];
  private chunkChars = 0;

  constructor(readonly path: string) {
    this.out = new OutputFile(path);
  }

  writeLine(line: string): void {
    this.chunk.push(line);
    this.chunkChars += line.length + 1;
    if (this.chunkChars >= 1 << 16) this.flush();
  }

  close(): void {
    if (this.out.closed) return;
    this.flush();
    this.out.close();
  }

  private flush(): void {
    if (this.chunk.length === 0) return;
    const text = this.chunk.join('\n') + '\n';
    this.chunk = [];
    this.chunkChars = 0;
    this.out.write(text);
  }
}

/** Keeps lines in memory (tests, golden comparisons). */
export class MemoryTraceWriter implements TraceWriter {
  readonly lines: string[] = [];
  writeLine(line: string): void {
    this.lines.push(line);
  }
  close(): void {}
  text(): string {
    return this.lines.length ? this.lines.join('\n') + '\n' : '';
  }
}

/**
 * The trace sink. Hot paths test the per-category boolean first
 * (`if (tracer.bus) tracer.emit('bus', now, {...})`), so a disabled category costs one
 * property read and builds no record.
 */
export class Tracer {
  map = false;
  unmap = false;
  tlb = false;
  walk = false;
  fault = false;
  inval = false;
  dma = false;
  bus = false;
  private started = false;
  private ended = false;
  records = 0;
  /**
   * Bus-master names by id (the SoC's MasterRegistry, live), so `bus` records carry the
   * master's name next to its id with one array read. Empty until `useMasters`.
   */
  masterNames: readonly string[] = [];
  /** Records outside [winFrom, winTo) are dropped (`--trace-window`); two compares per record. */
  private readonly winFrom: Tick = 0;
  private readonly winTo: Tick = Infinity;

  /** A tracer with no writer records nothing whatever the filter says. */
  constructor(
    private readonly writer: TraceWriter | null = null,
    readonly categories: readonly TraceCategory[] = TRACE_CATEGORIES,
    readonly window: TraceWindow | null = null,
  ) {
    if (writer) for (const c of categories) this[c] = true;
    if (window) {
      this.winFrom = window.from;
      this.winTo = window.to;
    }
  }

  static parseFilter(filter: string): TraceCategory[] {
    const cats = filter.split(',').map((s) => s.trim()).filter(Boolean);
    for (const c of cats) {
      if (!(TRACE_CATEGORIES as readonly string[]).includes(c)) {
        throw new Error(`unknown trace category "${c}" (expected one of ${TRACE_CATEGORIES.join(', ')})`);
      }
    }
    return cats as TraceCategory[];
  }

  /** Names bus masters in records from `masters` (the builder calls this for its SoC). */
  useMasters(masters: MasterRegistry): void {
    this.masterNames = masters.names;
  }

  enabled(cat: TraceCategory): boolean {
    return this[cat];
  }

  /** Writes the header record; must come before any record. */
  start(header: TraceHeader): void {
    if (!this.writer) return;
    if (this.started) throw new SimInvariantError('trace header written twice');
    this.started = true;
    const { configHash, seed, ...extra } = header;
    for (const k of RESERVED_HEADER_KEYS) {
      if (k in extra) throw new SimInvariantError(`trace header field "${k}" is reserved`);
    }
    this.writer.writeLine(JSON.stringify({
      format: TRACE_FORMAT, version: TRACE_VERSION, config_hash: configHash, seed,
      categories: [...this.categories], ...(this.window ? { window: traceWindowFields(this.window) } : {}), ...extra,
    }));
  }

  /** Writes one record `{t, cat, ...fields}`. Callers check the category flag first. */
  emit(cat: TraceCategory, tick: Tick, fields: Record<string, unknown>): void {
    if (!this.writer || !this[cat]) return;
    if (!this.started) throw new SimInvariantError('trace record before header');
    if (tick < this.winFrom || tick >= this.winTo) return;
    this.records++;
    this.writer.writeLine(JSON.stringify({ t: tick, cat, ...fields }));
  }

  /**
   * Writes the end record `{t, cat:"end", reason, records, ...fields}` (`records`: the
   * event records before it; with a window, also `window`). Once; only after the header (a run that fails before its
   * header has no trace to end).
   */
  end(tick: Tick, reason: TraceEndReason, fields: Record<string, unknown> = {}): void {
    if (!this.writer || !this.started || this.ended) return;
    this.ended = true;
    const window = this.window ? { window: traceWindowFields(this.window) } : {};
    this.writer.writeLine(JSON.stringify({ t: tick, cat: TRACE_END_CATEGORY, reason, records: this.records, ...window, ...fields }));
  }

  close(): void {
    this.writer?.close();
  }
}
