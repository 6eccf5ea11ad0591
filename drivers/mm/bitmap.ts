/**
 * Byte-per-bit allocation bitmaps shared by GenPool and ContiguousRegion (lib/bitmap.c
 * semantics). A map is a Uint8Array holding 0 (free) or 1 (busy) per granule; indices
 * are below 2^31, but alignment is computed on absolute granule numbers (which may be
 * far above 2^31), so it uses arithmetic, not bitwise masks (DESIGN.md "Addresses").
 */

/**
 * bitmap_find_next_zero_area_off(): the lowest index `i >= start` such that bits
 * [i, i + nr) are all zero and `i + alignOffset` is a multiple of `align` (a power of
 * two; 1 = no alignment), or -1. `alignOffset` is the absolute number of bit 0 (e.g. the
 * chunk's first granule number) modulo `align`, so alignment is absolute, as in Linux
 * (gen_pool_first_fit_align, cma_alloc).
 */
export function findNextZeroArea(map: Uint8Array, start: number, nr: number, align = 1, alignOffset = 0): number {
  const size = map.length;
  if (nr <= 0) return -1;
  let i = start;
  for (;;) {
    while (i < size && map[i] !== 0) i++;
    if (align > 1) {
      const rem = (i + alignOffset) % align;
      if (rem !== 0) i += align - rem;
    }
    const end = i + nr;
    if (end > size) return -1;
    let j = i;
    while (j < end && map[j] === 0) j++;
    if (j === end) return i;
    i = j + 1;
  }
}

/** bitmap_set(): marks [start, start + nr) busy. */
export function bitmapSet(map: Uint8Array, start: number, nr: number): void {
  map.fill(1, start, start + nr);
}

/** bitmap_clear(): marks [start, start + nr) free. */
export function bitmapClear(map: Uint8Array, start: number, nr: number): void {
  map.fill(0, start, start + nr);
}

/** Index of the first bit in [start, start + nr) equal to `value`, or -1. */
export function findBit(map: Uint8Array, start: number, nr: number, value: 0 | 1): number {
  const end = start + nr;
  for (let i = start; i < end; i++) if (map[i] === value) return i;
  return -1;
}
