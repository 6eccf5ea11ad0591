import type { SimContext } from '../engine/context';
import type { Engine } from '../engine/engine';
import { resolveParams } from '../engine/spec';
import type { Counter } from '../engine/stats';
import { PS_PER_NS, type Tick } from '../engine/time';
import { RequestPort, ResponsePort, type RequestReceiver, type ResponseReceiver } from '../bus/port';
import { Cmd, Status, type Transaction } from '../bus/transaction';
import type { InterruptFence } from '../bus/interruptFence';
import { TlpRing } from './tlpRing';
import { PostedWrites } from './postedWrites';
import { PcieLinkParamsSpec, type PcieLinkParams, type PcieLinkParamsInput } from './linkSpec';
import {
  ATS_INVALIDATE_COMPLETION_HEADER_BYTES, ATS_INVALIDATE_REQUEST_HEADER_BYTES, ATS_INVALIDATE_REQUEST_PAYLOAD_BYTES,
  chunkCount, chunkEnd, completionEnd, COMPLETION_HEADER_BYTES, dllpBytes, ECRC_BYTES, FC_DATA_CREDIT_BYTES,
  psPerByte, requestHeaderBytes, tlpFramingBytes,
} from './wire';

/** Per-direction counters. */
interface Direction {
  tlps: Counter;
  bytes: Counter;
  payloadBytes: Counter;
  dllps: Counter;
  /** Picoseconds the direction was transmitting (TLPs and the DLLPs that delayed them). */
  busyPs: number;
}

/**
 * A PCIe link between an endpoint (a device) and a root port, both directions.
 *
 *   device ──▶ cpuSidePort [endpoint: split, credits] ══ upstream ══▶ [root port rx] memSidePort ──▶ root complex
 *          ◀── (completions)                          ◀═ downstream ═                         ◀──
 *
 * Upstream (device → root port) carries memory writes (posted: split at Max Payload Size,
 * one TLP per MPS-aligned chunk, §2.2.7) and read requests (non-posted: header only,
 * split at Max Read Request Size). Downstream carries the completions with data of the
 * reads, split at the Read Completion Boundary (§2.3.1.1). Each TLP occupies its
 * direction for its wire bytes (payload + header 12/16 B + 8 B framing, sequence number
 * and LCRC + 4 B ECRC if enabled; see wire.ts) at the link's data rate, then arrives
 * `latencyNs` later. TLPs of one direction go out one at a time, in order.
 *
 * - Flow control (§2.6): the root port advertises posted header/data and non-posted
 *   header credits. A TLP goes out only when the credits it needs are available; they
 *   are consumed on transmit and come back (an UpdateFC, `latencyNs` later) when the root
 *   complex takes the request out of the root port's receive buffer. A slow root complex
 *   therefore back-pressures the link, and the endpoint's queue refuses the device once
 *   it holds `txQueueDepth` requests (the device is owed a retry). Endpoints advertise
 *   infinite completion credits (§2.6.1), so completions never wait for credits; the
 *   endpoint bounds its reads with `tags` instead.
 * - DLLPs: the receiver of TLPs sends one Ack per `ackEveryTlps` and (root port only)
 *   one UpdateFC per `fcUpdateEveryTlps`. Each is 8 bytes of the other direction: it
 *   fills an idle gap for free, or delays the next TLP of that direction on a busy link
 *   (accounted as a debt paid by the next TLP).
 * - A request is handed to the root complex when its last TLP has arrived (store and
 *   forward); a read's response goes to the device when its last completion has arrived.
 *   The device's transaction itself travels on (the root complex, the IOMMU and memory
 *   see the whole request), so nothing is copied and nothing is allocated per TLP: the
 *   link keeps per-request records in `TlpRing`s and computes TLP sizes from the
 *   address, size, MPS, MRRS and RCB.
 * - Posted writes (§2.4): a memory write has no completion. The device gets its response
 *   (Ok) when the write's last TLP has left the endpoint onto the link, and may recycle
 *   its transaction at once; the write itself travels on as a copy, an internal
 *   transaction from the link's own pool (tagged with the link, so a response that is not
 *   one of ours is a SimInvariantError), through the root port, the IOMMU and memory. An
 *   error status there (an IOMMU translation fault, an unsupported request) cannot reach
 *   the device, as in PCIe, where the root complex logs it (AER) instead: it counts in
 *   `posted_errors`.
 * - Ordering (§2.4.1; the bookkeeping is postedWrites.ts): the link is FIFO in each
 *   direction, so posted writes stay in order and no request passes an earlier one on the
 *   wire. Past the root port the IOMMU and memory may finish requests out of order, so
 *   the link keeps its posted writes in a retirement ring (in sending order; a write
 *   retires when it and all before it have reached memory) and (a) holds a read request
 *   at the root port while an unretired earlier write overlaps its bytes (a read must not
 *   pass a posted write: it must see the data), counted in `reads_held`; (b) orders the
 *   device's interrupts behind its writes (`afterPostedWrites`, an MSI being a posted
 *   write): the driver the interrupt wakes sees every descriptor and packet the device
 *   wrote before it. Downstream posted writes (CPU MMIO to the device) are not modelled,
 *   so completions have nothing to pass.
 *
 * Atomic access: the idle-link latency (serialization both ways + 2 × latency) plus the
 * root complex's. Functional: forwarded.
 *
 * Stats under `<path>.` (the device's `soc.<device>.pcie`): `up.tlps`, `up.bytes` (wire
 * bytes), `up.payload_bytes`, `up.dllps`, `up.busy_ps`, `up.util` and the same under
 * `down.`; `credit_stalls` (times the head TLP waited for credits), `credit_stall_ns`,
 * `tag_stalls`, `refused` (device requests refused: endpoint queue full), `posted_errors`,
 * `reads_held`.
 */
