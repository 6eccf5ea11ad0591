import { SimInvariantError } from '../engine/errors';
import { ADDR_LIMIT, hex } from '../engine/addr';

const FRAME_SHIFT = 12;
const FRAME_SIZE = 1 << FRAME_SHIFT;
/** Bytes per frame, for callers of the frame-number methods (`readFrameWords`, `writeFrameWords`). */
export const FRAME_BYTES = FRAME_SIZE;
const FRAME_WORDS = FRAME_SIZE >> 2;
const TWO_32 = 2 ** 32;
/** Frame numbers below this are addressable (ADDR_LIMIT / FRAME_SIZE: 2^41 frames). */
const FRAME_LIMIT = ADDR_LIMIT / FRAME_SIZE;
/**
 * Copies up to this size go byte by byte; larger ones through a subarray() view, whose
 * allocation costs about as much as a 32-byte loop (measured on Node 20: 8 B loop
 * 15 ns vs view 48 ns; 64 B loop 100-120 ns vs view 48 ns). Aligned whole words take
 * `readWords`/`writeWords` instead (64 B in 15 ns).
 */
const SMALL_COPY = 32;
/**
 * Frame numbers are looked up through regions of 2^REGION_SHIFT frames (2 MiB): a
 * region's frame indices are one Int32Array, found through a Map by region number.
 */
const REGION_SHIFT = 9;
const REGION_FRAMES = 1 << REGION_SHIFT;
const REGION_FRAMES_INV = 1 / REGION_FRAMES;
/** Entries of the direct-mapped cache of region lookups in front of the Map (a power of two). */
const REGION_CACHE_BITS = 6;
/**
 * Frames are carved out of 256 KiB slabs rather than allocated one by one: V8 tracks
 * and sweeps every live ArrayBuffer at each GC, so one per 4 KiB frame made a 64 MiB
 * copy 15-25% slower per MiB than a 16 MiB one. Frames are never freed, so a slab
 * wastes at most its unused tail (untouched pages of a large allocation are not resident).
 */
const SLAB_SHIFT = 6;
const FRAMES_PER_SLAB = 1 << SLAB_SHIFT;
/** A frame's number among all allocated ones: slab = n >> SLAB_SHIFT, byte offset (n & SLAB_MASK) << FRAME_SHIFT. */
const SLAB_MASK = FRAMES_PER_SLAB - 1;
/** `frameForRead` of a frame never written. */
const NO_FRAME = -1;

/**
 * Physical memory holding real bytes, stored sparsely: a 4 KiB frame is allocated on
 * its first write, and memory never written reads as zeros. Addresses are absolute
 * physical addresses (< 2^53); the address map decides which ones exist. Multi-byte
 * helpers are little-endian.
 *
 * A frame is named by its index among allocated frames (a small integer); its bytes are
 * a range of one slab, seen as bytes (`slab8`) and as 32-bit words (`slab32`) for
 * whole-word copies. Frame numbers map to frame indices through 2 MiB regions (one
 * Int32Array each, NO_FRAME where nothing was written) found by region number, with a
 * small cache of regions in front: an access is a cache probe and an array read, and a
 * walk over thousands of scattered pages (4,096 data frames in the walk bench) does not
 * fall back to a Map lookup per access, as the 64-entry frame cache before it did.
 */
export class PhysicalMemory {
  /** Region number (frame number / REGION_FRAMES) -> frame index by frame within the region. */
  private readonly regions = new Map<number, Int32Array>();
  private allocated = 0;
  // Slab views by slab number. The arrays are grown by copying (addSlab), never by
  // push: a push past an array's capacity in optimised code deoptimised `write` the first
  // time a run touched more memory than any run before it.
  private slab8: Uint8Array[] = new Array<Uint8Array>(16).fill(NO_SLAB8);
  private slab32: Int32Array[] = new Array<Int32Array>(16).fill(NO_SLAB32);
  // A direct-mapped cache of region lookups, indexed by a multiplicative hash of the
  // region number (page tables and data sit in regions whose numbers differ by multiples
  // of 64, which low bits would map to one entry). It caches absent regions too
  // (NO_REGION); a write that creates a region replaces the entry.
  private readonly cachedRegionNo = new Float64Array(1 << REGION_CACHE_BITS).fill(-1);
  private readonly cachedRegion: Int32Array[] = new Array<Int32Array>(1 << REGION_CACHE_BITS).fill(NO_REGION);

  /** Number of 4 KiB frames that hold data. */
  get framesAllocated(): number {
    return this.allocated;
  }

