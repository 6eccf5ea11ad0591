import { pageTableSections, REPORT_MAX_RUNS, sizeText } from '../../report/pageTableReport';
import type { PageTablesContext, PageTablesDoc } from '../../scenario/pageTables';

/** The report's page-table section from a pagetables.json document: runs truncated with a count, sparse ranges apart, occupancy from the levels. */

function context(runs: number, listed: number, sparse: number): PageTablesContext {
  return {
    name: 'gpu_mmu stream 0 (gpu)', unit: 'gpu_mmu', kind: 'iommu-stream', stream_id: 0, device: 'gpu', asid: 1, format: 'nv-gp100', root: '0x1000',
    mapped_bytes: runs * 8192, page_sizes: [{ page_size: 4096, pages: runs, bytes: runs * 4096 }], run_count: runs,
    runs: Array.from({ length: listed }, (_, i) => ({ va: `0x${(0x100000 + i * 0x2000).toString(16)}`, pa: '0x80000000', bytes: 4096, page_size: 4096, pages: 1, attrs: 'rw' })),
    sparse_bytes: sparse * 65536, sparse_run_count: sparse,
    sparse: Array.from({ length: sparse }, (_, i) => ({ va: `0x${(0x4000000 + i * 0x20000).toString(16)}`, bytes: 65536, entries: 1 })),
    levels: [
      { level: 'PD0', entries_per_table: 256, table_bytes: 4096, tables: 1, valid_entries: 1, sparse_entries: 2, blocked_entries: 0, valid_per_table: { min: 1, mean: 1, max: 1 } },
      { level: 'LPT', entries_per_table: 32, table_bytes: 256, tables: 0, valid_entries: 0, sparse_entries: 0, blocked_entries: 0, valid_per_table: { min: 0, mean: 0, max: 0 } },
      { level: 'SPT', entries_per_table: 512, table_bytes: 4096, tables: 2, valid_entries: 600, sparse_entries: 0, blocked_entries: 0, valid_per_table: { min: 88, mean: 300, max: 512 } },
    ],
  };
}

test('runs beyond the report limit are counted in a last row; sparse ranges have their own table; empty levels are left out', () => {
  const doc: PageTablesDoc = { format: 'socsim-pagetables', version: 1, note: '', max_runs: 60, contexts: [context(75, 60, 2)] };
  const [s] = pageTableSections(doc);
  const [summary, runs, sparse, occupancy] = s.tables;
  expect(summary.rows[0].find((c) => c.stat?.endsWith('.run_count'))?.value).toBe(75);
  expect(runs.rows).toHaveLength(REPORT_MAX_RUNS + 1);
  expect(runs.rows[REPORT_MAX_RUNS][0].text).toBe(`… ${75 - REPORT_MAX_RUNS} more runs (pagetables.json lists 60 of 75)`);
  expect(runs.rows[1][0].text).toBe('0x102000 – 0x103000');
  expect(sparse.rows.map((r) => r[0].text)).toEqual(['0x4000000 – 0x4010000', '0x4020000 – 0x4030000']);
  expect(occupancy.rows.map((r) => r[0].text)).toEqual(['PD0', 'SPT']);
  const fill = occupancy.rows[1].find((c) => c.stat?.includes('valid_entries / '));
  expect(fill?.value).toBe(600 / 1024);
  // The chart stacks valid, sparse and empty entries of each level, shares summing to 1.
  const values = (s.charts[0].spec.data as { values: { level: string; part: string; share: number }[] }).values;
  for (const level of ['PD0 (1 table)', 'SPT (2 tables)']) {
    expect(values.filter((v) => v.level === level).reduce((a, v) => a + v.share, 0)).toBeCloseTo(1, 12);
  }
  expect(values.find((v) => v.level === 'PD0 (1 table)' && v.part === 'sparse')?.share).toBe(2 / 256);
});

test('no pagetables.json: no section; sizes in the largest exact binary unit', () => {
  expect(pageTableSections(null)).toEqual([]);
  expect([sizeText(16 * 2 ** 20), sizeText(4096), sizeText(4097), sizeText(0), sizeText(3 * 2 ** 30)]).toEqual(['16 MiB', '4 KiB', '4097 B', '0 B', '3 GiB']);
});
