/**
 * Linux errno values (include/uapi/asm-generic/errno-base.h and errno.h), the
 * KernelError that carries one, and the one way to convert between the two contracts
 * (DESIGN.md "Errors"): where the kernel returns an error pointer we throw a
 * KernelError; where it returns an int we return 0 or -errno.
 *
 *   int → KernelError      errFromRet(ret, call)         a failed int call, as an exception
 *   ERR_PTR → value/error  unwrapErrPtr(ptr, call)       `T | -errno` results (nvkmVmmNew, nvkmVmmGet)
 *   KernelError → int      err.errno                     PTR_ERR: the -errno an int call returns
 *
 * The errno name and value survive every conversion.
 */
export const Errno = {
  ENOENT: 2,
  EIO: 5,
  ENOMEM: 12,
  EFAULT: 14,
  EBUSY: 16,
  EEXIST: 17,
  ENODEV: 19,
  EINVAL: 22,
  ENOSPC: 28,
  ERANGE: 34,
  EOPNOTSUPP: 95,
  EADDRINUSE: 98,
  EALREADY: 114,
} as const;
export type ErrnoName = keyof typeof Errno;

const NAMES = new Map<number, ErrnoName>(Object.entries(Errno).map(([k, v]) => [v, k as ErrnoName]));

/** The name of a (positive or negative) errno value, e.g. errnoName(-28) === 'ENOSPC'. */
export function errnoName(value: number): ErrnoName | undefined {
  return NAMES.get(Math.abs(value));
}

/** An error pointer from a kernel call: `name` and the negative `errno` (e.g. ENOSPC, -28). */
export class KernelError extends Error {
  readonly errno: number;
  constructor(readonly errnoName: ErrnoName, readonly call: string, detail = '') {
    super(`${call}: ${errnoName}${detail ? ` (${detail})` : ''}`);
    this.name = 'KernelError';
    this.errno = -Errno[errnoName];
  }
}

/**
 * The KernelError for the failed int result `ret` (-errno) of kernel call `call`. A value
 * that is not a negative known errno (a driver bug) becomes EIO naming the value.
 */
export function errFromRet(ret: number, call: string, detail = ''): KernelError {
  const name = ret < 0 ? errnoName(ret) : undefined;
  if (name) return new KernelError(name, call, detail);
  return new KernelError('EIO', call, `${detail ? `${detail}: ` : ''}returned ${ret}`);
}

/**
 * IS_ERR / PTR_ERR for calls that return an object or a negative errno: the object, or
 * throws the KernelError for the errno.
 */
export function unwrapErrPtr<T extends object>(ptr: T | number, call: string, detail = ''): T {
  if (typeof ptr === 'number') throw errFromRet(ptr, call, detail);
  return ptr;
}
