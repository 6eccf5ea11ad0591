import * as fs from 'fs';
import { StringDecoder } from 'string_decoder';
import { FileTraceWriter, TRACE_END_CATEGORY, TRACE_FORMAT, TRACE_VERSION, type TraceWriter } from './trace';
import type { MasterRegistry } from './masters';
import { OutputFile } from './outputFile';
import type { Tick } from './time';
import { traceWindowFields, type TraceWindow } from './traceWindow';

/**
 * Timeline export (issue 7): turns the socsim JSON Lines trace records (header first,
 * then `{t, cat, ...}`) into Google's Chrome trace-event JSON ("JSON Object Format":
 * `{"traceEvents":[...]}`), which ui.perfetto.dev and chrome://tracing open.
 *
 * Layout: tracks grouped by the component tree. Process 1 is the run (its labels: seed,
 * config hash, mode; the end instant); every top-level unit (`soc.<unit>`: an IOMMU, a
 * crossbar, a device; and `kernel`) is a process of its own, in order of first
 * appearance, and each of its parts (a walker, a master's traffic on a crossbar, the
 * unit's own events) a thread (`thread_name`) in it. Counters sit in their unit's process.
 * - `bus` records: an 'X' slice [t - lat_ps, t] per record on the track of the
 *   (crossbar, master) pair, `<bus> ← <master>`. Bus masters are named from
 *   `masterNames` when given, else by the record's `master_name` (the SoC's master
 *   registry), else learned from the trace (traces without names: a walker's table reads
 *   and a DMA engine's first read name their master), else `master <id>`. Each crossbar also
 *   gets a bandwidth counter (bytes delivered per bin, GB/s).
 * - `walk` records (one per table read, written when the read is issued, and one
 *   `ev:'done'` record with the walk's `start` when it ends): the read
 *   ends with the bus record of the same address issued at the same tick, so each read
 *   becomes an 'X' slice named by its level, nested in a `walk` slice from the first
 *   read (or the record's `start`, when present) to the last read's completion, on the
 *   walker's track. Consecutive reads of one (walker, asid, va) form one walk. With no
 *   `ev:'done'` record the walk is taken to be over once `walkGapPs` passes after its
 *   last read without a further read of it; a read of a level the walk already read
 *   starts a new walk. Without `bus` in the trace, reads are instants and the
 *   walk a slice from its done record (start to end).
 * - `fault`, `inval`, `tlb`: instants on the translation unit's track (a slice when the
 *   record carries a numeric `start`); TLB misses also feed a misses-per-µs counter.
 * - `map`, `unmap`: instants on a `kernel` track, and a mapped-bytes counter per unit.
 * - `dma`: a `copy` slice from the `start` record to the `done` record on the device's
 *   track.
 * - `end` (the trace's last record: why the run ended): a global instant
 *   `end: <reason>`, and the record in `otherData.end`. Not counted in `records`.
 * - Any numeric record field named `q_<name>` (a queue depth or outstanding count at
 *   the record's tick) becomes a 'C' counter `<track> queue`, series `q_<name>`.
 *
 * Slices on one Chrome track must nest perfectly (Perfetto drops or misplaces
 * overlapping ones), so a component whose slices overlap in time (a master with many
 * transactions in flight, a walker with several slots) gets extra lanes: tracks named
 * `<component> [2]`, `[3]`, ... A slice goes on the first lane whose last slice ended
 * at or before its start. Lanes are capped (`maxLanes`, default 8: a GPU with 256 reads
 * in flight would otherwise get hundreds of tracks): a slice that finds all lanes busy is
 * not drawn but counted, per counter bin, in `<component> overflow` (series
 * `slices not drawn`), and in total per track in `otherData.overflow`.
 *
 * Times: `ts`/`dur` are µs. By default they are rounded to whole ns (Perfetto's own
 * resolution, and rounding ts and dur apart could make a child outlive its parent);
 * `resolution: 'ps'` writes ps / 1e6 unrounded. Args keep the exact ps values.
 *
 * The output is streamed: `{"traceEvents":[` at once, events as records arrive (in
 * chunks of 64 KiB), and the rest on close. State is bounded by what is in flight
 * (open walks, pending table reads, open copies, lanes, counter bins), never by trace
 * length. The same records give byte-identical output.
 */

/** Where the Chrome JSON text goes. */
export interface ChromeTraceSink {
  write(chunk: string): void;
  close(): void;
  /** Drops what was written (a failed conversion leaves no half file). */
  abandon?(): void;
}

