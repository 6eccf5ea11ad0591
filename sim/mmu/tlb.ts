/**
 * A set-associative TLB with several page sizes in one array, five replacement
 * policies and a small file of MSHRs (miss status holding registers).
 *
 * Contract
 * - The owner (an IOMMU, a CPU MMU) calls `lookup` per access, applies
 *   `params.latencyCycles` itself, and on a miss calls `mshrFind`/`mshrAlloc`, walks,
 *   `insert`s the result and `mshrRelease`s. The TLB holds no timing and schedules
 *   nothing.
 * - `lookup`/`probe` answer through scratch fields (`hitPa`, `hitPageShift`,
 *   `hitPerms`), valid until the next lookup/probe, and allocate nothing. V8 boxes a
 *   double argument (any va >= 2^31) into a new heap number when the call is not
 *   inlined; lookup + find are kept small so that it is (check a hot caller with
 *   `node --trace-turbo-inlining`). `insert` is not small: expect one or two boxed
 *   numbers per miss, next to the walk that precedes it.
 * - Misuse by the owner (a page size this TLB does not hold, an unaligned `paBase`, a
 *   bad MSHR index) throws `SimInvariantError`: it is a bug in socsim.
 *
 * Model (after v86's TLB: flat typed arrays, a list of valid entries)
 * - Entry i lives in set `floor(i / ways)`, way `i % ways`. Each entry stores its ASID,
 *   page size (as an index into the sorted page sizes), virtual page number
 *   vpn = floor(va / 2^shift) (-1 when invalid), page base VA and PA, and Perm bits.
 * - A page of shift s lives in set `vpn % sets`. The lookup probes once per page size
 *   held: it computes that size's vpn, indexes that set and compares the tag
 *   (vpn, size, ASID) of each way. So a 2 MiB entry is found from any of its 4 KiB
 *   sub-pages even in a set-associative TLB (gem5's SMMUv3 main TLB indexes by the
 *   smallest size only and misses them). A fully associative TLB (one set) is scanned
 *   once per page size held.
 * - Probe order: smallest page size first (the common 4 KiB case costs one set scan),
 *   ways in index order. Two valid entries covering the same va (software changed a
 *   mapping's page size without invalidating: a TLB conflict) are not detected; the
 *   smaller page answers.
 * - `insert` replaces an entry with the same (asid, page shift, page) in place; it
 *   does not remove overlapping entries of other sizes (as hardware, software must
 *   invalidate). Otherwise it fills the lowest-numbered invalid way of the set, and
 *   only when the set is full asks the replacement policy for a victim.
 * - Replacement, per set:
 *   lru          evict the way least recently filled or hit (a global stamp per entry);
 *   fifo         evict the way filled longest ago (hits do not matter);
 *   plru         tree pseudo-LRU, ways-1 bits per set (ways must be a power of two);
 *                a fill or hit points every node on its path away from it, the victim
 *                is found by following the bits from the root (bit 0 = left);
 *   round-robin  a pointer per set names the victim and advances after each
 *                replacement (fills of invalid ways do not move it);
 *   random       a uniform way from `ctx.rng.fork(path)`: deterministic per seed.
 *   A fill that overwrites an existing entry for the same page counts as a fill and
 *   updates the policy state as a new fill would (lru, fifo, plru).
 * - Sets must be a power of two (hardware indexes with VA bits). Set index
 *   arithmetic uses division by powers of two (addresses are < 2^53, DESIGN.md); the
 *   only bitwise operators act on set/way numbers.
 * - Invalidation keeps the list of valid entries (v86): invalidateAll / invalidateAsid /
 *   invalidateRange cost O(valid entries), invalidatePage O(page sizes × ways).
 * - MSHRs are keyed by (asid, va's page at the smallest page size held). `mshrAlloc`
 *   of a page that already has an outstanding miss throws: call `mshrFind` first.
 *   Invalidations do not touch MSHRs: a walk in flight when an invalidation arrives is
 *   the owner's to discard or complete.
 *
 * Stats under `path`: lookups, hits, misses, fills, evictions (a valid entry
 * replaced), invalidations (commands), invalidated_entries, mshr_merges, mshr_full,
 * per page size hits_<size>, fills_<size>, evictions_<size> (<size> as `4KiB`,
 * `2MiB`, see `pageSizeName`; evictions are counted by the victim's size), and the
 * formula hit_rate = hits / lookups (null when there were no lookups).
 */
