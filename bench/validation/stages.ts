/**
 * Validation of stage-2 and nested walks (issue 17): memory reads per walk for stage 1
 * only, stage 2 only and nested (stage 1 over stage 2), per granule and stage-2 page
 * size, with empty and warm walk caches, against the closed form.
 *
 * A nested walk translates every stage-1 table address (an IPA) with a stage-2 walk before
 * reading the stage-1 entry, and the output IPA with a final one (Arm ARM D8.2 "Stage 2
 * translation"; Bhargava et al., ASPLOS 2008, "two-dimensional page walks"):
 *     R(n', m') = n' (m' + 1) + m' = (n' + 1)(m' + 1) - 1
 * where n' is the stage-1 entries read and m' the stage-2 entries read per stage-2 walk.
 * - empty walk caches (no walk cache hits: measured without walk caches): n' = n, the
 *   stage-1 levels; m' = m, the stage-2 levels for the stage-2 page size (4 KiB pages: 4;
 *   2 MiB blocks: 3). 4 + 4 levels: 24 reads. (Caches merely invalidated before a walk
 *   fill during it: the stage-2 walk of the stage-1 root warms the stage-2 caches for the
 *   other stage-1 tables near it, so such a walk reads fewer, how many depending on where
 *   the tables lie; test/sim/mmu/nestedWalker.test.ts counts one layout: 13 for 4 + 4.)
 * - warm caches on every table level of a stage (the sweep run twice, the second pass
 *   measured; the caches hold every table pointer the sweep needs): that stage reads only
 *   its leaf, n' = 1 or m' = 1. Both warm: 3 reads.
 * Stage 1 only is R = n' (m' = 0: no stage 2); stage 2 only is R = m' (n' = 0).
 * The sweep touches P pages once each, crossing a last-level stage-1 table boundary. Guest
 * RAM is 64 MiB of IPA mapped by stage 2 to PA IPA + 0x5000_0000 (not the identity, so a
 * skipped stage would read the wrong memory and fail the walk); atomic walks against a
 * fixed-latency memory, tables built with PageTableBuilder.
 */
import { ClockDomain } from '../../sim/engine/clock';
import { createSimContext } from '../../sim/engine/context';
import { connectPorts } from '../../sim/bus/port';
import { PhysicalMemory } from '../../sim/mem/physmem';
import { SimpleMemory } from '../../sim/mem/sram';
import { armLpaeFormat, armLpaeS2Format, type ArmLpaeGranule } from '../../sim/mmu/format';
import type { PageTableFormat } from '../../sim/mmu/format/types';
import { NestedWalker } from '../../sim/mmu/nestedWalker';
import { ipaView, PageTableBuilder } from '../../sim/mmu/pageTableBuilder';
import { result, type ValidationResult } from './types';
import { PageTableWalker, stage2Tag, Walk, WalkOutcome, type WalkContext } from '../../sim/mmu/walker';

const MEM_BASE = 0x8000_0000;
const MEM_SIZE = 2 ** 30;
const IPA_BASE = 0x4000_0000;
const GUEST_SIZE = 0x400_0000;
const OFFSET = MEM_BASE + 0x1000_0000 - IPA_BASE;
const S1_ARENA_IPA = IPA_BASE + 0x200_0000;
const S2_ARENA = MEM_BASE + 0x2000_0000;
const S1_ONLY_ARENA = MEM_BASE + 0x3000_0000;
const PAGES = 64;
const VMID = 1;

export type StageConfig = 's1' | 's2' | 'nested';
/** Which stages have walk caches on every table level. */
export type CacheConfig = 'none' | 's1' | 's2' | 'both';

export interface StageCase {
  granule: ArmLpaeGranule;
  config: StageConfig;
  /** log2 of the stage-2 page size guest RAM is mapped with. */
  s2Shift: number;
  caches: CacheConfig;
}

/** Table levels of a format, as walk-cache specs (16 entries each, fully associative). */
function tableCaches(f: PageTableFormat) {
  return f.levels.filter((_l, i) => i !== f.smallLeaf).map((l) => ({ level: l.name, entries: 16, ways: 16, latencyCycles: 1 }));
}

/** The levels a walk reads of a stage-2 walk for pages of 2^s2Shift: levels above and at the leaf. */
export function stage2Levels(f: PageTableFormat, s2Shift: number): number {
  const leaf = f.levels.findIndex((l) => l.shift === s2Shift);
  return f.root - leaf + 1;
}