/** Keeps the Chrome JSON in memory (tests). */
export class MemoryChromeSink implements ChromeTraceSink {
  readonly chunks: string[] = [];
  closed = false;
  write(chunk: string): void {
    this.chunks.push(chunk);
  }
  close(): void {
    this.closed = true;
  }
  text(): string {
    return this.chunks.join('');
  }
}

/** Writes through a temporary file renamed into place on close (OutputFile). */
class FileChromeSink implements ChromeTraceSink {
  private readonly out: OutputFile;
  constructor(path: string) {
    this.out = new OutputFile(path);
  }
  write(chunk: string): void {
    this.out.write(chunk);
  }
  close(): void {
    this.out.close();
  }
  abandon(): void {
    this.out.abandon();
  }
}

export type MasterNames = ReadonlyMap<number, string> | Readonly<Record<number, string>>;

export interface ChromeTraceOptions {
  /** Names of bus master ids (see `socMasterNames`); ids not named are learned or shown as `master <id>`. */
  masterNames?: MasterNames;
  /** Width of the counter bins (bandwidth, TLB misses), ps. Default 100 ns. */
  counterBinPs?: number;
  /** A walk with no read pending ends when this long passes with no further read of it, ps. Default 1 µs. */
  walkGapPs?: number;
  /** 'ns' (default) rounds ts/dur to whole ns; 'ps' writes ps / 1e6 unrounded. */
  resolution?: 'ns' | 'ps';
  /** Lanes per track at most (default 8); slices that find no free lane are counted, not drawn. */
  maxLanes?: number;
}

/** A built SoC (`sim/soc/builder.ts` Soc): its master registry says which id is whose. */
export interface SocMasterSource {
  readonly masters: MasterRegistry;
}

/**
 * Bus master id → name for a built SoC, from its master registry: devices
 * (`soc.<name>`), IOMMUs (their walkers' reads), CPU MMUs (walker and data-cache
 * traffic), the kernel's memory master and the CPU cores. Pass it as `masterNames`, or
 * to `setMasterNames` before the trace header.
 */
export function socMasterNames(soc: SocMasterSource): Map<number, string> {
  return soc.masters.entries();
}

interface Track {
  readonly name: string;
  readonly index: number;
  /** The process (top-level unit) the track belongs to. */
  readonly pid: number;
  /** Per lane, the end of its latest slice (ps). */
  readonly laneEnd: Tick[];
  readonly tids: number[];
}

interface WalkRead {
  readonly walk: OpenWalk;
  readonly level: string;
  readonly read: string;
  readonly issue: Tick;
  end: Tick;
}

interface OpenWalk {
  readonly key: string;
  readonly walker: string;
  readonly asid: unknown;
  readonly va: unknown;
  start: Tick;
  readonly reads: WalkRead[];
  pending: number;
  lastEnd: Tick;
}

interface OpenCopy {
  readonly t: Tick;
  readonly fields: Record<string, unknown>;
}

interface Bin {
  readonly pid: number;
  readonly name: string;
  readonly series: string;
  readonly scale: number;
  bin: number;
  sum: number;
}

type Rec = Record<string, unknown> & { t: Tick; cat: string };

/** The SoC's own process: the run's labels and the end instant. Units get pids from 2. */
const PID = 1;
const LANE_STRIDE = 1000;
const DEFAULT_MAX_LANES = 8;
const CHUNK_CHARS = 1 << 16;
/** Record fields that name the component a record belongs to, in order of preference. */
const COMPONENT_FIELDS = ['unit', 'walker', 'bus', 'xbar', 'dev', 'component'] as const;

/**
 * The top-level unit a component belongs to: `soc.<unit>` for SoC paths
 * (`soc.gpu_mmu.walker` → `soc.gpu_mmu`), else the name itself (`kernel`).
 */
export function topLevelUnit(component: string): string {
  if (!component.startsWith('soc.')) return component;
  const dot = component.indexOf('.', 4);
  return dot < 0 ? component : component.slice(0, dot);
}

function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

function str(v: unknown): string {
  return typeof v === 'string' ? v : String(v);
}

/** A record's fields for `args`: everything but `cat`, with `t` as `t_ps`. */
function argsOf(r: Rec): Record<string, unknown> {
  const { t, cat: _cat, ...rest } = r;
  return { t_ps: t, ...rest };
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}

