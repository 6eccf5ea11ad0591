/**
 * Address arithmetic on plain numbers (DESIGN.md "Addresses"): values are integers
 * below 2^53, so page numbers and alignment use division by powers of two, never the
 * 32-bit bitwise operators.
 */

export const KiB = 1024;
export const MiB = 1024 * KiB;
export const GiB = 1024 * MiB;

/** Largest address (exclusive) socsim can represent exactly. */
export const ADDR_LIMIT = 2 ** 53;

/** Rounds `addr` down to a multiple of `align` (a power of two). */
export function alignDown(addr: number, align: number): number {
  return addr - (addr % align);
}

/** Rounds `addr` up to a multiple of `align` (a power of two). */
export function alignUp(addr: number, align: number): number {
  const rem = addr % align;
  return rem === 0 ? addr : addr + (align - rem);
}

export function isAligned(addr: number, align: number): boolean {
  return addr % align === 0;
}

/**
 * 2^n and 2^-n for n in 0..63. Multiplying by 2^-n is exact in binary floating point, so
 * `Math.floor(a * POW2_INV[n])` is a shift without Math.pow or fmod on the hot path.
 */
export const POW2 = Float64Array.from({ length: 64 }, (_v, n) => 2 ** n);
export const POW2_INV = Float64Array.from({ length: 64 }, (_v, n) => 2 ** -n);

/** Page number of `addr` for pages of 2^shift bytes. */
export function pageIndex(addr: number, shift: number): number {
  return Math.floor(addr * POW2_INV[shift]);
}

/** Offset of `addr` inside its 2^shift-byte page. */
export function pageOffset(addr: number, shift: number): number {
  return addr - Math.floor(addr * POW2_INV[shift]) * POW2[shift];
}

/** Bits [lo, lo+count) of `value` as a small integer (count <= 31). */
export function bitsAt(value: number, lo: number, count: number): number {
  const v = Math.floor(value * POW2_INV[lo]);
  return v - Math.floor(v * POW2_INV[count]) * POW2[count];
}

export function isPowerOfTwo(n: number): boolean {
  return Number.isInteger(n) && n > 0 && 2 ** Math.round(Math.log2(n)) === n;
}

/** log2 of `n` if `n` is a power of two (an integer >= 1), else NaN. */
export function log2Exact(n: number): number {
  return isPowerOfTwo(n) ? Math.round(Math.log2(n)) : NaN;
}

/** `0x8000_0000`-style rendering used in logs, traces and errors. */
export function hex(addr: number): string {
  return '0x' + addr.toString(16);
}
