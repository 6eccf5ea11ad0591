/**
 * ARM VMSAv8-64 long-descriptor ("LPAE") stage-1 page tables with the 4 KiB, 16 KiB and
 * 64 KiB translation granules, as Linux's drivers/iommu/io-pgtable-arm.c builds them
 * (ARM_64_LPAE_S1), issues 3 and 17. Arm ARM (DDI 0487), chapter D8 "The AArch64 Virtual
 * Memory System Architecture": D8.2 "Translation tables and the translation process"
 * (granule sizes, levels, the initial lookup level for an input-address size) and D8.3
 * "Translation table descriptor formats" (table, block and page descriptors).
 *
 * Geometry per granule (a table is one granule of 8-byte descriptors, so a level resolves
 * log2(granule) - 3 bits; the levels an input-address size needs, and the root's width,
 * as arm_lpae_alloc_pgtable computes them):
 *   granule  bits/level  48-bit VA levels    leaves
 *   4 KiB    9           L0..L3 (512 at L0)  4 KiB pages (L3), 2 MiB (L2) and 1 GiB (L1) blocks
 *   16 KiB   11          L0..L3 (2 at L0)    16 KiB pages (L3), 32 MiB blocks (L2)
 *   64 KiB   13          L1..L3 (64 at L1)   64 KiB pages (L3), 512 MiB blocks (L2)
 * Block descriptors at 16K L1 (64 GiB) need FEAT_LPA2 and at 64K L1 (4 TiB) FEAT_LPA
 * (52-bit output addresses); neither is modelled (output addresses are 48-bit, as
 * io-pgtable-arm.c without oas > 48), so a type-1 descriptor there decodes as invalid,
 * as at L0 and L3. The registered formats are the 48-bit-VA ones (T0SZ = 16);
 * `armLpaeFormat(granule, vaBits)` builds the same codec for a smaller input size, with
 * the initial lookup level and root width the Arm ARM gives for it.
 *
 * Contiguous hint (Arm ARM D8.6.1 "The Contiguous bit"; bit 52 of a block or page
 * descriptor): a run of entries, aligned to the run, mapping one contiguous output range
 * with the same attributes may carry the hint, which lets a TLB hold the run as one entry.
 * Runs: 4K granule 16 entries at L3, L2 and L1; 16K: 128 at L3, 32 at L2; 64K: 32 at L3 and
 * L2 (the same spans as Linux's arm64 CONT_PTE_SHIFT / CONT_PMD_SHIFT). The codec encodes
 * the bit (`EntrySpec.contiguous`) and `armLpaeIsContiguous` reads it; the walkers and TLBs
 * ignore it, which the architecture permits (it is a hint), and io-pgtable-arm.c never
 * sets it.
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
 *   bits 47:12  output address / next-level table address (bits below the granule, and
 *               below the block size, are RES0 and ignored)
 *   bit 52      Contiguous hint (leaves only)
 *   bits 54:53  XN (ARM_LPAE_PTE_XN); execution is not modelled, encoded 0
 *   Table descriptors carry only the type and the address; NSTable/APTable/XNTable
 *   (bits 63:59) are encoded 0 and ignored (io-pgtable-arm.c sets only NSTable, with the NS quirk).
 *
 * A leaf (page or block) with AF = 0 makes real hardware raise an Access Flag fault. The
 * simulator has no separate fault class for it: such an entry decodes as Unmapped, so a
 * walk faults as "not present".
 *
 * Stage 2 (issue 17): `armLpaeS2Format` builds the same levels with stage-2 leaf
 * attributes (S2AP, MemAttr; see its comment) and concatenated initial-level tables.
 *
 * LPAE has no sparse or "invalid LPTE" states: encoding EntryKind.Sparse or
 * EntryKind.Blocked throws SimInvariantError. Apertures are not part of the descriptor:
 * every leaf decodes as Aperture.Vram ("normal memory"); the spec's aperture is ignored.
 */

