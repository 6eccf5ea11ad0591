/**
 * Virtual Contiguous Memory (include/linux/vcm.h, include/linux/vcm-drv.h,
 * Documentation/virtual-contiguous-memory.txt): the public API of drivers/vcm.
 */
export * from './types';
export {
  vcmDestroy, vcmMakeBinding, vcmDestroyBinding, vcmAlloc, vcmFree, vcmReserve, vcmUnreserve,
  vcmBind, vcmUnbind, vcmMap, vcmUnmap, vcmActivate, vcmDeactivate, vcmInit,
} from './vcm';
export { vcmPhysAlloc, vcmPhysWalk, vcmOrdersProblem } from './phys';
export { vcmMmuInit, type VcmMmu, type VcmMmuInit } from './mmu';
export { vcmO2oInit, vcmO2oCreate, vcmO2oRegionDriver, type VcmO2o, type VcmO2oInit } from './o2o';
