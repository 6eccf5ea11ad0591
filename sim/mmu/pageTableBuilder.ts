/**
 * Hand-builds page tables of any `PageTableFormat` in a `PhysicalMemory`, and walks them
 * with a reference functional walk that is independent of the simulator's walker. Tests
 * use it to set up translations and to check walkers, TLBs and drivers against.
 *
 * Tables come from a bump allocator starting at `tableArenaBase` (each aligned to its
 * level's `tableAlign` and zeroed); they are never freed. Entries are written with
 * `format.encode`, so the bytes in memory are exactly what the format's codec produces.
 * New tables are always in Vram. Mapping below an existing block or sparse entry replaces
 * it with an empty table (no block splitting, unlike io-pgtable-arm).
 */

import { alignUp, hex } from '../engine/addr';
import type { PhysicalMemory } from '../mem/physmem';
import {
  Aperture,
  EntryKind,
  PageFlag,
  levelIndex,
  newDecodedEntry,
  type DecodedEntry,
  type EntrySpec,
  type PageTableFormat,
} from '../mmu/format/types';

export interface MapOptions {
  readOnly?: boolean;
  privileged?: boolean;
  aperture?: Aperture;
  volatile?: boolean;
}

export interface Translation {
  kind: 'page' | 'sparse' | 'fault';
  /** Page: the physical address of `va`. */
  pa?: number;
  /** Page: log2 of the page size. */
  pageShift?: number;
  /** Entries read by the walk (one per PDE/PTE, whatever its size). */
  reads: number;
  readOnly?: boolean;
  privileged?: boolean;
  aperture?: Aperture;
  /** Name of the level whose entry ended the walk. */
  level: string;
}

export class PageTableBuilder {
  /** Physical address of the root table. */
  readonly root: number;
  private next: number;
  private readonly words = new Uint32Array(4);
  private readonly entry: DecodedEntry = newDecodedEntry();

  constructor(
    readonly mem: PhysicalMemory,
    readonly format: PageTableFormat,
    tableArenaBase: number,
  ) {
    this.next = tableArenaBase;
    this.root = this.allocTable(format.root);
  }

  /** First free byte of the table arena. */
  get arenaEnd(): number {
    return this.next;
  }

  /** Allocates a zeroed table for `level`. */
  allocTable(level: number): number {
    const l = this.format.levels[level];
    const addr = alignUp(this.next, l.tableAlign);
    this.next = addr + l.tableBytes;
    this.mem.fill(addr, l.tableBytes, 0);
    return addr;
  }

  /** Maps the page of 2^pageShift at `va` (aligned) to `pa`, allocating tables on the way. */
  map(va: number, pa: number, pageShift: number, opts: MapOptions = {}): void {
    const ps = this.format.pageSizes.find((p) => p.shift === pageShift && (p.flags & ~PageFlag.SPARSE) !== 0 /* not sparse-only */);
    if (!ps) throw new Error(`${this.format.name}: no page size 2^${pageShift}`);
    this.checkVa(va);
    if (va % 2 ** pageShift !== 0 || pa % 2 ** pageShift !== 0) {
      throw new Error(`${this.format.name}: map ${hex(va)} -> ${hex(pa)} not aligned to 2^${pageShift}`);
    }
    const at = this.entryAddr(va, ps.level, true)!;
    this.write(at, ps.level, {
      kind: EntryKind.Page,
      addr: pa,
      readOnly: opts.readOnly,
      privileged: opts.privileged,
      aperture: opts.aperture,
      volatile: opts.volatile,
    });
  }

  /** Makes the entry for `va` at `level` (index or name) sparse, allocating tables above it. */
  setSparse(va: number, level: number | string): void {
    const lvl = this.levelOf(level);
    this.checkVa(va);
    this.write(this.entryAddr(va, lvl, true)!, lvl, { kind: EntryKind.Sparse });
  }

  /** Makes the LPTE for `va` "invalid" (EntryKind.Blocked): the SPT is not looked at. */
  setBlocked(va: number): void {
    const lpt = this.format.largeLeaf;
    if (lpt < 0) throw new Error(`${this.format.name}: no LPT, so no blocked LPTEs`);
    this.checkVa(va);
    this.write(this.entryAddr(va, lpt, true)!, lpt, { kind: EntryKind.Blocked });
  }

  /** Clears the entry mapping `va` at the level of pages of 2^pageShift. Returns false if no table holds it. */
  unmap(va: number, pageShift: number): boolean {
    const ps = this.format.pageSizes.find((p) => p.shift === pageShift);
    if (!ps) throw new Error(`${this.format.name}: no page size 2^${pageShift}`);
    this.checkVa(va);
    const at = this.entryAddr(va, ps.level, false);
    if (at === undefined) return false;
    this.write(at, ps.level, { kind: EntryKind.Unmapped });
    return true;
  }

  /** Writes `spec` into the entry for `va` at `level` (allocating tables above it). Returns the entry's address. */
  writeEntry(va: number, level: number | string, spec: EntrySpec): number {
    const lvl = this.levelOf(level);
    this.checkVa(va);
    const at = this.entryAddr(va, lvl, true)!;
    this.write(at, lvl, spec);
    return at;
  }

