import { runMappingsBench } from '../../bench/mappings.bench';

/**
 * The memory bench's attribution, on 64 K mappings instead of 1 M (it spawns compiled
 * children: `npm test` builds dist/ first). Not fewer: the heap a child holds varies by
 * about 1 MB from run to run (compiled code and feedback), which on 16 K mappings swung
 * the dma-debug share from 9 to 400 B per mapping and the iommu-dma share below zero;
 * on 64 K it stays within 230-330 and 75-125. The page-table share is a closed form: the
 * mappings take 64 K consecutive 4 KiB IOVAs, so they fill 128 last-level tables of 512
 * entries (plus at most one per upper level, 2 more when the range is not 2 MiB
 * aligned); every other share must be positive and of a plausible size.
 */
test('mappings bench: bytes per mapping by structure', () => {
  const n = 64 * 1024;
  const figures = new Map(runMappingsBench(n).map((r) => [r.name, r.value]));
  const tables = figures.get('mappings.bytes_per_map.page_tables')! * n / 4096;
  expect(tables).toBeGreaterThanOrEqual(n / 512);
  expect(tables).toBeLessThanOrEqual(n / 512 + 4);
  // IovaDomain: a node of 44 bytes in typed arrays grown by doubling.
  expect(figures.get('mappings.bytes_per_map.iova')!).toBeGreaterThan(40);
  expect(figures.get('mappings.bytes_per_map.iova')!).toBeLessThan(200);
  expect(figures.get('mappings.bytes_per_map.dma_debug')!).toBeGreaterThan(50);
  expect(figures.get('mappings.bytes_per_map.iommu_dma')!).toBeGreaterThan(0);
  expect(figures.get('mappings.rss')!).toBeGreaterThan(figures.get('mappings.rss_no_debug')! - 50);
}, 120_000);
