/**
 * Validation benches (issue 7 item 4, part 3): socsim against closed-form results.
 * Each case prints `name: expected X, socsim Y, error Z%` (relative error); the test
 * (test/bench/validation.test.ts) requires every error to be below 2%.
 *
 * (a) TLB hit rate (sim/mmu/tlb.ts directly, stats counters before/after a warm-up).
 *     - Uniform random over N pages (the independent reference model): every page is
 *       equally likely, so whatever a full set holds, a reference to a set with k_s
 *       pages and W ways hits with probability min(W, k_s) / k_s, and the hit rate is
 *       sum_s min(W, k_s) / N (= C / N when N is a multiple of the sets). This holds for
 *       every replacement policy; the cases use LRU, plus PLRU, FIFO and random.
 *     - Cyclic sweep over N pages with LRU: a set whose k_s pages fit (k_s <= W) always
 *       hits after the first pass, a set with k_s > W never hits (LRU evicts the page
 *       needed next), so the hit rate is sum_{s: k_s <= W} k_s / N.
 *     - 2 MiB pages in a TLB that holds 4 KiB and 2 MiB: uniform over M large pages, C/M.
 * (b) Page-walk memory reads on a small SoC (crossbar + DRAM + IOMMU, timing mode): a
 *     traffic generator touches P pages once each (one outstanding access, so walks do
 *     not overlap), 4-level arm-lpae-4k tables built with test/helpers/pageTableBuilder,
 *     1-entry TLBs so every access walks. With R = number of 2 MiB regions swept:
 *     - no walk caches: 4 reads per walk, 4P;
 *     - an L2 walk cache covering the footprint: the first walk of each region reads 4,
 *       the others 1 (the L3 entry): P + 3R;
 *     - L0, L1 and L2 walk caches: the first walk reads 4, the first of each later region
 *       2 (L2 and L3 entries, the L1 cache giving the L2 table), the others 1: P + R + 2.
 * (c) DRAM row-hit rate of one sequential read stream on a small SoC (crossbar + DRAM,
 *     a direct-mapped traffic generator, "row:bank:channel:column" so a row is
 *     contiguous): every row opens once (a miss or a conflict) and its other
 *     rowBytes/burstBytes - 1 bursts hit: (rowBytes/burstBytes - 1) / (rowBytes/burstBytes).
 *
 * (d) DRAM timing (bench/validation/dram.ts): idle hit/miss/conflict latency, peak
 *     bandwidth per channel, refresh overhead and the tFAW bound, DDR4-3200 preset.
 *
 * Run: `npx ts-node bench/validation.ts` (exit code 1 if an error reaches 2%).
 */
import { createSimContext } from '../sim/engine/context';
import { Rng } from '../sim/engine/rng';
import { Perm } from '../sim/mmu/perms';
import { Tlb, type Replacement, type TlbParams } from '../sim/mmu/tlb';
import { getFormat } from '../sim/mmu/format';
import type { Soc } from '../sim/soc/builder';
import { buildValidationSoc, runTraffic } from './validation/rig';
import { PageTableBuilder } from '../sim/mmu/pageTableBuilder';
import { validateGranuleWalks } from './validation/granules';
import { validateStageWalks } from './validation/stages';
import { runPcieValidation } from './validation/pcie';
import { validateDramTiming } from './validation/dram';
import { result, type ValidationResult } from './validation/types';

export type { ValidationResult } from './validation/types';

/** The bound the test asserts (2%). */
export const MAX_RELATIVE_ERROR = 0.02;

const fmt = (v: number): string => (Number.isInteger(v) ? String(v) : v.toFixed(6));

/** `name: expected X, socsim Y, error Z%  (note)` */
export function formatValidation(r: ValidationResult): string {
  return `${r.name}: expected ${fmt(r.expected)}, socsim ${fmt(r.actual)}, error ${(r.error * 100).toFixed(3)}%  (${r.note})`;
}

// ---------------------------------------------------------------------------------
// (a) TLB hit rates

const K4 = 4096;
const M2 = 2 ** 21;
const VA_BASE = 2 ** 40; // above 2^32: the real number paths
const PA_BASE = 2 ** 44;

interface TlbCase {
  name: string;
  entries: number;
  ways: number;
  replacement: Replacement;
  pages: number;
  pattern: 'uniform' | 'cyclic';
  pageShift: 12 | 21;
}

