/**
 * A dmaengine provider for the descriptor DMA engine (sim/devices/descDma.ts), as Linux
 * drives a scatter-gather memcpy engine (dma-pl330, dw-axi-dmac) through the old
 * `device_prep_dma_sg` hook plus `tx_submit` / `issue_pending` and a completion tasklet.
 * The client side (mapping the buffers) is folded in, so one call does what a dmaengine
 * client and its provider do together:
 *
 * - probe binds the driver and creates the descriptor pool: dma_pool_create("<dev>-desc",
 *   dev, SG_DESC_BYTES, 32, 0), as dw-axi-dmac keeps its linked-list items in a dma_pool.
 * - memcpySg maps the source list (dma_map_sg DMA_TO_DEVICE) and the destination list
 *   (DMA_FROM_DEVICE), cuts the two mapped segment lists into pieces wherever either has
 *   a segment boundary (at_hdmac's atc_prep_dma_sg walk), one descriptor per piece, the
 *   last with LAST|IRQ. Descriptors come from the pool and are written through the CPU
 *   at the block's CPU address (uncached for a non-coherent device, so no cache
 *   maintenance is needed). The chain is started at once when the channel is idle,
 *   otherwise it waits in a FIFO (prep at submit time, as dmaengine does: a queued
 *   request already holds its mappings and descriptors).
 * - the completion interrupt (or the error interrupt) reads back every descriptor's
 *   status word, frees the descriptors to the pool, unmaps both lists with the nents
 *   passed to dma_map_sg, starts the next queued chain and then calls the request's
 *   callback with { bytes, descriptors, error } (dmaengine_result's role).
 * - remove refuses with EBUSY while a chain runs or waits, else destroys the pool and
 *   unbinds (dma-debug then reports any leaked mapping).
 *
 * Differences from Linux, and why:
 * - The two lists must hold the same number of bytes (KernelError EINVAL otherwise):
 *   at_hdmac copies the shorter length and says nothing, which hides a caller's bug.
 * - A mapping failure (dma_map_sg returned 0) ends the request with error ENOMEM through
 *   its callback, called before memcpySg returns; a prep that fails returns NULL to the
 *   client in Linux, and the client maps that to an errno itself.
 * - The completion work runs in the interrupt handler (Linux defers it to a tasklet);
 *   the callback still comes after the next chain was started, as in the tasklet.
 * - One channel, one chain running at a time; no cyclic or slave transfers, no
 *   terminate_all (a chain the engine cannot finish would keep the driver busy).
 *
 * Stats under kernel.<device>.driver:
 *   transfers    requests completed (callback called), with or without an error
 *   descriptors  descriptors handed to the engine
 *   bytes        bytes copied (descriptors whose status says done)
 *   errors       requests that ended with an error (mapping, descriptors, engine)
 */
import { SimInvariantError } from '../../sim/engine/errors';
import type { Counter, StatsRegistry } from '../../sim/engine/stats';
import type { DescDma } from '../../sim/devices/descDma';
import {
  SG_DESC_BYTES, SGD_CONTROL, SGD_CTRL_IRQ, SGD_CTRL_LAST, SGD_STAT_DONE, encodeSgDesc,
} from '../../sim/devices/descriptors';
import { KernelError, type ErrnoName } from '../errno';
import type { DmaDevice } from '../dma/device';
import { dmaMapSg, dmaUnmapSg } from '../dma/mapping';
import { dmaPoolAlloc, dmaPoolCreate, dmaPoolDestroy, dmaPoolFree, type DmaPool } from '../dma/pool';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, GFP_ATOMIC, type DmaCoherentBuffer, type ScatterlistEntry } from '../dma/types';
import type { Platform } from '../platform';

const DRIVER_NAME = 'descdma';
/** Descriptor alignment: its own size, so none straddles a 64-byte line (dw-axi-dmac aligns its 64-byte LLIs to 64). */
const DESC_ALIGN = 32;
/**
 * Largest piece one descriptor carries by default: the 32-bit length field, rounded down
 * to a page so that the pieces after a split stay page-aligned.
 */
export const DESC_DMA_MAX_DESCRIPTOR_BYTES = 2 ** 32 - 4096;