export class ChromeTraceWriter implements TraceWriter {
  /** Trace records read (the header is not one). */
  records = 0;
  /** Chrome events written. */
  events = 0;

  private readonly sink: ChromeTraceSink;
  private readonly binPs: number;
  private readonly walkGap: number;
  private readonly nsResolution: boolean;
  private readonly masters = new Map<number, string>();

  private chunk: string[] = [];
  private chunkChars = 0;
  private header: Record<string, unknown> | null = null;
  /** The trace's end record without `cat` (`t` as `t_ps`), once seen. */
  private endRecord: Record<string, unknown> | null = null;
  private closed = false;
  private busTraced = true;
  /** The latest record tick seen. */
  private now: Tick = 0;

  private readonly tracks = new Map<string, Track>();
  /** Top-level unit → its pid. */
  private readonly processes = new Map<string, number>();
  private readonly maxLanes: number;
  /** Per track name, slices not drawn because all its lanes were busy. */
  private readonly overflow = new Map<string, number>();

  // walks
  private readonly openWalks = new Map<string, OpenWalk[]>();
  private openWalkCount = 0;
  /** `<read addr>@<issue tick>` → table reads waiting for their bus record, oldest first. */
  private readonly pendingReads = new Map<string, WalkRead[]>();
  private readonly walkerMaster = new Map<string, number>();
  private nextSweep: Tick = 0;

  // dma
  private readonly openCopies = new Map<string, OpenCopy[]>();
  /** `<src>@<start tick>` → device, to learn a DMA engine's master id from its first read; one per device. */
  private readonly dmaFirstRead = new Map<string, string>();
  private readonly dmaFirstReadKey = new Map<string, string>();

  // counters
  private readonly bins = new Map<string, Bin>();
  private readonly mapped = new Map<string, number>();

  constructor(target: string | ChromeTraceSink, options: ChromeTraceOptions = {}) {
    this.binPs = options.counterBinPs ?? 100_000;
    this.walkGap = options.walkGapPs ?? 1_000_000;
    this.nsResolution = (options.resolution ?? 'ns') === 'ns';
    this.maxLanes = options.maxLanes ?? DEFAULT_MAX_LANES;
    if (!(Number.isInteger(this.maxLanes) && this.maxLanes >= 1 && this.maxLanes < LANE_STRIDE)) throw new Error(`chrome trace: maxLanes must be an integer from 1 to ${LANE_STRIDE - 1}`);
    if (!(this.binPs > 0) || !(this.walkGap >= 0)) throw new Error('chrome trace: counterBinPs must be > 0 and walkGapPs >= 0');
    this.sink = typeof target === 'string' ? new FileChromeSink(target) : target;
    if (options.masterNames) this.setMasterNames(options.masterNames);
    this.put('{"traceEvents":[\n');
  }

  /** Names bus master ids; call before the first bus record (track names are fixed when a track is made). */
  setMasterNames(names: MasterNames): void {
    const entries: Iterable<[number | string, string]> = names instanceof Map ? names.entries() : Object.entries(names);
    for (const [id, name] of entries) this.masters.set(Number(id), name);
  }

  writeLine(line: string): void {
    if (this.closed) throw new Error('chrome trace: record after close');
    if (line.trim() === '') return;
    const r = JSON.parse(line) as Rec;
    if (this.header === null) {
      this.start(r);
      return;
    }
    if (!isNum(r.t) || typeof r.cat !== 'string') throw new Error(`chrome trace: not a socsim trace record: ${line.slice(0, 200)}`);
    if (r.cat === TRACE_END_CATEGORY) {
      this.onEnd(r);
      return;
    }
    this.records++;
    if (r.t > this.now) this.now = r.t;
    if (this.openWalkCount > 0 && this.now >= this.nextSweep) this.sweepWalks(false);
    let track: Track;
    switch (r.cat) {
      case 'bus': track = this.onBus(r); break;
      case 'walk': track = this.onWalk(r); break;
      case 'dma': track = this.onDma(r); break;
      case 'map':
      case 'unmap': track = this.onMap(r); break;
      case 'tlb':
        track = this.unitEvent(r, `tlb ${str(r.ev ?? 'event')}`);
        if (r.ev === 'miss') this.addToBin(`tlb|${track.name}`, track.pid, `${track.name} tlb misses`, 'per_us', 1e6 / this.binPs, r.t, 1);
        break;
      case 'fault': track = this.unitEvent(r, `fault ${str(r.reason ?? '')}`.trim()); break;
      case 'inval': track = this.unitEvent(r, str(r.op ?? 'inval')); break;
      default: track = this.unitEvent(r, r.cat); break;
    }
    this.queueCounters(r, track);
  }

