/**
 * ARM VMSAv8-64 long-descriptor ("LPAE") stage-1 page tables with a 4 KiB granule, as
 * Linux's drivers/iommu/io-pgtable-arm.c builds them (ARM_64_LPAE_S1), issue 3.
 *
 * 48-bit VA, four levels L0..L3 of 9 index bits each (4 KiB tables of 512 8-byte
 * descriptors), 4 KiB pages at L3, 2 MiB blocks at L2, 1 GiB blocks at L1, 48-bit output
 * addresses (ARM_LPAE_MAX_ADDR_BITS; address bits 47:12 of every descriptor).
 *
 * Descriptor bits (io-pgtable-arm.c):
 *   bits 1:0    type: ARM_LPAE_PTE_TYPE_TABLE 3 at L0..L2, ARM_LPAE_PTE_TYPE_PAGE 3 at L3,
 *               ARM_LPAE_PTE_TYPE_BLOCK 1 at L1/L2; anything else is invalid (1 at L0 and
 *               at L3 is reserved with a 4 KiB granule)
 *   bits 4:2    AttrIndx (ARM_LPAE_PTE_ATTRINDX_SHIFT); encoded 0
 *               (ARM_LPAE_MAIR_ATTR_IDX_NC), not decoded
 *   bit 5       NS (not modelled)
 *   bit 6       AP[1] (ARM_LPAE_PTE_AP_UNPRIV): EL0 may access. privileged = !AP[1]
 *   bit 7       AP[2] (ARM_LPAE_PTE_AP_RDONLY, 2 << 6): read-only
 *   bits 9:8    SH; encoded ARM_LPAE_PTE_SH_IS (3), as arm_lpae_init_pte() does
 *   bit 10      AF (ARM_LPAE_PTE_AF); encoded 1, as arm_lpae_init_pte() does
 *   bit 11      nG (ARM_LPAE_PTE_nG); encoded 1, as arm_lpae_prot_to_pte() does for stage 1
 *   bits 47:12  output address / next-level table address
 *   bits 54:53  XN (ARM_LPAE_PTE_XN); execution is not modelled, encoded 0
 *   Table descriptors carry only the type and the address; NSTable/APTable/XNTable
 *   (bits 63:59) are encoded 0 and ignored (io-pgtable-arm.c sets only NSTable, with the NS quirk).
 *
 * A leaf (page or block) with AF = 0 makes real hardware raise an Access Flag fault. The
 * simulator has no separate fault class for it: such an entry decodes as Unmapped, so a
 * walk faults as "not present".
 *
 * LPAE has no sparse or "invalid LPTE" states: encoding EntryKind.Sparse or
 * EntryKind.Blocked throws SimInvariantError. Apertures are not part of the descriptor:
 * every leaf decodes as Aperture.Vram ("normal memory"); the spec's aperture is ignored.
 */

import { Aperture, EntryKind, PageFlag, type DecodedEntry, type EntrySpec, type PageTableFormat } from './types';
import { checkAddr, defineFormat, hi32, lo32, setBare, unsupported } from './defineFormat';

const NAME = 'arm-lpae-4k';
const PA_BITS = 48;

const TYPE_MASK = 3;
const TYPE_BLOCK = 1; // ARM_LPAE_PTE_TYPE_BLOCK
const TYPE_TABLE = 3; // ARM_LPAE_PTE_TYPE_TABLE
const TYPE_PAGE = 3; // ARM_LPAE_PTE_TYPE_PAGE
const AP_UNPRIV = 1 << 6; // ARM_LPAE_PTE_AP_UNPRIV, AP[1]
const AP_RDONLY = 1 << 7; // ARM_LPAE_PTE_AP_RDONLY, AP[2]
const SH_IS = 3 << 8; // ARM_LPAE_PTE_SH_IS
const AF = 1 << 10; // ARM_LPAE_PTE_AF
const NG = 1 << 11; // ARM_LPAE_PTE_nG
/** High word bits 15:0 = address bits 47:32. */
const HI_ADDR_MASK = 0xffff;