import { z } from 'zod';
import { isPowerOfTwo, log2Exact } from '../engine/addr';
import { count, Cycles, MAX_MSHRS, mustBe, powerOfTwoSize, resolveParams } from '../engine/spec';
import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import type { Rng } from '../engine/rng';
import type { Counter } from '../engine/stats';

export const REPLACEMENTS = Object.freeze(['lru', 'plru', 'fifo', 'random', 'round-robin'] as const);
export type Replacement = (typeof REPLACEMENTS)[number];

export const MIN_PAGE_SHIFT = 10;
export const MAX_PAGE_SHIFT = 52;

/** `4KiB`, `64KiB`, `2MiB`, `1GiB`: the page-size part of per-size stat names. */
export function pageSizeName(shift: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  const u = Math.min(Math.floor(shift / 10), units.length - 1);
  return `${2 ** (shift - 10 * u)}${units[u]}`;
}

/**
 * A TLB's parameters. Page sizes are bytes, as in configs; the model converts them to
 * shifts once, in its constructor. Whether the unit's page-table format has those page
 * sizes is the IOMMU / CPU MMU spec's rule.
 */
export const TlbSpec = z
  .strictObject({
    entries: count().describe('total entries (at most 2^20)'),
    ways: count().describe('associativity: must divide entries, and entries / ways (the sets) must be a power of two; ways = entries is fully associative'),
    replacement: z.enum(REPLACEMENTS).default('lru').describe('replacement policy; plru needs a power-of-two number of ways'),
    latencyCycles: Cycles.describe('lookup latency in the owner\'s cycles'),
    pageSizes: z.array(powerOfTwoSize(2 ** MAX_PAGE_SHIFT, '4PiB').refine((v) => v >= 2 ** MIN_PAGE_SHIFT, mustBe('at least 1KiB')))
      .min(1, mustBe('a non-empty list of page sizes'))
      .describe('page sizes held, e.g. ["4KiB", "2MiB"]: distinct powers of two from 1KiB to 4PiB'),
    mshrs: count(MAX_MSHRS).default(4).describe(`distinct outstanding misses (at most ${MAX_MSHRS})`),
  })
  .superRefine((p, ctx) => {
    const fail = (path: (string | number)[], message: string) => ctx.addIssue({ code: 'custom', path, message });
    if (p.entries % p.ways !== 0) fail(['ways'], `must divide entries (${p.entries}), got ${p.ways}`);
    else if (!isPowerOfTwo(p.entries / p.ways)) {
      fail(['ways'], `entries / ways (the number of sets) must be a power of two, got ${p.entries} / ${p.ways} = ${p.entries / p.ways}`);
    } else if (p.replacement === 'plru' && !isPowerOfTwo(p.ways)) {
      fail(['ways'], `plru needs a power-of-two number of ways, got ${p.ways}`);
    }
    p.pageSizes.forEach((size, i) => {
      if (p.pageSizes.indexOf(size) !== i) fail(['pageSizes', i], `duplicate page size ${pageSizeName(Math.log2(size))}`);
    });
  });

/** What the TLB takes (defaults may be left out; sizes may be strings like "4KiB"). */
export type TlbParamsInput = z.input<typeof TlbSpec>;
export type TlbParams = z.output<typeof TlbSpec>;

const LRU = 0;
const PLRU = 1;
const FIFO = 2;
const RANDOM = 3;
const ROUND_ROBIN = 4;
const POLICY_CODE: Record<Replacement, number> = { lru: LRU, plru: PLRU, fifo: FIFO, random: RANDOM, 'round-robin': ROUND_ROBIN };

