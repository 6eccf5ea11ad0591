import type { PageTableFormat } from '../mmu/format/types';
import type { Soc } from './builder';

/**
 * The translation contexts a built SoC holds right now (issue 13's page-table view):
 * every IOMMU stream whose context translates (the nvkm GPU VMM's PGD is the context of
 * the GPU's stream on its MMU) and every CPU MMU that is on (its TTBR0 + ASID). Bypass,
 * abort and unprogrammed contexts have no tables and are left out.
 */
export interface ActiveContext {
  /** `<unit> stream <id> (<device>)` or `<unit> asid <asid>`: unique in the SoC. */
  name: string;
  /** The IOMMU's or CPU MMU's name in the config. */
  unit: string;
  kind: 'iommu-stream' | 'cpu-mmu';
  /** IOMMU streams only. */
  streamId?: number;
  /** IOMMU streams only: the device attached on the stream. */
  device?: string;
  asid: number;
  format: PageTableFormat;
  /** Physical address of the root table. */
  root: number;
}

/** Active contexts in config order: IOMMUs (streams by id), then CPU MMUs. */
export function activeTranslationContexts(soc: Soc): ActiveContext[] {
  const out: ActiveContext[] = [];
  for (const [unit, iommu] of soc.iommus) {
    for (const streamId of [...iommu.streamIds].sort((a, b) => a - b)) {
      const c = iommu.streamContext(streamId);
      if (c === null || c.mode !== 'translate') continue;
      const device = iommu.streamDevice(streamId) ?? '?';
      out.push({ name: `${unit} stream ${streamId} (${device})`, unit, kind: 'iommu-stream', streamId, device, asid: c.asid, format: c.format, root: c.root });
    }
  }
  for (const [unit, mmu] of soc.cpuMmus) {
    const c = mmu.context;
    if (c === null || c.mode !== 'translate') continue;
    out.push({ name: `${unit} asid ${c.asid}`, unit, kind: 'cpu-mmu', asid: c.asid, format: c.format, root: c.root });
  }
  return out;
}
