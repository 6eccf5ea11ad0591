import { SimInvariantError } from '../sim/engine/errors';
import { hex } from '../sim/engine/addr';
import type { Counter } from '../sim/engine/stats';
import { connectPorts, RequestPort } from '../sim/bus/port';
import { Cmd, Status, Transaction } from '../sim/bus/transaction';
import { KERNEL_MASTER, type Soc } from '../sim/soc/builder';

const CHUNK = 256;

/**
 * The kernel's loads and stores to physical memory (page-table entries, descriptors,
 * buffers). It is a bus master on the SoC's main bus and uses the atomic path: each
 * access happens at once with its data effect, and is counted by the crossbar and the
 * memory it reaches, so a PTE write is bus traffic. The estimated latency accumulates
 * in `kernel.time_ns`, the time the CPU would have spent.
 */
export class KernelMemory {
  readonly port: RequestPort;
  private readonly txn = new Transaction(CHUNK);
  private readonly sReads: Counter;
  private readonly sWrites: Counter;
  private readonly sTimePs: Counter;
  readonly masterId: number;

  constructor(soc: Soc, busName?: string) {
    const bus = busName ? soc.buses.get(busName) : soc.buses.values().next().value;
    if (!bus) throw new SimInvariantError(`kernel: no bus ${busName ?? '(SoC has none)'}`);
    this.port = new RequestPort('kernel.mem', { recvResponse() {}, recvRetry() {} });
    connectPorts(this.port, bus.addInput('kernel'));
    // Registered by the builder (after the walkers, before the cores), so ids do not depend on when the kernel boots.
    this.masterId = soc.masters.id(KERNEL_MASTER);
    const stats = soc.ctx.stats;
    this.sReads = stats.counter('kernel.mem_reads', 'kernel loads from memory (atomic bus reads)');
    this.sWrites = stats.counter('kernel.mem_writes', 'kernel stores to memory (atomic bus writes)');
    this.sTimePs = stats.counter('kernel.time_ps', 'estimated CPU time of kernel memory accesses, ps');
  }

  /** Estimated time spent so far, ps. */
  get timePs(): number {
    return this.sTimePs.value;
  }

  write(pa: number, src: Uint8Array, off = 0, len = src.length - off): void {
    for (let done = 0; done < len; done += CHUNK) {
      const n = Math.min(CHUNK, len - done);
      const t = this.prepare(Cmd.Write, pa + done, n);
      t.data.set(src.subarray(off + done, off + done + n));
      this.issue(t);
      this.sWrites.value++;
    }
  }

  read(pa: number, dst: Uint8Array, off = 0, len = dst.length - off): void {
    for (let done = 0; done < len; done += CHUNK) {
      const n = Math.min(CHUNK, len - done);
      const t = this.prepare(Cmd.Read, pa + done, n);
      this.issue(t);
      dst.set(t.data.subarray(0, n), off + done);
      this.sReads.value++;
    }
  }

  /** Writes 32-bit little-endian words (2 per 8-byte entry, 4 per 16-byte entry) as one store. */
  writeWords(pa: number, words: Uint32Array, count: number): void {
    const t = this.prepare(Cmd.Write, pa, count * 4);
    for (let i = 0; i < count; i++) {
      const w = words[i];
      t.data[4 * i] = w & 0xff;
      t.data[4 * i + 1] = (w >>> 8) & 0xff;
      t.data[4 * i + 2] = (w >>> 16) & 0xff;
      t.data[4 * i + 3] = (w >>> 24) & 0xff;
    }
    this.issue(t);
    this.sWrites.value++;
  }

  /** Reads `count` 32-bit little-endian words into `words`. */
  readWords(pa: number, words: Uint32Array, count: number): void {
    const t = this.prepare(Cmd.Read, pa, count * 4);
    this.issue(t);
    const d = t.data;
    for (let i = 0; i < count; i++) words[i] = (d[4 * i] | (d[4 * i + 1] << 8) | (d[4 * i + 2] << 16) | (d[4 * i + 3] << 24)) >>> 0;
    this.sReads.value++;
  }

  /** Fills [pa, pa+len) with zeros (new page-table pages). */
  zero(pa: number, len: number): void {
    const z = new Uint8Array(Math.min(len, CHUNK));
    for (let done = 0; done < len; done += CHUNK) this.write(pa + done, z, 0, Math.min(CHUNK, len - done));
  }

  private prepare(cmd: Cmd, pa: number, size: number): Transaction {
    const t = this.txn;
    t.cmd = cmd;
    t.addr = pa;
    t.size = size;
    t.masterId = this.masterId;
    t.status = Status.Pending;
    return t;
  }

  private issue(t: Transaction): void {
    this.sTimePs.value += this.port.sendAtomic(t);
    if (t.status !== Status.Ok) {
      // The kernel touching memory that does not exist is a bug in the simulated kernel.
      throw new SimInvariantError(`kernel ${t.cmd === Cmd.Write ? 'store to' : 'load from'} ${hex(t.addr)} failed with status ${t.status}`);
    }
  }
}
