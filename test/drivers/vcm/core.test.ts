import { Errno, KernelError } from '../../../drivers/errno';
import type { Kernel } from '../../../drivers/kernel';
import {
  vcmActivate, vcmAlloc, vcmBind, vcmDeactivate, vcmDestroy, vcmDestroyBinding, vcmFree, vcmInit,
  vcmMakeBinding, vcmMap, vcmReserve, vcmUnbind, vcmUnmap, vcmUnreserve,
} from '../../../drivers/vcm';
import type { Vcm, VcmDriver, VcmPhys, VcmRes } from '../../../drivers/vcm';
import { kernelRig } from '../../helpers/kernelRig';

const MiB = 1024 * 1024;

function thrown(f: () => unknown): KernelError {
  try {
    f();
  } catch (e) {
    if (e instanceof KernelError) return e;
    throw e;
  }
  throw new Error('did not throw');
}

/** A toy core driver (document, "Writing a core VCM driver") that logs every operation. */
function toyVcm(over: Partial<VcmDriver> = {}): { vcm: Vcm; kernel: Kernel; log: string[] } {
  const { kernel } = kernelRig();
  const log: string[] = [];
  let nextRes = 0x1000_0000;
  let nextPhys = 0x8000_0000;
  const driver: VcmDriver = {
    res(vcm, size) {
      log.push(`res ${size}`);
      const r: VcmRes = { start: nextRes, resSize: size, boundSize: 0, vcm, phys: null };
      nextRes += size;
      return r;
    },
    phys(_vcm, size) {
      log.push(`phys ${size}`);
      const p: VcmPhys = { count: 1, size, bindings: 0, parts: [{ start: nextPhys, size }], free: (x) => { log.push(`free ${x.size}`); } };
      nextPhys += size;
      return p;
    },
    bind(res, phys) {
      log.push(`bind ${res.phys === null} ${phys.bindings}`);
      return 0;
    },
    unbind(res) {
      log.push(`unbind ${res.phys !== null}`);
    },
    unreserve() {
      log.push('unreserve');
    },
    activate() {
      log.push('activate');
      return 0;
    },
    deactivate() {
      log.push('deactivate');
    },
    cleanup() {
      log.push('cleanup');
    },
    ...over,
  };
  const vcm = vcmInit<Vcm>({ start: 0x1000_0000, size: 256 * MiB, activations: 7, driver, kernel });
  return { vcm, kernel, log };
}

describe('vcm_bind / vcm_unbind (vcm.h)', () => {
  test('binding records the memory: res.phys, res.boundSize, phys.bindings (mm/vcm.c records none of them)', () => {
    const { vcm, kernel, log } = toyVcm();
    const res = vcmReserve(vcm, 2 * MiB, 0);
    const phys = vcmAlloc(vcm, MiB, 0);
    expect(vcmBind(res, phys)).toBe(0);
    expect(log).toContain('bind true 1'); // the driver sees an unbound res and the counted binding
    expect(res.phys).toBe(phys);
    expect(res.boundSize).toBe(MiB);
    expect(phys.bindings).toBe(1);
    expect(kernel.warnings).toBe(0);
  });

  test('a driver WITH a bind operation is used; one WITHOUT gives -EOPNOTSUPP (mm/vcm.c has the check inverted)', () => {
    const { vcm } = toyVcm({ bind: undefined });
    const res = vcmReserve(vcm, MiB, 0);
    const phys = vcmAlloc(vcm, MiB, 0);
    expect(vcmBind(res, phys)).toBe(-Errno.EOPNOTSUPP);
    expect(res.phys).toBeNull();
    expect(phys.bindings).toBe(0);
  });

  test('-EALREADY for the same memory, -EADDRINUSE for other memory, -ENOSPC for memory larger than the reservation', () => {
    const { vcm } = toyVcm();
    const res = vcmReserve(vcm, MiB, 0);
    const a = vcmAlloc(vcm, MiB, 0);
    const b = vcmAlloc(vcm, 4096, 0);
    const big = vcmAlloc(vcm, 2 * MiB, 0);
    expect(vcmBind(vcmReserve(vcm, MiB, 0), big)).toBe(-Errno.ENOSPC);
    expect(vcmBind(res, a)).toBe(0);
    expect(vcmBind(res, a)).toBe(-Errno.EALREADY);
    expect(vcmBind(res, b)).toBe(-Errno.EADDRINUSE);
    expect(a.bindings).toBe(1);
    expect(b.bindings).toBe(0);
    expect(big.bindings).toBe(0);
  });

  test("the driver's bind error is returned and nothing is recorded", () => {
    const { vcm } = toyVcm({ bind: () => -Errno.ENOMEM });
    const res = vcmReserve(vcm, MiB, 0);
    const phys = vcmAlloc(vcm, MiB, 0);
    expect(vcmBind(res, phys)).toBe(-Errno.ENOMEM);
    expect(res.phys).toBeNull();
    expect(res.boundSize).toBe(0);
    expect(phys.bindings).toBe(0);
  });

  test('unbind returns the memory and calls the driver while res.phys is still set', () => {
    const { vcm, log } = toyVcm();
    const res = vcmReserve(vcm, MiB, 0);
    const phys = vcmAlloc(vcm, MiB, 0);
    expect(vcmBind(res, phys)).toBe(0);
    expect(vcmUnbind(res)).toBe(phys);
    expect(log).toContain('unbind true');
    expect(res.phys).toBeNull();
    expect(res.boundSize).toBe(0);
    expect(phys.bindings).toBe(0);
  });

  test('unbinding an unbound reservation returns null with a warning', () => {
    const { vcm, kernel } = toyVcm();
    const res = vcmReserve(vcm, MiB, 0);
    expect(vcmUnbind(res)).toBeNull();
    expect(kernel.warnings).toBe(1);
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_unbind: nothing bound to reservation 0x10000000']);
  });

  test('a driver without unbind: unbinding is a no-op for the driver', () => {
    const { vcm, kernel } = toyVcm({ unbind: undefined });
    const res = vcmMakeBinding(vcm, MiB, 0, 0);
    expect(vcmUnbind(res)).not.toBeNull();
    expect(kernel.warnings).toBe(0);
  });
});

