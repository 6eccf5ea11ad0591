import type { Counter } from '../engine/stats';
import type { Tick } from '../engine/time';
import type { DramTimingTicks } from './dramTiming';

/**
 * The times the command scheduler reads and advances, in ticks: per bank, per bank group
 * and per channel. Typed arrays, so reserving a burst allocates nothing. The controller
 * keeps one set for timing mode and a scratch set for atomic (idle-system) estimates.
 */
export class BankReservations {
  // Per bank (channel * banks + bank).
  /** Earliest next column command to this bank (tCCD at the bank). */
  readonly colReady: Float64Array;
  /** Earliest PRECHARGE: ACT + tRAS, READ + tRTP, write data end + tWR. */
  readonly preReady: Float64Array;
  /** Earliest ACTIVATE of a closed bank (after its PRE + tRP, or a refresh). */
  readonly actReady: Float64Array;
  /** Tick of the bank's last ACTIVATE (tRC). */
  readonly lastAct: Float64Array;
  // Per bank group (channel * bankGroups + group).
  readonly bgLastCol: Float64Array;
  readonly bgLastAct: Float64Array;
  readonly bgWriteEnd: Float64Array;
  // Per channel.
  /** Data bus free from this tick. */
  readonly busFree: Float64Array;
  readonly chLastCol: Float64Array;
  readonly chLastAct: Float64Array;
  readonly chWriteEnd: Float64Array;
  /** The channel's last four ACTIVATE ticks (tFAW ring), 4 per channel, and the ring's next slot. */
  readonly faw: Float64Array;
  readonly fawNext: Int32Array;
  /** Next refresh due: per channel (all-bank) or per bank (per-bank refresh). */
  readonly nextRefresh: Float64Array;

  constructor(readonly banks: number, readonly channels: number, readonly bankGroups: number, perBankRefresh: boolean) {
    const nb = banks * channels;
    this.colReady = new Float64Array(nb);
    this.preReady = new Float64Array(nb);
    this.actReady = new Float64Array(nb);
    this.lastAct = new Float64Array(nb);
    const ng = channels * bankGroups;
    this.bgLastCol = new Float64Array(ng);
    this.bgLastAct = new Float64Array(ng);
    this.bgWriteEnd = new Float64Array(ng);
    this.busFree = new Float64Array(channels);
    this.chLastCol = new Float64Array(channels);
    this.chLastAct = new Float64Array(channels);
    this.chWriteEnd = new Float64Array(channels);
    this.faw = new Float64Array(channels * 4);
    this.fawNext = new Int32Array(channels);
    this.nextRefresh = new Float64Array(perBankRefresh ? nb : channels);
    for (let c = 0; c < channels; c++) this.resetChannel(c);
    for (let i = 0; i < nb; i++) this.resetBank(i);
  }

  /** Bank `bi` idle since forever. */
  resetBank(bi: number): void {
    this.colReady[bi] = -Infinity;
    this.preReady[bi] = -Infinity;
    this.actReady[bi] = -Infinity;
    this.lastAct[bi] = -Infinity;
  }

  /** Channel `ch` (and its bank groups) idle since forever. */
  resetChannel(ch: number): void {
    this.busFree[ch] = -Infinity;
    this.chLastCol[ch] = -Infinity;
    this.chLastAct[ch] = -Infinity;
    this.chWriteEnd[ch] = -Infinity;
    for (let k = 0; k < 4; k++) this.faw[ch * 4 + k] = -Infinity;
    this.fawNext[ch] = 0;
    for (let g = 0; g < this.bankGroups; g++) {
      const gi = ch * this.bankGroups + g;
      this.bgLastCol[gi] = -Infinity;
      this.bgLastAct[gi] = -Infinity;
      this.bgWriteEnd[gi] = -Infinity;
    }
  }
}

/** Row-buffer outcome counters and refresh counters the timer advances. */
export interface DramCommandCounters {
  hits: Counter;
  misses: Counter;
  conflicts: Counter;
  refreshes: Counter;
  refreshPs: Counter;
}

