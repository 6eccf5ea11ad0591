/**
 * No bus transaction crosses a 4 KiB address boundary: AMBA AXI forbids a burst that
 * crosses one (AXI and ACE Protocol Specification, ARM IHI 0022, §A3.4.1 "Address
 * structure"), and so does PCIe for a memory request (PCI Express Base Specification,
 * §2.2.7: "Requests must not specify an Address/Length combination which causes a
 * Memory Space access to cross a 4-KB boundary"). DMA engines split their transfers
 * there, and an IOMMU relies on it: it translates a transaction by its first address,
 * so bytes past the end of that page would land in the page physically after it, not
 * in the page the next address maps to. Device models size their bursts with the
 * functions below; the translation units check the rule.
 */
export const BUS_BOUNDARY_BYTES = 4096;

/** Bytes from `addr` up to the next 4 KiB boundary (1..4096). */
export function bytesToBusBoundary(addr: number): number {
  // Not `addr % 4096`: on a double above 2^31 that is a slow fmod call.
  return BUS_BOUNDARY_BYTES - (addr - Math.floor(addr / BUS_BOUNDARY_BYTES) * BUS_BOUNDARY_BYTES);
}

/**
 * Bytes of a copy burst reading at `src` and writing the same bytes at `dst`: at most
 * `burstBytes` and `remaining`, and crossing a 4 KiB boundary on neither side (with
 * differently aligned buffers the bursts next to a boundary come out shorter).
 */
export function copyBurstBytes(src: number, dst: number, burstBytes: number, remaining: number): number {
  let n = burstBytes < remaining ? burstBytes : remaining;
  const toSrc = bytesToBusBoundary(src);
  if (toSrc < n) n = toSrc;
  const toDst = bytesToBusBoundary(dst);
  return toDst < n ? toDst : n;
}

/**
 * Bytes of a burst at `addr` for a device that splits its transfers at `burstBytes`-aligned
 * addresses: up to the next such address, at most `remaining`, and never across a 4 KiB
 * boundary (which a burst size that is not a power of two, or one above 4 KiB, would cross).
 */
export function alignedBurstBytes(addr: number, burstBytes: number, remaining: number): number {
  let n = burstBytes - (addr % burstBytes);
  if (remaining < n) n = remaining;
  const toBoundary = bytesToBusBoundary(addr);
  return toBoundary < n ? toBoundary : n;
}