describe('vcm_free / vcm_unreserve / vcm_destroy_binding (vcm.h)', () => {
  test('freeing bound memory warns and does not free it; once unbound it is freed', () => {
    const { vcm, kernel, log } = toyVcm();
    const res = vcmMakeBinding(vcm, MiB, 0, 0);
    vcmFree(res.phys!);
    expect(log).not.toContain(`free ${MiB}`);
    expect(kernel.warnings).toBe(1);
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_free: physical memory still bound to 1 reservation(s); not freed']);
    const phys = vcmUnbind(res)!;
    vcmFree(phys);
    expect(log).toContain(`free ${MiB}`);
    vcmFree(phys);
    expect(kernel.messages('vcm', 'warn')[1]).toBe('vcm_free: physical memory already freed');
    expect(log.filter((l) => l.startsWith('free'))).toHaveLength(1);
  });

  test('unreserving a bound reservation warns, unbinds it, then unreserves', () => {
    const { vcm, kernel, log } = toyVcm();
    const res = vcmMakeBinding(vcm, MiB, 0, 0);
    const phys = res.phys!;
    log.length = 0;
    vcmUnreserve(res);
    expect(log).toEqual(['unbind true', 'unreserve']);
    expect(phys.bindings).toBe(0);
    expect(kernel.warnings).toBe(1);
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_unreserve: reservation 0x10000000 still bound; unbinding']);
  });

  test('a second unreserve warns and does not reach the driver', () => {
    const { vcm, kernel, log } = toyVcm();
    const res = vcmReserve(vcm, MiB, 0);
    vcmUnreserve(res);
    vcmUnreserve(res);
    expect(log.filter((l) => l === 'unreserve')).toHaveLength(1);
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_unreserve: reservation 0x10000000 already released']);
    expect(vcmBind(res, vcmAlloc(vcm, MiB, 0))).toBe(-Errno.EINVAL);
  });

  test('a driver that lost its unreserve operation: vcm_unreserve warns', () => {
    const { vcm, kernel } = toyVcm();
    const res = vcmReserve(vcm, MiB, 0);
    (vcm.driver as Partial<VcmDriver>).unreserve = undefined;
    vcmUnreserve(res);
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_unreserve: driver has no unreserve operation']);
  });

  test('destroy_binding = unbind, free, unreserve, in that order', () => {
    const { vcm, kernel, log } = toyVcm();
    const res = vcmMakeBinding(vcm, MiB, 0, 0);
    log.length = 0;
    vcmDestroyBinding(res);
    expect(log).toEqual(['unbind true', `free ${MiB}`, 'unreserve']);
    expect(kernel.warnings).toBe(0);
  });
});

