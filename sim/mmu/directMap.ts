import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import type { Counter } from '../engine/stats';
import type { Tick } from '../engine/time';
import { RequestPort, ResponsePort, type RequestReceiver, type ResponseReceiver } from '../bus/port';
import { Status, type Transaction } from '../bus/transaction';
import type { AddrRange } from '../bus/addrRange';

export interface DirectMapParams {
  /** Address bits the device can drive (its DMA mask is 2^bits − 1); 64 means no limit. */
  dmaMaskBits: number;
  /** Bus window the device can reach; null means the whole address space. */
  window: AddrRange | null;
}

/**
 * A direct-mapped (one-to-one) device's path to the bus: no translation, but the
 * device cannot drive address bits above its DMA mask nor reach outside its bus window.
 * Such an access completes with `AccessError`, is counted, and never reaches the bus.
 * It costs no time: the check is wiring, not logic.
 */
export class DirectMap implements RequestReceiver, ResponseReceiver {
  /** Connect the device's RequestPort here. */
  readonly cpuSidePort: ResponsePort;
  /** Connect this to the bus. */
  readonly memSidePort: RequestPort;
  private readonly limit: number;
  private readonly sMaskErrors: Counter;
  private readonly sWindowErrors: Counter;
  private readonly onReject = (t: Transaction) => this.cpuSidePort.sendResponse(t);

  constructor(private readonly ctx: SimContext, readonly path: string, readonly params: DirectMapParams) {
    if (!Number.isInteger(params.dmaMaskBits) || params.dmaMaskBits < 1 || params.dmaMaskBits > 64) {
      throw new SimInvariantError(`${path}: dmaMaskBits must be 1..64, got ${params.dmaMaskBits}`);
    }
    this.limit = params.dmaMaskBits >= 53 ? Infinity : 2 ** params.dmaMaskBits;
    this.cpuSidePort = new ResponsePort(`${path}.device`, this);
    this.memSidePort = new RequestPort(`${path}.bus`, this);
    const s = ctx.stats.scope(path);
    this.sMaskErrors = s.counter('dma_mask_errors', 'accesses above the DMA mask (AccessError)');
    this.sWindowErrors = s.counter('window_errors', 'accesses outside the bus window (AccessError)');
  }

  /** 0 when the device can reach the access, 1 above its DMA mask, 2 outside its window. */
  private outOfReach(t: Transaction): number {
    if (t.addr + t.size > this.limit) return 1;
    const w = this.params.window;
    return w === null || (t.addr >= w.base && t.addr + t.size <= w.base + w.size) ? 0 : 2;
  }

  /** Timing and atomic check: counts, and sets AccessError when out of reach. */
  private reachable(t: Transaction): boolean {
    const why = this.outOfReach(t);
    if (why === 0) return true;
    (why === 1 ? this.sMaskErrors : this.sWindowErrors).value++;
    t.status = Status.AccessError;
    return false;
  }

  recvRequest(t: Transaction): boolean {
    if (this.reachable(t)) return this.memSidePort.sendRequest(t);
    this.ctx.engine.schedule(this.ctx.engine.now, this.onReject, t);
    return true;
  }

  recvAtomic(t: Transaction): Tick {
    return this.reachable(t) ? this.memSidePort.sendAtomic(t) : 0;
  }

  recvFunctional(t: Transaction): void {
    if (this.outOfReach(t) !== 0) {
      t.status = Status.AccessError;
      return;
    }
    this.memSidePort.sendFunctional(t);
  }

  recvResponse(t: Transaction): void {
    this.cpuSidePort.sendResponse(t);
  }

  recvRetry(): void {
    this.cpuSidePort.sendRetry();
  }
}
