/** A half-open physical address range [base, base + size). */
export interface AddrRange {
  readonly base: number;
  readonly size: number;
}

export function rangeEnd(r: AddrRange): number {
  return r.base + r.size;
}

export function rangeContains(r: AddrRange, addr: number, size = 1): boolean {
  return addr >= r.base && addr + size <= r.base + r.size;
}

export function rangesOverlap(a: AddrRange, b: AddrRange): boolean {
  return a.base < b.base + b.size && b.base < a.base + a.size;
}
