/**
 * Layouts of the in-memory descriptors that the descriptor-driven device models (`nic.ts`,
 * `descDma.ts`) fetch with DMA and that drivers write, plus little-endian field access on
 * byte arrays. Drivers write descriptors with `PhysicalMemory.write` (or a CPU store of
 * these bytes); models parse the bytes a DMA read returned. All multi-byte fields are
 * little-endian, as on the real hardware.
 *
 * Addresses in descriptors are 64-bit; socsim addresses are numbers below 2^53, so
 * `readU64` reports a value at or above 2^53 as -1 and a model treats it as an address no
 * slave decodes.
 */

import { ADDR_LIMIT } from '../engine/addr';

const TWO_32 = 2 ** 32;

// ---------------------------------------------------------------------------------------
// Intel 8254x (e1000) legacy receive descriptor: "PCI/PCI-X Family of Gigabit Ethernet
// Controllers Software Developer's Manual" (Intel 317453), section 3.2.3 "Receive
// Descriptor Format". 16 bytes:
//   0..7   buffer address (u64)
//   8..9   length (u16): bytes written to the buffer (write-back)
//   10..11 packet checksum (u16)
//   12     status (u8): DD = 0x01 descriptor done, EOP = 0x02 end of packet
//   13     errors (u8)
//   14..15 special (u16): VLAN tag
// ---------------------------------------------------------------------------------------

export const E1000_RX_DESC_BYTES = 16;
export const E1000_RXD_ADDR = 0;
export const E1000_RXD_LENGTH = 8;
export const E1000_RXD_CSUM = 10;
export const E1000_RXD_STATUS = 12;
export const E1000_RXD_ERRORS = 13;
export const E1000_RXD_SPECIAL = 14;
/** Status: descriptor done (hardware has written the buffer and this descriptor). */
export const E1000_RXD_STAT_DD = 0x01;
/** Status: end of packet (last descriptor of a packet). */
export const E1000_RXD_STAT_EOP = 0x02;

// ---------------------------------------------------------------------------------------
// Intel 8254x legacy transmit descriptor: same manual, section 3.3.3 "Legacy Transmit
// Descriptor Format". 16 bytes:
//   0..7   buffer address (u64)
//   8..9   length (u16): bytes to send from the buffer
//   10     CSO (u8): checksum offset        11 CMD (u8)
//   12     STA (u8): status, DD = 0x01      13 CSS (u8): checksum start (low nibble reserved)
//   14..15 special (u16)
// CMD bits (section 3.3.3.1): EOP 0x01, IFCS 0x02, IC 0x04, RS 0x08 (report status: write
// back STA.DD once processed), RPS 0x10, DEXT 0x20 (0 = legacy), VLE 0x40, IDE 0x80.
// ---------------------------------------------------------------------------------------

export const E1000_TX_DESC_BYTES = 16;
export const E1000_TXD_ADDR = 0;
export const E1000_TXD_LENGTH = 8;
export const E1000_TXD_CSO = 10;
export const E1000_TXD_CMD = 11;
export const E1000_TXD_STATUS = 12;
export const E1000_TXD_CSS = 13;
export const E1000_TXD_SPECIAL = 14;
/** CMD: end of packet: this descriptor's buffer is the packet's last. */
export const E1000_TXD_CMD_EOP = 0x01;
/** CMD: insert FCS (accepted, not modelled: the wire carries the bytes the buffers hold). */
export const E1000_TXD_CMD_IFCS = 0x02;
/** CMD: report status: hardware writes STA.DD back once it has processed the descriptor. */
export const E1000_TXD_CMD_RS = 0x08;
/** STA: descriptor done. */
export const E1000_TXD_STAT_DD = 0x01;

// ---------------------------------------------------------------------------------------
// Linked-list scatter-gather descriptor of `DescDma` (a generic layout in the spirit of
// the PL330 / DesignWare AXI DMAC linked-list items). 32 bytes:
//   0..7   source address (u64)
//   8..15  destination address (u64)
//   16..19 length in bytes (u32)
//   20..23 control/status (u32): bit 0 interrupt on completion, bit 1 last in chain;
//          written back by the engine: bit 31 done, bit 30 error
//   24..31 next descriptor's device address (u64), 0 = end of chain
// ---------------------------------------------------------------------------------------

export const SG_DESC_BYTES = 32;
export const SGD_SRC = 0;
export const SGD_DST = 8;
export const SGD_LEN = 16;
export const SGD_CONTROL = 20;
export const SGD_NEXT = 24;
/** Control: raise an interrupt when this descriptor completes. */
export const SGD_CTRL_IRQ = 0x1;
/** Control: last descriptor of the chain (ends it even if `next` is non-zero). */
export const SGD_CTRL_LAST = 0x2;
/** Status (written back): the descriptor's copy completed. */
export const SGD_STAT_DONE = 0x8000_0000;
/** Status (written back): the copy or the descriptor fetch failed; the chain stopped here. */
export const SGD_STAT_ERROR = 0x4000_0000;