  /** Copies `len` bytes at `addr` into `dst[dstOff..]`. */
  read(addr: number, dst: Uint8Array, dstOff = 0, len = dst.length - dstOff): void {
    checkRange(addr, len);
    while (len > 0) {
      const frameNo = Math.floor(addr / FRAME_SIZE);
      const off = addr - frameNo * FRAME_SIZE;
      const n = Math.min(len, FRAME_SIZE - off);
      const f = this.frameForRead(frameNo);
      if (f === NO_FRAME) dst.fill(0, dstOff, dstOff + n);
      else {
        const slab = this.slab8[f >> SLAB_SHIFT];
        const at = byteIndex(f, off);
        if (n <= SMALL_COPY) for (let i = 0; i < n; i++) dst[dstOff + i] = slab[at + i];
        else dst.set(slab.subarray(at, at + n), dstOff);
      }
      addr += n; dstOff += n; len -= n;
    }
  }

  /** Copies `len` bytes from `src[srcOff..]` to `addr`. */
  write(addr: number, src: Uint8Array, srcOff = 0, len = src.length - srcOff): void {
    checkRange(addr, len);
    while (len > 0) {
      const frameNo = Math.floor(addr / FRAME_SIZE);
      const off = addr - frameNo * FRAME_SIZE;
      const n = Math.min(len, FRAME_SIZE - off);
      const f = this.frameForWrite(frameNo);
      const slab = this.slab8[f >> SLAB_SHIFT];
      const at = byteIndex(f, off);
      if (n === src.length) slab.set(src, at); // the whole source (srcOff 0): no view needed
      else if (n <= SMALL_COPY) for (let i = 0; i < n; i++) slab[at + i] = src[srcOff + i];
      else slab.set(src.subarray(srcOff, srcOff + n), at);
      addr += n; srcOff += n; len -= n;
    }
  }

  /**
   * Copies `count` 32-bit words at `addr` into `dst[0..count)`, byte for byte as `read`
   * would (a word copy keeps the bytes whatever the host's endianness). An `addr` that is
   * not a multiple of 4, or a range that crosses a frame boundary, takes the byte path.
   */
  readWords(addr: number, dst: Int32Array, count: number): void {
    const frameNo = Math.floor(addr / FRAME_SIZE);
    this.readFrameWords(frameNo, addr - frameNo * FRAME_SIZE, dst, count);
  }

  /** Copies `src[0..count)` (32-bit words) to `addr`; the counterpart of `readWords`. */
  writeWords(addr: number, src: Int32Array, count: number): void {
    const frameNo = Math.floor(addr / FRAME_SIZE);
    this.writeFrameWords(frameNo, addr - frameNo * FRAME_SIZE, src, count);
  }

  /**
   * `readWords` of the address at byte `off` of frame `frameNo` (its address / 4 KiB,
   * rounded down). For the data path: a frame number is a small integer where an address
   * past 2^31 (any DRAM at 0x8000_0000) is a double, boxed when passed to a call V8 does
   * not inline, an allocation per access.
   */
  readFrameWords(frameNo: number, off: number, dst: Int32Array, count: number): void {
    if (!frameWordsFit('readWords', frameNo, off, count, dst.length)) {
      this.read(frameNo * FRAME_SIZE + off, bytesOf(dst), 0, count * 4);
      return;
    }
    const f = this.frameForRead(frameNo);
    if (f === NO_FRAME) {
      // A loop, not fill(): TypedArray.prototype.fill is a call into C++, dear for the
      // few words of a PTE or a burst (the walk bench reads never-written data pages).
      for (let i = 0; i < count; i++) dst[i] = 0;
      return;
    }
    const slab = this.slab32[f >> SLAB_SHIFT];
    const at = wordIndex(f, off);
    for (let i = 0; i < count; i++) dst[i] = slab[at + i];
  }

  /** `writeWords` at byte `off` of frame `frameNo`; see `readFrameWords`. */
  writeFrameWords(frameNo: number, off: number, src: Int32Array, count: number): void {
    if (!frameWordsFit('writeWords', frameNo, off, count, src.length)) {
      this.write(frameNo * FRAME_SIZE + off, bytesOf(src), 0, count * 4);
      return;
    }
    const f = this.frameForWrite(frameNo);
    const slab = this.slab32[f >> SLAB_SHIFT];
    const at = wordIndex(f, off);
    for (let i = 0; i < count; i++) slab[at + i] = src[i];
  }

  /** Sets `len` bytes at `addr` to `value`. Filling with 0 frees nothing but allocates nothing new. */
  fill(addr: number, len: number, value: number): void {
    checkRange(addr, len);
    while (len > 0) {
      const frameNo = Math.floor(addr / FRAME_SIZE);
      const off = addr - frameNo * FRAME_SIZE;
      const n = Math.min(len, FRAME_SIZE - off);
      const f = value === 0 ? this.frameForRead(frameNo) : this.frameForWrite(frameNo);
      if (f !== NO_FRAME) {
        const at = byteIndex(f, off);
        this.slab8[f >> SLAB_SHIFT].fill(value, at, at + n);
      }
      addr += n; len -= n;
    }
  }

