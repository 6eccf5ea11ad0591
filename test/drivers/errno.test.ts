import { Errno, errFromRet, errnoName, KernelError, unwrapErrPtr, type ErrnoName } from '../../drivers/errno';

const NAMES = Object.keys(Errno) as ErrnoName[];

describe('errno conversions (drivers/errno.ts)', () => {
  test.each(NAMES)('%s: int → KernelError → int keeps name and value', (name) => {
    const ret = -Errno[name];
    const err = errFromRet(ret, 'some_call', 'why');
    expect(err).toBeInstanceOf(KernelError);
    expect(err.errnoName).toBe(name);
    expect(err.errno).toBe(ret);
    expect(err.call).toBe('some_call');
    expect(err.message).toBe(`some_call: ${name} (why)`);
    // And back again: the error's int is the same errno.
    expect(errFromRet(new KernelError(name, 'x').errno, 'x').errnoName).toBe(name);
    expect(errnoName(err.errno)).toBe(name);
  });

  test('ERR_PTR results: the object passes, a negative errno throws its KernelError', () => {
    const obj = { a: 1 };
    expect(unwrapErrPtr(obj, 'nvkm_vmm_new')).toBe(obj);
    let err: unknown = null;
    try {
      unwrapErrPtr<{ a: number }>(-Errno.ENOSPC, 'nvkm_vmm_get', 'buf');
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(KernelError);
    expect(err).toMatchObject({ errnoName: 'ENOSPC', errno: -28, call: 'nvkm_vmm_get', message: 'nvkm_vmm_get: ENOSPC (buf)' });
  });

  test('a value that is no negative known errno is EIO naming it (a driver bug, not a lost error)', () => {
    expect(errFromRet(-999, 'drv_op')).toMatchObject({ errnoName: 'EIO', message: 'drv_op: EIO (returned -999)' });
    expect(errFromRet(12, 'drv_op', 'map')).toMatchObject({ errnoName: 'EIO', message: 'drv_op: EIO (map: returned 12)' });
  });
});