// ---------------------------------------------------------------------------------------
// Little-endian field access.
// ---------------------------------------------------------------------------------------

export function readU16(b: Uint8Array, off: number): number {
  return b[off] + b[off + 1] * 256;
}

export function readU32(b: Uint8Array, off: number): number {
  return b[off] + b[off + 1] * 0x100 + b[off + 2] * 0x1_0000 + b[off + 3] * 0x100_0000;
}

/** A u64 as a number, or -1 when it is 2^53 or more (not a socsim address). */
export function readU64(b: Uint8Array, off: number): number {
  const hi = readU32(b, off + 4);
  if (hi >= ADDR_LIMIT / TWO_32) return -1;
  return hi * TWO_32 + readU32(b, off);
}

export function writeU16(b: Uint8Array, off: number, v: number): void {
  b[off] = v % 256;
  b[off + 1] = Math.floor(v / 256) % 256;
}

export function writeU32(b: Uint8Array, off: number, v: number): void {
  for (let i = 0; i < 4; i++) {
    b[off + i] = v % 256;
    v = Math.floor(v / 256);
  }
}

/** Writes a non-negative integer below 2^53 as a u64. */
export function writeU64(b: Uint8Array, off: number, v: number): void {
  writeU32(b, off, v % TWO_32);
  writeU32(b, off + 4, Math.floor(v / TWO_32));
}

// ---------------------------------------------------------------------------------------
// Encoders and decoders for drivers and tests (they allocate; not for model hot paths).
// ---------------------------------------------------------------------------------------

export interface E1000RxDesc {
  addr: number;
  length: number;
  csum: number;
  status: number;
  errors: number;
  special: number;
}

/** A receive descriptor as a driver posts it: the buffer address, every other field 0. */
export function encodeE1000RxDesc(bufferAddr: number): Uint8Array {
  const b = new Uint8Array(E1000_RX_DESC_BYTES);
  writeU64(b, E1000_RXD_ADDR, bufferAddr);
  return b;
}

export function decodeE1000RxDesc(b: Uint8Array, off = 0): E1000RxDesc {
  return {
    addr: readU64(b, off + E1000_RXD_ADDR),
    length: readU16(b, off + E1000_RXD_LENGTH),
    csum: readU16(b, off + E1000_RXD_CSUM),
    status: b[off + E1000_RXD_STATUS],
    errors: b[off + E1000_RXD_ERRORS],
    special: readU16(b, off + E1000_RXD_SPECIAL),
  };
}

export interface E1000TxDesc {
  addr: number;
  length: number;
  cso: number;
  cmd: number;
  status: number;
  css: number;
  special: number;
}

/** A legacy transmit descriptor: buffer, length and CMD bits; the rest 0. */
export function encodeE1000TxDesc(bufferAddr: number, length: number, cmd: number): Uint8Array {
  const b = new Uint8Array(E1000_TX_DESC_BYTES);
  writeU64(b, E1000_TXD_ADDR, bufferAddr);
  writeU16(b, E1000_TXD_LENGTH, length);
  b[E1000_TXD_CMD] = cmd;
  return b;
}

export function decodeE1000TxDesc(b: Uint8Array, off = 0): E1000TxDesc {
  return {
    addr: readU64(b, off + E1000_TXD_ADDR),
    length: readU16(b, off + E1000_TXD_LENGTH),
    cso: b[off + E1000_TXD_CSO],
    cmd: b[off + E1000_TXD_CMD],
    status: b[off + E1000_TXD_STATUS],
    css: b[off + E1000_TXD_CSS],
    special: readU16(b, off + E1000_TXD_SPECIAL),
  };
}

export interface SgDesc {
  src: number;
  dst: number;
  len: number;
  control: number;
  next: number;
}

export function encodeSgDesc(d: SgDesc): Uint8Array {
  const b = new Uint8Array(SG_DESC_BYTES);
  writeU64(b, SGD_SRC, d.src);
  writeU64(b, SGD_DST, d.dst);
  writeU32(b, SGD_LEN, d.len);
  writeU32(b, SGD_CONTROL, d.control);
  writeU64(b, SGD_NEXT, d.next);
  return b;
}

export function decodeSgDesc(b: Uint8Array, off = 0): SgDesc {
  return {
    src: readU64(b, off + SGD_SRC),
    dst: readU64(b, off + SGD_DST),
    len: readU32(b, off + SGD_LEN),
    control: readU32(b, off + SGD_CONTROL),
    next: readU64(b, off + SGD_NEXT),
  };
}