/**
 * The DRAM command timing rules: given a burst (channel, bank, row, read or write) and
 * the earliest ticks its row commands (PRE/ACT) and its column command may issue, places
 * PRE, ACT and the column command as early as the constraints allow, advances the
 * reservations and returns the tick its data ends. Shared by the FCFS and FR-FCFS
 * schedulers and by the atomic (idle) estimate.
 *
 * Constraints (each only when configured, see DramTimingTicks):
 * - bank: PRE >= preReady (ACT + tRAS, READ + tRTP, write data end + tWR); ACT >= PRE + tRP,
 *   >= last ACT + tRC, >= actReady (closed page, refresh); column >= ACT + tRCD, >= colReady;
 * - channel: ACT >= previous ACT + tRRD_S (same group: + tRRD_L), >= the 4th previous ACT
 *   + tFAW (ACTs are issued in order per channel when any of these is configured);
 *   column >= previous column + tCCD_S (same group: + tCCD_L); READ >= write data end +
 *   tWTR_S (same group: + tWTR_L); data (column + tCL or tCWL) starts when the bus is free.
 * - refresh (timing mode only): when a burst's column could not issue before the next
 *   refresh is due, the refresh happens first: all banks (or, per-bank, this bank) are
 *   precharged, REF takes tRFC (tRFCpb), and the bank(s) reopen afterwards. Refreshes due
 *   while the channel was idle are counted without being replayed one by one.
 * Bank b belongs to bank group b mod bankGroups (the group bits are the bank field's low bits).
 */
export class DramCommandTimer {
  /** Column-command tick of the last burst reserved (the FR-FCFS scheduler decides the next one then). */
  lastCol: Tick = 0;
  /**
   * Data-end tick of the last burst reserved: `reserve`'s result. Returned through this
   * field, not as the return value: `reserve` is too big to inline, and a tick (a double
   * past 2^31) returned from a call that is not inlined is boxed, an allocation per burst.
   */
  lastEnd: Tick = 0;
  /**
   * `reserve`'s earliest row-command and column-command ticks, passed in these fields for
   * the same reason (arguments of a call that is not inlined are boxed too).
   */
  cmdFrom: Tick = 0;
  colFrom: Tick = 0;
  private readonly groupMask: number;
  private readonly perBank: boolean;
  private readonly refreshes: boolean;

  constructor(
    private readonly t: DramTimingTicks,
    private readonly banks: number,
    private readonly bankGroups: number,
    refreshMode: 'none' | 'all-bank' | 'per-bank',
    /** Open row per bank (-1 closed), shared by timing and atomic accesses. */
    readonly openRow: Float64Array,
    private readonly c: DramCommandCounters,
  ) {
    this.groupMask = bankGroups - 1;
    this.perBank = refreshMode === 'per-bank';
    this.refreshes = refreshMode !== 'none';
  }

  /** First refresh due per channel / per bank (per-bank refreshes are staggered over tREFI). */
  initRefresh(r: BankReservations): void {
    const tREFI = this.t.tREFI;
    if (this.perBank) {
      for (let bi = 0; bi < r.nextRefresh.length; bi++) r.nextRefresh[bi] = Math.round((tREFI * ((bi % this.banks) + 1)) / this.banks);
    } else {
      r.nextRefresh.fill(tREFI);
    }
  }

