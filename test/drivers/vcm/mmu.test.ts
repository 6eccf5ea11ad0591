import { Errno, KernelError } from '../../../drivers/errno';
import { BuddyAllocator } from '../../../drivers/mm/buddy';
import {
  vcmActivate, vcmAlloc, vcmBind, vcmDeactivate, vcmDestroy, vcmDestroyBinding, vcmMakeBinding, vcmMap,
  vcmMmuInit, vcmReserve, vcmUnbind, vcmUnmap, vcmUnreserve,
} from '../../../drivers/vcm';
import type { VcmEnv, VcmMmu, VcmMmuDriver } from '../../../drivers/vcm';
import { fakeVcmDriver, type FakeVcmDriver, type FakeVcmDriverOptions } from '../../helpers/fakeVcmDriver';
import { DRAM_BASE, kernelRig } from '../../helpers/kernelRig';

const KiB = 1024;
const MiB = 1024 * KiB;
const VA = 0x1000_0000;

function thrown(f: () => unknown): KernelError {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

function rig(opts: FakeVcmDriverOptions = {}, size = 64 * MiB, start = VA): { env: VcmEnv; mmu: VcmMmu; hw: FakeVcmDriver } {
  const { kernel } = kernelRig();
  const env: VcmEnv = { kernel, pages: new BuddyAllocator(DRAM_BASE, 64 * MiB) };
  const hw = fakeVcmDriver(opts);
  return { env, hw, mmu: vcmMmuInit({ env, start, size, driver: hw }) };
}

describe('vcm_mmu_init (vcm-drv.h)', () => {
  const ok = { activatePage: () => 0, deactivatePage: () => 0 };
  test.each<[string, Partial<VcmMmuDriver> & { orders?: number[] }, string]>([
    ['orders not decreasing', { orders: [4, 8, 0], ...ok }, 'vcm_mmu_init: orders [4, 8, 0] not sorted from largest to smallest'],
    ['orders not ending in 0', { orders: [8, 4], ...ok }, 'vcm_mmu_init: orders [8, 4] do not end with 0'],
    ['no activate operation', { orders: [0], deactivatePage: () => 0 }, 'vcm_mmu_init: driver needs activate or activatePage + deactivatePage'],
    ['activatePage without deactivatePage', { orders: [0], activatePage: () => 0, deactivate: () => {} }, 'vcm_mmu_init: driver needs activate or activatePage + deactivatePage'],
    ['no deactivate operation', { orders: [0], activate: () => 0 }, 'vcm_mmu_init: driver needs deactivate or deactivatePage'],
  ])('EINVAL with a warning: %s', (_name, driver, message) => {
    const { kernel } = kernelRig();
    const env: VcmEnv = { kernel, pages: new BuddyAllocator(DRAM_BASE, MiB) };
    expect(thrown(() => vcmMmuInit({ env, start: VA, size: MiB, driver: driver as VcmMmuDriver })).errnoName).toBe('EINVAL');
    expect(kernel.messages('vcm', 'warn')).toEqual([message]);
  });

  test('EINVAL with a warning: address space not page aligned (vcm_init)', () => {
    const { kernel } = kernelRig();
    const env: VcmEnv = { kernel, pages: new BuddyAllocator(DRAM_BASE, MiB) };
    expect(thrown(() => vcmMmuInit({ env, start: VA + 0x10, size: MiB, driver: fakeVcmDriver() })).errnoName).toBe('EINVAL');
    expect(kernel.warnings).toBe(1);
  });

  test('activate + deactivatePage is a valid combination', () => {
    const { kernel } = kernelRig();
    const env: VcmEnv = { kernel, pages: new BuddyAllocator(DRAM_BASE, MiB) };
    expect(() => vcmMmuInit({ env, start: VA, size: MiB, driver: { orders: [0], activate: () => 0, deactivatePage: () => 0 } })).not.toThrow();
  });
});

describe('MMU wrapper reservations and memory', () => {
  test('reservations are aligned to the largest supported page that fits their size', () => {
    const { mmu } = rig();
    const small = vcmReserve(mmu, 4 * KiB, 0);
    const mid = vcmReserve(mmu, 68 * KiB, 0);
    const big = vcmReserve(mmu, MiB + 4 * KiB, 0);
    expect(small.start).toBe(VA);
    expect(mid.start).toBe(VA + 64 * KiB);
    expect(big.start).toBe(VA + MiB);
    expect(big.resSize).toBe(MiB + 4 * KiB);
  });

  test('a reservation may fill the whole context (mm/vcm.c over-allocates size + alignment and cannot)', () => {
    const { mmu } = rig({}, MiB);
    const res = vcmReserve(mmu, MiB, 0);
    expect(res.start).toBe(VA);
    expect(thrown(() => vcmReserve(mmu, 4 * KiB, 0)).errnoName).toBe('ENOSPC');
  });

  test('if no aligned range is free, a smaller supported alignment is used', () => {
    const { mmu } = rig({}, 2 * MiB);
    vcmReserve(mmu, 4 * KiB, 0);
    const res = vcmReserve(mmu, MiB + 512 * KiB, 0);
    expect(res.start).toBe(VA + 64 * KiB);
  });

  test('ENOSPC when the address space is exhausted; unreserve gives it back', () => {
    const { mmu } = rig({}, 2 * MiB);
    const a = vcmReserve(mmu, MiB, 0);
    vcmReserve(mmu, MiB, 0);
    const err = thrown(() => vcmReserve(mmu, 4 * KiB, 0));
    expect(err.errnoName).toBe('ENOSPC');
    expect(err.errno).toBe(-Errno.ENOSPC);
    vcmUnreserve(a);
    expect(vcmReserve(mmu, MiB, 0).start).toBe(VA);
  });

  test('address 0 can start a context and a reservation', () => {
    const { mmu } = rig({}, MiB, 0);
    expect(vcmReserve(mmu, 4 * KiB, 0).start).toBe(0);
  });

  test('memory is allocated in the MMU page orders; ENOMEM when there is not enough', () => {
    const { mmu, env } = rig();
    const phys = vcmAlloc(mmu, 2 * MiB + 68 * KiB, 0);
    expect(phys.parts.map((p) => p.size)).toEqual([MiB, MiB, 64 * KiB, 4 * KiB]);
    expect(thrown(() => vcmAlloc(mmu, 128 * MiB, 0)).errnoName).toBe('ENOMEM');
    const free = env.pages.freePageCount;
    const res = vcmMakeBinding(mmu, MiB, 0, 0);
    expect(env.pages.freePageCount).toBe(free - 256);
    vcmDestroyBinding(res);
    expect(env.pages.freePageCount).toBe(free);
  });
});

describe('MMU wrapper activation', () => {
  test('nothing reaches the hardware before activation; activation writes every bound reservation', () => {
    const { mmu, hw } = rig();
    const a = vcmMakeBinding(mmu, MiB, 0, 0);
    const b = vcmMakeBinding(mmu, 68 * KiB, 0, 0);
    vcmReserve(mmu, MiB, 0); // unbound: not written
    expect(hw.calls).toEqual([]);
    expect(vcmActivate(mmu)).toBe(0);
    expect(hw.ops('activatePage').map((c) => [c.vaddr, c.order])).toEqual([[a.start, 8], [b.start, 4], [b.start + 64 * KiB, 0]]);
    expect(hw.translate(a.start + 0x1234)).toBe(a.phys!.parts[0].start + 0x1234);
    expect(hw.translate(b.start + 64 * KiB)).toBe(b.phys!.parts[1].start);
    // Counted: a second activation does not write again.
    expect(vcmActivate(mmu)).toBe(0);
    expect(hw.ops('activatePage')).toHaveLength(3);
    vcmDeactivate(mmu);
    expect(hw.hw.size).toBe(3);
  });

  test('bindings made while active go straight to the hardware; unbinding removes them', () => {
    const { mmu, hw } = rig();
    expect(vcmActivate(mmu)).toBe(0);
    const res = vcmMakeBinding(mmu, MiB, 0, 0);
    expect(hw.translate(res.start)).toBe(res.phys!.parts[0].start);
    const r2 = vcmReserve(mmu, MiB, 0);
    const p2 = vcmAlloc(mmu, MiB, 0);
    expect(vcmBind(r2, p2)).toBe(0);
    expect(hw.translate(r2.start)).toBe(p2.parts[0].start);
    const mapped = vcmMap(mmu, res.phys!, 0); // the same memory at a second address
    expect(hw.translate(mapped.start)).toBe(res.phys!.parts[0].start);
    vcmUnmap(mapped);
    expect(hw.translate(mapped.start)).toBeNull();
    expect(vcmUnbind(r2)).toBe(p2);
    expect(hw.translate(r2.start)).toBeNull();
    expect(hw.hw.size).toBe(1);
  });

  test('the last deactivate removes every binding through deactivatePage (mm/vcm.c calls driver->deactivate, which a page driver lacks)', () => {
    const { mmu, hw, env } = rig();
    vcmMakeBinding(mmu, 2 * MiB + 68 * KiB, 0, 0);
    vcmMakeBinding(mmu, 4 * KiB, 0, 0);
    expect(vcmActivate(mmu)).toBe(0);
    expect(hw.hw.size).toBe(5);
    vcmDeactivate(mmu);
    expect(hw.hw.size).toBe(0);
    expect(hw.ops('deactivatePage').every((c) => c.ok)).toBe(true);
    expect(mmu.activated).toBe(false);
    // Inactive again: new bindings stay out of the hardware.
    vcmMakeBinding(mmu, 4 * KiB, 0, 0);
    expect(hw.hw.size).toBe(0);
    expect(env.kernel.warnings).toBe(0);
  });

  test('a failed activation rolls back exactly what was written and returns the error (mm/vcm.c: inverted check)', () => {
    const { mmu, hw, env } = rig();
    const a = vcmMakeBinding(mmu, MiB, 0, 0); // 1 page
    const b = vcmMakeBinding(mmu, 68 * KiB, 0, 0); // 2 pages: the 3rd call fails
    vcmMakeBinding(mmu, 4 * KiB, 0, 0); // never written
    hw.failActivateAt = 3;
    expect(vcmActivate(mmu)).toBe(-Errno.ENOMEM);
    expect(hw.hw.size).toBe(0);
    expect(hw.ops('activatePage').map((c) => [c.vaddr, c.ok])).toEqual([[a.start, true], [b.start, true], [b.start + 64 * KiB, false]]);
    // b's first page (page walk recovery), then all of a (wrapper rollback).
    expect(hw.ops('deactivatePage').map((c) => c.vaddr)).toEqual([b.start, a.start]);
    expect(mmu.activations).toBe(0);
    expect(mmu.activated).toBe(false);
    // Not active: an unbalanced deactivate warns, and activation can be retried.
    vcmDeactivate(mmu);
    expect(env.kernel.messages('vcm', 'warn')).toEqual([`vcm_deactivate: context ${'0x' + VA.toString(16)} is not active`]);
    hw.failActivateAt = null;
    expect(vcmActivate(mmu)).toBe(0);
    expect(hw.hw.size).toBe(4);
  });

  test('a failure on the first binding writes nothing and rolls back nothing', () => {
    const { mmu, hw } = rig({ failActivateAt: 1, failErrno: -Errno.EBUSY });
    vcmMakeBinding(mmu, MiB, 0, 0);
    vcmMakeBinding(mmu, MiB, 0, 0);
    expect(vcmActivate(mmu)).toBe(-Errno.EBUSY);
    expect(hw.ops('activatePage')).toHaveLength(1);
    expect(hw.ops('deactivatePage')).toHaveLength(0);
  });

  test('a binding that fails in the hardware while active is not recorded', () => {
    const { mmu, hw, env } = rig();
    expect(vcmActivate(mmu)).toBe(0);
    const res = vcmReserve(mmu, 68 * KiB, 0);
    const phys = vcmAlloc(mmu, 68 * KiB, 0);
    hw.failActivateAt = 2;
    expect(vcmBind(res, phys)).toBe(-Errno.ENOMEM);
    expect(res.phys).toBeNull();
    expect(phys.bindings).toBe(0);
    expect(mmu.boundRes).toEqual([]);
    expect(hw.hw.size).toBe(0); // the first page was rolled back
    // vcm_make_binding releases both on the same failure.
    hw.failActivateAt = 3;
    const free = env.pages.freePageCount;
    const avail = mmu.pool.avail();
    expect(thrown(() => vcmMakeBinding(mmu, MiB, 0, 0)).errnoName).toBe('ENOMEM');
    expect(env.pages.freePageCount).toBe(free);
    expect(mmu.pool.avail()).toBe(avail);
  });

  test('a driver with whole-binding activate/deactivate gets one call per binding', () => {
    const { mmu, hw } = rig({ mode: 'whole' });
    const res = vcmMakeBinding(mmu, 2 * MiB, 0, 0);
    expect(vcmActivate(mmu)).toBe(0);
    expect(hw.ops('activate')).toEqual([{ op: 'activate', vaddr: res.start, paddr: res.phys!.parts[0].start, order: -1, size: 2 * MiB, ok: true }]);
    vcmDeactivate(mmu);
    expect(hw.ops('deactivate')).toHaveLength(1);
    expect(hw.hw.size).toBe(0);
  });

  test('destroying an active context warns, clears the hardware and calls the driver cleanup', () => {
    const { mmu, hw, env } = rig();
    vcmMakeBinding(mmu, MiB, 0, 0);
    expect(vcmActivate(mmu)).toBe(0);
    vcmDestroy(mmu);
    expect(hw.hw.size).toBe(0);
    expect(hw.ops('cleanup')).toHaveLength(1);
    expect(env.kernel.warnings).toBe(1);
    expect(env.kernel.messages('vcm', 'warn')[0]).toMatch(/^vcm_destroy: context 0x10000000 destroyed while active/);
  });

  test('a 1 MiB reservation is 1 MiB aligned even after a small one, so 1 MiB of memory maps with one entry', () => {
    const { mmu, hw } = rig();
    vcmReserve(mmu, 4 * KiB, 0); // pushes the next reservation off the context start
    const res = vcmMakeBinding(mmu, MiB, 0, 0);
    expect(vcmActivate(mmu)).toBe(0);
    expect(hw.ops('activatePage').map((c) => c.order)).toEqual([8]);
    expect(res.start % MiB).toBe(0);
  });

  test('a page the hardware fails to unmap is reported as a kernel error', () => {
    const { kernel } = kernelRig();
    const env: VcmEnv = { kernel, pages: new BuddyAllocator(DRAM_BASE, 4 * MiB) };
    const mmu = vcmMmuInit({ env, start: VA, size: 4 * MiB, driver: { orders: [0], activatePage: () => 0, deactivatePage: () => -Errno.EIO } });
    vcmMakeBinding(mmu, 8 * KiB, 0, 0);
    expect(vcmActivate(mmu)).toBe(0);
    vcmDeactivate(mmu);
    expect(kernel.messages('vcm', 'err')).toEqual(['vcm_mmu: deactivating 0x10000000 failed (-5)']);
  });
});
