/**
 * dma-debug: lib/dma-debug.c (CONFIG_DMA_API_DEBUG; kernel/dma/debug.c from v4.20). It
 * tracks every live mapping and coherent allocation as a `struct dma_debug_entry` and
 * reports drivers that break the DMA API contract (Documentation/DMA-API.txt): unmapping
 * what was never mapped, with the wrong size, function or direction, without checking
 * dma_mapping_error; syncing what is not mapped, beyond the mapping or the wrong way;
 * overlapping device-writable mappings of one cache line; and mappings leaked when a
 * driver is removed.
 *
 * mapping.ts calls the hooks (DmaDebugHooks) after each operation, except dma_unmap_sg,
 * which it checks before the ops undo the scatterlist, and dma_free_coherent, which it
 * checks before the memory is released, as Linux does. Allocations from a declared
 * region (dma_declare_coherent_memory) are not tracked, as in Linux.
 *
 * Reporting is err_printk's: each error counts in `error_count` (here `errorCount`, and
 * the stats `kernel.dma_debug.errors` plus one counter per check,
 * `kernel.dma_debug.<check>`: see DMA_DEBUG_CHECKS) and, unless rate-limited, goes to
 * the kernel log as a warning of subsystem `dma-debug`:
 *   `DMA-API: <dev_driver_string> <dev_name>: <Linux's message>`
 * with addresses as 0x%016llx. Nothing here throws on driver misuse: the table stays
 * consistent (an unmap that finds its entry removes it, however wrong its arguments).
 *
 * Lookup, as Linux: an unmap finds the entry with the same (device, DMA address)
 * (bucket_find_exact), a sync the entry that contains [addr, addr+size)
 * (bucket_find_contain); among several candidates in one hash bucket the best fit on
 * (size, type, direction, sg count) wins, and several candidates without a perfect fit
 * count as none (__hash_bucket_find). Buckets are Linux's: DMA address >> 13.
 *
 * Differences from Linux, each deliberate:
 * - Every error is logged by default (`showAllErrors = true`): Linux logs only the first
 *   (show_num_errors = 1) unless all_errors is set, which hides the second and later
 *   bugs from someone debugging a driver in a simulator. Counting is never limited. Set
 *   `showAllErrors = false` for Linux's behaviour (`showNumErrors` more are logged).
 * - `enabled` can be switched both ways (Linux's global_disable only ever goes on). While
 *   disabled the hooks do nothing: mappings made then are unknown to dma-debug, so
 *   after re-enabling, their unmaps are reported as never mapped.
 * - Syncing beyond the end of a mapping: Linux's containing match never finds such an
 *   entry, so it reports "sync DMA memory it has not allocated" and its "syncs DMA
 *   memory outside allocated range" message is unreachable. Here, when no entry
 *   contains the whole range but one contains its start, that entry is used and the
 *   "outside allocated range" error is reported (with `sync offset+size` measured from
 *   the start of the mapping), then the direction checks run as usual.
 * - The containing search walks back over as many buckets as the device's largest live
 *   entry spans (Linux stops after dma_get_max_seg_size, 64 KiB by default, and so
 *   misses syncs deep inside large mappings).
 * - Overlapping mappings of a cache line (active_cacheline_insert, "cacheline tracking
 *   EEXIST"): the line is the mapping's first, cacheline size the platform CPU's
 *   (dma_get_cache_alignment); DMA_TO_DEVICE mappings are not tracked and
 *   DMA_ATTR_SKIP_CPU_SYNC suppresses the report, as in Linux (v5.15+). IO-coherent
 *   devices are not reported either: with no cache maintenance there is nothing to lose
 *   (Linux reports them too). The overlap count is exact (Linux's radix-tree tags
 *   saturate at 7 overlaps).
 * - Not modelled: the preallocated entry pool (no "out of memory - disabling"), the
 *   stack and kernel-text checks (the simulator has neither), sg segment length and
 *   boundary checks (devices have no max_seg_size), stack traces of the mapping.
 * - A coherent allocation whose CPU address is neither a linear-map nor an uncached
 *   address is not tracked, and such a free is not checked (Linux skips addresses that
 *   are neither vmalloc nor linear the same way).
 */
