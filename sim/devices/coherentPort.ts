import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import type { Counter } from '../engine/stats';
import type { Tick } from '../engine/time';
import { RequestPort, ResponsePort, type RequestReceiver, type ResponseReceiver } from '../bus/port';
import { Cmd, Status, type Transaction } from '../bus/transaction';
import type { CpuCache } from './cpuCache';

export interface CoherentPortParams {
  /** Cycles of `clock` added to every snooped access (on its response). */
  snoopLatencyCycles: number;
  /**
   * The IO-coherent masters and their snoop latency in cycles (masterId → cycles), for a
   * port shared by several devices (behind one IOMMU); traffic of other masters passes
   * through untouched. Absent or null: every master is coherent, with snoopLatencyCycles.
   */
  masters?: ReadonlyMap<number, number> | null;
}

/**
 * The IO-coherent path of a device to memory: a port adapter that snoops the CPU data
 * cache for every access of a coherent master, so the device never sees stale bytes
 * and the CPU never keeps stale lines, with no cache maintenance by software.
 *
 *   device ─▶ (DirectMap | IOMMU) ─▶ cpuSidePort [CoherentPort] memSidePort ─▶ bus
 *
 * It must see physical addresses: it sits after translation (between a DirectMap or an
 * IOMMU and the bus; behind an IOMMU one port serves all its devices and `masters`
 * selects the coherent ones). The IOMMU's page-table walks do not pass through it.
 *
 * Timing path (the port protocol's back-pressure passes straight through):
 * - read: `cache.holdRange` before forwarding (no CPU miss may evict a dirty line of
 *   those sets while the read is in flight, and write-backs in flight for the range reach
 *   memory first); when the response arrives, the cache's dirty bytes are laid over the
 *   data (`snoopRead`) and the hold released.
 * - write: `cache.snoopWrite` before forwarding (dirty lines written back, lines
 *   invalidated, fills and write-backs in flight patched with the device's bytes), and
 *   `cache.holdRange` (no CPU miss re-fetches those lines before the write has reached
 *   memory); released when the response arrives. Memory applies the device's write after
 *   the snoop's write-back, so the device's bytes win.
 * The snoop comes before forwarding because a slave may apply an access as it accepts
 * it. A refused request releases its hold and snoops again when re-sent (a repeated
 * snoopWrite finds the lines already gone); `read_snoops`/`write_snoops` count accepted
 * requests. The response is delivered `snoopLatencyCycles` cycles (edges of `clock`)
 * after it arrives; responses of one master keep their order.
 *
 * Atomic path: a write snoops (snoopWrite) and then goes to memory; a read goes to memory
 * and is then overlaid (snoopRead); the result is the bus's latency + the snoop latency.
 * Functional path: the same data effects with the cache's functional variants (no stats,
 * no state change: a write updates the cached copies instead of invalidating them).
 * Accesses that fail (e.g. DecodeError) take no data from the cache.
 *
 * Stats under `path`: read_snoops, write_snoops.
 */
export class CoherentPort implements RequestReceiver, ResponseReceiver {
  /** Connect the device side (the device, its DirectMap's or its IOMMU's bus port) here. */
  readonly cpuSidePort: ResponsePort;
  /** Connect this to the bus. */
  readonly memSidePort: RequestPort;
  private readonly allCycles: number;
  /** By master id: snoop latency in cycles, -1 when not coherent; null = every master at allCycles. */
  private readonly cyclesByMaster: Float64Array | null;
  private readonly sReadSnoops: Counter;
  private readonly sWriteSnoops: Counter;
  private readonly onDeliver = (t: Transaction) => this.cpuSidePort.sendResponse(t);

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    readonly clock: ClockDomain,
    readonly cache: CpuCache,
    params: CoherentPortParams,
  ) {
    const cycles = (c: number, what: string) => {
      if (!Number.isSafeInteger(c) || c < 0) throw new SimInvariantError(`${path}: ${what} must be a non-negative integer, got ${c}`);
      return c;
    };
    this.allCycles = cycles(params.snoopLatencyCycles, 'snoopLatencyCycles');
    if (params.masters) {
      let max = -1;
      for (const id of params.masters.keys()) {
        if (!Number.isSafeInteger(id) || id < 0) throw new SimInvariantError(`${path}: bad master id ${id}`);
        if (id > max) max = id;
      }
      this.cyclesByMaster = new Float64Array(max + 1).fill(-1);
      for (const [id, c] of params.masters) this.cyclesByMaster[id] = cycles(c, `snoop latency of master ${id}`);
    } else {
      this.cyclesByMaster = null;
    }
    this.cpuSidePort = new ResponsePort(`${path}.device`, this);
    this.memSidePort = new RequestPort(`${path}.bus`, this);
    const s = ctx.stats.scope(path);
    this.sReadSnoops = s.counter('read_snoops', 'coherent reads whose data was checked against the CPU cache');
    this.sWriteSnoops = s.counter('write_snoops', 'coherent writes that invalidated the CPU cache copies');
  }

  /** Snoop latency in cycles for `masterId`, or -1 when that master is not coherent. */
  private snoopCycles(masterId: number): number {
    const by = this.cyclesByMaster;
    if (by === null) return this.allCycles;
    return masterId < by.length ? by[masterId] : -1;
  }

  recvRequest(t: Transaction): boolean {
    if (this.snoopCycles(t.masterId) < 0) return this.memSidePort.sendRequest(t);
    // Snoop before forwarding: a slave may apply the access as it accepts it.
    const write = t.cmd === Cmd.Write;
    if (write) this.cache.snoopWrite(t.addr, t.size, t.data);
    this.cache.holdRange(t.addr, t.size);
    if (!this.memSidePort.sendRequest(t)) {
      this.cache.releaseRange(t.addr, t.size);
      return false;
    }
    if (write) this.sWriteSnoops.value++;
    else this.sReadSnoops.value++;
    return true;
  }

  recvResponse(t: Transaction): void {
    const cycles = this.snoopCycles(t.masterId);
    if (cycles < 0) {
      this.cpuSidePort.sendResponse(t);
      return;
    }
    if (t.cmd === Cmd.Read && t.status === Status.Ok) this.cache.snoopRead(t.addr, t.size, t.data);
    this.cache.releaseRange(t.addr, t.size);
    if (cycles === 0) this.cpuSidePort.sendResponse(t);
    else this.ctx.engine.schedule(this.clock.edgeAfter(this.ctx.engine.now, cycles), this.onDeliver, t);
  }

  recvRetry(): void {
    this.cpuSidePort.sendRetry();
  }

  recvAtomic(t: Transaction): Tick {
    const cycles = this.snoopCycles(t.masterId);
    if (cycles < 0) return this.memSidePort.sendAtomic(t);
    let latency: Tick;
    if (t.cmd === Cmd.Write) {
      this.sWriteSnoops.value++;
      this.cache.snoopWrite(t.addr, t.size, t.data);
      latency = this.memSidePort.sendAtomic(t);
    } else {
      this.sReadSnoops.value++;
      latency = this.memSidePort.sendAtomic(t);
      if (t.status === Status.Ok) this.cache.snoopRead(t.addr, t.size, t.data);
    }
    return latency + this.clock.cyclesToTicks(cycles);
  }

  recvFunctional(t: Transaction): void {
    this.memSidePort.sendFunctional(t);
    if (t.status !== Status.Ok || this.snoopCycles(t.masterId) < 0) return;
    if (t.cmd === Cmd.Write) this.cache.snoopWriteFunctional(t.addr, t.size, t.data);
    else this.cache.snoopReadFunctional(t.addr, t.size, t.data);
  }
}
