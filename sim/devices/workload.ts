import { SimInvariantError } from '../engine/errors';
import { ADDR_LIMIT, isPowerOfTwo } from '../engine/addr';
import type { Rng } from '../engine/rng';
import { BUS_BOUNDARY_BYTES, bytesToBusBoundary } from '../bus/boundary';

/**
 * Workload generators: pure streams of memory accesses (address, size, read/write),
 * with no bus, no time and no data. A bus master (TrafficGenerator, GpuEngine) pulls
 * accesses from them and decides when to issue them.
 *
 * The patterns are the classic synthetic ones of memory-system studies, after gem5's
 * traffic generators (LinearGen, RandomGen, StridedGen, TraceGen) and YCSB's request
 * distributions (Zipfian), plus a producer/consumer ring and a 2D tiled walk (the
 * order a GPU visits a tiled texture or framebuffer):
 *
 * | kind         | address of access i (offsets from `base`, in blocks of `accessBytes`)      |
 * | ------------ | ------------------------------------------------------------------------- |
 * | `sequential` | block i mod N                                                             |
 * | `strided`    | column-major walk: see StridedSpec                                         |
 * | `random`     | uniform block in [0, N)                                                    |
 * | `zipf`       | block of Zipf rank k (block 0 is the hottest), Gray et al. 1994 sampler    |
 * | `ring`       | producer writes at the head, consumer reads at the tail, both wrapping     |
 * | `tiled2d`    | tile by tile (row-major over tiles), row by row inside a tile             |
 * | `trace`      | the caller's records, in order                                              |
 *
 * where N = footprint / accessBytes. Every synthetic access is `accessBytes` long and
 * aligned to `accessBytes` (a power of two; `base` and `footprint` are multiples of it).
 *
 * Read/write mix (`readFraction`, default 1 = reads only; `ring` defaults to 0.5):
 * - `mix: 'random'` (default): each access is a read with probability readFraction,
 *   decided by one draw from the workload's own read/write random stream.
 * - `mix: 'exact'`: no randomness; an error-diffusion counter makes the number of
 *   writes among the first i accesses floor(i × (1 − readFraction)) (so 0.5 gives
 *   R, W, R, W, …), which makes byte counts exactly predictable.
 * The ring kind may turn a read into a write (ring empty) or a write into a read
 * (ring full): see RingSpec.
 *
 * Length: `accesses` accesses (default unlimited; `trace` defaults to one pass over its
 * records). Past one pass every kind wraps around and starts over (sequential, strided
 * and tiled2d revisit in the same order, trace replays its records again).
 *
 * Randomness: `createWorkload(spec, rng)` derives two independent streams from `rng`
 * (`rng.fork('addr')` and `rng.fork('rw')`), which depend only on rng's seed, so two
 * workloads built from the same rng produce the same accesses: give each its own fork.
 * `reset()` re-derives them, so a reset workload replays exactly the same accesses.
 *
 * Hot path: `next(out)` fills a caller-owned slot and allocates nothing.
 */

/** One access: a reusable record the workload fills. */
export interface AccessSlot {
  addr: number;
  size: number;
  write: boolean;
}

export function newAccessSlot(): AccessSlot {
  return { addr: 0, size: 0, write: false };
}

export interface Workload {
  /** Fills `out` with the next access; false (and `out` untouched) when exhausted. */
  next(out: AccessSlot): boolean;
  /** Starts over: the same accesses again, from the first. */
  reset(): void;
}

export type ReadMix = 'random' | 'exact';

/** Fields shared by the synthetic kinds. */
export interface SyntheticCommon {
  /** Device address of the buffer (physical, or an IOVA/VA behind an MMU). */
  base: number;
  /** Bytes per access: a power of two; addresses are aligned to it. */
  accessBytes: number;
  /** 0..1, fraction of accesses that are reads (default 1; ring: 0.5). */
  readFraction?: number;
  /** How reads and writes are interleaved (default 'random'). */
  mix?: ReadMix;
  /** Number of accesses (default unlimited). */
  accesses?: number;
}