import type { Kernel } from '../kernel';
import type { Counter } from '../../sim/engine/stats';
import type { DmaDevice, DmaDebugHooks } from './device';
import {
  DMA_ATTR_SKIP_CPU_SYNC,
  DMA_BIDIRECTIONAL,
  DMA_DIRECTION_NAMES,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_TO_DEVICE,
  sgPhys,
  type DmaDataDirection,
  type ScatterlistEntry,
} from './types';

/** enum map_err_types: whether dma_mapping_error() was called on the entry's address. */
export const MAP_ERR_CHECK_NOT_APPLICABLE = 0;
export const MAP_ERR_NOT_CHECKED = 1;
export const MAP_ERR_CHECKED = 2;
export type MapErrType = typeof MAP_ERR_CHECK_NOT_APPLICABLE | typeof MAP_ERR_NOT_CHECKED | typeof MAP_ERR_CHECKED;

/** maperr2str[]. */
export const MAP_ERR_NAMES = ['dma map error check not applicable', 'dma map error not checked', 'dma map error checked'] as const;

/** What created the entry: dma_map_single, dma_map_page, dma_map_sg, dma_alloc_coherent. */
export type DmaDebugType = 'single' | 'page' | 'sg' | 'coherent';

/** type2name[] (Linux's spelling). */
export const DMA_DEBUG_TYPE_NAMES: Readonly<Record<DmaDebugType, string>> = {
  single: 'single',
  page: 'page',
  sg: 'scather-gather',
  coherent: 'coherent',
};

/** struct dma_debug_entry: one live mapping or coherent allocation (a snapshot). */
export interface DmaDebugEntry {
  readonly dev: DmaDevice;
  readonly type: DmaDebugType;
  readonly devAddr: number;
  /** Physical address of the buffer (page + offset). */
  readonly paddr: number;
  readonly size: number;
  readonly direction: DmaDataDirection;
  /** dma_map_sg's `nents` (0 for other types). */
  readonly sgCallEnts: number;
  /** dma_map_sg's result (0 for other types). */
  readonly sgMappedEnts: number;
  readonly mapErrType: MapErrType;
}

/** The checks, each with its counter `kernel.dma_debug.<check>`. */
export const DMA_DEBUG_CHECKS = [
  /** Unmap/free of DMA_MAPPING_ERROR. */
  'free_invalid_address',
  /** Unmap/free of an address with no entry. */
  'free_not_allocated',
  'free_wrong_size',
  /** Mapped with one call (single/page/sg/coherent), unmapped with another's. */
  'free_wrong_function',
  /** dma_free_coherent with a CPU address other than the allocation's. */
  'free_wrong_cpu_address',
  /** dma_unmap_sg with an nents other than dma_map_sg's. */
  'free_wrong_sg_count',
  'free_wrong_direction',
  /** Unmapped without dma_mapping_error() having been called on the address. */
  'map_error_not_checked',
  'sync_not_allocated',
  'sync_outside_range',
  'sync_wrong_direction',
  /** Sync for the CPU of memory the device only reads (mapped DMA_TO_DEVICE). */
  'sync_read_only_for_cpu',
  /** Sync for the device of memory the device only writes (mapped DMA_FROM_DEVICE). */
  'sync_write_only_to_device',
  'sync_wrong_sg_count',
  /** A second device-writable mapping of an active cache line. */
  'overlapping_mapping',
  /** Entries still live when the driver was unbound. */
  'pending_at_unbind',
] as const;
export type DmaDebugCheck = (typeof DMA_DEBUG_CHECKS)[number];

const HASH_FN_SHIFT = 13;
const HASH_BUCKET_BYTES = 2 ** HASH_FN_SHIFT;
const HASH_SIZE = 1024;