/** Pages of set s when N consecutive pages are spread over `sets` sets (page i in set i mod sets). */
function pagesPerSet(n: number, sets: number): number[] {
  return Array.from({ length: sets }, (_, s) => Math.floor(n / sets) + (s < n % sets ? 1 : 0));
}

function expectedTlbHitRate(c: TlbCase): number {
  const sets = c.entries / c.ways;
  const k = pagesPerSet(c.pages, sets);
  if (c.pattern === 'uniform') return k.reduce((a, ks) => a + Math.min(c.ways, ks), 0) / c.pages;
  return k.reduce((a, ks) => a + (ks <= c.ways ? ks : 0), 0) / c.pages;
}

function measureTlbHitRate(c: TlbCase, lookups: number): number {
  const ctx = createSimContext(7);
  const params: TlbParams = {
    entries: c.entries, ways: c.ways, replacement: c.replacement, latencyCycles: 1,
    pageSizes: c.pageShift === 21 ? [2 ** 12, 2 ** 21] : [2 ** 12], mshrs: 4,
  };
  const path = `validation.tlb.${c.name}`;
  const tlb = new Tlb(ctx, path, params);
  const rng = new Rng(20240607).fork(c.name);
  const size = 2 ** c.pageShift;
  const uniform = c.pattern === 'uniform';
  let i = 0;
  const step = (): void => {
    // One draw per lookup: the page from its low bits (bias < pages / 2^32), the
    // 64-byte line within the page from its top 6 bits.
    const u = rng.nextU32();
    const page = uniform ? u % c.pages : i++ % c.pages;
    const base = VA_BASE + page * size;
    if (!tlb.lookup(1, base + (u >>> 26) * 64)) tlb.insert(1, base, c.pageShift, PA_BASE + page * size, Perm.Read);
  };
  for (let w = 0; w < 20 * c.pages; w++) step(); // warm-up: fill every set
  const hits0 = ctx.stats.value(`${path}.hits`);
  const lookups0 = ctx.stats.value(`${path}.lookups`);
  for (let n = 0; n < lookups; n++) step();
  return (ctx.stats.value(`${path}.hits`) - hits0) / (ctx.stats.value(`${path}.lookups`) - lookups0);
}

export const TLB_CASES: readonly TlbCase[] = [
  { name: 'tlb.lru.fa32.uniform128', entries: 32, ways: 32, replacement: 'lru', pages: 128, pattern: 'uniform', pageShift: 12 },
  { name: 'tlb.lru.4way64.uniform96', entries: 64, ways: 4, replacement: 'lru', pages: 96, pattern: 'uniform', pageShift: 12 },
  { name: 'tlb.lru.4way64.uniform72', entries: 64, ways: 4, replacement: 'lru', pages: 72, pattern: 'uniform', pageShift: 12 },
  { name: 'tlb.plru.8way512.uniform1024', entries: 512, ways: 8, replacement: 'plru', pages: 1024, pattern: 'uniform', pageShift: 12 },
  { name: 'tlb.fifo.4way64.uniform256', entries: 64, ways: 4, replacement: 'fifo', pages: 256, pattern: 'uniform', pageShift: 12 },
  { name: 'tlb.random.4way64.uniform160', entries: 64, ways: 4, replacement: 'random', pages: 160, pattern: 'uniform', pageShift: 12 },
  { name: 'tlb.lru.4way64.2MiB.uniform128', entries: 64, ways: 4, replacement: 'lru', pages: 128, pattern: 'uniform', pageShift: 21 },
  { name: 'tlb.lru.4way64.cyclic72', entries: 64, ways: 4, replacement: 'lru', pages: 72, pattern: 'cyclic', pageShift: 12 },
  { name: 'tlb.lru.2way16.cyclic20', entries: 16, ways: 2, replacement: 'lru', pages: 20, pattern: 'cyclic', pageShift: 12 },
];

export function validateTlbHitRates(lookups = 1_000_000): ValidationResult[] {
  return TLB_CASES.map((c) => {
    const sets = c.entries / c.ways;
    const form = c.pattern === 'uniform'
      ? (c.pages % sets === 0 ? `C/N = ${c.entries}/${c.pages}` : `sum_s min(W, k_s)/N, N = ${c.pages}, ${sets} sets`)
      : `sum over sets with k_s <= ${c.ways} of k_s/N, N = ${c.pages}, ${sets} sets`;
    const note = `${c.entries} entries ${c.ways === c.entries ? 'fully associative' : `${c.ways}-way`} ${c.replacement}, ${c.pattern} over ${c.pages} ${c.pageShift === 21 ? '2MiB' : '4KiB'} pages, ${lookups} lookups: ${form}`;
    return result(c.name, expectedTlbHitRate(c), measureTlbHitRate(c, lookups), note);
  });
}

