import { z } from 'zod';
import { mustBe } from '../engine/spec';
import { nsToTicks, type Tick } from '../engine/time';

/** Longest DRAM timing accepted, ns: far beyond any real part, and keeps tick arithmetic exact. */
export const MAX_DRAM_NS = 1e6;

function nanoseconds(what: string) {
  const rule = mustBe(`a positive number of ns, at most ${MAX_DRAM_NS}`);
  return z.number(rule).positive(rule).max(MAX_DRAM_NS, rule).describe(`${what}, ns`);
}

/**
 * DRAM timing parameters in nanoseconds (fractional allowed; each is rounded to whole ps).
 * Every field is optional here because a `preset` may supply it; the five core fields
 * (tRCD, tCL, tRP, tRAS, tBURST) must come from the preset or the config (checked on the
 * merged parameters, see dram.ts). A detailed field left out disables its constraint, so
 * a config with only the core fields behaves exactly as before they existed.
 */
export const DramTimingSpec = z
  .strictObject({
    tRCD: nanoseconds('ACTIVATE to READ/WRITE').optional(),
    tCL: nanoseconds('READ to first data (CAS latency, RL)').optional(),
    tRP: nanoseconds('PRECHARGE to ACTIVATE').optional(),
    tRAS: nanoseconds('ACTIVATE to PRECHARGE minimum (row-open time)').optional(),
    tBURST: nanoseconds('data-bus time of one burst of burstBytes').optional(),
    tCWL: nanoseconds('WRITE to first data (CAS write latency, WL); default tCL').optional(),
    tRC: nanoseconds('ACTIVATE to ACTIVATE, same bank').optional(),
    tCCD_S: nanoseconds('column to column, different bank group (or any bank without bank groups); default tBURST').optional(),
    tCCD_L: nanoseconds('column to column, same bank group; default tCCD_S').optional(),
    tRRD_S: nanoseconds('ACTIVATE to ACTIVATE, different bank group (or any bank without bank groups)').optional(),
    tRRD_L: nanoseconds('ACTIVATE to ACTIVATE, same bank group; default tRRD_S').optional(),
    tFAW: nanoseconds('four-activate window: at most 4 ACTIVATEs per channel in any tFAW').optional(),
    tWTR_S: nanoseconds('end of write data to READ, different bank group (or any bank without bank groups)').optional(),
    tWTR_L: nanoseconds('end of write data to READ, same bank group; default tWTR_S').optional(),
    tRTP: nanoseconds('READ to PRECHARGE; default tBURST').optional(),
    tWR: nanoseconds('end of write data to PRECHARGE (write recovery)').optional(),
    tREFI: nanoseconds('average refresh interval (all-bank REF period; with per-bank refresh each bank is refreshed once per tREFI)').optional(),
    tRFC: nanoseconds('all-bank refresh cycle time (tRFCab)').optional(),
    tRFCpb: nanoseconds('per-bank refresh cycle time (LPDDR REFpb)').optional(),
  })
  .describe('DRAM timing parameters in nanoseconds; any may come from `preset`');

export type DramTimingInput = z.input<typeof DramTimingSpec>;
export type DramTimingNs = z.output<typeof DramTimingSpec>;
/** Timing with the core fields present (after merging a preset). */
export type DramTiming = DramTimingNs & { tRCD: number; tCL: number; tRP: number; tRAS: number; tBURST: number };

export const CORE_TIMING_FIELDS = ['tRCD', 'tCL', 'tRP', 'tRAS', 'tBURST'] as const;

/**
 * The timing in ticks, with defaults filled so the command scheduler reads plain numbers.
 * `has*` flags say whether an optional constraint is configured: a missing one must not
 * bind at all (a zero-valued constraint would still order commands and change timing).
 */
export class DramTimingTicks {
  readonly tRCD: Tick;
  readonly tCL: Tick;
  readonly tCWL: Tick;
  readonly tRP: Tick;
  readonly tRAS: Tick;
  readonly tRC: Tick;
  readonly tBURST: Tick;
  readonly tCCD_S: Tick;
  readonly tCCD_L: Tick;
  readonly tRRD_S: Tick;
  readonly tRRD_L: Tick;
  readonly tFAW: Tick;
  readonly tWTR_S: Tick;
  readonly tWTR_L: Tick;
  readonly tRTP: Tick;
  /** Write recovery; when not configured a write frees its bank for PRE after its burst, like a read. */
  readonly tWR: Tick;
  readonly tREFI: Tick;
  readonly tRFC: Tick;
  readonly tRFCpb: Tick;
  /** tRRD or tFAW configured: ACTIVATEs are ordered per channel and spaced. */
  readonly hasActSpacing: boolean;
  readonly hasWTR: boolean;
  readonly hasWR: boolean;

  constructor(t: DramTiming) {
    const opt = (v: number | undefined, dflt: Tick): Tick => (v === undefined ? dflt : nsToTicks(v));
    this.tRCD = nsToTicks(t.tRCD);
    this.tCL = nsToTicks(t.tCL);
    this.tCWL = opt(t.tCWL, this.tCL);
    this.tRP = nsToTicks(t.tRP);
    this.tRAS = nsToTicks(t.tRAS);
    this.tRC = opt(t.tRC, 0);
    this.tBURST = nsToTicks(t.tBURST);
    this.tCCD_S = opt(t.tCCD_S, this.tBURST);
    this.tCCD_L = opt(t.tCCD_L, this.tCCD_S);
    this.tRRD_S = opt(t.tRRD_S, 0);
    this.tRRD_L = opt(t.tRRD_L, this.tRRD_S);
    this.tFAW = opt(t.tFAW, 0);
    this.tWTR_S = opt(t.tWTR_S, 0);
    this.tWTR_L = opt(t.tWTR_L, this.tWTR_S);
    this.tRTP = opt(t.tRTP, this.tBURST);
    this.tWR = opt(t.tWR, 0);
    this.tREFI = opt(t.tREFI, 0);
    this.tRFC = opt(t.tRFC, 0);
    this.tRFCpb = opt(t.tRFCpb, 0);
    this.hasActSpacing = t.tRRD_S !== undefined || t.tRRD_L !== undefined || t.tFAW !== undefined;
    this.hasWTR = t.tWTR_S !== undefined || t.tWTR_L !== undefined;
    this.hasWR = t.tWR !== undefined;
  }
}
