import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import type { Counter } from '../engine/stats';
import { PS_PER_NS, type Tick } from '../engine/time';
import { SimInvariantError } from '../engine/errors';
import { RequestPort, ResponsePort, type RequestReceiver, type ResponseReceiver } from '../bus/port';
import { At, Cmd, TransactionPool, type Transaction } from '../bus/transaction';
import type { InterruptFence } from '../bus/interruptFence';
import { Tlb } from '../mmu/tlb';
import { Perm } from '../mmu/perms';
import type { AtsDevicePort } from '../mmu/iommu';
import type { PcieLink } from './link';
import { TlpRing } from './tlpRing';
import { ATS_STU_BYTES, translatedFrame, translationReadable, translationWritable } from './atsCompletion';
import { ATS_TRANSLATION_BYTES } from './wire';
import type { AtsParams } from './atsSpec';

/** Queue entry states (TlpRing.nums). */
const WAITING = 0; // its translation is being fetched
const NEEDS_REQUEST = 1; // no Translation Request slot was free
const TRANSLATED = 2; // goes with AT=translated to aux (the PA)
const UNTRANSLATED = 3; // goes untranslated (ATS off, or no translation: the IOMMU decides)

/**
 * A PCIe device's ATS endpoint (PCIe Base Spec, Address Translation Services chapter):
 * the device's Address Translation Cache (ATC) between the device and its link.
 *
 *   device ──▶ cpuSidePort [ATC] memSidePort ──▶ PcieLink ──▶ root port ──▶ IOMMU
 *
 * Once the kernel has enabled ATS (`setAtsEnabled`, the capability's Enable bit), each
 * device request looks up the ATC (4 KiB entries, `atcLatencyCycles`):
 * - hit: the request goes on with the cached physical address and AT=translated; the
 *   IOMMU passes it without translation (its TLBs are not consulted);
 * - miss: the endpoint sends a Translation Request (a memory read request with
 *   AT=translation request, header only upstream; its completion brings one 8-byte
 *   translation downstream: sim/pcie/atsCompletion.ts) unless one for the page is in
 *   flight; the IOMMU answers it through its TLBs and walker without a data access. The
 *   translation fills the ATC and releases the waiting requests. With no translation
 *   (R = W = 0) or without the access the request needs, the request goes untranslated
 *   and the IOMMU faults it as it would any request.
 * Requests leave in arrival order (a request waits behind an earlier one still waiting
 * for its translation), so posted writes stay ordered, and interrupts (`afterPostedWrites`)
 * wait for the writes held here before the link's own fence.
 *
 * Invalidation: the IOMMU's ATC invalidation command calls `invalidate`, which drops the
 * range from the ATC (unless `ignoreInvalidations`: a malicious device keeps them) and
 * returns the link round trip of the Invalidate Request and Completion
 * (`PcieLink.atsInvalidationRoundTrip`, plus `invalidationNs` in the device). The
 * invalidation takes effect at the device when the IOMMU issues it; requests already
 * translated and queued here still go with the old address (the model does not hold the
 * completion behind them).
 *
 * Stale-ATC oracle (when the IOMMU has `countStaleTlbHits`): every ATC hit is checked
 * against the stream's current page tables (`staleOracle`); hits they no longer allow
 * (an unmapped buffer whose ATC invalidation has not happened yet: lazy mode before the
 * flush, or a device that ignores invalidations) count in `stale_atc_hits`, and the
 * access still goes with the cached address, as the device would.
 *
 * Atomic and functional accesses pass untranslated (fast-forward does not model ATS).
 *
 * Stats under `<path>` (`soc.<device>.pcie.ats`): `atc.*` (the ATC's TLB stats: hits,
 * misses, fills, evictions, invalidations, …), `translation_requests`, `translated_requests`,
 * `untranslated_requests`, `invalidations`, `invalidations_ignored`, and with the oracle
 * `stale_atc_hits`.
 */
export class AtsEndpoint implements RequestReceiver, ResponseReceiver, InterruptFence, AtsDevicePort {
  /** Faces the device. */
  readonly cpuSidePort: ResponsePort;
  /** Faces the link's endpoint. */
  readonly memSidePort: RequestPort;
  readonly atc: Tlb;
  /** Stale-ATC oracle (wired by the builder when the IOMMU counts stale TLB hits): true if `va` → `pa` no longer holds for this access. */
  staleOracle: ((va: number, pa: number, write: boolean) => boolean) | null = null;

  private enabled = false;
  private readonly q: TlpRing;
  private readonly pool = new TransactionPool(ATS_TRANSLATION_BYTES);
  /** IOVA frames with a Translation Request in flight (-1: free slot). */
  private readonly pendingFrames: Float64Array;
  private pending = 0;
  private blocked = false;
  private pumpArmed = false;
  private readonly latencyTicks: number;
  private readonly invalidationPs: number;
  /** Writes accepted from the device, and handed to the link. */
  private writesIn = 0;
  private writesOut = 0;
  private readonly fenceFns: Array<(arg: number) => void> = [];
  private readonly fenceArgs: number[] = [];
  private readonly fenceSeqs: number[] = [];

