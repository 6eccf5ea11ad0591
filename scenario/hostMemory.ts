import * as os from 'os';
import { ConfigError, formatJsonPath } from '../sim/engine/errors';
import { parseSize, UnitError } from '../sim/engine/units';
import { estimateSocHostMemory, HISTOGRAM_BYTES } from '../sim/soc/hostMemory';
import type { SocConfig } from '../sim/soc/schema';
import { PLATFORM_DEFAULTS } from '../drivers/platform';
import { needsPlatform, type LoadedScenario } from './load';

/**
 * A run's host-memory estimate and limit (issue 15): the SoC's models (sim/soc/hostMemory.ts)
 * plus what the scenario makes the kernel and the jobs allocate — simulated memory that
 * gets real bytes (physical memory is sparse: a 4 KiB frame is allocated when first
 * written, so buffers that are filled or written, copies and page tables cost their
 * size), the kernel's CMA bitmap and swiotlb slots, per-page bookkeeping, per-line
 * records of displays and cameras, the NIC's receive FIFO slots. A run whose estimate
 * exceeds the limit is refused before anything is built, with the field that dominates.
 */

/**
 * Per 4 KiB page of a buffer or copy: the page's frame in simulated memory, its entry in
 * physical memory's frame lookup (4 B in its 2 MiB region's 2 KiB array; pages of one
 * buffer share regions, and a layout with one page per 2 MiB would cost about 2 KiB more
 * per page than this counts), and driver bookkeeping.
 */
const PAGE_BYTES = 4096 + 160;
/** Per physical page of the CMA region: one byte of its bitmap (drivers/mm/contiguous.ts). */
const CMA_BYTES_PER_PAGE = 1;
/** Per 2 KiB swiotlb slot: list, original address and owner (drivers/dma/swiotlb.ts). */
const SWIOTLB_SLOT_BYTES = 2 + 8 + 4;
const SWIOTLB_SLOT = 2048;
/** The kernel (stats, logs, DMA debug, IOVA domains) and the run's own baseline objects. */
const KERNEL_BYTES = 2 * 1024 * 1024 + 8 * HISTOGRAM_BYTES;

/** A limit the user gave: "4GiB", "512MiB" or bytes. */
export function parseHostMemoryLimit(text: string): number {
  const v = parseSize(text);
  if (!(v >= 1)) throw new UnitError(`must be a positive size, e.g. 4GiB, got ${JSON.stringify(text)}`);
  return v;
}

/** The default limit: half of this machine's memory (other processes, the OS and V8's own overhead need the rest). */
export function defaultHostMemoryLimit(): number {
  return Math.floor(os.totalmem() / 2);
}

/** One counted allocation with the file and the JSON path (from `soc.` or `scenario.`) of the field that sizes it. */
export interface RunHostMemoryItem {
  file: string;
  jsonPath: string;
  component: string;
  bytes: number;
}

function pagesOf(bytes: number): number {
  return Math.ceil(bytes / 4096);
}

/** The estimate of a loaded scenario: the SoC's items, then the kernel's and the jobs'. */
export function estimateRunHostMemory(loaded: LoadedScenario): RunHostMemoryItem[] {
  const { scenario, soc } = loaded;
  const out: RunHostMemoryItem[] = estimateSocHostMemory(soc).map((it) => ({
    file: loaded.socFile, jsonPath: formatJsonPath('soc', it.path), component: `"${it.component}"`, bytes: it.bytes,
  }));
  const add = (path: (string | number)[], component: string, bytes: number): void => {
    out.push({ file: loaded.file, jsonPath: formatJsonPath('scenario', path), component, bytes });
  };

  scenario.init.forEach((f, i) => add(['init', i, 'bytes'], 'init fill', pagesOf(f.bytes) * PAGE_BYTES));
  if (needsPlatform(scenario)) {
    const dram = soc.memories.find((m) => m.kind === 'dram');
    const cma = scenario.kernel.cmaSize ?? PLATFORM_DEFAULTS.cmaSize;
    add(['kernel', 'cmaSize'], 'kernel', KERNEL_BYTES + pagesOf(cma) * CMA_BYTES_PER_PAGE);
    // Passthrough devices are direct-mapped too (the platform then sets up swiotlb; counting every IOMMU device over-estimates only for nv MMUs).
    if (dram && soc.devices.some((d) => d.translation.kind === 'direct' || (scenario.kernel.iommuPassthrough === true && d.translation.kind === 'iommu'))) {
      const swiotlb = Math.min(scenario.kernel.swiotlbSize ?? PLATFORM_DEFAULTS.swiotlbSize, dram.size / 16);
      add(['kernel', 'swiotlbSize'], 'kernel', Math.floor(swiotlb / SWIOTLB_SLOT) * SWIOTLB_SLOT_BYTES);
    }
  }
  // Buffers: every page is written by a fill or by the device sooner or later, plus its page-table share.
  scenario.buffers.forEach((b, i) => add(['buffers', i, 'size'], `buffer "${b.name}"`, pagesOf(b.size) * (PAGE_BYTES + 16)));

  scenario.jobs.forEach((j, i) => {
    for (const [field, bytes] of jobItems(j as unknown as Record<string, unknown>, soc)) add(['jobs', i, ...field], `job "${j.name}"`, bytes);
  });
  return out;
}