  /** Stops without finishing the JSON: the output file is removed (the sink's `abandon`). */
  abandon(): void {
    if (this.closed) return;
    this.closed = true;
    this.sink.abandon?.();
  }

  close(): void {
    if (this.closed) return;
    this.sweepWalks(true);
    for (const [dev, list] of this.openCopies) {
      for (const c of list) {
        this.slice(this.track(`dev|${dev}`, dev, dev), c.t, this.now, 'copy', 'dma', { ...c.fields, start_ps: c.t, end_ps: this.now, incomplete: true });
      }
    }
    this.openCopies.clear();
    for (const b of this.bins.values()) this.flushBin(b, true);
    this.closed = true;
    let tail = '\n]';
    if (this.header) {
      const other: Record<string, unknown> = { ...this.header };
      if (this.endRecord) other.end = this.endRecord;
      // Slices not drawn (all lanes of their track busy), per track: also the tracks' `overflow` counters.
      if (this.overflow.size > 0) other.overflow = Object.fromEntries(this.overflow);
      tail += `,"otherData":${JSON.stringify(other)}`;
    }
    this.put(`${tail}}\n`);
    this.flush();
    this.sink.close();
  }

  // ---- records ----------------------------------------------------------------------

  private start(h: Record<string, unknown>): void {
    if (h.format !== TRACE_FORMAT) throw new Error(`chrome trace: the first line is not a ${TRACE_FORMAT} header`);
    if (h.version !== TRACE_VERSION) throw new Error(`chrome trace: ${TRACE_FORMAT} version ${str(h.version)} (expected ${TRACE_VERSION})`);
    this.header = h;
    if (Array.isArray(h.categories)) this.busTraced = h.categories.includes('bus');
    const soc = typeof h.soc === 'string' ? h.soc : 'soc';
    const name = typeof h.scenario === 'string' ? `${soc}: ${h.scenario}` : soc;
    this.event({ name: 'process_name', ph: 'M', pid: PID, args: { name } });
    const labels = [`seed ${str(h.seed)}`, `config ${str(h.config_hash)}`];
    if (typeof h.mode === 'string') labels.push(h.mode);
    this.event({ name: 'process_labels', ph: 'M', pid: PID, args: { labels: labels.join(',') } });
  }

  /** The end record (not counted in `records`): a global instant, and `otherData.end`. */
  private onEnd(r: Rec): void {
    if (r.t > this.now) this.now = r.t;
    const { t: _t, cat: _c, ...fields } = r;
    this.endRecord = { t_ps: r.t, ...fields };
    this.event({ name: `end: ${str(r.reason)}`, cat: 'end', ph: 'i', s: 'g', ts: this.us(r.t), pid: PID, args: this.endRecord });
  }

  private onBus(r: Rec): Track {
    const t = r.t;
    const s = isNum(r.lat_ps) ? t - r.lat_ps : t;
    const master = isNum(r.master) ? r.master : -1;
    // `xbar` is the field's name in traces written before it became `bus`.
    const bus = str(r.bus ?? r.xbar);
    if (typeof r.master_name === 'string' && master >= 0 && !this.masters.has(master)) this.masters.set(master, r.master_name);
    if (r.op === 'R') this.matchRead(r, s, master);
    const label = this.masters.get(master) ?? `master ${master}`;
    const track = this.track(`bus|${bus}|${master}`, `${bus} ← ${label}`, bus);
    const status = r.status === undefined || r.status === 'ok' ? '' : ` ${str(r.status)}`;
    this.slice(track, s, t, `${r.op === 'W' ? 'write' : 'read'}${status}`, 'bus', argsOf(r));
    if (isNum(r.size)) this.addToBin(`bw|${bus}`, track.pid, `${bus} bandwidth`, 'GB/s', 1000 / this.binPs, t, r.size);
    return track;
  }

