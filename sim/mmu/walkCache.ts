import { z } from 'zod';
import type { SimContext } from '../engine/context';
import { count, Cycles, resolveParams } from '../engine/spec';
import { pageIndex } from '../engine/addr';
import type { Counter } from '../engine/stats';
import type { LevelDesc } from './format/types';

/**
 * A walk cache's parameters. That `level` is a table level of the unit's page-table
 * format is the IOMMU / CPU MMU spec's rule (it needs the format).
 */
export const WalkCacheSpec = z
  .strictObject({
    level: z.string().describe('format level whose entries (table pointers) it caches, e.g. "PD0", "L2"'),
    entries: count().describe('entries (at most 2^20)'),
    ways: count().describe('must divide entries; ways = entries is fully associative; replacement is LRU'),
    latencyCycles: Cycles,
  })
  .superRefine((p, ctx) => {
    if (p.entries % p.ways !== 0) ctx.addIssue({ code: 'custom', path: ['ways'], message: `must divide entries (${p.entries}), got ${p.ways}` });
  });

/** What the walk cache takes. */
export type WalkCacheParamsInput = z.input<typeof WalkCacheSpec>;
export type WalkCacheParams = z.output<typeof WalkCacheSpec>;

/**
 * A cache of the table pointers held by one level's entries (a "walk cache" or
 * page-walk cache). An entry at level L is keyed by (asid, va / 2^L.shift) — the VA
 * span its child table covers — and holds the child table address (and, for a dual
 * PDE, the SPT address). A hit lets a walk start below L. Only Table entries are
 * cached, never faults or leaves.
 *
 * This is the organisation of x86's paging-structure caches (Intel SDM vol. 3
 * §4.10.3.1: the PML4, PDPTE and PDE caches are keyed by VA[47:39], [47:30], [47:21]),
 * VT-d's (spec §6.2) and the SMMU TCU's per-level walk caches: a set of them, one per
 * level, probed together with the deepest hit winning, is the split "translation
 * cache" of Barr et al. (ISCA 2010) that skips levels, not a cache of PTEs by
 * physical address (AMD's page walk cache), which would save DRAM reads but no steps.
 */
export class WalkCache {
  declare readonly params: WalkCacheParams;
  readonly sets: number;
  private readonly valid: Uint8Array;
  private readonly asids: Int32Array;
  private readonly tags: Float64Array;
  private readonly addrs: Float64Array;
  private readonly addrs2: Float64Array;
  private readonly stamps: Float64Array;
  private clock = 0;
  /** Results of the last hit. */
  hitAddr = -1;
  hitAddr2 = -1;
  readonly hits: Counter;
  readonly misses: Counter;

  constructor(
    ctx: SimContext,
    readonly path: string,
    readonly level: LevelDesc,
    paramsIn: WalkCacheParamsInput,
  ) {
    const params = resolveParams(WalkCacheSpec, paramsIn, path);
    this.params = params;
    const n = params.entries;
    this.sets = n / params.ways;
    this.valid = new Uint8Array(n);
    this.asids = new Int32Array(n);
    this.tags = new Float64Array(n);
    this.addrs = new Float64Array(n);
    this.addrs2 = new Float64Array(n);
    this.stamps = new Float64Array(n);
    const s = ctx.stats.scope(path);
    this.hits = s.counter('hits', `walks that found the ${level.name} entry cached`);
    this.misses = s.counter('misses', `walks that had to read the ${level.name} entry`);
  }

  private tagOf(va: number): number {
    return pageIndex(va, this.level.shift);
  }

  /** Looks up without counting (the walker counts only the level it starts from). */
  find(asid: number, va: number): boolean {
    const tag = this.tagOf(va);
    const base = (tag % this.sets) * this.params.ways;
    for (let i = base; i < base + this.params.ways; i++) {
      if (this.valid[i] === 1 && this.tags[i] === tag && this.asids[i] === asid) {
        this.stamps[i] = ++this.clock;
        this.hitAddr = this.addrs[i];
        this.hitAddr2 = this.addrs2[i];
        return true;
      }
    }
    return false;
  }

  insert(asid: number, va: number, addr: number, addr2: number): void {
    const tag = this.tagOf(va);
    const base = (tag % this.sets) * this.params.ways;
    let victim = base;
    for (let i = base; i < base + this.params.ways; i++) {
      if (this.valid[i] === 1 && this.tags[i] === tag && this.asids[i] === asid) { victim = i; break; }
      if (this.valid[i] === 0) { victim = i; break; }
      if (this.stamps[i] < this.stamps[victim]) victim = i;
    }
    this.valid[victim] = 1;
    this.asids[victim] = asid;
    this.tags[victim] = tag;
    this.addrs[victim] = addr;
    this.addrs2[victim] = addr2;
    this.stamps[victim] = ++this.clock;
  }

  invalidateAll(): void {
    this.valid.fill(0);
  }

  invalidateAsid(asid: number): void {
    for (let i = 0; i < this.valid.length; i++) if (this.asids[i] === asid) this.valid[i] = 0;
  }

  /** Drops entries whose ASID (tag) is in [first, first + count). */
  invalidateAsidSpan(first: number, count: number): void {
    for (let i = 0; i < this.valid.length; i++) if (this.asids[i] >= first && this.asids[i] < first + count) this.valid[i] = 0;
  }

  /** Drops entries of `asid` whose VA span overlaps [va, va+size). */
  invalidateRange(asid: number, va: number, size: number): void {
    const span = 2 ** this.level.shift;
    for (let i = 0; i < this.valid.length; i++) {
      if (this.valid[i] === 0 || this.asids[i] !== asid) continue;
      const start = this.tags[i] * span;
      if (start < va + size && va < start + span) this.valid[i] = 0;
    }
  }
}
