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

/** A CSV text that is not RFC 4180 (the message says where). */
export class CsvSyntaxError extends Error {}

/** RFC 4180 records (quoted cells may hold commas, doubled quotes and line breaks); a final line break ends the last record. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let cell = '';
  let i = 0;
  let atCellStart = true;
  while (i < text.length) {
    const c = text[i];
    if (atCellStart && c === '"') {
      const start = i;
      i++;
      for (;;) {
        if (i >= text.length) throw new CsvSyntaxError(`a quoted cell starting at offset ${start} is not closed`);
        if (text[i] === '"') {
          if (text[i + 1] === '"') { cell += '"'; i += 2; continue; }
          i++;
          break;
        }
        cell += text[i++];
      }
      atCellStart = false;
      continue;
    }
    if (c === ',') { row.push(cell); cell = ''; atCellStart = true; i++; continue; }
    if (c === '\n' || c === '\r') {
      row.push(cell);
      rows.push(row);
      row = [];
      cell = '';
      atCellStart = true;
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      continue;
    }
    cell += c;
    atCellStart = false;
    i++;
  }
  if (!atCellStart || cell !== '' || row.length) { row.push(cell); rows.push(row); }
  return rows;
}