export class PcieLink implements RequestReceiver, ResponseReceiver, InterruptFence {
  /** Faces the device (the endpoint's transaction layer). */
  readonly cpuSidePort: ResponsePort;
  /** Faces the root complex. */
  readonly memSidePort: RequestPort;
  readonly params: PcieLinkParams;

  private readonly engine: Engine;
  private readonly psPerByte: number;
  private readonly latencyPs: number;
  private readonly framing: number;
  private readonly dllp: number;
  private readonly ecrc: number;
  private readonly mps: number;
  private readonly mrrs: number;
  private readonly rcb: number;
  private readonly split: 'rcb' | 'mps';

  /** Device requests not yet fully sent; nums = bytes already sent in TLPs. */
  private readonly txq: TlpRing;
  /** Requests whose last TLP is on the wire; ticks = when it reaches the root port. */
  private readonly toRoot = new TlpRing(64);
  /** Credits travelling back: ticks = due, nums = header credits, aux = posted data credits (-1: non-posted). */
  private readonly credits = new TlpRing(64);
  /** Read responses crossing downstream; ticks = when the last completion reaches the endpoint. */
  private readonly toDevice = new TlpRing(64);
  /** Device writes whose last TLP is on the wire; ticks = when it has left (the device's response). */
  private readonly acks = new TlpRing(64);
  /** The posted writes past the root port, until they reach memory (ordering, fences). */
  private readonly posted: PostedWrites;
  /** The head of toRoot is a read that overlaps an unretired posted write. */
  private readHeld = false;

  private ph: number;
  private pd: number;
  private nph: number;
  private tagsFree: number;

  private upBusy = false;
  private upFreeAt = 0;
  private downFreeAt = 0;
  private upDebtPs = 0;
  private downDebtPs = 0;
  private rootBlocked = false;
  /** Tick the head TLP started waiting for credits or tags, or -1. */
  private stallStart = -1;
  private upRx = 0;
  private downRx = 0;

  private readonly up: Direction;
  private readonly down: Direction;
  private readonly sCreditStalls: Counter;
  private readonly sCreditStallNs: Counter;
  private readonly sTagStalls: Counter;
  private readonly sRefused: Counter;
  private readonly sReadsHeld: Counter;

