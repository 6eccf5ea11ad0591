import type { InterruptFence } from '../bus/interruptFence';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import { ADDR_LIMIT } from '../engine/addr';
import type { Counter } from '../engine/stats';
import type { Tick } from '../engine/time';
import { BusMaster } from '../bus/busMaster';
import type { RequestPort, ResponseReceiver } from '../bus/port';
import { Cmd, Status, type Transaction, TransactionPool } from '../bus/transaction';
import {
  SG_DESC_BYTES, SGD_CONTROL, SGD_CTRL_IRQ, SGD_CTRL_LAST, SGD_DST, SGD_LEN, SGD_NEXT, SGD_SRC, SGD_STAT_DONE,
  SGD_STAT_ERROR, readU32, readU64, writeU32,
} from './descriptors';
import { defineDeviceKind, deviceFields, BurstBytes, Outstanding } from '../soc/deviceSpec';
import type { AccessMode } from '../engine/accessMode';
import { copyBurstBytes } from '../bus/boundary';


export interface DescDmaParams {
  /** Bytes per data read/write transaction. */
  burstBytes: number;
  /** Data transactions in flight at once, reads and writes together. */
  maxOutstanding: number;
  /** Default 'timing'. */
  mode?: AccessMode;
}

/** Interrupt handler: the descriptor's device address, and whether the chain stopped on an error there. */
export type DescDmaInterrupt = (descriptorAddr: number, error: boolean) => void;

const K_FETCH = 0;
const K_DATA = 1;
const K_WB = 2;
const TWO_30 = 2 ** 30;

/**
 * A descriptor-based DMA copy engine with one channel, like a PL330 or DesignWare AXI
 * DMAC channel in linked-list mode, or what a Linux dmaengine provider drives for
 * `dmaengine_prep_dma_memcpy` / `prep_slave_sg`: the driver builds a chain of 32-byte
 * descriptors in memory (layout in `descriptors.ts`: src, dst, len, control, next) and
 * writes the first one's device address to the channel (`start`). Scatter-gather is a
 * chain with one descriptor per segment. Addresses are device addresses (IOVAs behind an
 * IOMMU).
 *
 * Per descriptor, in order, nothing overlapping the next descriptor:
 *   1. fetch: one 32-byte read at the descriptor's address (`desc_fetch_latency_ns`);
 *   2. copy `len` bytes in bursts of `burstBytes` from the segment's start (shorter where
 *      one would cross a 4 KiB boundary of src or dst: bus/boundary.ts), at most
 *      `maxOutstanding` in flight; each burst is a read of src whose response becomes the
 *      write of the same data to dst (as in `dmaEngine.ts`);
 *   3. write-back: one 4-byte write of the control word with bit 31 (done) or bit 30
 *      (error) set, the driver's bits 0..29 kept;
 *   4. interrupt if control bit 0 is set (or on an error, always); the chain ends after a
 *      descriptor with control bit 1 (last) or next = 0, otherwise the engine fetches
 *      `next`.
 * `busy` is true from `start` until the chain has ended; it is already false when the
 * last descriptor's interrupt runs, so a driver may start the next chain from it.
 * Interrupts are delivered from an engine event at the tick the descriptor completes.
 *
 * Errors are data. A data read or write that completes with an error stops new bursts;
 * those in flight drain; the descriptor's control word gets the error bit and the chain
 * stops there with an error interrupt. A descriptor whose src/dst is not a socsim
 * address (≥ 2^53) fails the same way without a data transaction. A failed descriptor
 * fetch or status write-back also stops the chain with an error interrupt (the status
 * cannot be recorded in memory then). Every failed transaction counts in `errors`.
 *
 * Atomic mode (fast-forward): each descriptor is done at once with `sendAtomic` (fetch,
 * every burst in order — read, then write of the same data —, write-back) when it
 * starts, and one event is scheduled at start + its estimated duration, where it ends
 * (interrupt, next descriptor). Duration = fetch latency + max(ceil(Σ burst round trips /
 * maxOutstanding), the longest round trip) + write-back latency, as in `dmaEngine.ts`;
 * against an uncontended fixed-latency memory this equals timing mode whenever the burst
 * count is at most maxOutstanding or a multiple of it. The first failing burst stops the
 * copy (later bursts are not performed). Events: one per descriptor, so a chain that
 * loops back on itself runs forever in both modes, as it would in hardware.
 *
 * `clock` is the channel's clock domain (the builder's uniform device signature); timing
 * comes from the memory system and is not rounded to its edges. A `start` while busy is
 * ignored and returns false (DW AXI DMAC ignores enabling an enabled channel).
 *
 * Not modelled: peripheral handshakes and flow control, multiple channels and their
 * arbitration, transfer widths and address increment modes, descriptor prefetch.
 *
 * Stats (under `path`): `descriptors` (completed with status done), `bytes_copied`
 * (written to dst successfully), `chains` (ended, any outcome), `errors` and
 * `desc_fetch_latency_ns` (histogram).
 */