import { Aperture, EntryKind, PageFlag, type DecodedEntry, type EntrySpec, type PageTableFormat } from './types';
import { checkAddr, defineFormat, hi32, lo32, setBare, unsupported, type LevelSpec } from './defineFormat';
import { SimInvariantError } from '../../engine/errors';

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
// Stage 2 (Arm ARM D8.3.2 "Stage 2 attributes"; io-pgtable-arm.c ARM_LPAE_PTE_HAP_*, _MEMATTR_*).
const HAP_READ = 1 << 6; // S2AP[0]: reads allowed
const HAP_WRITE = 1 << 7; // S2AP[1]: writes allowed
const MEMATTR_NC = 0x5 << 2; // ARM_LPAE_PTE_MEMATTR_NC: MemAttr[3:0] = 0b0101, Normal non-cacheable
/** Contiguous hint, descriptor bit 52: bit 20 of the high word. */
const CONT_HI = 1 << 20;
/** High word bits 15:0 = address bits 47:32. */
const HI_ADDR_MASK = 0xffff;

/** The translation granules (Arm ARM D8.2: TG0 encodings 4KB, 16KB, 64KB). */
export type ArmLpaeGranule = 0x1000 | 0x4000 | 0x1_0000;
export const ARM_LPAE_GRANULES: readonly ArmLpaeGranule[] = [0x1000, 0x4000, 0x1_0000];


/**
 * Codec for one level. `leafShift`: log2 of the page/block an entry maps, or -1 if the
 * level holds no leaves. `tables`: whether entries may point to a next-level table.
 * `granule`: the next-level tables' size and alignment.
 */
