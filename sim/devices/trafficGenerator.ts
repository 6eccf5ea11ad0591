import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import type { Counter, StatScope } from '../engine/stats';
import type { Tick } from '../engine/time';
import { BusMaster } from '../bus/busMaster';
import type { RequestPort, ResponseReceiver } from '../bus/port';
import { Cmd, Status, STATUS_NAMES, type Transaction, TransactionPool } from '../bus/transaction';
import { createWorkload, newAccessSlot, type AccessSlot, type Workload, type WorkloadSpec } from './workload';
import { defineDeviceKind, deviceFields, Outstanding } from '../soc/deviceSpec';
import type { AccessMode } from '../engine/accessMode';
import type { AtomicPhase, FastForwardDevice } from './fastForward';


/** The generator's hardware (its SoC config entry) and instrumentation. */
export interface TrafficGeneratorParams {
  /** Transactions in flight at once for the whole device (issued, not yet answered). */
  maxOutstanding: number;
  /** Default 'timing'. */
  mode?: AccessMode;
  /** Registers `stream<i>.accesses` and `stream<i>.bytes` per stream (default false). */
  perStreamStats?: boolean;
}

/**
 * What runs on the generator (`configure`): the access streams and their pace. The
 * scenario's traffic job checks the workloads (scenario/jobs/traffic.ts).
 */
export interface TrafficProgram {
  /**
   * The access streams, issued round-robin. A spec is built with
   * `createWorkload(spec, ctx.rng.fork(`${path}.stream${i}`))`; a Workload object is
   * used as it is (and reset() at each start()).
   */
  streams: ReadonlyArray<WorkloadSpec | Workload>;
  /** Accesses per microsecond per stream; absent = as fast as maxOutstanding allows. */
  ratePerUs?: number;
}

export interface TrafficResult {
  /** Accesses that completed Ok, and their bytes. */
  reads: number;
  writes: number;
  bytesRead: number;
  bytesWritten: number;
  /** Accesses that completed with an error status. */
  errors: number;
  /** True when the run ended through stop(). */
  stopped: boolean;
  startTick: Tick;
  endTick: Tick;
}

export type TrafficDoneCallback = (result: TrafficResult) => void;

/** Told about every completed access (for models built on the generator, e.g. GpuEngine). */
export interface TrafficListener {
  accessDone(stream: number, status: Status): void;
}

/** Byte written at device address `addr` by every TrafficGenerator write. */
export function writePatternByte(addr: number): number {
  return ((addr % 65521) * 167 + 13) & 0xff;
}

/** Fills buf[0..size) with the write pattern of the `size` bytes at `addr`. */
export function fillWritePattern(buf: Uint8Array, addr: number, size: number): void {
  let r = addr % 65521;
  for (let i = 0; i < size; i++) {
    buf[i] = (r * 167 + 13) & 0xff;
    if (++r === 65521) r = 0;
  }
}

function isWorkload(s: WorkloadSpec | Workload): s is Workload {
  return typeof (s as Workload).next === 'function';
}

/**
 * A synthetic bus master, after gem5's traffic generators: it runs one or more
 * workload streams (workload.ts) and turns their accesses into bus transactions.
 *
 * - Streams issue round-robin: after a stream issues, the next ready stream in index
 *   order goes next. A stream is ready when it has an access left and its rate allows.
 * - At most `maxOutstanding` transactions are in flight for the whole device
 *   (counting those the bus has refused and that wait to be re-sent, in order, by an
 *   InOrderSender). Without `ratePerUs` a freed slot is refilled at once, so the
 *   device runs at the outstanding limit and its throughput follows Little's law
 *   (maxOutstanding × size / latency) until the interconnect pushes back.
 * - `ratePerUs` paces each stream: its k-th access is due 1e6/rate ps after the
 *   (k−1)-th was due, and issues at the first edge of `clock` at or after that. A stream
 *   that fell more than a cycle behind (it waited for an outstanding slot) is next due
 *   1e6/rate ps after it actually issued, so it does not burst to catch up.
 * - Writes carry a deterministic pattern (`writePatternByte(addr)` per byte); read
 *   data is dropped.
 * - Errors are data: an access completing with an error status is counted in `errors`
 *   and `errors.<status>` and the run goes on.
 *
 * `start(done)` runs until every stream is exhausted (then `done` gets the totals), or
 * until `stop()`: no new access issues and `done` runs once the in-flight ones have
 * completed. Streams with no access limit run until stop() (or until the caller stops
 * the engine). A new start() after the end resets the streams.
 *
 * Atomic mode (fast-forward, as DmaEngine): the generator issues in waves, one event
 * each. A wave takes up to maxOutstanding ready accesses round-robin, performs each
 * with sendAtomic at once (data effect, stats, estimated latency in `latency_ns`), and
 * the next wave comes after max(longest latency, ceil(Σ latencies / maxOutstanding)):
 * the idle-system estimate of maxOutstanding overlapped round trips. Rate pacing
 * applies per wave. The same workloads move the same bytes as in timing mode (and, when
 * not rate-paced, in the same order); only time differs (no contention, no
 * back-pressure). Here `outstanding_stalls` counts full waves that left a ready access
 * for the next wave, and `outstanding_stall_ns` those waves' durations.
 *
 * Stats (under `path`): `issued`, `reads`, `writes`, `bytes_read`, `bytes_written`
 * (completed Ok), `errors` and `errors.decode_error|access_error|translation_fault`,
 * `latency_ns` (issue to response, including waiting for the bus to accept),
 * `throughput_GBps` (Ok bytes / simulated time since start, or since the last stats
 * reset if later, up to the end of the run), `outstanding_stalls` (times an access
 * ready to issue found every outstanding slot taken) and `outstanding_stall_ns` (time
 * spent so). Optional per-stream `stream<i>.accesses`, `stream<i>.bytes`.
 */
