/**
 * The identity (passthrough) domain: Linux's IOMMU_DOMAIN_IDENTITY, the default domain
 * of every device when the kernel boots with iommu.passthrough=1 (or iommu=pt), and what
 * a device gets when its group's sysfs `type` is set to `identity`. The driver programs
 * the stream to bypass translation (arm-smmu-v3: STE.Config = bypass,
 * arm_smmu_attach_dev_identity; VT-d: the pass-through translation type in the
 * context entry), so the device's DMA addresses are physical addresses. There are no
 * page tables: iommu_map on such a domain fails with -EINVAL (the iommu core refuses
 * domains without __IOMMU_DOMAIN_PAGING), and the DMA API uses dma-direct for the device
 * (iommu_setup_dma_ops installs iommu-dma only for DMA domains).
 */

import type { Iommu } from '../../sim/mmu/iommu';
import { Errno } from '../errno';

/**
 * Attaches the device on `streamId` of `iommu` to the identity domain: its context
 * goes to bypass. Returns 0, or -ENODEV when no device sits on that stream.
 */
export function iommuAttachIdentity(iommu: Iommu, streamId: number): number {
  if (!iommu.streamIds.includes(streamId)) return -Errno.ENODEV;
  iommu.setStreamContext(streamId, {
    format: iommu.format, root: 0, asid: 0, mode: 'bypass', privileged: false, allowRead: true, allowWrite: true,
  });
  return 0;
}
