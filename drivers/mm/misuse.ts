import type { Counter, StatsRegistry } from '../../sim/engine/stats';
import { sharedCounter } from '../iommu/kstats';

/**
 * API misuse of a kernel allocator by its callers (double free, free of an unknown
 * block, wrong order or size, misaligned address). Linux answers these with a report in
 * the kernel log and goes on: the buddy allocator's bad_page() prints "BUG: Bad page
 * state", taints the kernel and leaves the page alone (mm/page_alloc.c); genalloc's
 * gen_pool_free_owner() hits BUG_ON(remain) or BUG() (lib/genalloc.c), an oops that
 * kills the calling task, not the machine. The simulated kernel reports the same way, a
 * warning in its log plus a counter, and the allocator refuses the call and stays as it
 * was, so the run goes on and later calls behave as if the bad one never happened.
 * Misuse is the caller's bug in the simulated kernel, never a SimInvariantError.
 */
export interface MisuseSink {
  /** Called once per refused call with the kernel's message. */
  report(message: string): void;
}

/** The kernel's side of a sink: what `Kernel.warn` offers. */
export interface KernelWarn {
  warn(subsystem: string, message: string): void;
}

/** The kernel stats that count refused calls, one per allocator kind: name → description. */
export const MISUSE_STATS = {
  buddy: ['kernel.mm.buddy.bad_frees', 'page frees refused as misuse (double free, wrong order, unknown block): "Bad page state"'],
  cma: ['kernel.mm.cma.bad_frees', 'CMA releases refused as misuse (double release, unknown block, wrong size)'],
  genpool: ['kernel.mm.genpool.bad_frees', 'genpool frees refused as misuse (double free, unknown range): a BUG_ON in Linux'],
} as const;

/** A sink for allocators of `kind`: warns under the `mm` subsystem and counts in its MISUSE_STATS counter. */
export function mmMisuseSink(kernel: KernelWarn, stats: StatsRegistry, kind: keyof typeof MISUSE_STATS): MisuseSink {
  const [name, desc] = MISUSE_STATS[kind];
  return kernelMisuseSink(kernel, stats, 'mm', name, desc);
}

/**
 * A sink that warns through the kernel log under `subsystem` (counted in
 * `kernel.warnings`) and counts the call in the kernel stat `counterName` (shared by
 * every allocator that names it).
 */
export function kernelMisuseSink(kernel: KernelWarn, stats: StatsRegistry, subsystem: string, counterName: string, desc: string): MisuseSink {
  const counter: Counter = sharedCounter(stats, counterName, desc);
  return {
    report(message: string): void {
      counter.value++;
      kernel.warn(subsystem, message);
    },
  };
}

/** Counts refused calls of one allocator and passes them to its sink (if any). */
export class MisuseReporter {
  /** Refused calls so far. */
  count = 0;
  /** The latest message (allocators used without a kernel can still be checked). */
  last: string | null = null;
  sink: MisuseSink | null = null;

  report(message: string): void {
    this.count++;
    this.last = message;
    this.sink?.report(message);
  }
}