export class DescDma implements ResponseReceiver {
  readonly port: RequestPort;
  readonly mode: AccessMode;
  /** Port, in-order sending, the maxOutstanding data bursts (fetches and write-backs take no slot), errors, desc_fetch_latency_ns, bytes_copied. */
  private readonly bus: BusMaster;
  private readonly pool: TransactionPool;
  private readonly burstBytes: number;
  private irqCb: DescDmaInterrupt | null = null;
  private fence: InterruptFence | null = null;

  private active = false;
  /** The current descriptor: address and fields. */
  private desc = 0;
  private src = 0;
  private dst = 0;
  private len = 0;
  private control = 0;
  private next = 0;
  private off = 0;
  private failed = false;
  private fetchIssued: Tick = 0;
  /** Atomic mode: how the descriptor being timed ended (see finishDescriptor). */
  private atomicOutcome = 0;

  private readonly sDescriptors: Counter;
  private readonly sChains: Counter;

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    /** The channel's clock domain (uniform device signature); see the class comment. */
    readonly clock: ClockDomain,
    readonly masterId: number,
    readonly params: DescDmaParams,
  ) {
    this.mode = params.mode ?? 'timing';
    this.burstBytes = params.burstBytes;
    this.pool = new TransactionPool(Math.max(params.burstBytes, SG_DESC_BYTES));
    const s = ctx.stats.scope(path);
    this.bus = new BusMaster(path, this, params.maxOutstanding, s, {
      errors: { desc: 'transactions that completed with an error, or unusable descriptor addresses' },
      latency: { name: 'desc_fetch_latency_ns', desc: 'issue to response of each descriptor fetch, ns' },
      bytesWritten: { name: 'bytes_copied', desc: 'bytes written to destinations successfully' },
    });
    this.port = this.bus.port;
    this.sDescriptors = s.counter('descriptors', 'descriptors completed with status done');
    this.sChains = s.counter('chains', 'descriptor chains ended (any outcome)');
  }

  /** Registers the interrupt handler (replacing any earlier one). */
  onInterrupt(cb: DescDmaInterrupt): void {
    this.irqCb = cb;
  }

  /** Behind PCIe: interrupts (MSIs) arrive after the engine's earlier posted writes (the builder sets the link). */
  setInterruptFence(fence: InterruptFence): void {
    this.fence = fence;
  }

  /** True from start() until the chain has ended. */
  get busy(): boolean {
    return this.active;
  }

  /**
   * Starts the chain whose first descriptor is at device address `firstDescriptorAddr`.
   * Returns false (and does nothing) while a chain is running.
   */
  start(firstDescriptorAddr: number): boolean {
    if (!Number.isSafeInteger(firstDescriptorAddr) || firstDescriptorAddr < 0) {
      throw new SimInvariantError(`${this.path}: start: descriptor address must be a non-negative integer, got ${firstDescriptorAddr}`);
    }
    if (this.active) return false;
    this.active = true;
    this.beginDescriptor(firstDescriptorAddr);
    return true;
  }

  private beginDescriptor(addr: number): void {
    this.desc = addr;
    if (this.mode === 'atomic') this.runAtomic();
    else this.fetch();
  }

  /** Parses the fetched descriptor; false if its addresses are unusable. */
  private parse(d: Uint8Array): boolean {
    this.src = readU64(d, SGD_SRC);
    this.dst = readU64(d, SGD_DST);
    this.len = readU32(d, SGD_LEN);
    this.control = readU32(d, SGD_CONTROL);
    this.next = readU64(d, SGD_NEXT);
    this.off = 0;
    this.failed = false;
    return this.src >= 0 && this.dst >= 0 && this.src + this.len <= ADDR_LIMIT && this.dst + this.len <= ADDR_LIMIT;
  }

  /** The control word to write back: the driver's bits 0..29 and done or error. */
  private statusWord(): number {
    return (this.control % TWO_30) + (this.failed ? SGD_STAT_ERROR : SGD_STAT_DONE);
  }

  // ---- timing mode ----

  private fetch(): void {
    const now = this.ctx.engine.now;
    this.fetchIssued = now;
    const t = this.pool.alloc(Cmd.Read, this.desc, SG_DESC_BYTES, this.masterId, now);
    t.tag = K_FETCH;
    this.bus.send(t);
  }

  private fetched(t: Transaction): void {
    this.bus.sLatency.sample((this.ctx.engine.now - this.fetchIssued) / 1000);
    if (t.status !== Status.Ok) {
      this.bus.sErrors.inc();
      this.endChainOnError();
      return;
    }
    if (!this.parse(t.data)) {
      this.bus.sErrors.inc();
      this.failed = true;
      this.writeBack();
    } else if (this.len === 0) {
      this.writeBack();
    } else {
      this.issueReads();
    }
  }

  private issueReads(): void {
    const now = this.ctx.engine.now;
    const bus = this.bus;
    while (bus.inFlight < bus.maxOutstanding && this.off < this.len && !this.failed) {
      const size = copyBurstBytes(this.src + this.off, this.dst + this.off, this.burstBytes, this.len - this.off);
      const t = this.pool.alloc(Cmd.Read, this.src + this.off, size, this.masterId, now);
      t.tag = this.off * 4 + K_DATA;
      this.off += size;
      bus.issue(t);
    }
  }

  private dataDone(t: Transaction): void {
    if (t.status !== Status.Ok) {
      this.bus.sErrors.inc();
      this.failed = true;
    } else if (t.cmd === Cmd.Read) {
      if (!this.failed) {
        // Reuse the transaction (and its data) as the write of the same burst.
        t.cmd = Cmd.Write;
        t.addr = this.dst + Math.floor(t.tag / 4);
        t.status = Status.Pending;
        t.issueTick = this.ctx.engine.now;
        t.resetRoute();
        this.bus.send(t);
        return;
      }
    } else {
      this.bus.sBytesWritten!.inc(t.size);
    }
    this.bus.done();
    this.pool.release(t);
    if (this.bus.inFlight === 0 && (this.failed || this.off >= this.len)) this.writeBack();
    else this.issueReads();
  }

  private writeBack(): void {
    const t = this.pool.alloc(Cmd.Write, this.desc + SGD_CONTROL, 4, this.masterId, this.ctx.engine.now);
    writeU32(t.data, 0, this.statusWord());
    t.tag = K_WB;
    this.bus.send(t);
  }

  private writtenBack(t: Transaction): void {
    if (t.status !== Status.Ok) {
      this.bus.sErrors.inc();
      this.endChainOnError();
      return;
    }
    this.finishDescriptor();
  }

  recvRetry(): void {
    this.bus.retry();
  }

  recvResponse(t: Transaction): void {
    const kind = t.tag % 4;
    if (kind === K_DATA) {
      this.dataDone(t);
      return;
    }
    if (kind === K_FETCH) this.fetched(t);
    else if (kind === K_WB) this.writtenBack(t);
    else throw new SimInvariantError(`${this.path}: response with unknown tag ${t.tag}`);
    this.pool.release(t);
  }

  // ---- both modes ----

  /** The descriptor's status is in memory: count, interrupt, and go on or end the chain. */
  private finishDescriptor(): void {
    if (this.failed) {
      this.endChainOnError();
      return;
    }
    this.sDescriptors.inc();
    const last = (this.control & SGD_CTRL_LAST) !== 0 || this.next === 0;
    if (last) this.active = false;
    if (this.control & SGD_CTRL_IRQ) this.raise(this.desc);
    if (last) this.sChains.inc();
    else this.beginDescriptor(this.next);
  }

  /** The chain stops on an error at the current descriptor; always interrupts. */
  private endChainOnError(): void {
    this.active = false;
    this.sChains.inc();
    this.raise(-1 - this.desc);
  }

  /** Delivers from an event: now, or behind the posted writes before it (an MSI behind PCIe). */
  private raise(code: number): void {
    if (this.fence) this.fence.afterPostedWrites(this.deliver, code);
    else this.ctx.engine.schedule(this.ctx.engine.now, this.deliver, code);
  }

  /** Event: `code` is the descriptor's address, or −1 − address for an error. */
  private readonly deliver = (code: number): void => {
    if (!this.irqCb) return;
    if (code < 0) this.irqCb(-1 - code, true);
    else this.irqCb(code, false);
  };

  // ---- atomic mode ----

  /** Does the current descriptor's whole work now; its end is an event at the estimated end tick. */
  private runAtomic(): void {
    const now = this.ctx.engine.now;
    const t = this.pool.alloc(Cmd.Read, this.desc, SG_DESC_BYTES, this.masterId, now);
    let duration = this.port.sendAtomic(t);
    this.bus.sLatency.sample(duration / 1000);
    if (t.status !== Status.Ok) {
      this.pool.release(t);
      this.bus.sErrors.inc();
      this.atomicOutcome = OUTCOME_CHAIN_ERROR;
      this.ctx.engine.schedule(now + duration, this.onAtomicEnd);
      return;
    }
    const usable = this.parse(t.data);
    this.pool.release(t);
    if (!usable) {
      this.bus.sErrors.inc();
      this.failed = true;
    } else if (this.len > 0) {
      duration += this.copyAtomic(now);
    }
    const w = this.pool.alloc(Cmd.Write, this.desc + SGD_CONTROL, 4, this.masterId, now);
    writeU32(w.data, 0, this.statusWord());
    duration += this.port.sendAtomic(w);
    if (w.status !== Status.Ok) {
      this.bus.sErrors.inc();
      this.atomicOutcome = OUTCOME_CHAIN_ERROR;
    } else {
      this.atomicOutcome = OUTCOME_WRITTEN_BACK;
    }
    this.pool.release(w);
    this.ctx.engine.schedule(now + duration, this.onAtomicEnd);
  }

  /** Copies the segment with atomic accesses; returns the estimated copy time. */
  private copyAtomic(now: Tick): Tick {
    let sum = 0;
    let longest = 0;
    while (this.off < this.len && !this.failed) {
      const off = this.off;
      const size = copyBurstBytes(this.src + off, this.dst + off, this.burstBytes, this.len - off);
      this.off = off + size;
      const t = this.pool.alloc(Cmd.Read, this.src + off, size, this.masterId, now);
      let trip = this.port.sendAtomic(t);
      if (t.status !== Status.Ok) {
        this.bus.sErrors.inc();
        this.failed = true;
      } else {
        t.cmd = Cmd.Write;
        t.addr = this.dst + off;
        t.status = Status.Pending;
        t.resetRoute();
        trip += this.port.sendAtomic(t);
        // (A cast: the compiler keeps the Pending set above, not knowing the slave sets it.)
        if ((t.status as Status) !== Status.Ok) {
          this.bus.sErrors.inc();
          this.failed = true;
        } else {
          this.bus.sBytesWritten!.inc(size);
        }
      }
      this.pool.release(t);
      sum += trip;
      if (trip > longest) longest = trip;
    }
    const overlapped = Math.ceil(sum / this.bus.maxOutstanding);
    return overlapped > longest ? overlapped : longest;
  }

  private readonly onAtomicEnd = (): void => {
    if (this.atomicOutcome === OUTCOME_CHAIN_ERROR) this.endChainOnError();
    else this.finishDescriptor();
  };
}

/** Atomic mode: the descriptor's status was written back (done or error). */
const OUTCOME_WRITTEN_BACK = 1;
/** Atomic mode: the fetch or the write-back failed; the chain stops with an error. */
const OUTCOME_CHAIN_ERROR = 2;

/** Device kind `descdma`: a scatter-gather engine driven by descriptors (scenario job `sg-copy`). */
export const descDmaDeviceKind = defineDeviceKind({
  spec: deviceFields('descdma', {
    burstBytes: BurstBytes.describe('bytes per data transaction'),
    maxOutstanding: Outstanding.describe('data transactions in flight (reads + writes)'),
  }),
  describe: 'a DMA engine driven by linked descriptors (scatter-gather) in memory',
  rules: (d) => (d.burstBytes > 0 ? [] : [['burstBytes', 'must be positive']]),
  build: (env, d) => new DescDma(env.ctx, env.path, env.clock, env.masterId, { burstBytes: d.burstBytes, maxOutstanding: d.maxOutstanding, mode: env.mode }),
});