export class TrafficGenerator implements ResponseReceiver, FastForwardDevice {
  readonly port: RequestPort;
  /** Atomic until a fast-forward switches it to timing (resumeTiming). */
  private accessMode: AccessMode;
  /** Fast-forward: the atomic phase, until the switch. */
  private ff: AtomicPhase | null = null;
  /** Port, in-order sending, the maxOutstanding limit, errors, latency_ns, bytes_read, bytes_written. */
  private readonly bus: BusMaster;
  // Set by configure(): the streams and their pace.
  private configured = false;
  private pool = new TransactionPool(64);
  private workloads: Workload[] = [];
  private nStreams = 0;
  /** Per stream: its prefetched access (valid when has[s]), exhausted flag, rate pacing. */
  private slots: AccessSlot[] = [];
  private has = new Uint8Array(0);
  private exhausted = new Uint8Array(0);
  /** Rate pacing: the k-th access after dueBase[s] is due at dueBase[s] + k·interval (k = dueCount[s]). */
  private dueBase = new Float64Array(0);
  private dueCount = new Float64Array(0);
  private readyAt = new Float64Array(0);
  private interval = 0;
  private live = 0;
  private rr = 0;
  private nextReady = Infinity;

  private isRunning = false;
  private stopping = false;
  private finishScheduled = false;
  private wakePending = false;
  private wakeAt: Tick = 0;
  private waitingSlot = false;
  private stallStart: Tick = 0;
  private startTick: Tick = 0;
  private endTick: Tick = 0;
  private done: TrafficDoneCallback | undefined;
  private reads = 0;
  private writes = 0;
  private bytesRead = 0;
  private bytesWritten = 0;
  private errorCount = 0;

