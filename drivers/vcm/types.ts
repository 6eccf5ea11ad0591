import { POW2 } from '../../sim/engine/addr';
/**
 * Virtual Contiguous Memory types: include/linux/vcm.h and include/linux/vcm-drv.h
 * (reference: Documentation/virtual-contiguous-memory.txt, "Usage Overview" and
 * "Writing a VCM driver").
 *
 * Ownership, as in the kernel: a `Vcm` context is created by a driver-specific call
 * (`vcmMmuInit`, `vcmO2oInit`, or a core driver's own create + `vcmInit`) and destroyed
 * with `vcmDestroy`. Reservations (`VcmRes`) and physical allocations (`VcmPhys`) belong
 * to the caller that made them until they are released with the matching call.
 *
 * Fields marked "internal" are maintained by the VCM core; drivers may read them.
 */
import type { Kernel } from '../kernel';
import type { BuddyAllocator } from '../mm/buddy';

/** PAGE_SHIFT / PAGE_SIZE: the 4 KiB page, order 0. An order-n page is PAGE_SIZE * 2^n bytes. */
export const PAGE_SHIFT = 12;
export const PAGE_SIZE = 4096;

/** Bytes in a page of `order` (order 8 = 1 MiB). */
export function orderSize(order: number): number {
  return PAGE_SIZE * POW2[order];
}

/**
 * Allocation / reservation flags (`unsigned flags` in vcm.h). The reference leaves them
 * undocumented ("XXX FIXME: describe"); the core passes them to the driver unchanged and
 * the drivers in this folder ignore them.
 */
export type VcmFlags = number;
export const VCM_NO_FLAGS: VcmFlags = 0;

/**
 * The kernel services VCM needs, made explicit (in Linux they are globals): the kernel
 * log/warnings and the page allocator (`alloc_pages`/`free_pages`) used by vcmPhysAlloc.
 */
export interface VcmEnv {
  kernel: Kernel;
  pages: BuddyAllocator;
}

/** struct vcm_phys_part: one physically contiguous block (bytes). */
export interface VcmPhysPart {
  start: number;
  size: number;
}

/**
 * struct vcm_phys - allocated physical memory (vcm-drv.h).
 * `count` (= parts.length; 1 means physically contiguous) and `size` (total bytes) are
 * read only; `free` is the callback vcmFree uses (internal); `bindings` counts the
 * reservations this memory is bound to (internal).
 */
export interface VcmPhys {
  count: number;
  size: number;
  free: ((phys: VcmPhys) => void) | null;
  bindings: number;
  parts: VcmPhysPart[];
}

/**
 * struct vcm_res - a reserved, virtually contiguous address range (vcm.h).
 * `start` is the bus address as the device sees it; `boundSize` the bytes bound to it;
 * `resSize` the reserved size; `vcm` its context; `phys` the bound memory or null.
 * A driver's res/map operation sets `start` and `resSize`; the core fills the rest.
 */
export interface VcmRes {
  start: number;
  boundSize: number;
  resSize: number;
  /** Set by vcmUnreserve (core bookkeeping: a released reservation may not be used again). */
  released?: boolean;
  vcm: Vcm;
  phys: VcmPhys | null;
}

/**
 * struct vcm - a virtually contiguous memory context (vcm.h): the address space one
 * device (or MMU) sees. `start`/`size` bound it (page aligned); `activations` counts
 * vcmActivate calls not yet paired with vcmDeactivate (internal); `driver` implements it;
 * `kernel` is where warnings go.
 */
export interface Vcm {
  start: number;
  size: number;
  activations: number;
  driver: VcmDriver;
  kernel: Kernel;
}

/**
 * An out parameter (`struct vcm_phys **` / `struct vcm_res **` of the alloc operation):
 * the operation stores its result in `value`.
 */
export interface VcmOut<T> {
  value: T | null;
}

/**
 * struct vcm_driver - the core driver operations (vcm-drv.h; document, "Writing a core
 * VCM driver"). Every operation except `unreserve` is optional. Operations returning a
 * pointer in C return the object here and throw a KernelError on failure; int ones
 * return 0 or -errno. Sizes given to alloc/res/phys are non-zero multiples of PAGE_SIZE.
 */