export interface DescDmaDriverOptions {
  /**
   * Largest piece per descriptor, bytes (dw-axi-dmac's `snps,block-size`); longer pieces
   * are split. Default DESC_DMA_MAX_DESCRIPTOR_BYTES.
   */
  maxDescriptorBytes?: number;
}

/** What a request's callback receives (struct dmaengine_result plus the counts). */
export interface DescDmaResult {
  /** Bytes copied: the lengths of the descriptors whose status says done. */
  bytes: number;
  /** Descriptors in the chain (0 when the request failed before building one). */
  descriptors: number;
  /** null, or ENOMEM (mapping or descriptor allocation failed), EIO (the engine stopped on an error), EBUSY (the engine refused the start). */
  error: ErrnoName | null;
}

export type DescDmaDone = (result: DescDmaResult) => void;

/** One piece of the copy: device addresses and a length. */
export interface DescDmaPiece {
  src: number;
  dst: number;
  len: number;
}

/** A prepared request: its mappings, its descriptors and the callback. */
interface DescDmaRequest {
  src: ScatterlistEntry[];
  srcNents: number;
  dst: ScatterlistEntry[];
  dstNents: number;
  pieces: DescDmaPiece[];
  descs: DmaCoherentBuffer[];
  done: DescDmaDone;
}

/**
 * The descriptor pieces of a copy between two mapped lists (their first `srcEnts` /
 * `dstEnts` DMA segments): a new piece starts wherever either list starts a segment, and
 * no piece is longer than `maxLen`. The lists must hold the same number of bytes.
 */
export function descDmaPieces(src: ScatterlistEntry[], srcEnts: number, dst: ScatterlistEntry[], dstEnts: number, maxLen: number): DescDmaPiece[] {
  const pieces: DescDmaPiece[] = [];
  let si = 0;
  let di = 0;
  let sOff = 0;
  let dOff = 0;
  while (si < srcEnts && di < dstEnts) {
    const s = src[si];
    const d = dst[di];
    const len = Math.min(s.dmaLength - sOff, d.dmaLength - dOff, maxLen);
    pieces.push({ src: s.dmaAddress + sOff, dst: d.dmaAddress + dOff, len });
    sOff += len;
    dOff += len;
    if (sOff === s.dmaLength) {
      si++;
      sOff = 0;
    }
    if (dOff === d.dmaLength) {
      di++;
      dOff = 0;
    }
  }
  if (si !== srcEnts || di !== dstEnts) {
    throw new SimInvariantError(`descDmaPieces: mapped lists of different lengths (source ends at segment ${si}/${srcEnts}, destination at ${di}/${dstEnts})`);
  }
  return pieces;
}

/** Bytes in the first `nents` entries (sg.length), or -1 if an entry's length is not a positive integer. */
function sgBytes(sgl: ScatterlistEntry[], nents: number): number {
  let n = 0;
  for (let i = 0; i < nents; i++) {
    const len = sgl[i].length;
    if (!Number.isSafeInteger(len) || len < 1) return -1;
    n += len;
  }
  return n;
}

function counter(stats: StatsRegistry, name: string, desc: string): Counter {
  // A second driver instance on the same device (probe after remove) keeps counting.
  return (stats.get(name) as Counter | undefined) ?? stats.counter(name, desc);
}

export class DescDmaDriver {
  private readonly dev: DmaDevice;
  private readonly maxDescriptorBytes: number;
  private pool: DmaPool | null = null;
  /** The request whose chain the engine runs, then the waiting ones, oldest first. */
  private active: DescDmaRequest | null = null;
  private readonly queue: DescDmaRequest[] = [];
  private readonly sTransfers: Counter;
  private readonly sDescriptors: Counter;
  private readonly sBytes: Counter;
  private readonly sErrors: Counter;

