/**
 * PCIe validation benches (issue 14, section 1): socsim's PCIe link and root complex
 * against closed forms. Rows have the shape of bench/validation.ts (`ValidationResult`).
 *
 * (a) Achievable DMA bandwidth of one link, reads and writes, vs request size and
 *     MPS/MRRS/RCB: the closed form of Neugebauer et al., "Understanding PCIe performance
 *     for end host networking" (SIGCOMM 2018, §3, eq. for MWr and MRd/CplD), with the
 *     DLLP terms written out the way the model sends them:
 *       write: BW = sz / (T_B * (n_w * (8 + H) + sz)),  n_w = sz / MPS TLPs,
 *       read:  BW = sz / (T_B * max(up, down)),
 *              down = n_c * (8 + 12) + sz + n_r * 8 * (1/ack + 1/fc),
 *              up   = n_r * (8 + H) + n_c * 8 / ack,  n_r = sz / MRRS, n_c = sz / RCB,
 *     where T_B is the link's time per byte (8 / (GT/s x lanes x encoding)), H the request
 *     header (16 bytes: 64-bit addresses), 8 the framing + sequence number + LCRC of a TLP
 *     and the size of a DLLP, ack/fc the TLPs per Ack and per UpdateFC. Requests are
 *     aligned, so the counts are exact. Memory is an SRAM far faster than the link and
 *     credits, tags and requests in flight are ample, so the link is the bottleneck.
 * (b) The latency of one 64-byte DMA read, decomposed: the same read on the same SoC
 *     with the device on the crossbar (IOMMU + memory, measured) plus the configured
 *     PCIe parts: 2 x link latency + serialization of the read request (24 B) and its
 *     completion (84 B) + 2 x the root complex's latency. With an IOTLB hit, an IOTLB miss
 *     (a 4-level walk) and without an IOMMU.
 */
import type { WorkloadSpec } from '../../sim/devices/workload';
import type { Soc } from '../../sim/soc/builder';
import { buildValidationSoc, runTraffic } from './rig';
import { PageTableBuilder } from '../../sim/mmu/pageTableBuilder';
import { getFormat } from '../../sim/mmu/format';
import { Histogram } from '../../sim/engine/histogram';
import { result, type ValidationResult } from './types';

const SRAM_BASE = 2 ** 33; // above 4 GiB: 4-DW request headers
const SRAM_SIZE = 2 ** 28;
const K4 = 4096;

interface LinkShape { gen: number; lanes: number; mps: number; mrrs: number; rcb: number; latencyNs: number }

/** A traffic generator `tg` behind a PCIe link (unless `pcie` is null), optionally behind an IOMMU, on an SRAM. */
function pcieSoc(link: LinkShape | null, opts: { iommu: boolean; maxOutstanding: number; rcCycles: number }): Soc {
  const tlb = { entries: 1, ways: 1, replacement: 'lru', latencyCycles: 1, pageSizes: ['4KiB'], mshrs: 1 };
  const cfg = {
    name: 'pcie_validation',
    clocks: { sys: '1GHz', dram: '1600MHz' },
    memories: [
      // The kernel needs a DRAM; the traffic and page tables use the SRAM, whose timing is fixed.
      { name: 'dram', kind: 'dram', base: 0x8000_0000, size: 2 ** 24, bus: 'xbar', clock: 'dram', channels: 1, banks: 8, rowBytes: 2048, burstBytes: 64, mapping: 'row:bank:channel:column', queueDepth: 8, timing: { tRCD: 13.75, tCL: 13.75, tRP: 13.75, tRAS: 32, tBURST: 2.5 } },
      { name: 'sram', kind: 'sram', base: SRAM_BASE, size: SRAM_SIZE, bus: 'xbar', clock: 'sys', latencyCycles: 20, bytesPerCycle: 128, queueDepth: 1024 },
    ],
    buses: [{ name: 'xbar', clock: 'sys', widthBytes: 128, latencyCycles: 2, arbitration: 'round-robin', inputQueueDepth: 64, maxOutstandingPerMaster: 0 }],
    iommus: opts.iommu ? [{
      name: 'smmu', bus: 'xbar', clock: 'sys', format: 'arm-lpae-4k', l1Tlb: tlb, l2Tlb: { ...tlb, entries: 4, ways: 4, latencyCycles: 3 },
      walker: { slots: 1, stepCycles: 1, walkCaches: [] },
      commandCycles: { invalidateAll: 100, invalidateAsid: 50, invalidateRange: 20, sync: 10 },
    }] : [],
    rootComplexes: [{ name: 'rc', clock: 'sys', latencyCycles: opts.rcCycles, queueDepth: 1024 }],
    devices: [{
      name: 'tg', kind: 'traffic', bus: 'xbar', clock: 'sys', maxOutstanding: opts.maxOutstanding,
      translation: opts.iommu ? { kind: 'iommu', iommu: 'smmu', streamId: 0 } : { kind: 'direct' },
      ...(link ? {
        pcie: {
          rootComplex: 'rc', gen: link.gen, lanes: link.lanes, maxPayloadBytes: link.mps, maxReadRequestBytes: link.mrrs,
          readCompletionBoundaryBytes: link.rcb, latencyNs: link.latencyNs,
          postedHeaderCredits: 4096, postedDataCredits: 65536, nonPostedHeaderCredits: 4096, tags: 1024, txQueueDepth: 4096,
        },
      } : {}),
    }],
  };
  return buildValidationSoc(cfg, '<bench/validation/pcie.ts>');
}