export interface SequentialSpec extends SyntheticCommon {
  kind: 'sequential';
  /** Bytes of the buffer: a positive multiple of accessBytes. */
  footprint: number;
}

/**
 * A strided walk over the buffer as a column-major walk of a matrix whose row pitch is
 * `strideBytes`: with s = strideBytes / accessBytes (reduced mod N), g = gcd(s, N) and
 * L = N / g, access i goes to block (c + j·s) mod N where j = i mod L and
 * c = floor(i / L) mod g. So it steps by the stride, wrapping modulo the footprint, and
 * when it would come back to where the current pass started it shifts by one block:
 * N accesses touch every block exactly once. (footprint 4 KiB, 64-byte accesses, stride
 * 1 KiB: 0, 1K, 2K, 3K, 64, 1K+64, …)
 */
export interface StridedSpec extends SyntheticCommon {
  kind: 'strided';
  footprint: number;
  /** A positive multiple of accessBytes (may exceed the footprint; it wraps). */
  strideBytes: number;
}

export interface RandomSpec extends SyntheticCommon {
  kind: 'random';
  footprint: number;
}

/**
 * Zipf-distributed blocks: the footprint is N blocks of accessBytes; block k (0-based,
 * counted from `base`) has rank k + 1 and probability 1 / ((k+1)^θ · ζ(N, θ)). Sampled
 * with Gray et al.'s method (SIGMOD 1994), as YCSB's ZipfianGenerator does: ζ(N, θ) is
 * computed once, then each sample costs one uniform draw and at most one pow. Ranks 1
 * and 2 are exact; higher ranks follow the method's continuous approximation (the mass
 * of the top 10% of ranks comes out about 1.5% high at θ = 0.99, N = 1000). Valid for
 * 0 <= θ < 1 (θ = 0 is uniform). Hot blocks sit at the start of the buffer, in rank
 * order (no scrambling as in YCSB's ScrambledZipfian).
 */
export interface ZipfSpec extends SyntheticCommon {
  kind: 'zipf';
  footprint: number;
  /** Zipf exponent, 0 <= theta < 1 (YCSB's default is 0.99). */
  theta: number;
}

/**
 * A producer/consumer ring buffer of N = footprint / accessBytes slots. A write is the
 * producer filling the slot at the head; a read is the consumer draining the slot at
 * the tail; both wrap around the footprint. The read/write choice follows the mix, but
 * the consumer cannot overtake the producer: a read chosen while the ring is empty
 * becomes a write, and a write chosen while all N slots are full becomes a read. Both
 * pointers start at slot 0. readFraction defaults to 0.5.
 */
export interface RingSpec extends SyntheticCommon {
  kind: 'ring';
  footprint: number;
}

/**
 * A 2D surface of `height` rows of `widthBytes` (the pitch), row r at
 * base + r·widthBytes, cut into tiles of tileWidthBytes × tileHeight rows. Tiles are
 * visited row-major (left to right, then the next row of tiles), and inside a tile row
 * by row, each row in accessBytes pieces from left to right: the order a GPU shader
 * core walks a tiled texture or framebuffer. widthBytes must be a multiple of
 * tileWidthBytes, height of tileHeight, and tileWidthBytes of accessBytes. `startTile`
 * (default 0) begins the walk at that tile (in visiting order) and wraps around, so
 * several walkers of one surface can start at different places. The footprint is
 * widthBytes × height.
 */
export interface Tiled2dSpec extends SyntheticCommon {
  kind: 'tiled2d';
  widthBytes: number;
  height: number;
  tileWidthBytes: number;
  tileHeight: number;
  startTile?: number;
}

export interface TraceAccess {
  addr: number;
  size: number;
  write: boolean;
}

/**
 * Replays `records` in order (each one as given: address, size, read or write). With
 * `accesses` larger than records.length it starts over; default one pass. readFraction
 * and mix do not apply.
 */