  constructor(readonly platform: Platform, readonly device: string, readonly hw: DescDma, opts: DescDmaDriverOptions = {}) {
    this.dev = platform.dmaDevice(device);
    const max = opts.maxDescriptorBytes ?? DESC_DMA_MAX_DESCRIPTOR_BYTES;
    if (!Number.isSafeInteger(max) || max < 1 || max > 2 ** 32 - 1) {
      throw new KernelError('EINVAL', 'descdma_probe', `${device}: maxDescriptorBytes must be an integer in 1..2^32-1, got ${max}`);
    }
    this.maxDescriptorBytes = max;
    const stats = platform.soc.ctx.stats;
    const p = `kernel.${device}.driver`;
    this.sTransfers = counter(stats, `${p}.transfers`, 'descriptor DMA requests completed (with or without an error)');
    this.sDescriptors = counter(stats, `${p}.descriptors`, 'descriptors handed to the engine');
    this.sBytes = counter(stats, `${p}.bytes`, 'bytes copied (descriptors completed with status done)');
    this.sErrors = counter(stats, `${p}.errors`, 'descriptor DMA requests that ended with an error');
  }

  /** True while a chain runs or requests wait. */
  get busy(): boolean {
    return this.active !== null;
  }

  /** Requests waiting behind the running one. */
  get queued(): number {
    return this.queue.length;
  }

  /** The descriptor pool while probed (dma_pool stats: kernel.dmapool.<device>-desc.*). */
  get descriptorPool(): DmaPool | null {
    return this.pool;
  }

  /** Binds the driver, creates the descriptor pool and hooks the interrupt. Throws KernelError ENOMEM if the pool cannot be created. */
  probe(): void {
    if (this.pool) return;
    this.dev.bindDriver(DRIVER_NAME);
    const pool = dmaPoolCreate(`${this.device}-desc`, this.dev, SG_DESC_BYTES, DESC_ALIGN, 0);
    if (!pool) {
      this.dev.unbindDriver();
      throw new KernelError('ENOMEM', 'descdma_probe', `${this.device}: dma_pool_create`);
    }
    this.pool = pool;
    this.hw.onInterrupt((desc, error) => this.interrupt(desc, error));
  }

  /**
   * Copies the bytes of the first `srcNents` entries of `src` to the first `dstNents`
   * entries of `dst` (the same number of bytes in total), then calls `done`. The lists
   * belong to the driver until then (their DMA fields are filled by dma_map_sg). Throws
   * KernelError ENODEV before probe, EINVAL for bad nents or different totals (nothing
   * is mapped then). Mapping or descriptor-allocation failures call `done` with ENOMEM
   * before returning, with nothing left mapped or allocated.
   */
  memcpySg(src: ScatterlistEntry[], srcNents: number, dst: ScatterlistEntry[], dstNents: number, done: DescDmaDone): void {
    const call = 'descdma_prep_dma_sg';
    const pool = this.pool;
    if (!pool) throw new KernelError('ENODEV', call, `${this.device}: driver not probed`);
    for (const [what, sgl, nents] of [['source', src, srcNents], ['destination', dst, dstNents]] as const) {
      if (!Number.isInteger(nents) || nents < 1 || nents > sgl.length) {
        throw new KernelError('EINVAL', call, `${this.device}: ${what} nents ${nents} with a scatterlist of ${sgl.length} entries`);
      }
    }
    const srcBytes = sgBytes(src, srcNents);
    const dstBytes = sgBytes(dst, dstNents);
    if (srcBytes < 0 || dstBytes < 0 || srcBytes !== dstBytes) {
      throw new KernelError('EINVAL', call, `${this.device}: source holds ${srcBytes} bytes, destination ${dstBytes}`);
    }

    const fail = (error: ErrnoName) => this.finish(done, { bytes: 0, descriptors: 0, error });
    const srcEnts = dmaMapSg(this.dev, src, srcNents, DMA_TO_DEVICE);
    if (srcEnts === 0) return fail('ENOMEM');
    const dstEnts = dmaMapSg(this.dev, dst, dstNents, DMA_FROM_DEVICE);
    if (dstEnts === 0) {
      dmaUnmapSg(this.dev, src, srcNents, DMA_TO_DEVICE);
      return fail('ENOMEM');
    }
    const pieces = descDmaPieces(src, srcEnts, dst, dstEnts, this.maxDescriptorBytes);
    const descs: DmaCoherentBuffer[] = [];
    for (let i = 0; i < pieces.length; i++) {
      const d = dmaPoolAlloc(pool, GFP_ATOMIC);
      if (!d) {
        for (const b of descs) dmaPoolFree(pool, b.cpuAddr, b.dmaHandle);
        dmaUnmapSg(this.dev, dst, dstNents, DMA_FROM_DEVICE);
        dmaUnmapSg(this.dev, src, srcNents, DMA_TO_DEVICE);
        return fail('ENOMEM');
      }
      descs.push(d);
    }
    this.writeChain(pieces, descs);
    const req: DescDmaRequest = { src, srcNents, dst, dstNents, pieces, descs, done };
    if (this.active) this.queue.push(req);
    else this.startChain(req);
  }

