import { z } from 'zod';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import { hex, isPowerOfTwo, log2Exact, pageIndex, pageOffset } from '../engine/addr';
import type { Counter } from '../engine/stats';
import { count, Cycles, MAX_MSHRS, mustBe, powerOfTwoSize, resolveParams, Size } from '../engine/spec';
import type { Tick } from '../engine/time';
import { RequestPort, ResponsePort, type RequestReceiver, type ResponseReceiver } from '../bus/port';
import { Cmd, Status, Transaction, TransactionPool } from '../bus/transaction';

/** Largest cache the model holds (it keeps every line's data): 1 GiB. */
const MAX_CACHE_BYTES = 2 ** 30;

/** The CPU data cache's parameters (PIPT, write-back, write-allocate, LRU). */
export const CpuCacheSpec = z
  .strictObject({
    sizeBytes: Size.refine((v) => v >= 1 && v <= MAX_CACHE_BYTES, mustBe('from 1 byte to 1GiB'))
      .describe('capacity: ways × lineBytes × a power-of-two number of sets, at most 1GiB'),
    ways: count(1024).describe('associativity (at most 1024)'),
    lineBytes: powerOfTwoSize(2 ** 16, '64KiB').describe('line size (the cache alignment that DMA buffers must respect), a power of two, at most 64KiB'),
    hitLatencyCycles: Cycles.describe('cycles from request to tag lookup (and a hit\'s response)'),
    mshrs: count(MAX_MSHRS).default(4).describe(`lines being fetched at once (at most ${MAX_MSHRS})`),
    maxOutstanding: count().optional().describe('CPU requests accepted and not yet answered before back-pressure (default 16, at most 2^20)'),
  })
  .superRefine((p, ctx) => {
    const setBytes = p.ways * p.lineBytes;
    if (p.sizeBytes % setBytes !== 0) {
      ctx.addIssue({ code: 'custom', path: ['sizeBytes'], message: `must be a positive multiple of ways × lineBytes (${setBytes}), got ${p.sizeBytes}` });
    } else if (!isPowerOfTwo(p.sizeBytes / setBytes)) {
      ctx.addIssue({ code: 'custom', path: ['sizeBytes'], message: `gives ${p.sizeBytes / setBytes} sets (sizeBytes / (ways × lineBytes)), which must be a power of two` });
    }
  })
  .describe('CPU data cache: PIPT, write-back, write-allocate, LRU');

/** What the cache takes (defaults may be left out; sizes may be strings). */
export type CpuCacheParamsInput = z.input<typeof CpuCacheSpec>;
export type CpuCacheParams = z.output<typeof CpuCacheSpec>;

// Line state flags (a slot is one way of one set).
const VALID = 1;
const DIRTY = 2;
/** Reserved for a fill in flight: not valid, not a victim candidate. */
const FILLING = 4;

// Maintenance operations.
const CLEAN = 1;
const INVAL = 2;

/** MSHR phases. */
const Phase = { Idle: 0, WriteBack: 1, Fill: 2 } as const;
type Phase = (typeof Phase)[keyof typeof Phase];

/** A miss in progress: optional write-back of the victim, then the fill of `line`. */
class Mshr {
  phase: Phase = Phase.Idle;
  /** Line number being fetched. */
  line = -1;
  /** Slot reserved for it. */
  slot = -1;
  /** Line number of the victim whose write-back is in flight, or -1. */
  victim = -1;
  txn: Transaction | null = null;
  /** CPU requests for `line`, served in arrival order when the fill arrives. */
  readonly waiters: Transaction[] = [];
  /** CPU requests for `victim`, looked up again once its write-back is done. */
  readonly deferred: Transaction[] = [];
  /** Bytes written to `line` by others (coherent devices, atomic or functional writes) while it is being fetched. */
  readonly patch: Uint8Array;
  readonly patchMask: Uint8Array;
  patched = false;

  constructor(readonly index: number, lineBytes: number) {
    this.patch = new Uint8Array(lineBytes);
    this.patchMask = new Uint8Array(lineBytes);
  }
}