export interface TraceSpec {
  kind: 'trace';
  records: readonly TraceAccess[];
  accesses?: number;
}

export type WorkloadSpec = SequentialSpec | StridedSpec | RandomSpec | ZipfSpec | RingSpec | Tiled2dSpec | TraceSpec;
export type WorkloadKind = WorkloadSpec['kind'];

export const WORKLOAD_KINDS: readonly WorkloadKind[] = ['sequential', 'strided', 'random', 'zipf', 'ring', 'tiled2d', 'trace'];

// ---------------------------------------------------------------------------------
// Validation

const isNonNegInt = (v: unknown): v is number => typeof v === 'number' && Number.isSafeInteger(v) && v >= 0;
const isPosInt = (v: unknown): v is number => isNonNegInt(v) && v > 0;
const show = (v: unknown): string => (typeof v === 'string' ? JSON.stringify(v) : String(v));

/** Returns "field: reason" for the first problem in `spec`, or null when it is valid. */
export function validateWorkloadSpec(spec: WorkloadSpec): string | null {
  if (spec === null || typeof spec !== 'object') return `kind: spec must be an object, got ${show(spec)}`;
  const kind = (spec as { kind?: unknown }).kind;
  if (!WORKLOAD_KINDS.includes(kind as WorkloadKind)) {
    return `kind: must be one of ${WORKLOAD_KINDS.join(', ')}, got ${show(kind)}`;
  }
  if (spec.accesses !== undefined && !isNonNegInt(spec.accesses)) {
    return `accesses: must be a non-negative integer, got ${show(spec.accesses)}`;
  }
  if (spec.kind === 'trace') return validateTrace(spec);

  if (!isPowerOfTwo(spec.accessBytes)) return `accessBytes: must be a power of two, got ${show(spec.accessBytes)}`;
  const ab = spec.accessBytes;
  if (ab > BUS_BOUNDARY_BYTES) return `accessBytes: must be at most ${BUS_BOUNDARY_BYTES} (an access is one bus transaction, and none crosses a 4 KiB boundary: AXI, PCIe), got ${ab}`;
  if (!isNonNegInt(spec.base)) return `base: must be a non-negative integer address, got ${show(spec.base)}`;
  if (spec.base % ab !== 0) return `base: must be aligned to accessBytes (${ab}), got ${show(spec.base)}`;
  const rf = spec.readFraction;
  if (rf !== undefined && !(typeof rf === 'number' && rf >= 0 && rf <= 1)) {
    return `readFraction: must be a number in [0, 1], got ${show(rf)}`;
  }
  if (spec.mix !== undefined && spec.mix !== 'random' && spec.mix !== 'exact') {
    return `mix: must be "random" or "exact", got ${show(spec.mix)}`;
  }

  let footprint: number;
  if (spec.kind === 'tiled2d') {
    if (!isPosInt(spec.tileWidthBytes) || spec.tileWidthBytes % ab !== 0) {
      return `tileWidthBytes: must be a positive multiple of accessBytes (${ab}), got ${show(spec.tileWidthBytes)}`;
    }
    if (!isPosInt(spec.widthBytes) || spec.widthBytes % spec.tileWidthBytes !== 0) {
      return `widthBytes: must be a positive multiple of tileWidthBytes (${spec.tileWidthBytes}), got ${show(spec.widthBytes)}`;
    }
    if (!isPosInt(spec.tileHeight)) return `tileHeight: must be a positive integer, got ${show(spec.tileHeight)}`;
    if (!isPosInt(spec.height) || spec.height % spec.tileHeight !== 0) {
      return `height: must be a positive multiple of tileHeight (${spec.tileHeight}), got ${show(spec.height)}`;
    }
    footprint = spec.widthBytes * spec.height;
    if (!Number.isSafeInteger(footprint)) return `height: widthBytes × height is too large`;
    const tiles = (spec.widthBytes / spec.tileWidthBytes) * (spec.height / spec.tileHeight);
    if (spec.startTile !== undefined && !(isNonNegInt(spec.startTile) && spec.startTile < tiles)) {
      return `startTile: must be an integer in [0, ${tiles}), got ${show(spec.startTile)}`;
    }
  } else {
    if (!isPosInt(spec.footprint) || spec.footprint % ab !== 0) {
      return `footprint: must be a positive multiple of accessBytes (${ab}), got ${show(spec.footprint)}`;
    }
    footprint = spec.footprint;
    if (spec.kind === 'strided' && (!isPosInt(spec.strideBytes) || spec.strideBytes % ab !== 0)) {
      return `strideBytes: must be a positive multiple of accessBytes (${ab}), got ${show(spec.strideBytes)}`;
    }
    if (spec.kind === 'zipf' && !(typeof spec.theta === 'number' && spec.theta >= 0 && spec.theta < 1)) {
      return `theta: must be a number in [0, 1), got ${show(spec.theta)}`;
    }
  }
  if (spec.base + footprint > ADDR_LIMIT) {
    return `${spec.kind === 'tiled2d' ? 'height' : 'footprint'}: the buffer ends at ${spec.base + footprint}, beyond 2^53`;
  }
  return null;
}

