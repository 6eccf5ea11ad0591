/**
 * Validation of the Arm LPAE granules (issue 17): page-walk memory reads per walk for the
 * 4 KiB, 16 KiB and 64 KiB granules and every input-address size Linux's io-pgtable
 * selftest uses (32, 36, 40, 42, 44, 48 bits), against the closed form.
 *
 * A walk of a page mapped at the last level reads one descriptor per level, and the levels
 * an input size needs are (Arm ARM D8.2; arm_lpae_alloc_pgtable):
 *     L(G, ias) = ceil((ias - log2 G) / (log2 G - 3))
 * (log2 G - 3 index bits per level: a table is one granule of 8-byte descriptors).
 * - empty walk caches (a cache of table pointers on every table level, invalidated before
 *   each walk): L reads per walk;
 * - warm walk caches (the same sweep run twice; the second pass is measured, and the
 *   caches hold every table the sweep uses): 1 read per walk, the leaf.
 * The sweep touches P pages once each, crossing at least two last-level tables, at the top
 * of the input range. The walker runs atomic walks against a fixed-latency memory holding
 * tables built with PageTableBuilder.
 */
import { ClockDomain } from '../../sim/engine/clock';
import { createSimContext } from '../../sim/engine/context';
import { connectPorts } from '../../sim/bus/port';
import { PhysicalMemory } from '../../sim/mem/physmem';
import { SimpleMemory } from '../../sim/mem/sram';
import { armLpaeFormat, ARM_LPAE_GRANULES, type ArmLpaeGranule } from '../../sim/mmu/format';
import { PageTableBuilder } from '../../sim/mmu/pageTableBuilder';
import { result, type ValidationResult } from './types';
import { PageTableWalker, Walk, WalkOutcome } from '../../sim/mmu/walker';


/** The input sizes of Linux's io-pgtable selftest (arm_lpae_do_selftests). */
export const GRANULE_INPUT_SIZES: readonly number[] = [32, 36, 40, 42, 44, 48];

const MEM_BASE = 0x8000_0000;
const MEM_SIZE = 2 ** 30;

/** The closed form: levels a walk reads for `granule` and `ias` input bits. */
export function lpaeLevels(granule: number, ias: number): number {
  const pgShift = Math.log2(granule);
  return Math.ceil((ias - pgShift) / (pgShift - 3));
}

/** Measured reads per walk (empty and warm walk caches) for one granule and input size. */
export function measureGranuleWalks(granule: ArmLpaeGranule, ias: number): { pages: number; empty: number; warm: number } {
  const format = armLpaeFormat(granule, ias);
  const ctx = createSimContext(1);
  const clock = new ClockDomain('sys', 1e9);
  const physmem = new PhysicalMemory();
  const memory = new SimpleMemory(ctx, 'soc.mem', clock, { base: MEM_BASE, size: MEM_SIZE }, physmem, { latencyCycles: 20, bytesPerCycle: 32, queueDepth: 64 });
  const tableLevels = format.levels.filter((_l, i) => i !== format.smallLeaf);
  const walker = new PageTableWalker(ctx, 'soc.smmu.walker', clock, 100, format, {
    slots: 1, stepCycles: 1, walkCaches: tableLevels.map((l) => ({ level: l.name, entries: 16, ways: 16, latencyCycles: 1 })),
  });
  connectPorts(walker.port, memory.port);
  const tables = new PageTableBuilder(physmem, format, MEM_BASE + 0x100_0000);
  // Two and a half last-level tables' worth of pages, ending at the top of the input range.
  const perTable = 2 ** format.levels[format.smallLeaf].indexBits;
  const pages = 2 * perTable + perTable / 2;
  const vaBase = 2 ** ias - pages * granule;
  for (let i = 0; i < pages; i++) tables.map(vaBase + i * granule, MEM_BASE + (i % 16) * granule, Math.log2(granule));
  const wctx = { format, root: tables.root, asid: 1 };
  const walk = new Walk();
  const reads = () => ctx.stats.value('soc.smmu.walker.mem_reads');
  const sweep = (invalidate: boolean): number => {
    const before = reads();
    for (let i = 0; i < pages; i++) {
      if (invalidate) walker.invalidateAll();
      walker.walkAtomic(wctx, vaBase + i * granule + 64, walk);
      if (walk.outcome !== WalkOutcome.Page) throw new Error(`${format.name}: walk of page ${i} did not translate`);
    }
    return (reads() - before) / pages;
  };
  const empty = sweep(true);
  sweep(false); // warms the walk caches
  const warm = sweep(false);
  return { pages, empty, warm };
}

/** Rows `walk.granule.<4k|16k|64k>.va<ias>.<empty|warm>`: reads per walk against the closed form. */
export function validateGranuleWalks(): ValidationResult[] {
  const out: ValidationResult[] = [];
  for (const granule of ARM_LPAE_GRANULES) {
    for (const ias of GRANULE_INPUT_SIZES) {
      const m = measureGranuleWalks(granule, ias);
      const levels = lpaeLevels(granule, ias);
      const g = `${granule / 1024}k`;
      const where = `arm-lpae-${g}, ${ias}-bit input, P = ${m.pages} pages touched once`;
      out.push(result(`walk.granule.${g}.va${ias}.empty`, levels, m.empty, `${where}, walk caches invalidated before each walk: L = ceil((ias - log2 G) / (log2 G - 3)) = ${levels} reads per walk`));
      out.push(result(`walk.granule.${g}.va${ias}.warm`, 1, m.warm, `${where}, second pass with warm walk caches on every table level: 1 read per walk (the leaf)`));
    }
  }
  return out;
}
