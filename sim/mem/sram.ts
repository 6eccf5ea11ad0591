import { PendingQueue } from './pendingQueue';
import type { SimContext } from '../engine/context';
import type { ClockDomain } from '../engine/clock';
import { SimInvariantError } from '../engine/errors';
import { z } from 'zod';
import { hex } from '../engine/addr';
import { count, Cycles, resolveParams } from '../engine/spec';
import type { Histogram } from '../engine/stats';
import { PS_PER_NS, type Tick } from '../engine/time';
import { ResponsePort, type RequestReceiver } from '../bus/port';
import { Status, type Transaction } from '../bus/transaction';
import type { AddrRange } from '../bus/addrRange';
import type { PhysicalMemory } from './physmem';
import { applyFunctional, MemoryAccessStats } from './memoryPort';


/** The SRAM/MMIO model's parameters (a `memories[]` entry of kind `sram`/`mmio` adds name, region, bus and clock). */
export const SramSpec = z.strictObject({
  latencyCycles: Cycles.describe('access latency in cycles of the memory\'s clock, before the data transfer'),
  bytesPerCycle: count(2 ** 30, '2^30').describe('bytes transferred per cycle on the data port (its throughput)'),
  queueDepth: count().default(8).describe('requests accepted and not yet responded to before back-pressure (at most 2^20)'),
});

/** What the model takes (defaults may be left out). */
export type SramParamsInput = z.input<typeof SramSpec>;
export type SramParams = z.output<typeof SramSpec>;

/**
 * A fixed-latency memory slave for SRAM and MMIO register regions.
 *
 * Timing (all in cycles of `clock`, responses on clock edges):
 * - A request accepted at tick `now` starts at the first edge at or after `now`
 *   (cycle `s`). Its access takes `latencyCycles` (pipelined: accesses overlap), then
 *   its data occupies the single data port for `ceil(size / bytesPerCycle)` cycles
 *   (transfers serialise, in arrival order). So
 *   `done = max(s + latencyCycles, portFree) + ceil(size / bytesPerCycle)` and the
 *   response is sent at the edge `done`. An idle request therefore takes exactly
 *   `latencyCycles + ceil(size / bytesPerCycle)` cycles; a stream is bounded by
 *   `bytesPerCycle` bytes per cycle. Responses leave in arrival order.
 * - Back-pressure: at most `queueDepth` requests accepted and not yet responded to;
 *   beyond that `recvRequest` returns false (counted in `refused`) and the port sends
 *   one retry after the next response.
 * - Data effect is applied when the request is accepted, in arrival order: a write
 *   copies `txn.data[0..size)` into memory at `txn.addr`; a read fills
 *   `txn.data[0..size)` from memory. The response only carries timing, so every
 *   master sees memory in the order the slave accepted requests.
 * - A request not wholly inside `region` completes with `Status.DecodeError` after
 *   `latencyCycles` (no transfer), memory untouched; it is counted in
 *   `decode_errors`, takes no queue slot and is not in `latency_ns`.
 *
 * Atomic access (`recvAtomic`, see port.ts): the same range check, status, data effect
 * and counters as an accepted timing request, done at once; the result is the idle
 * latency `latencyCycles + ceil(size / bytesPerCycle)` cycles (a decode error:
 * `latencyCycles`), counted from an edge of `clock` (arrival is assumed to be on an
 * edge, as it is behind a crossbar of the same clock) and sampled in `latency_ns`. No
 * queue slot, no back-pressure (never refused), no event, and the data port's
 * reservation is left alone, so atomic accesses see no contention and leave none behind.
 *
 * Functional access (`recvFunctional`): the range check and data effect only, zero
 * time; counts nothing (not even `decode_errors`), touches no timing state.
 *
 * Stats under `path`: `reads`, `writes`, `bytes_read`, `bytes_written`, `refused`,
 * `decode_errors`, histogram `latency_ns` (accept → response, 1 ns buckets × 200).
 */
