/**
 * Permission bits of a translation, as a walk decodes them and a TLB caches them.
 * Small integers, so plain bitwise operators are safe here.
 */
export const Perm = {
  Read: 1,
  Write: 2,
  /** Only privileged requests may use it (nv PRIV, LPAE without EL0 access). */
  PrivOnly: 4,
  /** Sparse mapping: reads return zeros, writes are dropped, no fault. */
  Sparse: 8,
} as const;

/** The kind of access a request makes, for permission checks. */
export const Access = { Read: 0, Write: 1 } as const;
export type Access = (typeof Access)[keyof typeof Access];
