import { hex } from '../sim/engine/addr';
import { Aperture } from '../sim/mmu/format/types';
import { inspectPageTables, type PageAttrs, type PageTableView } from '../sim/mmu/pageTableView';
import { activeTranslationContexts } from '../sim/soc/translationContexts';
import type { Soc } from '../sim/soc/builder';

/**
 * `pagetables.json` of a run directory (issue 13): every active translation context's
 * page tables as they are when the jobs have ended (before driver teardown unmaps the
 * buffers), read with the page-table inspector (sim/mmu/pageTableView.ts), which changes
 * no stat. The layout is documented in docs/experiments.md.
 */

export const PAGE_TABLES_FORMAT = 'socsim-pagetables';
export const PAGE_TABLES_VERSION = 1;
/** Runs (and sparse runs) listed per context; the rest are counted (`run_count`). */
export const PAGE_TABLES_MAX_RUNS = 10_000;

export interface PageTablesRun {
  va: string;
  pa: string;
  bytes: number;
  page_size: number;
  pages: number;
  /** `rw` or `r-`, then any of `priv`, `vol`, `host`, `host-ncoh` (see attrsText). */
  attrs: string;
}

export interface PageTablesLevel {
  level: string;
  entries_per_table: number;
  table_bytes: number;
  tables: number;
  valid_entries: number;
  sparse_entries: number;
  blocked_entries: number;
  valid_per_table: { min: number; mean: number; max: number };
}

export interface PageTablesContext {
  name: string;
  unit: string;
  kind: 'iommu-stream' | 'cpu-mmu';
  stream_id?: number;
  device?: string;
  asid: number;
  format: string;
  root: string;
  mapped_bytes: number;
  page_sizes: { page_size: number; pages: number; bytes: number }[];
  run_count: number;
  runs: PageTablesRun[];
  sparse_bytes: number;
  sparse_run_count: number;
  sparse: { va: string; bytes: number; entries: number }[];
  /** Root level first. */
  levels: PageTablesLevel[];
}

export interface PageTablesDoc {
  format: typeof PAGE_TABLES_FORMAT;
  version: typeof PAGE_TABLES_VERSION;
  note: string;
  max_runs: number;
  contexts: PageTablesContext[];
}

/** The page tables of every active context of `soc`, as pagetables.json holds them. */
export function pageTablesDoc(soc: Soc, maxRuns = PAGE_TABLES_MAX_RUNS): PageTablesDoc {
  // Contexts that share tables (one domain on several streams) are read once.
  const views = new Map<string, PageTableView>();
  const contexts = activeTranslationContexts(soc).map((c): PageTablesContext => {
    const key = `${c.format.name}@${c.root}`;
    let v = views.get(key);
    if (!v) {
      v = inspectPageTables(soc.physmem, c.format, c.root, { maxRuns });
      views.set(key, v);
    }
    return {
      name: c.name,
      unit: c.unit,
      kind: c.kind,
      ...(c.streamId !== undefined ? { stream_id: c.streamId } : {}),
      ...(c.device !== undefined ? { device: c.device } : {}),
      asid: c.asid,
      format: v.format,
      root: hex(v.root),
      mapped_bytes: v.mappedBytes,
      page_sizes: v.pageSizes.map((p) => ({ page_size: 2 ** p.pageShift, pages: p.pages, bytes: p.bytes })),
      run_count: v.runCount,
      runs: v.runs.map((r) => {
        const bytes = r.pages * 2 ** r.pageShift;
        return { va: hex(r.va), pa: hex(r.pa), bytes, page_size: 2 ** r.pageShift, pages: r.pages, attrs: attrsText(r) };
      }),
      sparse_bytes: v.sparseBytes,
      sparse_run_count: v.sparseRunCount,
      sparse: v.sparse.map((s) => ({ va: hex(s.va), bytes: s.bytes, entries: s.entries })),
      levels: v.levels.map((l) => ({
        level: l.level,
        entries_per_table: l.entriesPerTable,
        table_bytes: l.tableBytes,
        tables: l.tables,
        valid_entries: l.validEntries,
        sparse_entries: l.sparseEntries,
        blocked_entries: l.blockedEntries,
        valid_per_table: { min: l.validPerTable.min, mean: round6(l.validPerTable.mean), max: l.validPerTable.max },
      })),
    };
  });
  return {
    format: PAGE_TABLES_FORMAT,
    version: PAGE_TABLES_VERSION,
    note: `Page tables of every translating context when the jobs ended (before driver teardown), read from simulated memory with the format's codec. A run is pages of one size with VA and PA both contiguous and the same attributes. At most ${maxRuns} runs and ${maxRuns} sparse runs are listed per context; run_count and sparse_run_count count them all, and mapped_bytes and page_sizes cover every page.`,
    max_runs: maxRuns,
    contexts,
  };
}

/**
 * pagetables.json's text: indented JSON with every flat object (a run, a sparse run, a
 * page-size total) on one line, so 10 000 runs stay 10 000 lines.
 */
export function pageTablesText(doc: PageTablesDoc): string {
  const text = JSON.stringify(doc, null, 2);
  // A flat object has no nested braces or brackets; the strings inside (names, hex) hold none either.
  return text.replace(/\{\n([^{}[\]]*?)\n\s*\}/g, (_m, body: string) => `{ ${body.split('\n').map((l) => l.trim()).join(' ')} }`) + '\n';
}

/** `rw`/`r-`, then `priv` (privileged only), `vol` (nv volatile), and the aperture unless it is the default (VRAM / normal memory). */
export function attrsText(a: PageAttrs): string {
  const parts = [a.readOnly ? 'r-' : 'rw'];
  if (a.privileged) parts.push('priv');
  if (a.volatile) parts.push('vol');
  if (a.aperture === Aperture.Host) parts.push('host');
  else if (a.aperture === Aperture.HostNonCoherent) parts.push('host-ncoh');
  return parts.join(' ');
}

function round6(v: number): number {
  return Math.round(v * 1e6) / 1e6;
}