// ---------------------------------------------------------------------------------
// Small SoCs for (b) and (c)

const DRAM_BASE = 0x8000_0000;
const DRAM_SIZE = 2 ** 30;

interface DramShape { banks: number; rowBytes: number; burstBytes: number }

/** One crossbar, one DDR4-3200-like channel, a traffic generator (direct, or behind `smmu`). */
function smallSoc(dram: DramShape, iommu: null | { walkCaches: string[] }, maxOutstanding: number): Soc {
  const tlb = { entries: 1, ways: 1, replacement: 'lru', latencyCycles: 1, pageSizes: ['4KiB'], mshrs: 1 };
  const cfg = {
    name: 'validation',
    clocks: { sys: '1GHz', dram: '1600MHz' },
    memories: [{
      name: 'dram', kind: 'dram', base: DRAM_BASE, size: DRAM_SIZE, bus: 'xbar', clock: 'dram',
      channels: 1, banks: dram.banks, rowBytes: dram.rowBytes, burstBytes: dram.burstBytes, mapping: 'row:bank:channel:column',
      queueDepth: 32, timing: { tRCD: 13.75, tCL: 13.75, tRP: 13.75, tRAS: 32, tBURST: 2.5 },
    }],
    buses: [{ name: 'xbar', clock: 'sys', widthBytes: 32, latencyCycles: 2, arbitration: 'round-robin', inputQueueDepth: 8, maxOutstandingPerMaster: 0 }],
    iommus: iommu ? [{
      name: 'smmu', bus: 'xbar', clock: 'sys', format: 'arm-lpae-4k', l1Tlb: tlb, l2Tlb: { ...tlb, latencyCycles: 3 },
      walker: { slots: 1, stepCycles: 1, walkCaches: iommu.walkCaches.map((level) => ({ level, entries: 16, ways: 16, latencyCycles: 1 })) },
      commandCycles: { invalidateAll: 100, invalidateAsid: 50, invalidateRange: 20, sync: 10 },
    }] : [],
    devices: [{
      name: 'tg', kind: 'traffic', bus: 'xbar', clock: 'sys', maxOutstanding,
      translation: iommu ? { kind: 'iommu', iommu: 'smmu', streamId: 0 } : { kind: 'direct' },
    }],
  };
  return buildValidationSoc(cfg, '<bench/validation.ts>');
}


// ---------------------------------------------------------------------------------
// (b) Page-walk reads

interface WalkCase { name: string; walkCaches: string[]; expected: (pages: number, regions: number) => number; form: string }

export const WALK_CASES: readonly WalkCase[] = [
  { name: 'walk.lpae4k.no_walk_cache', walkCaches: [], expected: (p) => 4 * p, form: '4 reads per walk: 4P' },
  { name: 'walk.lpae4k.l2_walk_cache', walkCaches: ['L2'], expected: (p, r) => p + 3 * r, form: '1 read per walk after the first of each 2 MiB region: P + 3R' },
  { name: 'walk.lpae4k.l0_l1_l2_walk_caches', walkCaches: ['L0', 'L1', 'L2'], expected: (p, r) => p + r + 2, form: '4 reads, then 2 per new 2 MiB region, else 1: P + R + 2' },
];

/** Walker memory reads for a sweep touching `pages` 4 KiB pages once each. */
export function measureWalkReads(walkCaches: string[], pages: number): { walks: number; reads: number } {
  const soc = smallSoc({ banks: 16, rowBytes: 8192, burstBytes: 64 }, { walkCaches }, 1);
  const lpae = getFormat('arm-lpae-4k');
  const tables = new PageTableBuilder(soc.physmem, lpae, DRAM_BASE + 0x0010_0000);
  const vaBase = 0x4000_0000; // 1 GiB aligned: the sweep starts a 2 MiB region
  const paBase = DRAM_BASE + 0x1000_0000;
  for (let i = 0; i < pages; i++) tables.map(vaBase + i * K4, paBase + i * K4, 12);
  soc.iommu('smmu').setStreamContext(0, { format: lpae, root: tables.root, asid: 1, mode: 'translate', privileged: false, allowRead: true, allowWrite: true });
  // Strided by a page with 64-byte accesses: access i reads the first 64 bytes of page i.
  runTraffic(soc, { kind: 'strided', base: vaBase, accessBytes: 64, footprint: pages * K4, strideBytes: K4, accesses: pages }, 'validation');
  const st = soc.ctx.stats;
  return { walks: st.value('soc.smmu.walker.walks'), reads: st.value('soc.smmu.walker.mem_reads') };
}