/** The live entry; `seq` orders entries by creation (list_add_tail order). */
interface Entry {
  dev: DmaDevice;
  type: DmaDebugType;
  devAddr: number;
  paddr: number;
  size: number;
  direction: DmaDataDirection;
  sgCallEnts: number;
  sgMappedEnts: number;
  mapErrType: MapErrType;
  seq: number;
  /** Cache line tracked in the active-cacheline table, or null (DMA_TO_DEVICE). */
  cacheline: number | null;
}

/** The reference an unmap or sync is checked against (Linux builds a dma_debug_entry on the stack). */
interface Ref {
  dev: DmaDevice;
  type: DmaDebugType;
  devAddr: number;
  paddr: number;
  size: number;
  direction: DmaDataDirection;
  sgCallEnts: number;
}

/** Per device: hash buckets (DMA address >> 13) and the largest live entry, for the containing walk. */
interface DeviceTable {
  buckets: Map<number, Entry[]>;
  count: number;
  maxSize: number;
}

/** 0x%016llx. */
function hex16(n: number): string {
  return `0x${n.toString(16).padStart(16, '0')}`;
}

function bucketOf(devAddr: number): number {
  return Math.floor(devAddr / HASH_BUCKET_BYTES);
}

/** hash_fn(): Linux's bucket index (bits 13..22 of the DMA address). */
function hashIndex(devAddr: number): number {
  return bucketOf(devAddr) % HASH_SIZE;
}

function exactMatch(ref: Ref, e: Entry): boolean {
  return e.dev === ref.dev && e.devAddr === ref.devAddr;
}

function containingMatch(ref: Ref, e: Entry): boolean {
  return e.dev === ref.dev && e.devAddr <= ref.devAddr && e.devAddr + e.size >= ref.devAddr + ref.size;
}

/** An entry that holds the first byte of the reference (for the "outside allocated range" report). */
function startMatch(ref: Ref, e: Entry): boolean {
  return e.dev === ref.dev && e.devAddr <= ref.devAddr && ref.devAddr < e.devAddr + e.size;
}

/**
 * __hash_bucket_find(): best fit on (size, type, direction, sg_call_ents); a perfect fit
 * at once; several matches without a perfect one give null ("just return NULL").
 */
function bucketFind(bucket: Entry[] | undefined, ref: Ref, match: (ref: Ref, e: Entry) => boolean): Entry | null {
  if (!bucket) return null;
  let best: Entry | null = null;
  let bestLvl = -1;
  let matches = 0;
  for (const e of bucket) {
    if (!match(ref, e)) continue;
    matches++;
    const lvl =
      (e.size === ref.size ? 1 : 0) + (e.type === ref.type ? 1 : 0) + (e.direction === ref.direction ? 1 : 0) + (e.sgCallEnts === ref.sgCallEnts ? 1 : 0);
    if (lvl === 4) return e;
    if (lvl > bestLvl) {
      bestLvl = lvl;
      best = e;
    }
  }
  return matches === 1 ? best : null;
}

/**
 * lib/dma-debug.c for one platform (the simulator runs several platforms per process,
 * so the state Linux keeps in globals lives here). The platform creates it when
 * PlatformOptions.dmaDebug is on and shares it through DmaEnv.debug.
 */
export class DmaDebug implements DmaDebugHooks {
  /** !global_disable: when false every hook returns at once. */
  enabled = true;
  /** all_errors (debugfs): log every error. Default true here (Linux: false); see the file comment. */
  showAllErrors = true;
  /** num_errors (debugfs): with showAllErrors off, how many more errors are logged. */
  showNumErrors = 1;
  /** driver_filter (debugfs, dma_debug_driver=): log only errors of devices bound to this driver; null logs all. */
  driverFilter: string | null = null;

  private errors = 0;
  /** Per-check error counts since boot (the stats counters can be reset for a measurement window). */
  private readonly counts = Object.fromEntries(DMA_DEBUG_CHECKS.map((c) => [c, 0])) as Record<DmaDebugCheck, number>;
  private seq = 0;
  private readonly tables = new Map<DmaDevice, DeviceTable>();
  /** dma_active_cacheline: cache line number -> number of live tracked mappings starting in it. */
  private readonly activeCachelines = new Map<number, number>();
  private readonly sErrors: Counter;
  private readonly sChecks: Record<DmaDebugCheck, Counter>;

