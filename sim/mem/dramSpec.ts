import { z } from 'zod';
import { count, mustBe, powerOfTwo, powerOfTwoSize } from '../engine/spec';
import { nsToTicks } from '../engine/time';
import { CORE_TIMING_FIELDS, DramTimingSpec, MAX_DRAM_NS, type DramTiming } from './dramTiming';
import { DRAM_PRESET_NAMES, DRAM_PRESETS, type DramPresetName } from './dramPresets';

/*
 * The DRAM controller's parameters: the schema a `memories[]` entry of kind `dram` is
 * checked against, the address-mapping string, and the merge of a device preset under
 * the explicit fields. The controller itself is dram.ts.
 */

export type { DramTiming } from './dramTiming';

export type DramField = 'row' | 'bank' | 'channel' | 'column';
const FIELDS: readonly DramField[] = ['row', 'bank', 'channel', 'column'];

/** The fields of a mapping string, or the reason it is not one. */
export function parseMapping(mapping: string): DramField[] | string {
  const parts = mapping.split(':').map((s) => s.trim());
  for (const p of parts) {
    if (!(FIELDS as readonly string[]).includes(p)) {
      return `unknown field "${p}" in "${mapping}" (expected row, bank, channel and column, each once, separated by ":")`;
    }
  }
  for (const f of FIELDS) {
    const n = parts.filter((p) => p === f).length;
    if (n !== 1) return `field ${f} must appear exactly once in "${mapping}", found ${n} times`;
  }
  return parts as DramField[];
}

const SCHEDULERS = ['fcfs', 'fr-fcfs'] as const;
const PAGE_POLICIES = ['open', 'closed'] as const;
const REFRESH_MODES = ['none', 'all-bank', 'per-bank'] as const;

/** The DRAM controller's parameters (a `memories[]` entry of kind `dram` adds name, region, bus and clock). */
export const DramSpec = z
  .strictObject({
    preset: z.enum(DRAM_PRESET_NAMES, mustBe(`one of ${DRAM_PRESET_NAMES.join(', ')}`)).optional().describe(
      `device preset (${DRAM_PRESET_NAMES.join(', ')}): gives banks, bankGroups, rowBytes, burstBytes, refresh and timing; fields given here override it`,
    ),
    channels: powerOfTwo().describe('channels (independent data buses), a power of two; channels × banks at most 2^20'),
    banks: powerOfTwo().optional().describe('banks per channel (ranks × banks), a power of two; required without a preset'),
    bankGroups: powerOfTwo().optional().describe('bank groups per channel (bank b is in group b mod bankGroups), a power of two dividing banks; default the preset\'s, else 1'),
    rowBytes: powerOfTwoSize(2 ** 30, '1GiB').optional().describe('row-buffer (page) size per bank, a power of two; required without a preset'),
    burstBytes: powerOfTwoSize(2 ** 30, '1GiB').optional().describe('bytes per column burst, a power of two, at most rowBytes; required without a preset'),
    mapping: z.string().default('row:bank:channel:column').describe(
      'address interleaving, most-significant field first, e.g. "row:bank:channel:column" or "row:column:bank:channel"; row, bank, channel and column each exactly once',
    ),
    queueDepth: count().default(32).describe('read requests (all requests under fcfs) queued + in service per channel before back-pressure (at most 2^20)'),
    frontendLatencyNs: z.number(mustBe('a non-negative number of ns')).nonnegative(mustBe('a non-negative number of ns'))
      .max(MAX_DRAM_NS, mustBe(`at most ${MAX_DRAM_NS} ns`)).default(0).describe('controller pipeline latency added to every access, ns'),
    scheduler: z.enum(SCHEDULERS, mustBe('"fcfs" or "fr-fcfs"')).default('fcfs').describe(
      'fcfs: one queue per channel, requests in arrival order (socsim before issue 14); fr-fcfs: separate read and write queues, row hits first with a bypass cap, write drain by watermarks',
    ),
    rowHitBypassCap: z.number(mustBe('an integer from 0 to 2^20')).int(mustBe('an integer from 0 to 2^20')).min(0, mustBe('an integer from 0 to 2^20'))
      .max(2 ** 20, mustBe('an integer from 0 to 2^20')).default(16)
      .describe('fr-fcfs: most consecutive requests that may overtake the oldest queued one for being row hits (bounds starvation); 0 = oldest first'),
    writeQueueDepth: count().default(32).describe('fr-fcfs: write queue entries per channel; writes are acknowledged when queued'),
    writeHighWatermark: count().optional().describe('fr-fcfs: start draining writes when a channel\'s write queue holds this many; default 3/4 of writeQueueDepth'),
    writeLowWatermark: z.number(mustBe('a non-negative integer')).int(mustBe('a non-negative integer')).min(0, mustBe('a non-negative integer')).optional()
      .describe('fr-fcfs: stop draining at this many; default 1/4 of writeQueueDepth'),
    pagePolicy: z.enum(PAGE_POLICIES, mustBe('"open" or "closed"')).default('open').describe('open: rows stay open until a conflict or refresh; closed: auto-precharge after each access'),
    refresh: z.enum(REFRESH_MODES, mustBe('"none", "all-bank" or "per-bank"')).optional().describe(
      'refresh command: all-bank (REF, tRFC every tREFI), per-bank (LPDDR REFpb, tRFCpb per bank every tREFI, staggered) or none; default the preset\'s, else all-bank when tREFI and tRFC are given, else none',
    ),
    timing: DramTimingSpec.optional(),
  })
  .superRefine((p, ctx) => {
    const issue = (path: (string | number)[], message: string): void => ctx.addIssue({ code: 'custom', path, message });
    const r = mergeDramPreset(p);
    for (const f of ['banks', 'rowBytes', 'burstBytes'] as const) {
      if (r[f] === undefined) issue([f], 'required (no preset gives it)');
    }
    for (const f of CORE_TIMING_FIELDS) {
      if (r.timing[f] === undefined) issue(['timing', f], 'required (no preset gives it)');
    }
    const t = r.timing;
    if (t.tBURST !== undefined && !(nsToTicks(t.tBURST) > 0)) issue(['timing', 'tBURST'], `must be at least 0.001 ns, got ${t.tBURST}`);
    // Per-bank state arrays are indexed with small integers.
    if (r.banks !== undefined && p.channels * r.banks > 2 ** 20) issue(['banks'], `channels × banks must be at most 2^20, got ${p.channels * r.banks}`);
    if (r.banks !== undefined && r.bankGroups > r.banks) issue(['bankGroups'], `must divide banks (${r.banks}), got ${r.bankGroups}`);
    if (r.burstBytes !== undefined && r.rowBytes !== undefined && r.burstBytes > r.rowBytes) {
      issue(['burstBytes'], `must be at most rowBytes (${r.rowBytes}), got ${r.burstBytes}`);
    }
    const m = parseMapping(p.mapping);
    if (typeof m === 'string') issue(['mapping'], m);
    const pairs: [keyof DramTiming, keyof DramTiming][] = [['tCCD_L', 'tCCD_S'], ['tRRD_L', 'tRRD_S'], ['tWTR_L', 'tWTR_S'], ['tRC', 'tRAS']];
    for (const [big, small] of pairs) {
      const b = t[big], s = t[small];
      if (b !== undefined && s !== undefined && b < s) issue(['timing', big], `must be at least ${small} (${s}), got ${b}`);
    }
    if (r.refresh !== 'none') {
      const need = r.refresh === 'all-bank' ? 'tRFC' : 'tRFCpb';
      if (t.tREFI === undefined) issue(['timing', 'tREFI'], `required for refresh "${r.refresh}"`);
      const rfc = t[need];
      if (rfc === undefined) issue(['timing', need], `required for refresh "${r.refresh}"`);
      else if (t.tREFI !== undefined && !(rfc < t.tREFI)) issue(['timing', need], `must be less than tREFI (${t.tREFI}), got ${rfc}`);
    }
    if (r.writeLowWatermark >= r.writeHighWatermark) {
      issue([p.writeLowWatermark !== undefined ? 'writeLowWatermark' : 'writeHighWatermark'],
        `writeLowWatermark (${r.writeLowWatermark}) must be less than writeHighWatermark (${r.writeHighWatermark})`);
    }
    if (r.writeHighWatermark > p.writeQueueDepth) issue(['writeHighWatermark'], `must be at most writeQueueDepth (${p.writeQueueDepth}), got ${r.writeHighWatermark}`);
  });

