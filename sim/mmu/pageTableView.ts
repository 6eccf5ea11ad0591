import { POW2 } from '../engine/addr';
import { SimInvariantError } from '../engine/errors';
import { Aperture, EntryKind, newDecodedEntry, type DecodedEntry, type PageTableFormat } from './format/types';

/**
 * A read-only view of one translation context's page tables (issue 13): the mapped VA
 * ranges, collapsed into runs, and how full each level's tables are.
 *
 * It reads table memory straight from a `TableReader` (the SoC's PhysicalMemory): no
 * bus transaction, no walker, no TLB or walk-cache lookup, no stat, no event, so taking
 * a view changes nothing a run reports. Entries are decoded only through the format's
 * codec (`format.decode`, `format.child`, `format.isDual`), so a format defined with
 * `defineFormat` works here without changes. What counts as a mapping follows the
 * walker (sim/mmu/walker.ts): in a dual (LPT + SPT) table an LPTE that maps a page, is
 * sparse or is "invalid" (Blocked) decides its range, and only an unmapped LPTE lets
 * the SPTEs under it count; a page whose end passes 2^paBits is not a mapping (the
 * walker faults with an address-size fault).
 */

/** Where table bytes come from: the SoC's PhysicalMemory (its read32 touches no stat). */
export interface TableReader {
  /** The little-endian 32-bit word at a physical address. */
  read32(addr: number): number;
}

/** Page-table permission and attribute bits of a run, as the codec decodes them. */
export interface PageAttrs {
  readOnly: boolean;
  /** Privileged requests only (nv PRIV; LPAE: no EL0 access). */
  privileged: boolean;
  /** nv VOL (uncached); always false for LPAE. */
  volatile: boolean;
  aperture: Aperture;
}

/** Pages of one size with VA and PA both contiguous and the same attributes. */
export interface MappedRun extends PageAttrs {
  va: number;
  pa: number;
  /** log2 of the page size. */
  pageShift: number;
  pages: number;
}

/** Contiguous VA covered by sparse entries (reads give zeros, writes are dropped). */
export interface SparseRun {
  va: number;
  bytes: number;
  /** Sparse entries making up the run. */
  entries: number;
}

/** How full one level's tables are. */
export interface LevelOccupancy {
  /** Level name (`L0`…`L3`, `PD3`…`PD0`, `PGD`, `LPT`, `SPT`). */
  level: string;
  entriesPerTable: number;
  tableBytes: number;
  /** Distinct tables at this level reachable from the root. */
  tables: number;
  /** Entries that decode as a table pointer or a page (what the hardware treats as valid). */
  validEntries: number;
  /** Sparse entries (nv), counted apart from the valid ones. */
  sparseEntries: number;
  /** "Invalid" LPTEs (nv Blocked: fault without looking at the SPT). */
  blockedEntries: number;
  /** Valid entries per table: fewest, mean, most (0 when there are no tables). */
  validPerTable: { min: number; mean: number; max: number };
}

/** Pages mapped of one size, over all runs (listed or not). */
export interface PageSizeTotal {
  pageShift: number;
  pages: number;
  bytes: number;
}

export interface PageTableView {
  format: string;
  root: number;
  /** The first `maxRuns` runs in VA order. */
  runs: MappedRun[];
  /** Runs in all, listed or not. */
  runCount: number;
  /** The first `maxRuns` sparse runs in VA order. */
  sparse: SparseRun[];
  sparseRunCount: number;
  sparseBytes: number;
  /** Mapped pages per page size, smallest first (sizes with no page left out). */
  pageSizes: PageSizeTotal[];
  mappedBytes: number;
  /** Root level first. */
  levels: LevelOccupancy[];
}

export interface PageTableViewOptions {
  /** Runs (and sparse runs) listed at most; the rest are only counted. Default unlimited. */
  maxRuns?: number;
}