  /**
   * Reserves the commands of one burst, row commands from `cmdFrom` and column commands
   * from `colFrom` (set them first); leaves its column tick in `lastCol` and its data end
   * in `lastEnd`.
   */
  reserve(r: BankReservations, ch: number, bank: number, row: number, write: boolean, closeAfter: boolean, refresh: boolean): void {
    const t = this.t;
    const cmdFrom = this.cmdFrom, colFrom = this.colFrom;
    const bi = ch * this.banks + bank;
    const g = ch * this.bankGroups + (bank & this.groupMask);
    const lat = write ? t.tCWL : t.tCL;
    if (refresh && this.refreshes) {
      let probe = r.busFree[ch] - lat;
      if (probe < colFrom) probe = colFrom;
      if (this.perBank) {
        if (probe >= r.nextRefresh[bi]) this.refreshBank(r, bi, probe);
      } else if (probe >= r.nextRefresh[ch]) {
        this.refreshChannel(r, ch, probe);
      }
    }
    const open = this.openRow[bi];
    let col: Tick;
    if (open === row) {
      this.c.hits.value++;
      const ready = r.colReady[bi];
      col = colFrom > ready ? colFrom : ready;
    } else {
      let act: Tick;
      if (open < 0) {
        this.c.misses.value++;
        act = cmdFrom;
      } else {
        this.c.conflicts.value++;
        const ready = r.preReady[bi];
        act = (cmdFrom > ready ? cmdFrom : ready) + t.tRP;
      }
      if (act < r.actReady[bi]) act = r.actReady[bi];
      const rc = r.lastAct[bi] + t.tRC;
      if (act < rc) act = rc;
      if (t.hasActSpacing) {
        const rrdS = r.chLastAct[ch] + t.tRRD_S;
        if (act < rrdS) act = rrdS;
        const rrdL = r.bgLastAct[g] + t.tRRD_L;
        if (act < rrdL) act = rrdL;
        const slot = ch * 4 + r.fawNext[ch];
        const faw = r.faw[slot] + t.tFAW;
        if (act < faw) act = faw;
        r.faw[slot] = act;
        r.fawNext[ch] = (r.fawNext[ch] + 1) & 3;
        r.chLastAct[ch] = act;
        r.bgLastAct[g] = act;
      }
      r.lastAct[bi] = act;
      r.preReady[bi] = act + t.tRAS;
      this.openRow[bi] = row;
      col = act + t.tRCD;
      if (col < colFrom) col = colFrom;
    }
    const ccdS = r.chLastCol[ch] + t.tCCD_S;
    if (col < ccdS) col = ccdS;
    if (this.bankGroups > 1) {
      const ccdL = r.bgLastCol[g] + t.tCCD_L;
      if (col < ccdL) col = ccdL;
    }
    if (!write && t.hasWTR) {
      const wtrS = r.chWriteEnd[ch] + t.tWTR_S;
      if (col < wtrS) col = wtrS;
      const wtrL = r.bgWriteEnd[g] + t.tWTR_L;
      if (col < wtrL) col = wtrL;
    }
    const busReady = r.busFree[ch] - lat;
    if (col < busReady) col = busReady;
    const dataEnd = col + lat + t.tBURST;
    r.busFree[ch] = dataEnd;
    r.chLastCol[ch] = col;
    r.bgLastCol[g] = col;
    r.colReady[bi] = col + t.tCCD_S;
    let pre: Tick;
    if (write) {
      r.chWriteEnd[ch] = dataEnd;
      r.bgWriteEnd[g] = dataEnd;
      pre = t.hasWR ? dataEnd + t.tWR : col + t.tBURST;
    } else {
      pre = col + t.tRTP;
    }
    if (pre > r.preReady[bi]) r.preReady[bi] = pre;
    if (closeAfter) {
      // Closed page: auto-precharge as soon as allowed; the next access to the bank is a miss.
      r.actReady[bi] = r.preReady[bi] + t.tRP;
      this.openRow[bi] = -1;
    }
    this.lastCol = col;
    this.lastEnd = dataEnd;
  }

  /** All-bank refreshes of channel `ch` due at or before `probe`. */
  private refreshChannel(r: BankReservations, ch: number, probe: Tick): void {
    const t = this.t;
    let due = r.nextRefresh[ch];
    // Refreshes due during a long idle stretch ended long ago: count them, replay the last.
    if (probe - due >= 2 * t.tREFI) {
      const n = Math.floor((probe - due) / t.tREFI) - 1;
      this.c.refreshes.value += n;
      this.c.refreshPs.value += n * t.tRFC;
      due += n * t.tREFI;
    }
    const first = ch * this.banks;
    while (due <= probe) {
      let start = due;
      for (let bi = first; bi < first + this.banks; bi++) {
        let ready: Tick;
        if (this.openRow[bi] >= 0) {
          const pre = r.preReady[bi];
          ready = (pre > due ? pre : due) + t.tRP;
        } else {
          ready = r.actReady[bi];
        }
        if (start < ready) start = ready;
      }
      const end = start + t.tRFC;
      for (let bi = first; bi < first + this.banks; bi++) {
        this.openRow[bi] = -1;
        r.actReady[bi] = end;
      }
      this.c.refreshes.value++;
      this.c.refreshPs.value += t.tRFC;
      due += t.tREFI;
    }
    r.nextRefresh[ch] = due;
  }

  /** Per-bank refreshes of bank `bi` due at or before `probe`. */
  private refreshBank(r: BankReservations, bi: number, probe: Tick): void {
    const t = this.t;
    let due = r.nextRefresh[bi];
    if (probe - due >= 2 * t.tREFI) {
      const n = Math.floor((probe - due) / t.tREFI) - 1;
      this.c.refreshes.value += n;
      this.c.refreshPs.value += n * t.tRFCpb;
      due += n * t.tREFI;
    }
    while (due <= probe) {
      let start: Tick;
      if (this.openRow[bi] >= 0) {
        const pre = r.preReady[bi];
        start = (pre > due ? pre : due) + t.tRP;
      } else {
        const ready = r.actReady[bi];
        start = ready > due ? ready : due;
      }
      this.openRow[bi] = -1;
      r.actReady[bi] = start + t.tRFCpb;
      this.c.refreshes.value++;
      this.c.refreshPs.value += t.tRFCpb;
      due += t.tREFI;
    }
    r.nextRefresh[bi] = due;
  }
}