/**
 * A CPU data cache: physically indexed and tagged, set-associative, write-back and
 * write-allocate, LRU, holding the real bytes of its lines. It sits between the CPU MMU
 * and the bus:
 *
 *   CPU ─▶ CpuMmu.cpuSidePort … CpuMmu.memSidePort ─▶ cpuSidePort [CpuCache] memSidePort ─▶ bus
 *
 * Every line transfer is line-sized and line-aligned: fills are reads of `lineBytes`,
 * write-backs are writes of `lineBytes`, all with master id `masterId` (the builder gives
 * the CPU MMU walker's id: the CPU cluster has one bus interface).
 *
 * Timing path. A request must lie within one line (the CPU splits wider or unaligned
 * accesses, as a load/store unit does); one that crosses a line boundary is a bug in the
 * master and throws SimInvariantError. The tag lookup happens `hitLatencyCycles` after
 * arrival (at that clock edge); a hit is answered then: a read copies from the line, a
 * write updates it and marks it dirty. A miss takes an MSHR and a way of its set (an
 * invalid one first, else the least recently used line; a dirty victim is written back
 * first, and the fill read is sent when that write is acknowledged), and is answered
 * when the fill arrives; misses to a line already being fetched wait on its MSHR. So
 * each line has at most one miss in flight, and requests to one line are served in
 * arrival order (hits to other lines go on under a miss). A request to a line whose
 * write-back is in flight waits for it, so it re-reads the written-back bytes. When no
 * MSHR or way is free the request waits in a FIFO with every later request (the cache
 * blocks until a miss completes). At most `maxOutstanding` CPU requests are held; beyond
 * that `recvRequest` refuses and a retry follows the next response. A fill that fails
 * (e.g. DecodeError) installs nothing and completes its requests with that status.
 *
 * Atomic path: the same lookups, replacements, write-backs (with `sendAtomic`) and
 * stats, done at once; the result is Σ per line touched of hitLatencyCycles + the
 * memory latencies. It may span lines. A line that is busy with a timing miss, or whose
 * set is held by a coherent access (below), or whose set has no free way, is accessed
 * in memory without allocating (and counted in `bypasses`).
 *
 * Functional path (zero time, no stats, no state change, any size): a read returns
 * memory overlaid with every valid line of the range (dirty or clean: what the CPU would
 * read) and any write-back in flight; a write goes to memory and updates the bytes of
 * the valid lines it covers (their dirty bits unchanged), of fills in flight and of
 * write-backs in flight.
 *
 * Cache maintenance (arm64 DC CVAC / DC IVAC / DC CIVAC by VA to the point of coherency,
 * here by PA; the kernel's DMA API uses them): `cleanRange`, `invalidateRange`,
 * `flushRange` act at once on every valid line that overlaps the range and return the
 * estimated ticks spent: one cycle per line + the latency of each write-back, which goes
 * to memory with `memSidePort.sendAtomic` (bus traffic, counted). A line whose fill is in
 * flight is not valid yet and is left alone; a write-back already in flight is not waited
 * for. Call them once the CPU's own accesses to the range have completed (what the DSB
 * after DC instructions guarantees); a miss's write-back completes before the miss does.
 * `invalidateRange` drops dirty data, exactly as DC IVAC does: the kernel cleans partial
 * lines at the edges of a range first (DC CIVAC in dcache_inval_poc); that is the
 * caller's job here.
 *
 * Snoops, for IO-coherent devices (see CoherentPort):
 * - `snoopRead` overlays the range's dirty lines and write-backs in flight onto a
 *   device's read data. Clean lines hold memory's bytes and are not copied.
 * - `snoopWrite` (before a device's write is forwarded): a dirty line is written back
 *   (atomically), then every valid line of the range is invalidated, like an ARM CCI
 *   invalidating snoop, so the CPU's next access fetches the device's bytes. Fills and
 *   write-backs in flight for the range take the device's bytes (they may be served by
 *   memory before or after the device's write arrives there).
 * - `holdRange` / `releaseRange` bracket a coherent access in flight: meanwhile CPU misses
 *   that would fill or evict a line in the sets the range maps to wait, so the CPU cannot
 *   re-fetch a line before the device's write reaches memory, nor write a dirty line
 *   back behind a device's read; and write-backs in flight for the range are performed
 *   at once (a device read must not overtake them to memory).
 *
 * Stats under `path`: hits, misses (including requests that merged into a miss in
 * flight), writebacks (all line write-backs: evictions, maintenance, snoops), evictions
 * (valid lines replaced), cleaned_lines, invalidated_lines (by maintenance),
 * dropped_dirty_lines (dirty lines discarded by invalidateRange), snoop_hits (valid lines
 * or write-backs in flight found by snoops), snoop_invalidations, stalls (requests that
 * waited for an MSHR, a way or a held set), bypasses, and the formula hit_rate.
 */
export class CpuCache implements RequestReceiver, ResponseReceiver {
  declare readonly params: CpuCacheParams;
  /** Connect the CPU MMU's bus port here. */
  readonly cpuSidePort: ResponsePort;
  /** Connect this to the bus. */
  readonly memSidePort: RequestPort;
  readonly lineBytes: number;
  readonly ways: number;
  readonly sets: number;