type JobItem = [(string | number)[], number];

/** A device config by name, as a record (kind-specific fields). */
function device(soc: SocConfig, name: unknown): Record<string, number> | undefined {
  return soc.devices.find((d) => d.name === name) as unknown as Record<string, number> | undefined;
}

/** What a job's kind allocates beyond its buffers, by the job's fields. */
function jobItems(j: Record<string, unknown>, soc: SocConfig): JobItem[] {
  const num = (v: unknown): number => (typeof v === 'number' ? v : 0);
  switch (j.kind) {
    case 'display':
    case 'camera': {
      // One record per line in the device's buffer (display.ts, camera.ts): 8 + 2 × (12..41) bytes.
      const dev = device(soc, j.device);
      const lineBytes = Math.max(1, num(j.width) * num(j.bytesPerPixel));
      const buffer = num(j.kind === 'display' ? dev?.fifoBytes : dev?.lineBufferBytes);
      const lines = Math.ceil(buffer / lineBytes) + 3;
      return [[['width'], lines * (j.kind === 'display' ? 8 + 2 * 41 : 8 + 2 * 12)]];
    }
    case 'nic': {
      const rx = j.rx as Record<string, number> | undefined;
      const tx = j.tx as Record<string, number> | undefined;
      const items: JobItem[] = [];
      if (rx) {
        const fifo = num(device(soc, j.device)?.rxFifoBytes);
        // Receive FIFO slots (nic.ts), then the ring's buffers and descriptors.
        items.push([['rx', 'packetBytes'], Math.floor(fifo / Math.max(1, rx.packetBytes)) * 16]);
        items.push([['rx', 'ringEntries'], rx.ringEntries * (pagesOf(rx.bufferBytes) * PAGE_BYTES + 64)]);
      }
      if (tx) items.push([['tx', 'ringEntries'], tx.ringEntries * (PAGE_BYTES + 64)]);
      return items;
    }
    case 'gpu': {
      const dev = device(soc, j.device);
      // Per stream: a workload object and a completion slot; transactions carry accessBytes each.
      return [
        [['streams'], num(j.streams) * 512],
        [['accessBytes'], num(dev?.maxOutstanding) * num(j.accessBytes)],
      ];
    }
    case 'dma-copy':
      // Source and destination pages get frames (the copy writes them; verification reads both).
      return [[['bytes'], 2 * pagesOf(num(j.bytes)) * PAGE_BYTES]];
    case 'sg-copy': {
      // Fresh scattered pages per transfer (freed after it, and reused): source and
      // destination. More than DRAM holds fails in the page allocator (ENOMEM) before
      // anything is written: then only the page list of what was allocated is held.
      const pages = 2 * pagesOf(num(j.bytes));
      const dramPages = pagesOf(soc.memories.find((m) => m.kind === 'dram')?.size ?? 0);
      return [[['bytes'], pages > dramPages ? dramPages * 64 : pages * (PAGE_BYTES + 64)]];
    }
    case 'traffic':
      return [[['streams'], (j.streams as unknown[]).length * 512]];
    default:
      return [];
  }
}

function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB', 'EiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) {
    n /= 1024;
    i++;
  }
  return i === 0 ? `${n} bytes` : `${n.toFixed(n < 10 ? 1 : 0)} ${units[i]}`;
}

export { formatBytes as formatHostBytes };

/** Sum of an estimate. */
export function totalHostMemory(items: readonly RunHostMemoryItem[]): number {
  return items.reduce((a, it) => a + it.bytes, 0);
}

/**
 * Refuses a run whose estimate exceeds `limit` bytes: a ConfigError at the field of the
 * largest item (in the file that holds it), with the total, the limit and that item's share.
 * Returns the estimate's total otherwise.
 */
export function checkHostMemory(loaded: LoadedScenario, limit: number, limitName = '--max-host-memory'): number {
  const items = estimateRunHostMemory(loaded);
  const total = totalHostMemory(items);
  if (total <= limit) return total;
  const top = items.reduce((a, b) => (b.bytes > a.bytes ? b : a));
  throw new ConfigError(top.file, top.jsonPath,
    `the run would need about ${formatBytes(total)} of host memory, more than the limit of ${formatBytes(limit)} (${limitName}); ` +
    `${top.component} allocates the most by this field: ${formatBytes(top.bytes)} (see docs/limits.md)`);
}

/** checkHostMemory with the user's limit, or the default (half of this machine's memory) named as such. */
export function checkRunHostMemory(loaded: LoadedScenario, limit: number | undefined): number {
  if (limit !== undefined) return checkHostMemory(loaded, limit);
  const dflt = defaultHostMemoryLimit();
  return checkHostMemory(loaded, dflt, `the default, half of this machine's ${formatBytes(2 * dflt)}; raise it with --max-host-memory`);
}
