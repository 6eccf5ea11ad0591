import { parseTime, UnitError } from './units';
import type { Tick } from './time';

/**
 * A trace window `[from, to)` in ps (`--trace-window 100us..200us`): only event records
 * whose tick falls inside are written. The header and the end record are always
 * written, and both carry the window (`window: {from_ps, to_ps}`; `to_ps` null when open).
 */
export interface TraceWindow {
  readonly from: Tick;
  readonly to: Tick;
}

/** `A..B`, `A..` (to the end) or `..B` (from 0), each a time with its unit. */
export function parseTraceWindow(text: string): TraceWindow {
  const m = /^\s*([^.]*?)\s*\.\.\s*([^.]*?)\s*$/.exec(text);
  if (!m || (m[1] === '' && m[2] === '')) throw new UnitError(`expected a window like "100us..200us", "100us.." or "..200us", got ${JSON.stringify(text)}`);
  const side = (s: string): Tick => {
    if (/^\d+(\.\d+)?$/.test(s)) throw new UnitError(`give each end a unit, e.g. ${s}us (got ${JSON.stringify(text)})`);
    return parseTime(s);
  };
  const from = m[1] === '' ? 0 : side(m[1]);
  const to = m[2] === '' ? Infinity : side(m[2]);
  if (!(to > from)) throw new UnitError(`the window's end must be after its start, got ${JSON.stringify(text)}`);
  return { from, to };
}

/** The window as written in header and end records. */
export function traceWindowFields(w: TraceWindow): { from_ps: number; to_ps: number | null } {
  return { from_ps: w.from, to_ps: Number.isFinite(w.to) ? w.to : null };
}