  constructor(readonly kernel: Kernel) {
    const stats = kernel.soc.ctx.stats;
    // Reuse counters if a second DmaDebug is created on the same kernel (stats names are unique).
    const counter = (name: string, desc: string): Counter => (stats.get(name) as Counter | undefined) ?? stats.counter(name, desc);
    this.sErrors = counter('kernel.dma_debug.errors', 'dma-debug errors (error_count)');
    const checks = {} as Record<DmaDebugCheck, Counter>;
    for (const c of DMA_DEBUG_CHECKS) checks[c] = counter(`kernel.dma_debug.${c}`, `dma-debug errors: ${c.replace(/_/g, ' ')}`);
    this.sChecks = checks;
  }

  /** error_count (debugfs): errors found since boot, whether logged or not. */
  get errorCount(): number {
    return this.errors;
  }

  /** Errors of one check since boot. */
  checkCount(check: DmaDebugCheck): number {
    return this.counts[check];
  }

  /** Snapshots of the live entries (all, or one device's), oldest first. */
  activeEntries(dev?: DmaDevice): DmaDebugEntry[] {
    const out: DmaDebugEntry[] = [];
    for (const e of this.liveEntries(dev)) {
      out.push({
        dev: e.dev,
        type: e.type,
        devAddr: e.devAddr,
        paddr: e.paddr,
        size: e.size,
        direction: e.direction,
        sgCallEnts: e.sgCallEnts,
        sgMappedEnts: e.sgMappedEnts,
        mapErrType: e.mapErrType,
      });
    }
    return out;
  }

  /** How many live tracked mappings start in the cache line holding `phys` (0 when the line is idle). */
  cachelineMappings(dev: DmaDevice, phys: number): number {
    return this.activeCachelines.get(Math.floor(phys / dev.env.cpu.cacheLineBytes)) ?? 0;
  }

  /**
   * debug_dma_dump_mappings(dev): one info line per live entry (of `dev`, or all), in
   * Linux's bucket order: `<type> idx <bucket> P=<phys> N=<pfn> D=<dma> L=<len> <dir> <map err>`.
   */
  dumpMappings(dev?: DmaDevice): void {
    const entries = this.liveEntries(dev);
    entries.sort((a, b) => hashIndex(a.devAddr) - hashIndex(b.devAddr) || a.seq - b.seq);
    for (const e of entries) {
      const line =
        `${DMA_DEBUG_TYPE_NAMES[e.type]} idx ${hashIndex(e.devAddr)} P=${e.paddr.toString(16)} N=${Math.floor(e.paddr / 4096).toString(16)} ` +
        `D=${e.devAddr.toString(16)} L=${e.size.toString(16)} ${DMA_DIRECTION_NAMES[e.direction]} ${MAP_ERR_NAMES[e.mapErrType]}`;
      this.kernel.info('dma-debug', `${e.dev.driverString} ${e.dev.name}: ${line}`);
    }
  }

  // ---- hooks (debug_dma_*) ----

  /** debug_dma_map_page (and _single): a new entry unless the map failed; map error not yet checked. */
  mapPage(dev: DmaDevice, phys: number, size: number, dir: DmaDataDirection, dmaAddr: number, mapSingle: boolean, attrs: number): void {
    if (!this.enabled || dmaAddr === DMA_MAPPING_ERROR) return;
    this.addEntry(this.newEntry(dev, mapSingle ? 'single' : 'page', dmaAddr, phys, size, dir, 0, 0, MAP_ERR_NOT_CHECKED), attrs);
  }

  /**
   * debug_dma_mapping_error: marks checked the first entry of (dev, dmaAddr) still
   * unchecked (the same address may be mapped several times without an IOMMU).
   */
  mappingError(dev: DmaDevice, dmaAddr: number): void {
    if (!this.enabled) return;
    const bucket = this.tables.get(dev)?.buckets.get(bucketOf(dmaAddr));
    if (!bucket) return;
    for (const e of bucket) {
      if (e.devAddr === dmaAddr && e.mapErrType === MAP_ERR_NOT_CHECKED) {
        e.mapErrType = MAP_ERR_CHECKED;
        return;
      }
    }
  }