function validateTrace(spec: TraceSpec): string | null {
  if (!Array.isArray(spec.records) || spec.records.length === 0) return 'records: must be a non-empty array';
  for (let i = 0; i < spec.records.length; i++) {
    const r = spec.records[i];
    if (r === null || typeof r !== 'object') return `records[${i}]: must be an object {addr, size, write}`;
    if (!isNonNegInt(r.addr)) return `records[${i}].addr: must be a non-negative integer address, got ${show(r.addr)}`;
    if (!isPosInt(r.size)) return `records[${i}].size: must be a positive integer, got ${show(r.size)}`;
    if (r.addr + r.size > ADDR_LIMIT) return `records[${i}].addr: the access ends beyond 2^53`;
    if (r.size > bytesToBusBoundary(r.addr)) {
      return `records[${i}]: ${r.size} bytes at 0x${r.addr.toString(16)} cross a 4 KiB boundary (a record is one bus transaction, and none may: AXI, PCIe); split it there`;
    }
    if (typeof r.write !== 'boolean') return `records[${i}].write: must be a boolean, got ${show(r.write)}`;
  }
  return null;
}

// ---------------------------------------------------------------------------------
// Facts about a (valid) spec

/** The byte range [base, base + bytes) every access of the workload falls in. */
export function workloadRange(spec: WorkloadSpec): { base: number; bytes: number } {
  if (spec.kind === 'trace') {
    let lo = Infinity;
    let hi = 0;
    for (const r of spec.records) {
      if (r.addr < lo) lo = r.addr;
      if (r.addr + r.size > hi) hi = r.addr + r.size;
    }
    return { base: lo, bytes: hi - lo };
  }
  if (spec.kind === 'tiled2d') return { base: spec.base, bytes: spec.widthBytes * spec.height };
  return { base: spec.base, bytes: spec.footprint };
}

/**
 * Accesses in one pass: the number after which sequential, strided and tiled2d have
 * touched every block once and trace has replayed every record (for random, zipf and
 * ring: the number of blocks).
 */
export function workloadPassAccesses(spec: WorkloadSpec): number {
  if (spec.kind === 'trace') return spec.records.length;
  return workloadRange(spec).bytes / spec.accessBytes;
}

// ---------------------------------------------------------------------------------
// Zipf

/**
 * ζ(n, θ) = Σ_{i=1..n} i^−θ. Summed exactly up to n = 2^20; beyond that, the first 2^16
 * terms exactly plus the Euler–Maclaurin estimate of the tail (integral, end-point
 * correction and the first two derivative terms), whose error is below 1e−15 relative.
 */