  /** Copies `len` bytes from `src` to `dst` (overlapping ranges copy as memmove does). */
  copy(dst: number, src: number, len: number): void {
    const buf = new Uint8Array(len);
    this.read(src, buf);
    this.write(dst, buf);
  }

  read8(addr: number): number {
    checkRange(addr, 1);
    const frameNo = Math.floor(addr / FRAME_SIZE);
    const f = this.frameForRead(frameNo);
    if (f === NO_FRAME) return 0;
    return this.slab8[f >> SLAB_SHIFT][byteIndex(f, addr - frameNo * FRAME_SIZE)];
  }

  read16(addr: number): number {
    return this.read8(addr) | (this.read8(addr + 1) << 8);
  }

  read32(addr: number): number {
    const frameNo = Math.floor(addr / FRAME_SIZE);
    const off = addr - frameNo * FRAME_SIZE;
    if (off > FRAME_SIZE - 4) return (this.read16(addr) + this.read16(addr + 2) * 65536) >>> 0;
    checkRange(addr, 4);
    const f = this.frameForRead(frameNo);
    if (f === NO_FRAME) return 0;
    const s = this.slab8[f >> SLAB_SHIFT];
    const at = byteIndex(f, off);
    return (s[at] | (s[at + 1] << 8) | (s[at + 2] << 16) | (s[at + 3] << 24)) >>> 0;
  }

  /** A 64-bit value as a number; throws if it is 2^53 or more (use read64Halves). */
  read64(addr: number): number {
    const lo = this.read32(addr);
    const hi = this.read32(addr + 4);
    if (hi >= 1 << 21) {
      throw new SimInvariantError(`read64 at ${hex(addr)}: value ${hex(hi)}_${lo.toString(16).padStart(8, '0')} does not fit below 2^53; use read64Halves`);
    }
    return hi * TWO_32 + lo;
  }

  /** A 64-bit value as two unsigned 32-bit halves written into out[0] (low) and out[1] (high). */
  read64Halves(addr: number, out: Uint32Array | number[]): void {
    out[0] = this.read32(addr);
    out[1] = this.read32(addr + 4);
  }

  write8(addr: number, value: number): void {
    checkRange(addr, 1);
    const frameNo = Math.floor(addr / FRAME_SIZE);
    const f = this.frameForWrite(frameNo);
    this.slab8[f >> SLAB_SHIFT][byteIndex(f, addr - frameNo * FRAME_SIZE)] = value;
  }

  write16(addr: number, value: number): void {
    this.write8(addr, value & 0xff);
    this.write8(addr + 1, (value >>> 8) & 0xff);
  }

  write32(addr: number, value: number): void {
    const frameNo = Math.floor(addr / FRAME_SIZE);
    const off = addr - frameNo * FRAME_SIZE;
    if (off > FRAME_SIZE - 4) {
      this.write16(addr, value & 0xffff);
      this.write16(addr + 2, (value >>> 16) & 0xffff);
      return;
    }
    checkRange(addr, 4);
    const f = this.frameForWrite(frameNo);
    const s = this.slab8[f >> SLAB_SHIFT];
    const at = byteIndex(f, off);
    s[at] = value; s[at + 1] = value >>> 8; s[at + 2] = value >>> 16; s[at + 3] = value >>> 24;
  }

  /** Writes a non-negative integer below 2^53 as 64 bits. */
  write64(addr: number, value: number): void {
    if (!Number.isSafeInteger(value) || value < 0) {
      throw new SimInvariantError(`write64 at ${hex(addr)}: ${value} is not an integer in [0, 2^53); use write64Halves`);
    }
    const hi = Math.floor(value / TWO_32);
    this.write32(addr, value - hi * TWO_32);
    this.write32(addr + 4, hi);
  }

  write64Halves(addr: number, lo: number, hi: number): void {
    this.write32(addr, lo >>> 0);
    this.write32(addr + 4, hi >>> 0);
  }

  /** The frame index of frame number `frameNo`, or NO_FRAME if it was never written. */
  private frameForRead(frameNo: number): number {
    const regionNo = Math.floor(frameNo * REGION_FRAMES_INV);
    const slot = regionSlot(regionNo);
    const region = this.cachedRegionNo[slot] === regionNo ? this.cachedRegion[slot] : this.lookUpRegion(regionNo, slot);
    if (region === NO_REGION) return NO_FRAME;
    return region[frameNo - regionNo * REGION_FRAMES];
  }

