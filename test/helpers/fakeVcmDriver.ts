/**
 * A recording VcmMmuDriver for unit tests of the VCM MMU wrapper: it keeps a map of the
 * pages it has been told to map (its "hardware"), records every call, and can be told to
 * fail the Nth activate call.
 */
import { Errno } from '../../drivers/errno';
import type { Vcm, VcmMmuDriver, VcmPhys, VcmRes } from '../../drivers/vcm/types';
import { orderSize } from '../../drivers/vcm/types';

export interface FakeCall {
  op: 'activatePage' | 'deactivatePage' | 'activate' | 'deactivate' | 'cleanup';
  vaddr: number;
  paddr: number;
  /** Page order (page ops) or -1 (whole-binding ops). */
  order: number;
  /** Bytes (whole-binding ops: phys.size). */
  size: number;
  ok: boolean;
}

export interface FakeVcmDriverOptions {
  orders?: number[];
  /** 'page': activatePage/deactivatePage only; 'whole': activate/deactivate only. */
  mode?: 'page' | 'whole';
  /** The Nth activate call (1-based, page or whole) fails with `failErrno`. */
  failActivateAt?: number;
  failErrno?: number;
}

export interface FakeVcmDriver extends VcmMmuDriver {
  readonly calls: FakeCall[];
  /** The fake hardware: mapped pages (page mode) or bindings (whole mode) by virtual address. */
  readonly hw: Map<number, { paddr: number; size: number }>;
  activateCalls: number;
  failActivateAt: number | null;
  failErrno: number;
  /** The physical address `vaddr` translates to in the fake hardware, or null. */
  translate(vaddr: number): number | null;
  /** Calls of one kind. */
  ops(op: FakeCall['op']): FakeCall[];
}

export function fakeVcmDriver(opts: FakeVcmDriverOptions = {}): FakeVcmDriver {
  const mode = opts.mode ?? 'page';
  const calls: FakeCall[] = [];
  const hw = new Map<number, { paddr: number; size: number }>();
  const self: FakeVcmDriver = {
    orders: opts.orders ?? [8, 4, 0],
    calls,
    hw,
    activateCalls: 0,
    failActivateAt: opts.failActivateAt ?? null,
    failErrno: opts.failErrno ?? -Errno.ENOMEM,
    translate(vaddr: number): number | null {
      for (const [v, e] of hw) if (vaddr >= v && vaddr < v + e.size) return e.paddr + (vaddr - v);
      return null;
    },
    ops(op) {
      return calls.filter((c) => c.op === op);
    },
    cleanup(_vcm: Vcm): void {
      calls.push({ op: 'cleanup', vaddr: 0, paddr: 0, order: -1, size: 0, ok: true });
    },
  };
  const activate = (op: FakeCall['op'], vaddr: number, paddr: number, order: number, size: number): number => {
    const n = ++self.activateCalls;
    const fail = self.failActivateAt === n;
    calls.push({ op, vaddr, paddr, order, size, ok: !fail });
    if (fail) return self.failErrno;
    if (hw.has(vaddr)) throw new Error(`fake MMU: ${vaddr.toString(16)} mapped twice`);
    hw.set(vaddr, { paddr, size });
    return 0;
  };
  const deactivate = (op: FakeCall['op'], vaddr: number, paddr: number, order: number, size: number): number => {
    const e = hw.get(vaddr);
    const ok = !!e && e.paddr === paddr && e.size === size;
    calls.push({ op, vaddr, paddr, order, size, ok });
    if (!ok) throw new Error(`fake MMU: ${op} of ${vaddr.toString(16)} that is not mapped as given`);
    hw.delete(vaddr);
    return 0;
  };
  if (mode === 'page') {
    self.activatePage = (v, p, o) => activate('activatePage', v, p, o, orderSize(o));
    self.deactivatePage = (v, p, o) => deactivate('deactivatePage', v, p, o, orderSize(o));
  } else {
    self.activate = (res: VcmRes, phys: VcmPhys) => activate('activate', res.start, phys.parts[0].start, -1, phys.size);
    self.deactivate = (res: VcmRes, phys: VcmPhys) => { deactivate('deactivate', res.start, phys.parts[0].start, -1, phys.size); };
  }
  return self;
}
