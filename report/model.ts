/**
 * What a report holds, independent of how it is shown: sections of tables (every number
 * named by the stat or formula it comes from, so tests and readers can check it against
 * stats.json) and charts (Vega-Lite specs with their data inlined).
 */

export interface ReportCell {
  text: string;
  /** The number shown, when the cell is one (the page puts it in data-value). */
  value?: number | null;
  /** The stat or formula the number comes from (data-stat, and a tooltip). */
  stat?: string;
}

export interface ReportTable {
  columns: string[];
  rows: ReportCell[][];
}

export interface ReportChart {
  /** A file-name-safe id, unique in the report (the SVG export's file name). */
  id: string;
  title: string;
  /** A Vega-Lite spec with inline data and fixed width and height (so it renders the same in Node). */
  spec: Record<string, unknown>;
}

export interface ReportSection {
  title: string;
  /** A sentence on where the figures come from. */
  note?: string;
  tables: ReportTable[];
  charts: ReportChart[];
  /** Shown collapsed, as preformatted text (the resolved config). */
  details?: { summary: string; text: string };
}

export interface Report {
  title: string;
  /** Lines under the title: scenario, SoC, seed, simulated time, provenance. */
  subtitle: string[];
  sections: ReportSection[];
}

export class ReportInputError extends Error {}

export function numberCell(value: number | null, stat: string, digits = 4): ReportCell {
  return { text: formatNumber(value, digits), value, stat };
}

/** Integers exactly, other numbers to `digits` significant digits; null as an em dash. */
export function formatNumber(v: number | null, digits = 4): string {
  if (v === null || !Number.isFinite(v)) return '—';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 10 ** digits ? v.toFixed(0) : String(Number(v.toPrecision(digits)));
}

/** A chart id from a title: lower case, runs of other characters as one hyphen. */
export function chartId(title: string): string {
  return title.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '');
}