function levelCodec(name: string, level: string, leafShift: number, tables: boolean, granule: number, stage2 = false) {
  const leafType = tables ? TYPE_BLOCK : TYPE_PAGE;
  const leafSize = 2 ** leafShift;
  // Table addresses are granule-aligned; with a 4 KiB granule bits 47:12 are all address.
  const maskTable = granule > 0x1000;
  const decode = (words: Uint32Array, out: DecodedEntry): void => {
    const lo = words[0];
    const type = lo & TYPE_MASK;
    // Address bits 47:12. Computed here, not by a helper: an address past 2^31 returned
    // from a call V8 does not inline is boxed, an allocation per walk step.
    const addr = (lo >>> 12) * 4096 + (words[1] & HI_ADDR_MASK) * 2 ** 32;
    if (tables && type === TYPE_TABLE) {
      out.kind = EntryKind.Table;
      out.addr = maskTable ? addr - (addr % granule) : addr;
      out.addr2 = -1;
      out.pageShift = 0;
      out.readOnly = false;
      out.privileged = false;
      out.volatile = false;
      out.aperture = Aperture.Vram;
    } else if (leafShift >= 0 && type === leafType && (lo & AF) !== 0) {
      out.kind = EntryKind.Page;
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
  // Stage 2: the same decode, then the leaf's S2AP in place of AP[2:1] (a separate
  // function, so stage-1 decoding does not test which stage it is).
  const decodeS2 = (words: Uint32Array, out: DecodedEntry): void => {
    decode(words, out);
    out.noRead = false;
    if (out.kind !== EntryKind.Page) return;
    // S2AP: no EL0/EL1 distinction at stage 2; read and write are separate bits.
    const lo = words[0];
    out.readOnly = (lo & HAP_WRITE) === 0;
    out.noRead = (lo & HAP_READ) === 0;
    out.privileged = false;
  };
  const encode = (spec: EntrySpec, words: Uint32Array): void => {
    switch (spec.kind) {
      case EntryKind.Unmapped:
        words[0] = 0;
        words[1] = 0;
        return;
      case EntryKind.Table: {
        if (!tables) unsupported(name, level, spec.kind);
        const addr = checkAddr(name, level, 'table', spec.addr, PA_BITS, granule);
        words[0] = lo32(addr) + TYPE_TABLE;
        words[1] = hi32(addr);
        return;
      }
      case EntryKind.Page: {
        if (leafShift < 0) unsupported(name, level, spec.kind);
        const addr = checkAddr(name, level, 'page', spec.addr, PA_BITS, leafSize);
        words[0] = stage2
          ? lo32(addr) + AF + SH_IS + MEMATTR_NC + (spec.noRead === true ? 0 : HAP_READ) + (spec.readOnly === true ? 0 : HAP_WRITE) + leafType
          : lo32(addr) + NG + AF + SH_IS + (spec.readOnly ? AP_RDONLY : 0) + (spec.privileged ? 0 : AP_UNPRIV) + leafType;
        words[1] = hi32(addr) + (spec.contiguous === true ? CONT_HI : 0);
        return;
      }
      default: // Sparse, Blocked: no such states in LPAE
        unsupported(name, level, spec.kind);
    }
  };
  return { decode: stage2 ? decodeS2 : decode, encode };
}

const BOTH = PageFlag.VRAM | PageFlag.HOST;

/**
 * Per granule, by level 0..3: whether a block (level < 3) or page (level 3) descriptor is
 * valid there with 48-bit output addresses (Arm ARM D8.3, no FEAT_LPA / FEAT_LPA2), and
 * the contiguous-hint run in entries (D8.6.1; 0: no leaves at that level).
 */
const LEAVES: Record<ArmLpaeGranule, readonly { leaf: boolean; contiguous: number }[]> = {
  0x1000: [{ leaf: false, contiguous: 0 }, { leaf: true, contiguous: 16 }, { leaf: true, contiguous: 16 }, { leaf: true, contiguous: 16 }],
  0x4000: [{ leaf: false, contiguous: 0 }, { leaf: false, contiguous: 0 }, { leaf: true, contiguous: 32 }, { leaf: true, contiguous: 128 }],
  0x1_0000: [{ leaf: false, contiguous: 0 }, { leaf: false, contiguous: 0 }, { leaf: true, contiguous: 32 }, { leaf: true, contiguous: 32 }],
};

const GRANULE_NAME: Record<ArmLpaeGranule, string> = { 0x1000: '4k', 0x4000: '16k', 0x1_0000: '64k' };

/** Levels and root width for `vaBits` input bits (arm_lpae_alloc_pgtable; Arm ARM D8.2's initial lookup level). */
export function armLpaeGeometry(granule: ArmLpaeGranule, vaBits: number): { pageShift: number; bitsPerLevel: number; levels: number; startLevel: number; rootBits: number } {
  const pageShift = Math.log2(granule);
  const bitsPerLevel = pageShift - 3;
  const va = vaBits - pageShift;
  const levels = Math.ceil(va / bitsPerLevel);
  return { pageShift, bitsPerLevel, levels, startLevel: 4 - levels, rootBits: va - bitsPerLevel * (levels - 1) };
}

const built = new Map<string, PageTableFormat>();

/**
 * The LPAE stage-1 format for `granule` and `vaBits` input-address bits (25..48): levels
 * L<start>..L3 named as in the Arm ARM, each table one granule except the root (2^rootBits
 * entries, aligned to its size and at least 64 bytes, as TTBR's BADDR requires).
 * The 48-bit formats are `arm-lpae-4k`, `arm-lpae-16k` and `arm-lpae-64k`; others are
 * named `arm-lpae-<granule>-va<bits>` and are not in the registry.
 */
export function armLpaeFormat(granule: ArmLpaeGranule, vaBits = 48): PageTableFormat {
  if (!ARM_LPAE_GRANULES.includes(granule)) throw new SimInvariantError(`arm-lpae: no ${granule}-byte granule (4 KiB, 16 KiB, 64 KiB)`);
  const name = `arm-lpae-${GRANULE_NAME[granule]}${vaBits === 48 ? '' : `-va${vaBits}`}`;
  const have = built.get(name);
  if (have) return have;
  const g = armLpaeGeometry(granule, vaBits);
  if (!Number.isInteger(vaBits) || vaBits < 25 || vaBits > PA_BITS || g.levels < 2 || g.levels > 4) {
    throw new SimInvariantError(`arm-lpae: ${vaBits}-bit input addresses are not supported with a ${granule}-byte granule`);
  }
  const f = buildLpae(name, granule, vaBits, g.startLevel, g.rootBits, false);
  built.set(name, f);
  return f;
}

/** Levels L<startLevel>..L3 of an LPAE format; the root resolves `rootBits` (more than a granule's bits: concatenated tables). */
function buildLpae(name: string, granule: ArmLpaeGranule, vaBits: number, startLevel: number, rootBits: number, stage2: boolean): PageTableFormat {
  const g = armLpaeGeometry(granule, vaBits);
  const levels: LevelSpec[] = [];
  const pageSizes: { shift: number; level: string; flags: number }[] = [];
  for (let lvl = 3; lvl >= startLevel; lvl--) {
    const lname = `L${lvl}`;
    const shift = g.pageShift + g.bitsPerLevel * (3 - lvl);
    const isRoot = lvl === startLevel;
    const indexBits = isRoot ? rootBits : g.bitsPerLevel;
    const { leaf, contiguous } = LEAVES[granule][lvl];
    const tableBytes = 2 ** indexBits * 8;
    levels.push({
      name: lname,
      type: lvl === 3 ? 'PGT' : 'PGD',
      indexBits,
      entryBytes: 8,
      tableAlign: isRoot ? Math.max(64, tableBytes) : granule,
      ...(lvl === 3 ? { pageShift: g.pageShift } : {}),
      contiguousEntries: contiguous,
      ...levelCodec(name, lname, leaf ? shift : -1, lvl !== 3, granule, stage2),
    });
    if (leaf) pageSizes.unshift({ shift, level: lname, flags: BOTH });
  }
  return defineFormat({ name, stage: stage2 ? 2 : 1, vaBits, paBits: PA_BITS, levels, pageSizes, smallLeaf: 'L3' });
}

/**
 * The stage-2 initial lookup level io-pgtable-arm.c (~v6.8, arm_64_lpae_alloc_pgtable_s2)
 * picks for `ias` input (IPA) bits: the stage-1 start level, but when that is level 0 and
 * its table would have at most ARM_LPAE_S2_MAX_CONCAT_PAGES (16) entries, one level lower
 * with that many tables concatenated ("to reduce the depth of the stage-2 walk").
 * (Linux 6.13 concatenates only where the Arm ARM makes it mandatory,
 * arm_lpae_concat_mandatory; for 48-bit output addresses the two rules differ only for
 * the 4 KiB granule with 40..43-bit IPAs, which v6.8 concatenates and 6.13 does not.)
 */
export function armLpaeS2StartLevel(granule: ArmLpaeGranule, ias: number): number {
  const g = armLpaeGeometry(granule, ias);
  return g.startLevel === 0 && 2 ** g.rootBits <= S2_MAX_CONCAT ? 1 : g.startLevel;
}

/** ARM_LPAE_S2_MAX_CONCAT_PAGES: at most 16 tables concatenated at the initial level (Arm ARM D8.2.9). */
export const S2_MAX_CONCAT = 16;

/**
 * The LPAE stage-2 format (IPA -> PA) for `granule`, `ias` IPA bits and an initial lookup
 * level (default: armLpaeS2StartLevel). Stage-2 descriptors (Arm ARM D8.3.2) differ from
 * stage 1 in their leaf attributes only: bits 7:6 are S2AP (bit 6 read, bit 7 write:
 * io-pgtable-arm.c ARM_LPAE_PTE_HAP_READ / _WRITE; a leaf without read decodes with
 * `noRead`, one without write `readOnly`), bits 5:2 are MemAttr (encoded
 * ARM_LPAE_PTE_MEMATTR_NC, as io-pgtable without IOMMU_CACHE; not decoded), and there is
 * no nG (bit 11) or AP[1] (stage 2 has no privileged / unprivileged split): `privileged`
 * decodes false and is ignored when encoding. Table descriptors are as at stage 1.
 *
 * Concatenation (VTCR_EL2.SL0 + T0SZ, Arm ARM D8.2.9 / R_SRKBC): the initial level may
 * resolve up to 4 more bits than a granule's table holds, as 2..16 tables placed side by
 * side; the root is then 2^rootBits entries aligned to its whole size. The 48-bit formats
 * are registered as `arm-lpae-s2-4k` (L0..L3, no concatenation: L0 would need 512
 * entries), `arm-lpae-s2-16k` (L1..L3, 2 concatenated L1 tables) and `arm-lpae-s2-64k`
 * (L1..L3, a 64-entry L1); others are `arm-lpae-s2-<granule>-va<ias>[-sl<level>]`.
 */
export function armLpaeS2Format(granule: ArmLpaeGranule, ias = 48, startLevel = armLpaeS2StartLevel(granule, ias)): PageTableFormat {
  if (!ARM_LPAE_GRANULES.includes(granule)) throw new SimInvariantError(`arm-lpae-s2: no ${granule}-byte granule (4 KiB, 16 KiB, 64 KiB)`);
  const natural = armLpaeS2StartLevel(granule, ias);
  const name = `arm-lpae-s2-${GRANULE_NAME[granule]}${ias === 48 ? '' : `-va${ias}`}${startLevel === natural ? '' : `-sl${startLevel}`}`;
  const have = built.get(name);
  if (have) return have;
  const g = armLpaeGeometry(granule, ias);
  if (!Number.isInteger(ias) || ias < 25 || ias > PA_BITS || g.levels < 2 || g.levels > 4) {
    throw new SimInvariantError(`arm-lpae-s2: ${ias}-bit IPAs are not supported with a ${granule}-byte granule`);
  }
  // The root resolves every IPA bit above the levels below it; more than 4 extra bits
  // (16 tables) is not a valid SL0 / T0SZ pair, and fewer levels than the minimum is none.
  const rootBits = ias - g.pageShift - g.bitsPerLevel * (3 - startLevel);
  if (!Number.isInteger(startLevel) || startLevel < g.startLevel || startLevel > 3 || rootBits > g.bitsPerLevel + Math.log2(S2_MAX_CONCAT)) {
    throw new SimInvariantError(`arm-lpae-s2: start level ${startLevel} with ${ias}-bit IPAs and a ${granule}-byte granule needs more than ${S2_MAX_CONCAT} concatenated tables`);
  }
  const f = buildLpae(name, granule, ias, startLevel, rootBits, true);
  built.set(name, f);
  return f;
}

/** Whether a leaf descriptor carries the Contiguous hint (bit 52). */
export function armLpaeIsContiguous(words: Uint32Array): boolean {
  return (words[1] & CONT_HI) !== 0;
}

/** `arm-lpae-4k`: 48-bit VA, L0..L3 of 9 bits, 4 KiB pages, 2 MiB and 1 GiB blocks. */
export const armLpae4k: PageTableFormat = armLpaeFormat(0x1000);
/** `arm-lpae-16k`: 48-bit VA, L0 of 1 bit (2 entries) and L1..L3 of 11 bits, 16 KiB pages, 32 MiB blocks. */
export const armLpae16k: PageTableFormat = armLpaeFormat(0x4000);
/** `arm-lpae-64k`: 48-bit VA, L1 of 6 bits (64 entries) and L2, L3 of 13 bits, 64 KiB pages, 512 MiB blocks. */
export const armLpae64k: PageTableFormat = armLpaeFormat(0x1_0000);
/** `arm-lpae-s2-4k`: stage 2, 48-bit IPA, L0..L3 of 9 bits (as arm-lpae-4k, stage-2 leaf attributes). */
export const armLpaeS2_4k: PageTableFormat = armLpaeS2Format(0x1000);
/** `arm-lpae-s2-16k`: stage 2, 48-bit IPA, L1 of 12 bits (2 concatenated 16 KiB tables), L2 and L3 of 11 bits. */
export const armLpaeS2_16k: PageTableFormat = armLpaeS2Format(0x4000);
/** `arm-lpae-s2-64k`: stage 2, 48-bit IPA, L1 of 6 bits (64 entries), L2 and L3 of 13 bits. */
export const armLpaeS2_64k: PageTableFormat = armLpaeS2Format(0x1_0000);