  /**
   * Refuses with KernelError EBUSY while a chain runs or waits; otherwise destroys the
   * descriptor pool and unbinds the driver. Does nothing before probe.
   */
  remove(): void {
    if (!this.pool) return;
    if (this.active) throw new KernelError('EBUSY', 'descdma_remove', `${this.device}: a transfer is running (${this.queue.length} more queued)`);
    dmaPoolDestroy(this.pool);
    this.pool = null;
    this.dev.unbindDriver();
  }

  /** Writes the descriptors through the CPU: each links to the next; the last has LAST|IRQ. */
  private writeChain(pieces: DescDmaPiece[], descs: DmaCoherentBuffer[]): void {
    const cpu = this.platform.kcpu;
    const last = pieces.length - 1;
    pieces.forEach((p, i) => {
      const control = i === last ? SGD_CTRL_LAST | SGD_CTRL_IRQ : 0;
      const next = i === last ? 0 : descs[i + 1].dmaHandle;
      cpu.write(descs[i].cpuAddr, encodeSgDesc({ src: p.src, dst: p.dst, len: p.len, control, next }));
    });
  }

  /** issue_pending: hands the chain to the engine, or ends the request if the engine refuses. */
  private startChain(req: DescDmaRequest): void {
    this.active = req;
    if (this.hw.start(req.descs[0].dmaHandle)) {
      this.sDescriptors.inc(req.descs.length);
      return;
    }
    this.platform.kernel.warn('descdma', `${this.device}: the engine is busy with a chain it was not given by this driver`);
    this.complete(req, 0, 'EBUSY');
  }

  /** The engine's interrupt: the end of the active chain (IRQ on its last descriptor) or an error. */
  private interrupt(descAddr: number, error: boolean): void {
    const req = this.active;
    if (!this.pool || !req || !req.descs.some((d) => d.dmaHandle === descAddr)) {
      this.platform.kernel.warn('descdma', `${this.device}: spurious interrupt for descriptor ${descAddr.toString(16)}`);
      return;
    }
    if (!error && descAddr !== req.descs[req.descs.length - 1].dmaHandle) {
      this.platform.kernel.warn('descdma', `${this.device}: completion interrupt from descriptor ${descAddr.toString(16)}, which is not the chain's last`);
      return;
    }
    // The status words, in chain order: bytes are what the descriptors marked done carry.
    const cpu = this.platform.kcpu;
    let bytes = 0;
    let failed = error;
    for (let i = 0; i < req.descs.length; i++) {
      // Not done (error status, or never reached): the chain stopped here.
      const status = cpu.readU32(req.descs[i].cpuAddr + SGD_CONTROL);
      if (Math.floor(status / SGD_STAT_DONE) % 2 !== 1) {
        failed = true;
        break;
      }
      bytes += req.pieces[i].len;
    }
    this.complete(req, bytes, failed ? 'EIO' : null);
  }

  /** Frees the descriptors, unmaps both lists, starts the next chain, then calls back. */
  private complete(req: DescDmaRequest, bytes: number, error: ErrnoName | null): void {
    const pool = this.pool!;
    for (const d of req.descs) dmaPoolFree(pool, d.cpuAddr, d.dmaHandle);
    dmaUnmapSg(this.dev, req.dst, req.dstNents, DMA_FROM_DEVICE);
    dmaUnmapSg(this.dev, req.src, req.srcNents, DMA_TO_DEVICE);
    this.sBytes.inc(bytes);
    this.active = null;
    const next = this.queue.shift();
    if (next) this.startChain(next);
    this.finish(req.done, { bytes, descriptors: req.descs.length, error });
  }

  private finish(done: DescDmaDone, result: DescDmaResult): void {
    this.sTransfers.inc();
    if (result.error) this.sErrors.inc();
    done(result);
  }
}