/** Reads the page tables of `format` rooted at `root` and returns their view (see the module comment). */
export function inspectPageTables(mem: TableReader, format: PageTableFormat, root: number, opts: PageTableViewOptions = {}): PageTableView {
  return new Inspector(mem, format, opts.maxRuns ?? Infinity).run(root);
}

class LevelTally {
  readonly seen = new Set<number>();
  valid = 0;
  sparse = 0;
  blocked = 0;
  min = Infinity;
  max = 0;
}

class Inspector {
  private readonly words = new Uint32Array(4);
  private readonly entry: DecodedEntry = newDecodedEntry();
  private readonly tallies: LevelTally[];
  private readonly runs: MappedRun[] = [];
  private runCount = 0;
  private readonly sparse: SparseRun[] = [];
  private sparseRunCount = 0;
  private sparseBytes = 0;
  private readonly pagesByShift = new Map<number, number>();
  /** The run being extended, not yet counted or listed. */
  private open: MappedRun | null = null;
  private openSparse: SparseRun | null = null;

  constructor(
    private readonly mem: TableReader,
    private readonly f: PageTableFormat,
    private readonly maxRuns: number,
  ) {
    this.tallies = f.levels.map(() => new LevelTally());
  }

  run(root: number): PageTableView {
    const f = this.f;
    this.visit(f.root, root, 0);
    this.closeRun();
    this.closeSparse();
    const pageSizes = [...this.pagesByShift].sort((a, b) => a[0] - b[0]).map(([pageShift, pages]) => ({ pageShift, pages, bytes: pages * POW2[pageShift] }));
    const levels: LevelOccupancy[] = [];
    for (let i = f.root; i >= 0; i--) {
      const l = f.levels[i];
      const t = this.tallies[i];
      const tables = t.seen.size;
      levels.push({
        level: l.name,
        entriesPerTable: POW2[l.indexBits],
        tableBytes: l.tableBytes,
        tables,
        validEntries: t.valid,
        sparseEntries: t.sparse,
        blockedEntries: t.blocked,
        validPerTable: tables === 0 ? { min: 0, mean: 0, max: 0 } : { min: t.min, mean: t.valid / tables, max: t.max },
      });
    }
    return {
      format: f.name,
      root,
      runs: this.runs,
      runCount: this.runCount,
      sparse: this.sparse,
      sparseRunCount: this.sparseRunCount,
      sparseBytes: this.sparseBytes,
      pageSizes,
      mappedBytes: pageSizes.reduce((a, p) => a + p.bytes, 0),
      levels,
    };
  }

  /** Decodes entry `index` of the table at `table` (level `level`) into this.entry. */
  private read(level: number, table: number, index: number): DecodedEntry {
    const l = this.f.levels[level];
    const at = table + index * l.entryBytes;
    for (let w = 0; w < l.entryBytes / 4; w++) this.words[w] = this.mem.read32(at + 4 * w);
    this.f.decode(level, this.words, this.entry);
    return this.entry;
  }

  /** Counts a table's entries once per distinct table, however many PDEs point at it. */
  private tally(level: number, table: number): void {
    const t = this.tallies[level];
    if (t.seen.has(table)) return;
    t.seen.add(table);
    const n = POW2[this.f.levels[level].indexBits];
    let valid = 0;
    for (let i = 0; i < n; i++) {
      const k = this.read(level, table, i).kind;
      if (k === EntryKind.Table || k === EntryKind.Page) valid++;
      else if (k === EntryKind.Sparse) t.sparse++;
      else if (k === EntryKind.Blocked) t.blocked++;
    }
    t.valid += valid;
    t.min = Math.min(t.min, valid);
    t.max = Math.max(t.max, valid);
  }

  /** Every entry of a (non-dual-leaf) table, in VA order; `vaBase` is the VA of entry 0. */
  private visit(level: number, table: number, vaBase: number): void {
    this.tally(level, table);
    this.leafRange(level, table, vaBase, 0, POW2[this.f.levels[level].indexBits]);
  }

