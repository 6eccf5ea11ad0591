/**
 * dma_map_single + dma_unmap_single of 4 KiB through iommu-dma (issue 5 target: 200 K
 * pairs/s in strict mode). Each pair allocates an IOVA, writes the PTE through the
 * kernel's bus port, and the unmap clears it and - strict - invalidates the IOTLB range
 * with a SYNC and frees the IOVA, or - lazy - queues the IOVA on the flush queue (one
 * INVALIDATE-ASID per 255 unmaps). dma-debug is off, as in a production kernel; the
 * device (dma_smmu of test/fixtures/kernel-soc.json) is non-coherent, on a CPU without
 * a data cache, so the cache maintenance the map and unmap ask for costs nothing here.
 * Prints; never asserts.
 */
import * as path from 'path';
import { createSimContext } from '../sim/engine/context';
import { buildSoc, loadSocConfig } from '../sim/soc/builder';
import { bootPlatform } from '../drivers/platform';
import { dmaMapSingle, dmaUnmapSingle } from '../drivers/dma/mapping';
import { DMA_BIDIRECTIONAL, DMA_MAPPING_ERROR } from '../drivers/dma/types';
import { repoRoot } from './paths';
import type { BenchResult } from './result';

function runMode(strict: boolean, pairs: number): BenchResult {
  const file = path.join(repoRoot(), 'test', 'fixtures', 'kernel-soc.json');
  const soc = buildSoc(createSimContext(1), loadSocConfig(file), file);
  const platform = bootPlatform(soc, { iommuStrict: strict, dmaDebug: false });
  const dev = platform.dmaDevice('dma_smmu');
  const pa = platform.pages.allocPages(0);
  if (pa === null) throw new Error('dma bench: no page');
  const buf = platform.kcpu.physToVirt(pa);
  const loop = (n: number) => {
    for (let i = 0; i < n; i++) {
      const addr = dmaMapSingle(dev, buf, 4096, DMA_BIDIRECTIONAL);
      if (addr === DMA_MAPPING_ERROR) throw new Error('dma bench: mapping failed');
      dmaUnmapSingle(dev, addr, 4096, DMA_BIDIRECTIONAL);
    }
  };
  loop(10_000); // warm up the JIT, the page tables and the IOVA cache
  const stats = soc.ctx.stats;
  const inval0 = stats.value('kernel.smmu.pgtable.inval_cmds');
  const t0 = process.hrtime.bigint();
  loop(pairs);
  const s = Number(process.hrtime.bigint() - t0) / 1e9;
  const mode = strict ? 'strict' : 'lazy';
  return {
    name: `dma.iommu.${mode}.map_unmap_4k`, value: pairs / s / 1e3, unit: 'K pairs/s',
    note: `${((stats.value('kernel.smmu.pgtable.inval_cmds') - inval0) / pairs).toFixed(3)} invalidation commands per pair`,
  };
}

export function runDmaBench(pairs = 200_000): BenchResult[] {
  return [runMode(true, pairs), runMode(false, pairs)];
}

if (require.main === module) {
  const { formatResult } = require('./result') as typeof import('./result');
  for (const r of runDmaBench()) console.log(formatResult(r));
}
