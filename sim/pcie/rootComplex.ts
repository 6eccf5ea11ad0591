import { z } from 'zod';
import type { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { count, Cycles, Name } from '../engine/spec';
import { SimInvariantError } from '../engine/errors';
import { Bridge } from '../bus/bridge';

/**
 * A PCIe root complex's parameters. Its root ports take the requests that PCIe links
 * deliver and, `latencyCycles` later, hand them to the translation path of the device
 * (the IOMMU the root complex holds, as Intel VT-d remapping units and server SMMUs sit
 * in the root complex, or a direct route) and from there to the on-chip bus; responses
 * cross the root port again on their way back.
 */
export const RootComplexParamsSpec = z.strictObject({
  latencyCycles: Cycles.describe('cycles a request spends crossing the root complex, and again its response'),
  queueDepth: count().default(64).describe('requests a root port holds before refusing its link (the link then keeps them, holding their flow-control credits)'),
  iommu: Name.optional().describe('the IOMMU this root complex holds: every device behind it that is translated must use it'),
});

export type RootComplexParams = z.output<typeof RootComplexParamsSpec>;

/**
 * A root complex: one root port per link, each a store-and-forward pipe of
 * `latencyCycles` each way (a `Bridge`), so stats are per port:
 * `soc.<rc>.<device>.{transactions,bytes,refused,latency_ns}`.
 */
export class RootComplex {
  private readonly ports = new Map<string, Bridge>();

  constructor(
    private readonly ctx: SimContext,
    readonly path: string,
    readonly clock: ClockDomain,
    readonly params: RootComplexParams,
  ) {}

  /** The root port of `device`'s link: connect the link to its cpuSidePort, its memSidePort to the translation path. */
  addRootPort(device: string): Bridge {
    if (this.ports.has(device)) throw new SimInvariantError(`${this.path}: a second root port for ${device}`);
    const port = new Bridge(this.ctx, `${this.path}.${device}`, this.clock, { latencyCycles: this.params.latencyCycles, queueDepth: this.params.queueDepth });
    this.ports.set(device, port);
    return port;
  }

  rootPort(device: string): Bridge {
    const p = this.ports.get(device);
    if (!p) throw new SimInvariantError(`${this.path}: no root port for ${device}`);
    return p;
  }
}
