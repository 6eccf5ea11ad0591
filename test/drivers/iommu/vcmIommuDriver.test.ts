import { KernelError } from '../../../drivers/errno';
import { IommuDomain, IOMMU_READ, IOMMU_WRITE } from '../../../drivers/iommu/iommuDomain';
import { SZ_2M, SZ_4K } from '../../../drivers/iommu/ioPgtableArm';
import { VcmIommuDriver, vcmIommuCreate } from '../../../drivers/iommu/vcmIommuDriver';
import { BuddyAllocator } from '../../../drivers/mm/buddy';
import { vcmActivate, vcmDeactivate, vcmDestroyBinding, vcmMakeBinding, type VcmEnv, type VcmRes } from '../../../drivers/vcm';
import { Status } from '../../../sim/bus/transaction';
import { copyOk, deviceCopy } from '../../helpers/kernelRig';
import { DATA, iommuRig } from './rig';

const VCM_START = 0x1000_0000;
const VCM_SIZE = 0x1000_0000;

function vcmRig() {
  const rig = iommuRig();
  const smmu = rig.soc.iommu('smmu');
  const dom = new IommuDomain(rig.kernel, smmu, rig.pages, 2);
  expect(dom.attachDevice(1)).toBe(0);
  // Memory for buffers: 64 MiB of DRAM, separate from the page-table pool.
  const env: VcmEnv = { kernel: rig.kernel, pages: new BuddyAllocator(DATA, 0x400_0000) };
  const vcm = vcmIommuCreate(env, VCM_START, VCM_SIZE, dom);
  return { ...rig, smmu, dom, env, vcm };
}

/** Where `res` + off lives physically, from the VCM's own record of the memory. */
function physOf(res: VcmRes, off: number): number {
  for (const p of res.phys!.parts) {
    if (off < p.size) return p.start + off;
    off -= p.size;
  }
  throw new Error('offset beyond the binding');
}

describe('VcmIommuDriver: a VCM MMU driver over an IOMMU domain', () => {
  test('orders come from the domain page sizes; the driver is a vcm_mmu_driver with page operations', () => {
    const rig = vcmRig();
    const d = rig.vcm.mmuDriver as VcmIommuDriver;
    expect(d.orders).toEqual([18, 9, 0]);
    expect(d.prot).toBe(IOMMU_READ | IOMMU_WRITE);
    expect(rig.vcm.mmuDriver.activate).toBeUndefined();
    expect(new VcmIommuDriver(rig.dom, { orders: [8, 4, 0] }).orders).toEqual([8, 4, 0]);
  });

  test('bindings reach the page tables while active; the device copies through them; unbinding unmaps and invalidates', () => {
    const rig = vcmRig();
    expect(vcmActivate(rig.vcm)).toBe(0);
    const src = vcmMakeBinding(rig.vcm, SZ_2M + 2 * SZ_4K, 0, 0);
    const dst = vcmMakeBinding(rig.vcm, 4 * SZ_4K, 0, 0);
    // The 2M part of the source is one 2M block (aligned reservation + order-9 page).
    expect(src.start % SZ_2M).toBe(0);
    expect(src.phys!.parts.map((p) => p.size)).toEqual([SZ_2M, SZ_4K, SZ_4K]);
    for (const off of [0, 0x1234, SZ_2M - 1, SZ_2M, SZ_2M + SZ_4K + 5]) expect(rig.dom.iovaToPhys(src.start + off)).toBe(physOf(src, off));

    // Device: copy the tail of src (crossing the 2M block into the 4K pages) into dst.
    const data = new Uint8Array(4 * SZ_4K);
    for (let i = 0; i < data.length; i++) data[i] = (i * 13) & 0xff;
    for (let i = 0; i < 4; i++) rig.soc.physmem.write(physOf(src, SZ_2M - 2 * SZ_4K + i * SZ_4K), data.subarray(i * SZ_4K, (i + 1) * SZ_4K));
    expect(copyOk(deviceCopy(rig.soc, 'dma_smmu', src.start + SZ_2M - 2 * SZ_4K, dst.start, 4 * SZ_4K))).toBe(true);
    for (let i = 0; i < 4; i++) {
      const got = new Uint8Array(SZ_4K);
      rig.soc.physmem.read(physOf(dst, i * SZ_4K), got);
      expect(got).toEqual(data.subarray(i * SZ_4K, (i + 1) * SZ_4K));
    }

    // Unbinding while active: deactivatePage per page, each an unmap with INVALIDATE-RANGE + SYNC.
    const inval = rig.stat('kernel.smmu.pgtable.inval_cmds');
    const srcStart = src.start;
    vcmDestroyBinding(src);
    expect(rig.stat('kernel.smmu.pgtable.inval_cmds')).toBe(inval + 3);
    expect(rig.dom.iovaToPhys(srcStart)).toBeNull();
    const r = deviceCopy(rig.soc, 'dma_smmu', srcStart, dst.start, 64);
    expect(r.status).toBe(Status.TranslationFault);
    expect(rig.smmu.faults[0]).toMatchObject({ reason: 'not_present', address: srcStart });
    expect(rig.kernel.warnings).toBe(0);
  });

  test('bindings made while inactive reach the hardware on vcmActivate and leave it on vcmDeactivate', () => {
    const rig = vcmRig();
    const res = vcmMakeBinding(rig.vcm, 3 * SZ_4K, 0, 0);
    expect(rig.dom.iovaToPhys(res.start)).toBeNull();
    expect(vcmActivate(rig.vcm)).toBe(0);
    expect(rig.dom.iovaToPhys(res.start + SZ_4K)).toBe(physOf(res, SZ_4K));
    vcmDeactivate(rig.vcm);
    expect(rig.dom.iovaToPhys(res.start + SZ_4K)).toBeNull();
  });

  test('an activatePage error (-EEXIST over a mapping made behind VCM\'s back) rolls the binding back', () => {
    const rig = vcmRig();
    expect(vcmActivate(rig.vcm)).toBe(0);
    // The first reservation will be at VCM_START (2M aligned); occupy its third page.
    expect(rig.dom.map(VCM_START + 2 * SZ_4K, DATA + 0x300_0000, SZ_4K, IOMMU_READ)).toBe(0);
    let err: unknown = null;
    try {
      vcmMakeBinding(rig.vcm, 4 * SZ_4K, 0, 0);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect((err as KernelError).errnoName).toBe('EEXIST');
    expect(rig.dom.iovaToPhys(VCM_START)).toBeNull(); // the pages mapped before the failure were unmapped
    expect(rig.dom.iovaToPhys(VCM_START + SZ_4K)).toBeNull();
    expect(rig.dom.iovaToPhys(VCM_START + 2 * SZ_4K)).toBe(DATA + 0x300_0000);
  });
});
