import { ClockDomain } from '../../sim/engine/clock';
import { createSimContext, type SimContext } from '../../sim/engine/context';
import type { Tick } from '../../sim/engine/time';
import { connectPorts, RequestPort, ResponsePort, type RequestReceiver, type ResponseReceiver } from '../../sim/bus/port';
import { Status, type Transaction } from '../../sim/bus/transaction';
import type { PhysicalMemory } from '../../sim/mem/physmem';
import { FixedSlave } from './fixedSlave';

/**
 * A test decoder in front of one slave: accesses that lie wholly in [0, limit) go to the
 * slave (refusals and retries pass through); any other access completes with
 * `Status.DecodeError` `latency` ticks after it was accepted, touching no memory, like a
 * crossbar with nothing mapped there. Counts the misses in `decodeErrors`.
 */
export class DecodeWindow implements RequestReceiver, ResponseReceiver {
  /** Connect the master's RequestPort here. */
  readonly port: ResponsePort;
  private readonly down: RequestPort;
  private readonly misses: Transaction[] = [];
  decodeErrors = 0;

  constructor(
    private readonly ctx: SimContext,
    name: string,
    private readonly limit: number,
    private readonly latency: Tick,
    slave: ResponsePort,
  ) {
    this.port = new ResponsePort(`${name}.up`, this);
    this.down = new RequestPort(`${name}.down`, this);
    connectPorts(this.down, slave);
  }

  private inside(t: Transaction): boolean {
    return t.addr >= 0 && t.addr + t.size <= this.limit;
  }

  recvRequest(t: Transaction): boolean {
    if (this.inside(t)) return this.down.sendRequest(t);
    this.decodeErrors++;
    t.status = Status.DecodeError;
    this.misses.push(t);
    this.ctx.engine.scheduleIn(this.latency, this.answerMiss);
    return true;
  }

  private readonly answerMiss = (): void => {
    this.port.sendResponse(this.misses.shift()!);
  };

  recvAtomic(t: Transaction): Tick {
    if (this.inside(t)) return this.down.sendAtomic(t);
    this.decodeErrors++;
    t.status = Status.DecodeError;
    return this.latency;
  }

  recvFunctional(t: Transaction): void {
    if (this.inside(t)) this.down.sendFunctional(t);
    else t.status = Status.DecodeError;
  }

  recvResponse(t: Transaction): void {
    this.port.sendResponse(t);
  }

  recvRetry(): void {
    this.port.sendRetry();
  }
}

/** What a descriptor-driven device under test needs: a request port to connect. */
export interface NicRigDevice {
  readonly port: RequestPort;
}

export interface NicRig<D extends NicRigDevice> {
  ctx: SimContext;
  clock: ClockDomain;
  slave: FixedSlave;
  window: DecodeWindow;
  mem: PhysicalMemory;
  dev: D;
}

/**
 * A device wired to a fixed-latency memory (FixedSlave, `latency` ticks per access, no
 * queue limit unless given) through a DecodeWindow that maps [0, memLimit). The device
 * is built by `make(ctx, clock)` on a 1 GHz clock.
 */
export function makeNicRig<D extends NicRigDevice>(
  opts: { latency: Tick; memLimit?: number; queueLimit?: number; seed?: number },
  make: (ctx: SimContext, clock: ClockDomain) => D,
): NicRig<D> {
  const ctx = createSimContext(opts.seed ?? 1);
  const clock = new ClockDomain('sys', 1e9);
  const slave = new FixedSlave(ctx, 'mem', { latency: opts.latency, queueLimit: opts.queueLimit });
  const window = new DecodeWindow(ctx, 'decoder', opts.memLimit ?? 2 ** 40, opts.latency, slave.port);
  const dev = make(ctx, clock);
  connectPorts(dev.port, window.port);
  return { ctx, clock, slave, window, mem: slave.mem, dev };
}