export class Tlb {
  // Fields set in the constructor are `declare`d: an ES2022 class field without an
  // initializer is first defined as undefined, and V8 then keeps numeric fields boxed
  // (tagged), which costs ~10% on lookup.
  /** Stats prefix, also used in error messages and to fork the RNG. */
  declare readonly path: string;
  declare readonly params: Readonly<TlbParams>;
  /** log2 of `params.pageSizes`, in the same order. */
  declare readonly pageShifts: readonly number[];

  /** Last successful lookup()/probe(): physical address of the va (page base + offset). */
  hitPa = 0;
  /** Last successful lookup()/probe(): log2 of the hit entry's page size. */
  hitPageShift = 0;
  /** Last successful lookup()/probe(): the entry's Perm bits. */
  hitPerms = 0;

  private declare readonly ways: number;
  private declare readonly waysLog2: number;
  private declare readonly sets: number;
  private declare readonly invSets: number;
  private declare readonly policy: number;

  // Page sizes held, ascending (the probe order).
  private declare readonly nSizes: number;
  private declare readonly sizeShift: Uint8Array;
  private declare readonly sizeBytes: Float64Array;
  private declare readonly sizeInv: Float64Array;
  /** Page shift → index into the size arrays, -1 when not held. */
  private readonly sizeIndexOfShift = new Int8Array(MAX_PAGE_SHIFT + 1).fill(-1);
  /** Page shift → the largest page shift held that is <= it, -1 when none (see heldShift). */
  private readonly heldShiftOf = new Int8Array(MAX_PAGE_SHIFT + 1).fill(-1);

  // Entries.
  private declare readonly valid: Uint8Array;
  private declare readonly asid: Int32Array;
  /** Index into the size arrays of the entry's page size. */
  private declare readonly sizeIdx: Uint8Array;
  /** floor(va / 2^shift); -1 for an invalid entry, so no tag compare matches it. */
  private declare readonly vpn: Float64Array;
  private declare readonly vaBase: Float64Array;
  private declare readonly paBase: Float64Array;
  private declare readonly perms: Uint8Array;

  // Replacement state.
  /** lru: stamp of the last fill or hit; fifo: stamp of the fill. */
  private declare readonly stamp: Float64Array;
  private clock = 0;
  /** plru: per set, tree nodes 1..ways-1 at [set*ways + node]. */
  private declare readonly plruBits: Uint8Array;
  private declare readonly rrPtr: Int32Array;
  private declare readonly rng: Rng;

  // Valid-entry list: validList[0..nValid) holds indices; validPos[i] is i's slot or -1.
  private declare readonly validList: Int32Array;
  private declare readonly validPos: Int32Array;
  private nValid = 0;

  // MSHRs.
  private declare readonly mshrBusy: Uint8Array;
  private declare readonly mshrAsid: Int32Array;
  private declare readonly mshrPage: Float64Array;
  private declare readonly mshrInv: number;
  private nMshrUsed = 0;

  // Stats.
  private declare readonly cLookups: Counter;
  private declare readonly cHits: Counter;
  private declare readonly cMisses: Counter;
  private declare readonly cFills: Counter;
  private declare readonly cEvictions: Counter;
  private declare readonly cInvalidations: Counter;
  private declare readonly cInvalidated: Counter;
  private declare readonly cMshrMerges: Counter;
  private declare readonly cMshrFull: Counter;
  private declare readonly cHitsBySize: Counter[];
  private declare readonly cFillsBySize: Counter[];
  private declare readonly cEvictionsBySize: Counter[];

