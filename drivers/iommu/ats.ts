/**
 * PCIe ATS in the kernel's IOMMU driver: Linux arm-smmu-v3 (arm_smmu_enable_ats,
 * arm_smmu_disable_ats, arm_smmu_atc_inv_domain) and the PCI core's pci_enable_ats.
 *
 * - attach: a device whose stream has ATS (pci_ats_supported) gets it enabled
 *   (STE.EATS, then the device's ATS Enable bit) when it joins a translating domain;
 *   detach disables it (and the device's ATC is emptied).
 * - invalidation: after invalidating its own TLBs for a range or an ASID, the driver
 *   sends one CMD_ATC_INV per ATS-enabled stream of the domain, before the CMD_SYNC that
 *   waits for them (arm_smmu_tlb_inv_range_domain → arm_smmu_atc_inv_domain). Each waits
 *   for the device's Invalidate Completion over its link: the round trip is kernel time
 *   (`kernel.iommu_time_ps`), as the IOTLB commands' cycles are.
 */
import type { Counter } from '../../sim/engine/stats';
import type { Iommu } from '../../sim/mmu/iommu';

/** arm_smmu_enable_ats for `streamId` if its device has ATS; returns whether ATS is on. */
export function enableAtsIfSupported(iommu: Iommu, streamId: number): boolean {
  if (!iommu.atsCapable(streamId)) return false;
  iommu.setAtsEnabled(streamId, true);
  return true;
}

/** arm_smmu_disable_ats for `streamId` (nothing if ATS is off). */
export function disableAts(iommu: Iommu, streamId: number): void {
  if (iommu.atsEnabled(streamId)) iommu.setAtsEnabled(streamId, false);
}

/**
 * arm_smmu_atc_inv_domain: CMD_ATC_INV for [iova, iova + size) (size 0: everything) to
 * every ATS-enabled stream in `streams`. Returns the ps the kernel waits (each command's
 * round trip; the caller's SYNC follows); `sCmds` counts the commands.
 */
export function atcInvDomain(iommu: Iommu, streams: Iterable<number>, iova: number, size: number, sCmds: Counter): number {
  let ps = 0;
  for (const streamId of streams) {
    if (!iommu.atsEnabled(streamId)) continue;
    sCmds.value++;
    ps += iommu.executeAtomic({ op: 'atc-invalidate', streamId, va: iova, size });
  }
  return ps;
}