describe('vcm_make_binding / vcm_alloc / vcm_reserve (vcm.h)', () => {
  test('reserves, allocates and binds; the memory is res.phys', () => {
    const { vcm, log } = toyVcm();
    const res = vcmMakeBinding(vcm, MiB, 0, 0);
    expect(log).toEqual([`res ${MiB}`, `phys ${MiB}`, 'bind true 1']);
    expect(res.phys!.size).toBe(MiB);
    expect(res.vcm).toBe(vcm);
  });

  test('the size is aligned up to PAGE_SIZE as vcm.h documents (mm/vcm.c WARNs and returns -EINVAL)', () => {
    const { vcm, kernel } = toyVcm();
    const res = vcmMakeBinding(vcm, 4097, 0, 0);
    expect(res.resSize).toBe(8192);
    expect(res.phys!.size).toBe(8192);
    expect(vcmReserve(vcm, 1, 0).resSize).toBe(4096);
    expect(vcmAlloc(vcm, 4095, 0).size).toBe(4096);
    expect(kernel.warnings).toBe(0);
  });

  test('size 0 is EINVAL (with a warning for vcm_make_binding)', () => {
    const { vcm, kernel } = toyVcm();
    expect(thrown(() => vcmMakeBinding(vcm, 0, 0, 0)).errno).toBe(-Errno.EINVAL);
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_make_binding: size 0']);
    expect(thrown(() => vcmReserve(vcm, 0, 0)).errnoName).toBe('EINVAL');
    expect(thrown(() => vcmAlloc(vcm, 0, 0)).errnoName).toBe('EINVAL');
  });

  test('EOPNOTSUPP when the driver cannot reserve or cannot allocate', () => {
    expect(thrown(() => vcmReserve(toyVcm({ res: undefined }).vcm, MiB, 0)).errnoName).toBe('EOPNOTSUPP');
    expect(thrown(() => vcmAlloc(toyVcm({ phys: undefined }).vcm, MiB, 0)).errnoName).toBe('EOPNOTSUPP');
    expect(thrown(() => vcmMakeBinding(toyVcm({ phys: undefined }).vcm, MiB, 0, 0)).errnoName).toBe('EOPNOTSUPP');
  });

  test("the driver's ENOSPC / ENOMEM come through; a reservation made before a failed allocation is released", () => {
    const { vcm, log } = toyVcm({ phys: () => { throw new KernelError('ENOMEM', 'toy'); } });
    expect(thrown(() => vcmMakeBinding(vcm, MiB, 0, 0)).errnoName).toBe('ENOMEM');
    expect(log).toEqual([`res ${MiB}`, 'unreserve']);
    // vcm_alloc has no reservation to release (mm/vcm.c calls vcm_unreserve(NULL) here).
    log.length = 0;
    expect(thrown(() => vcmAlloc(vcm, MiB, 0)).errnoName).toBe('ENOMEM');
    expect(log).toEqual([]);
    const full = toyVcm({ res: () => { throw new KernelError('ENOSPC', 'toy'); } });
    expect(thrown(() => vcmReserve(full.vcm, MiB, 0)).errnoName).toBe('ENOSPC');
  });

  test('when binding fails, the reservation and the memory are released and the bind error is thrown', () => {
    const { vcm, log } = toyVcm({ bind: () => -Errno.EBUSY });
    expect(thrown(() => vcmMakeBinding(vcm, MiB, 0, 0)).errnoName).toBe('EBUSY');
    expect(log).toEqual([`res ${MiB}`, `phys ${MiB}`, 'unreserve', `free ${MiB}`]);
    expect(thrown(() => vcmMakeBinding(toyVcm({ bind: undefined }).vcm, MiB, 0, 0)).errnoName).toBe('EOPNOTSUPP');
  });

  test("the driver's alloc operation replaces res and phys; it gets null for what is not wanted", () => {
    const calls: string[] = [];
    let n = 0;
    const { vcm, log } = toyVcm({
      alloc(v, size, phys, _af, res, _rf) {
        calls.push(`alloc ${size} phys:${phys !== null} res:${res !== null}`);
        if (phys) phys.value = { count: 1, size, bindings: 5, parts: [{ start: 0x9000_0000 + n++ * size, size }], free: () => {} };
        if (res) res.value = { start: 0x2000_0000, resSize: size, boundSize: 9, vcm: v, phys: null };
        return 0;
      },
    });
    const both = vcmMakeBinding(vcm, MiB, 0, 0);
    expect(both.phys!.bindings).toBe(1); // reset to 0 by the core, then bound once
    vcmAlloc(vcm, MiB, 0);
    vcmReserve(vcm, MiB, 0);
    expect(calls).toEqual([`alloc ${MiB} phys:true res:true`, `alloc ${MiB} phys:true res:false`, `alloc ${MiB} phys:false res:true`]);
    expect(log.filter((l) => l.startsWith('res') || l.startsWith('phys'))).toEqual([]);
    const failing = toyVcm({ alloc: () => -Errno.ENOSPC });
    expect(thrown(() => vcmReserve(failing.vcm, MiB, 0)).errnoName).toBe('ENOSPC');
  });

  test('a driver with map but no alloc: make_binding uses phys + map and records the binding', () => {
    const { vcm, log } = toyVcm({
      map(v, phys) {
        log.push(`map ${phys.size}`);
        return { start: phys.parts[0].start, resSize: phys.size, boundSize: 0, vcm: v, phys: null };
      },
    });
    const res = vcmMakeBinding(vcm, MiB, 0, 0);
    expect(log).toEqual([`phys ${MiB}`, `map ${MiB}`]);
    expect(res.phys!.bindings).toBe(1);
    expect(res.boundSize).toBe(MiB);
    expect(res.vcm).toBe(vcm);
  });

  test('phys + map: a failed map frees the memory; a failed allocation throws its own error (mm/vcm.c returns an uninitialised pointer)', () => {
    const { vcm, log } = toyVcm({ map: () => { throw new KernelError('EBUSY', 'toy'); } });
    expect(thrown(() => vcmMakeBinding(vcm, MiB, 0, 0)).errnoName).toBe('EBUSY');
    expect(log).toEqual([`phys ${MiB}`, `free ${MiB}`]);
    const noMem = toyVcm({ map: () => { throw new Error('not reached'); }, phys: () => { throw new KernelError('ENOMEM', 'toy'); } });
    expect(thrown(() => vcmMakeBinding(noMem.vcm, MiB, 0, 0)).errnoName).toBe('ENOMEM');
  });
});