export function zeta(n: number, theta: number): number {
  const EXACT = 1 << 20;
  if (n <= EXACT) {
    let s = 0;
    for (let i = 1; i <= n; i++) s += Math.pow(i, -theta);
    return s;
  }
  const m = 1 << 16;
  let s = 0;
  for (let i = 1; i <= m; i++) s += Math.pow(i, -theta);
  // Σ_{i=m+1..n} f(i) = ∫_m^n f + (f(n) − f(m))/2 + (f'(n) − f'(m))/12 − (f'''(n) − f'''(m))/720 + …
  const f = (x: number): number => Math.pow(x, -theta);
  const f1 = (x: number): number => -theta * Math.pow(x, -theta - 1);
  const f3 = (x: number): number => -theta * (theta + 1) * (theta + 2) * Math.pow(x, -theta - 3);
  const integral = theta === 1 ? Math.log(n / m) : (Math.pow(n, 1 - theta) - Math.pow(m, 1 - theta)) / (1 - theta);
  return s + integral + (f(n) - f(m)) / 2 + (f1(n) - f1(m)) / 12 - (f3(n) - f3(m)) / 720;
}

/**
 * Zipf ranks by the method of Gray, Sundaresan, Englert, Baclawski and Weinberger,
 * "Quickly generating billion-record synthetic databases" (SIGMOD 1994), as in YCSB's
 * ZipfianGenerator: `sample(u)` maps a uniform u in [0, 1) to a 0-based rank in [0, n).
 * P(rank 0) = 1/ζ(n,θ) and P(rank 1) = 2^−θ/ζ(n,θ) exactly; higher ranks approximately.
 */
export class ZipfSampler {
  readonly zetaN: number;
  private readonly alpha: number;
  private readonly eta: number;
  private readonly half: number;

  constructor(readonly n: number, readonly theta: number) {
    if (!(Number.isSafeInteger(n) && n >= 1) || !(theta >= 0 && theta < 1)) {
      throw new SimInvariantError(`ZipfSampler: need n >= 1 and 0 <= theta < 1, got n=${n}, theta=${theta}`);
    }
    this.zetaN = zeta(n, theta);
    const zeta2 = zeta(2, theta);
    this.alpha = 1 / (1 - theta);
    // n <= 2: the first two branches of sample() cover every u, eta is unused.
    this.eta = n > 2 ? (1 - Math.pow(2 / n, 1 - theta)) / (1 - zeta2 / this.zetaN) : 0;
    this.half = 1 + Math.pow(0.5, theta);
  }

  sample(u: number): number {
    const uz = u * this.zetaN;
    if (uz < 1) return 0;
    if (uz < this.half || this.n < 3) return this.n > 1 ? 1 : 0;
    const k = Math.floor(this.n * Math.pow(this.eta * u - this.eta + 1, this.alpha));
    return k < this.n ? k : this.n - 1;
  }
}

// ---------------------------------------------------------------------------------
// Generators

/** Uniform integer in [0, n) for any n < 2^53 (one draw below 2^32, two above). */
function uniformBelow(rng: Rng, n: number): number {
  if (n <= 4294967296) return rng.nextInt(n);
  const x = rng.nextU32() * 2097152 + (rng.nextU32() >>> 11); // 53 random bits
  const k = Math.floor((x / 9007199254740992) * n);
  return k < n ? k : n - 1;
}

function gcd(a: number, b: number): number {
  while (b !== 0) {
    const t = a % b;
    a = b;
    b = t;
  }
  return a;
}

/** Count, read/write mix and random streams shared by every synthetic kind. */
abstract class SyntheticWorkload implements Workload {
  protected addrRng: Rng;
  private rwRng: Rng;
  private issued = 0;
  private acc = 0;
  private readonly limit: number;
  private readonly readFraction: number;
  private readonly exact: boolean;
  protected readonly ab: number;
  protected readonly base: number;

  constructor(spec: Exclude<WorkloadSpec, TraceSpec>, private readonly rng: Rng, defaultReadFraction = 1) {
    this.limit = spec.accesses ?? Infinity;
    this.readFraction = spec.readFraction ?? defaultReadFraction;
    this.exact = spec.mix === 'exact';
    this.ab = spec.accessBytes;
    this.base = spec.base;
    this.addrRng = rng.fork('addr');
    this.rwRng = rng.fork('rw');
  }