  /** Completes the walker table read (or learns the DMA master) that this bus read is. */
  private matchRead(r: Rec, issue: Tick, master: number): void {
    const key = `${str(r.addr)}@${issue}`;
    const q = this.pendingReads.get(key);
    if (q) {
      for (let i = 0; i < q.length; i++) {
        const rd = q[i];
        const known = this.walkerMaster.get(rd.walk.walker);
        if (known !== undefined && known !== master) continue;
        if (known === undefined && master >= 0) {
          this.walkerMaster.set(rd.walk.walker, master);
          if (!this.masters.has(master)) this.masters.set(master, rd.walk.walker.replace(/\.walker$/, ''));
        }
        q.splice(i, 1);
        if (q.length === 0) this.pendingReads.delete(key);
        rd.end = r.t;
        rd.walk.pending--;
        if (r.t > rd.walk.lastEnd) rd.walk.lastEnd = r.t;
        return;
      }
    }
    const dev = this.dmaFirstRead.get(key);
    if (dev !== undefined) {
      this.dmaFirstRead.delete(key);
      this.dmaFirstReadKey.delete(dev);
      if (master >= 0 && !this.masters.has(master)) this.masters.set(master, dev);
    }
  }

  private onWalk(r: Rec): Track {
    const walker = str(r.walker);
    const t = r.t;
    const track = this.track(`walker|${walker}`, walker, walker);
    if (r.ev === 'done') {
      this.walkDone(r, walker);
      return track;
    }
    const level = str(r.level);
    if (!this.busTraced) {
      this.instant(track, t, level, 'walk', argsOf(r));
      return track;
    }
    const key = `${walker}|${str(r.asid)}|${str(r.va)}`;
    let list = this.openWalks.get(key);
    let w: OpenWalk | undefined;
    if (list) {
      for (let i = list.length - 1; i >= 0; i--) {
        const c = list[i];
        const fits = isNum(r.start)
          ? c.start === r.start
          : c.pending === 0 && t >= c.lastEnd && t - c.lastEnd <= this.walkGap && !c.reads.some((x) => x.level === level);
        if (fits) { w = c; break; }
      }
    }
    if (!w) {
      w = { key, walker, asid: r.asid, va: r.va, start: isNum(r.start) && r.start <= t ? r.start : t, reads: [], pending: 0, lastEnd: -1 };
      if (!list) this.openWalks.set(key, (list = []));
      list.push(w);
      this.openWalkCount++;
    }
    const rd: WalkRead = { walk: w, level, read: str(r.read), issue: t, end: -1 };
    w.reads.push(rd);
    w.pending++;
    const pk = `${rd.read}@${t}`;
    const q = this.pendingReads.get(pk);
    if (q) q.push(rd);
    else this.pendingReads.set(pk, [rd]);
    return track;
  }

  /** An explicit end-of-walk record (`ev:'done'`): ends the oldest open walk of its (asid, va). */
  private walkDone(r: Rec, walker: string): void {
    const key = `${walker}|${str(r.asid)}|${str(r.va)}`;
    const list = this.openWalks.get(key);
    // The walk began at `start`; its first table read was issued at or after it (walk-cache and step cycles first).
    let i = list ? list.findIndex((c) => !isNum(r.start) || c.start === r.start) : -1;
    if (list && i < 0 && isNum(r.start)) i = list.findIndex((c) => c.start >= (r.start as number));
    if (!list || i < 0) {
      const s = isNum(r.start) && r.start <= r.t ? r.start : r.t;
      this.slice(this.track(`walker|${walker}`, walker, walker), s, r.t, 'walk', 'walk', argsOf(r));
      return;
    }
    const w = list[i];
    if (isNum(r.start) && r.start < w.start) w.start = r.start;
    if (r.t > w.lastEnd) w.lastEnd = r.t;
    this.finishWalk(w, argsOf(r));
  }

  private sweepWalks(all: boolean): void {
    for (const list of [...this.openWalks.values()]) {
      for (const w of [...list]) {
        if (all || (w.pending === 0 && this.now - w.lastEnd > this.walkGap)) this.finishWalk(w, null);
      }
    }
    this.nextSweep = this.now + Math.max(1, this.walkGap / 2);
  }

