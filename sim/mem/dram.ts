import type { SimContext } from '../engine/context';
import type { ClockDomain } from '../engine/clock';
import { SimInvariantError } from '../engine/errors';
import { z } from 'zod';
import { hex, log2Exact } from '../engine/addr';
import { count, mustBe, powerOfTwo, powerOfTwoSize, resolveParams } from '../engine/spec';
import type { Counter, Histogram } from '../engine/stats';
import { nsToTicks, PS_PER_NS, type Tick } from '../engine/time';
import { ResponsePort, type RequestReceiver } from '../bus/port';
import { Status, type Transaction } from '../bus/transaction';
import type { AddrRange } from '../bus/addrRange';
import type { PhysicalMemory } from './physmem';
import { applyFunctional, MemoryAccessStats } from './memoryPort';
import { PendingQueue } from './pendingQueue';

/** Longest DRAM timing accepted, ns: far beyond any real part, and keeps tick arithmetic exact. */
const MAX_NS = 1e6;

function nanoseconds(what: string) {
  const rule = mustBe(`a positive number of ns, at most ${MAX_NS}`);
  return z.number(rule).positive(rule).max(MAX_NS, rule).describe(`${what}, ns`);
}

/** DRAM timing parameters, in nanoseconds (may be fractional; each is rounded to whole ps). */
export const DramTimingSpec = z
  .strictObject({
    tRCD: nanoseconds('ACTIVATE to READ/WRITE'),
    tCL: nanoseconds('READ to first data (CAS latency)'),
    tRP: nanoseconds('PRECHARGE to ACTIVATE'),
    tRAS: nanoseconds('ACTIVATE to PRECHARGE minimum (row-open time)'),
    tBURST: nanoseconds('data-bus time of one burst of burstBytes; also the column-to-column delay (tCCD)')
      .refine((ns) => nsToTicks(ns) > 0, mustBe('at least 0.001 ns')),
  })
  .describe('DRAM timing parameters in nanoseconds');

export type DramTiming = z.output<typeof DramTimingSpec>;

type Field = 'row' | 'bank' | 'channel' | 'column';
const FIELDS: readonly Field[] = ['row', 'bank', 'channel', 'column'];

/** The fields of a mapping string, or the reason it is not one. */
function parseMapping(mapping: string): Field[] | string {
  const parts = mapping.split(':').map((s) => s.trim());
  for (const p of parts) {
    if (!(FIELDS as readonly string[]).includes(p)) {
      return `unknown field "${p}" in "${mapping}" (expected row, bank, channel and column, each once, separated by ":")`;
    }
  }
  for (const f of FIELDS) {
    const n = parts.filter((p) => p === f).length;
    if (n !== 1) return `field ${f} must appear exactly once in "${mapping}", found ${n} times`;
  }
  return parts as Field[];
}

/** The DRAM controller's parameters (a `memories[]` entry of kind `dram` adds name, region, bus and clock). */
export const DramSpec = z
  .strictObject({
    channels: powerOfTwo().describe('channels (independent data buses), a power of two; channels × banks at most 2^20'),
    banks: powerOfTwo().describe('banks per channel (ranks × banks), a power of two'),
    rowBytes: powerOfTwoSize(2 ** 30, '1GiB').describe('row-buffer (page) size per bank, a power of two'),
    burstBytes: powerOfTwoSize(2 ** 30, '1GiB').describe('bytes per column burst, a power of two, at most rowBytes'),
    mapping: z.string().default('row:bank:channel:column').describe(
      'address interleaving, most-significant field first, e.g. "row:bank:channel:column" or "row:column:bank:channel"; row, bank, channel and column each exactly once',
    ),
    queueDepth: count().default(32).describe('requests queued + in service per channel before back-pressure (at most 2^20)'),
    frontendLatencyNs: z.number(mustBe('a non-negative number of ns')).nonnegative(mustBe('a non-negative number of ns'))
      .max(MAX_NS, mustBe(`at most ${MAX_NS} ns`)).default(0).describe('controller pipeline latency added to every access, ns'),
    timing: DramTimingSpec,
  })
  .superRefine((p, ctx) => {
    // Per-bank state arrays are indexed with small integers.
    if (p.channels * p.banks > 2 ** 20) {
      ctx.addIssue({ code: 'custom', path: ['banks'], message: `channels × banks must be at most 2^20, got ${p.channels * p.banks}` });
    }
    if (p.burstBytes > p.rowBytes) {
      ctx.addIssue({ code: 'custom', path: ['burstBytes'], message: `must be at most rowBytes (${p.rowBytes}), got ${p.burstBytes}` });
    }
    const m = parseMapping(p.mapping);
    if (typeof m === 'string') ctx.addIssue({ code: 'custom', path: ['mapping'], message: m });
  });

