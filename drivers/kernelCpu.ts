import { hex } from '../sim/engine/addr';
import { SimInvariantError } from '../sim/engine/errors';
import type { Counter } from '../sim/engine/stats';
import type { Tick } from '../sim/engine/time';
import { connectPorts, RequestPort } from '../sim/bus/port';
import { Cmd, Status, Transaction } from '../sim/bus/transaction';
import type { CpuCache } from '../sim/devices/cpuCache';
import type { CpuMmu } from '../sim/mmu/cpuMmu';
import { KernelError } from './errno';
import type { Kernel } from './kernel';

/**
 * Base of the kernel's linear map (Linux PAGE_OFFSET): physical address `pa` is at
 * virtual address PAGE_OFFSET + pa, through the CPU MMU and its data cache. 2^46 keeps
 * every kernel virtual address inside the 48-bit LPAE input range and below 2^53.
 */
export const PAGE_OFFSET = 2 ** 46;
/**
 * Base of the uncached alias of memory (what arm64 builds with pgprot_dmacoherent /
 * pgprot_writecombine: Normal non-cacheable). Accesses there skip the CPU data cache.
 */
export const UNCACHED_OFFSET = 2 ** 45;

/** Bytes per CPU bus access of a kernel copy (a string of stores on real hardware). */
const CHUNK = 256;
const PAGE = 4096;

/**
 * The kernel's own CPU loads and stores by virtual address: the linear map and the
 * uncached alias. Linear-map accesses run on the kernel's core of the CPU MMU (its own
 * L1 DTLB, the shared L2 TLB and walker) and through the CPU data cache, on the atomic
 * path, so cached lines, write-backs and stale data behave as they would for a driver.
 * Uncached-alias accesses go straight to the bus (KernelMemory).
 *
 * The simulated MMU has no memory-attribute (MAIR) model, so the cacheability of an
 * access is decided by which alias its address is in, not by a PTE attribute; the
 * effect is the same as a Normal-NC mapping.
 *
 * Without a CPU MMU (a SoC with no CPU), the linear map is physical and uncached.
 *
 * Stats: kernel.cpu.reads, kernel.cpu.writes (accesses of at most 256 bytes),
 * kernel.cpu.time_ps (their estimated latency), kernel.cpu.cache_maint_ops and
 * kernel.cpu.cache_maint_time_ps (cache maintenance by range).
 */
export class KernelCpu {
  private readonly port: RequestPort | null;
  private readonly txn = new Transaction(CHUNK);
  private readonly sReads: Counter;
  private readonly sWrites: Counter;
  private readonly sTime: Counter;
  private readonly sMaint: Counter;
  private readonly sMaintTime: Counter;

  /**
   * `mmu`: the CPU MMU whose current context maps the linear map (the platform builds
   * it), or null. `cache`: the data cache behind that MMU, or null.
   */
  constructor(readonly kernel: Kernel, mmu: CpuMmu | null, readonly cache: CpuCache | null) {
    if (mmu) {
      this.port = new RequestPort('kernel.cpu', { recvResponse() {}, recvRetry() {} });
      connectPorts(this.port, mmu.addCore('kernel'));
    } else {
      this.port = null;
    }
    const s = kernel.soc.ctx.stats.scope('kernel.cpu');
    this.sReads = s.counter('reads', 'kernel CPU loads by virtual address (up to 256 bytes each)');
    this.sWrites = s.counter('writes', 'kernel CPU stores by virtual address (up to 256 bytes each)');
    this.sTime = s.counter('time_ps', 'estimated time of kernel CPU loads and stores, ps');
    this.sMaint = s.counter('cache_maint_ops', 'cache maintenance operations by range (clean, invalidate, flush)');
    this.sMaintTime = s.counter('cache_maint_time_ps', 'estimated time of cache maintenance, ps');
  }

  /** The cache line size DMA buffers must respect (dma_get_cache_alignment); 64 without a cache (assumption). */
  get cacheLineBytes(): number {
    return this.cache ? this.cache.lineBytes : 64;
  }

  // ---- address conversion ----

  /** __va(pa): the linear-map address of `pa`. */
  physToVirt(pa: number): number {
    return PAGE_OFFSET + pa;
  }

  /** The uncached alias of `pa`. */
  uncachedVirt(pa: number): number {
    return UNCACHED_OFFSET + pa;
  }

  isLinear(va: number): boolean {
    return va >= PAGE_OFFSET && va < 2 * PAGE_OFFSET;
  }

  isUncached(va: number): boolean {
    return va >= UNCACHED_OFFSET && va < PAGE_OFFSET;
  }

