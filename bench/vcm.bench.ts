/**
 * VCM map + unmap of 4 KiB pages on an active IOMMU context (issue 4 target: 200 K
 * pairs/s). Each pair writes the PTE through the kernel's bus port, and the unmap
 * clears it and invalidates the IOTLB range with a SYNC, as the real driver would.
 * Prints; never asserts.
 */
import * as path from 'path';
import { createSimContext } from '../sim/engine/context';
import { buildSoc, loadSocConfig } from '../sim/soc/builder';
import { bootPlatform } from '../drivers/platform';
import { vcmActivate, vcmAlloc, vcmMap, vcmUnmap } from '../drivers/vcm';
import { repoRoot } from './paths';
import type { BenchResult } from './result';

export function runVcmBench(pairs = 200_000): BenchResult[] {
  const file = path.join(repoRoot(), 'test', 'fixtures', 'kernel-soc.json');
  const soc = buildSoc(createSimContext(1), loadSocConfig(file), file);
  const platform = bootPlatform(soc);
  const vcm = platform.deviceVcm('dma_smmu');
  vcmActivate(vcm);
  const phys = vcmAlloc(vcm, 4096, 0);
  const loop = (n: number) => {
    for (let i = 0; i < n; i++) vcmUnmap(vcmMap(vcm, phys, 0));
  };
  loop(10_000); // warm up the JIT and the page tables
  const stats = soc.ctx.stats;
  const writes0 = stats.value('kernel.mem_writes');
  const inval0 = stats.value('soc.smmu.cmd.invalidate_range');
  const t0 = process.hrtime.bigint();
  loop(pairs);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  return [{
    name: 'vcm.iommu.map_unmap_4k', value: pairs / s / 1e3, unit: 'K pairs/s',
    note: `${((stats.value('kernel.mem_writes') - writes0) / pairs).toFixed(2)} PTE stores and ${((stats.value('soc.smmu.cmd.invalidate_range') - inval0) / pairs).toFixed(2)} range invalidations per pair`,
  }];
}

if (require.main === module) {
  const { formatResult } = require('./result') as typeof import('./result');
  for (const r of runVcmBench()) console.log(formatResult(r));
}