  next(out: AccessSlot): boolean {
    if (this.issued >= this.limit) return false;
    this.issued++;
    let write: boolean;
    const rf = this.readFraction;
    if (rf >= 1) write = false;
    else if (rf <= 0) write = true;
    else if (this.exact) {
      this.acc += 1 - rf;
      write = this.acc >= 1 - 1e-9;
      if (write) this.acc -= 1;
    } else {
      write = this.rwRng.nextFloat() >= rf;
    }
    out.size = this.ab;
    out.write = write;
    this.fill(out);
    return true;
  }

  reset(): void {
    this.issued = 0;
    this.acc = 0;
    this.addrRng = this.rng.fork('addr');
    this.rwRng = this.rng.fork('rw');
    this.restart();
  }

  /** Sets out.addr (out.write holds the mix's choice; the ring may change it). */
  protected abstract fill(out: AccessSlot): void;
  protected abstract restart(): void;
}

class SequentialWorkload extends SyntheticWorkload {
  private pos = 0;
  private readonly footprint: number;

  constructor(spec: SequentialSpec, rng: Rng) {
    super(spec, rng);
    this.footprint = spec.footprint;
  }

  protected fill(out: AccessSlot): void {
    out.addr = this.base + this.pos;
    this.pos += this.ab;
    if (this.pos >= this.footprint) this.pos = 0;
  }

  protected restart(): void {
    this.pos = 0;
  }
}

class StridedWorkload extends SyntheticWorkload {
  private readonly footprint: number;
  private readonly stride: number;
  /** Accesses per orbit (L) and number of orbits (g) before the walk repeats. */
  private readonly orbitLen: number;
  private readonly orbits: number;
  private pos = 0;
  private j = 0;
  private coset = 0;

  constructor(spec: StridedSpec, rng: Rng) {
    super(spec, rng);
    this.footprint = spec.footprint;
    this.stride = spec.strideBytes % spec.footprint;
    const n = spec.footprint / spec.accessBytes;
    const g = gcd(this.stride / spec.accessBytes, n); // gcd(0, n) = n: every orbit is one block
    this.orbits = g;
    this.orbitLen = n / g;
  }

  protected fill(out: AccessSlot): void {
    out.addr = this.base + this.pos;
    if (++this.j === this.orbitLen) {
      this.j = 0;
      if (++this.coset === this.orbits) this.coset = 0;
      this.pos = this.coset * this.ab;
    } else {
      this.pos += this.stride;
      if (this.pos >= this.footprint) this.pos -= this.footprint;
    }
  }

  protected restart(): void {
    this.pos = 0;
    this.j = 0;
    this.coset = 0;
  }
}

class RandomWorkload extends SyntheticWorkload {
  private readonly blocks: number;

  constructor(spec: RandomSpec, rng: Rng) {
    super(spec, rng);
    this.blocks = spec.footprint / spec.accessBytes;
  }

  protected fill(out: AccessSlot): void {
    out.addr = this.base + uniformBelow(this.addrRng, this.blocks) * this.ab;
  }

  protected restart(): void {}
}

class ZipfWorkload extends SyntheticWorkload {
  private readonly sampler: ZipfSampler;

  constructor(spec: ZipfSpec, rng: Rng) {
    super(spec, rng);
    this.sampler = new ZipfSampler(spec.footprint / spec.accessBytes, spec.theta);
  }

  protected fill(out: AccessSlot): void {
    out.addr = this.base + this.sampler.sample(this.addrRng.nextFloat()) * this.ab;
  }

  protected restart(): void {}
}

class RingWorkload extends SyntheticWorkload {
  private readonly footprint: number;
  private readonly slots: number;
  private head = 0;
  private tail = 0;
  private used = 0;

