import { ResponsePort, type RequestReceiver } from '../../sim/bus/port';
import type { Transaction } from '../../sim/bus/transaction';

/** A slave that accepts requests only while `open` and records what it got, in order. */
export class GateSlave implements RequestReceiver {
  readonly port = new ResponsePort('s.port', this);
  got: Transaction[] = [];

  constructor(public open: boolean) {}

  recvRequest(t: Transaction, port: ResponsePort): boolean {
    if (port !== this.port) throw new Error('GateSlave: request arrived on another port');
    if (!this.open) return false;
    this.got.push(t);
    return true;
  }
  recvAtomic(): number {
    return 0;
  }
  recvFunctional(): void {}

  /** Opens and tells the master it may re-send. */
  reopen(): void {
    this.open = true;
    this.port.sendRetry();
  }
}
