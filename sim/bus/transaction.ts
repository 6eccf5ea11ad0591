import { FreeList } from '../engine/freeList';
import type { Tick } from '../engine/time';

/**
 * Entries a transaction's return-path stack holds before it grows: a crossbar hop takes
 * one, an IOMMU two, an ATS port one.
 */
const ROUTE_CAPACITY = 8;

/** Memory command. */
export const Cmd = { Read: 0, Write: 1 } as const;
export type Cmd = (typeof Cmd)[keyof typeof Cmd];

/**
 * Response status. Errors are data (DESIGN.md "Errors"): a transaction that fails
 * completes with one of these, and memory is untouched.
 */
export const Status = {
  Pending: 0,
  Ok: 1,
  /** No slave decodes the address. */
  DecodeError: 2,
  /** A slave refused the access (e.g. beyond a device's DMA mask, write to ROM). */
  AccessError: 3,
  /** An MMU/IOMMU could not translate the address (see its fault queue). */
  TranslationFault: 4,
} as const;
export type Status = (typeof Status)[keyof typeof Status];

/**
 * The Address Type of a PCIe memory request (PCIe Base Spec, Address Translation Services
 * chapter, "Address Translation Services": the AT field of the request header; §10.2.1
 * in rev. 4.0/5.0 numbering). On-chip masters always send Untranslated.
 */
export const At = {
  /** An address the IOMMU translates (AT=00b). */
  Untranslated: 0,
  /** An ATS Translation Request (AT=01b): asks the IOMMU for a translation; no data access. */
  TranslationRequest: 1,
  /** A request the device translated with its ATC (AT=10b): the IOMMU passes it through. */
  Translated: 2,
} as const;
export type At = (typeof At)[keyof typeof At];

export const STATUS_NAMES = ['pending', 'ok', 'decode_error', 'access_error', 'translation_fault'] as const;

/**
 * One memory transaction travelling from a master to a slave and back. Transactions
 * are pooled: masters allocate from a `TransactionPool` and free after the response,
 * so the data path allocates nothing per access.
 */
export class Transaction {
  /** Unique per pool allocation (monotonic), for traces and debugging. */
  id = 0;
  cmd: Cmd = Cmd.Read;
  addr = 0;
  size = 0;
  /** Global id of the originating bus master. */
  masterId = 0;
  /** Payload: write data on the way in, read data on the way back. Capacity >= size. */
  data: Uint8Array;
  status: Status = Status.Pending;
  /** Tick at which the master issued it. */
  issueTick: Tick = 0;
  /** Master-private tag (e.g. burst index) and context object. */
  tag = 0;
  context: unknown = null;
  /** PCIe Address Type (`At`): Untranslated except on the ATS paths (sim/pcie/ats.ts). */
  at: At = At.Untranslated;
  /**
   * Return-path stack (pushRoute / popRoute): each hop pushes what it needs to route the
   * response (a crossbar the input it arrived on; an IOMMU that and the VA) and pops it
   * on the way back. An array of doubles and a depth rather than push and pop
   * (Array.prototype.push was a builtin call per hop); it doubles when a deeper path
   * fills it.
   */
  private routeStack: number[] = routeArray(ROUTE_CAPACITY);
  /** Entries on the return-path stack. */
  routeDepth = 0;
  /**
   * Tick at which it arrived at the current hop (for queueing-delay stats). Each
   * interconnect hop overwrites it on accept and must not rely on it after forwarding;
   * slaves leave it alone.
   */
  hopTick: Tick = 0;
  /** `data` seen as 32-bit words, and the array it was made for (`data` may be replaced). */
  private wordView: Int32Array | null = null;
  private wordViewOf: Uint8Array | null = null;

  constructor(capacity: number) {
    this.data = new Uint8Array(capacity);
  }

  /**
   * `data` as 32-bit words (whole words of it), for memories that copy aligned payloads
   * a word at a time; null when `data` does not start on a 4-byte boundary of its buffer.
   * Made once per payload array, so the data path allocates nothing per access.
   */
  words(): Int32Array | null {
    const data = this.data;
    if (this.wordViewOf !== data) {
      this.wordViewOf = data;
      this.wordView = (data.byteOffset & 3) === 0 ? new Int32Array(data.buffer, data.byteOffset, data.length >> 2) : null;
    }
    return this.wordView;
  }

  /** Pushes a return-path entry (an input index or an address). */
  pushRoute(v: number): void {
    if (this.routeDepth === this.routeStack.length) this.growRoute();
    this.routeStack[this.routeDepth++] = v;
  }

  /** Removes and returns the top return-path entry; -1 when the stack is empty. */
  popRoute(): number {
    return this.routeDepth === 0 ? -1 : this.routeStack[--this.routeDepth];
  }

  /** The entry `k` places below the top (0: the top), left on the stack; -1 when there is none. */
  peekRoute(k: number): number {
    const j = this.routeDepth - 1 - k;
    return j >= 0 ? this.routeStack[j] : -1;
  }

  /** The return-path entries, bottom first (a copy, for error messages and checks). */
  routeEntries(): number[] {
    return this.routeStack.slice(0, this.routeDepth);
  }

  private growRoute(): void {
    const bigger = routeArray(this.routeStack.length * 2);
    for (let k = 0; k < this.routeDepth; k++) bigger[k] = this.routeStack[k];
    this.routeStack = bigger;
  }

  /** Empties the return-path stack. */
  resetRoute(): void {
    this.routeDepth = 0;
  }

  get isRead(): boolean {
    return this.cmd === Cmd.Read;
  }

  /** Bytes that travel with the request (writes) or with the response (reads). */
  get payloadBytes(): number {
    return this.size;
  }
}

/** Free list of transactions with a payload capacity that grows on demand. */
export class TransactionPool {
  private readonly free = new FreeList<Transaction>();
  private nextId = 1;
  outstanding = 0;

  constructor(private readonly capacity = 256) {}

  alloc(cmd: Cmd, addr: number, size: number, masterId: number, now: Tick): Transaction {
    const t = this.free.take() ?? new Transaction(this.capacity);
    if (t.data.length < size) t.data = new Uint8Array(size);
    t.id = this.nextId++;
    t.cmd = cmd;
    t.addr = addr;
    t.size = size;
    t.masterId = masterId;
    t.status = Status.Pending;
    t.issueTick = now;
    t.hopTick = now;
    t.tag = 0;
    t.context = null;
    t.at = At.Untranslated;
    t.resetRoute();
    this.outstanding++;
    return t;
  }

  release(t: Transaction): void {
    t.context = null;
    this.outstanding--;
    this.free.put(t);
  }
}

/** Room for `n` return-path entries, filled with a non-integer so V8 keeps it an array of doubles. */
function routeArray(n: number): number[] {
  return new Array<number>(n).fill(0.5);
}