export function validateWalkReads(pages = 2560): ValidationResult[] {
  const regions = Math.ceil(pages * K4 / M2);
  return WALK_CASES.map((c) => {
    const m = measureWalkReads(c.walkCaches, pages);
    if (m.walks !== pages) throw new Error(`${c.name}: expected a walk per page (${pages}), got ${m.walks}`);
    const caches = c.walkCaches.length ? `walk caches ${c.walkCaches.join(', ')}` : 'no walk caches';
    return result(c.name, c.expected(pages, regions), m.reads,
      `arm-lpae-4k, ${caches}, P = ${pages} pages touched once, R = ${regions} regions, ${m.walks} walks, ${(m.reads / m.walks).toFixed(4)} reads per walk: ${c.form}`);
  });
}

// ---------------------------------------------------------------------------------
// (c) DRAM row hits

interface RowCase { name: string; dram: DramShape; accessBytes: number; rows: number }

export const ROW_CASES: readonly RowCase[] = [
  { name: 'dram.row_hit.seq.1bank.2KiB_row.64B_burst', dram: { banks: 1, rowBytes: 2048, burstBytes: 64 }, accessBytes: 64, rows: 256 },
  { name: 'dram.row_hit.seq.8banks.1KiB_row.64B_burst', dram: { banks: 8, rowBytes: 1024, burstBytes: 64 }, accessBytes: 64, rows: 512 },
  { name: 'dram.row_hit.seq.16banks.8KiB_row.32B_burst.128B_access', dram: { banks: 16, rowBytes: 8192, burstBytes: 32 }, accessBytes: 128, rows: 64 },
];

export function measureRowHitRate(c: RowCase): number {
  const soc = smallSoc(c.dram, null, 16);
  const bytes = c.rows * c.dram.rowBytes;
  runTraffic(soc, { kind: 'sequential', base: DRAM_BASE, accessBytes: c.accessBytes, footprint: bytes, accesses: bytes / c.accessBytes }, 'validation');
  return soc.ctx.stats.value('soc.dram.row_hit_rate');
}

export function validateRowHits(): ValidationResult[] {
  return ROW_CASES.map((c) => {
    const n = c.dram.rowBytes / c.dram.burstBytes;
    return result(c.name, (n - 1) / n, measureRowHitRate(c),
      `one sequential read stream over ${c.rows} rows, ${c.accessBytes}-byte accesses, ${c.dram.banks} bank(s): (rowBytes/burstBytes - 1)/(rowBytes/burstBytes), rowBytes/burstBytes = ${n}`);
  });
}

// ---------------------------------------------------------------------------------

export interface ValidationOptions {
  /** Measured lookups per TLB case (after the warm-up); default 1 M (sampling error ~0.1-0.3%). */
  tlbLookups?: number;
  /** Pages the walk sweeps touch; default 2560 (5 regions of 2 MiB). */
  walkPages?: number;
}

/** Every validation case, (a) to (d), then the LPAE granules and stages (validation/granules.ts, stages.ts) and the PCIe rows (validation/pcie.ts). */
export function runValidation(opts: ValidationOptions = {}): ValidationResult[] {
  return [...validateTlbHitRates(opts.tlbLookups), ...validateWalkReads(opts.walkPages), ...validateRowHits(), ...validateDramTiming(), ...validateGranuleWalks(), ...validateStageWalks(), ...runPcieValidation()];
}

if (require.main === module) {
  const results = runValidation();
  for (const r of results) console.log(formatValidation(r));
  const bad = results.filter((r) => !(r.error < MAX_RELATIVE_ERROR));
  console.log(bad.length === 0 ? `all ${results.length} within ${MAX_RELATIVE_ERROR * 100}%` : `${bad.length} of ${results.length} outside ${MAX_RELATIVE_ERROR * 100}%: ${bad.map((r) => r.name).join(', ')}`);
  if (bad.length) process.exitCode = 1;
}