  private readonly sRequests: Counter;
  private readonly sTranslated: Counter;
  private readonly sUntranslated: Counter;
  private readonly sInvalidations: Counter;
  private readonly sIgnored: Counter;
  private sStale: Counter | null = null;

  private readonly onPump = (): void => {
    this.pumpArmed = false;
    this.pump();
  };

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    private readonly clock: ClockDomain,
    private readonly link: PcieLink,
    readonly params: AtsParams,
  ) {
    this.cpuSidePort = new ResponsePort(`${path}.device`, this);
    this.memSidePort = new RequestPort(`${path}.link`, this);
    this.atc = new Tlb(ctx, `${path}.atc`, {
      entries: params.atcEntries, ways: params.atcWays ?? params.atcEntries, latencyCycles: params.atcLatencyCycles, pageSizes: [ATS_STU_BYTES], mshrs: 1,
    });
    this.q = new TlpRing(params.queueDepth);
    this.pendingFrames = new Float64Array(params.maxTranslationRequests).fill(-1);
    this.latencyTicks = params.atcLatencyCycles;
    this.invalidationPs = Math.round(params.invalidationNs * PS_PER_NS);
    const s = ctx.stats.scope(path);
    this.sRequests = s.counter('translation_requests', 'ATS Translation Requests sent');
    this.sTranslated = s.counter('translated_requests', 'requests sent with AT=translated (ATC hits and fresh translations)');
    this.sUntranslated = s.counter('untranslated_requests', 'requests sent untranslated (ATS off, or no translation for the access)');
    this.sInvalidations = s.counter('invalidations', 'ATC Invalidate Requests received');
    this.sIgnored = s.counter('invalidations_ignored', 'Invalidate Requests answered without dropping the translations (ignoreInvalidations)');
  }

  /** Turns on the stale-ATC oracle. */
  setStaleOracle(oracle: (va: number, pa: number, write: boolean) => boolean): void {
    this.staleOracle = oracle;
    this.sStale = this.ctx.stats.counter(`${this.path}.stale_atc_hits`, 'ATC hits whose translation the page tables no longer give (unmapped, remapped or access taken away): the ATC stale window');
  }

  // --- AtsDevicePort (the IOMMU's side) --------------------------------------------

  setAtsEnabled(on: boolean): void {
    this.enabled = on;
    if (!on) this.atc.invalidateAll();
  }

  invalidate(va: number, size: number): Tick {
    this.sInvalidations.value++;
    if (this.params.ignoreInvalidations) this.sIgnored.value++;
    else if (size === 0) this.atc.invalidateAll();
    else this.atc.invalidateRange(0, va, size);
    return this.link.atsInvalidationRoundTrip(this.invalidationPs);
  }

  // --- device side -----------------------------------------------------------------

  recvRequest(txn: Transaction): boolean {
    const q = this.q;
    if (q.count >= this.params.queueDepth) return false;
    const now = this.ctx.engine.now;
    const write = txn.cmd === Cmd.Write;
    if (write) this.writesIn++;
    if (!this.enabled) {
      q.push(txn, now, UNTRANSLATED);
      this.pump();
      return true;
    }
    const ready = this.clock.edgeAfter(now, this.latencyTicks);
    if (this.atc.lookup(0, txn.addr) && (this.atc.hitPerms & (write ? Perm.Write : Perm.Read)) !== 0) {
      const pa = this.atc.hitPa;
      if (this.staleOracle !== null && this.staleOracle(txn.addr, pa, write)) this.sStale!.value++;
      q.push(txn, ready, TRANSLATED, pa);
    } else {
      q.push(txn, ready, this.requestTranslation(txn.addr, now) ? WAITING : NEEDS_REQUEST);
    }
    this.armPump(ready);
    return true;
  }

  recvAtomic(txn: Transaction): Tick {
    return this.memSidePort.sendAtomic(txn);
  }

  recvFunctional(txn: Transaction): void {
    this.memSidePort.sendFunctional(txn);
  }

  /**
   * Sends a Translation Request for `va`'s frame unless one is in flight. It goes to the
   * link at once, ahead of device requests queued here (they are not on the link yet, so
   * nothing passes anything on the wire). False when no slot is free or the link refused.
   */
  private requestTranslation(va: number, now: Tick): boolean {
    const frame = Math.floor(va / ATS_STU_BYTES);
    const slots = this.pendingFrames;
    let free = -1;
    for (let k = 0; k < slots.length; k++) {
      if (slots[k] === frame) return true;
      if (free < 0 && slots[k] < 0) free = k;
    }
    if (free < 0 || this.blocked) return false;
    const t = this.pool.alloc(Cmd.Read, frame * ATS_STU_BYTES, ATS_TRANSLATION_BYTES, 0, now);
    t.at = At.TranslationRequest;
    t.context = this;
    t.tag = free;
    if (!this.memSidePort.sendRequest(t)) {
      this.pool.release(t);
      this.blocked = true;
      return false;
    }
    slots[free] = frame;
    this.pending++;
    this.sRequests.value++;
    return true;
  }

  private armPump(at: Tick): void {
    if (this.pumpArmed) return;
    this.pumpArmed = true;
    this.ctx.engine.schedule(Math.max(at, this.ctx.engine.now), this.onPump);
  }

  /** Hands ready requests at the head to the link, in order. */
  private pump(): void {
    const q = this.q;
    const now = this.ctx.engine.now;
    while (!this.blocked && q.count > 0) {
      const txn = q.txns[q.head]!;
      const state = q.nums[q.head];
      if (state === WAITING) return;
      if (state === NEEDS_REQUEST) {
        const write = txn.cmd === Cmd.Write;
        if (this.atc.probe(0, txn.addr) && (this.atc.hitPerms & (write ? Perm.Write : Perm.Read)) !== 0) {
          q.nums[q.head] = TRANSLATED;
          q.aux[q.head] = this.atc.hitPa;
          continue;
        }
        if (!this.requestTranslation(txn.addr, now)) return;
        q.nums[q.head] = WAITING;
        // Its frame may have been translated meanwhile: the completion re-checks the queue.
        return;
      }
      if (q.ticks[q.head] > now) {
        this.armPump(q.ticks[q.head]);
        return;
      }
      const va = txn.addr;
      txn.pushRoute(va);
      if (state === TRANSLATED) {
        txn.at = At.Translated;
        txn.addr = q.aux[q.head];
      }
      if (!this.memSidePort.sendRequest(txn)) {
        txn.popRoute();
        txn.addr = va;
        txn.at = At.Untranslated;
        this.blocked = true;
        return;
      }
      q.shift();
      if (state === TRANSLATED) this.sTranslated.value++;
      else this.sUntranslated.value++;
      if (txn.cmd === Cmd.Write) this.writeHandedOn();
      if (this.cpuSidePort.retryOwed) this.cpuSidePort.sendRetry();
    }
  }

  private writeHandedOn(): void {
    this.writesOut++;
    while (this.fenceSeqs.length > 0 && this.fenceSeqs[0] <= this.writesOut) {
      this.fenceSeqs.shift();
      this.link.afterPostedWrites(this.fenceFns.shift()!, this.fenceArgs.shift()!);
    }
  }

  /** InterruptFence: after the writes still held here have gone to the link, the link's own fence. */
  afterPostedWrites(fn: (arg: number) => void, arg: number): void {
    if (this.writesOut >= this.writesIn) {
      this.link.afterPostedWrites(fn, arg);
      return;
    }
    this.fenceFns.push(fn);
    this.fenceArgs.push(arg);
    this.fenceSeqs.push(this.writesIn);
  }

  // --- link side -------------------------------------------------------------------

  recvRetry(): void {
    if (!this.blocked) return;
    this.blocked = false;
    this.pump();
  }

  recvResponse(txn: Transaction): void {
    if (txn.context === this && txn.at === At.TranslationRequest) {
      this.translationDone(txn);
      return;
    }
    txn.addr = txn.popRoute();
    txn.at = At.Untranslated;
    this.cpuSidePort.sendResponse(txn);
  }

  /** A Translation Completion: fill the ATC and release the requests waiting for the frame. */
  private translationDone(t: Transaction): void {
    const slot = t.tag;
    const frameVa = t.addr;
    if (this.pendingFrames[slot] * ATS_STU_BYTES !== frameVa) throw new SimInvariantError(`${this.path}: Translation Completion for a frame not in flight`);
    this.pendingFrames[slot] = -1;
    this.pending--;
    const ok = t.status === 1;
    const read = ok && translationReadable(t.data);
    const write = ok && translationWritable(t.data);
    const pa = read || write ? translatedFrame(t.data) : 0;
    this.pool.release(t);
    if (read || write) this.atc.insert(0, frameVa, 12, pa, (read ? Perm.Read : 0) | (write ? Perm.Write : 0));
    const q = this.q;
    const mask = q.txns.length - 1;
    const frameEnd = frameVa + ATS_STU_BYTES;
    for (let k = 0; k < q.count; k++) {
      const j = (q.head + k) & mask;
      if (q.nums[j] !== WAITING && q.nums[j] !== NEEDS_REQUEST) continue;
      const r = q.txns[j]!;
      if (r.addr < frameVa || r.addr >= frameEnd) continue;
      const allowed = r.cmd === Cmd.Write ? write : read;
      q.nums[j] = allowed ? TRANSLATED : UNTRANSLATED;
      q.aux[j] = allowed ? pa + (r.addr - frameVa) : 0;
    }
    this.pump();
  }
}
