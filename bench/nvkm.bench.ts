/**
 * nvkm VMM benchmark (host speed, printed never asserted): mapping 1 GiB of GPU VA with
 * 2 MiB pages on the nv-gp100 MMU of the kernel test SoC (512 PD0 PTEs, one flush),
 * through the whole kernel path: page-table allocation from the buddy allocator, PTE
 * stores on the bus, the INVALIDATE-ASID command. Target: well under 1 s.
 *
 * Figures:
 * - nvkm.map_1g_2m.cold: the first map (page tables allocated and zeroed);
 * - nvkm.map_1g_2m.warm: map + unmap repeated (tables come from the page-table cache), best per map;
 * - nvkm.map_64m_4k: 64 MiB with 4 KiB pages (16384 SPTEs in 32 SPTs), for comparison.
 * Run compiled: `npx tsc -p tsconfig.build.json && node dist/bench/nvkm.bench.js`.
 */
import * as path from 'path';
import { createSimContext } from '../sim/engine/context';
import { buildSoc, loadSocConfig, type Soc } from '../sim/soc/builder';
import { Kernel } from '../drivers/kernel';
import { BuddyAllocator } from '../drivers/mm/buddy';
import {
  NvkmMmu,
  nvkmMemoryContig,
  nvkmVmmGet,
  nvkmVmmMap,
  nvkmVmmNew,
  nvkmVmmPut,
  nvkmVmmUnmap,
  type NvkmVma,
  type NvkmVmm,
} from '../drivers/iommu/nvkm';
import { repoRoot } from './paths';
import { formatResult, type BenchResult } from './result';

const DRAM_BASE = 0x8000_0000;
const GiB = 2 ** 30;
const MiB = 2 ** 20;
const VA_BASE = 2 ** 40;

function setUp(): { soc: Soc; vmm: NvkmVmm } {
  const file = path.join(repoRoot(), 'test', 'fixtures', 'kernel-soc.json');
  const soc = buildSoc(createSimContext(1), loadSocConfig(file), file);
  const kernel = new Kernel(soc);
  const mmu = new NvkmMmu(kernel, new BuddyAllocator(DRAM_BASE, GiB), 'bench');
  const vmm = nvkmVmmNew(mmu, soc.iommu('gpu_mmu'), VA_BASE, 4 * GiB, { name: 'bench', asid: 1 });
  if (typeof vmm === 'number') throw new Error(`nvkmVmmNew failed: ${vmm}`);
  return { soc, vmm };
}

function get(vmm: NvkmVmm, shift: number, size: number): NvkmVma {
  const v = nvkmVmmGet(vmm, shift, size);
  if (typeof v === 'number') throw new Error(`nvkmVmmGet failed: ${v}`);
  return v;
}

function seconds(fn: () => void): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

function mapOrThrow(vmm: NvkmVmm, vma: NvkmVma, shift: number): void {
  // The mapped memory is all of DRAM: PTEs only record addresses, nothing is touched.
  const ret = nvkmVmmMap(vmm, vma, null, { memory: nvkmMemoryContig('vram', DRAM_BASE, vma.size, shift) });
  if (ret) throw new Error(`nvkmVmmMap failed: ${ret}`);
}

export function runNvkmBench(): BenchResult[] {
  const results: BenchResult[] = [];
  const { soc, vmm } = setUp();
  const stats = soc.ctx.stats;
  const vma = get(vmm, 21, GiB);

  const writes0 = stats.value('kernel.bench.nvkm.entry_writes');
  const flushes0 = stats.value('kernel.bench.nvkm.flushes');
  const cold = seconds(() => mapOrThrow(vmm, vma, 21));
  const entries = stats.value('kernel.bench.nvkm.entry_writes') - writes0;
  const flushes = stats.value('kernel.bench.nvkm.flushes') - flushes0;
  results.push({
    name: 'nvkm.map_1g_2m.cold', value: cold * 1e3, unit: 'ms',
    note: `gp100, 512 × 2 MiB PTEs, ${entries} entries written, ${flushes} flush, tables allocated`,
  });

  const REPEAT = 20;
  let best = Infinity;
  let unmapBest = Infinity;
  for (let i = 0; i < REPEAT; i++) {
    unmapBest = Math.min(unmapBest, seconds(() => nvkmVmmUnmap(vmm, vma)));
    best = Math.min(best, seconds(() => mapOrThrow(vmm, vma, 21)));
  }
  results.push({ name: 'nvkm.map_1g_2m.warm', value: best * 1e3, unit: 'ms', note: `best of ${REPEAT}, tables from the page-table cache` });
  results.push({ name: 'nvkm.unmap_1g_2m', value: unmapBest * 1e3, unit: 'ms', note: `best of ${REPEAT}, tables freed to the cache` });
  nvkmVmmPut(vmm, vma);

  const small = get(vmm, 12, 64 * MiB);
  const t4k = seconds(() => mapOrThrow(vmm, small, 12));
  results.push({ name: 'nvkm.map_64m_4k', value: t4k * 1e3, unit: 'ms', note: '16384 × 4 KiB PTEs in 32 SPTs, cold' });
  nvkmVmmPut(vmm, small);
  return results;
}

if (require.main === module) for (const r of runNvkmBench()) console.log(formatResult(r));