/** What the controller takes (defaults may be left out; sizes may be strings). */
export type DramParamsInput = z.input<typeof DramSpec>;
/** Resolved parameters. */
export type DramParams = z.output<typeof DramSpec>;

/** The reservation times the burst scheduler reads and advances, in ticks. */
class Reservations {
  /** Per bank (channel * banks + bank): earliest next column command (and PRE). */
  readonly colReady: Float64Array;
  /** Per bank: tick of the last ACTIVATE. */
  readonly lastAct: Float64Array;
  /** Per channel: data bus free from this tick. */
  readonly busFree: Float64Array;

  constructor(banks: number, channels: number) {
    this.colReady = new Float64Array(banks);
    this.lastAct = new Float64Array(banks);
    this.busFree = new Float64Array(channels);
  }
}

/**
 * A DRAM controller timing model: a bus slave in front of `PhysicalMemory`.
 *
 * Address decode. `offset = addr - region.base`. The low log2(burstBytes) bits are
 * always the byte within a burst. Above them the `mapping` fields are laid out from
 * the least-significant (last) to the most-significant (first): `column` is the burst
 * index within a row (log2(rowBytes / burstBytes) bits), `channel` log2(channels)
 * bits, `bank` log2(banks) bits, and `row` the bits needed to cover the region
 * (ceil(log2(size / (rowBytes × channels × banks)))) — "the rest" when it comes first,
 * and well defined wherever it appears. With column last (e.g. "row:bank:channel:column") the column
 * is the byte offset within the row and each row is contiguous; with column higher
 * (e.g. "row:column:bank:channel", gem5's RoCoRaBaCh) consecutive bursts interleave
 * across channels/banks. `decode().column` is always the byte offset within the row.
 * Only division by powers of two is used on addresses.
 *
 * Requests. A request of `size` bytes covers the burst-aligned chunks of
 * [addr, addr+size) (a zero-size request still costs one burst). Each burst is decoded
 * on its own, so an unaligned request that crosses a row (or channel) boundary simply
 * touches two rows (or channels). A request belongs, for queueing and in-order
 * response, to the channel of its first burst (its home channel).
 *
 * Timing, open-page, FCFS per channel, computed analytically on arrival. The request
 * reaches the command scheduler at `a = now + frontendLatency`. Per burst, on bank b
 * of channel c, in arrival order:
 * - HIT (row open): column command at `max(a, colReady[b])`.
 * - MISS (bank closed — only before its first ACTIVATE, since pages stay open):
 *   ACT at `a`, column at ACT + tRCD.
 * - CONFLICT (another row open): PRE at `max(a, lastAct[b] + tRAS, colReady[b])` (the
 *   row must have been open tRAS and the bank's earlier column commands issued),
 *   ACT at PRE + tRP, column at ACT + tRCD.
 * - The column command is further delayed so its data follows the channel's previous
 *   burst: `col >= busFree[c] - tCL`. Data occupies the bus during
 *   [col + tCL, col + tCL + tBURST); `busFree[c]` and `colReady[b] = col + tBURST`
 *   (tCCD = tBURST) advance. ACT/PRE of a later request may thus happen before an
 *   earlier request's data (bank-level parallelism, as a real scheduler's lookahead),
 *   but data and column commands keep arrival order on each channel.
 * Idle latencies: hit tCL + tBURST, miss tRCD + tCL + tBURST, conflict
 * tRP + tRCD + tCL + tBURST (each plus frontendLatency, plus any tRAS wait).
 * A request completes when its last burst's data ends; responses leave each home
 * channel in arrival order (a request never overtakes an earlier one of its channel).
 * One completion event is scheduled per request; nothing is allocated per access.
 *
 * Not modelled (documented simplifications): reads and writes share timing (no write
 * latency, tWR, tWTR or bus turnaround); no tRTP, tRRD, tFAW, refresh or power-down;
 * the command bus is unlimited; no read/write reordering (FR-FCFS). Each parameter is
 * rounded to whole picoseconds separately.
 *
 * Atomic access (`recvAtomic`, see port.ts). Same range check, status, data effect and
 * counters as an accepted timing request (`reads`/`writes`, bytes, `ch<N>.bytes`, and
 * per burst `row_hits`/`row_misses`/`row_conflicts`), done at once, and the same
 * open-row state: each burst is classified against `openRow` and opens its row, so a
 * run of atomic accesses warms the row buffers exactly as the same accesses in timing
 * mode would (and a later timing access sees those rows open). The result is the
 * idle-system latency of that access: the timing rules above applied with every
 * earlier reservation treated as long past, i.e. frontend + (hit: tCL + tBURST; miss:
 * tRCD + tCL + tBURST; conflict: tRP + tRCD + tCL + tBURST) for the first burst and
 * the bursts of the same request queueing behind one another on their bank and
 * channel as in timing mode (so a same-row burst adds tBURST). A tRAS wait only
 * counts when the same request re-opens a bank it activated itself. This is computed
 * on separate scratch reservation arrays (reset lazily per access by a stamp), so it
 * equals the timing-mode latency of the same access on an idle controller exactly.
 * A decode error returns the frontend latency. The estimate is sampled in
 * `latency_ns`. No queue slot, never refused, no event.
 * Atomic accesses leave the live reservations (`colReady`, `busFree`, per-channel
 * completion order) untouched: atomic time is not engine time (a master in atomic mode
 * issues many accesses at one tick), so advancing them would delay later timing
 * requests by work that never occupied the engine's timeline. The one exception moves
 * the other way: a bank whose row an atomic access opened gets `lastAct = -∞` (that
 * ACTIVATE counts as long past), so a later timing conflict on it waits for no tRAS.
 * Atomic and timing are therefore not meant to be mixed in one run: switching from
 * atomic to timing is safe (rows stay warm, no phantom contention), but timing requests
 * in flight see no contention from atomic accesses made meanwhile.
 *
 * Functional access (`recvFunctional`). Range check and data effect only, zero time:
 * no counters (not even `decode_errors`), no `openRow` change, no reservation.
 *
 * Data effect. Applied when the request is accepted, in arrival order: a write copies
 * `txn.data[0..size)` to memory at `txn.addr`; a read fills `txn.data[0..size)` from
 * memory. Later requests therefore always observe earlier accepted writes, matching the
 * FCFS order in which the timing was reserved; the response only carries timing.
 *
 * Errors. A request not wholly inside `region` completes with `Status.DecodeError`
 * after the frontend latency, memory untouched, counted in `decode_errors`; it takes no
 * queue slot and is not sampled in `latency_ns`.
 *
 * Back-pressure. A home channel holds at most `queueDepth` requests (accepted, not yet
 * responded); beyond that `recvRequest` returns false (`refused`). After each
 * response the port sends the retry it owes, if any (the master's re-send may target a
 * channel that is still full; it is then refused again and retried after the next
 * response).
 *
 * Stats under `path`: counters `reads`, `writes`, `bytes_read`, `bytes_written`,
 * `row_hits`, `row_misses`, `row_conflicts` (per burst), `refused`, `decode_errors`,
 * `ch<N>.bytes` (bytes moved on channel N); histogram `latency_ns` (accept → response,
 * 5 ns × 100 buckets); formulas `row_hit_rate` = hits / (hits + misses + conflicts)
 * and `bandwidth_GBps` = (bytes_read + bytes_written) / elapsed ns (GB/s).
 */
