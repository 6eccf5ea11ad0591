import type { StatsDump } from './stats';

/**
 * A stats dump as CSV (RFC 4180): a `stat,value` header, then one row per scalar stat in
 * the dump's (sorted) order. Values are written at full precision (`String(n)`), so a
 * reader gets exactly the JSON's numbers; a null (no samples) is an empty cell.
 * Array-valued stats (histogram buckets) are for JSON consumers and are left out, as in
 * the table.
 */
export function statsToCsv(dump: StatsDump): string {
  const lines = ['stat,value'];
  for (const [name, v] of Object.entries(dump)) {
    if (Array.isArray(v)) continue;
    lines.push(`${csvCell(name)},${v === null ? '' : String(v)}`);
  }
  return lines.join('\n') + '\n';
}

/** Quotes a cell when it holds a comma, quote or line break (RFC 4180 §2.6–2.7). */
export function csvCell(s: string): string {
  return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}