  private readonly sIssued: Counter;
  private readonly sReads: Counter;
  private readonly sWrites: Counter;
  private readonly sErrorsBy: Counter[] = [];
  private readonly sStalls: Counter;
  private readonly sStallNs: Counter;
  private readonly sStreamAccesses: Counter[] | null = null;
  private readonly sStreamBytes: Counter[] | null = null;
  private readonly scope: StatScope;

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    readonly clock: ClockDomain,
    readonly masterId: number,
    readonly params: TrafficGeneratorParams,
    private readonly listener: TrafficListener | null = null,
  ) {
    this.accessMode = params.mode ?? 'timing';
    const s = ctx.stats.scope(path);
    this.scope = s;
    this.bus = new BusMaster(path, this, params.maxOutstanding, s, {
      errors: { desc: 'accesses that completed with an error' },
      latency: { desc: 'issue to response of each access, ns' },
      bytesRead: { desc: 'bytes read (Ok)' },
      bytesWritten: { desc: 'bytes written (Ok)' },
    });
    this.port = this.bus.port;
    this.sIssued = s.counter('issued', 'accesses issued');
    this.sReads = s.counter('reads', 'reads completed Ok');
    this.sWrites = s.counter('writes', 'writes completed Ok');
    for (let st = Status.DecodeError; st < STATUS_NAMES.length; st++) {
      this.sErrorsBy[st] = s.counter(`errors.${STATUS_NAMES[st]}`, `accesses that completed with ${STATUS_NAMES[st]}`);
    }
    this.sStalls = s.counter('outstanding_stalls', 'times a ready access found all outstanding slots taken');
    this.sStallNs = s.counter('outstanding_stall_ns', 'time a ready access waited for an outstanding slot, ns');
    s.formula('throughput_GBps', 'Ok bytes per simulated time since start, GB/s', () => this.throughputGBps(s.elapsedTicks()));
    if (params.perStreamStats) {
      this.sStreamAccesses = [];
      this.sStreamBytes = [];
    }
  }

  /** Sets the streams the next start() runs (not while running). */
  configure(program: TrafficProgram): void {
    if (this.isRunning || this.bus.inFlight > 0) throw new SimInvariantError(`${this.path}: configure() while running`);
    if (program.streams.length === 0) throw new SimInvariantError(`${this.path}: configure() needs at least one stream`);
    const n = program.streams.length;
    this.nStreams = n;
    let maxBytes = 64;
    this.workloads = program.streams.map((s, i) => {
      if (isWorkload(s)) return s;
      if (s.kind === 'trace') for (const r of s.records) maxBytes = Math.max(maxBytes, r.size);
      else maxBytes = Math.max(maxBytes, s.accessBytes);
      return createWorkload(s, this.ctx.rng.fork(`${this.path}.stream${i}`));
    });
    this.pool = new TransactionPool(maxBytes);
    this.slots = Array.from({ length: n }, newAccessSlot);
    this.has = new Uint8Array(n);
    this.exhausted = new Uint8Array(n);
    this.dueBase = new Float64Array(n);
    this.dueCount = new Float64Array(n);
    this.readyAt = new Float64Array(n);
    this.interval = program.ratePerUs === undefined ? 0 : 1e6 / program.ratePerUs;
    // Per-stream stats exist for every stream any program has had.
    if (this.sStreamAccesses && this.sStreamBytes) {
      for (let i = this.sStreamAccesses.length; i < n; i++) {
        this.sStreamAccesses.push(this.scope.counter(`stream${i}.accesses`, `stream ${i}: accesses completed`));
        this.sStreamBytes.push(this.scope.counter(`stream${i}.bytes`, `stream ${i}: bytes moved (Ok)`));
      }
    }
    this.configured = true;
  }

  /** True from start() until the done callback. */
  get running(): boolean {
    return this.isRunning;
  }

  get mode(): AccessMode {
    return this.accessMode;
  }

  get busy(): boolean {
    return this.isRunning;
  }

  beginFastForward(phase: AtomicPhase): void {
    if (this.accessMode !== 'atomic') throw new SimInvariantError(`${this.path}: fast-forward needs a device built in atomic mode`);
    this.ff = phase;
  }

  /** The switch (fast-forward): a parked run continues with its next access in timing mode. */
  resumeTiming(): void {
    this.accessMode = 'timing';
    this.ff = null;
    if (!this.isRunning) return;
    // Parked at a drain point: nothing in flight, no wave pending.
    if (this.stopping) this.scheduleFinish();
    else this.ctx.engine.schedule(this.ctx.engine.now, this.onWake);
  }

  /** Transactions issued and not yet answered (including those waiting for the bus). */
  get inFlight(): number {
    return this.bus.inFlight;
  }

  /** The most transactions ever in flight at once. */
  get peakInFlight(): number {
    return this.bus.peakInFlight;
  }

  /** Starts (or restarts, resetting the streams) the run; `done` runs when it ends. */
  start(done?: TrafficDoneCallback): void {
    if (this.isRunning) throw new SimInvariantError(`${this.path}: start() while running`);
    if (!this.configured) throw new SimInvariantError(`${this.path}: start() before configure()`);
    const now = this.ctx.engine.now;
    this.isRunning = true;
    this.stopping = false;
    this.finishScheduled = false;
    this.done = done;
    this.startTick = now;
    this.endTick = now;
    this.reads = this.writes = this.bytesRead = this.bytesWritten = this.errorCount = 0;
    this.waitingSlot = false;
    this.rr = 0;
    this.live = this.nStreams;
    for (let i = 0; i < this.nStreams; i++) {
      this.workloads[i].reset();
      this.has[i] = 0;
      this.exhausted[i] = 0;
      this.dueBase[i] = now;
      this.dueCount[i] = 0;
      this.readyAt[i] = this.clock.nextEdge(now);
    }
    // The first issue is an event, so `done` never runs inside start().
    this.ctx.engine.schedule(now, this.accessMode === 'atomic' ? this.onWave : this.onWake);
  }

  /** Issues nothing more; `done` runs once the in-flight accesses have completed. */
  stop(): void {
    if (!this.isRunning || this.stopping) return;
    this.stopping = true;
    if ((this.accessMode === 'timing' && this.bus.inFlight === 0) || this.ff?.parked) this.scheduleFinish();
    // Atomic: the pending wave event sees `stopping` and finishes.
  }

  private scheduleFinish(): void {
    if (this.finishScheduled) return;
    this.finishScheduled = true;
    this.ctx.engine.schedule(this.ctx.engine.now, this.onFinish);
  }

  private readonly onFinish = (): void => {
    if (this.isRunning && this.bus.inFlight === 0) this.finish();
  };

  private readonly onWake = (): void => {
    if (this.ctx.engine.now >= this.wakeAt) this.wakePending = false;
    this.issue();
  };

  /**
   * The next stream with an access ready now, in round-robin order from `rr`, or −1
   * (then `nextReady` is the earliest tick a rate-limited stream becomes ready, or
   * Infinity). Fetches each stream's next access ahead, to learn whether it has one.
   */
  private pick(now: Tick): number {
    const n = this.nStreams;
    let earliest = Infinity;
    for (let k = 0, s = this.rr; k < n; k++, s = s + 1 === n ? 0 : s + 1) {
      if (this.exhausted[s]) continue;
      if (!this.has[s]) {
        if (!this.workloads[s].next(this.slots[s])) {
          this.exhausted[s] = 1;
          this.live--;
          continue;
        }
        this.has[s] = 1;
      }
      const ready = this.readyAt[s];
      if (ready <= now) return s;
      if (ready < earliest) earliest = ready;
    }
    this.nextReady = earliest;
    return -1;
  }

  /** Takes stream s's prefetched access: advances round-robin and its rate pacing. */
  private take(s: number, now: Tick): AccessSlot {
    this.has[s] = 0;
    this.rr = s + 1 === this.nStreams ? 0 : s + 1;
    if (this.interval > 0) {
      // Due ticks are dueBase + k·interval, multiplied rather than summed so they do not
      // drift. Issuing on the first edge at or after the due tick is up to a cycle late;
      // a stream later than that (it waited for a slot) restarts its count from now.
      let k = this.dueCount[s] + 1;
      if (this.dueBase[s] + (k - 1) * this.interval < now - this.clock.periodPs) {
        this.dueBase[s] = now;
        k = 1;
      }
      this.dueCount[s] = k;
      const due = this.dueBase[s] + k * this.interval;
      // (The tolerance absorbs rounding in k·interval, e.g. 12 × 333 333.33… = 3 999 999.999….)
      this.readyAt[s] = this.clock.nextEdge(Math.ceil(due - 1e-6));
    }
    this.sIssued.inc();
    return this.slots[s];
  }

  private alloc(a: AccessSlot, s: number, now: Tick): Transaction {
    const t = this.pool.alloc(a.write ? Cmd.Write : Cmd.Read, a.addr, a.size, this.masterId, now);
    t.tag = s;
    if (a.write) fillWritePattern(t.data, a.addr, a.size);
    return t;
  }

  // ---- timing mode

  private issue(): void {
    if (!this.isRunning || this.stopping) return;
    const engine = this.ctx.engine;
    const now = engine.now;
    const bus = this.bus;
    if (this.waitingSlot && bus.inFlight < bus.maxOutstanding) {
      this.sStallNs.inc((now - this.stallStart) / 1000);
      this.waitingSlot = false;
    }
    while (true) {
      const s = this.pick(now);
      if (s < 0) break;
      if (bus.inFlight >= bus.maxOutstanding) {
        if (!this.waitingSlot) {
          this.waitingSlot = true;
          this.stallStart = now;
          this.sStalls.inc();
        }
        return;
      }
      bus.issue(this.alloc(this.take(s, now), s, now));
    }
    if (this.live === 0) {
      if (bus.inFlight === 0) this.finish();
      return;
    }
    const at = this.nextReady;
    if (at !== Infinity && (!this.wakePending || at < this.wakeAt)) {
      this.wakePending = true;
      this.wakeAt = at;
      engine.schedule(at, this.onWake);
    }
  }

  recvRetry(): void {
    this.bus.retry();
  }

  recvResponse(t: Transaction): void {
    this.complete(t, this.ctx.engine.now - t.issueTick);
    this.pool.release(t);
    const bus = this.bus;
    bus.done();
    if (this.stopping) {
      if (bus.inFlight === 0) this.finish();
    } else {
      this.issue();
    }
  }

  /** Stats and listener for one finished access (both modes). */
  private complete(t: Transaction, latency: Tick): void {
    const bus = this.bus;
    bus.sLatency.sample(latency / 1000);
    const s = t.tag;
    if (t.status === Status.Ok) {
      if (t.cmd === Cmd.Read) {
        this.reads++;
        this.bytesRead += t.size;
        this.sReads.inc();
        bus.sBytesRead!.inc(t.size);
      } else {
        this.writes++;
        this.bytesWritten += t.size;
        this.sWrites.inc();
        bus.sBytesWritten!.inc(t.size);
      }
      if (this.sStreamBytes) this.sStreamBytes[s].inc(t.size);
    } else {
      this.errorCount++;
      bus.sErrors.inc();
      const by = this.sErrorsBy[t.status];
      if (!by) throw new SimInvariantError(`${this.path}: access completed with status ${t.status}`);
      by.inc();
    }
    if (this.sStreamAccesses) this.sStreamAccesses[s].inc();
    if (this.listener) this.listener.accessDone(s, t.status);
  }

  // ---- atomic mode

  private readonly onWave = (): void => {
    if (!this.isRunning) return;
    if (this.stopping) {
      this.finish();
      return;
    }
    const engine = this.ctx.engine;
    const now = engine.now;
    const max = this.bus.maxOutstanding;
    // Fast-forward: every wave starts at a drain point (the last wave's accesses have all completed).
    const ff = this.ff;
    if (ff !== null && ff.parkHere(now)) return;
    const limit = ff === null ? max : Math.min(max, ff.budget());
    let count = 0;
    let sum = 0;
    let longest = 0;
    let s = -1;
    while (count < limit && (s = this.pick(now)) >= 0) {
      const t = this.alloc(this.take(s, now), s, now);
      const trip = this.port.sendAtomic(t);
      this.complete(t, trip);
      this.pool.release(t);
      sum += trip;
      if (trip > longest) longest = trip;
      count++;
    }
    if (ff !== null) ff.accesses += count;
    if (count > 0) {
      const overlapped = Math.ceil(sum / max);
      const duration = overlapped > longest ? overlapped : longest;
      if (count === max && this.pick(now) >= 0) {
        this.sStalls.inc();
        this.sStallNs.inc(duration / 1000);
      }
      engine.schedule(now + duration, this.onWave);
    } else if (this.live > 0) {
      engine.schedule(this.nextReady, this.onWave);
    } else {
      this.finish();
    }
  };

  // ---- end of run

  private finish(): void {
    const now = this.ctx.engine.now;
    if (this.waitingSlot) {
      this.sStallNs.inc((now - this.stallStart) / 1000);
      this.waitingSlot = false;
    }
    this.isRunning = false;
    this.endTick = now;
    const done = this.done;
    this.done = undefined;
    if (done) {
      done({
        reads: this.reads,
        writes: this.writes,
        bytesRead: this.bytesRead,
        bytesWritten: this.bytesWritten,
        errors: this.errorCount,
        stopped: this.stopping,
        startTick: this.startTick,
        endTick: now,
      });
    }
    if (!this.isRunning && this.ff !== null) this.ff.idle();
  }

  private throughputGBps(elapsed: Tick): number {
    const now = this.ctx.engine.now;
    const end = this.isRunning ? now : this.endTick;
    const windowStart = Math.max(this.startTick, now - elapsed);
    const ticks = end - windowStart;
    if (!(ticks > 0)) return 0;
    // bytes per ps × 1e12 ps/s ÷ 1e9 B/GB
    return ((this.bus.sBytesRead!.value + this.bus.sBytesWritten!.value) / ticks) * 1000;
  }
}

/** Device kind `traffic`: a traffic generator (scenario job `traffic` gives it workloads). */
export const trafficDeviceKind = defineDeviceKind({
  spec: deviceFields('traffic', {
    maxOutstanding: Outstanding.describe('requests in flight'),
  }),
  describe: 'a traffic generator: runs the workloads a scenario gives it',
  build: (env, d) => new TrafficGenerator(env.ctx, env.path, env.clock, env.masterId, { maxOutstanding: d.maxOutstanding, mode: env.mode }),
});
