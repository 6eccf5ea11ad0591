import type { PageTablesContext, PageTablesDoc } from '../scenario/pageTables';
import { chartId, numberCell, type ReportCell, type ReportSection, type ReportTable } from './model';
import { occupancySpec, type OccupancyRow } from './specs';

/** Runs shown per context in the report; pagetables.json lists more. */
export const REPORT_MAX_RUNS = 50;

/**
 * The page-table view of a run report (issue 13): per translation context, a summary,
 * the mapped runs and the tables' occupancy per level, from pagetables.json. Numeric
 * cells name where they come from as `pagetables.json[<context>].<field>`.
 */

/** One section per context. */
export function pageTableSections(doc: PageTablesDoc | null): ReportSection[] {
  return doc ? doc.contexts.map(contextSection) : [];
}

function contextSection(c: PageTablesContext): ReportSection {
  const at = `pagetables.json[${c.name}]`;
  const summary: ReportTable = {
    columns: ['format', 'root table', 'mapped', 'runs', ...c.page_sizes.map((p) => `${sizeText(p.page_size)} pages`), 'sparse'],
    rows: [[
      { text: c.format },
      { text: c.root },
      { ...numberCell(c.mapped_bytes, `${at}.mapped_bytes`), text: sizeText(c.mapped_bytes) },
      numberCell(c.run_count, `${at}.run_count`),
      ...c.page_sizes.map((p) => numberCell(p.pages, `${at}.page_sizes[${p.page_size}].pages`)),
      { ...numberCell(c.sparse_bytes, `${at}.sparse_bytes`), text: sizeText(c.sparse_bytes) },
    ]],
  };
  const runs: ReportTable = { columns: ['VA [start, end)', 'size', 'page size', 'pages', 'PA [start, end)', 'attributes'], rows: [] };
  c.runs.slice(0, REPORT_MAX_RUNS).forEach((r, i) => {
    const va = Number(r.va), pa = Number(r.pa);
    runs.rows.push([
      { text: `${r.va} – ${hex(va + r.bytes)}` },
      { ...numberCell(r.bytes, `${at}.runs[${i}].bytes`), text: sizeText(r.bytes) },
      { text: sizeText(r.page_size) },
      numberCell(r.pages, `${at}.runs[${i}].pages`),
      { text: `${r.pa} – ${hex(pa + r.bytes)}` },
      { text: r.attrs },
    ]);
  });
  const more = c.run_count - runs.rows.length;
  if (more > 0) runs.rows.push([{ text: `… ${more} more runs (pagetables.json lists ${c.runs.length} of ${c.run_count})` }, { text: '' }, { text: '' }, { text: '' }, { text: '' }, { text: '' }]);

  const sparse: ReportTable = { columns: ['sparse VA [start, end)', 'size', 'entries'], rows: [] };
  c.sparse.slice(0, REPORT_MAX_RUNS).forEach((r, i) => {
    sparse.rows.push([
      { text: `${r.va} – ${hex(Number(r.va) + r.bytes)}` },
      { ...numberCell(r.bytes, `${at}.sparse[${i}].bytes`), text: sizeText(r.bytes) },
      numberCell(r.entries, `${at}.sparse[${i}].entries`),
    ]);
  });
  const moreSparse = c.sparse_run_count - sparse.rows.length;
  if (moreSparse > 0) sparse.rows.push([{ text: `… ${moreSparse} more sparse ranges (pagetables.json lists ${c.sparse.length} of ${c.sparse_run_count})` }, { text: '' }, { text: '' }]);

  const levels = c.levels.filter((l) => l.tables > 0);
  // Sparse and "invalid" entries exist only in nv tables: their columns only when there are some.
  const sparseCol = levels.some((l) => l.sparse_entries > 0);
  const blockedCol = levels.some((l) => l.blocked_entries > 0);
  const occupancy: ReportTable = {
    columns: ['level', 'tables', 'table bytes', 'entries per table', 'valid entries', 'valid per table: min', 'mean', 'max', 'fill', ...(sparseCol ? ['sparse'] : []), ...(blockedCol ? ['invalid LPTEs'] : [])],
    rows: levels.map((l): ReportCell[] => {
      const lv = `${at}.levels[${l.level}]`;
      return [
        { text: l.level },
        numberCell(l.tables, `${lv}.tables`),
        numberCell(l.table_bytes, `${lv}.table_bytes`),
        numberCell(l.entries_per_table, `${lv}.entries_per_table`),
        numberCell(l.valid_entries, `${lv}.valid_entries`),
        numberCell(l.valid_per_table.min, `${lv}.valid_per_table.min`),
        numberCell(l.valid_per_table.mean, `${lv}.valid_per_table.mean`),
        numberCell(l.valid_per_table.max, `${lv}.valid_per_table.max`),
        { ...numberCell(fill(l, l.valid_entries), `${lv}.valid_entries / (tables × entries_per_table)`), text: `${(100 * fill(l, l.valid_entries)).toPrecision(3)} %` },
        ...(sparseCol ? [numberCell(l.sparse_entries, `${lv}.sparse_entries`)] : []),
        ...(blockedCol ? [numberCell(l.blocked_entries, `${lv}.blocked_entries`)] : []),
      ];
    }),
  };
  // Each level's entries split into valid, sparse, invalid (nv "invalid" LPTEs) and empty.
  const shares: OccupancyRow[] = [];
  for (const l of levels) {
    const level = `${l.level} (${l.tables} ${l.tables === 1 ? 'table' : 'tables'})`;
    const empty = l.tables * l.entries_per_table - l.valid_entries - l.sparse_entries - l.blocked_entries;
    for (const [part, n] of [['valid', l.valid_entries], ['sparse', l.sparse_entries], ['invalid LPTE', l.blocked_entries], ['empty', empty]] as const) {
      if (n > 0 || part === 'valid') shares.push({ level, part, share: fill(l, n), entries: n });
    }
  }
  const sparseNote = c.sparse_run_count > 0 ? ` Sparse ranges (reads give zeros, writes are dropped) are listed apart: they are not mappings.` : '';
  return {
    title: `Page tables: ${c.name}`,
    note: `The ${c.format} tables rooted at ${c.root} (ASID ${c.asid}) when the jobs ended, from pagetables.json. A run is pages of one size with VA and PA both contiguous and the same attributes; the first ${REPORT_MAX_RUNS} are shown. Occupancy counts each distinct table once; valid entries are table pointers and pages.${sparseNote}`,
    tables: [summary, runs, sparse, occupancy],
    charts: shares.length ? [{ id: chartId(`${c.name} table occupancy`), title: `${c.name}: table entries per level`, spec: occupancySpec(shares) }] : [],
  };
}

function fill(l: { tables: number; entries_per_table: number }, n: number): number {
  return n / (l.tables * l.entries_per_table);
}

function hex(v: number): string {
  return '0x' + v.toString(16);
}

/** Bytes in the largest binary unit that divides them (16 MiB, 4 KiB), else in bytes. */
export function sizeText(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let u = 0;
  while (u < units.length - 1 && bytes >= 1024 && bytes % 1024 === 0) {
    bytes /= 1024;
    u++;
  }
  return `${bytes} ${units[u]}`;
}