/** The closed form: (n' + 1)(m' + 1) - 1. */
export function nestedReads(n: number, m: number): number {
  return (n + 1) * (m + 1) - 1;
}

/** Measured reads per walk, empty (no walk caches) and warm caches, for one case. */
export function measureStageWalks(c: StageCase): { empty: number; warm: number; n: number; m: number } {
  const warm = measureSweeps(c);
  const empty = measureSweeps({ ...c, caches: 'none' });
  if (empty.first !== empty.warm) throw new Error('without walk caches every pass must read the same');
  return { empty: empty.warm, warm: warm.warm, n: warm.n, m: warm.m };
}

/** Reads per walk of a first sweep and of a third (after one more to warm the caches). */
function measureSweeps(c: StageCase): { first: number; warm: number; n: number; m: number } {
  const s1f = armLpaeFormat(c.granule);
  const s2f = armLpaeS2Format(c.granule);
  const ctx = createSimContext(1);
  const clock = new ClockDomain('sys', 1e9);
  const physmem = new PhysicalMemory();
  const memory = new SimpleMemory(ctx, 'soc.mem', clock, { base: MEM_BASE, size: MEM_SIZE }, physmem, { latencyCycles: 20, bytesPerCycle: 32, queueDepth: 64 });
  const s1Caches = c.caches === 's1' || c.caches === 'both';
  const s2Caches = c.caches === 's2' || c.caches === 'both';
  const walker = new PageTableWalker(ctx, 'soc.smmu.walker', clock, 100, s1f, { slots: 1, stepCycles: 1, walkCaches: s1Caches ? tableCaches(s1f) : [] });
  connectPorts(walker.port, memory.port);
  const nested = new NestedWalker(ctx, 'soc.smmu.walker', clock, 100, walker, s2f, { slots: 1, stepCycles: 1, stage2WalkCaches: s2Caches ? tableCaches(s2f) : [] });
  walker.foreign = nested;

  const granule = c.granule;
  const perTable = 2 ** s1f.levels[s1f.smallLeaf].indexBits;
  // PAGES pages around a last-level table boundary, in the middle of the input range.
  const vaBase = 2 ** 40 + perTable * granule - (PAGES / 2) * granule;
  const dataIpa = IPA_BASE + 0x100_0000;
  let wctx: WalkContext;
  let va0 = vaBase;
  if (c.config === 's1') {
    const t = new PageTableBuilder(physmem, s1f, S1_ONLY_ARENA);
    for (let i = 0; i < PAGES; i++) t.map(vaBase + i * granule, MEM_BASE + (i % 16) * granule, Math.log2(granule));
    wctx = { format: s1f, root: t.root, asid: 1 };
  } else {
    const s2 = new PageTableBuilder(physmem, s2f, S2_ARENA);
    for (let ipa = IPA_BASE; ipa < IPA_BASE + GUEST_SIZE; ipa += 2 ** c.s2Shift) s2.map(ipa, ipa + OFFSET, c.s2Shift);
    if (c.config === 's2') {
      va0 = dataIpa;
      wctx = { format: s1f, root: 0, asid: stage2Tag(VMID, 0), stage2: { format: s2f, root: s2.root, vmid: VMID, nested: false } };
    } else {
      const s1 = new PageTableBuilder(ipaView(physmem, OFFSET), s1f, S1_ARENA_IPA);
      for (let i = 0; i < PAGES; i++) s1.map(vaBase + i * granule, dataIpa + (i % 16) * granule, Math.log2(granule));
      wctx = { format: s1f, root: s1.root, asid: stage2Tag(VMID, 1), stage2: { format: s2f, root: s2.root, vmid: VMID, nested: true } };
    }
  }
  const walk = new Walk();
  const reads = () => ctx.stats.value('soc.smmu.walker.mem_reads');
  const sweep = (): number => {
    const before = reads();
    for (let i = 0; i < PAGES; i++) {
      const va = va0 + i * granule + 64;
      if (c.config === 's1') walker.walkAtomic(wctx, va, walk);
      else nested.walkAtomic(wctx, va, walk);
      if (walk.outcome !== WalkOutcome.Page) throw new Error(`${c.config} ${s1f.name}: walk of page ${i} did not translate (${walk.faultLevel})`);
      const expectPa = c.config === 's1' ? MEM_BASE + (i % 16) * granule + 64 : (c.config === 's2' ? va : dataIpa + (i % 16) * granule + 64) + OFFSET;
      if (walk.paBase + (va % 2 ** walk.pageShift) !== expectPa) throw new Error(`${c.config} ${s1f.name}: page ${i} translated to the wrong PA`);
    }
    return (reads() - before) / PAGES;
  };
  const first = sweep();
  sweep(); // warms the walk caches
  const warm = sweep();
  const n = c.config === 's2' ? 0 : s1f.levels.length;
  const m = c.config === 's1' ? 0 : stage2Levels(s2f, c.s2Shift);
  return { first, warm, n, m };
}