export interface VcmDriver {
  /** Frees what context creation acquired (vcmDestroy). */
  cleanup?(vcm: Vcm): void;
  /**
   * Allocates physical memory and reserves address space in one step; if present, `res`
   * and `phys` are ignored. `phys` or `res` may be null (never both): then only the
   * other is wanted. Returns 0 or -errno.
   */
  alloc?(vcm: Vcm, size: number, phys: VcmOut<VcmPhys> | null, allocFlags: VcmFlags,
    res: VcmOut<VcmRes> | null, resFlags: VcmFlags): number;
  /** Reserves address space: must set `start` and `resSize`. Throws KernelError. */
  res?(vcm: Vcm, size: number, flags: VcmFlags): VcmRes;
  /** Allocates physical memory; must provide `free`. Throws KernelError. */
  phys?(vcm: Vcm, size: number, flags: VcmFlags): VcmPhys;
  /** Releases a reservation; required (vcmInit checks). */
  unreserve(res: VcmRes): void;
  /** Reserves and binds in one step (optional). Throws KernelError. */
  map?(vcm: Vcm, phys: VcmPhys, flags: VcmFlags): VcmRes;
  /** Binds `phys` to the unbound `res`; must reach the hardware if the context is active. */
  bind?(res: VcmRes, phys: VcmPhys): number;
  /** Removes the binding (`res.phys` is still set when called); absent = no-op. */
  unbind?(res: VcmRes): void;
  /** Called on the first vcmActivate only. Returns 0 or -errno. */
  activate?(vcm: Vcm): number;
  /** Called when the last activation is paired with vcmDeactivate. */
  deactivate?(vcm: Vcm): void;
}

/**
 * struct vcm_mmu_driver - what a hardware MMU driver implements to use the MMU wrapper
 * (vcm-drv.h; document, "Writing a hardware MMU driver"). The wrapper does reservations
 * (a genpool), physical allocation (vcmPhysAlloc with `orders`), the list of bound
 * reservations and activation; the driver only writes the hardware.
 *
 * - `orders`: page orders the MMU supports, strictly decreasing, last element 0 (4 KiB),
 *   e.g. [8, 4, 0] = 1 MiB, 64 KiB, 4 KiB pages. Required.
 * - `cleanup(vcm)`: called by vcmDestroy after the wrapper's own cleanup. Optional.
 * - `activate(res, phys)`: make `res.start .. + phys.size` map `phys` in the hardware;
 *   0 or -errno. Required unless both `activatePage` and `deactivatePage` are given; if
 *   present, `activatePage` is ignored.
 * - `deactivate(res, phys)`: undo `activate`. Required unless `deactivatePage` is given.
 * - `activatePage(vaddr, paddr, order, vcm)`: map one page of `order` (one of `orders`;
 *   `vaddr` and `paddr` both aligned to orderSize(order)); 0 or -errno. On failure the
 *   wrapper calls `deactivatePage` for exactly the pages of that reservation already
 *   mapped, in the same order.
 * - `deactivatePage(vaddr, paddr, order, vcm)`: unmap one page that `activatePage`
 *   mapped with the same arguments; 0 or -errno.
 *
 * The wrapper calls the hardware only while the context is active: on the first
 * vcmActivate for every bound reservation (rolling back those already written if one
 * fails), on vcmBind/vcmMap/vcmMakeBinding while active, on vcmUnbind while active, and
 * on the last vcmDeactivate for every bound reservation. Methods are called on the driver
 * object (`driver.activatePage(...)`), so a class instance works.
 */
export interface VcmMmuDriver {
  readonly orders: readonly number[];
  cleanup?(vcm: Vcm): void;
  activate?(res: VcmRes, phys: VcmPhys): number;
  deactivate?(res: VcmRes, phys: VcmPhys): void;
  activatePage?(vaddr: number, paddr: number, order: number, vcm: Vcm): number;
  deactivatePage?(vaddr: number, paddr: number, order: number, vcm: Vcm): number;
}

/**
 * struct vcm_o2o_driver - what a one-to-one driver implements (vcm-drv.h; document,
 * "Writing a one-to-one VCM driver"): contiguous memory management only.
 * - `alloc(vcm, part, flags)`: allocate `part.size` contiguous bytes and store the
 *   physical address in `part.start`; return any value (passed to `free` as `priv`);
 *   throw a KernelError on failure. Required.
 * - `free(part, priv)`: free what `alloc` allocated. Required.
 * - `cleanup(vcm)`: called by vcmDestroy. Optional.
 */
export interface VcmO2oDriver {
  cleanup?(vcm: Vcm): void;
  alloc(vcm: Vcm, part: VcmPhysPart, flags: VcmFlags): unknown;
  free(part: VcmPhysPart, priv: unknown): void;
}

/** vcm_phys_walk callback/recovery: `(vaddr, paddr, order, priv)` → 0 or -errno. */
export type VcmPageFn<P> = (vaddr: number, paddr: number, order: number, priv: P) => number;