  constructor(ctx: SimContext, path: string, paramsIn: TlbParamsInput) {
    this.path = path;
    const params = resolveParams(TlbSpec, paramsIn, `tlb ${path}`);
    this.params = Object.freeze({ ...params, pageSizes: Object.freeze([...params.pageSizes]) as number[] });
    // The one place page sizes become shifts.
    this.pageShifts = Object.freeze(params.pageSizes.map(log2Exact));

    const n = params.entries;
    this.ways = params.ways;
    this.waysLog2 = Math.round(Math.log2(params.ways));
    this.sets = n / params.ways;
    this.invSets = 1 / this.sets;
    this.policy = POLICY_CODE[params.replacement];

    const shifts = [...this.pageShifts].sort((a, b) => a - b);
    this.nSizes = shifts.length;
    this.sizeShift = Uint8Array.from(shifts);
    this.sizeBytes = Float64Array.from(shifts, (s) => 2 ** s);
    this.sizeInv = Float64Array.from(shifts, (s) => 2 ** -s);
    shifts.forEach((s, k) => (this.sizeIndexOfShift[s] = k));
    for (let s = 0, best = -1; s <= MAX_PAGE_SHIFT; s++) {
      if (this.sizeIndexOfShift[s] >= 0) best = s;
      this.heldShiftOf[s] = best;
    }

    this.valid = new Uint8Array(n);
    this.asid = new Int32Array(n);
    this.sizeIdx = new Uint8Array(n);
    this.vpn = new Float64Array(n).fill(-1);
    this.vaBase = new Float64Array(n);
    this.paBase = new Float64Array(n);
    this.perms = new Uint8Array(n);
    this.stamp = new Float64Array(n);
    this.plruBits = new Uint8Array(this.policy === PLRU ? n : 0);
    this.rrPtr = new Int32Array(this.sets);
    this.rng = ctx.rng.fork(path);
    this.validList = new Int32Array(n);
    this.validPos = new Int32Array(n).fill(-1);

    this.mshrBusy = new Uint8Array(params.mshrs);
    this.mshrAsid = new Int32Array(params.mshrs);
    this.mshrPage = new Float64Array(params.mshrs);
    this.mshrInv = 2 ** -shifts[0];

    const st = ctx.stats.scope(path);
    this.cLookups = st.counter('lookups', 'lookups (lookup() calls)');
    this.cHits = st.counter('hits', 'lookups that hit');
    this.cMisses = st.counter('misses', 'lookups that missed');
    this.cFills = st.counter('fills', 'entries inserted');
    this.cEvictions = st.counter('evictions', 'valid entries replaced by a fill');
    this.cInvalidations = st.counter('invalidations', 'invalidation commands');
    this.cInvalidated = st.counter('invalidated_entries', 'entries removed by invalidation commands');
    this.cMshrMerges = st.counter('mshr_merges', 'misses merged into an outstanding miss for the same page');
    this.cMshrFull = st.counter('mshr_full', 'MSHR allocations refused because all were busy');
    this.cHitsBySize = shifts.map((s) => st.counter(`hits_${pageSizeName(s)}`, `hits on ${pageSizeName(s)} entries`));
    this.cFillsBySize = shifts.map((s) => st.counter(`fills_${pageSizeName(s)}`, `${pageSizeName(s)} entries inserted`));
    this.cEvictionsBySize = shifts.map((s) => st.counter(`evictions_${pageSizeName(s)}`, `${pageSizeName(s)} entries evicted`));
    const lookups = this.cLookups;
    const hits = this.cHits;
    st.formula('hit_rate', 'hits / lookups', () => hits.value / lookups.value);
  }

  /** Entries currently valid. */
  get validCount(): number {
    return this.nValid;
  }

  /**
   * The valid entries, one line each in slot order — slot, asid, VA base, page size, PA
   * base, permissions and the LRU stamp — for comparing TLB contents and replacement
   * state (tests, checks; allocates, not for hot paths).
   */
  describeEntries(): string[] {
    const out: string[] = [];
    for (let i = 0; i < this.valid.length; i++) {
      if (!this.valid[i]) continue;
      out.push(`${i} asid=${this.asid[i]} va=0x${this.vaBase[i].toString(16)} shift=${this.sizeShift[this.sizeIdx[i]]} pa=0x${this.paBase[i].toString(16)} perms=${this.perms[i]} stamp=${this.stamp[i]}`);
    }
    return out;
  }

