/**
 * Host memory of 1 M live 4 KiB streaming mappings (issue 16: under 600 MB RSS).
 *
 * The storage device of server-io (behind the LPAE IOMMU, 64-bit DMA mask) maps 1 M
 * distinct 4 KiB kernel pages with dma_map_single and keeps them all mapped. Each
 * configuration runs in a fresh Node process with --expose-gc, and the figures are
 * differences of heap + array-buffer bytes after a full GC, so they are bytes held, not
 * garbage. Attribution by structure, one process each:
 *   - iova: the IOVA allocator alone (IovaDomain rbtree nodes + allocations, as
 *     iommu-dma allocates them: size-aligned, below the device's limit, no rcache hits);
 *   - page tables: the simulated memory frames that hold the PTE/PDE pages (4 KiB each,
 *     PhysicalMemory) plus their JS objects, from the kernel mapping run;
 *   - iommu-dma + IOMMU domain bookkeeping: the rest of a mapping run with dma-debug off;
 *   - dma-debug entries: a run with dma-debug on minus one with it off.
 * TLB and walk-cache state are fixed-size arrays allocated when the SoC is built; they do
 * not grow with mappings (the boot figure includes them). Prints; never asserts.
 */
import { createSimContext } from '../sim/engine/context';
import { buildSoc, loadSocConfig } from '../sim/soc/builder';
import { bootPlatform } from '../drivers/platform';
import { dmaMapSingle, dmaSetMaskAndCoherent } from '../drivers/dma/mapping';
import { DMA_BIDIRECTIONAL, DMA_BIT_MASK, DMA_MAPPING_ERROR } from '../drivers/dma/types';
import { IovaDomain, iommuDmaAllocIova } from '../drivers/dma/iova';
import { benchChildJson, bundled } from './paths';
import type { BenchResult } from './result';

/** The figure: 1 M live mappings (tests use fewer). */
const DEFAULT_MAPPINGS = 1 << 20;
const PAGE = 4096;
const MiB = 1024 * 1024;
/** Pages per buddy allocation (order 10: 4 MiB blocks), carved into 4 KiB buffers. */
const BLOCK_ORDER = 10;

interface Figures {
  /** Heap + array buffers held after a full GC, before and after the mappings. */
  before: number;
  after: number;
  rss: number;
  /** Simulated memory frames allocated by the mappings (page-table pages). */
  tableFrames: number;
}