  constructor(ctx: SimContext, readonly path: string, paramsIn: PcieLinkParamsInput) {
    const p = resolveParams(PcieLinkParamsSpec, paramsIn, `PCIe link ${path}`);
    this.params = p;
    this.engine = ctx.engine;
    this.psPerByte = psPerByte(p.gen, p.lanes);
    this.latencyPs = Math.round(p.latencyNs * PS_PER_NS);
    this.framing = tlpFramingBytes(p.gen);
    this.dllp = dllpBytes(p.gen);
    this.ecrc = p.ecrc ? ECRC_BYTES : 0;
    this.mps = p.maxPayloadBytes;
    this.mrrs = p.maxReadRequestBytes;
    this.rcb = p.readCompletionBoundaryBytes;
    this.split = p.completionSplit;
    this.ph = p.postedHeaderCredits;
    this.pd = p.postedDataCredits;
    this.nph = p.nonPostedHeaderCredits;
    this.tagsFree = p.tags;
    this.txq = new TlpRing(p.txQueueDepth);
    this.cpuSidePort = new ResponsePort(`${path}.endpoint`, this);
    this.memSidePort = new RequestPort(`${path}.root_port`, this);
    const scope = ctx.stats.scope(path);
    const direction = (name: 'up' | 'down', what: string): Direction => {
      const s = scope.scope(name);
      const d: Direction = {
        tlps: s.counter('tlps', `TLPs sent ${what}`),
        bytes: s.counter('bytes', `wire bytes sent ${what}: TLPs (payload, header, framing, sequence number, LCRC, ECRC) and DLLPs`),
        payloadBytes: s.counter('payload_bytes', `payload bytes sent ${what}`),
        dllps: s.counter('dllps', `DLLPs (Ack, UpdateFC) sent ${what}`),
        busyPs: 0,
      };
      s.formula('busy_ps', `ps the ${what} direction was transmitting`, () => d.busyPs);
      s.formula('util', 'busy_ps / elapsed time', () => {
        const t = s.elapsedTicks();
        return t > 0 ? d.busyPs / t : NaN;
      });
      return d;
    };
    this.up = direction('up', 'upstream (device to root port)');
    this.down = direction('down', 'downstream (root port to device)');
    this.sCreditStalls = scope.counter('credit_stalls', 'times the next upstream TLP waited for flow-control credits');
    this.sCreditStallNs = scope.counter('credit_stall_ns', 'ns upstream TLPs waited for flow-control credits or tags');
    this.sTagStalls = scope.counter('tag_stalls', 'times the next read request waited for a free tag');
    this.sRefused = scope.counter('refused', 'device requests refused (endpoint queue full)');
    this.posted = new PostedWrites(this.engine, path, this, scope.counter('posted_errors', 'posted writes that failed past the root port (IOMMU fault, unsupported request): not reported to the device, as in PCIe'));
    this.sReadsHeld = scope.counter('reads_held', 'read requests held at the root port behind an overlapping earlier posted write');
  }

  /** Data rate of one direction, bytes per ns (GB/s). */
  get bytesPerNs(): number {
    return 1000 / this.psPerByte;
  }

  // --- the device side -------------------------------------------------------------

  recvRequest(txn: Transaction): boolean {
    if (this.txq.count >= this.params.txQueueDepth) {
      this.sRefused.value++;
      return false;
    }
    this.txq.push(txn, this.engine.now, 0);
    if (txn.cmd === Cmd.Write) this.posted.accept();
    this.pumpUp();
    return true;
  }

  recvAtomic(txn: Transaction): Tick {
    const write = txn.cmd === Cmd.Write;
    let upBytes = 0;
    let downBytes = 0;
    let upTlps = 0;
    let downTlps = 0;
    const end = txn.addr + txn.size;
    for (let a = txn.addr; a < end; upTlps++) {
      const next = chunkEnd(a, write ? this.mps : this.mrrs, end);
      upBytes += this.requestWireBytes(a, write ? next - a : 0);
      a = next;
    }
    if (!write) {
      for (let a = txn.addr; a < end; downTlps++) {
        const next = completionEnd(a, end, this.rcb, this.mps, this.split);
        downBytes += this.completionWireBytes(next - a);
        a = next;
      }
    }
    this.count(this.up, upBytes, write ? txn.size : 0, upTlps);
    this.count(this.down, downBytes, write ? 0 : txn.size, downTlps);
    const below = this.memSidePort.sendAtomic(txn);
    const link = Math.ceil((upBytes + downBytes) * this.psPerByte) + (write ? 1 : 2) * this.latencyPs;
    return below + link;
  }