  /**
   * The largest page size this TLB holds that fits in a page of 2^pageShift (the size a
   * walk result of that page is splintered to when filled), or -1 if none does.
   */
  heldShift(pageShift: number): number {
    if (pageShift >= 0 && pageShift <= MAX_PAGE_SHIFT) return this.heldShiftOf[pageShift | 0];
    return pageShift > MAX_PAGE_SHIFT ? this.sizeShift[this.nSizes - 1] : -1;
  }

  /** MSHRs currently allocated. */
  get mshrsInUse(): number {
    return this.nMshrUsed;
  }

  /**
   * Translates va for asid. On a hit fills hitPa/hitPageShift/hitPerms, counts the hit
   * and updates the replacement state; on a miss counts it and leaves the scratch
   * fields alone. Allocates nothing.
   */
  lookup(asid: number, va: number): boolean {
    this.cLookups.value++;
    const i = this.find(asid, va);
    if (i < 0) {
      this.cMisses.value++;
      return false;
    }
    this.cHits.value++;
    const k = this.sizeIdx[i];
    this.cHitsBySize[k].value++;
    this.hitPa = this.paBase[i] + (va - this.vaBase[i]);
    this.hitPageShift = this.sizeShift[k];
    this.hitPerms = this.perms[i];
    const policy = this.policy;
    if (policy === LRU) this.stamp[i] = ++this.clock;
    else if (policy === PLRU) this.plruTouch(i);
    return true;
  }

  /** The same answer as lookup() (scratch fields included), without stats or replacement updates. */
  probe(asid: number, va: number): boolean {
    const i = this.find(asid, va);
    if (i < 0) return false;
    this.hitPa = this.paBase[i] + (va - this.vaBase[i]);
    this.hitPageShift = this.sizeShift[this.sizeIdx[i]];
    this.hitPerms = this.perms[i];
    return true;
  }

  /**
   * Index of the valid entry of asid translating va, or -1: for each page size held,
   * ascending, the set that size's vpn indexes is searched for the tag (vpn, size,
   * asid). Kept small so that V8 inlines lookup() + find() into the caller (a call
   * that is not inlined boxes va, a double, into a new heap number). The vpn compare
   * comes first: it is almost always false, so the branch predicts well.
   */
  private find(asid: number, va: number): number {
    const vpns = this.vpn;
    const asids = this.asid;
    const sizeIdx = this.sizeIdx;
    const ways = this.ways;
    const sets = this.sets;
    const invSets = this.invSets;
    const nSizes = this.nSizes;
    const sizeInv = this.sizeInv;
    for (let k = 0; k < nSizes; k++) {
      const vpn = Math.floor(va * sizeInv[k]); // exact: multiplying by 2^-shift
      const set = (vpn - Math.floor(vpn * invSets) * sets) | 0; // vpn % sets, < 2^31
      const end = (set + 1) * ways;
      for (let i = set * ways; i < end; i++) {
        if (vpns[i] === vpn && asids[i] === asid && sizeIdx[i] === k) return i;
      }
    }
    return -1;
  }

