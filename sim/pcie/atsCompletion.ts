/**
 * The data of an ATS Translation Completion (PCIe Base Spec, Address Translation Services
 * chapter, "Translation Completion"): one 8-byte entry per translation, the translated
 * address [63:12] with the S (size), N, U, W (write) and R (read) bits in its low bits.
 * R = W = 0 means "no translation" (the page is not mapped for the device); the device
 * may then send the request untranslated and let the IOMMU fault it.
 *
 * The IOMMU here always answers with one Smallest Translation Unit (4 KiB, S = 0), which
 * the spec allows for any mapping (a larger page may be returned as its 4 KiB piece).
 * Stored little-endian in a transaction's data: high word first, then low word.
 */

export const ATS_STU_SHIFT = 12;
export const ATS_STU_BYTES = 4096;
const R_BIT = 1;
const W_BIT = 2;
const TWO_32 = 2 ** 32;

function put32(d: Uint8Array, at: number, v: number): void {
  d[at] = v & 0xff;
  d[at + 1] = (v >>> 8) & 0xff;
  d[at + 2] = (v >>> 16) & 0xff;
  d[at + 3] = (v >>> 24) & 0xff;
}

function get32(d: Uint8Array, at: number): number {
  return (d[at] | (d[at + 1] << 8) | (d[at + 2] << 16) | (d[at + 3] << 24)) >>> 0;
}

/** Writes one translation: `pa` (any byte of the page: its 4 KiB frame is kept), read/write permission. */
export function encodeTranslation(d: Uint8Array, pa: number, read: boolean, write: boolean): void {
  const frame = Math.floor(pa / ATS_STU_BYTES) * ATS_STU_BYTES;
  const hi = Math.floor(frame / TWO_32);
  const lo = frame - hi * TWO_32;
  put32(d, 0, hi);
  put32(d, 4, (lo | (read ? R_BIT : 0) | (write ? W_BIT : 0)) >>> 0);
}

/** Writes "no translation" (R = W = 0). */
export function encodeNoTranslation(d: Uint8Array): void {
  for (let i = 0; i < 8; i++) d[i] = 0;
}

/** The translated 4 KiB frame's address. */
export function translatedFrame(d: Uint8Array): number {
  const lo = get32(d, 4);
  return get32(d, 0) * TWO_32 + (lo - (lo % ATS_STU_BYTES));
}

export function translationReadable(d: Uint8Array): boolean {
  return (d[4] & R_BIT) !== 0;
}

export function translationWritable(d: Uint8Array): boolean {
  return (d[4] & W_BIT) !== 0;
}