  recvFunctional(txn: Transaction): void {
    this.memSidePort.sendFunctional(txn);
  }

  // --- upstream ----------------------------------------------------------------------

  /** Sends the next upstream TLP if the direction is free and its credits are there. */
  private pumpUp(): void {
    if (this.upBusy || this.txq.count === 0) return;
    const q = this.txq;
    const txn = q.txns[q.head]!;
    const sent = q.nums[q.head];
    const write = txn.cmd === Cmd.Write;
    const end = txn.addr + txn.size;
    const a = txn.addr + sent;
    const next = chunkEnd(a, write ? this.mps : this.mrrs, end);
    const payload = write ? next - a : 0;
    const now = this.engine.now;
    if (write) {
      const need = Math.ceil(payload / FC_DATA_CREDIT_BYTES);
      if (this.ph < 1 || this.pd < need) return this.stall(now, false);
      this.ph--;
      this.pd -= need;
    } else {
      if (this.tagsFree < 1) return this.stall(now, true);
      if (this.nph < 1) return this.stall(now, false);
      this.nph--;
      this.tagsFree--;
    }
    if (this.stallStart >= 0) {
      this.sCreditStallNs.value += (now - this.stallStart) / PS_PER_NS;
      this.stallStart = -1;
    }
    const wire = this.requestWireBytes(a, payload);
    const start = this.startUp(now);
    const dur = wire * this.psPerByte;
    this.upFreeAt = start + dur;
    this.up.busyPs += dur;
    this.count(this.up, wire, payload, 1);
    // The root port receives it: Acks and UpdateFCs go back downstream.
    this.upRx++;
    if (this.upRx % this.params.ackEveryTlps === 0) this.dllpDown();
    if (this.upRx % this.params.fcUpdateEveryTlps === 0) this.dllpDown();
    this.upBusy = true;
    const doneAt = Math.ceil(this.upFreeAt);
    if (next === end) {
      q.shift();
      let up = txn;
      if (write) {
        // Posted: the device's transaction is answered when this last TLP has left; a copy goes upstream.
        up = this.posted.copy(txn);
        this.acks.push(txn, doneAt, 0);
      }
      this.toRoot.push(up, doneAt + this.latencyPs, 0);
      this.engine.schedule(doneAt + this.latencyPs, this.onArrive);
      if (this.cpuSidePort.retryOwed) this.cpuSidePort.sendRetry();
    } else {
      q.nums[q.head] = sent + (next - a);
    }
    this.engine.schedule(doneAt, this.onUpDone);
  }

  private stall(now: Tick, tags: boolean): void {
    if (this.stallStart < 0) {
      this.stallStart = now;
      if (tags) this.sTagStalls.value++;
      else this.sCreditStalls.value++;
    }
  }

  private readonly onUpDone = (): void => {
    this.upBusy = false;
    const a = this.acks;
    const now = this.engine.now;
    while (a.count > 0 && a.ticks[a.head] <= now) {
      const txn = a.txns[a.head]!;
      a.shift();
      txn.status = Status.Ok;
      this.cpuSidePort.sendResponse(txn);
    }
    this.pumpUp();
  };

  /**
   * InterruptFence: an MSI is a posted write behind the device's earlier ones, so `fn(arg)`
   * runs when they have all reached memory; with none in flight, after the MSI's own
   * crossing (a 4-byte write TLP and the link latency; the root complex's part is not counted).
   */
  afterPostedWrites(fn: (arg: number) => void, arg: number): void {
    if (this.posted.idle) {
      this.engine.schedule(this.engine.now + Math.ceil(this.requestWireBytes(0, 4) * this.psPerByte) + this.latencyPs, fn, arg);
      return;
    }
    this.posted.afterRetired(fn, arg);
  }