// ---------------------------------------------------------------------------------
// (a) bandwidth

interface BwCase { name: string; write: boolean; size: number; link: LinkShape }

const G3X8 = { gen: 3, lanes: 8, latencyNs: 50 };
const G4X16 = { gen: 4, lanes: 16, latencyNs: 50 };
const G2X4 = { gen: 2, lanes: 4, latencyNs: 50 };

export const PCIE_BW_CASES: readonly BwCase[] = [
  { name: 'pcie.bw.write.gen3x8.mps256.64B', write: true, size: 64, link: { ...G3X8, mps: 256, mrrs: 512, rcb: 64 } },
  { name: 'pcie.bw.write.gen3x8.mps256.256B', write: true, size: 256, link: { ...G3X8, mps: 256, mrrs: 512, rcb: 64 } },
  { name: 'pcie.bw.write.gen3x8.mps128.1KiB', write: true, size: 1024, link: { ...G3X8, mps: 128, mrrs: 512, rcb: 64 } },
  { name: 'pcie.bw.write.gen3x8.mps256.4KiB', write: true, size: 4096, link: { ...G3X8, mps: 256, mrrs: 512, rcb: 64 } },
  { name: 'pcie.bw.write.gen4x16.mps512.4KiB', write: true, size: 4096, link: { ...G4X16, mps: 512, mrrs: 512, rcb: 64 } },
  { name: 'pcie.bw.write.gen2x4.mps128.512B', write: true, size: 512, link: { ...G2X4, mps: 128, mrrs: 512, rcb: 64 } },
  { name: 'pcie.bw.read.gen3x8.mrrs512.rcb64.64B', write: false, size: 64, link: { ...G3X8, mps: 256, mrrs: 512, rcb: 64 } },
  { name: 'pcie.bw.read.gen3x8.mrrs512.rcb64.256B', write: false, size: 256, link: { ...G3X8, mps: 256, mrrs: 512, rcb: 64 } },
  { name: 'pcie.bw.read.gen3x8.mrrs128.rcb64.1KiB', write: false, size: 1024, link: { ...G3X8, mps: 256, mrrs: 128, rcb: 64 } },
  { name: 'pcie.bw.read.gen3x8.mrrs512.rcb128.4KiB', write: false, size: 4096, link: { ...G3X8, mps: 256, mrrs: 512, rcb: 128 } },
  { name: 'pcie.bw.read.gen4x16.mrrs512.rcb64.4KiB', write: false, size: 4096, link: { ...G4X16, mps: 256, mrrs: 512, rcb: 64 } },
  { name: 'pcie.bw.read.gen2x4.mrrs256.rcb64.512B', write: false, size: 512, link: { ...G2X4, mps: 128, mrrs: 256, rcb: 64 } },
];

/** TLPs per Ack and per UpdateFC: the link's defaults. */
const ACK_EVERY = 4;
const FC_EVERY = 4;

/** The closed form above, GB/s (bytes per ns). */
export function pcieBandwidthClosedForm(c: BwCase): number {
  const encoding = c.link.gen <= 2 ? 8 / 10 : 128 / 130;
  const gts = [0, 2.5, 5, 8, 16, 32][c.link.gen];
  const nsPerByte = 8 / (gts * c.link.lanes * encoding);
  const hdr = 8 + 16;
  if (c.write) return c.size / (nsPerByte * (Math.ceil(c.size / c.link.mps) * hdr + c.size));
  const nr = Math.ceil(c.size / c.link.mrrs);
  const nc = Math.ceil(c.size / c.link.rcb);
  const down = nc * (8 + 12) + c.size + nr * 8 * (1 / ACK_EVERY + 1 / FC_EVERY);
  const up = nr * hdr + nc * 8 / ACK_EVERY;
  return c.size / (nsPerByte * Math.max(up, down));
}

/** Achieved bandwidth of a sequential stream of `size`-byte DMAs (GB/s over the whole run). */
export function measurePcieBandwidth(c: BwCase, totalBytes: number): number {
  const soc = pcieSoc(c.link, { iommu: false, maxOutstanding: 1024, rcCycles: 1 });
  const n = Math.floor(totalBytes / c.size);
  runTraffic(soc, { kind: 'sequential', base: SRAM_BASE, accessBytes: c.size, footprint: n * c.size, accesses: n, readFraction: c.write ? 0 : 1 }, 'PCIe validation');
  return (n * c.size) / (soc.ctx.engine.now / 1000);
}

