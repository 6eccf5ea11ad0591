import type { DramTiming } from './dramTiming';

/**
 * DRAM device presets: one channel's organisation and timing, as data (DESIGN.md: presets
 * are data). A `memories[]` entry names one with `"preset": "DDR4-3200"`; any field it
 * gives explicitly (including single `timing` fields) overrides the preset's.
 *
 * Values are the JEDEC minimums of the named speed bin, written max(nCK, ns) → ns at the
 * bin's tCK, cross-checked against a vendor datasheet or, where none was available to us,
 * against the tabulations in gem5 (src/mem/DRAMInterface.py) and DRAMsim3 (configs/*.ini).
 * Per-value sources are in the comments; "assumption" marks values we could not check.
 */
export interface DramPreset {
  /** What the preset models, for docs and `notes`. */
  readonly describe: string;
  readonly banks: number;
  /** Bank groups; bank b belongs to group b mod bankGroups. */
  readonly bankGroups: number;
  readonly rowBytes: number;
  readonly burstBytes: number;
  /** Refresh command the controller uses. */
  readonly refresh: 'all-bank' | 'per-bank';
  readonly timing: DramTiming;
}

export const DRAM_PRESETS = {
  // JESD79-4B (DDR4) speed bin DDR4-2400R (16-16-16), tCK = 0.833 ns; Micron MT40A1G8
  // (8 Gb x8) data sheet, speed grade -083E. A 64-bit rank of eight x8 devices: 16 banks
  // in 4 bank groups, 8 x 1 KB pages = 8 KiB row, BL8 x 8 B = 64 B bursts.
  'DDR4-2400': {
    describe: 'DDR4-2400R (16-16-16), x64 rank of 8 Gb x8 devices (JESD79-4B; Micron MT40A1G8 -083E)',
    banks: 16, bankGroups: 4, rowBytes: 8192, burstBytes: 64, refresh: 'all-bank',
    timing: {
      tCL: 13.32, // CL 16 x 0.833 ns (JESD79-4B speed bin table; Micron -083E tAA 13.32 ns)
      tRCD: 13.32, // 16 nCK (speed bin; Micron tRCD 13.32 ns)
      tRP: 13.32, // 16 nCK (speed bin; Micron tRP 13.32 ns)
      tRAS: 32, // JESD79-4B / Micron: 32 ns
      tRC: 45.32, // tRAS + tRP (JESD79-4B / Micron)
      tCWL: 10, // CWL 12 nCK at 2400 (JESD79-4B CWL table)
      tBURST: 3.332, // BL8 = 4 nCK
      tCCD_S: 3.332, // 4 nCK (JESD79-4B)
      tCCD_L: 5, // max(5 nCK, 5 ns) (JESD79-4B; Micron)
      tRRD_S: 3.332, // 1 KB page: max(4 nCK, 3.3 ns) (JESD79-4B; Micron)
      tRRD_L: 4.9, // 1 KB page: max(4 nCK, 4.9 ns) (JESD79-4B; Micron)
      tFAW: 21, // 1 KB page: max(20 nCK, 21 ns) (JESD79-4B; Micron)
      tWTR_S: 2.5, // max(2 nCK, 2.5 ns) (JESD79-4B)
      tWTR_L: 7.5, // max(4 nCK, 7.5 ns) (JESD79-4B)
      tRTP: 7.5, // max(4 nCK, 7.5 ns) (JESD79-4B)
      tWR: 15, // 15 ns (JESD79-4B)
      tREFI: 7800, // 7.8 us at <= 85 C (JESD79-4B)
      tRFC: 350, // 8 Gb, 1x refresh mode (JESD79-4B; Micron MT40A1G8)
    },
  },
  // JESD79-4B speed bin DDR4-3200AA (22-22-22), tCK = 0.625 ns; Micron MT40A1G8 -062E.
  // Same organisation as DDR4-2400. DRAMsim3 configs/DDR4_8Gb_x8_3200.ini lists the
  // same values in clocks.
  'DDR4-3200': {
    describe: 'DDR4-3200AA (22-22-22), x64 rank of 8 Gb x8 devices (JESD79-4B; Micron MT40A1G8 -062E)',
    banks: 16, bankGroups: 4, rowBytes: 8192, burstBytes: 64, refresh: 'all-bank',
    timing: {
      tCL: 13.75, // CL 22 x 0.625 ns (speed bin; Micron -062E tAA 13.75 ns)
      tRCD: 13.75, // 22 nCK (speed bin; Micron)
      tRP: 13.75, // 22 nCK (speed bin; Micron)
      tRAS: 32, // 32 ns (JESD79-4B; Micron)
      tRC: 45.75, // tRAS + tRP (JESD79-4B; Micron)
      tCWL: 10, // CWL 16 nCK at 3200 (JESD79-4B CWL table)
      tBURST: 2.5, // BL8 = 4 nCK
      tCCD_S: 2.5, // 4 nCK (JESD79-4B)
      tCCD_L: 5, // max(5 nCK, 5 ns) = 8 nCK (JESD79-4B; Micron)
      tRRD_S: 2.5, // 1 KB page: max(4 nCK, 2.5 ns) (JESD79-4B; Micron)
      tRRD_L: 4.9, // 1 KB page: max(4 nCK, 4.9 ns) (JESD79-4B; Micron)
      tFAW: 21, // 1 KB page: max(20 nCK, 21 ns) (JESD79-4B; Micron)
      tWTR_S: 2.5, // max(2 nCK, 2.5 ns) (JESD79-4B)
      tWTR_L: 7.5, // max(4 nCK, 7.5 ns) (JESD79-4B)
      tRTP: 7.5, // max(4 nCK, 7.5 ns) (JESD79-4B)
      tWR: 15, // 15 ns (JESD79-4B)
      tREFI: 7800, // 7.8 us at <= 85 C (JESD79-4B)
      tRFC: 350, // 8 Gb, 1x mode (JESD79-4B; Micron MT40A1G8)
    },
  },
  // JESD209-4B (LPDDR4/LPDDR4X) at 4266 MT/s, tCK = 0.469 ns (2133 MHz); one x16 channel
  // of an 8 Gb-per-channel die (Micron MT53E-series LPDDR4X): 8 banks, 2 KB page,
  // BL16 x 2 B = 32 B bursts; no bank groups. Per-bank refresh (REFpb), as LPDDR
  // controllers use to keep the other banks available.
  'LPDDR4X-4266': {
    describe: 'LPDDR4X-4266, one x16 channel, 8 Gb per channel (JESD209-4B; Micron MT53E LPDDR4X)',
    banks: 8, bankGroups: 1, rowBytes: 2048, burstBytes: 32, refresh: 'per-bank',
    timing: {
      tCL: 16.875, // RL 36 nCK (DBI off) x 0.469 ns (JESD209-4B read-latency table)
      tCWL: 8.438, // WL 18 nCK, set A (JESD209-4B write-latency table)
      tRCD: 18, // max(18 ns, 4 nCK) (JESD209-4B)
      tRP: 18, // tRPpb: max(18 ns, 4 nCK) (JESD209-4B)
      tRAS: 42, // max(42 ns, 3 nCK) (JESD209-4B)
      tRC: 60, // tRAS + tRPpb (JESD209-4B)
      tBURST: 3.75, // BL16 = 8 nCK
      tCCD_S: 3.75, // tCCD = BL/2 = 8 nCK (JESD209-4B)
      tRRD_S: 10, // max(10 ns, 4 nCK) (JESD209-4B; some 4266 data sheets allow 7.5 ns: we keep the JEDEC value)
      tFAW: 40, // 40 ns (JESD209-4B; some 4266 data sheets allow 30 ns: we keep the JEDEC value)
      tWTR_S: 10, // max(10 ns, 8 nCK) (JESD209-4B)
      tRTP: 7.5, // max(7.5 ns, 8 nCK) (JESD209-4B)
      tWR: 18, // max(18 ns, 6 nCK) (JESD209-4B)
      tREFI: 3904, // 3.904 us all-bank interval at <= 85 C; REFpb every tREFI / 8 (JESD209-4B)
      tRFC: 180, // tRFCab, 8 Gb per channel (JESD209-4B)
      tRFCpb: 90, // tRFCpb, 8 Gb per channel (JESD209-4B)
    },
  },
  // JESD209-5 (LPDDR5) at 6400 MT/s in bank-group mode (16 banks, 4 groups, BL16), CK
  // 800 MHz (tCK 1.25 ns, WCK:CK 4:1); one x16 channel, 8 Gb die, 2 KB page, 32 B bursts.
  // Values as tabulated in gem5 LPDDR5_6400_1x16_BG_BL16 (from the JEDEC specification).
  'LPDDR5-6400': {
    describe: 'LPDDR5-6400, bank-group mode, BL16, one x16 channel, 8 Gb die (JESD209-5; values as in gem5 LPDDR5_6400_1x16_BG_BL16)',
    banks: 16, bankGroups: 4, rowBytes: 2048, burstBytes: 32, refresh: 'per-bank',
    timing: {
      tCL: 21.25, // RL 17 nCK x 1.25 ns (JESD209-5; gem5)
      // tCWL not given: defaults to tCL (assumption, as gem5 does: RL = WL)
      tRCD: 18, // max(18 ns, 2 nCK) (JESD209-5)
      tRP: 18, // tRPpb: max(18 ns, 2 nCK) (JESD209-5)
      tRAS: 42, // max(42 ns, 3 nCK) (JESD209-5)
      tRC: 60, // tRAS + tRPpb
      tBURST: 2.5, // BL16 in BG mode = 2 nCK (JESD209-5)
      tCCD_S: 2.5, // 2 nCK, different bank group (JESD209-5)
      tCCD_L: 5, // 4 nCK, same bank group (JESD209-5)
      tRRD_S: 5, // max(5 ns, 2 nCK) (JESD209-5, BG mode)
      tRRD_L: 5, // max(5 ns, 2 nCK) (JESD209-5, BG mode)
      tFAW: 20, // 20 ns in BG mode (JESD209-5)
      tWTR_S: 6.25, // max(6.25 ns, 4 nCK) (JESD209-5)
      tWTR_L: 12, // max(12 ns, 4 nCK) (JESD209-5)
      tRTP: 7.5, // max(7.5 ns, 2 nCK) (JESD209-5)
      tWR: 34, // max(34 ns, 3 nCK) (JESD209-5)
      tREFI: 3906, // 3.906 us at <= 85 C (JESD209-5)
      tRFC: 210, // tRFCab, 8 Gb (JESD209-5)
      tRFCpb: 120, // tRFCpb, 8 Gb (JESD209-5)
    },
  },
  // JESD235A (HBM2) legacy-mode 128-bit channel at 2 Gb/s per pin (tCK 1 ns), 8 Gb dies:
  // 16 banks in 4 bank groups, 2 KB page, BL4 x 16 B = 64 B bursts. Values as tabulated
  // in DRAMsim3 configs/HBM2_8Gb_x128.ini (from JESD235); no vendor data sheet checked.
  HBM2: {
    describe: 'HBM2 legacy 128-bit channel, 2 Gb/s per pin, 8 Gb dies (JESD235A; values as in DRAMsim3 HBM2_8Gb_x128)',
    banks: 16, bankGroups: 4, rowBytes: 2048, burstBytes: 64, refresh: 'all-bank',
    timing: {
      tCL: 14, // 14 nCK (JESD235A; DRAMsim3)
      tCWL: 4, // 4 nCK (JESD235A; DRAMsim3)
      tRCD: 14, // 14 nCK (JESD235A; DRAMsim3)
      tRP: 14, // 14 nCK (JESD235A; DRAMsim3)
      tRAS: 34, // 34 nCK (JESD235A; DRAMsim3)
      tRC: 48, // tRAS + tRP
      tBURST: 2, // BL4 = 2 nCK
      tCCD_S: 2, // bus-bound: BL4 occupies 2 nCK (tCCDS 1 nCK in JESD235A)
      tCCD_L: 2, // 2 nCK (JESD235A; DRAMsim3)
      tRRD_S: 4, // 4 nCK (JESD235A; DRAMsim3)
      tRRD_L: 6, // 6 nCK (JESD235A; DRAMsim3)
      tFAW: 30, // 30 nCK (JESD235A; DRAMsim3)
      tWTR_S: 6, // 6 nCK (JESD235A; DRAMsim3)
      tWTR_L: 8, // 8 nCK (JESD235A; DRAMsim3)
      tRTP: 4, // tRTP_S 4 nCK (JESD235A; DRAMsim3)
      tWR: 16, // 16 nCK (JESD235A; DRAMsim3)
      tREFI: 3900, // 3.9 us (JESD235A; DRAMsim3)
      tRFC: 260, // 8 Gb (JESD235A; DRAMsim3)
    },
  },
} as const satisfies Record<string, DramPreset>;

export type DramPresetName = keyof typeof DRAM_PRESETS;
export const DRAM_PRESET_NAMES = Object.keys(DRAM_PRESETS) as [DramPresetName, ...DramPresetName[]];