  /**
   * virt_to_phys for the linear map and the uncached alias. Any other address throws a
   * KernelError (EFAULT) naming `call`: Linux's virt_to_phys would silently return garbage.
   */
  virtToPhys(va: number, call = 'virt_to_phys'): number {
    if (this.isLinear(va)) return va - PAGE_OFFSET;
    if (this.isUncached(va)) return va - UNCACHED_OFFSET;
    throw new KernelError('EFAULT', call, `${hex(va)} is not a kernel linear-map or uncached address`);
  }

  // ---- loads and stores ----

  read(va: number, dst: Uint8Array, off = 0, len = dst.length - off): void {
    this.access(Cmd.Read, va, dst, off, len);
  }

  write(va: number, src: Uint8Array, off = 0, len = src.length - off): void {
    this.access(Cmd.Write, va, src, off, len);
  }

  /** memcpy(dst, src, len) by the CPU, both virtual addresses. */
  memcpy(dstVa: number, srcVa: number, len: number): void {
    const buf = new Uint8Array(Math.min(len, 16 * CHUNK));
    for (let done = 0; done < len; done += buf.length) {
      const n = Math.min(buf.length, len - done);
      this.read(srcVa + done, buf, 0, n);
      this.write(dstVa + done, buf, 0, n);
    }
  }

  /** memset(va, value, len). */
  memset(va: number, value: number, len: number): void {
    const buf = new Uint8Array(Math.min(len, 16 * CHUNK)).fill(value);
    for (let done = 0; done < len; done += buf.length) this.write(va + done, buf, 0, Math.min(buf.length, len - done));
  }

  readU32(va: number): number {
    const b = new Uint8Array(4);
    this.read(va, b);
    return (b[0] | (b[1] << 8) | (b[2] << 16) | (b[3] << 24)) >>> 0;
  }

  writeU32(va: number, value: number): void {
    this.write(va, Uint8Array.of(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff));
  }

  // ---- cache maintenance by physical range (to the point of coherency) ----

  /** dcache_clean_poc: dirty lines of [pa, pa+size) are written back and stay valid. */
  cleanRange(pa: number, size: number): void {
    if (this.cache) this.maint(this.cache.cleanRange(pa, size));
  }

  /** dcache_inval_poc: lines of [pa, pa+size) are dropped; partial lines at either end are cleaned first, as arm64 does. */
  invalidateRange(pa: number, size: number): void {
    const c = this.cache;
    if (!c || !(size > 0)) return;
    const line = c.lineBytes;
    let t: Tick = 0;
    const end = pa + size;
    if (pa % line !== 0) t += c.flushRange(pa, 1);
    if (end % line !== 0) t += c.flushRange(end - 1, 1);
    t += c.invalidateRange(pa, size);
    this.maint(t);
  }

  /** dcache_clean_inval_poc: written back, then dropped. */
  flushRange(pa: number, size: number): void {
    if (this.cache) this.maint(this.cache.flushRange(pa, size));
  }

  private maint(ticks: Tick): void {
    this.sMaint.value++;
    this.sMaintTime.value += ticks;
  }

  private access(cmd: Cmd, va: number, buf: Uint8Array, off: number, len: number): void {
    const pa = this.virtToPhys(va, cmd === Cmd.Read ? 'kernel load' : 'kernel store');
    if (this.port === null || this.isUncached(va)) {
      if (cmd === Cmd.Read) this.kernel.mem.read(pa, buf, off, len);
      else this.kernel.mem.write(pa, buf, off, len);
      return;
    }
    const t = this.txn;
    const isRead = cmd === Cmd.Read;
    let done = 0;
    while (done < len) {
      const a = va + done;
      // One access never crosses a page: the MMU translates it once.
      const n = Math.min(CHUNK, len - done, PAGE - (a % PAGE));
      t.cmd = cmd;
      t.addr = a;
      t.size = n;
      t.masterId = this.kernel.mem.masterId;
      t.status = Status.Pending;
      if (!isRead) for (let i = 0; i < n; i++) t.data[i] = buf[off + done + i];
      this.sTime.value += this.port.sendAtomic(t);
      if ((t.status as Status) !== Status.Ok) {
        throw new SimInvariantError(`kernel ${cmd === Cmd.Write ? 'store to' : 'load from'} ${hex(a)} failed with status ${t.status} (is the linear map set up?)`);
      }
      if (isRead) {
        for (let i = 0; i < n; i++) buf[off + done + i] = t.data[i];
        this.sReads.value++;
      } else {
        this.sWrites.value++;
      }
      done += n;
    }
  }
}
