/**
 * The hardware MMU wrapper: vcm_mmu_init() and struct vcm_mmu (include/linux/vcm-drv.h,
 * CONFIG_VCM_MMU; mm/vcm.c "Hardware MMU wrapper"; document, "Writing a hardware MMU
 * driver"). It does the housekeeping (reservations in a genpool, physical allocation in
 * the MMU's page orders, the list of bound reservations, activation) and leaves writing
 * the hardware to a VcmMmuDriver (drivers/iommu/ implements one per MMU type).
 */
import { KernelError } from '../errno';
import { mmMisuseSink } from '../mm/misuse';
import { GenPool } from '../mm/genpool';
import { hex } from '../../sim/engine/addr';
import { vcmInit } from './vcm';
import { vcmOrdersProblem, vcmPhysAlloc, vcmPhysWalk } from './phys';
import {
  PAGE_SHIFT, PAGE_SIZE, type Vcm, type VcmDriver, type VcmEnv, type VcmFlags, type VcmMmuDriver,
  type VcmPhys, type VcmRes,
} from './types';

/** What a hardware driver's create function fills in before vcmMmuInit (vcm.start, vcm.size, driver). */
export interface VcmMmuInit {
  env: VcmEnv;
  start: number;
  size: number;
  driver: VcmMmuDriver;
}

/**
 * struct vcm_mmu - a VCM context on a hardware MMU. `mmuDriver` is the hardware driver
 * (`mmu->driver` in C; `driver` is the Vcm's operations, the wrapper's own). `pool`,
 * `boundRes` (bound reservations in bind order) and `activated` are internal.
 */
export interface VcmMmu extends Vcm {
  readonly env: VcmEnv;
  readonly mmuDriver: VcmMmuDriver;
  readonly pool: GenPool;
  readonly boundRes: VcmRes[];
  activated: boolean;
}

function mmuOf(vcm: Vcm): VcmMmu {
  return vcm as VcmMmu;
}

/** Writes one binding to the hardware: driver.activate, or activatePage per page (rolled back on failure). */
function hwActivate(res: VcmRes, phys: VcmPhys): number {
  const mmu = mmuOf(res.vcm);
  const d = mmu.mmuDriver;
  if (d.activate) return d.activate(res, phys);
  return vcmPhysWalk(res.start, phys, d.orders,
    (v, p, o, vcm) => d.activatePage!(v, p, o, vcm),
    (v, p, o, vcm) => d.deactivatePage!(v, p, o, vcm),
    res.vcm, mmu.kernel);
}

/** Removes one binding from the hardware: driver.deactivate, or deactivatePage per page. */
function hwDeactivate(res: VcmRes, phys: VcmPhys): void {
  const mmu = mmuOf(res.vcm);
  const d = mmu.mmuDriver;
  if (d.deactivate) {
    d.deactivate(res, phys);
    return;
  }
  const ret = vcmPhysWalk(res.start, phys, d.orders, (v, p, o, vcm) => d.deactivatePage!(v, p, o, vcm), null, res.vcm, mmu.kernel);
  if (ret < 0) mmu.kernel.err('vcm', `vcm_mmu: deactivating ${hex(res.start)} failed (${ret})`);
}

/**
 * The reservation: the largest supported order whose page fits in `size` gives the
 * alignment, so a 1 MiB reservation on an MMU with 1 MiB pages is 1 MiB aligned and a
 * 1 MiB physical block maps with one entry. If no range with that alignment is free,
 * smaller supported alignments are tried (mm/vcm.c allocates size + alignment - 4 KiB
 * and trims it, so it cannot, e.g., reserve a whole 1 MiB context); ENOSPC if none fits.
 */
function mmuRes(vcm: Vcm, size: number, _flags: VcmFlags): VcmRes {
  const mmu = mmuOf(vcm);
  const orders = mmu.mmuDriver.orders;
  let i = orders.findIndex((o) => PAGE_SIZE * 2 ** o <= size);
  for (; i < orders.length; i++) {
    const addr = mmu.pool.alloc(size, PAGE_SHIFT + orders[i]);
    if (addr !== null) return { start: addr, resSize: size, boundSize: 0, vcm, phys: null, released: false };
  }
  throw new KernelError('ENOSPC', 'vcm_reserve', `${size} bytes in [${hex(vcm.start)}, ${hex(vcm.start + vcm.size)})`);
}