  private finishWalk(w: OpenWalk, extra: Record<string, unknown> | null): void {
    const list = this.openWalks.get(w.key)!;
    list.splice(list.indexOf(w), 1);
    if (list.length === 0) this.openWalks.delete(w.key);
    this.openWalkCount--;
    let incomplete = false;
    for (const rd of w.reads) {
      if (rd.end < 0) {
        incomplete = true;
        rd.end = this.now;
        const pk = `${rd.read}@${rd.issue}`;
        const q = this.pendingReads.get(pk);
        if (q) {
          q.splice(q.indexOf(rd), 1);
          if (q.length === 0) this.pendingReads.delete(pk);
        }
      }
      if (rd.end > w.lastEnd) w.lastEnd = rd.end;
    }
    const end = Math.max(w.lastEnd, w.start);
    const track = this.track(`walker|${w.walker}`, w.walker, w.walker);
    const args: Record<string, unknown> = {
      asid: w.asid, va: w.va, levels: w.reads.map((x) => x.level).join(' → '), reads: w.reads.length, start_ps: w.start, end_ps: end,
    };
    if (incomplete) args.incomplete = true;
    if (extra) Object.assign(args, extra);
    const tid = this.slice(track, w.start, end, 'walk', 'walk', args);
    if (tid < 0) return;
    for (const rd of w.reads) {
      this.sliceOn(track.pid, tid, rd.issue, rd.end, rd.level, 'walk', { read: rd.read, va: w.va, issue_ps: rd.issue, done_ps: rd.end });
    }
  }

  private onDma(r: Rec): Track {
    const dev = str(r.dev);
    const track = this.track(`dev|${dev}`, dev, dev);
    if (r.ev === 'start') {
      const { t: _t, cat: _c, ev: _e, dev: _d, ...fields } = r;
      const list = this.openCopies.get(dev);
      if (list) list.push({ t: r.t, fields });
      else this.openCopies.set(dev, [{ t: r.t, fields }]);
      if (r.src !== undefined && !this.dmaFirstReadKey.has(dev)) {
        const key = `${str(r.src)}@${r.t}`;
        this.dmaFirstRead.set(key, dev);
        this.dmaFirstReadKey.set(dev, key);
      }
      return track;
    }
    if (r.ev === 'done') {
      const list = this.openCopies.get(dev);
      const open = list?.shift();
      if (list && list.length === 0) this.openCopies.delete(dev);
      const stale = this.dmaFirstReadKey.get(dev);
      if (stale !== undefined) {
        this.dmaFirstRead.delete(stale);
        this.dmaFirstReadKey.delete(dev);
      }
      if (open) {
        const { t: _t, cat: _c, ev: _e, dev: _d, bytes, ...done } = r;
        const name = r.status === undefined || r.status === 'ok' ? 'copy' : `copy ${str(r.status)}`;
        this.slice(track, open.t, r.t, name, 'dma', { ...open.fields, written: bytes, ...done, start_ps: open.t, end_ps: r.t });
        return track;
      }
    }
    this.instant(track, r.t, `dma ${str(r.ev ?? 'event')}`, 'dma', argsOf(r));
    return track;
  }

  private onMap(r: Rec): Track {
    const track = this.track('kernel', 'kernel', 'kernel');
    this.instant(track, r.t, r.cat, r.cat, argsOf(r));
    const unit = r.unit === undefined ? null : str(r.unit);
    if (unit === null) return track;
    const delta = r.cat === 'map' ? (isNum(r.size) ? r.size : 0) : -(isNum(r.unmapped) ? r.unmapped : isNum(r.size) ? r.size : 0);
    const v = (this.mapped.get(unit) ?? 0) + delta;
    this.mapped.set(unit, v);
    this.counter(this.process(unit), `${unit} mapped`, r.t, { bytes: v }, 'map');
    return track;
  }

  /** tlb, fault, inval and unknown categories: an instant (or a slice from `start`) on the component's track. */
  private unitEvent(r: Rec, name: string): Track {
    let comp = 'misc';
    for (const f of COMPONENT_FIELDS) {
      if (typeof r[f] === 'string') { comp = r[f] as string; break; }
    }
    const track = this.track(`unit|${comp}`, comp, comp);
    if (isNum(r.start) && r.start <= r.t) this.slice(track, r.start, r.t, name, r.cat, argsOf(r));
    else this.instant(track, r.t, name, r.cat, argsOf(r));
    return track;
  }

  private queueCounters(r: Rec, track: Track): void {
    let vals: Record<string, number> | null = null;
    for (const k in r) {
      if (k.startsWith('q_') && isNum(r[k])) (vals ??= {})[k] = r[k] as number;
    }
    if (vals) this.counter(track.pid, `${track.name} queue`, r.t, vals, r.cat);
  }