/** What the controller takes (defaults may be left out; sizes may be strings). */
export type DramParamsInput = z.input<typeof DramSpec>;
/** Parsed parameters (before the preset is merged in). */
export type DramParams = z.output<typeof DramSpec>;

/** Parameters with the preset merged in (fields possibly still missing; the spec reports them). */
interface MergedDram extends Omit<DramParams, 'banks' | 'rowBytes' | 'burstBytes' | 'bankGroups' | 'timing' | 'refresh' | 'writeHighWatermark' | 'writeLowWatermark'> {
  banks: number | undefined;
  rowBytes: number | undefined;
  burstBytes: number | undefined;
  bankGroups: number;
  refresh: (typeof REFRESH_MODES)[number];
  writeHighWatermark: number;
  writeLowWatermark: number;
  timing: Partial<DramTiming>;
}

/** Complete controller parameters: the preset merged under the explicit fields. */
export interface ResolvedDram extends MergedDram {
  banks: number;
  rowBytes: number;
  burstBytes: number;
  timing: DramTiming;
}

function mergeDramPreset(p: DramParams): MergedDram {
  const pre = p.preset ? DRAM_PRESETS[p.preset as DramPresetName] : undefined;
  const timing: Partial<DramTiming> = { ...(pre?.timing ?? {}), ...(p.timing ?? {}) };
  const refresh = p.refresh ?? pre?.refresh ?? (timing.tREFI !== undefined && timing.tRFC !== undefined ? 'all-bank' : 'none');
  return {
    ...p,
    banks: p.banks ?? pre?.banks,
    rowBytes: p.rowBytes ?? pre?.rowBytes,
    burstBytes: p.burstBytes ?? pre?.burstBytes,
    bankGroups: p.bankGroups ?? pre?.bankGroups ?? 1,
    refresh,
    writeHighWatermark: p.writeHighWatermark ?? Math.max(1, Math.ceil((p.writeQueueDepth * 3) / 4)),
    writeLowWatermark: p.writeLowWatermark ?? Math.floor(p.writeQueueDepth / 4),
    timing,
  };
}

/** The complete parameters of a validated DramSpec output (the spec guarantees every field). */
export function resolveDramParams(p: DramParams): ResolvedDram {
  return mergeDramPreset(p) as ResolvedDram;
}
