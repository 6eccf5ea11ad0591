/**
 * What a PCIe link puts on the wire: signalling rates, encodings and per-packet overheads,
 * from the PCI Express Base Specification (rev. 5.0 numbering). Pure functions, shared by
 * the link model and its tests; the validation bench writes its closed form separately.
 *
 * - Rates (§4.2, Table 4-? "data rates"): 2.5, 5, 8, 16, 32 GT/s per lane for Gen1-5.
 *   Gen1/2 use 8b/10b encoding (§4.2.1), Gen3+ 128b/130b (§4.2.2).
 * - A TLP on the wire (§2.1, §3.6.2, §4.2.2.3): Gen1/2 frame it with STP (1 symbol) and
 *   END (1), and the data link layer adds a 2-byte sequence number and a 4-byte LCRC:
 *   8 bytes. Gen3+ replace STP/END by a 4-byte STP token that carries the sequence
 *   number, plus the 4-byte LCRC: again 8 bytes.
 * - TLP headers (§2.2.1, §2.2.7): memory requests use a 3-DW (12-byte) header for
 *   addresses below 4 GiB and must use a 4-DW (16-byte) header above; a completion has a
 *   3-DW header. ECRC, when enabled, adds a 4-byte digest (§2.7.1).
 * - A DLLP (Ack, UpdateFC, §3.5) is 6 bytes plus framing (SDP + END, or Gen3's 2-byte
 *   SDP token): 8 bytes.
 * These are the numbers of Neugebauer et al., "Understanding PCIe performance for end host
 * networking", SIGCOMM 2018, §3 (MWr 64-bit: 24 B; CplD: 20 B; DLLP: 8 B).
 */

/** Transfers per second per lane, GT/s, by generation (index 1-5). */
export const PCIE_GT_PER_S: readonly number[] = [0, 2.5, 5, 8, 16, 32];
export const PCIE_MAX_GEN = 5;
/** Link widths the spec defines up to x16 (x32 was never built). */
export const PCIE_WIDTHS: readonly number[] = [1, 2, 4, 8, 12, 16];

/** Data bits per line bit: 8b/10b for Gen1/2, 128b/130b for Gen3-5. */
export function encodingEfficiency(gen: number): number {
  return gen <= 2 ? 8 / 10 : 128 / 130;
}

/** Data rate of the whole link in one direction, gigabits per second. */
export function linkDataGbps(gen: number, lanes: number): number {
  return PCIE_GT_PER_S[gen] * lanes * encodingEfficiency(gen);
}

/** Picoseconds one byte occupies the link (all lanes, one direction). */
export function psPerByte(gen: number, lanes: number): number {
  return 8000 / linkDataGbps(gen, lanes);
}

/** Framing + sequence number + LCRC of one TLP, bytes (8 for every generation; see above). */
export function tlpFramingBytes(gen: number): number {
  return gen <= 2 ? 1 + 2 + 4 + 1 : 4 + 4;
}

/** A DLLP on the wire, bytes. */
export function dllpBytes(gen: number): number {
  return gen <= 2 ? 1 + 6 + 1 : 2 + 6;
}

/** 4 GiB: memory requests above it need a 4-DW header. */
const FOUR_GIB = 2 ** 32;

/** Header bytes of a memory read or write request at `addr`. */
export function requestHeaderBytes(addr: number): number {
  return addr >= FOUR_GIB ? 16 : 12;
}

/** Header bytes of a completion. */
export const COMPLETION_HEADER_BYTES = 12;
/**
 * ATS messages (PCIe Base Spec, Address Translation Services chapter): an Invalidate
 * Request is a MsgD with a 4-DW header and 8 bytes of data (the untranslated address and
 * the S bit); an Invalidate Completion is a Msg with a 4-DW header and no data. A
 * Translation Request is a memory read request (AT=01b) and its completion carries one
 * 8-byte translation (ATS_TRANSLATION_BYTES) when the device asks for one STU.
 */
export const ATS_INVALIDATE_REQUEST_HEADER_BYTES = 16;
export const ATS_INVALIDATE_REQUEST_PAYLOAD_BYTES = 8;
export const ATS_INVALIDATE_COMPLETION_HEADER_BYTES = 16;
export const ATS_TRANSLATION_BYTES = 8;

/** ECRC digest bytes. */
export const ECRC_BYTES = 4;
/** One flow-control data credit covers 4 DW (§2.6.1). */
export const FC_DATA_CREDIT_BYTES = 16;

/** End of the chunk that starts at `a`: the next multiple of `chunk` above `a`, or `end`. */
export function chunkEnd(a: number, chunk: number, end: number): number {
  const next = Math.floor(a / chunk) * chunk + chunk;
  return next < end ? next : end;
}

/** Number of TLPs when [addr, addr+size) is split at every multiple of `chunk`. */
export function chunkCount(addr: number, size: number, chunk: number): number {
  return Math.floor((addr + size - 1) / chunk) - Math.floor(addr / chunk) + 1;
}

/**
 * End of the completion that starts at `a`: with `rcb` split, at the next RCB boundary
 * (a completion per RCB-aligned chunk, as several root complexes do: Neugebauer et al.
 * §3); with `mps`, as large as MPS allows, ending on an RCB boundary (§2.3.1.1).
 */
export function completionEnd(a: number, end: number, rcb: number, mps: number, split: 'rcb' | 'mps'): number {
  if (split === 'rcb') return chunkEnd(a, rcb, end);
  const next = Math.floor((a + mps) / rcb) * rcb;
  return next < end && next > a ? next : Math.min(end, a + mps);
}
