/**
 * Builds a `PageTableFormat` from a short description (issue 3), so that every format
 * derives its level geometry (shifts, table sizes), child links and dual flags the same
 * way and only supplies what is its own: the index widths and the entry codec.
 *
 * Shifts are derived bottom-up: a leaf level gives its page shift; a level above it
 * indexes the VA bits just above its child's index (for a dual level, the LPT's and the
 * SPT's spans must agree). The root's top bit must equal `vaBits`.
 */

import { SimInvariantError } from '../../engine/errors';
import { hex, isAligned, isPowerOfTwo } from '../../engine/addr';
import {
  Aperture,
  EntryKind,
  type DecodedEntry,
  type EntrySpec,
  type LevelDesc,
  type LevelType,
  type PageSizeDesc,
  type PageTableFormat,
} from './types';

/** Decodes the entry in `words` at one level. Must set every field of `out`. */
export type LevelDecoder = (words: Uint32Array, out: DecodedEntry) => void;
/** Encodes `spec` at one level into `words` (all of the entry's words). */
export type LevelEncoder = (spec: EntrySpec, words: Uint32Array) => void;

export interface LevelSpec {
  readonly name: string;
  readonly type: LevelType;
  readonly indexBits: number;
  readonly entryBytes: 8 | 16;
  readonly tableAlign: number;
  /** Leaf-only levels: log2 of the page size they map (their VA shift). Omit for others. */
  readonly pageShift?: number;
  /** Entries hold two table pointers (LPT + SPT). */
  readonly dual?: boolean;
  /** Leaf entries in a contiguous-hint run at this level (Arm LPAE); omit or 0 for none. */
  readonly contiguousEntries?: number;
  readonly decode: LevelDecoder;
  readonly encode: LevelEncoder;
}

export interface FormatSpec {
  readonly name: string;
  /** Translation stage (default 1). */
  readonly stage?: 1 | 2;
  readonly vaBits: number;
  readonly paBits: number;
  /** Leaf first, root last; dual formats list SPT then LPT first. */
  readonly levels: readonly LevelSpec[];
  /** Page sizes, `level` given by level name. Listed largest first, as nvkm does. */
  readonly pageSizes: readonly { readonly shift: number; readonly level: string; readonly flags: number }[];
  readonly smallLeaf: string;
  /** LPT of a dual format; omit otherwise. */
  readonly largeLeaf?: string;
}

function fail(format: string, msg: string): never {
  throw new SimInvariantError(`page-table format ${format}: ${msg}`);
}