  private readonly lineShift: number;
  private readonly setShift: number;
  private readonly slots: number;
  /** By slot: line number (address / lineBytes), state flags, LRU stamp, bytes. */
  private readonly tags: Float64Array;
  private readonly state: Uint8Array;
  private readonly stamp: Float64Array;
  private readonly data: Uint8Array;
  private useClock = 0;

  private readonly mshrs: Mshr[] = [];
  private mshrsInUse = 0;
  private readonly pool: TransactionPool;
  /** For atomic write-backs, fills and bypasses (used one at a time). */
  private readonly scratch: Transaction;
  /** Memory-side requests refused by the bus, re-sent in order on retry. */
  private readonly sendQueue: Transaction[] = [];
  private sendHead = 0;
  /** CPU requests waiting for a free MSHR, way or held set, FIFO from stallHead. */
  private readonly stalled: Transaction[] = [];
  private stallHead = 0;
  /** Coherent accesses in flight, per set (holdRange); holdAll counts ranges covering every set. */
  private readonly holds: Int32Array;
  private holdAll = 0;
  private outstanding = 0;
  private readonly maxOutstanding: number;
  private readonly hitTicks: Tick;

  private readonly sHits: Counter;
  private readonly sMisses: Counter;
  private readonly sWritebacks: Counter;
  private readonly sEvictions: Counter;
  private readonly sCleaned: Counter;
  private readonly sInvalidated: Counter;
  private readonly sDropped: Counter;
  private readonly sSnoopHits: Counter;
  private readonly sSnoopInvalidations: Counter;
  private readonly sStalls: Counter;
  private readonly sBypasses: Counter;