describe('vcm_map / vcm_unmap (vcm.h)', () => {
  test("with the driver's map operation the binding is recorded, so vcm_unmap does not warn (mm/vcm.c records nothing)", () => {
    const { vcm, kernel, log } = toyVcm({
      map(v, phys) {
        log.push('map');
        return { start: 0x3000_0000, resSize: phys.size, boundSize: 0, vcm: v, phys: null };
      },
    });
    const phys = vcmAlloc(vcm, MiB, 0);
    const res = vcmMap(vcm, phys, 0);
    expect(res.phys).toBe(phys);
    expect(phys.bindings).toBe(1);
    vcmFree(phys);
    expect(kernel.warnings).toBe(1); // still mapped
    vcmUnmap(res);
    expect(phys.bindings).toBe(0);
    expect(kernel.warnings).toBe(1);
    expect(log).toContain('unreserve');
  });

  test('without map: reserve + bind; the reservation is released if binding fails', () => {
    const { vcm, log } = toyVcm();
    const phys = vcmAlloc(vcm, MiB, 0);
    const res = vcmMap(vcm, phys, 0);
    expect(res.phys).toBe(phys);
    expect(log).toEqual([`phys ${MiB}`, `res ${MiB}`, 'bind true 1']);
    const failing = toyVcm({ bind: () => -Errno.ENOMEM });
    const p2 = vcmAlloc(failing.vcm, MiB, 0);
    expect(thrown(() => vcmMap(failing.vcm, p2, 0)).errnoName).toBe('ENOMEM');
    expect(failing.log).toContain('unreserve');
  });

  test('EOPNOTSUPP when the driver has neither map nor res + bind', () => {
    const phys: VcmPhys = { count: 1, size: MiB, bindings: 0, parts: [{ start: 0, size: MiB }], free: null };
    expect(thrown(() => vcmMap(toyVcm({ res: undefined }).vcm, phys, 0)).errnoName).toBe('EOPNOTSUPP');
    const noBind = toyVcm({ bind: undefined });
    expect(thrown(() => vcmMap(noBind.vcm, phys, 0)).errnoName).toBe('EOPNOTSUPP');
    expect(noBind.log).toContain('unreserve');
  });

  test('mapping freed memory is EINVAL with a warning', () => {
    const { vcm, kernel } = toyVcm();
    const phys = vcmAlloc(vcm, MiB, 0);
    vcmFree(phys);
    expect(thrown(() => vcmMap(vcm, phys, 0)).errnoName).toBe('EINVAL');
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_map: physical memory already freed']);
  });
});