  /** Entries [from, to) of the table at `level`: pages and sparse entries are emitted, table pointers followed. */
  private leafRange(level: number, table: number, vaBase: number, from: number, to: number): void {
    const f = this.f;
    const span = POW2[f.levels[level].shift];
    for (let i = from; i < to; i++) {
      const e = this.read(level, table, i);
      const va = vaBase + i * span;
      switch (e.kind) {
        case EntryKind.Page:
          this.emitPage(va, e);
          break;
        case EntryKind.Sparse:
          this.emitSparse(va, span);
          break;
        case EntryKind.Table:
          if (f.isDual(level)) this.visitDual(e.addr, e.addr2, va);
          else {
            const child = f.child(level);
            if (child < 0) throw new SimInvariantError(`page-table format ${f.name}: level ${f.levels[level].name} decoded a table pointer but has no child level`);
            this.visit(child, e.addr, va);
          }
          break;
        default: // Unmapped, Blocked: nothing mapped here
          break;
      }
    }
  }

  /** Below a dual PDE: each LPTE decides its range unless it is unmapped, when the SPTEs under it count. */
  private visitDual(lpt: number, spt: number, vaBase: number): void {
    const f = this.f;
    const small = f.smallLeaf;
    const large = f.largeLeaf;
    if (spt >= 0) this.tally(small, spt);
    if (lpt < 0) {
      if (spt >= 0) this.leafRange(small, spt, vaBase, 0, POW2[f.levels[small].indexBits]);
      return;
    }
    this.tally(large, lpt);
    const lptEntries = POW2[f.levels[large].indexBits];
    const sptPerLpte = POW2[f.levels[large].shift - f.levels[small].shift];
    const lptSpan = POW2[f.levels[large].shift];
    for (let j = 0; j < lptEntries; j++) {
      const e = this.read(large, lpt, j);
      const va = vaBase + j * lptSpan;
      if (e.kind === EntryKind.Page) this.emitPage(va, e);
      else if (e.kind === EntryKind.Sparse) this.emitSparse(va, lptSpan);
      else if (e.kind === EntryKind.Unmapped && spt >= 0) this.leafRange(small, spt, vaBase, j * sptPerLpte, (j + 1) * sptPerLpte);
    }
  }

  private emitPage(va: number, e: DecodedEntry): void {
    const f = this.f;
    const size = POW2[e.pageShift];
    if (e.addr + size > POW2[f.paBits]) return; // the walker's address-size fault
    this.pagesByShift.set(e.pageShift, (this.pagesByShift.get(e.pageShift) ?? 0) + 1);
    const r = this.open;
    if (
      r !== null && r.pageShift === e.pageShift && r.va + r.pages * size === va && r.pa + r.pages * size === e.addr &&
      r.readOnly === e.readOnly && r.privileged === e.privileged && r.volatile === e.volatile && r.aperture === e.aperture
    ) {
      r.pages++;
      return;
    }
    this.closeRun();
    this.open = { va, pa: e.addr, pageShift: e.pageShift, pages: 1, readOnly: e.readOnly, privileged: e.privileged, volatile: e.volatile, aperture: e.aperture };
  }

  private emitSparse(va: number, bytes: number): void {
    this.sparseBytes += bytes;
    const s = this.openSparse;
    if (s !== null && s.va + s.bytes === va) {
      s.bytes += bytes;
      s.entries++;
      return;
    }
    this.closeSparse();
    this.openSparse = { va, bytes, entries: 1 };
  }

  private closeRun(): void {
    if (this.open === null) return;
    if (this.runs.length < this.maxRuns) this.runs.push(this.open);
    this.runCount++;
    this.open = null;
  }

  private closeSparse(): void {
    if (this.openSparse === null) return;
    if (this.sparse.length < this.maxRuns) this.sparse.push(this.openSparse);
    this.sparseRunCount++;
    this.openSparse = null;
  }
}