  /** Start of the next upstream TLP: after the one before and any DLLPs owed on a busy link. */
  private startUp(now: Tick): number {
    let start = now;
    if (this.upFreeAt > now) start = this.upFreeAt;
    else this.upDebtPs = Math.max(0, this.upDebtPs - (now - this.upFreeAt));
    start += this.upDebtPs;
    this.up.busyPs += this.upDebtPs;
    this.upDebtPs = 0;
    return start;
  }

  private startDown(now: Tick): number {
    let start = now;
    if (this.downFreeAt > now) start = this.downFreeAt;
    else this.downDebtPs = Math.max(0, this.downDebtPs - (now - this.downFreeAt));
    start += this.downDebtPs;
    this.down.busyPs += this.downDebtPs;
    this.downDebtPs = 0;
    return start;
  }

  private dllpDown(): void {
    this.down.dllps.value++;
    this.down.bytes.value += this.dllp;
    this.downDebtPs += this.dllp * this.psPerByte;
  }

  private dllpUp(): void {
    this.up.dllps.value++;
    this.up.bytes.value += this.dllp;
    this.upDebtPs += this.dllp * this.psPerByte;
  }

  // --- the root port -----------------------------------------------------------------

  private readonly onArrive = (): void => {
    this.forwardToRoot();
  };

  /** Hands every arrived request to the root complex, in order, until it refuses one. */
  private forwardToRoot(): void {
    const r = this.toRoot;
    const now = this.engine.now;
    while (!this.rootBlocked && !this.readHeld && r.count > 0 && r.ticks[r.head] <= now) {
      const txn = r.txns[r.head]!;
      const write = txn.cmd === Cmd.Write;
      if (!write && this.posted.overlaps(txn.addr, txn.size)) {
        this.readHeld = true;
        this.sReadsHeld.value++;
        return;
      }
      // Credits first: the root complex may rewrite txn.addr (IOMMU) while it takes it.
      const headers = chunkCount(txn.addr, txn.size, write ? this.mps : this.mrrs);
      const data = write ? this.postedDataCredits(txn.addr, txn.size) : 0;
      if (!this.memSidePort.sendRequest(txn)) {
        this.rootBlocked = true;
        return;
      }
      r.shift();
      // The UpdateFC for the freed buffer reaches the endpoint latencyNs later.
      const due = now + this.latencyPs;
      this.credits.push(null, due, headers, write ? data : -1);
      this.engine.schedule(due, this.onCredits);
    }
  }

  private postedDataCredits(addr: number, size: number): number {
    let n = 0;
    const end = addr + size;
    for (let a = addr; a < end;) {
      const next = chunkEnd(a, this.mps, end);
      n += Math.ceil((next - a) / FC_DATA_CREDIT_BYTES);
      a = next;
    }
    return n;
  }

  private readonly onCredits = (): void => {
    const c = this.credits;
    const now = this.engine.now;
    while (c.count > 0 && c.ticks[c.head] <= now) {
      const headers = c.nums[c.head];
      const data = c.aux[c.head];
      if (data >= 0) {
        this.ph += headers;
        this.pd += data;
      } else {
        this.nph += headers;
      }
      c.shift();
    }
    this.pumpUp();
  };

  recvRetry(): void {
    if (!this.rootBlocked) return;
    this.rootBlocked = false;
    this.forwardToRoot();
  }

  // --- downstream --------------------------------------------------------------------