export class SimpleMemory implements RequestReceiver {
  readonly port: ResponsePort;
  private declare readonly params: SramParams;

  private readonly queue: PendingQueue;
  private readonly errors = new PendingQueue(4);
  /** Cycle at which the data port is next free. */
  private portFreeCycle = 0;
  /**
   * The clock period when it is a whole number of ps (edge n is then exactly n·p), else 0.
   * `declare`d: set in the constructor only, so V8 keeps it untagged (see tlb.ts).
   */

  private readonly access: MemoryAccessStats;
  private readonly sLatency: Histogram;

  private readonly onComplete = (): void => this.complete();
  private readonly onError = (): void => this.completeError();

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    private readonly clock: ClockDomain,
    readonly region: AddrRange,
    private readonly mem: PhysicalMemory,
    paramsIn: SramParamsInput,
  ) {
    const params = resolveParams(SramSpec, paramsIn, path);
    this.params = params;
    if (!(region.size > 0) || !(region.base >= 0)) {
      throw new SimInvariantError(`${path}: bad region [${hex(region.base)}, +${region.size})`);
    }
    this.port = new ResponsePort(`${path}.port`, this);
    this.queue = new PendingQueue(params.queueDepth);
    const s = ctx.stats.scope(path);
    this.access = new MemoryAccessStats(s, 'queue full');
    this.sLatency = s.histogram('latency_ns', 'accept-to-response latency (ns)');
  }

  recvRequest(txn: Transaction, _port: ResponsePort): boolean {
    const now = this.ctx.engine.now;
    const clock = this.clock;
    const start = clock.ceilCycle(now);
    const addr = txn.addr, size = txn.size;
    const region = this.region;

    if (!(addr >= region.base && addr + size <= region.base + region.size)) {
      this.access.decodeErrors.value++;
      const done = clock.cycleToTick(start + this.params.latencyCycles);
      this.errors.push(txn, now, done);
      this.ctx.engine.schedule(done, this.onError);
      return true;
    }
    if (this.queue.count >= this.params.queueDepth) {
      this.access.refused.value++;
      return false;
    }
    this.access.applyDataEffect(this.path, txn, this.mem);
    let begin = start + this.params.latencyCycles;
    if (begin < this.portFreeCycle) begin = this.portFreeCycle;
    const doneCycle = begin + Math.ceil(size / this.params.bytesPerCycle);
    this.portFreeCycle = doneCycle;
    const done = clock.cycleToTick(doneCycle);
    this.queue.push(txn, now, done);
    this.ctx.engine.schedule(done, this.onComplete);
    return true;
  }

  recvAtomic(txn: Transaction, _port: ResponsePort): Tick {
    const p = this.params;
    if (!this.inRegion(txn)) {
      this.access.decodeErrors.value++;
      txn.status = Status.DecodeError;
      return this.clock.cycleToTick(p.latencyCycles);
    }
    this.access.applyDataEffect(this.path, txn, this.mem);
    txn.status = Status.Ok;
    const lat = this.clock.cycleToTick(p.latencyCycles + Math.ceil(txn.size / p.bytesPerCycle));
    this.sLatency.sample(lat / PS_PER_NS);
    return lat;
  }

  recvFunctional(txn: Transaction, _port: ResponsePort): void {
    if (!this.inRegion(txn)) {
      txn.status = Status.DecodeError;
      return;
    }
    applyFunctional(this.path, txn, this.mem);
  }

  private inRegion(txn: Transaction): boolean {
    const region = this.region;
    return txn.addr >= region.base && txn.addr + txn.size <= region.base + region.size;
  }

  private complete(): void {
    const txn = this.queue.completeHead(this.ctx.engine.now, this.sLatency, this.path);
    this.port.sendResponse(txn);
    this.port.sendRetry();
  }

  private completeError(): void {
    const txn = this.errors.shift();
    txn.status = Status.DecodeError;
    this.port.sendResponse(txn);
  }
}