  // ---- counters ---------------------------------------------------------------------

  private addToBin(key: string, pid: number, name: string, series: string, scale: number, t: Tick, amount: number): void {
    const bin = Math.floor(t / this.binPs);
    let b = this.bins.get(key);
    if (!b) {
      b = { pid, name, series, scale, bin, sum: 0 };
      this.bins.set(key, b);
      if (bin > 0) this.counter(pid, name, 0, { [series]: 0 }, 'counter');
    } else if (bin > b.bin) {
      this.flushBin(b, false);
      if (bin > b.bin + 1) this.counter(pid, name, (b.bin + 1) * this.binPs, { [series]: 0 }, 'counter');
      b.bin = bin;
      b.sum = 0;
    }
    b.sum += amount;
  }

  private flushBin(b: Bin, last: boolean): void {
    const at = b.bin * this.binPs;
    this.counter(b.pid, b.name, at, { [b.series]: round6(b.sum * b.scale) }, 'counter');
    if (last) {
      const end = Math.min(at + this.binPs, this.now);
      if (end > at) this.counter(b.pid, b.name, end, { [b.series]: 0 }, 'counter');
    }
  }

  private counter(pid: number, name: string, t: Tick, args: Record<string, number>, cat: string): void {
    this.event({ name, cat, ph: 'C', ts: this.us(t), pid, args });
  }

  // ---- tracks and events ------------------------------------------------------------

  /** The track `key` named `name`, in the process of `component`'s top-level unit. */
  private track(key: string, name: string, component: string): Track {
    let tr = this.tracks.get(key);
    if (!tr) {
      tr = { name, index: this.tracks.size, pid: this.process(topLevelUnit(component)), laneEnd: [], tids: [] };
      this.tracks.set(key, tr);
      this.lane(tr, 0);
    }
    return tr;
  }

  /** The pid of a top-level unit, naming the process when it is new (pids in order of first appearance). */
  private process(unit: string): number {
    let pid = this.processes.get(unit);
    if (pid === undefined) {
      pid = this.processes.size + PID + 1;
      this.processes.set(unit, pid);
      this.event({ name: 'process_name', ph: 'M', pid, args: { name: unit } });
      this.event({ name: 'process_sort_index', ph: 'M', pid, args: { sort_index: pid } });
    }
    return pid;
  }

  /** The tid of lane `i` of `tr`, naming it when it is new. */
  private lane(tr: Track, i: number): number {
    while (tr.tids.length <= i) {
      const n = tr.tids.length;
      const tid = (tr.index + 1) * LANE_STRIDE + n;
      tr.tids.push(tid);
      tr.laneEnd.push(-Infinity);
      this.event({ name: 'thread_name', ph: 'M', pid: tr.pid, tid, args: { name: n === 0 ? tr.name : `${tr.name} [${n + 1}]` } });
      this.event({ name: 'thread_sort_index', ph: 'M', pid: tr.pid, tid, args: { sort_index: tid } });
    }
    return tr.tids[i];
  }

  /**
   * An 'X' slice [s, e] on the first lane of `tr` free at `s`; returns its tid. With all
   * `maxLanes` lanes busy the slice is not drawn (-1): it is counted in the track's
   * `<track> overflow` counter (slices per bin) and `otherData.overflow`.
   */
  private slice(tr: Track, s: Tick, e: Tick, name: string, cat: string, args: Record<string, unknown>): number {
    if (e < s) e = s;
    let i = 0;
    while (i < tr.laneEnd.length && tr.laneEnd[i] > s) i++;
    if (i >= this.maxLanes) {
      this.overflow.set(tr.name, (this.overflow.get(tr.name) ?? 0) + 1);
      this.addToBin(`ovf|${tr.index}`, tr.pid, `${tr.name} overflow`, 'slices not drawn', 1, s, 1);
      return -1;
    }
    const tid = this.lane(tr, i);
    tr.laneEnd[i] = e;
    this.sliceOn(tr.pid, tid, s, e, name, cat, args);
    return tid;
  }

  private sliceOn(pid: number, tid: number, s: Tick, e: Tick, name: string, cat: string, args: Record<string, unknown>): void {
    const ts = this.us(s);
    const dur = this.nsResolution ? (Math.round(e / 1000) - Math.round(s / 1000)) / 1000 : (e - s) / 1e6;
    this.event({ name, cat, ph: 'X', ts, dur, pid, tid, args });
  }