function heldBytes(): number {
  const gc = (globalThis as unknown as { gc: () => void }).gc;
  // Twice: V8 releases dead array buffers on a concurrent sweeper after a collection,
  // and only the next collection waits for it. After one, `arrayBuffers` still counted
  // 0-3 MB of freed buffers, a different amount in every child (64 K mappings: the
  // iommu-dma share ranged from -14 to 98 B per mapping; after two, 48-50).
  gc();
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** In the child: 1 M dma_map_single of distinct pages on server-io's storage device. */
function mapAll(dmaDebug: boolean, mappings: number): Figures {
  const file = bundled('server-io.json');
  const soc = buildSoc(createSimContext(1), loadSocConfig(file), file);
  const platform = bootPlatform(soc, { dmaDebug });
  const dev = platform.dmaDevice('storage');
  if (dmaSetMaskAndCoherent(dev, DMA_BIT_MASK(64)) !== 0) throw new Error('mappings bench: 64-bit mask refused');
  const blocks: number[] = [];
  for (let i = 0; i < Math.ceil(mappings / (1 << BLOCK_ORDER)); i++) {
    const pa = platform.pages.allocPages(BLOCK_ORDER);
    if (pa === null) throw new Error('mappings bench: out of pages');
    blocks.push(platform.kcpu.physToVirt(pa));
  }
  const frames0 = soc.physmem.framesAllocated;
  const before = heldBytes();
  for (let i = 0; i < mappings; i++) {
    const va = blocks[i >> BLOCK_ORDER] + (i & ((1 << BLOCK_ORDER) - 1)) * PAGE;
    if (dmaMapSingle(dev, va, PAGE, DMA_BIDIRECTIONAL) === DMA_MAPPING_ERROR) throw new Error(`mappings bench: map ${i} failed`);
  }
  const after = heldBytes();
  const figures = { before, after, rss: process.memoryUsage().rss, tableFrames: soc.physmem.framesAllocated - frames0 };
  // Keep the platform reachable until the figures are taken.
  if (platform.dmaDevice('storage') !== dev) throw new Error('unreachable');
  return figures;
}

/** In the child: the IOVA allocator alone, allocating as iommu-dma does for 4 KiB maps. */
function iovaOnly(mappings: number): Figures {
  const iovad = new IovaDomain(PAGE, 1, { warn: () => undefined });
  const before = heldBytes();
  for (let i = 0; i < mappings; i++) {
    if (iommuDmaAllocIova(iovad, PAGE, DMA_BIT_MASK(48)) === null) throw new Error(`mappings bench: IOVA ${i} failed`);
  }
  const after = heldBytes();
  // Keep the domain reachable until the figures are taken (else GC frees it first).
  if (iovad.findIova(iovad.dma32bitPfn - 1) === null) throw new Error('mappings bench: IOVA below 4 GiB not found');
  return { before, after, rss: process.memoryUsage().rss, tableFrames: 0 };
}

function runChild(what: string, mappings: number): Figures {
  return benchChildJson<Figures>(__filename, ['child', what, String(mappings)], `mappings bench (${what})`, ['--expose-gc', '--max-old-space-size=4096']);
}

export function runMappingsBench(mappings = DEFAULT_MAPPINGS): BenchResult[] {
  const debugOn = runChild('debug-on', mappings);
  const debugOff = runChild('debug-off', mappings);
  const iova = runChild('iova', mappings);
  const perMap = (bytes: number) => bytes / mappings;
  const tableBytes = debugOff.tableFrames * PAGE;
  const grownOff = debugOff.after - debugOff.before;
  const grownOn = debugOn.after - debugOn.before;
  const iovaBytes = iova.after - iova.before;
  const n = `${mappings} live 4 KiB dma_map_single mappings, storage device of server-io`;
  return [
    { name: 'mappings.rss', value: debugOn.rss / MiB, unit: 'MiB', note: `${n}, dma-debug on (target < 600 MB = ${(600e6 / MiB).toFixed(0)} MiB)` },
    { name: 'mappings.rss_no_debug', value: debugOff.rss / MiB, unit: 'MiB', note: `${n}, dma-debug off` },
    { name: 'mappings.bytes_per_map.total', value: perMap(grownOn), unit: 'B', note: 'heap + array buffers held per mapping, dma-debug on' },
    { name: 'mappings.bytes_per_map.iova', value: perMap(iovaBytes), unit: 'B', note: 'IovaDomain alone (rbtree node per allocation)' },
    { name: 'mappings.bytes_per_map.page_tables', value: perMap(tableBytes), unit: 'B', note: `${debugOff.tableFrames} table pages of 4 KiB in simulated memory` },
    { name: 'mappings.bytes_per_map.iommu_dma', value: perMap(grownOff - iovaBytes - tableBytes), unit: 'B', note: 'the rest with dma-debug off: iommu-dma live-mapping map, frame objects, domain bookkeeping' },
    { name: 'mappings.bytes_per_map.dma_debug', value: perMap(grownOn - grownOff), unit: 'B', note: 'dma-debug entries, hash buckets, cacheline tracking' },
  ];
}

if (require.main === module) {
  if (process.argv[2] === 'child') {
    const what = process.argv[3];
    const mappings = Number(process.argv[4]);
    const figures = what === 'iova' ? iovaOnly(mappings) : mapAll(what === 'debug-on', mappings);
    console.log(JSON.stringify(figures));
  } else {
    const { formatResult } = require('./result') as typeof import('./result');
    for (const r of runMappingsBench()) console.log(formatResult(r));
  }
}