const MMU_OPS: VcmDriver = {
  cleanup(vcm: Vcm): void {
    mmuOf(vcm).mmuDriver.cleanup?.(vcm);
  },
  res: mmuRes,
  phys(vcm: Vcm, size: number, flags: VcmFlags): VcmPhys {
    const mmu = mmuOf(vcm);
    return vcmPhysAlloc(mmu.env, size, flags, mmu.mmuDriver.orders);
  },
  /** While active, a new binding goes straight to the hardware. */
  bind(res: VcmRes, phys: VcmPhys): number {
    const mmu = mmuOf(res.vcm);
    if (mmu.activated) {
      const ret = hwActivate(res, phys);
      if (ret) return ret;
    }
    mmu.boundRes.push(res);
    return 0;
  },
  unbind(res: VcmRes): void {
    const mmu = mmuOf(res.vcm);
    if (mmu.activated && res.phys) hwDeactivate(res, res.phys);
    const i = mmu.boundRes.indexOf(res);
    if (i >= 0) mmu.boundRes.splice(i, 1);
  },
  unreserve(res: VcmRes): void {
    mmuOf(res.vcm).pool.free(res.start, res.resSize);
  },
  /**
   * Writes every bound reservation to the hardware; if one fails, the ones already
   * written are removed again and the error is returned (mm/vcm.c: the check is
   * inverted: it rolls back after the first *success* and continues after failures).
   */
  activate(vcm: Vcm): number {
    const mmu = mmuOf(vcm);
    for (let i = 0; i < mmu.boundRes.length; i++) {
      const r = mmu.boundRes[i];
      const ret = hwActivate(r, r.phys!);
      if (ret >= 0) continue;
      for (let j = 0; j < i; j++) hwDeactivate(mmu.boundRes[j], mmu.boundRes[j].phys!);
      return ret;
    }
    mmu.activated = true;
    return 0;
  },
  /** Removes every bound reservation from the hardware (mm/vcm.c calls driver->deactivate even when only deactivate_page exists). */
  deactivate(vcm: Vcm): void {
    const mmu = mmuOf(vcm);
    mmu.activated = false;
    for (const r of mmu.boundRes) hwDeactivate(r, r.phys!);
  },
};

/**
 * vcm_mmu_init() - validates `mmu` and makes it a VCM context (vcm-drv.h; document,
 * "Writing a hardware MMU driver"): `start`/`size` page aligned and non-zero, `orders`
 * strictly decreasing and ending in 0, `activate` or both page operations, `deactivate`
 * or `deactivatePage`. Invalid values warn and throw KernelError(EINVAL). Addresses
 * [start, start + size) become the reservation pool.
 */
export function vcmMmuInit(mmu: VcmMmuInit): VcmMmu {
  const call = 'vcm_mmu_init';
  const kernel = mmu.env.kernel;
  const d = mmu.driver;
  const bad =
    !d ? 'no driver' :
    vcmOrdersProblem(d.orders) ||
    (!(d.activate || (d.activatePage && d.deactivatePage)) ? 'driver needs activate or activatePage + deactivatePage' :
    !(d.deactivate || d.deactivatePage) ? 'driver needs deactivate or deactivatePage' : '');
  if (bad) {
    kernel.warn('vcm', `${call}: ${bad}`);
    throw new KernelError('EINVAL', call, bad);
  }
  const ctx: VcmMmu = vcmInit<VcmMmu>({
    start: mmu.start,
    size: mmu.size,
    activations: 0,
    driver: MMU_OPS,
    kernel,
    env: mmu.env,
    mmuDriver: d,
    pool: new GenPool(PAGE_SHIFT, 'first-fit-aligned'),
    boundRes: [],
    activated: false,
  });
  ctx.pool.addChunk(ctx.start, ctx.size);
  ctx.pool.misuse.sink = mmMisuseSink(kernel, kernel.soc.ctx.stats, 'genpool');
  return ctx;
}
