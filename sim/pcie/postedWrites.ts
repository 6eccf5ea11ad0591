import type { Engine } from '../engine/engine';
import { SimInvariantError } from '../engine/errors';
import type { Counter } from '../engine/stats';
import { Cmd, Status, TransactionPool, type Transaction } from '../bus/transaction';
import { TlpRing } from './tlpRing';

/**
 * A PCIe link's posted writes past the root port (PCIe 5.0 §2.4): the upstream copies of
 * the device's memory writes, in sending order, until they have reached memory. The link
 * (link.ts) sends the copies and holds reads and interrupts on what this tracks:
 * - a write retires when it and every write before it are done (memory may finish them
 *   out of order; PCIe ordering says the device's writes land in order);
 * - `overlaps`: whether a read would pass an unretired write to the same bytes;
 * - `afterRetired`: an interrupt (an MSI is a posted write) runs once the writes the
 *   device issued before it have all retired.
 * A write that fails past the root port (an IOMMU fault, an unsupported request) cannot
 * reach the device, as in PCIe: it counts in `errors`.
 */
export class PostedWrites {
  /** The copies in sending order; ticks = device address, nums = size. */
  private readonly ring = new TlpRing(64);
  private readonly pool = new TransactionPool(256);
  /** Writes accepted from the device, and retired. */
  private accepted = 0;
  private retired = 0;
  /** Interrupts waiting: run fns[k](args[k]) once retired >= seqs[k]. */
  private readonly fns: Array<(arg: number) => void> = [];
  private readonly args: number[] = [];
  private readonly seqs: number[] = [];
  private head = 0;

  constructor(
    private readonly engine: Engine,
    private readonly path: string,
    /** The owner stamped on every copy: a response carrying another is not one of ours. */
    private readonly owner: object,
    private readonly errors: Counter,
  ) {}

  /** A device write was accepted (it will be sent as a posted write). */
  accept(): void {
    this.accepted++;
  }

  /** Whether every accepted write has retired. */
  get idle(): boolean {
    return this.retired >= this.accepted;
  }

  /** The upstream copy of device write `txn`: pooled, stamped with the owner, remembered in order. */
  copy(txn: Transaction): Transaction {
    const c = this.pool.alloc(Cmd.Write, txn.addr, txn.size, txn.masterId, txn.issueTick);
    const src = txn.data;
    const dst = c.data;
    for (let i = 0; i < txn.size; i++) dst[i] = src[i];
    c.context = this.owner;
    c.at = txn.at;
    this.ring.push(c, txn.addr, txn.size);
    return c;
  }

  /** Copy `c` reached memory (or failed there): retire it and every done write before it, then run the interrupts due. */
  done(c: Transaction): void {
    if (c.context !== this.owner || c.tag !== 0) {
      throw new SimInvariantError(`${this.path}: a write response that is not one of the link's posted writes in flight (double response, or a device transaction that went upstream)`);
    }
    c.tag = 1;
    if (c.status !== Status.Ok) this.errors.value++;
    const p = this.ring;
    while (p.count > 0 && p.txns[p.head]!.tag === 1) {
      this.pool.release(p.txns[p.head]!);
      p.shift();
      this.retired++;
    }
    while (this.head < this.seqs.length && this.seqs[this.head] <= this.retired) {
      this.engine.schedule(this.engine.now, this.fns[this.head], this.args[this.head]);
      this.head++;
    }
    if (this.head === this.seqs.length && this.head > 0) {
      this.head = 0;
      this.fns.length = 0;
      this.args.length = 0;
      this.seqs.length = 0;
    }
  }

  /** True if an unretired write overlaps [addr, addr + size). */
  overlaps(addr: number, size: number): boolean {
    const p = this.ring;
    if (p.count === 0) return false;
    const mask = p.txns.length - 1;
    for (let k = 0; k < p.count; k++) {
      const j = (p.head + k) & mask;
      if (p.txns[j]!.tag === 0 && p.ticks[j] < addr + size && addr < p.ticks[j] + p.nums[j]) return true;
    }
    return false;
  }

  /** Runs `fn(arg)` once every write accepted so far has retired (the caller handles `idle`). */
  afterRetired(fn: (arg: number) => void, arg: number): void {
    this.fns.push(fn);
    this.args.push(arg);
    this.seqs.push(this.accepted);
  }
}
