/**
 * Virtual Contiguous Memory core: mm/vcm.c "Devices API" and "VCM Drivers API", with the
 * behaviour documented in include/linux/vcm.h and Documentation/virtual-contiguous-memory.txt.
 * Where mm/vcm.c disagrees with that documentation we follow the documentation (each
 * place is marked "mm/vcm.c:" below and has a test in test/drivers/vcm/).
 *
 * Errors (DESIGN.md "Errors"): calls returning a pointer in C (vcmMakeBinding, vcmMap,
 * vcmAlloc, vcmReserve, vcmInit) throw a KernelError; int calls (vcmBind, vcmActivate)
 * return 0 or -errno; WARN_ON goes to `vcm.kernel.warn('vcm', ...)`.
 */
import { Errno, errFromRet, KernelError, type ErrnoName } from '../errno';
import type { Kernel } from '../kernel';
import { alignUp, ADDR_LIMIT, hex } from '../../sim/engine/addr';
import { PAGE_SIZE, type Vcm, type VcmFlags, type VcmOut, type VcmPhys, type VcmRes } from './types';

const SUBSYS = 'vcm';

/** WARN + error pointer: logs the warning and throws KernelError(name). */
function warnFail(kernel: Kernel, call: string, name: ErrnoName, why: string): never {
  kernel.warn(SUBSYS, `${call}: ${why}`);
  throw new KernelError(name, call, why);
}

/* Released objects, so a second release warns instead of corrupting an allocator
 * (in C it is a use-after-free). */
const freedPhys = new WeakSet<VcmPhys>();

/* ------------------------------ Devices API ------------------------------ */

/**
 * vcm_destroy() - destroys a VCM context (document, "Virtual Contiguous Memory context";
 * vcm.h vcm_activate: unpaired activations warn when the context is destroyed). An
 * active context is warned about and deactivated first; then the driver's cleanup runs.
 */
export function vcmDestroy(vcm: Vcm): void {
  if (vcm.activations) {
    vcm.kernel.warn(SUBSYS, `vcm_destroy: context ${hex(vcm.start)} destroyed while active (${vcm.activations} activation(s))`);
    vcm.activations = 0;
    // mm/vcm.c: calls driver->deactivate without checking it exists; it is optional.
    vcm.driver.deactivate?.(vcm);
  }
  vcm.driver.cleanup?.(vcm);
}

/**
 * __vcm_alloc_and_reserve(): the shared body of vcmAlloc, vcmReserve and vcmMakeBinding.
 * Uses the driver's alloc operation if present, else res and/or phys. Size 0 is EINVAL;
 * other sizes are rounded up to PAGE_SIZE.
 */
function allocAndReserve(vcm: Vcm, call: string, size: number, wantPhys: boolean, allocFlags: VcmFlags,
  wantRes: boolean, resFlags: VcmFlags): { phys: VcmPhys | null; res: VcmRes | null } {
  if (!Number.isInteger(size) || size <= 0 || size >= ADDR_LIMIT) throw new KernelError('EINVAL', call, `size ${size}`);
  size = alignUp(size, PAGE_SIZE);
  const drv = vcm.driver;
  let phys: VcmPhys | null = null;
  let res: VcmRes | null = null;

  // mm/vcm.c: `alloc` is uninitialised when the driver has no alloc operation.
  if (drv.alloc) {
    const physOut: VcmOut<VcmPhys> | null = wantPhys ? { value: null } : null;
    const resOut: VcmOut<VcmRes> | null = wantRes ? { value: null } : null;
    const ret = drv.alloc(vcm, size, physOut, allocFlags, resOut, resFlags);
    if (ret) throw errFromRet(ret, call);
    phys = physOut?.value ?? null;
    res = resOut?.value ?? null;
    if ((wantPhys && !phys) || (wantRes && !res)) warnFail(vcm.kernel, call, 'EINVAL', 'driver alloc succeeded without a result');
  } else {
    if ((wantRes && !drv.res) || (wantPhys && !drv.phys)) throw new KernelError('EOPNOTSUPP', call, 'driver cannot ' + (wantRes && !drv.res ? 'reserve' : 'allocate'));
    if (wantRes) res = drv.res!(vcm, size, resFlags);
    if (wantPhys) {
      try {
        phys = drv.phys!(vcm, size, allocFlags);
      } catch (e) {
        // mm/vcm.c: vcm_unreserve(*res) even when no reservation was requested (NULL).
        if (res) vcmUnreserve(initRes(res, vcm));
        throw e;
      }
    }
  }
  if (res) initRes(res, vcm);
  if (phys) {
    notePhys(phys, vcm.kernel);
    phys.bindings = 0;
    phys.count = phys.parts.length;
    if (!phys.free) vcm.kernel.warn(SUBSYS, `${call}: driver allocated memory without a free callback`);
  }
  return { phys, res };
}

