/**
 * The one-to-one wrapper: vcm_o2o_init() and struct vcm_o2o (include/linux/vcm-drv.h,
 * CONFIG_VCM_O2O; mm/vcm.c "One-to-One wrapper"; document, "Writing a one-to-one VCM
 * driver" and "One-to-One drivers"). For devices without an MMU: the device address is
 * the physical address, so a reservation exists only together with the contiguous memory
 * it maps. There are no page tables; activation is a no-op.
 *
 * What works: vcmMakeBinding / vcmDestroyBinding; vcmAlloc then vcmMap of that memory in
 * this context (once: a second vcmMap while mapped is EBUSY); vcmUnbind then vcmBind of
 * the same memory. What does not: vcmReserve (EOPNOTSUPP: no address space without
 * memory), vcmMap of memory allocated elsewhere (EOPNOTSUPP), vcmBind of other memory
 * (-EOPNOTSUPP).
 */
import { Errno, KernelError } from '../errno';
import type { Kernel } from '../kernel';
import type { ContiguousRegion } from '../mm/contiguous';
import { SimInvariantError } from '../../sim/engine/errors';
import { hex } from '../../sim/engine/addr';
import { vcmInit } from './vcm';
import { PAGE_SIZE, type Vcm, type VcmDriver, type VcmFlags, type VcmO2oDriver, type VcmPhys, type VcmPhysPart, type VcmRes } from './types';

/** What a one-to-one driver's create function fills in before vcmO2oInit. */
export interface VcmO2oInit {
  kernel: Kernel;
  start: number;
  size: number;
  driver: VcmO2oDriver;
}

/** struct vcm_o2o - a one-to-one VCM context; `o2oDriver` is `o2o->driver` in C. */
export interface VcmO2o extends Vcm {
  readonly o2oDriver: VcmO2oDriver;
}

/** struct vcm_o2o_binding: the memory and the one reservation that can map it. */
interface O2oBinding {
  priv: unknown;
  /** The reservation is in use (mapped); C keeps this in the inverted `dead` bit. */
  mapped: boolean;
  res: VcmRes;
  phys: VcmPhys;
}

const byPhys = new WeakMap<VcmPhys, O2oBinding>();
const byRes = new WeakMap<VcmRes, O2oBinding>();

function o2oOf(vcm: Vcm): VcmO2o {
  return vcm as VcmO2o;
}

const O2O_OPS: VcmDriver = {
  cleanup(vcm: Vcm): void {
    o2oOf(vcm).o2oDriver.cleanup?.(vcm);
  },

  /** Contiguous memory from the driver; its reservation is made with it (start = physical address). */
  phys(vcm: Vcm, size: number, flags: VcmFlags): VcmPhys {
    const d = o2oOf(vcm).o2oDriver;
    const part: VcmPhysPart = { start: 0, size };
    const priv = d.alloc(vcm, part, flags);
    const bad =
      !part.size || part.start % PAGE_SIZE || part.size % PAGE_SIZE ? `block ${hex(part.start)}+${part.size} not page aligned` :
      part.size < size ? `block of ${part.size} bytes for ${size} requested` :
      part.start < vcm.start || part.start + part.size > vcm.start + vcm.size ? `block ${hex(part.start)} outside the context` : '';
    if (bad) {
      // mm/vcm.c frees with b->priv, which is not yet set; we pass the alloc's value.
      vcm.kernel.warn('vcm', `vcm_o2o: driver alloc returned ${bad}`);
      d.free(part, priv);
      throw new KernelError('EINVAL', 'vcm_alloc', bad);
    }
    const phys: VcmPhys = {
      count: 1,
      size: part.size,
      bindings: 0,
      parts: [part],
      free: (p) => {
        const b = byPhys.get(p)!;
        d.free(p.parts[0], b.priv);
      },
    };
    const res: VcmRes = { start: part.start, resSize: part.size, boundSize: 0, vcm, phys: null, released: false };
    const b: O2oBinding = { priv, mapped: false, res, phys };
    byPhys.set(phys, b);
    byRes.set(res, b);
    return phys;
  },

  /** The reservation that belongs to `phys`; EBUSY if it is already mapped. */
  map(vcm: Vcm, phys: VcmPhys, _flags: VcmFlags): VcmRes {
    const b = byPhys.get(phys);
    if (!b || b.res.vcm !== vcm) throw new KernelError('EOPNOTSUPP', 'vcm_map', 'one-to-one context can map only memory allocated in it');
    if (b.mapped) throw new KernelError('EBUSY', 'vcm_map', `${hex(b.res.start)} already mapped`);
    b.mapped = true;
    return b.res;
  },

  /** Only the memory the reservation was made for can be bound to it again. */
  bind(res: VcmRes, phys: VcmPhys): number {
    const b = byRes.get(res);
    if (!b || b.phys !== phys) return -Errno.EOPNOTSUPP;
    if (!b.mapped) {
      res.vcm.kernel.warn('vcm', `vcm_o2o: bind of unmapped reservation ${hex(res.start)}`);
      return -Errno.EINVAL;
    }
    return 0;
  },

  unreserve(res: VcmRes): void {
    const b = byRes.get(res);
    if (b) b.mapped = false;
  },
};

/**
 * vcm_o2o_init() - validates `o2o` and makes it a one-to-one VCM context (vcm-drv.h;
 * document, "Writing a one-to-one VCM driver"): a driver with alloc and free,
 * `start`/`size` page aligned and non-zero. Invalid values warn and throw
 * KernelError(EINVAL).
 */
export function vcmO2oInit(o2o: VcmO2oInit): VcmO2o {
  const d = o2o.driver as Partial<VcmO2oDriver> | undefined;
  if (!d || !d.alloc || !d.free) {
    const why = !d ? 'no driver' : 'driver needs alloc and free';
    o2o.kernel.warn('vcm', `vcm_o2o_init: ${why}`);
    throw new KernelError('EINVAL', 'vcm_o2o_init', why);
  }
  return vcmInit<VcmO2o>({
    start: o2o.start,
    size: o2o.size,
    activations: 0,
    driver: O2O_OPS,
    kernel: o2o.kernel,
    o2oDriver: o2o.driver,
  });
}

/**
 * A VcmO2oDriver that allocates from a contiguous (CMA-like) region: alloc is
 * cma_alloc (ENOMEM when no block fits), free is cma_release.
 */
export function vcmO2oRegionDriver(region: ContiguousRegion): VcmO2oDriver {
  return {
    alloc(_vcm: Vcm, part: VcmPhysPart, _flags: VcmFlags): unknown {
      const addr = region.alloc(part.size);
      if (addr === null) throw new KernelError('ENOMEM', 'vcm_alloc', `${part.size} contiguous bytes in ${region.name}`);
      part.start = addr;
      return region;
    },
    free(part: VcmPhysPart, _priv: unknown): void {
      if (!region.release(part.start, part.size)) {
        throw new SimInvariantError(`vcm_o2o: ${region.name} has no block ${hex(part.start)}+${part.size} to release`);
      }
    },
  };
}

/**
 * A one-to-one context whose memory comes from `region` (the document's
 * vcm_onetoone_create()). Its address space defaults to the region; a direct-mapped
 * device that sees more of physical memory can pass a wider [start, start + size).
 */
export function vcmO2oCreate(kernel: Kernel, region: ContiguousRegion, start = region.base, size = region.size): VcmO2o {
  return vcmO2oInit({ kernel, start, size, driver: vcmO2oRegionDriver(region) });
}