  constructor(spec: RingSpec, rng: Rng) {
    super(spec, rng, 0.5);
    this.footprint = spec.footprint;
    this.slots = spec.footprint / spec.accessBytes;
  }

  protected fill(out: AccessSlot): void {
    let write = out.write;
    if (!write && this.used === 0) write = true;
    else if (write && this.used === this.slots) write = false;
    out.write = write;
    if (write) {
      out.addr = this.base + this.head;
      this.head += this.ab;
      if (this.head >= this.footprint) this.head = 0;
      this.used++;
    } else {
      out.addr = this.base + this.tail;
      this.tail += this.ab;
      if (this.tail >= this.footprint) this.tail = 0;
      this.used--;
    }
  }

  protected restart(): void {
    this.head = 0;
    this.tail = 0;
    this.used = 0;
  }
}

class Tiled2dWorkload extends SyntheticWorkload {
  private readonly pitch: number;
  private readonly tileW: number;
  private readonly tileH: number;
  private readonly tilesX: number;
  private readonly tiles: number;
  private readonly startTile: number;
  /** Visiting-order index of the current tile, and its top-left offset. */
  private tile = 0;
  private tileOrigin = 0;
  private row = 0;
  private col = 0;

  constructor(spec: Tiled2dSpec, rng: Rng) {
    super(spec, rng);
    this.pitch = spec.widthBytes;
    this.tileW = spec.tileWidthBytes;
    this.tileH = spec.tileHeight;
    this.tilesX = spec.widthBytes / spec.tileWidthBytes;
    this.tiles = this.tilesX * (spec.height / spec.tileHeight);
    this.startTile = spec.startTile ?? 0;
    this.restart();
  }

  protected fill(out: AccessSlot): void {
    out.addr = this.base + this.tileOrigin + this.row * this.pitch + this.col;
    this.col += this.ab;
    if (this.col < this.tileW) return;
    this.col = 0;
    if (++this.row < this.tileH) return;
    this.row = 0;
    if (++this.tile === this.tiles) this.tile = 0;
    this.locateTile();
  }

  private locateTile(): void {
    const tx = this.tile % this.tilesX;
    const ty = (this.tile - tx) / this.tilesX;
    this.tileOrigin = ty * this.tileH * this.pitch + tx * this.tileW;
  }

  protected restart(): void {
    this.tile = this.startTile;
    this.row = 0;
    this.col = 0;
    this.locateTile();
  }
}

class TraceWorkload implements Workload {
  private i = 0;
  private issued = 0;
  private readonly limit: number;

  constructor(private readonly records: readonly TraceAccess[], accesses: number | undefined) {
    this.limit = accesses ?? records.length;
  }

  next(out: AccessSlot): boolean {
    if (this.issued >= this.limit) return false;
    this.issued++;
    const r = this.records[this.i];
    if (++this.i === this.records.length) this.i = 0;
    out.addr = r.addr;
    out.size = r.size;
    out.write = r.write;
    return true;
  }

  reset(): void {
    this.i = 0;
    this.issued = 0;
  }
}

/**
 * Builds the generator for `spec`; throws SimInvariantError with validateWorkloadSpec's
 * message when the spec is invalid (config loaders validate first and report a
 * ConfigError). `rng` seeds the address and read/write streams (see the module doc).
 */
export function createWorkload(spec: WorkloadSpec, rng: Rng): Workload {
  const problem = validateWorkloadSpec(spec);
  if (problem) throw new SimInvariantError(`workload (${String((spec as { kind?: unknown })?.kind)}): ${problem}`);
  switch (spec.kind) {
    case 'sequential': return new SequentialWorkload(spec, rng);
    case 'strided': return new StridedWorkload(spec, rng);
    case 'random': return new RandomWorkload(spec, rng);
    case 'zipf': return new ZipfWorkload(spec, rng);
    case 'ring': return new RingWorkload(spec, rng);
    case 'tiled2d': return new Tiled2dWorkload(spec, rng);
    case 'trace': return new TraceWorkload(spec.records, spec.accesses);
  }
}
