import { z } from 'zod';
import { isPowerOfTwo } from '../engine/addr';
import { count, Cycles, mustBe } from '../engine/spec';

/**
 * A PCIe device's ATS capability (`devices[].pcie.ats`; absent: no ATS): its Address
 * Translation Cache and how it behaves (sim/pcie/ats.ts).
 */
export const AtsSpec = z.strictObject({
  atcEntries: count(4096, '4096').describe('Address Translation Cache entries (4 KiB translations)'),
  atcWays: count(4096, '4096').optional().describe('ATC associativity: must divide atcEntries, and atcEntries / atcWays must be a power of two; absent: fully associative'),
  atcLatencyCycles: Cycles.default(1).describe('ATC lookup latency, device clock cycles'),
  maxTranslationRequests: count(256, '256').default(8).describe('Translation Requests the device keeps in flight (distinct pages)'),
  queueDepth: count(4096, '4096').default(64).describe('device requests held while their translation is fetched (in order) before the device is refused'),
  invalidationNs: z.number(mustBe('a number of ns')).min(0, mustBe('at least 0 ns')).max(1e6, mustBe('at most 1e6 ns')).default(100)
    .describe('ns the device takes from an Invalidate Request to sending its Invalidate Completion'),
  ignoreInvalidations: z.boolean().default(false)
    .describe('a malicious device: it answers Invalidate Requests with Invalidate Completions but keeps its cached translations (Thunderclap-style); default false'),
}).superRefine((p, ctx) => {
  if (p.atcWays === undefined) return;
  if (p.atcEntries % p.atcWays !== 0) ctx.addIssue({ code: 'custom', path: ['atcWays'], message: `must divide atcEntries (${p.atcEntries}), got ${p.atcWays}` });
  else if (!isPowerOfTwo(p.atcEntries / p.atcWays)) {
    ctx.addIssue({ code: 'custom', path: ['atcWays'], message: `atcEntries / atcWays (the number of sets) must be a power of two, got ${p.atcEntries} / ${p.atcWays}` });
  }
});

export type AtsParamsInput = z.input<typeof AtsSpec>;
export type AtsParams = z.output<typeof AtsSpec>;