  /** debug_dma_unmap_page (and _single). */
  unmapPage(dev: DmaDevice, dmaAddr: number, size: number, dir: DmaDataDirection, mapSingle: boolean): void {
    if (!this.enabled) return;
    this.checkUnmap({ dev, type: mapSingle ? 'single' : 'page', devAddr: dmaAddr, paddr: Number.NaN, size, direction: dir, sgCallEnts: 0 });
  }

  /** debug_dma_map_sg: one entry per DMA segment (sg_dma_address/len of the first `mappedEnts` entries). */
  mapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nents: number, mappedEnts: number, dir: DmaDataDirection, attrs: number): void {
    if (!this.enabled) return;
    for (let i = 0; i < mappedEnts && i < sgl.length; i++) {
      const s = sgl[i];
      this.addEntry(this.newEntry(dev, 'sg', s.dmaAddress, sgPhys(s), s.dmaLength, dir, nents, mappedEnts, MAP_ERR_CHECK_NOT_APPLICABLE), attrs);
    }
  }

  /**
   * debug_dma_unmap_sg: checks each of the first `nelems` entries, stopping after the
   * number of segments the map produced (read from the first entry's record).
   */
  unmapSg(dev: DmaDevice, sgl: ScatterlistEntry[], nelems: number, dir: DmaDataDirection): void {
    if (!this.enabled) return;
    let mappedEnts = 0;
    for (let i = 0; i < nelems && i < sgl.length; i++) {
      const ref = this.sgRef(dev, sgl[i], nelems, dir);
      if (mappedEnts && i >= mappedEnts) break;
      if (i === 0) mappedEnts = this.nrMappedEntries(ref);
      this.checkUnmap(ref);
    }
  }

  /** debug_dma_alloc_coherent: a BIDIRECTIONAL entry at the CPU address's physical address. */
  allocCoherent(dev: DmaDevice, size: number, dmaAddr: number, cpuAddr: number, attrs: number): void {
    if (!this.enabled) return;
    const paddr = this.cpuToPhys(dev, cpuAddr);
    if (paddr === null) return;
    this.addEntry(this.newEntry(dev, 'coherent', dmaAddr, paddr, size, DMA_BIDIRECTIONAL, 0, 0, MAP_ERR_CHECK_NOT_APPLICABLE), attrs);
  }

  /** debug_dma_free_coherent. */
  freeCoherent(dev: DmaDevice, size: number, cpuAddr: number, dmaAddr: number): void {
    if (!this.enabled) return;
    const paddr = this.cpuToPhys(dev, cpuAddr);
    if (paddr === null) return;
    this.checkUnmap({ dev, type: 'coherent', devAddr: dmaAddr, paddr, size, direction: DMA_BIDIRECTIONAL, sgCallEnts: 0 });
  }

  /** debug_dma_sync_single_{,range_}for_{cpu,device}: the reference is [handle, handle + offset + size). */
  syncSingle(dev: DmaDevice, dmaHandle: number, offset: number, size: number, dir: DmaDataDirection, toCpu: boolean): void {
    if (!this.enabled) return;
    this.checkSync({ dev, type: 'single', devAddr: dmaHandle, paddr: Number.NaN, size: offset + size, direction: dir, sgCallEnts: 0 }, toCpu);
  }

  /**
   * debug_dma_sync_sg_for_{cpu,device}: as unmap_sg, up to the mapped segment count. As
   * in Linux, a list whose first entry is not mapped is not checked at all.
   */
  syncSg(dev: DmaDevice, sgl: ScatterlistEntry[], nelems: number, dir: DmaDataDirection, toCpu: boolean): void {
    if (!this.enabled) return;
    let mappedEnts = 0;
    for (let i = 0; i < nelems && i < sgl.length; i++) {
      const ref = this.sgRef(dev, sgl[i], nelems, dir);
      if (i === 0) mappedEnts = this.nrMappedEntries(ref);
      if (i >= mappedEnts) break;
      this.checkSync(ref, toCpu);
    }
  }

  /** dma_debug_device_change(BUS_NOTIFY_UNBOUND_DRIVER): the driver left mappings behind. */
  driverUnbound(dev: DmaDevice): void {
    if (!this.enabled) return;
    let count = 0;
    let shown: Entry | null = null;
    // device_dma_allocations() walks the hash buckets in order and keeps the last entry it sees.
    for (const e of this.liveEntries(dev)) {
      count++;
      if (!shown || hashIndex(e.devAddr) >= hashIndex(shown.devAddr)) shown = e;
    }
    if (!shown) return;
    this.report(
      'pending_at_unbind',
      dev,
      `device driver has pending DMA allocations while released from device [count=${count}]\n` +
        `One of leaked entries details: [device address=${hex16(shown.devAddr)}] [size=${shown.size} bytes] ` +
        `[mapped with ${DMA_DIRECTION_NAMES[shown.direction]}] [mapped as ${DMA_DEBUG_TYPE_NAMES[shown.type]}]`,
    );
  }

  // ---- checks ----

  /** check_unmap(): compares the unmap with its entry, then removes the entry. */
  private checkUnmap(ref: Ref): void {
    const entry = bucketFind(this.tables.get(ref.dev)?.buckets.get(bucketOf(ref.devAddr)), ref, exactMatch);
    const addr = hex16(ref.devAddr);
    if (!entry) {
      if (ref.devAddr === DMA_MAPPING_ERROR) {
        this.report('free_invalid_address', ref.dev, 'device driver tries to free an invalid DMA memory address');
      } else {
        this.report('free_not_allocated', ref.dev, `device driver tries to free DMA memory it has not allocated [device address=${addr}] [size=${ref.size} bytes]`);
      }
      return;
    }
    if (ref.size !== entry.size) {
      this.report(
        'free_wrong_size',
        ref.dev,
        `device driver frees DMA memory with different size [device address=${addr}] [map size=${entry.size} bytes] [unmap size=${ref.size} bytes]`,
      );
    }
    if (ref.type !== entry.type) {
      this.report(
        'free_wrong_function',
        ref.dev,
        `device driver frees DMA memory with wrong function [device address=${addr}] [size=${ref.size} bytes] ` +
          `[mapped as ${DMA_DEBUG_TYPE_NAMES[entry.type]}] [unmapped as ${DMA_DEBUG_TYPE_NAMES[ref.type]}]`,
      );
    } else if (entry.type === 'coherent' && ref.paddr !== entry.paddr) {
      this.report(
        'free_wrong_cpu_address',
        ref.dev,
        `device driver frees DMA memory with different CPU address [device address=${addr}] [size=${ref.size} bytes] ` +
          `[cpu alloc address=${hex16(entry.paddr)}] [cpu free address=${hex16(ref.paddr)}]`,
      );
    }
    if (ref.sgCallEnts && ref.type === 'sg' && ref.sgCallEnts !== entry.sgCallEnts) {
      this.report(
        'free_wrong_sg_count',
        ref.dev,
        `device driver frees DMA sg list with different entry count [map count=${entry.sgCallEnts}] [unmap count=${ref.sgCallEnts}]`,
      );
    }
    if (ref.direction !== entry.direction) {
      this.report(
        'free_wrong_direction',
        ref.dev,
        `device driver frees DMA memory with different direction [device address=${addr}] [size=${ref.size} bytes] ` +
          `[mapped with ${DMA_DIRECTION_NAMES[entry.direction]}] [unmapped with ${DMA_DIRECTION_NAMES[ref.direction]}]`,
      );
    }
    if (entry.mapErrType === MAP_ERR_NOT_CHECKED) {
      this.report(
        'map_error_not_checked',
        ref.dev,
        `device driver failed to check map error[device address=${addr}] [size=${ref.size} bytes] [mapped as ${DMA_DEBUG_TYPE_NAMES[entry.type]}]`,
      );
    }
    this.removeEntry(entry);
  }

  /** check_sync(): the sync must lie inside a mapping and go the mapping's way. */
  private checkSync(ref: Ref, toCpu: boolean): void {
    const dev = ref.dev;
    let entry = this.findContaining(ref, containingMatch);
    if (!entry) {
      entry = this.findContaining(ref, startMatch);
      if (!entry) {
        this.report(
          'sync_not_allocated',
          dev,
          `device driver tries to sync DMA memory it has not allocated [device address=${hex16(ref.devAddr)}] [size=${ref.size} bytes]`,
        );
        return;
      }
      this.report(
        'sync_outside_range',
        dev,
        `device driver syncs DMA memory outside allocated range [device address=${hex16(entry.devAddr)}] ` +
          `[allocation size=${entry.size} bytes] [sync offset+size=${ref.devAddr + ref.size - entry.devAddr}]`,
      );
    }
    if (entry.direction !== DMA_BIDIRECTIONAL) {
      const wrongDirection = ref.direction !== entry.direction;
      const readOnlyForCpu = toCpu && entry.direction !== DMA_FROM_DEVICE && ref.direction !== DMA_TO_DEVICE;
      const writeOnlyToDevice = !toCpu && entry.direction !== DMA_TO_DEVICE && ref.direction !== DMA_FROM_DEVICE;
      // The detail is formatted only for a report: a NIC syncs every received buffer, and
      // formatting it on every sync was a fifth of a receive scenario's allocations.
      if (wrongDirection || readOnlyForCpu || writeOnlyToDevice) {
        const detail =
          `[device address=${hex16(ref.devAddr)}] [size=${entry.size} bytes] ` +
          `[mapped with ${DMA_DIRECTION_NAMES[entry.direction]}] [synced with ${DMA_DIRECTION_NAMES[ref.direction]}]`;
        if (wrongDirection) this.report('sync_wrong_direction', dev, `device driver syncs DMA memory with different direction ${detail}`);
        if (readOnlyForCpu) this.report('sync_read_only_for_cpu', dev, `device driver syncs device read-only DMA memory for cpu ${detail}`);
        if (writeOnlyToDevice) this.report('sync_write_only_to_device', dev, `device driver syncs device write-only DMA memory to device ${detail}`);
      }
    }
    if (ref.sgCallEnts && ref.type === 'sg' && ref.sgCallEnts !== entry.sgCallEnts) {
      this.report(
        'sync_wrong_sg_count',
        dev,
        `device driver syncs DMA sg list with different entry count [map count=${entry.sgCallEnts}] [sync count=${ref.sgCallEnts}]`,
      );
    }
  }

  /**
   * err_printk(): count, then log unless rate-limited or filtered out. Linux's WARN
   * becomes a kernel warning of subsystem `dma-debug`.
   */
  private report(check: DmaDebugCheck, dev: DmaDevice, message: string): void {
    this.errors++;
    this.counts[check]++;
    this.sErrors.value++;
    this.sChecks[check].value++;
    const filtered = this.driverFilter !== null && dev.driverName !== this.driverFilter;
    if (!filtered && (this.showAllErrors || this.showNumErrors > 0)) {
      this.kernel.warn('dma-debug', `DMA-API: ${dev.driverString} ${dev.name}: ${message}`);
    }
    if (!this.showAllErrors && this.showNumErrors > 0) this.showNumErrors--;
  }

  // ---- the entry table ----

  private newEntry(
    dev: DmaDevice,
    type: DmaDebugType,
    devAddr: number,
    paddr: number,
    size: number,
    direction: DmaDataDirection,
    sgCallEnts: number,
    sgMappedEnts: number,
    mapErrType: MapErrType,
  ): Entry {
    return { dev, type, devAddr, paddr, size, direction, sgCallEnts, sgMappedEnts, mapErrType, seq: this.seq++, cacheline: null };
  }

  private sgRef(dev: DmaDevice, s: ScatterlistEntry, nelems: number, dir: DmaDataDirection): Ref {
    return { dev, type: 'sg', devAddr: s.dmaAddress, paddr: sgPhys(s), size: s.dmaLength, direction: dir, sgCallEnts: nelems };
  }

  /** get_nr_mapped_entries(): dma_map_sg's result, from the entry of the list's first segment. */
  private nrMappedEntries(ref: Ref): number {
    return bucketFind(this.tables.get(ref.dev)?.buckets.get(bucketOf(ref.devAddr)), ref, exactMatch)?.sgMappedEnts ?? 0;
  }

  /** bucket_find_contain(): this bucket, then earlier ones while a live entry could still reach the address. */
  private findContaining(ref: Ref, match: (ref: Ref, e: Entry) => boolean): Entry | null {
    const table = this.tables.get(ref.dev);
    if (!table) return null;
    const first = bucketOf(ref.devAddr);
    const last = bucketOf(Math.max(0, ref.devAddr - table.maxSize));
    for (let b = first; b >= last; b--) {
      const e = bucketFind(table.buckets.get(b), ref, match);
      if (e) return e;
    }
    return null;
  }

  /** add_dma_entry(): into the hash and, unless DMA_TO_DEVICE, the active-cacheline table. */
  private addEntry(e: Entry, attrs: number): void {
    let table = this.tables.get(e.dev);
    if (!table) {
      table = { buckets: new Map(), count: 0, maxSize: 0 };
      this.tables.set(e.dev, table);
    }
    const b = bucketOf(e.devAddr);
    const bucket = table.buckets.get(b);
    if (bucket) bucket.push(e);
    else table.buckets.set(b, [e]);
    table.count++;
    table.maxSize = Math.max(table.maxSize, e.size);

    // active_cacheline_insert(): a device that only reads cannot leave the CPU stale data.
    if (e.direction === DMA_TO_DEVICE) return;
    e.cacheline = Math.floor(e.paddr / e.dev.env.cpu.cacheLineBytes);
    const mappings = this.activeCachelines.get(e.cacheline) ?? 0;
    this.activeCachelines.set(e.cacheline, mappings + 1);
    if (mappings > 0 && (attrs & DMA_ATTR_SKIP_CPU_SYNC) === 0 && !e.dev.coherent) {
      this.report('overlapping_mapping', e.dev, "cacheline tracking EEXIST, overlapping mappings aren't supported");
    }
  }

  /**
   * The live entries (all, or one device's), oldest first. Collected from the hash
   * buckets rather than kept in a list of their own: only dumps and unbind checks walk
   * them, and a second index would cost every live mapping ~40 bytes of host memory.
   */
  private liveEntries(dev?: DmaDevice): Entry[] {
    const out: Entry[] = [];
    for (const [d, table] of this.tables) {
      if (dev && d !== dev) continue;
      for (const bucket of table.buckets.values()) for (const e of bucket) out.push(e);
    }
    return out.sort((a, b) => a.seq - b.seq);
  }

  /** hash_bucket_del() + dma_entry_free() (active_cacheline_remove). */
  private removeEntry(e: Entry): void {
    const table = this.tables.get(e.dev)!;
    const b = bucketOf(e.devAddr);
    const bucket = table.buckets.get(b)!;
    bucket.splice(bucket.indexOf(e), 1);
    if (bucket.length === 0) table.buckets.delete(b);
    if (--table.count === 0) this.tables.delete(e.dev);
    if (e.cacheline !== null) {
      const left = (this.activeCachelines.get(e.cacheline) ?? 1) - 1;
      if (left > 0) this.activeCachelines.set(e.cacheline, left);
      else this.activeCachelines.delete(e.cacheline);
    }
  }

  /** The physical address of a coherent allocation's CPU address, or null if it is neither linear nor uncached. */
  private cpuToPhys(dev: DmaDevice, cpuAddr: number): number | null {
    const cpu = dev.env.cpu;
    return cpu.isLinear(cpuAddr) || cpu.isUncached(cpuAddr) ? cpu.virtToPhys(cpuAddr, 'dma-debug') : null;
  }
}
