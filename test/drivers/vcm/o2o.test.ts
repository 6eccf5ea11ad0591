import { Errno, KernelError } from '../../../drivers/errno';
import { BuddyAllocator } from '../../../drivers/mm/buddy';
import { ContiguousRegion } from '../../../drivers/mm/contiguous';
import {
  vcmActivate, vcmAlloc, vcmBind, vcmDeactivate, vcmDestroy, vcmDestroyBinding, vcmFree, vcmMakeBinding,
  vcmMap, vcmMmuInit, vcmO2oCreate, vcmO2oInit, vcmReserve, vcmUnbind, vcmUnmap,
} from '../../../drivers/vcm';
import type { VcmO2oDriver } from '../../../drivers/vcm';
import { fakeVcmDriver } from '../../helpers/fakeVcmDriver';
import { DRAM_BASE, kernelRig } from '../../helpers/kernelRig';

const KiB = 1024;
const MiB = 1024 * KiB;
const CMA = DRAM_BASE + 32 * MiB;

function thrown(f: () => unknown): KernelError {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

function rig(size = 8 * MiB) {
  const { kernel } = kernelRig();
  const region = new ContiguousRegion('cma', CMA, size);
  return { kernel, region, o2o: vcmO2oCreate(kernel, region) };
}

describe('one-to-one wrapper (vcm_o2o_init)', () => {
  test('make_binding: contiguous memory whose reservation address is its physical address', () => {
    const { o2o, region, kernel } = rig();
    const res = vcmMakeBinding(o2o, 2 * MiB + 4 * KiB, 0, 0);
    const phys = res.phys!;
    expect(phys.count).toBe(1);
    expect(phys.parts).toEqual([{ start: res.start, size: 2 * MiB + 4 * KiB }]);
    expect(res.start).toBe(CMA);
    expect(res.resSize).toBe(2 * MiB + 4 * KiB);
    expect(res.boundSize).toBe(2 * MiB + 4 * KiB);
    expect(region.usedBytes).toBe(2 * MiB + 4 * KiB);
    expect(vcmActivate(o2o)).toBe(0); // a no-op, but required by the API
    vcmDeactivate(o2o);
    vcmDestroyBinding(res);
    expect(region.usedBytes).toBe(0);
    expect(kernel.warnings).toBe(0);
  });

  test('reserving without memory is not supported (EOPNOTSUPP)', () => {
    const { o2o } = rig();
    expect(thrown(() => vcmReserve(o2o, MiB, 0)).errnoName).toBe('EOPNOTSUPP');
  });

  test('vcm_alloc then vcm_map of that memory; a second map of it is EBUSY; after unmap it maps again', () => {
    const { o2o, kernel } = rig();
    const phys = vcmAlloc(o2o, MiB, 0);
    const res = vcmMap(o2o, phys, 0);
    expect(res.start).toBe(phys.parts[0].start);
    expect(res.phys).toBe(phys);
    const err = thrown(() => vcmMap(o2o, phys, 0));
    expect(err.errnoName).toBe('EBUSY');
    expect(err.errno).toBe(-Errno.EBUSY);
    vcmUnmap(res);
    const again = vcmMap(o2o, phys, 0);
    expect(again.start).toBe(res.start);
    vcmUnmap(again);
    vcmFree(phys);
    expect(kernel.warnings).toBe(0);
  });

  test('its reservation can be rebound only to its own memory (-EOPNOTSUPP otherwise)', () => {
    const { o2o } = rig();
    const res = vcmMakeBinding(o2o, MiB, 0, 0);
    const other = vcmAlloc(o2o, 4 * KiB, 0);
    const own = vcmUnbind(res)!;
    expect(vcmBind(res, other)).toBe(-Errno.EOPNOTSUPP);
    expect(vcmBind(res, own)).toBe(0);
    expect(res.phys).toBe(own);
    expect(vcmBind(res, own)).toBe(-Errno.EALREADY);
  });

  test('memory allocated elsewhere cannot be mapped (EOPNOTSUPP)', () => {
    const { kernel, o2o } = rig();
    const other = vcmO2oCreate(kernel, new ContiguousRegion('cma2', DRAM_BASE + 48 * MiB, MiB));
    const phys = vcmAlloc(other, 4 * KiB, 0);
    expect(thrown(() => vcmMap(o2o, phys, 0)).errnoName).toBe('EOPNOTSUPP');
  });

  test('ENOMEM when the region has no contiguous block that large', () => {
    const { o2o } = rig(2 * MiB);
    vcmMakeBinding(o2o, MiB, 0, 0);
    expect(thrown(() => vcmMakeBinding(o2o, 2 * MiB, 0, 0)).errnoName).toBe('ENOMEM');
    expect(thrown(() => vcmAlloc(o2o, 2 * MiB, 0)).errnoName).toBe('ENOMEM');
  });

  test('freeing mapped memory warns and keeps it', () => {
    const { o2o, region, kernel } = rig();
    const res = vcmMakeBinding(o2o, MiB, 0, 0);
    vcmFree(res.phys!);
    expect(region.usedBytes).toBe(MiB);
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_free: physical memory still bound to 1 reservation(s); not freed']);
  });

  test('vcm_o2o_init: a driver without alloc or free is EINVAL with a warning; cleanup is called on destroy', () => {
    const { kernel } = kernelRig();
    expect(thrown(() => vcmO2oInit({ kernel, start: CMA, size: MiB, driver: { free: () => {} } as unknown as VcmO2oDriver })).errnoName).toBe('EINVAL');
    expect(thrown(() => vcmO2oInit({ kernel, start: CMA, size: 0, driver: { alloc: () => null, free: () => {} } })).errnoName).toBe('EINVAL');
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_o2o_init: driver needs alloc and free', 'vcm_init: size 0']);
    const log: string[] = [];
    const o2o = vcmO2oInit({ kernel, start: CMA, size: MiB, driver: { alloc: () => null, free: () => {}, cleanup: () => { log.push('cleanup'); } } });
    vcmDestroy(o2o);
    expect(log).toEqual(['cleanup']);
  });

  test('a driver alloc that returns a bad block: warning, the block is freed with its priv, EINVAL', () => {
    const { kernel } = kernelRig();
    const freed: unknown[] = [];
    const o2o = vcmO2oInit({
      kernel, start: CMA, size: MiB,
      driver: { alloc: (_v, part) => { part.start = CMA + 0x800; return 'priv'; }, free: (_p, priv) => { freed.push(priv); } },
    });
    expect(thrown(() => vcmAlloc(o2o, 4 * KiB, 0)).errnoName).toBe('EINVAL');
    expect(freed).toEqual(['priv']);
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_o2o: driver alloc returned block 0x82000800+4096 not page aligned']);
  });

  test('the document example: one buffer shared by a one-to-one and an IOMMU context', () => {
    const { kernel, o2o, region } = rig();
    const hw = fakeVcmDriver();
    const iommu = vcmMmuInit({ env: { kernel, pages: new BuddyAllocator(DRAM_BASE, 32 * MiB) }, start: 0x1000_0000, size: 64 * MiB, driver: hw });
    const resO2o = vcmMakeBinding(o2o, 2 * MiB + 4 * KiB, 0, 0);
    const resIommu = vcmMap(iommu, resO2o.phys!, 0);
    expect(vcmActivate(iommu)).toBe(0);
    expect(vcmActivate(o2o)).toBe(0);
    expect(resO2o.phys!.bindings).toBe(2);
    // The device behind the IOMMU and the direct-mapped device reach the same bytes.
    expect(hw.translate(resIommu.start + 0x20_0234)).toBe(resO2o.start + 0x20_0234);
    vcmUnmap(resIommu);
    vcmDestroyBinding(resO2o);
    vcmDeactivate(iommu);
    vcmDeactivate(o2o);
    vcmDestroy(iommu);
    vcmDestroy(o2o);
    expect(hw.hw.size).toBe(0);
    expect(region.usedBytes).toBe(0);
    expect(kernel.warnings).toBe(0);
  });
});