  /**
   * Caches the translation of the page of size 2^pageShift containing va → paBase.
   * Replaces an entry for the same (asid, pageShift, page) in place; otherwise fills
   * an invalid way of the page's set, or evicts one chosen by the policy.
   */
  insert(asid: number, va: number, pageShift: number, paBase: number, perms: number): void {
    const k = pageShift >= 0 && pageShift <= MAX_PAGE_SHIFT && Number.isInteger(pageShift) ? this.sizeIndexOfShift[pageShift] : -1;
    if (k < 0) {
      throw new SimInvariantError(`tlb ${this.path}: insert with page shift ${pageShift}, not one of [${this.pageShifts.join(', ')}]`);
    }
    const size = this.sizeBytes[k];
    if (!(va >= 0 && va < 2 ** 53) || !(paBase >= 0 && paBase < 2 ** 53) || Math.floor(paBase * this.sizeInv[k]) * size !== paBase) {
      throw new SimInvariantError(`tlb ${this.path}: insert va 0x${va.toString(16)} pa 0x${paBase.toString(16)}: addresses must be in [0, 2^53) and pa aligned to 2^${pageShift}`);
    }
    if ((asid | 0) !== asid) throw new SimInvariantError(`tlb ${this.path}: asid ${asid} is not a 32-bit integer`);
    if ((perms & 0xff) !== perms) throw new SimInvariantError(`tlb ${this.path}: perms ${perms} out of range`);

    const vpn = Math.floor(va * this.sizeInv[k]);
    const set = this.setOf(vpn);
    const ways = this.ways;
    const first = set * ways;
    const end = first + ways;
    let i = -1;
    let free = -1;
    for (let j = first; j < end; j++) {
      if (!this.valid[j]) {
        if (free < 0) free = j;
      } else if (this.vpn[j] === vpn && this.sizeIdx[j] === k && this.asid[j] === asid) {
        i = j;
        break;
      }
    }
    if (i < 0) {
      if (free >= 0) {
        i = free;
        this.addValid(i);
      } else {
        i = first + this.victim(set);
        this.cEvictions.value++;
        this.cEvictionsBySize[this.sizeIdx[i]].value++;
      }
    }
    this.valid[i] = 1;
    this.asid[i] = asid;
    this.sizeIdx[i] = k;
    this.vpn[i] = vpn;
    this.vaBase[i] = vpn * size;
    this.paBase[i] = paBase;
    this.perms[i] = perms;
    this.cFills.value++;
    this.cFillsBySize[k].value++;
    const policy = this.policy;
    if (policy === LRU || policy === FIFO) this.stamp[i] = ++this.clock;
    else if (policy === PLRU) this.plruTouch(i);
  }

  /** Way to evict from a full set. */
  private victim(set: number): number {
    const ways = this.ways;
    const first = set * ways;
    switch (this.policy) {
      case LRU:
      case FIFO: {
        let best = 0;
        let bestStamp = this.stamp[first];
        for (let w = 1; w < ways; w++) {
          if (this.stamp[first + w] < bestStamp) {
            bestStamp = this.stamp[first + w];
            best = w;
          }
        }
        return best;
      }
      case PLRU: {
        const bits = this.plruBits;
        let node = 1;
        while (node < ways) node = 2 * node + bits[first + node];
        return node - ways;
      }
      case ROUND_ROBIN: {
        const w = this.rrPtr[set];
        this.rrPtr[set] = w + 1 === ways ? 0 : w + 1;
        return w;
      }
      case RANDOM:
        return this.rng.nextInt(ways);
      default:
        throw new SimInvariantError(`tlb ${this.path}: unknown policy ${this.policy}`);
    }
  }

  /** Tree-PLRU: point every node on entry i's path away from it. */
  private plruTouch(i: number): void {
    const ways = this.ways;
    if (ways === 1) return;
    const set = (i / ways) | 0;
    const w = i - set * ways;
    const bits = this.plruBits;
    const first = set * ways;
    let node = 1;
    for (let l = this.waysLog2 - 1; l >= 0; l--) {
      const b = (w >> l) & 1;
      bits[first + node] = b ^ 1;
      node = 2 * node + b;
    }
  }

  private addValid(i: number): void {
    this.validPos[i] = this.nValid;
    this.validList[this.nValid++] = i;
  }

  /** Invalidates entry i, which is at slot `slot` of the valid list. */
  private removeAt(slot: number): void {
    const i = this.validList[slot];
    const last = this.validList[--this.nValid];
    this.validList[slot] = last;
    this.validPos[last] = slot;
    this.validPos[i] = -1;
    this.valid[i] = 0;
    this.vpn[i] = -1;
    this.cInvalidated.value++;
  }

  /** Invalidates every entry. */
  invalidateAll(): void {
    this.cInvalidations.value++;
    for (let s = this.nValid - 1; s >= 0; s--) this.removeAt(s);
  }