  /** The frame index of frame number `frameNo`, allocating a zeroed frame on first use. */
  private frameForWrite(frameNo: number): number {
    const regionNo = Math.floor(frameNo * REGION_FRAMES_INV);
    const slot = regionSlot(regionNo);
    let region = this.cachedRegionNo[slot] === regionNo ? this.cachedRegion[slot] : this.lookUpRegion(regionNo, slot);
    if (region === NO_REGION) region = this.addRegion(regionNo, slot);
    const k = frameNo - regionNo * REGION_FRAMES;
    const f = region[k];
    return f !== NO_FRAME ? f : this.addFrame(region, k);
  }

  /** The region `regionNo` from the Map (or NO_REGION), cached in `slot`. */
  private lookUpRegion(regionNo: number, slot: number): Int32Array {
    const region = this.regions.get(regionNo) ?? NO_REGION;
    this.cachedRegionNo[slot] = regionNo;
    this.cachedRegion[slot] = region;
    return region;
  }

  private addRegion(regionNo: number, slot: number): Int32Array {
    const region = new Int32Array(REGION_FRAMES).fill(NO_FRAME);
    this.regions.set(regionNo, region);
    this.cachedRegionNo[slot] = regionNo;
    this.cachedRegion[slot] = region;
    return region;
  }

  /** Allocates the next frame index for frame `k` of `region`. */
  private addFrame(region: Int32Array, k: number): number {
    const f = this.allocated++;
    if ((f & SLAB_MASK) === 0) this.addSlab(f >> SLAB_SHIFT);
    region[k] = f;
    return f;
  }

  /** Allocates slab number `n` (the next one), doubling the slab arrays when they are full. */
  private addSlab(n: number): void {
    if (n === this.slab8.length) {
      const slab8 = new Array<Uint8Array>(n * 2).fill(NO_SLAB8);
      const slab32 = new Array<Int32Array>(n * 2).fill(NO_SLAB32);
      for (let k = 0; k < n; k++) { slab8[k] = this.slab8[k]; slab32[k] = this.slab32[k]; }
      this.slab8 = slab8;
      this.slab32 = slab32;
    }
    const slab = new ArrayBuffer(FRAMES_PER_SLAB * FRAME_SIZE);
    this.slab8[n] = new Uint8Array(slab);
    this.slab32[n] = new Int32Array(slab);
  }
}

/**
 * Whether `count` words at byte `off` of frame `frameNo` take the word path: aligned and
 * inside one frame with a whole frame number (else the byte path, which checks the range).
 * Checks that the array holds `count` words.
 */
function frameWordsFit(call: string, frameNo: number, off: number, count: number, length: number): boolean {
  if (count > length) badWords(call, count, length);
  return (off & 3) === 0 && (off | 0) === off && off >= 0 && off + count * 4 <= FRAME_SIZE && count >= 0 &&
    frameNo >= 0 && frameNo < FRAME_LIMIT && Number.isInteger(frameNo);
}

/** Index in its slab's byte view of byte `off` of frame `f`. */
function byteIndex(f: number, off: number): number {
  return ((f & SLAB_MASK) << FRAME_SHIFT) + off;
}

/** Index in its slab's word view of the word at byte `off` of frame `f`. */
function wordIndex(f: number, off: number): number {
  return (f & SLAB_MASK) * FRAME_WORDS + (off >> 2);
}

/** The region-cache entry of region `regionNo` (a Fibonacci hash of its low 32 bits). */
function regionSlot(regionNo: number): number {
  return Math.imul(regionNo | 0, 0x9e3779b1) >>> (32 - REGION_CACHE_BITS);
}

/** A region never written (cached so that reads of untouched memory need no Map lookup). */
const NO_REGION = new Int32Array(0);

/** Placeholders for slab numbers not allocated yet (never read: no frame index points there). */
const NO_SLAB8 = new Uint8Array(0);
const NO_SLAB32 = new Int32Array(0);

/** The bytes of a word array (for the rare unaligned or frame-crossing word copy). */
function bytesOf(words: Int32Array): Uint8Array {
  return new Uint8Array(words.buffer, words.byteOffset, words.byteLength);
}

/**
 * Small enough for V8 to inline (the error is built out of line): a call that is not
 * inlined boxes `addr`, a double above 2^30, into a new heap number on every access.
 */
function checkRange(addr: number, len: number): void {
  if (!(addr >= 0) || addr + len > ADDR_LIMIT || !Number.isInteger(addr) || !(len >= 0)) badRange(addr, len);
}

function badWords(call: string, count: number, length: number): never {
  throw new SimInvariantError(`PhysicalMemory.${call}: ${count} words asked of an array of ${length}`);
}

function badRange(addr: number, len: number): never {
  throw new SimInvariantError(`physical access [${addr}, +${len}) outside [0, 2^53)`);
}
