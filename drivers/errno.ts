/**
 * Linux errno values (include/uapi/asm-generic/errno-base.h and errno.h) and the
 * KernelError that carries one (DESIGN.md "Errors"): where the kernel returns an error
 * pointer we throw a KernelError; where it returns an int we return 0 or -errno.
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

/** Throws the KernelError for `-errno`-style return value `ret` (for wrapping int returns). */
export function errPtr(name: ErrnoName, call: string, detail = ''): never {
  throw new KernelError(name, call, detail);
}