  /** Invalidates every entry of asid. */
  invalidateAsid(asid: number): void {
    this.cInvalidations.value++;
    // Walk down so the entry swapped into slot s (from the end) has already been seen.
    for (let s = this.nValid - 1; s >= 0; s--) {
      if (this.asid[this.validList[s]] === asid) this.removeAt(s);
    }
  }

  /** Invalidates every entry whose ASID (tag) is in [first, first + count): one VMID's (walker.ts stage2Tag). */
  invalidateAsidSpan(first: number, count: number): void {
    this.cInvalidations.value++;
    const end = first + count;
    for (let s = this.nValid - 1; s >= 0; s--) {
      const a = this.asid[this.validList[s]];
      if (a >= first && a < end) this.removeAt(s);
    }
  }

  /** Invalidates every entry of asid overlapping [va, va + size), whatever its page size. */
  invalidateRange(asid: number, va: number, size: number): void {
    this.cInvalidations.value++;
    if (!(size > 0)) return;
    const end = va + size;
    for (let s = this.nValid - 1; s >= 0; s--) {
      const i = this.validList[s];
      if (this.asid[i] === asid && this.vaBase[i] < end && this.vaBase[i] + this.sizeBytes[this.sizeIdx[i]] > va) this.removeAt(s);
    }
  }

  /** Invalidates every entry of asid containing va (at most one per page size). */
  invalidatePage(asid: number, va: number): void {
    this.cInvalidations.value++;
    const ways = this.ways;
    for (let k = 0; k < this.nSizes; k++) {
      const vpn = Math.floor(va * this.sizeInv[k]);
      const first = this.setOf(vpn) * ways;
      for (let i = first; i < first + ways; i++) {
        if (this.vpn[i] === vpn && this.asid[i] === asid && this.sizeIdx[i] === k) this.removeAt(this.validPos[i]);
      }
    }
  }

  /** vpn % sets for a vpn below 2^53 (sets is a power of two), without 32-bit operators on vpn. */
  private setOf(vpn: number): number {
    return (vpn - Math.floor(vpn * this.invSets) * this.sets) | 0;
  }

  /** Index of the outstanding miss for (asid, va's smallest-size page), or -1. A hit counts mshr_merges. */
  mshrFind(asid: number, va: number): number {
    const page = Math.floor(va * this.mshrInv);
    const n = this.mshrBusy.length;
    for (let m = 0; m < n; m++) {
      if (this.mshrBusy[m] && this.mshrPage[m] === page && this.mshrAsid[m] === asid) {
        this.cMshrMerges.value++;
        return m;
      }
    }
    return -1;
  }

  /**
   * Allocates an MSHR for (asid, va's smallest-size page) and returns its index, or -1
   * (counting mshr_full) when all are busy. Throws if that page already has one.
   */
  mshrAlloc(asid: number, va: number): number {
    const page = Math.floor(va * this.mshrInv);
    const n = this.mshrBusy.length;
    let free = -1;
    for (let m = 0; m < n; m++) {
      if (!this.mshrBusy[m]) {
        if (free < 0) free = m;
      } else if (this.mshrPage[m] === page && this.mshrAsid[m] === asid) {
        throw new SimInvariantError(`tlb ${this.path}: mshrAlloc for asid ${asid} va 0x${va.toString(16)}, which MSHR ${m} already tracks`);
      }
    }
    if (free < 0) {
      this.cMshrFull.value++;
      return -1;
    }
    this.mshrBusy[free] = 1;
    this.mshrAsid[free] = asid;
    this.mshrPage[free] = page;
    this.nMshrUsed++;
    return free;
  }

  /** Frees MSHR `index` (from mshrAlloc). */
  mshrRelease(index: number): void {
    if (!(index >= 0 && index < this.mshrBusy.length && Number.isInteger(index)) || !this.mshrBusy[index]) {
      throw new SimInvariantError(`tlb ${this.path}: mshrRelease(${index}) of an MSHR that is not allocated`);
    }
    this.mshrBusy[index] = 0;
    this.nMshrUsed--;
  }
}