  private readonly onLookup = (t: Transaction) => this.lookup(t);

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    readonly clock: ClockDomain,
    readonly masterId: number,
    paramsIn: CpuCacheParamsInput,
  ) {
    const params = resolveParams(CpuCacheSpec, paramsIn, path);
    this.params = params;
    this.lineBytes = params.lineBytes;
    this.ways = params.ways;
    this.sets = params.sizeBytes / (params.ways * params.lineBytes);
    this.lineShift = log2Exact(params.lineBytes);
    this.setShift = log2Exact(this.sets);
    this.slots = this.sets * this.ways;
    this.tags = new Float64Array(this.slots).fill(-1);
    this.state = new Uint8Array(this.slots);
    this.stamp = new Float64Array(this.slots);
    this.data = new Uint8Array(params.sizeBytes);
    for (let i = 0; i < params.mshrs; i++) this.mshrs.push(new Mshr(i, params.lineBytes));
    this.maxOutstanding = params.maxOutstanding ?? 16;
    this.pool = new TransactionPool(params.lineBytes);
    this.scratch = new Transaction(params.lineBytes);
    this.holds = new Int32Array(this.sets);
    this.hitTicks = clock.cyclesToTicks(params.hitLatencyCycles);
    this.cpuSidePort = new ResponsePort(`${path}.cpu_side`, this);
    this.memSidePort = new RequestPort(`${path}.mem_side`, this);
    const s = ctx.stats.scope(path);
    this.sHits = s.counter('hits', 'CPU accesses that found their line');
    this.sMisses = s.counter('misses', 'CPU accesses that did not (including those merged into a miss in flight)');
    this.sWritebacks = s.counter('writebacks', 'dirty lines written to memory (evictions, maintenance, snoops)');
    this.sEvictions = s.counter('evictions', 'valid lines replaced by a fill');
    this.sCleaned = s.counter('cleaned_lines', 'dirty lines written back by cleanRange/flushRange');
    this.sInvalidated = s.counter('invalidated_lines', 'valid lines dropped by invalidateRange/flushRange');
    this.sDropped = s.counter('dropped_dirty_lines', 'dirty lines dropped without write-back by invalidateRange (data lost)');
    this.sSnoopHits = s.counter('snoop_hits', 'lines (or write-backs in flight) found by coherent snoops');
    this.sSnoopInvalidations = s.counter('snoop_invalidations', 'valid lines invalidated by coherent device writes');
    this.sStalls = s.counter('stalls', 'CPU requests that waited for an MSHR, a way or a set held by a coherent access');
    this.sBypasses = s.counter('bypasses', 'atomic line accesses done in memory without allocating (line busy or set held)');
    s.formula('hit_rate', 'hits / (hits + misses)', () => {
      const n = this.sHits.value + this.sMisses.value;
      return n === 0 ? NaN : this.sHits.value / n;
    });
  }

  // ---- inspection (tests, checks) ----

  /** True if the line holding `pa` is valid in the cache. */
  isCached(pa: number): boolean {
    return this.find(pageIndex(pa, this.lineShift)) >= 0;
  }

  /** True if the line holding `pa` is valid and dirty. */
  isDirty(pa: number): boolean {
    const slot = this.find(pageIndex(pa, this.lineShift));
    return slot >= 0 && (this.state[slot] & DIRTY) !== 0;
  }

  /**
   * The valid lines, one each in slot order — slot, line address, state bits and LRU
   * stamp — for comparing cache contents (tests, checks; allocates, not for hot paths).
   */
  describeLines(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.slots; i++) {
      if (this.state[i] === 0) continue;
      out.push(`${i} line=0x${(this.tags[i] * 2 ** this.lineShift).toString(16)} state=${this.state[i]} stamp=${this.stamp[i]}`);
    }
    return out;
  }

  /** Misses in flight (MSHRs in use). */
  get missesInFlight(): number {
    return this.mshrsInUse;
  }

  // ---- timing path ----

  recvRequest(t: Transaction): boolean {
    if (this.outstanding >= this.maxOutstanding) return false;
    if (pageOffset(t.addr, this.lineShift) + t.size > this.lineBytes) {
      throw new SimInvariantError(`${this.path}: timing access ${hex(t.addr)}+${t.size} crosses a ${this.lineBytes}-byte line; the CPU must split it`);
    }
    this.outstanding++;
    this.ctx.engine.schedule(this.clock.edgeAfter(this.ctx.engine.now, this.params.hitLatencyCycles), this.onLookup, t);
    return true;
  }

  private lookup(t: Transaction): void {
    if (this.stallHead < this.stalled.length || !this.tryService(t)) this.stall(t);
  }

  private stall(t: Transaction): void {
    this.sStalls.value++;
    this.stalled.push(t);
  }

  /**
   * Serves `t`, joins it to a miss in flight, or starts its miss; false when it must
   * wait (no MSHR, no way, or its set is held). Counts a hit or a miss on success, except
   * for requests deferred behind a write-back (counted when they are served).
   */
  private tryService(t: Transaction): boolean {
    const line = pageIndex(t.addr, this.lineShift);
    for (let i = 0; i < this.mshrs.length; i++) {
      const m = this.mshrs[i];
      if (m.phase === Phase.Idle) continue;
      if (m.line === line) {
        this.sMisses.value++;
        m.waiters.push(t);
        return true;
      }
      if (m.victim === line) {
        m.deferred.push(t);
        return true;
      }
    }
    const slot = this.find(line);
    if (slot >= 0) {
      this.sHits.value++;
      this.touch(slot);
      this.accessLine(slot, t);
      this.respond(t);
      return true;
    }
    if (!this.startMiss(t, line)) return false;
    this.sMisses.value++;
    return true;
  }

  private startMiss(t: Transaction, line: number): boolean {
    if (this.mshrsInUse === this.mshrs.length) return false;
    const set = this.setOf(line);
    if (this.holdAll > 0 || this.holds[set] > 0) return false;
    const slot = this.victimSlot(set);
    if (slot < 0) return false;
    let m = this.mshrs[0];
    for (let i = 0; m.phase !== Phase.Idle; i++) m = this.mshrs[i + 1];
    this.mshrsInUse++;
    m.line = line;
    m.slot = slot;
    m.waiters.push(t);
    const now = this.ctx.engine.now;
    const st = this.state[slot];
    let txn: Transaction;
    if ((st & VALID) !== 0 && (st & DIRTY) !== 0) {
      this.sEvictions.value++;
      this.sWritebacks.value++;
      m.victim = this.tags[slot];
      txn = this.pool.alloc(Cmd.Write, m.victim * this.lineBytes, this.lineBytes, this.masterId, now);
      this.copyOut(slot, txn.data, 0);
      m.phase = Phase.WriteBack;
    } else {
      if ((st & VALID) !== 0) this.sEvictions.value++;
      txn = this.pool.alloc(Cmd.Read, line * this.lineBytes, this.lineBytes, this.masterId, now);
      m.phase = Phase.Fill;
    }
    this.state[slot] = FILLING;
    this.tags[slot] = line;
    txn.tag = m.index;
    m.txn = txn;
    this.send(txn);
    return true;
  }

  private send(t: Transaction): void {
    if (this.sendHead < this.sendQueue.length || !this.memSidePort.sendRequest(t)) this.sendQueue.push(t);
  }

  recvRetry(): void {
    while (this.sendHead < this.sendQueue.length) {
      if (!this.memSidePort.sendRequest(this.sendQueue[this.sendHead])) return;
      this.sendHead++;
    }
    this.sendQueue.length = 0;
    this.sendHead = 0;
  }

  /** A write-back acknowledged (then the fill goes out) or a fill arrived. */
  recvResponse(t: Transaction): void {
    const m = this.mshrs[t.tag];
    if (m === undefined || m.txn !== t) throw new SimInvariantError(`${this.path}: response for unknown transaction ${t.id}`);
    if (m.phase === Phase.WriteBack) {
      m.victim = -1;
      m.phase = Phase.Fill;
      t.cmd = Cmd.Read;
      t.addr = m.line * this.lineBytes;
      t.status = Status.Pending;
      t.issueTick = this.ctx.engine.now;
      t.resetRoute();
      this.send(t);
      // Requests for the written-back line may now fetch it again.
      const d = m.deferred;
      for (let i = 0; i < d.length; i++) {
        const r = d[i];
        d[i] = null!;
        this.lookup(r);
      }
      d.length = 0;
      return;
    }
    const slot = m.slot;
    const w = m.waiters;
    if (t.status === Status.Ok) {
      const base = slot * this.lineBytes;
      const data = this.data;
      const src = t.data;
      for (let i = 0; i < this.lineBytes; i++) data[base + i] = src[i];
      if (m.patched) this.applyPatch(m, base);
      this.state[slot] = VALID;
      this.touch(slot);
      for (let i = 0; i < w.length; i++) this.accessLine(slot, w[i]);
    } else {
      this.state[slot] = 0;
      this.tags[slot] = -1;
      for (let i = 0; i < w.length; i++) w[i].status = t.status;
    }
    m.phase = Phase.Idle;
    m.line = -1;
    m.slot = -1;
    m.txn = null;
    if (m.patched) {
      m.patchMask.fill(0);
      m.patched = false;
    }
    this.mshrsInUse--;
    this.pool.release(t);
    for (let i = 0; i < w.length; i++) {
      const r = w[i];
      w[i] = null!;
      this.respond(r);
    }
    w.length = 0;
    this.wake();
  }

  /** Serves stalled requests in order, as far as resources allow. */
  private wake(): void {
    while (this.stallHead < this.stalled.length) {
      const t = this.stalled[this.stallHead];
      if (!this.tryService(t)) return;
      this.stalled[this.stallHead++] = null!;
    }
    this.stalled.length = 0;
    this.stallHead = 0;
  }

  private respond(t: Transaction): void {
    this.outstanding--;
    this.cpuSidePort.sendResponse(t);
    this.cpuSidePort.sendRetry();
  }

  // ---- atomic path ----

  recvAtomic(t: Transaction): Tick {
    t.status = Status.Ok;
    const write = t.cmd === Cmd.Write;
    const end = t.addr + t.size;
    let addr = t.addr;
    let latency = 0;
    while (addr < end) {
      const line = pageIndex(addr, this.lineShift);
      const lineEnd = (line + 1) * this.lineBytes;
      const n = (end < lineEnd ? end : lineEnd) - addr;
      const off = addr - t.addr;
      latency += this.hitTicks;
      let slot = this.find(line);
      if (slot >= 0) {
        this.sHits.value++;
        this.touch(slot);
        this.copySegment(slot, addr - line * this.lineBytes, t.data, off, n, write);
      } else {
        this.sMisses.value++;
        const set = this.setOf(line);
        slot = this.holdAll > 0 || this.holds[set] > 0 || this.mshrFor(line) ? -1 : this.victimSlot(set);
        if (slot < 0) {
          latency += this.bypassAtomic(write, addr, n, t.data, off);
          if (this.scratch.status !== Status.Ok) {
            t.status = this.scratch.status;
            return latency;
          }
        } else {
          const st = this.state[slot];
          if ((st & VALID) !== 0) {
            this.sEvictions.value++;
            if ((st & DIRTY) !== 0) latency += this.writeBackAtomic(slot);
          }
          this.state[slot] = 0;
          this.tags[slot] = -1;
          const s = this.prepareScratch(Cmd.Read, line * this.lineBytes, this.lineBytes);
          latency += this.memSidePort.sendAtomic(s);
          if (s.status !== Status.Ok) {
            t.status = s.status;
            return latency;
          }
          const base = slot * this.lineBytes;
          for (let i = 0; i < this.lineBytes; i++) this.data[base + i] = s.data[i];
          this.tags[slot] = line;
          this.state[slot] = VALID;
          this.touch(slot);
          this.copySegment(slot, addr - line * this.lineBytes, t.data, off, n, write);
        }
      }
      addr += n;
    }
    return latency;
  }

  /** An atomic access of part of one line straight to memory, keeping in-flight copies current. */
  private bypassAtomic(write: boolean, addr: number, n: number, buf: Uint8Array, off: number): Tick {
    this.sBypasses.value++;
    const s = this.prepareScratch(write ? Cmd.Write : Cmd.Read, addr, n);
    if (write) for (let i = 0; i < n; i++) s.data[i] = buf[off + i];
    const latency = this.memSidePort.sendAtomic(s);
    if (s.status !== Status.Ok) return latency;
    if (write) this.patchInFlight(addr, n, buf, off);
    else {
      for (let i = 0; i < n; i++) buf[off + i] = s.data[i];
      this.overlayWriteBacks(addr, n, buf, off, false);
    }
    return latency;
  }

  // ---- functional path ----

  recvFunctional(t: Transaction): void {
    this.memSidePort.sendFunctional(t);
    if (t.status !== Status.Ok) return;
    if (t.cmd === Cmd.Write) this.updateCopies(t.addr, t.size, t.data, 0);
    else this.overlay(t.addr, t.size, t.data, 0, true, false);
  }

  // ---- cache maintenance (by PA, to the point of coherency) ----

  /** DC CVAC over [pa, pa+size): writes dirty lines back, keeps them valid. Returns estimated ticks. */
  cleanRange(pa: number, size: number): Tick {
    return this.maintain(pa, size, CLEAN);
  }

  /** DC IVAC over [pa, pa+size): drops lines WITHOUT writing back (dirty data is lost). Returns estimated ticks. */
  invalidateRange(pa: number, size: number): Tick {
    return this.maintain(pa, size, INVAL);
  }

  /** DC CIVAC over [pa, pa+size): writes dirty lines back, then drops them. Returns estimated ticks. */
  flushRange(pa: number, size: number): Tick {
    return this.maintain(pa, size, CLEAN | INVAL);
  }

  private maintain(pa: number, size: number, op: number): Tick {
    if (!(size > 0)) return 0;
    const first = pageIndex(pa, this.lineShift);
    const last = pageIndex(pa + size - 1, this.lineShift);
    const lines = last - first + 1;
    let latency = this.clock.cyclesToTicks(lines);
    if (lines <= this.slots) {
      for (let line = first; line <= last; line++) {
        const slot = this.find(line);
        if (slot >= 0) latency += this.maintainSlot(slot, op);
      }
    } else {
      // A range larger than the cache: visit the cache instead of the range.
      for (let slot = 0; slot < this.slots; slot++) {
        const tag = this.tags[slot];
        if ((this.state[slot] & VALID) !== 0 && tag >= first && tag <= last) latency += this.maintainSlot(slot, op);
      }
    }
    return latency;
  }

  private maintainSlot(slot: number, op: number): Tick {
    let latency = 0;
    const dirty = (this.state[slot] & DIRTY) !== 0;
    if ((op & CLEAN) !== 0 && dirty) {
      latency += this.writeBackAtomic(slot);
      this.sCleaned.value++;
    }
    if ((op & INVAL) !== 0) {
      if ((op & CLEAN) === 0 && dirty) this.sDropped.value++;
      this.state[slot] = 0;
      this.tags[slot] = -1;
      this.sInvalidated.value++;
    }
    return latency;
  }

  // ---- snoops (IO-coherent devices) ----

  /** Overlays the dirty lines and in-flight write-backs of [pa, pa+size) onto dst[dstOff..]. */
  snoopRead(pa: number, size: number, dst: Uint8Array, dstOff = 0): void {
    this.overlay(pa, size, dst, dstOff, false, true);
  }

  /** snoopRead as a functional access: the same data, no stats. */
  snoopReadFunctional(pa: number, size: number, dst: Uint8Array, dstOff = 0): void {
    this.overlay(pa, size, dst, dstOff, false, false);
  }

  /**
   * A device is about to write src[srcOff..srcOff+size) to [pa, pa+size): dirty lines are
   * written back, valid lines invalidated, and fills and write-backs in flight take the
   * new bytes.
   */
  snoopWrite(pa: number, size: number, src: Uint8Array, srcOff = 0): void {
    if (!(size > 0)) return;
    const first = pageIndex(pa, this.lineShift);
    const last = pageIndex(pa + size - 1, this.lineShift);
    for (let line = first; line <= last; line++) {
      const slot = this.find(line);
      if (slot < 0) continue;
      this.sSnoopHits.value++;
      this.sSnoopInvalidations.value++;
      if ((this.state[slot] & DIRTY) !== 0) this.writeBackAtomic(slot);
      this.state[slot] = 0;
      this.tags[slot] = -1;
    }
    this.patchInFlight(pa, size, src, srcOff, true);
  }

  /** snoopWrite as a functional access: cached copies take the bytes, nothing changes state. */
  snoopWriteFunctional(pa: number, size: number, src: Uint8Array, srcOff = 0): void {
    this.updateCopies(pa, size, src, srcOff);
  }

  /**
   * A coherent access to [pa, pa+size) is in flight: until the matching releaseRange,
   * misses that would fill or evict a line in its sets wait; write-backs in flight for
   * the range are performed now.
   */
  holdRange(pa: number, size: number): void {
    this.adjustHolds(pa, size, 1);
    for (let i = 0; i < this.mshrs.length; i++) {
      const m = this.mshrs[i];
      if (m.phase !== Phase.WriteBack || !this.lineIn(m.victim, pa, size)) continue;
      const s = this.prepareScratch(Cmd.Write, m.victim * this.lineBytes, this.lineBytes);
      const src = m.txn!.data;
      for (let k = 0; k < this.lineBytes; k++) s.data[k] = src[k];
      this.memSidePort.sendAtomic(s);
    }
  }

  releaseRange(pa: number, size: number): void {
    this.adjustHolds(pa, size, -1);
    if (this.stallHead < this.stalled.length) this.wake();
  }

  private adjustHolds(pa: number, size: number, by: number): void {
    const first = pageIndex(pa, this.lineShift);
    const lines = size > 0 ? pageIndex(pa + size - 1, this.lineShift) - first + 1 : 1;
    if (lines >= this.sets) {
      this.holdAll += by;
      if (this.holdAll < 0) throw new SimInvariantError(`${this.path}: releaseRange without holdRange`);
      return;
    }
    for (let k = 0; k < lines; k++) {
      const set = this.setOf(first + k);
      this.holds[set] += by;
      if (this.holds[set] < 0) throw new SimInvariantError(`${this.path}: releaseRange(${hex(pa)}, ${size}) without holdRange`);
    }
  }

  // ---- line helpers ----

  private setOf(line: number): number {
    return pageOffset(line, this.setShift);
  }

  /** Slot of valid `line`, or -1. */
  private find(line: number): number {
    const base = this.setOf(line) * this.ways;
    for (let s = base; s < base + this.ways; s++) {
      if ((this.state[s] & VALID) !== 0 && this.tags[s] === line) return s;
    }
    return -1;
  }

  /** An invalid way of `set` (lowest first), else its least recently used valid line; -1 if every way is filling. */
  private victimSlot(set: number): number {
    const base = set * this.ways;
    let best = -1;
    for (let s = base; s < base + this.ways; s++) {
      const st = this.state[s];
      if ((st & FILLING) !== 0) continue;
      if ((st & VALID) === 0) return s;
      if (best < 0 || this.stamp[s] < this.stamp[best]) best = s;
    }
    return best;
  }

  private touch(slot: number): void {
    this.stamp[slot] = ++this.useClock;
  }

  private mshrFor(line: number): boolean {
    for (let i = 0; i < this.mshrs.length; i++) {
      const m = this.mshrs[i];
      if (m.phase !== Phase.Idle && (m.line === line || m.victim === line)) return true;
    }
    return false;
  }

  /** Whether line number `line` overlaps [pa, pa+size). */
  private lineIn(line: number, pa: number, size: number): boolean {
    const start = line * this.lineBytes;
    return line >= 0 && start < pa + size && start + this.lineBytes > pa;
  }

  /** A timing request's data effect on its (valid) line. */
  private accessLine(slot: number, t: Transaction): void {
    this.copySegment(slot, pageOffset(t.addr, this.lineShift), t.data, 0, t.size, t.cmd === Cmd.Write);
    t.status = Status.Ok;
  }

  private copySegment(slot: number, lineOff: number, buf: Uint8Array, off: number, n: number, write: boolean): void {
    const base = slot * this.lineBytes + lineOff;
    const data = this.data;
    if (write) {
      for (let i = 0; i < n; i++) data[base + i] = buf[off + i];
      this.state[slot] |= DIRTY;
    } else {
      for (let i = 0; i < n; i++) buf[off + i] = data[base + i];
    }
  }

  private copyOut(slot: number, dst: Uint8Array, dstOff: number): void {
    const base = slot * this.lineBytes;
    for (let i = 0; i < this.lineBytes; i++) dst[dstOff + i] = this.data[base + i];
  }

  private prepareScratch(cmd: Cmd, addr: number, size: number): Transaction {
    const s = this.scratch;
    s.cmd = cmd;
    s.addr = addr;
    s.size = size;
    s.masterId = this.masterId;
    s.status = Status.Pending;
    s.issueTick = this.ctx.engine.now;
    s.hopTick = s.issueTick;
    s.resetRoute();
    return s;
  }

  /** Writes line `slot` to memory now (atomic) and marks it clean; returns the latency. */
  private writeBackAtomic(slot: number): Tick {
    const s = this.prepareScratch(Cmd.Write, this.tags[slot] * this.lineBytes, this.lineBytes);
    this.copyOut(slot, s.data, 0);
    const latency = this.memSidePort.sendAtomic(s);
    this.state[slot] &= ~DIRTY;
    this.sWritebacks.value++;
    return latency;
  }

  /** Overlays valid lines (dirty only unless `clean`) and write-backs in flight of [pa, pa+size) onto dst. */
  private overlay(pa: number, size: number, dst: Uint8Array, dstOff: number, clean: boolean, count: boolean): void {
    if (!(size > 0)) return;
    const end = pa + size;
    const first = pageIndex(pa, this.lineShift);
    const last = pageIndex(end - 1, this.lineShift);
    for (let line = first; line <= last; line++) {
      const slot = this.find(line);
      if (slot < 0) continue;
      if (count) this.sSnoopHits.value++;
      if (!clean && (this.state[slot] & DIRTY) === 0) continue;
      const start = line * this.lineBytes;
      const lo = start > pa ? start : pa;
      const hi = start + this.lineBytes < end ? start + this.lineBytes : end;
      const base = slot * this.lineBytes - start;
      for (let a = lo; a < hi; a++) dst[dstOff + (a - pa)] = this.data[base + a];
    }
    this.overlayWriteBacks(pa, size, dst, dstOff, count);
  }

  private overlayWriteBacks(pa: number, size: number, dst: Uint8Array, dstOff: number, count: boolean): void {
    if (this.mshrsInUse === 0) return;
    const end = pa + size;
    for (let i = 0; i < this.mshrs.length; i++) {
      const m = this.mshrs[i];
      if (m.phase !== Phase.WriteBack || !this.lineIn(m.victim, pa, size)) continue;
      if (count) this.sSnoopHits.value++;
      const start = m.victim * this.lineBytes;
      const lo = start > pa ? start : pa;
      const hi = start + this.lineBytes < end ? start + this.lineBytes : end;
      const src = m.txn!.data;
      for (let a = lo; a < hi; a++) dst[dstOff + (a - pa)] = src[a - start];
    }
  }

  /** Functional write: valid lines take the bytes (dirty bits unchanged), as do fills and write-backs in flight. */
  private updateCopies(pa: number, size: number, src: Uint8Array, srcOff: number): void {
    if (!(size > 0)) return;
    const end = pa + size;
    const first = pageIndex(pa, this.lineShift);
    const last = pageIndex(end - 1, this.lineShift);
    for (let line = first; line <= last; line++) {
      const slot = this.find(line);
      if (slot < 0) continue;
      const start = line * this.lineBytes;
      const lo = start > pa ? start : pa;
      const hi = start + this.lineBytes < end ? start + this.lineBytes : end;
      const base = slot * this.lineBytes - start;
      for (let a = lo; a < hi; a++) this.data[base + a] = src[srcOff + (a - pa)];
    }
    this.patchInFlight(pa, size, src, srcOff);
  }

  /** Bytes written to memory behind the cache's back reach fills and write-backs in flight. */
  private patchInFlight(pa: number, size: number, src: Uint8Array, srcOff: number, count = false): void {
    if (this.mshrsInUse === 0) return;
    const end = pa + size;
    for (let i = 0; i < this.mshrs.length; i++) {
      const m = this.mshrs[i];
      if (m.phase === Phase.Idle) continue;
      if (this.lineIn(m.line, pa, size)) {
        const start = m.line * this.lineBytes;
        const lo = start > pa ? start : pa;
        const hi = start + this.lineBytes < end ? start + this.lineBytes : end;
        for (let a = lo; a < hi; a++) {
          m.patch[a - start] = src[srcOff + (a - pa)];
          m.patchMask[a - start] = 1;
        }
        m.patched = true;
      }
      if (m.phase === Phase.WriteBack && this.lineIn(m.victim, pa, size)) {
        if (count) this.sSnoopHits.value++;
        const start = m.victim * this.lineBytes;
        const lo = start > pa ? start : pa;
        const hi = start + this.lineBytes < end ? start + this.lineBytes : end;
        const wb = m.txn!.data;
        for (let a = lo; a < hi; a++) wb[a - start] = src[srcOff + (a - pa)];
      }
    }
  }

  private applyPatch(m: Mshr, base: number): void {
    for (let i = 0; i < this.lineBytes; i++) if (m.patchMask[i] !== 0) this.data[base + i] = m.patch[i];
  }
}