/** The closed form for a case: empty and warm reads per walk. */
export function expectedStageReads(c: StageCase, n: number, m: number): { empty: number; warm: number } {
  const warmN = n === 0 ? 0 : c.caches === 's1' || c.caches === 'both' ? 1 : n;
  const warmM = m === 0 ? 0 : c.caches === 's2' || c.caches === 'both' ? 1 : m;
  return { empty: nestedReads(n, m), warm: nestedReads(warmN, warmM) };
}

/** The cases the validation runs: stage 1 only, stage 2 only and nested, per granule and stage-2 page size, per cache configuration. */
export const STAGE_CASES: readonly StageCase[] = [
  { granule: 0x1000, config: 's1', s2Shift: 12, caches: 'both' },
  { granule: 0x1000, config: 's2', s2Shift: 12, caches: 'both' },
  { granule: 0x1000, config: 's2', s2Shift: 21, caches: 'both' },
  { granule: 0x1000, config: 'nested', s2Shift: 12, caches: 'both' },
  { granule: 0x1000, config: 'nested', s2Shift: 12, caches: 's1' },
  { granule: 0x1000, config: 'nested', s2Shift: 12, caches: 's2' },
  { granule: 0x1000, config: 'nested', s2Shift: 21, caches: 'both' },
  { granule: 0x4000, config: 'nested', s2Shift: 14, caches: 'both' },
  { granule: 0x4000, config: 'nested', s2Shift: 25, caches: 'both' },
  { granule: 0x1_0000, config: 'nested', s2Shift: 16, caches: 'both' },
];

function caseName(c: StageCase): string {
  const g = `${c.granule / 1024}k`;
  const s2 = c.config === 's1' ? '' : `.s2pg${2 ** c.s2Shift >= 2 ** 20 ? `${2 ** (c.s2Shift - 20)}m` : `${2 ** (c.s2Shift - 10)}k`}`;
  return `walk.stage.${c.config}.${g}${s2}`;
}

/**
 * Rows `walk.stage.<s1|s2|nested>.<granule>[.s2pg<size>].<empty|warm[-s1|-s2]>`: reads per walk
 * against R = (n' + 1)(m' + 1) - 1.
 */
export function validateStageWalks(): ValidationResult[] {
  const out: ValidationResult[] = [];
  for (const c of STAGE_CASES) {
    const m = measureStageWalks(c);
    const e = expectedStageReads(c, m.n, m.m);
    const name = caseName(c);
    const where = `${c.config === 's1' ? 'stage 1 only' : c.config === 's2' ? 'stage 2 only' : 'nested'}, ${c.granule / 1024} KiB granule, n = ${m.n} stage-1 and m = ${m.m} stage-2 levels, P = ${PAGES} pages`;
    const warmTag = c.caches === 'both' ? 'warm' : `warm-${c.caches}`;
    if (c.caches === 'both') {
      out.push(result(`${name}.empty`, e.empty, m.empty, `${where}, no walk-cache hits: (n + 1)(m + 1) - 1 = ${e.empty} reads per walk`));
    }
    const which = c.caches !== 'both' ? (c.caches === 's1' ? 'stage 1 only (stage 2 reads every level)' : 'stage 2 only (stage 1 reads every level)')
      : c.config === 'nested' ? 'both stages' : 'its stage';
    out.push(result(`${name}.${warmTag}`, e.warm, m.warm, `${where}, second pass with warm walk caches on every table level of ${which}: ${e.warm} reads per walk`));
  }
  return out;
}