export class DramController implements RequestReceiver {
  readonly port: ResponsePort;
  readonly params: Readonly<DramParams>;

  // Decode: a field's value is floor(offset / unit) % count.
  private readonly chUnit: number;
  private readonly chCount: number;
  private readonly bankUnit: number;
  private readonly bankCount: number;
  private readonly rowUnit: number;
  private readonly rowCount: number;
  private readonly colUnit: number;
  private readonly colCount: number;
  // Reciprocals of the (power-of-two) units and counts: multiplying by them is exact and
  // avoids division and fmod on the per-access decode.
  private readonly chUnitInv: number;
  private readonly chCountInv: number;
  private readonly bankUnitInv: number;
  private readonly bankCountInv: number;
  private readonly rowUnitInv: number;
  private readonly rowCountInv: number;
  private readonly colUnitInv: number;
  private readonly colCountInv: number;
  private readonly burstInv: number;
  private readonly burstBytes: number;
  private readonly banks: number;
  private readonly queueDepth: number;
  // Scratch outputs of decodeOffset (no object per access).
  private dCh = 0;
  private dBank = 0;
  private dRow = 0;
  private dCol = 0;

  // Timing in ticks.
  private readonly tRCD: Tick;
  private readonly tCL: Tick;
  private readonly tRP: Tick;
  private readonly tRAS: Tick;
  private readonly tBURST: Tick;
  private readonly tFrontend: Tick;