  recvResponse(txn: Transaction): void {
    if (txn.cmd === Cmd.Write) {
      // Posted: nothing crosses the link; the device had its response already.
      this.posted.done(txn);
      if (this.readHeld) {
        this.readHeld = false;
        this.forwardToRoot();
      }
      return;
    }
    const now = this.engine.now;
    let wire = 0;
    let tlps = 0;
    const end = txn.addr + txn.size;
    for (let a = txn.addr; a < end;) {
      const next = completionEnd(a, end, this.rcb, this.mps, this.split);
      wire += this.completionWireBytes(next - a);
      tlps++;
      a = next;
    }
    const start = this.startDown(now);
    const dur = wire * this.psPerByte;
    this.downFreeAt = start + dur;
    this.down.busyPs += dur;
    this.count(this.down, wire, txn.size, tlps);
    // The endpoint acks the completions (no UpdateFC: infinite completion credits).
    for (let k = 0; k < tlps; k++) {
      this.downRx++;
      if (this.downRx % this.params.ackEveryTlps === 0) this.dllpUp();
    }
    const at = Math.ceil(this.downFreeAt) + this.latencyPs;
    this.toDevice.push(txn, at, 0);
    this.engine.schedule(at, this.onDeliver);
  }

  private readonly onDeliver = (): void => {
    const d = this.toDevice;
    const now = this.engine.now;
    while (d.count > 0 && d.ticks[d.head] <= now) {
      const txn = d.txns[d.head]!;
      d.shift();
      this.tagsFree += chunkCount(txn.addr, txn.size, this.mrrs);
      this.cpuSidePort.sendResponse(txn);
    }
    this.pumpUp();
  };

  // --- ATS messages (sim/pcie/ats.ts) ----------------------------------------------

  /**
   * One ATC invalidation's round trip on this link (PCIe Base Spec, ATS chapter,
   * "Invalidate Request" / "Invalidate Completion" messages): the root port sends an
   * Invalidate Request downstream (a MsgD: ATS_INVALIDATE_REQUEST_BYTES on the wire),
   * which waits for the downstream direction like a completion; the device answers
   * `devicePs` after it arrived with an Invalidate Completion upstream (a Msg without
   * data), charged to the upstream direction as DLLPs are (it delays the next TLP of a
   * busy link). Counts both TLPs. Returns ps from now until the completion reaches the
   * root port: what an IOMMU waiting for it (CMD_SYNC) waits.
   */
  atsInvalidationRoundTrip(devicePs: number): Tick {
    const now = this.engine.now;
    const downWire = this.framing + ATS_INVALIDATE_REQUEST_HEADER_BYTES + this.ecrc + ATS_INVALIDATE_REQUEST_PAYLOAD_BYTES;
    const start = this.startDown(now);
    const downDur = downWire * this.psPerByte;
    this.downFreeAt = start + downDur;
    this.down.busyPs += downDur;
    this.count(this.down, downWire, ATS_INVALIDATE_REQUEST_PAYLOAD_BYTES, 1);
    const arrive = Math.ceil(this.downFreeAt) + this.latencyPs;
    const upWire = this.framing + ATS_INVALIDATE_COMPLETION_HEADER_BYTES + this.ecrc;
    const upDur = upWire * this.psPerByte;
    this.upDebtPs += upDur;
    this.count(this.up, upWire, 0, 1);
    return arrive + devicePs + Math.ceil(upDur) + this.latencyPs - now;
  }

  /** The same round trip on an idle link (what `atsInvalidationRoundTrip` returns when nothing else is on the wire). */
  idleAtsInvalidationRoundTrip(devicePs: number): Tick {
    const downWire = this.framing + ATS_INVALIDATE_REQUEST_HEADER_BYTES + this.ecrc + ATS_INVALIDATE_REQUEST_PAYLOAD_BYTES;
    const upWire = this.framing + ATS_INVALIDATE_COMPLETION_HEADER_BYTES + this.ecrc;
    return Math.ceil(downWire * this.psPerByte) + Math.ceil(upWire * this.psPerByte) + 2 * this.latencyPs + devicePs;
  }

  // --- sizes and counts --------------------------------------------------------------

  private requestWireBytes(addr: number, payload: number): number {
    return this.framing + requestHeaderBytes(addr) + this.ecrc + payload;
  }

  private completionWireBytes(payload: number): number {
    return this.framing + COMPLETION_HEADER_BYTES + this.ecrc + payload;
  }

  private count(d: Direction, wire: number, payload: number, tlps: number): void {
    d.tlps.value += tlps;
    d.bytes.value += wire;
    d.payloadBytes.value += payload;
  }
}