/** Builds and checks a format; throws SimInvariantError on an inconsistent description. */
export function defineFormat(spec: FormatSpec): PageTableFormat {
  const n = spec.levels.length;
  const indexOf = (name: string): number => {
    const i = spec.levels.findIndex((l) => l.name === name);
    if (i < 0) fail(spec.name, `no level named ${name}`);
    return i;
  };
  const smallLeaf = indexOf(spec.smallLeaf);
  const largeLeaf = spec.largeLeaf === undefined ? -1 : indexOf(spec.largeLeaf);
  // Levels 0..lastLeaf map pages only; every level above points to the one below it.
  const lastLeaf = Math.max(smallLeaf, largeLeaf);
  if (smallLeaf !== 0 || (largeLeaf >= 0 && largeLeaf !== 1)) fail(spec.name, 'leaves must come first (SPT, then LPT)');

  const shifts: number[] = [];
  for (let i = 0; i < n; i++) {
    const l = spec.levels[i];
    if (i <= lastLeaf) {
      if (l.pageShift === undefined) fail(spec.name, `leaf level ${l.name} needs a pageShift`);
      shifts.push(l.pageShift);
      continue;
    }
    if (l.pageShift !== undefined) fail(spec.name, `level ${l.name} is not a leaf-only level; its shift is derived`);
    const child = spec.levels[i - 1];
    shifts.push(shifts[i - 1] + child.indexBits);
    if (l.dual) {
      if (i - 1 !== largeLeaf) fail(spec.name, `dual level ${l.name} must sit directly above the LPT`);
      const spt = spec.levels[smallLeaf];
      if (shifts[smallLeaf] + spt.indexBits !== shifts[i]) fail(spec.name, `SPT and LPT under ${l.name} span different VA ranges`);
    }
  }
  const root = n - 1;
  if (shifts[root] + spec.levels[root].indexBits !== spec.vaBits) {
    fail(spec.name, `level index bits end at bit ${shifts[root] + spec.levels[root].indexBits}, vaBits is ${spec.vaBits}`);
  }

  const levels: LevelDesc[] = spec.levels.map((l, i) => {
    if (!isPowerOfTwo(l.tableAlign)) fail(spec.name, `level ${l.name}: tableAlign must be a power of two`);
    return Object.freeze({
      name: l.name,
      type: l.type,
      indexBits: l.indexBits,
      shift: shifts[i],
      entryBytes: l.entryBytes,
      tableBytes: 2 ** l.indexBits * l.entryBytes,
      tableAlign: l.tableAlign,
      contiguousEntries: l.contiguousEntries ?? 0,
    });
  });
  const pageSizes: PageSizeDesc[] = spec.pageSizes.map((p) => {
    const level = indexOf(p.level);
    if (shifts[level] !== p.shift) fail(spec.name, `page size 2^${p.shift} does not match level ${p.level} (shift ${shifts[level]})`);
    return Object.freeze({ shift: p.shift, level, flags: p.flags });
  });
  const children = levels.map((_, i) => (i <= lastLeaf ? -1 : i - 1));
  const dual = spec.levels.map((l) => l.dual === true);
  const decoders = spec.levels.map((l) => l.decode);
  const encoders = spec.levels.map((l) => l.encode);
  const name = spec.name;

  const format: PageTableFormat = {
    name,
    stage: spec.stage ?? 1,
    vaBits: spec.vaBits,
    paBits: spec.paBits,
    // The two arrays are readonly by type but not frozen: Node 20 reads an element of a
    // frozen array through the generic keyed-load IC, not inlined code (5x slower in
    // isolation), and the walker reads a level per table read. Their entries are frozen.
    levels,
    pageSizes,
    root,
    smallLeaf,
    largeLeaf,
    child: (level) => children[level],
    isDual: (level) => dual[level],
    decode(level, words, out) {
      decoders[level](words, out);
    },
    encode(level, entry, words) {
      const enc = encoders[level];
      if (enc === undefined) fail(name, `no level ${level}`);
      enc(entry, words);
    },
  };
  return Object.freeze(format);
}

// ---- helpers shared by the codecs ----

const TWO_32 = 2 ** 32;

/** Resets `out` to an Unmapped entry. */
export function setUnmapped(out: DecodedEntry): void {
  out.kind = EntryKind.Unmapped;
  out.addr = -1;
  out.addr2 = -1;
  out.pageShift = 0;
  out.readOnly = false;
  out.privileged = false;
  out.volatile = false;
  out.aperture = Aperture.Vram;
}

/** Sets `out` to a kind without addresses or flags (Unmapped, Sparse, Blocked). */
export function setBare(out: DecodedEntry, kind: EntryKind): void {
  setUnmapped(out);
  out.kind = kind;
}

/** Low 32 bits of an address (< 2^53) as an unsigned word. */
export function lo32(addr: number): number {
  return addr % TWO_32;
}

/** Bits 32 and up of an address (< 2^53). */
export function hi32(addr: number): number {
  return Math.floor(addr / TWO_32);
}

/**
 * Checks an address a spec asks to encode: an integer in [0, 2^paBits) aligned to
 * `align`. Throws SimInvariantError otherwise.
 */
export function checkAddr(format: string, level: string, what: string, addr: number | undefined, paBits: number, align: number): number {
  if (addr === undefined || !Number.isInteger(addr) || addr < 0 || addr >= 2 ** paBits) {
    fail(format, `${level}: ${what} address ${addr === undefined ? 'missing' : hex(addr)} is not in [0, 2^${paBits})`);
  }
  if (!isAligned(addr, align)) fail(format, `${level}: ${what} address ${hex(addr)} is not aligned to ${hex(align)}`);
  return addr;
}

/** Throws for an entry kind a level cannot hold. */
export function unsupported(format: string, level: string, kind: EntryKind): never {
  const names = ['Unmapped', 'Table', 'Page', 'Sparse', 'Blocked'];
  fail(format, `${level}: entries cannot be ${names[kind] ?? `kind ${kind}`}`);
}

/** Zeroes all words of an entry. */
export function zero(words: Uint32Array, count: number): void {
  for (let i = 0; i < count; i++) words[i] = 0;
}