function initRes(res: VcmRes, vcm: Vcm): VcmRes {
  res.released = false; // a driver may hand out a reservation object again
  res.boundSize = 0;
  res.vcm = vcm;
  res.phys = null;
  return res;
}

/** Records a binding made by the driver's map operation (the core's part of vcm_bind). */
function recordBinding(res: VcmRes, vcm: Vcm, phys: VcmPhys): VcmRes {
  res.released = false; // e.g. one-to-one: the same reservation each time its memory is mapped
  res.vcm = vcm;
  res.phys = phys;
  res.boundSize = phys.size;
  phys.bindings++;
  return res;
}

/**
 * vcm_make_binding() - allocates memory and binds it to newly reserved address space
 * (vcm.h; document, "Bindings"). `size` is rounded up to PAGE_SIZE. Uses the driver's
 * alloc (or res + phys) then vcmBind; a driver with map but no alloc gets phys + map
 * (document, "Binding"). The memory is `res.phys`. Throws KernelError: EINVAL (size 0),
 * EOPNOTSUPP (driver cannot), ENOSPC/ENOMEM (from the driver), or vcmBind's error.
 */
export function vcmMakeBinding(vcm: Vcm, size: number, allocFlags: VcmFlags, resFlags: VcmFlags): VcmRes {
  const call = 'vcm_make_binding';
  // mm/vcm.c: WARNs and fails with -EINVAL on a size that is not page aligned; vcm.h
  // says the size is "aligned up to a PAGE_SIZE" (allocAndReserve rounds it up).
  if (!size) warnFail(vcm.kernel, call, 'EINVAL', 'size 0');
  const drv = vcm.driver;
  if (drv.alloc || !drv.map) {
    const { phys, res } = allocAndReserve(vcm, call, size, true, allocFlags, true, resFlags);
    const ret = vcmBind(res!, phys!);
    if (!ret) return res!;
    res!.released = true;
    drv.unreserve(res!);
    freedPhys.add(phys!);
    phys!.free?.(phys!);
    throw errFromRet(ret, call);
  }
  // mm/vcm.c: on a phys failure returns ERR_CAST(res) with `res` uninitialised.
  const { phys } = allocAndReserve(vcm, call, size, true, allocFlags, false, 0);
  let res: VcmRes;
  try {
    res = drv.map(vcm, phys!, resFlags);
  } catch (e) {
    freedPhys.add(phys!);
    phys!.free?.(phys!);
    throw e;
  }
  return recordBinding(res, vcm, phys!);
}

/**
 * vcm_map() - reserves address space and binds `phys` to it (vcm.h; document,
 * "Mappings"). Uses the driver's map operation if present, else vcmReserve + vcmBind;
 * EOPNOTSUPP if neither is possible. The reservation may only work with this `phys`.
 * Throws KernelError.
 */
export function vcmMap(vcm: Vcm, phys: VcmPhys, flags: VcmFlags): VcmRes {
  const call = 'vcm_map';
  notePhys(phys, vcm.kernel);
  if (freedPhys.has(phys)) warnFail(vcm.kernel, call, 'EINVAL', 'physical memory already freed');
  if (vcm.driver.map) {
    // mm/vcm.c: returns the driver's reservation as is, so res->phys, res->vcm and
    // phys->bindings are never recorded and vcm_unmap() then warns (nothing bound).
    return recordBinding(vcm.driver.map(vcm, phys, flags), vcm, phys);
  }
  const res = vcmReserve(vcm, phys.size, flags);
  const ret = vcmBind(res, phys);
  if (!ret) return res;
  vcmUnreserve(res);
  throw errFromRet(ret, call);
}