  private instant(tr: Track, t: Tick, name: string, cat: string, args: Record<string, unknown>): void {
    this.event({ name, cat, ph: 'i', s: 't', ts: this.us(t), pid: tr.pid, tid: tr.tids[0], args });
  }

  private us(t: Tick): number {
    return this.nsResolution ? Math.round(t / 1000) / 1000 : t / 1e6;
  }

  private event(e: Record<string, unknown>): void {
    this.put(this.events === 0 ? JSON.stringify(e) : `,\n${JSON.stringify(e)}`);
    this.events++;
  }

  private put(s: string): void {
    this.chunk.push(s);
    this.chunkChars += s.length;
    if (this.chunkChars >= CHUNK_CHARS) this.flush();
  }

  private flush(): void {
    if (this.chunk.length === 0) return;
    this.sink.write(this.chunk.join(''));
    this.chunk = [];
    this.chunkChars = 0;
  }
}

/** A JSON Lines trace that cannot be converted (not a socsim trace, a bad line): the user's input, exit 1. */
export class TraceConvertError extends Error {}

/**
 * Converts a socsim JSON Lines trace file to a Chrome trace-event JSON file, streaming
 * (the input is read in 1 MiB blocks). With `window`, only records whose tick is in
 * [from, to) are converted (the header and end record always are). On a bad input line
 * the output file is not written. Returns the records read and events written.
 */
export function chromeTraceFromJsonl(
  inPath: string, outPath: string, options: ChromeTraceOptions = {}, window: TraceWindow | null = null,
): { records: number; events: number } {
  const fd = fs.openSync(inPath, 'r');
  let writer: ChromeTraceWriter | null = null;
  let ok = false;
  try {
    writer = new ChromeTraceWriter(outPath, options);
    const w = writer;
    const buf = Buffer.alloc(1 << 20);
    const decoder = new StringDecoder('utf8');
    let rest = '';
    let lineNo = 0;
    let kept = 0;
    const feed = (line: string) => {
      lineNo++;
      try {
        if (window && lineNo > 1) {
          const keep = windowed(line, window, kept);
          if (keep === null) return;
          if (keep !== line) {
            w.writeLine(keep);
            return;
          }
          kept++;
        }
        // The header says which window the file shows, as a windowed run's header does.
        w.writeLine(window && lineNo === 1 ? JSON.stringify({ ...(JSON.parse(line) as object), window: traceWindowFields(window) }) : line);
      } catch (e) {
        throw new TraceConvertError(`${inPath}:${lineNo}: ${(e as Error).message}`);
      }
    };
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const text = rest + decoder.write(buf.subarray(0, n));
      const lines = text.split('\n');
      rest = lines.pop()!;
      for (const l of lines) feed(l);
    }
    rest += decoder.end();
    if (rest !== '') feed(rest);
    if (lineNo === 0) throw new TraceConvertError(`${inPath}: empty file, not a ${TRACE_FORMAT} trace`);
    ok = true;
  } finally {
    fs.closeSync(fd);
    if (ok) writer!.close();
    else writer?.abandon();
  }
  return { records: writer.records, events: writer.events };
}

/**
 * A record line as a `window` keeps it: the line itself when inside, null when outside,
 * and the end record rewritten as a windowed run writes it (`records`: the `kept` records
 * before it, and the window).
 */
function windowed(line: string, window: TraceWindow, kept: number): string | null {
  if (line.trim() === '') return null;
  const r = JSON.parse(line) as Rec;
  if (r.cat === TRACE_END_CATEGORY) {
    const { t, cat, reason, records: _records, window: _window, ...rest } = r;
    return JSON.stringify({ t, cat, reason, records: kept, window: traceWindowFields(window), ...rest });
  }
  if (!isNum(r.t)) return line;
  return r.t >= window.from && r.t < window.to ? line : null;
}

/** Trace output formats `--trace-format` can name. */
export const TRACE_OUTPUT_FORMATS = ['jsonl', 'chrome'] as const;
export type TraceOutputFormat = (typeof TRACE_OUTPUT_FORMATS)[number];

/** The trace writer for `--trace <path> --trace-format <format>`. */
export function createTraceWriter(path: string, format: TraceOutputFormat = 'jsonl', options: ChromeTraceOptions = {}): TraceWriter {
  return format === 'chrome' ? new ChromeTraceWriter(path, options) : new FileTraceWriter(path);
}
