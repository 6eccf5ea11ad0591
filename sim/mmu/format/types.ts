import { bitsAt } from '../../engine/addr';

/**
 * Page-table formats described by data (issue 3): levels, page sizes, and a codec for
 * entries. Walkers, drivers and tests all go through this description, so a format is
 * defined once. Entries are handled as little-endian 32-bit words (2 per 8-byte entry,
 * 4 per 16-byte dual entry) so that no BigInt is needed.
 */

export type LevelType = 'PGD' | 'PGT' | 'SPT' | 'LPT';

export interface LevelDesc {
  /** Hardware name: `PD3`…`PD0`, `SPT`, `LPT`, `PGD`, `L0`…`L3`. */
  readonly name: string;
  readonly type: LevelType;
  /** VA bits indexing this level's table. */
  readonly indexBits: number;
  /** Lowest VA bit of the index. */
  readonly shift: number;
  /** 8, or 16 for dual (LPT + SPT) PDEs. */
  readonly entryBytes: 8 | 16;
  /** Bytes of one table: 2^indexBits × entryBytes. */
  readonly tableBytes: number;
  /** Required alignment of a table's physical address. */
  readonly tableAlign: number;
  /**
   * Leaf entries one contiguous-hint run spans at this level (Arm LPAE's Contiguous bit:
   * aligned runs mapping one contiguous range), 0 where the format has no such hint.
   */
  readonly contiguousEntries: number;
}

/** Page-size flags, after nvkm's NVKM_VMM_PAGE_* (what memory a page size may map). */
export const PageFlag = { SPARSE: 1, VRAM: 2, HOST: 4, COMP: 8 } as const;

export interface PageSizeDesc {
  /** log2 of the page size. */
  readonly shift: number;
  /** Index into `levels` of the level whose entries map pages of this size. */
  readonly level: number;
  /** PageFlag bits. */
  readonly flags: number;
}

/** What an entry says, as the hardware walker interprets it. */
export const EntryKind = {
  /** Not valid. At an LPT leaf of a dual table this means "look at the SPT". */
  Unmapped: 0,
  /** Points to a next-level table (or two, for a dual PDE). */
  Table: 1,
  /** Maps a page (or block) of `pageShift`. */
  Page: 2,
  /** Sparse: reads return zeros, writes are dropped, no fault (GM200+ / GP100). */
  Sparse: 3,
  /** GK104-style invalid LPTE: fault without looking at the SPT. */
  Blocked: 4,
} as const;
export type EntryKind = (typeof EntryKind)[keyof typeof EntryKind];

/** Memory a PTE/PDE targets (nvkm's NVKM_MEM_TARGET_*). LPAE uses Vram for "normal memory". */
export const Aperture = { Vram: 0, Host: 1, HostNonCoherent: 2 } as const;
export type Aperture = (typeof Aperture)[keyof typeof Aperture];

/** A decoded entry. Walkers keep one as scratch and the codec fills it: no allocation per step. */
export interface DecodedEntry {
  kind: EntryKind;
  /** Table: next table's address (for a dual PDE: the LPT, or -1 if absent). Page: page base address. */
  addr: number;
  /** Dual PDE: the SPT's address, or -1 if absent. Otherwise -1. */
  addr2: number;
  /** Page: log2 of its size. */
  pageShift: number;
  readOnly: boolean;
  /** Accessible only by privileged requests (nv PRIV; LPAE: no EL0 access). */
  privileged: boolean;
  volatile: boolean;
  aperture: Aperture;
  /**
   * Page: reads are not allowed (Arm stage-2 S2AP without its read bit). Only stage-2
   * codecs write it (on every decode); stage-1 codecs never do, so an entry only ever
   * decoded by them leaves it out (stage-1 decoding is unchanged by stage 2).
   */
  noRead?: boolean;
}

export function newDecodedEntry(): DecodedEntry {
  return { kind: EntryKind.Unmapped, addr: -1, addr2: -1, pageShift: 0, readOnly: false, privileged: false, volatile: false, aperture: Aperture.Vram };
}

/** What a driver asks to write. */
export interface EntrySpec {
  kind: EntryKind;
  /** Table: next table (dual PDE: LPT, or -1 for none). Page: page base address. */
  addr?: number;
  /** Dual PDE: SPT address, or -1 for none. */
  addr2?: number;
  readOnly?: boolean;
  privileged?: boolean;
  volatile?: boolean;
  aperture?: Aperture;
  /** Aperture of the SPT pointer of a dual PDE (defaults to `aperture`). */
  aperture2?: Aperture;
  /** Leaf with the Contiguous hint (Arm LPAE bit 52; ignored by formats without one). */
  contiguous?: boolean;
  /** Stage-2 leaf without read permission (S2AP[0] = 0); ignored by stage-1 formats. */
  noRead?: boolean;
}

export interface PageTableFormat {
  readonly name: string;
  /**
   * 1: input addresses are VAs (a unit's own format); 2: a stage-2 format, whose inputs are
   * IPAs and whose leaves carry stage-2 permissions (format/index.ts STAGE2_FORMATS).
   */
  readonly stage: 1 | 2;
  readonly vaBits: number;
  readonly paBits: number;
  /** Leaf first, root last (dual formats list both leaves, SPT before LPT). */
  readonly levels: readonly LevelDesc[];
  readonly pageSizes: readonly PageSizeDesc[];
  /** Index of the root level (levels.length - 1). */
  readonly root: number;
  /** Index of the small-page leaf (SPT / PGT / L3). */
  readonly smallLeaf: number;
  /** Index of the large-page leaf of a dual format (LPT), or -1. */
  readonly largeLeaf: number;
  /**
   * The level a Table entry at `level` points to: one level, or for a dual PDE the LPT
   * (decoded.addr) and the SPT (decoded.addr2). Returns the child index for addr;
   * for dual PDEs the SPT child is `smallLeaf`.
   */
  child(level: number): number;
  /** Whether entries at `level` are dual (LPT + SPT pointers). */
  isDual(level: number): boolean;
  /** Decodes the entry in `words` (2 words, or 4 for 16-byte entries) at `level`. */
  decode(level: number, words: Uint32Array, out: DecodedEntry): void;
  /** Encodes `spec` for `level` into `words` (2 or 4 words). Throws SimInvariantError on impossible specs. */
  encode(level: number, spec: EntrySpec, words: Uint32Array): void;
}

/** Index into the table at `level` for `va` (helpers built on division, not bitwise ops). */
export function levelIndex(level: LevelDesc, va: number): number {
  return bitsAt(va, level.shift, level.indexBits);
}