describe('vcm_activate / vcm_deactivate / vcm_destroy (vcm.h)', () => {
  test('counted: only the first activate and the last deactivate reach the driver', () => {
    const { vcm, kernel, log } = toyVcm();
    expect(vcmActivate(vcm)).toBe(0);
    expect(vcmActivate(vcm)).toBe(0);
    expect(vcmActivate(vcm)).toBe(0);
    expect(vcm.activations).toBe(3);
    vcmDeactivate(vcm);
    vcmDeactivate(vcm);
    expect(log).toEqual(['activate']);
    vcmDeactivate(vcm);
    expect(log).toEqual(['activate', 'deactivate']);
    expect(vcmActivate(vcm)).toBe(0);
    expect(log).toEqual(['activate', 'deactivate', 'activate']);
    expect(kernel.warnings).toBe(0);
  });

  test('an unbalanced deactivate warns and does nothing', () => {
    const { vcm, kernel, log } = toyVcm();
    vcmDeactivate(vcm);
    expect(log).toEqual([]);
    expect(vcm.activations).toBe(0);
    expect(kernel.warnings).toBe(1);
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_deactivate: context 0x10000000 is not active']);
  });

  test('a failed activation returns the error and is not counted (the next call tries again)', () => {
    let fail = true;
    const { vcm, kernel, log } = toyVcm({ activate: () => { log.push('activate'); return fail ? -Errno.EBUSY : 0; } });
    expect(vcmActivate(vcm)).toBe(-Errno.EBUSY);
    expect(vcm.activations).toBe(0);
    fail = false;
    expect(vcmActivate(vcm)).toBe(0);
    expect(log).toEqual(['activate', 'activate']);
    vcmDeactivate(vcm);
    expect(kernel.warnings).toBe(0);
  });

  test('no activate/deactivate operations: a no-op without warnings', () => {
    const { vcm, kernel } = toyVcm({ activate: undefined, deactivate: undefined });
    expect(vcmActivate(vcm)).toBe(0);
    vcmDeactivate(vcm);
    expect(kernel.warnings).toBe(0);
  });

  test('destroying an active context warns, deactivates it and cleans up', () => {
    const { vcm, kernel, log } = toyVcm();
    expect(vcmActivate(vcm)).toBe(0);
    expect(vcmActivate(vcm)).toBe(0);
    vcmDestroy(vcm);
    expect(log).toEqual(['activate', 'deactivate', 'cleanup']);
    expect(kernel.warnings).toBe(1);
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_destroy: context 0x10000000 destroyed while active (2 activation(s))']);
  });

  test('destroying an active context whose driver has no deactivate (mm/vcm.c calls it anyway)', () => {
    const { vcm, kernel, log } = toyVcm({ deactivate: undefined });
    expect(vcmActivate(vcm)).toBe(0);
    vcmDestroy(vcm);
    expect(log).toEqual(['activate', 'cleanup']);
    expect(kernel.warnings).toBe(1);
  });

  test('destroying an inactive context: cleanup only, no warning', () => {
    const { vcm, kernel, log } = toyVcm();
    vcmDestroy(vcm);
    expect(log).toEqual(['cleanup']);
    expect(kernel.warnings).toBe(0);
  });
});

describe('vcm_init (vcm-drv.h)', () => {
  test('resets activations and returns the context', () => {
    const { vcm } = toyVcm();
    expect(vcm.activations).toBe(0);
  });

  test.each([
    ['size 0', { size: 0 }, 'vcm_init: size 0'],
    ['unaligned start', { start: 0x800 }, 'vcm_init: start 0x800 / size 0x100000 not page aligned'],
    ['unaligned size', { size: 4097 }, 'vcm_init: start 0x0 / size 0x1001 not page aligned'],
    ['no unreserve', { driver: {} }, 'vcm_init: driver has no unreserve'],
  ])('EINVAL with a warning: %s', (_name, over, message) => {
    const { kernel } = kernelRig();
    const vcm = { start: 0, size: MiB, activations: 0, driver: { unreserve: () => {} }, kernel, ...over } as Vcm;
    const err = thrown(() => vcmInit(vcm));
    expect(err.errnoName).toBe('EINVAL');
    expect(err.call).toBe('vcm_init');
    expect(kernel.warnings).toBe(1);
    expect(kernel.messages('vcm', 'warn')).toEqual([message]);
  });
});