  // Per-bank state, indexed channel * banks + bank; shared by timing and atomic accesses.
  private readonly openRow: Float64Array; // -1 = closed
  /** Timing-mode reservations. */
  private readonly live: Reservations;
  /** Atomic-mode scratch reservations: an entry whose stamp is not the current access's is idle. */
  private readonly scratch: Reservations;
  private readonly bankStamp: Float64Array;
  private readonly chStamp: Float64Array;
  private atomicSeq = 0;
  // Per-channel state.
  private readonly lastDone: Float64Array; // completion tick of the newest request
  private readonly queues: PendingQueue[];
  private readonly errors = new PendingQueue(4);

  private readonly sHits: Counter;
  private readonly sMisses: Counter;
  private readonly sConflicts: Counter;
  private readonly sChBytes: Counter[];
  private readonly access: MemoryAccessStats;
  private readonly sLatency: Histogram;

  private readonly onComplete = (ch: number): void => this.complete(ch);
  private readonly onError = (): void => this.completeError();

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    /** The controller's clock; timing is specified in ns, so it is kept for reporting only. */
    readonly clock: ClockDomain,
    readonly region: AddrRange,
    private readonly mem: PhysicalMemory,
    paramsIn: DramParamsInput,
  ) {
    const params = resolveParams(DramSpec, paramsIn, path);
    if (!Number.isSafeInteger(region.base) || region.base < 0 || !Number.isSafeInteger(region.size) || region.size <= 0) {
      throw new SimInvariantError(`${path}: bad region [${hex(region.base)}, +${region.size})`);
    }
    this.params = params;
    this.port = new ResponsePort(`${path}.port`, this);
    this.burstBytes = params.burstBytes;
    this.banks = params.banks;
    this.queueDepth = params.queueDepth;

    const mapping = parseMapping(params.mapping) as Field[];
    // Row bits: enough to cover the region whatever the field order.
    const perRow = params.rowBytes * params.channels * params.banks;
    let rowBits = 0;
    while (2 ** rowBits * perRow < region.size) rowBits++;
    const bits: Record<Field, number> = {
      column: log2Exact(params.rowBytes / params.burstBytes),
      channel: log2Exact(params.channels),
      bank: log2Exact(params.banks),
      row: rowBits,
    };
    const unit: Record<Field, number> = { row: 0, bank: 0, channel: 0, column: 0 };
    const count: Record<Field, number> = { row: 0, bank: 0, channel: 0, column: 0 };
    let shift = log2Exact(params.burstBytes);
    for (let i = mapping.length - 1; i >= 0; i--) {
      const f = mapping[i];
      unit[f] = 2 ** shift;
      count[f] = 2 ** bits[f];
      shift += bits[f];
    }
    this.chUnit = unit.channel; this.chCount = count.channel;
    this.bankUnit = unit.bank; this.bankCount = count.bank;
    this.rowUnit = unit.row; this.rowCount = count.row;
    this.colUnit = unit.column; this.colCount = count.column;
    this.chUnitInv = 1 / this.chUnit; this.chCountInv = 1 / this.chCount;
    this.bankUnitInv = 1 / this.bankUnit; this.bankCountInv = 1 / this.bankCount;
    this.rowUnitInv = 1 / this.rowUnit; this.rowCountInv = 1 / this.rowCount;
    this.colUnitInv = 1 / this.colUnit; this.colCountInv = 1 / this.colCount;
    this.burstInv = 1 / params.burstBytes;

    const t = params.timing;
    this.tRCD = nsToTicks(t.tRCD);
    this.tCL = nsToTicks(t.tCL);
    this.tRP = nsToTicks(t.tRP);
    this.tRAS = nsToTicks(t.tRAS);
    this.tBURST = nsToTicks(t.tBURST);
    this.tFrontend = nsToTicks(params.frontendLatencyNs);

    const nb = params.channels * params.banks;
    this.openRow = new Float64Array(nb).fill(-1);
    this.live = new Reservations(nb, params.channels);
    this.scratch = new Reservations(nb, params.channels);
    this.bankStamp = new Float64Array(nb);
    this.chStamp = new Float64Array(params.channels);
    this.lastDone = new Float64Array(params.channels);
    this.queues = [];
    for (let c = 0; c < params.channels; c++) this.queues.push(new PendingQueue(params.queueDepth));

    const s = ctx.stats.scope(path);
    this.access = new MemoryAccessStats(s, 'channel queue full');
    this.sHits = s.counter('row_hits', 'bursts to the open row');
    this.sMisses = s.counter('row_misses', 'bursts to a closed bank (ACT)');
    this.sConflicts = s.counter('row_conflicts', 'bursts to another row than the open one (PRE + ACT)');
    this.sChBytes = [];
    for (let c = 0; c < params.channels; c++) this.sChBytes.push(s.scope(`ch${c}`).counter('bytes', `bytes moved on channel ${c}`));
    this.sLatency = s.histogram('latency_ns', 'accept-to-response latency (ns)');
    const hits = this.sHits, misses = this.sMisses, conflicts = this.sConflicts;
    s.formula('row_hit_rate', 'row hits / bursts', () => {
      const total = hits.value + misses.value + conflicts.value;
      return total === 0 ? NaN : hits.value / total;
    });
    const br = this.access.bytesRead, bw = this.access.bytesWritten;
    s.formula('bandwidth_GBps', 'bytes moved per ns (GB/s) over the measured window', () => {
      const ticks = s.elapsedTicks();
      return ticks > 0 ? ((br.value + bw.value) * PS_PER_NS) / ticks : 0;
    });
  }

  /** Decodes a physical address into its fields (for tests and traces). `column` is the byte offset within the row. */
  decode(addr: number): { channel: number; bank: number; row: number; column: number } {
    if (!(addr >= this.region.base && addr < this.region.base + this.region.size)) {
      throw new SimInvariantError(`${this.path}: decode of ${hex(addr)} outside the region`);
    }
    this.decodeOffset(addr - this.region.base);
    return { channel: this.dCh, bank: this.dBank, row: this.dRow, column: this.dCol };
  }

  recvRequest(txn: Transaction, _port: ResponsePort): boolean {
    const now = this.ctx.engine.now;
    const addr = txn.addr, size = txn.size;
    const base = this.region.base;
    if (!(addr >= base && addr + size <= base + this.region.size)) {
      this.access.decodeErrors.value++;
      const done = now + this.tFrontend;
      this.errors.push(txn, now, done);
      this.ctx.engine.schedule(done, this.onError);
      return true;
    }
    const off = addr - base;
    this.decodeOffset(off);
    const home = this.dCh;
    const q = this.queues[home];
    if (q.count >= this.queueDepth) {
      this.access.refused.value++;
      return false;
    }
    this.access.applyDataEffect(this.path, txn, this.mem);

    // Reserve bank and data-bus time burst by burst.
    const bb = this.burstBytes;
    const arrive = now + this.tFrontend;
    const end = off + size;
    const lastByte = off + (size > 0 ? size : 1) - 1;
    let done = 0;
    for (let b = off - (off % bb); b <= lastByte; b += bb) {
      if (b !== off) this.decodeOffset(b);
      const t = this.reserveBurst(arrive, this.live);
      if (t > done) done = t;
      const lo = b > off ? b : off;
      const hi = b + bb < end ? b + bb : end;
      if (hi > lo) this.sChBytes[this.dCh].value += hi - lo;
    }
    if (done < this.lastDone[home]) done = this.lastDone[home];
    this.lastDone[home] = done;
    q.push(txn, now, done);
    this.ctx.engine.schedule(done, this.onComplete, home);
    return true;
  }

  recvAtomic(txn: Transaction, _port: ResponsePort): Tick {
    const addr = txn.addr, size = txn.size;
    const base = this.region.base;
    if (!(addr >= base && addr + size <= base + this.region.size)) {
      this.access.decodeErrors.value++;
      txn.status = Status.DecodeError;
      return this.tFrontend;
    }
    this.access.applyDataEffect(this.path, txn, this.mem);
    txn.status = Status.Ok;
    // Idle-system timing on the scratch reservations, from tick 0 (see the doc comment).
    const seq = ++this.atomicSeq;
    const r = this.scratch;
    const off = addr - base;
    const bb = this.burstBytes;
    const arrive = this.tFrontend;
    const end = off + size;
    const lastByte = off + (size > 0 ? size : 1) - 1;
    let done = 0;
    for (let b = off - (off % bb); b <= lastByte; b += bb) {
      this.decodeOffset(b);
      const ch = this.dCh;
      const bi = ch * this.banks + this.dBank;
      if (this.bankStamp[bi] !== seq) {
        this.bankStamp[bi] = seq;
        r.colReady[bi] = -Infinity;
        r.lastAct[bi] = -Infinity;
      }
      if (this.chStamp[ch] !== seq) {
        this.chStamp[ch] = seq;
        r.busFree[ch] = -Infinity;
      }
      const activates = this.openRow[bi] !== this.dRow;
      const t = this.reserveBurst(arrive, r);
      // The row opened here was activated "long ago" for a later timing access: no tRAS wait.
      if (activates) this.live.lastAct[bi] = -Infinity;
      if (t > done) done = t;
      const lo = b > off ? b : off;
      const hi = b + bb < end ? b + bb : end;
      if (hi > lo) this.sChBytes[ch].value += hi - lo;
    }
    this.sLatency.sample(done / PS_PER_NS);
    return done;
  }

  recvFunctional(txn: Transaction, _port: ResponsePort): void {
    const base = this.region.base;
    if (!(txn.addr >= base && txn.addr + txn.size <= base + this.region.size)) {
      txn.status = Status.DecodeError;
      return;
    }
    applyFunctional(this.path, txn, this.mem);
  }

  /**
   * Reserves one burst on the decoded (dCh, dBank, dRow) in `r`, classifies it against
   * (and updates) the open row, counts it; returns the tick its data ends.
   */
  private reserveBurst(arrive: Tick, r: Reservations): Tick {
    const ch = this.dCh;
    const bi = ch * this.banks + this.dBank;
    const row = this.dRow;
    const open = this.openRow[bi];
    let col: Tick;
    if (open === row) {
      // (colReady never binds beyond the bus constraint below, as every burst of this
      // bank also used this channel's bus; kept to state tCCD explicitly.)
      this.sHits.value++;
      const ready = r.colReady[bi];
      col = arrive > ready ? arrive : ready;
    } else {
      let act: Tick;
      if (open < 0) {
        this.sMisses.value++;
        act = arrive;
      } else {
        this.sConflicts.value++;
        let pre = arrive;
        const rasDone = r.lastAct[bi] + this.tRAS;
        if (pre < rasDone) pre = rasDone;
        const ready = r.colReady[bi];
        if (pre < ready) pre = ready;
        act = pre + this.tRP;
      }
      r.lastAct[bi] = act;
      this.openRow[bi] = row;
      col = act + this.tRCD;
    }
    const busReady = r.busFree[ch] - this.tCL;
    if (col < busReady) col = busReady;
    r.colReady[bi] = col + this.tBURST;
    const dataEnd = col + this.tCL + this.tBURST;
    r.busFree[ch] = dataEnd;
    return dataEnd;
  }

  private decodeOffset(off: number): void {
    const ch = Math.floor(off * this.chUnitInv);
    this.dCh = ch - Math.floor(ch * this.chCountInv) * this.chCount;
    const bank = Math.floor(off * this.bankUnitInv);
    this.dBank = bank - Math.floor(bank * this.bankCountInv) * this.bankCount;
    const row = Math.floor(off * this.rowUnitInv);
    this.dRow = row - Math.floor(row * this.rowCountInv) * this.rowCount;
    const col = Math.floor(off * this.colUnitInv);
    const inBurst = off - Math.floor(off * this.burstInv) * this.burstBytes;
    this.dCol = (col - Math.floor(col * this.colCountInv) * this.colCount) * this.burstBytes + inBurst;
  }

  private complete(ch: number): void {
    const txn = this.queues[ch].completeHead(this.ctx.engine.now, this.sLatency, `${this.path}: channel ${ch}`);
    this.port.sendResponse(txn);
    this.port.sendRetry();
  }

  private completeError(): void {
    const txn = this.errors.shift();
    txn.status = Status.DecodeError;
    this.port.sendResponse(txn);
  }
}