/**
 * vcm_alloc() - allocates physical memory in the context of `vcm` (vcm.h; document,
 * "Physical memory"). `size` is rounded up to PAGE_SIZE. Throws KernelError: EINVAL
 * (size 0), EOPNOTSUPP (driver cannot allocate), ENOMEM (no memory).
 */
export function vcmAlloc(vcm: Vcm, size: number, flags: VcmFlags): VcmPhys {
  return allocAndReserve(vcm, 'vcm_alloc', size, true, flags, false, 0).phys!;
}

/**
 * vcm_reserve() - reserves `size` bytes (rounded up to PAGE_SIZE) of address space
 * (vcm.h; document, "Reservations"). Throws KernelError: EINVAL (size 0), EOPNOTSUPP
 * (driver cannot reserve, e.g. one-to-one), ENOSPC (address space exhausted).
 */
export function vcmReserve(vcm: Vcm, size: number, flags: VcmFlags): VcmRes {
  return allocAndReserve(vcm, 'vcm_reserve', size, false, 0, true, flags).res!;
}

/**
 * vcm_unreserve() - destroys a reservation (vcm.h; document, "Reservations"). Memory
 * still bound to it is unbound with a warning. A driver without unreserve warns.
 */
export function vcmUnreserve(res: VcmRes): void {
  const kernel = res.vcm.kernel;
  if (res.released) {
    kernel.warn(SUBSYS, `vcm_unreserve: reservation ${hex(res.start)} already released`);
    return;
  }
  if (res.phys) {
    kernel.warn(SUBSYS, `vcm_unreserve: reservation ${hex(res.start)} still bound; unbinding`);
    vcmUnbind(res);
  }
  const drv = res.vcm.driver as Partial<typeof res.vcm.driver>;
  if (!drv.unreserve) {
    kernel.warn(SUBSYS, 'vcm_unreserve: driver has no unreserve operation');
    return;
  }
  res.released = true;
  drv.unreserve(res);
}

/**
 * vcm_free() - frees physical memory (vcm.h; document, "Physical memory"). Memory still
 * bound to a reservation is not freed: a warning is issued and it leaks.
 */
export function vcmFree(phys: VcmPhys): void {
  // No context here: the kernel for the warning comes from the allocation.
  const kernel = physKernel.get(phys);
  if (phys.bindings) {
    kernel?.warn(SUBSYS, `vcm_free: physical memory still bound to ${phys.bindings} reservation(s); not freed`);
    return;
  }
  if (freedPhys.has(phys)) {
    kernel?.warn(SUBSYS, 'vcm_free: physical memory already freed');
    return;
  }
  freedPhys.add(phys);
  phys.free?.(phys);
}

/* Which kernel a phys belongs to (vcm_free has no context argument). Set by the core
 * whenever a phys passes through it. */
const physKernel = new WeakMap<VcmPhys, Kernel>();
function notePhys(phys: VcmPhys | null, kernel: Kernel): void {
  if (phys && !physKernel.has(phys)) physKernel.set(phys, kernel);
}

/**
 * vcm_bind() - binds `phys` to the reservation `res` (vcm.h; document, "Binding memory").
 * Returns 0, -EALREADY (`phys` already bound to `res`), -EADDRINUSE (other memory bound),
 * -ENOSPC (`phys` larger than the reservation), -EOPNOTSUPP (driver has no bind), or the
 * driver's error. Takes effect in hardware only while the context is active.
 */
export function vcmBind(res: VcmRes, phys: VcmPhys): number {
  notePhys(phys, res.vcm.kernel);
  if (res.released || freedPhys.has(phys)) {
    res.vcm.kernel.warn(SUBSYS, `vcm_bind: ${res.released ? 'reservation released' : 'physical memory freed'}`);
    return -Errno.EINVAL;
  }
  if (res.phys === phys) return -Errno.EALREADY;
  if (res.phys) return -Errno.EADDRINUSE;
  if (phys.size > res.resSize) return -Errno.ENOSPC;
  // mm/vcm.c: `if (res->vcm->driver->bind) return -EOPNOTSUPP;` (inverted), and on
  // success neither res->phys nor res->bound_size is recorded (the `if (ret)` is inverted).
  const bind = res.vcm.driver.bind;
  if (!bind) return -Errno.EOPNOTSUPP;
  phys.bindings++;
  const ret = bind.call(res.vcm.driver, res, phys);
  if (ret) {
    phys.bindings--;
    return ret;
  }
  res.phys = phys;
  res.boundSize = phys.size;
  return 0;
}