/** Address bits 47:12 of a descriptor. */
function descAddr(lo: number, hi: number): number {
  return (lo >>> 12) * 4096 + (hi & HI_ADDR_MASK) * 2 ** 32;
}

/**
 * Codec for one level. `leafShift`: log2 of the page/block an entry maps, or -1 if the
 * level holds no leaves (L0). `tables`: whether entries may point to a next-level table.
 */
function levelCodec(level: string, leafShift: number, tables: boolean) {
  const leafType = tables ? TYPE_BLOCK : TYPE_PAGE;
  const leafSize = 2 ** leafShift;
  const decode = (words: Uint32Array, out: DecodedEntry): void => {
    const lo = words[0];
    const type = lo & TYPE_MASK;
    if (tables && type === TYPE_TABLE) {
      out.kind = EntryKind.Table;
      out.addr = descAddr(lo, words[1]);
      out.addr2 = -1;
      out.pageShift = 0;
      out.readOnly = false;
      out.privileged = false;
      out.volatile = false;
      out.aperture = Aperture.Vram;
    } else if (leafShift >= 0 && type === leafType && (lo & AF) !== 0) {
      out.kind = EntryKind.Page;
      const addr = descAddr(lo, words[1]);
      out.addr = addr - (addr % leafSize); // bits below the block size are RES0
      out.addr2 = -1;
      out.pageShift = leafShift;
      out.readOnly = (lo & AP_RDONLY) !== 0;
      out.privileged = (lo & AP_UNPRIV) === 0;
      out.volatile = false;
      out.aperture = Aperture.Vram;
    } else {
      // Invalid, reserved, or a leaf with AF = 0 (Access Flag fault on hardware).
      setBare(out, EntryKind.Unmapped);
    }
  };
  const encode = (spec: EntrySpec, words: Uint32Array): void => {
    switch (spec.kind) {
      case EntryKind.Unmapped:
        words[0] = 0;
        words[1] = 0;
        return;
      case EntryKind.Table: {
        if (!tables) unsupported(NAME, level, spec.kind);
        const addr = checkAddr(NAME, level, 'table', spec.addr, PA_BITS, 0x1000);
        words[0] = lo32(addr) + TYPE_TABLE;
        words[1] = hi32(addr);
        return;
      }
      case EntryKind.Page: {
        if (leafShift < 0) unsupported(NAME, level, spec.kind);
        const addr = checkAddr(NAME, level, 'page', spec.addr, PA_BITS, leafSize);
        words[0] = lo32(addr) + NG + AF + SH_IS + (spec.readOnly ? AP_RDONLY : 0) + (spec.privileged ? 0 : AP_UNPRIV) + leafType;
        words[1] = hi32(addr);
        return;
      }
      default: // Sparse, Blocked: no such states in LPAE
        unsupported(NAME, level, spec.kind);
    }
  };
  return { decode, encode };
}

const BOTH = PageFlag.VRAM | PageFlag.HOST;

/** `arm-lpae-4k`: 48-bit VA, L0..L3 of 9 bits, 4 KiB pages, 2 MiB and 1 GiB blocks. */
export const armLpae4k: PageTableFormat = defineFormat({
  name: NAME,
  vaBits: 48,
  paBits: PA_BITS,
  levels: [
    { name: 'L3', type: 'PGT', indexBits: 9, entryBytes: 8, tableAlign: 0x1000, pageShift: 12, ...levelCodec('L3', 12, false) },
    { name: 'L2', type: 'PGD', indexBits: 9, entryBytes: 8, tableAlign: 0x1000, ...levelCodec('L2', 21, true) },
    { name: 'L1', type: 'PGD', indexBits: 9, entryBytes: 8, tableAlign: 0x1000, ...levelCodec('L1', 30, true) },
    { name: 'L0', type: 'PGD', indexBits: 9, entryBytes: 8, tableAlign: 0x1000, ...levelCodec('L0', -1, true) },
  ],
  pageSizes: [
    { shift: 30, level: 'L1', flags: BOTH },
    { shift: 21, level: 'L2', flags: BOTH },
    { shift: 12, level: 'L3', flags: BOTH },
  ],
  smallLeaf: 'L3',
});
