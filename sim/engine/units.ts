/**
 * Parsing of the human-friendly quantities that configs, scenarios and the CLI accept:
 * sizes (`4096`, `"4KiB"`, `"16MiB"`), addresses (`"0x8000_0000"`), times (`"10us"`)
 * and frequencies (`"1.2GHz"`). Each returns a number or throws a `UnitError` whose
 * message says what was expected; the config layer adds file and JSON path.
 */
import { ADDR_LIMIT } from './addr';
import type { Tick } from './time';

export class UnitError extends Error {}

const SIZE_UNITS: Record<string, number> = {
  '': 1, B: 1,
  KiB: 2 ** 10, MiB: 2 ** 20, GiB: 2 ** 30, TiB: 2 ** 40,
  KB: 1e3, MB: 1e6, GB: 1e9,
};

/** `4096`, `"4096"`, `"4KiB"`, `"1.5MiB"`, `"16 MiB"` → bytes (a non-negative integer). */
export function parseSize(value: unknown): number {
  if (typeof value === 'number') return checkInteger(value, 'a size in bytes');
  if (typeof value !== 'string') throw new UnitError(`expected a size like 4096 or "4KiB", got ${describe(value)}`);
  const m = /^\s*(\d+(?:\.\d+)?)\s*([A-Za-z]*)\s*$/.exec(value);
  if (!m) throw new UnitError(`expected a size like 4096 or "4KiB", got ${describe(value)}`);
  const unit = SIZE_UNITS[m[2]];
  if (unit === undefined) {
    throw new UnitError(`unknown size unit "${m[2]}" in ${describe(value)} (use B, KiB, MiB, GiB, TiB, KB, MB, GB)`);
  }
  return checkInteger(scaleDecimal(m[1], unit), `a whole number of bytes (${describe(value)})`);
}

/** `0x8000_0000`, `"0x80000000"`, `2147483648`, `"4096"` → address below 2^53. */
export function parseAddress(value: unknown): number {
  if (typeof value === 'number') return checkAddress(value, value);
  if (typeof value !== 'string') throw new UnitError(`expected an address like "0x8000_0000", got ${describe(value)}`);
  const s = value.replace(/_/g, '').trim();
  let n: number;
  if (/^0x[0-9a-fA-F]+$/.test(s)) n = parseInt(s.slice(2), 16);
  else if (/^\d+$/.test(s)) n = Number(s);
  else throw new UnitError(`expected an address like "0x8000_0000", got ${describe(value)}`);
  return checkAddress(n, value);
}

const TIME_UNITS: Record<string, number> = { ps: 1, ns: 1e3, us: 1e6, ms: 1e9, s: 1e12 };

/** `"10us"`, `"1.5ms"`, `"250 ns"`, or a number of picoseconds → ticks (ps). */
export function parseTime(value: unknown): Tick {
  if (typeof value === 'number') return checkInteger(value, 'a time in picoseconds');
  if (typeof value !== 'string') throw new UnitError(`expected a time like "10us", got ${describe(value)}`);
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ps|ns|us|ms|s)?\s*$/.exec(value);
  if (!m) throw new UnitError(`expected a time like "10us" or "250ns", got ${describe(value)}`);
  return checkInteger(Math.round(scaleDecimal(m[1], TIME_UNITS[m[2] ?? 'ps'])), 'a time');
}

const FREQ_UNITS: Record<string, number> = { Hz: 1, kHz: 1e3, KHz: 1e3, MHz: 1e6, GHz: 1e9 };

/** `"1GHz"`, `"800MHz"`, `"1.2 GHz"`, or a number of Hz → Hz. */
export function parseFrequency(value: unknown): number {
  let hz: number;
  if (typeof value === 'number') hz = value;
  else if (typeof value === 'string') {
    const m = /^\s*(\d+(?:\.\d+)?)\s*(Hz|kHz|KHz|MHz|GHz)\s*$/.exec(value);
    if (!m) throw new UnitError(`expected a frequency like "1GHz" or "800MHz", got ${describe(value)}`);
    hz = scaleDecimal(m[1], FREQ_UNITS[m[2]]);
  } else throw new UnitError(`expected a frequency like "1GHz", got ${describe(value)}`);
  if (!(hz > 0) || !Number.isFinite(hz)) throw new UnitError(`frequency must be positive, got ${describe(value)}`);
  if (hz > 1e12) throw new UnitError(`frequency above 1 THz cannot be represented in picosecond ticks, got ${describe(value)}`);
  return hz;
}

/**
 * `text` (decimal digits with an optional fraction) times `unit`, exact whenever the
 * result is a representable integer: "16.1" × 1000 is 16100, where the float product
 * 16.1 * 1000 is 16100.000000000002.
 */
function scaleDecimal(text: string, unit: number): number {
  const dot = text.indexOf('.');
  if (dot < 0) return Number(text) * unit;
  const den = 10 ** (text.length - dot - 1);
  const digits = Number(text.slice(0, dot) + text.slice(dot + 1));
  return unit % den === 0 ? digits * (unit / den) : (digits * unit) / den;
}

function checkInteger(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 0) throw new UnitError(`expected ${what}, got ${n}`);
  return n;
}

function checkAddress(n: number, original: unknown): number {
  if (!Number.isSafeInteger(n) || n < 0 || n >= ADDR_LIMIT) {
    throw new UnitError(`address must be an integer in [0, 2^53), got ${describe(original)}`);
  }
  return n;
}

function describe(v: unknown): string {
  return typeof v === 'string' ? JSON.stringify(v) : String(v);
}