export function validatePcieBandwidth(totalBytes = 4 * 2 ** 20): ValidationResult[] {
  return PCIE_BW_CASES.map((c) => {
    const l = c.link;
    const form = c.write ? `sz/(T_B(ceil(sz/MPS)*24 + sz))` : `sz/(T_B*max(up, down)), down = ceil(sz/RCB)*20 + sz + DLLPs`;
    return result(c.name, pcieBandwidthClosedForm(c), measurePcieBandwidth(c, totalBytes),
      `GB/s, Gen${l.gen} x${l.lanes}, ${c.write ? 'writes' : 'reads'} of ${c.size} B, MPS ${l.mps}, MRRS ${l.mrrs}, RCB ${l.rcb}: ${form} (Neugebauer et al. 2018 §3)`);
  });
}

// ---------------------------------------------------------------------------------
// (b) latency decomposition

const LAT_LINK: LinkShape = { gen: 3, lanes: 8, mps: 256, mrrs: 512, rcb: 64, latencyNs: 100 };
const RC_CYCLES = 100; // at 1 GHz

/** Mean latency (ns) of `reads` single 64-byte reads, one at a time; `miss`: each to a new page (a walk each). */
function meanReadLatency(link: LinkShape | null, iommu: 'hit' | 'miss' | 'none', reads: number): number {
  const soc = pcieSoc(link, { iommu: iommu !== 'none', maxOutstanding: 1, rcCycles: RC_CYCLES });
  const va = 0x4000_0000;
  const pages = iommu === 'miss' ? reads : 1;
  if (iommu !== 'none') {
    const lpae = getFormat('arm-lpae-4k');
    const tables = new PageTableBuilder(soc.physmem, lpae, SRAM_BASE + 2 ** 27);
    for (let i = 0; i < pages; i++) tables.map(va + i * K4, SRAM_BASE + i * K4, 12);
    soc.iommu('smmu').setStreamContext(0, { format: lpae, root: tables.root, asid: 1, mode: 'translate', privileged: false, allowRead: true, allowWrite: true });
  }
  const base = iommu === 'none' ? SRAM_BASE : va;
  const spec: WorkloadSpec = iommu === 'miss'
    ? { kind: 'strided', base, accessBytes: 64, footprint: pages * K4, strideBytes: K4, accesses: reads, readFraction: 1 }
    : { kind: 'strided', base, accessBytes: 64, footprint: K4, strideBytes: 64, accesses: reads, readFraction: 1 };
  runTraffic(soc, spec, 'PCIe validation');
  if (iommu === 'hit' && soc.ctx.stats.value('soc.smmu.walker.walks') !== 1) throw new Error('PCIe latency bench: expected one walk (the first read)');
  const h = soc.ctx.stats.get('soc.tg.latency_ns');
  if (!(h instanceof Histogram)) throw new Error('PCIe latency bench: soc.tg.latency_ns is not a histogram');
  return h.mean();
}

/** The configured PCIe part of a 64-byte read: 2 x latency, the request (24 B) and completion (84 B) on the wire, 2 x the root complex. */
export function pcieReadOverheadNs(l: LinkShape, rcNs: number): number {
  const encoding = l.gen <= 2 ? 8 / 10 : 128 / 130;
  const nsPerByte = 8 / ([0, 2.5, 5, 8, 16, 32][l.gen] * l.lanes * encoding);
  return 2 * l.latencyNs + (24 + 84) * nsPerByte + 2 * rcNs;
}

export function validatePcieLatency(reads = 256): ValidationResult[] {
  const overhead = pcieReadOverheadNs(LAT_LINK, RC_CYCLES);
  return (['hit', 'miss', 'none'] as const).map((mode) => {
    const onChip = meanReadLatency(null, mode, reads);
    const behindPcie = meanReadLatency(LAT_LINK, mode, reads);
    const what = mode === 'none' ? 'no IOMMU' : `IOTLB ${mode}${mode === 'miss' ? ' (4-level walk, no walk caches)' : ''}`;
    return result(`pcie.latency.read64.${mode === 'none' ? 'no_iommu' : `iotlb_${mode}`}`, onChip + overhead, behindPcie,
      `ns, mean of ${reads} single 64 B reads, ${what}: on-chip ${onChip.toFixed(1)} ns (IOMMU + crossbar + memory, measured) + link 2 x ${LAT_LINK.latencyNs} ns + wire (24 + 84 B at Gen${LAT_LINK.gen} x${LAT_LINK.lanes}) + root complex 2 x ${RC_CYCLES} ns = ${overhead.toFixed(1)} ns`);
  });
}

/** Every PCIe validation row. */
export function runPcieValidation(): ValidationResult[] {
  return [...validatePcieBandwidth(), ...validatePcieLatency()];
}