  /**
   * Address of the entry for `va` at `level`, following (and with `alloc`, creating)
   * Table entries from the root. For a leaf of a dual format, the path goes through the
   * dual PDE's LPT or SPT pointer as the level requires; adding one pointer keeps the
   * other. Returns undefined if a table on the path is missing and `alloc` is false.
   */
  entryAddr(va: number, level: number | string, alloc = false): number | undefined {
    const f = this.format;
    const target = this.levelOf(level);
    let lvl = f.root;
    let table = this.root;
    while (lvl !== target) {
      const at = this.slot(table, lvl, va);
      this.read(at, lvl, this.entry);
      const e = this.entry;
      const wantSpt = f.isDual(lvl) && target === f.smallLeaf;
      const childLvl = wantSpt ? f.smallLeaf : f.child(lvl);
      if (childLvl < 0 || childLvl < target) throw new Error(`${f.name}: level ${f.levels[target].name} is not below ${f.levels[lvl].name}`);
      let next = -1;
      if (e.kind === EntryKind.Table) next = wantSpt ? e.addr2 : e.addr;
      if (next < 0) {
        if (!alloc) return undefined;
        next = this.allocTable(childLvl);
        const spec: EntrySpec = { kind: EntryKind.Table, aperture: Aperture.Vram };
        if (f.isDual(lvl)) {
          const keep = e.kind === EntryKind.Table;
          spec.addr = wantSpt ? (keep ? e.addr : -1) : next;
          spec.addr2 = wantSpt ? next : keep ? e.addr2 : -1;
        } else {
          spec.addr = next;
        }
        this.write(at, lvl, spec);
      }
      lvl = childLvl;
      table = next;
    }
    return this.slot(table, lvl, va);
  }

  /**
   * Reference walk of `va`. Rules: from the root, a Table entry leads to its child; at a
   * dual PDE, if the LPT pointer is present the LPTE is read: Page ends the walk, Sparse
   * gives sparse, Blocked faults, Unmapped goes on to the SPT if the SPT pointer is
   * present (else faults); without an LPT pointer the walk goes straight to the SPT.
   * Sparse at any level gives sparse; Unmapped faults.
   */
  translate(va: number): Translation {
    const f = this.format;
    const e = newDecodedEntry();
    let reads = 0;
    if (!(va >= 0 && va < 2 ** f.vaBits)) return { kind: 'fault', reads, level: f.levels[f.root].name };
    let lvl = f.root;
    let table = this.root;
    let spt = -1;
    for (;;) {
      this.read(this.slot(table, lvl, va), lvl, e);
      reads++;
      const name = f.levels[lvl].name;
      switch (e.kind) {
        case EntryKind.Page:
          return {
            kind: 'page',
            pa: e.addr + (va % 2 ** e.pageShift),
            pageShift: e.pageShift,
            reads,
            readOnly: e.readOnly,
            privileged: e.privileged,
            aperture: e.aperture,
            level: name,
          };
        case EntryKind.Sparse:
          return { kind: 'sparse', reads, level: name };
        case EntryKind.Blocked:
          return { kind: 'fault', reads, level: name };
        case EntryKind.Unmapped:
          if (lvl === f.largeLeaf && spt >= 0) {
            lvl = f.smallLeaf;
            table = spt;
            spt = -1;
            continue;
          }
          return { kind: 'fault', reads, level: name };
        case EntryKind.Table:
          if (f.isDual(lvl)) {
            if (e.addr >= 0) {
              lvl = f.largeLeaf;
              table = e.addr;
              spt = e.addr2;
            } else {
              lvl = f.smallLeaf;
              table = e.addr2;
            }
          } else {
            lvl = f.child(lvl);
            table = e.addr;
          }
          if (lvl < 0) throw new Error(`${f.name}: Table entry at leaf level ${name}`);
          continue;
        default:
          throw new Error(`${f.name}: unknown entry kind ${e.kind as number}`);
      }
    }
  }

  /** Decodes the entry at `addr` of `level` into `out` (or a new DecodedEntry). */
  read(addr: number, level: number, out: DecodedEntry = newDecodedEntry()): DecodedEntry {
    const n = this.format.levels[level].entryBytes / 4;
    for (let i = 0; i < n; i++) this.words[i] = this.mem.read32(addr + 4 * i);
    this.format.decode(level, this.words, out);
    return out;
  }

  /** Encodes `spec` for `level` and writes it at `addr`. */
  write(addr: number, level: number, spec: EntrySpec): void {
    const n = this.format.levels[level].entryBytes / 4;
    this.words.fill(0);
    this.format.encode(level, spec, this.words);
    for (let i = 0; i < n; i++) this.mem.write32(addr + 4 * i, this.words[i]);
  }

  private slot(table: number, level: number, va: number): number {
    const l = this.format.levels[level];
    return table + levelIndex(l, va) * l.entryBytes;
  }

  private levelOf(level: number | string): number {
    const i = typeof level === 'number' ? level : this.format.levels.findIndex((l) => l.name === level);
    if (!(i >= 0 && i < this.format.levels.length)) throw new Error(`${this.format.name}: no level ${level}`);
    return i;
  }

  private checkVa(va: number): void {
    if (!(Number.isInteger(va) && va >= 0 && va < 2 ** this.format.vaBits)) {
      throw new Error(`${this.format.name}: VA ${hex(va)} outside [0, 2^${this.format.vaBits})`);
    }
  }
}

/**
 * The guest's view of physical memory for a PageTableBuilder: IPA = PA - offset. Stage-1
 * tables built through it have IPA table addresses (and descriptors), as a guest
 * kernel's do under a hypervisor's stage 2.
 */
export function ipaView(mem: PhysicalMemory, offset: number): PhysicalMemory {
  return {
    fill: (addr: number, len: number, value: number) => mem.fill(addr + offset, len, value),
    read32: (addr: number) => mem.read32(addr + offset),
    write32: (addr: number, value: number) => mem.write32(addr + offset, value),
  } as unknown as PhysicalMemory;
}
