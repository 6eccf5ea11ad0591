import { z } from 'zod';
import { isPowerOfTwo } from '../engine/addr';
import { count, mustBe, Name, Size } from '../engine/spec';
import { AtsSpec } from './atsSpec';
import { FC_DATA_CREDIT_BYTES, PCIE_MAX_GEN, PCIE_WIDTHS } from './wire';

/*
 * A PCIe link's parameters (the link itself is link.ts): the schema of a device's
 * `pcie` entry and its cross-field rules.
 */

const payloadSize = (what: string) => Size.refine((v) => isPowerOfTwo(v) && v >= 128 && v <= 4096, mustBe(`${what}: a power of two from 128 to 4096 bytes`));

/** A PCIe link's parameters (a device's `pcie` entry adds the root complex it plugs into). */
export const PcieLinkParamsSpec = z.strictObject({
  gen: z.number(mustBe(`a PCIe generation from 1 to ${PCIE_MAX_GEN}`)).int(mustBe(`a PCIe generation from 1 to ${PCIE_MAX_GEN}`))
    .min(1, mustBe(`a PCIe generation from 1 to ${PCIE_MAX_GEN} (2.5, 5, 8, 16, 32 GT/s)`))
    .max(PCIE_MAX_GEN, mustBe(`a PCIe generation from 1 to ${PCIE_MAX_GEN} (2.5, 5, 8, 16, 32 GT/s)`))
    .describe('PCIe generation 1-5: 2.5, 5, 8, 16, 32 GT/s per lane; 8b/10b encoding for 1-2, 128b/130b for 3-5'),
  lanes: z.number(mustBe('a link width')).refine((v) => PCIE_WIDTHS.includes(v), mustBe(`a link width of ${PCIE_WIDTHS.join(', ')} lanes`))
    .describe(`link width: ${PCIE_WIDTHS.join(', ')} lanes`),
  maxPayloadBytes: payloadSize('Max Payload Size').default(256).describe('Max Payload Size (Device Control register): the largest write or completion payload of one TLP'),
  maxReadRequestBytes: payloadSize('Max Read Request Size').default(512).describe('Max Read Request Size: device reads are split into read requests of at most this, at aligned boundaries'),
  readCompletionBoundaryBytes: Size.refine((v) => v === 64 || v === 128, mustBe('64 or 128 bytes')).default(64)
    .describe('Read Completion Boundary: read completions are split at multiples of it (root ports: 64 bytes)'),
  completionSplit: z.enum(['rcb', 'mps']).default('rcb')
    .describe('"rcb": one completion per RCB-aligned chunk (what Neugebauer et al. 2018 observe on Intel root complexes); "mps": completions as large as Max Payload Size, split at RCB boundaries'),
  ecrc: z.boolean().default(false).describe('end-to-end CRC: a 4-byte digest on every TLP'),
  latencyNs: z.number(mustBe('a number of ns')).min(0, mustBe('at least 0 ns')).max(1e6, mustBe('at most 1e6 ns')).default(70)
    .describe('one-way link latency besides serialization: transmit PHY + channel + receive PHY + data link layer, ns'),
  postedHeaderCredits: count(4096, '4096').default(64).describe('posted header credits the root port advertises (one per memory write TLP)'),
  postedDataCredits: count(65536, '65536').default(1024).describe('posted data credits the root port advertises (16 bytes each; 1024 = 16 KiB)'),
  nonPostedHeaderCredits: count(4096, '4096').default(64).describe('non-posted header credits the root port advertises (one per read request TLP)'),
  tags: count(1024, '1024').default(256).describe('read requests the endpoint keeps in flight (8-bit extended tags: 256; 10-bit: up to 768)'),
  ackEveryTlps: count(256, '256').default(4).describe('the receiver sends one Ack DLLP per this many TLPs (Ack coalescing)'),
  fcUpdateEveryTlps: count(256, '256').default(4).describe('the root port sends one UpdateFC DLLP per this many TLPs it takes (completions need none: endpoints advertise infinite completion credits)'),
  txQueueDepth: count(4096, '4096').default(64).describe('device requests the endpoint buffers before refusing the device'),
});

/** Cross-field rules; each names the field. */
export function pcieLinkProblems(p: z.output<typeof PcieLinkParamsSpec>): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  if (p.postedDataCredits * FC_DATA_CREDIT_BYTES < p.maxPayloadBytes) {
    out.push(['postedDataCredits', `must cover one Max Payload Size TLP (${p.maxPayloadBytes} bytes = ${p.maxPayloadBytes / FC_DATA_CREDIT_BYTES} credits of 16 bytes), got ${p.postedDataCredits}`]);
  }
  return out;
}

/** A device's `pcie` entry: the link's parameters and the root complex it plugs into. */
export const PcieLinkSpec = PcieLinkParamsSpec.safeExtend({
  rootComplex: Name.describe('the root complex (rootComplexes[].name) whose root port this link ends at'),
  ats: AtsSpec.optional().describe('PCIe Address Translation Services: the device caches translations in an ATC and sends translated requests (sim/pcie/ats.ts); absent: no ATS'),
}).superRefine((p, ctx) => {
  for (const [field, message] of pcieLinkProblems(p)) ctx.addIssue({ code: 'custom', path: [field], message });
});

export type PcieLinkParamsInput = z.input<typeof PcieLinkParamsSpec>;
export type PcieLinkParams = z.output<typeof PcieLinkParamsSpec>;
export type PcieLinkConfig = z.output<typeof PcieLinkSpec>;