/**
 * vcm_unbind() - unbinds the memory from `res` and returns it (vcm.h; document,
 * "Binding memory"). Returns null with a warning if nothing was bound.
 */
export function vcmUnbind(res: VcmRes): VcmPhys | null {
  const phys = res.phys;
  if (!phys) {
    res.vcm.kernel.warn(SUBSYS, `vcm_unbind: nothing bound to reservation ${hex(res.start)}`);
    return null;
  }
  res.vcm.driver.unbind?.(res);
  phys.bindings--;
  res.phys = null;
  res.boundSize = 0;
  return phys;
}

/**
 * vcm_destroy_binding() - vcmUnbind, vcmFree, vcmUnreserve in one call (vcm.h; document,
 * "Bindings").
 */
export function vcmDestroyBinding(res: VcmRes): void {
  const phys = vcmUnbind(res);
  if (phys) vcmFree(phys);
  vcmUnreserve(res);
}

/** vcm_unmap() - vcmUnbind then vcmUnreserve (vcm.h; document, "Mappings"). */
export function vcmUnmap(res: VcmRes): void {
  vcmUnbind(res);
  vcmUnreserve(res);
}

/**
 * vcm_activate() - sends the bindings to the hardware (vcm.h; document, "Activating
 * mappings"). Counted: only the first call reaches the driver. Returns 0 or the driver's
 * -errno; a failed activation is not counted (mm/vcm.c counts it, so a later
 * vcm_activate() would return 0 with nothing in hardware).
 */
export function vcmActivate(vcm: Vcm): number {
  if (++vcm.activations !== 1 || !vcm.driver.activate) return 0;
  const ret = vcm.driver.activate(vcm);
  if (ret) vcm.activations--;
  return ret;
}

/**
 * vcm_deactivate() - pairs a vcmActivate (vcm.h; document, "Activating mappings"); the
 * last one reaches the driver. Without a matching vcmActivate: warning, no effect.
 */
export function vcmDeactivate(vcm: Vcm): void {
  if (!vcm.activations) {
    vcm.kernel.warn(SUBSYS, `vcm_deactivate: context ${hex(vcm.start)} is not active`);
    return;
  }
  if (--vcm.activations === 0) vcm.driver.deactivate?.(vcm);
}

/* ----------------------------- VCM Drivers API ---------------------------- */

/**
 * vcm_init() - validates and initialises a context a driver created (vcm-drv.h;
 * document, "Context creation"): `start` and `size` page aligned, `size` non-zero, the
 * range representable, a driver with unreserve. Sets `activations` to 0. Invalid
 * fields warn and throw KernelError(EINVAL).
 */
export function vcmInit<V extends Vcm>(vcm: V): V {
  const call = 'vcm_init';
  const bad =
    !Number.isInteger(vcm.start) || !Number.isInteger(vcm.size) || vcm.start < 0 ? 'start/size not integers' :
    !vcm.size || vcm.size < 0 ? 'size 0' :
    vcm.start % PAGE_SIZE || vcm.size % PAGE_SIZE ? `start ${hex(vcm.start)} / size ${hex(vcm.size)} not page aligned` :
    vcm.start + vcm.size > ADDR_LIMIT ? 'range beyond 2^53' :
    !vcm.driver ? 'no driver' :
    !(vcm.driver as Partial<Vcm['driver']>).unreserve ? 'driver has no unreserve' : '';
  if (bad) warnFail(vcm.kernel, call, 'EINVAL', bad);
  vcm.activations = 0;
  return vcm;
}

/** Internal: lets drivers in this folder register the kernel of memory they allocate. */
export function vcmNotePhys(phys: VcmPhys, kernel: Kernel): VcmPhys {
  notePhys(phys, kernel);
  return phys;
}
