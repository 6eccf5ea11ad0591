import type { SimContext } from '../engine/context';
import { SimInvariantError } from '../engine/errors';
import { pageIndex } from '../engine/addr';
import type { Counter } from '../engine/stats';
import type { LevelDesc } from './format/types';

export interface WalkCacheParams {
  /** Name of the format level whose entries (PDEs) it caches, e.g. `PD0`, `L2`. */
  level: string;
  entries: number;
  /** ways = entries is fully associative. Replacement is LRU. */
  ways: number;
  latencyCycles: number;
}

export function validateWalkCacheParams(p: WalkCacheParams): string | null {
  if (!Number.isInteger(p.entries) || p.entries < 1) return `entries: must be a positive integer, got ${p.entries}`;
  if (!Number.isInteger(p.ways) || p.ways < 1 || p.entries % p.ways !== 0) {
    return `ways: must divide entries (${p.entries}), got ${p.ways}`;
  }
  if (!Number.isInteger(p.latencyCycles) || p.latencyCycles < 0) return `latencyCycles: must be a non-negative integer, got ${p.latencyCycles}`;
  return null;
}

/**
 * A cache of the table pointers held by one level's entries (a "walk cache" or
 * page-walk cache). An entry at level L is keyed by (asid, va / 2^L.shift) — the VA
 * span its child table covers — and holds the child table address (and, for a dual
 * PDE, the SPT address). A hit lets a walk start below L. Only Table entries are
 * cached, never faults or leaves.
 */
export class WalkCache {
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
    readonly params: WalkCacheParams,
  ) {
    const bad = validateWalkCacheParams(params);
    if (bad) throw new SimInvariantError(`${path}: ${bad}`);
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
