/**
 * Physical memory helpers for VCM drivers: vcm_phys_alloc() and vcm_phys_walk()
 * (include/linux/vcm-drv.h, CONFIG_VCM_PHYS; document, "Allocation and reservations"
 * and "Writing a hardware MMU driver").
 */
import { Errno, KernelError } from '../errno';
import type { Kernel } from '../kernel';
import { ADDR_LIMIT, hex } from '../../sim/engine/addr';
import { vcmNotePhys } from './vcm';
import { orderSize, PAGE_SIZE, type VcmEnv, type VcmFlags, type VcmPageFn, type VcmPhys, type VcmPhysPart } from './types';

/**
 * Why `orders` is not a valid order list (strictly decreasing integers ending in 0, as
 * vcm-drv.h requires), or '' if it is.
 */
export function vcmOrdersProblem(orders: readonly number[] | null | undefined): string {
  if (!orders || orders.length === 0) return 'no orders';
  for (let i = 0; i < orders.length; i++) {
    const o = orders[i];
    if (!Number.isInteger(o) || o < 0 || o > 40) return `orders[${i}] = ${o} is not a page order`;
    if (i > 0 && o >= orders[i - 1]) return `orders [${orders.join(', ')}] not sorted from largest to smallest`;
  }
  if (orders[orders.length - 1] !== 0) return `orders [${orders.join(', ')}] do not end with 0`;
  return '';
}

/**
 * vcm_phys_alloc() - allocates possibly discontiguous physical memory in the largest
 * pages `orders` allows (vcm-drv.h; document, "Allocation and reservations"): for each
 * order, largest first, as many pages of that order as fit in what is left; if a page of
 * some order cannot be allocated, the rest is made of smaller pages. So orders [8, 4, 0]
 * and 2 MiB + 68 KiB give 1 MiB, 1 MiB, 64 KiB, 4 KiB (parts in that order).
 *
 * `env.pages` is the page allocator (alloc_pages); `flags` are ignored (the kernel uses
 * GFP_DMA). The result's `free` returns the pages. Throws KernelError: EINVAL (with a
 * warning) for a size that is zero or not page aligned or a bad order list; ENOMEM if
 * the memory cannot be found (everything allocated so far is returned first).
 */
export function vcmPhysAlloc(env: VcmEnv, size: number, _flags: VcmFlags, orders: readonly number[]): VcmPhys {
  const call = 'vcm_phys_alloc';
  const bad =
    !Number.isInteger(size) || size <= 0 || size >= ADDR_LIMIT ? `size ${size}` :
    size % PAGE_SIZE ? `size ${hex(size)} not page aligned` : vcmOrdersProblem(orders);
  if (bad) {
    env.kernel.warn('vcm', `${call}: ${bad}`);
    throw new KernelError('EINVAL', call, bad);
  }
  const allocator = env.pages;
  const parts: VcmPhysPart[] = [];
  let pages = size / PAGE_SIZE;
  for (let i = 0; i < orders.length && pages > 0; i++) {
    const n = 2 ** orders[i];
    for (let count = Math.floor(pages / n); count > 0; count--) {
      const addr = allocator.allocPages(orders[i]);
      if (addr === null) break; // try smaller pages for the rest
      parts.push({ start: addr, size: n * PAGE_SIZE });
      pages -= n;
    }
  }
  if (pages > 0) {
    freeParts(allocator, parts);
    throw new KernelError('ENOMEM', call, `${size} bytes in orders [${orders.join(', ')}]`);
  }
  const phys: VcmPhys = {
    count: parts.length,
    size,
    bindings: 0,
    parts,
    free: (p) => freeParts(allocator, p.parts),
  };
  return vcmNotePhys(phys, env.kernel);
}

function freeParts(allocator: VcmEnv['pages'], parts: readonly VcmPhysPart[]): void {
  for (const part of parts) allocator.freePages(part.start, Math.round(Math.log2(part.size / PAGE_SIZE)));
}

/**
 * vcm_phys_walk() - divides the mapping of `phys` at `vaddr` into pages of `orders` and
 * calls `callback(vaddr, paddr, order, priv)` for each (vcm-drv.h; document, "Writing a
 * hardware MMU driver"). Each page is the largest order that both the virtual and the
 * physical address are aligned to and that fits in what is left of the part; so a
 * misaligned `vaddr` falls back to smaller pages, and larger pages resume once both
 * addresses reach a larger boundary.
 *
 * If `callback` returns a negative number, `recovery` (if given) is called for exactly
 * the pages `callback` already succeeded on, in the same order, stopping early if it
 * returns a negative number; the callback's error is returned. Otherwise returns 0.
 * Bad arguments (vaddr or a part not page aligned, empty phys, bad orders) return
 * -EINVAL with a warning to `kernel` if given.
 */
export function vcmPhysWalk<P>(vaddr: number, phys: VcmPhys, orders: readonly number[],
  callback: VcmPageFn<P>, recovery: VcmPageFn<P> | null, priv: P, kernel?: Kernel): number {
  const bad =
    !Number.isInteger(vaddr) || vaddr < 0 || vaddr % PAGE_SIZE ? `vaddr ${hex(vaddr)} not page aligned` :
    !phys.size ? 'empty physical memory' :
    phys.size % PAGE_SIZE ? `size ${phys.size} not page aligned` :
    phys.parts.some((p) => p.size <= 0 || p.start % PAGE_SIZE || p.size % PAGE_SIZE) ? 'a part is not page aligned' :
    vcmOrdersProblem(orders);
  if (bad) {
    kernel?.warn('vcm', `vcm_phys_walk: ${bad}`);
    return -Errno.EINVAL;
  }
  let done = 0;
  const ret = walk(vaddr, phys, orders, Infinity, (v, p, o) => {
    const r = callback(v, p, o, priv);
    if (r >= 0) done++;
    return r;
  });
  if (ret >= 0) return 0;
  if (recovery) walk(vaddr, phys, orders, done, (v, p, o) => recovery(v, p, o, priv));
  return ret;
}

/** Calls `fn` for the first `limit` pages of the walk; stops at a negative return. */
function walk(vaddr: number, phys: VcmPhys, orders: readonly number[], limit: number,
  fn: (v: number, p: number, o: number) => number): number {
  let v = vaddr;
  for (const part of phys.parts) {
    let p = part.start;
    let left = part.size;
    while (left > 0) {
      if (limit-- <= 0) return 0;
      let order = 0;
      for (const o of orders) {
        const sz = orderSize(o);
        if (sz <= left && v % sz === 0 && p % sz === 0) {
          order = o;
          break;
        }
      }
      const ret = fn(v, p, order);
      if (ret < 0) return ret;
      const sz = orderSize(order);
      v += sz;
      p += sz;
      left -= sz;
    }
  }
  return 0;
}
