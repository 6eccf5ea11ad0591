import { HISTOGRAM_BUCKETS } from '../engine/histogram';
import type { SocConfig } from './schema';
import { resolveDramParams } from '../mem/dramSpec';

/**
 * Host-memory estimate of a SoC config (issue 15): what the models allocate, from the
 * config alone, before anything is built. Each model's up-front arrays are sized by a few
 * fields (TLB and walk-cache entries, cache bytes, queue depths, banks, in-flight
 * transactions); each field may be legal on its own while their sum exhausts the host,
 * so a run adds them up and refuses with the field that dominates
 * (scenario/hostMemory.ts). The per-unit byte counts below are read off the models'
 * typed arrays; test/scenario/hostMemory.test.ts checks the sum against measured heap
 * growth. Small fixed costs (objects, counters, closures) are one `COMPONENT_BYTES` per
 * component.
 */

/** One allocation the estimate counts: the JSON path of the field that sizes it (under `soc`), who allocates it, and bytes. */
export interface HostMemoryItem {
  /** JSON path of the dominating field, e.g. ['iommus', 0, 'l2Tlb', 'entries'] (relative to the root the caller names). */
  path: (string | number)[];
  /** Component (or job) name, for the message. */
  component: string;
  bytes: number;
}

/** A histogram's bucket array (log-linear, sim/engine/histogram.ts) plus its object. */
export const HISTOGRAM_BYTES = HISTOGRAM_BUCKETS * 8 + 256;
/** Fixed cost of a component: its objects, ports, counters and closures (measured: a few KiB). */
export const COMPONENT_BYTES = 16 * 1024;
/** Per TLB entry: valid, asid, size index, vpn, va, pa, perms, stamp, plru, valid list and position (tlb.ts). */
export const TLB_ENTRY_BYTES = 1 + 4 + 1 + 8 + 8 + 8 + 1 + 8 + 1 + 4 + 4;
/** Per walk-cache entry: valid, asid, tag, addr, addr2, stamp (walkCache.ts). */
export const WALK_CACHE_ENTRY_BYTES = 1 + 4 + 8 + 8 + 8 + 8;
/** Per cache line slot besides its data: tag, state, stamp (cpuCache.ts). */
export const CACHE_SLOT_BYTES = 8 + 1 + 8;
/** Per queued request of a memory's or a bridge's FIFO: the transaction pointer and two ticks. */
export const QUEUE_ENTRY_BYTES = 8 + 8 + 8;
/** FR-FCFS request table row (dram.ts): offset, size, accept, arrival, row (doubles), bank, free-stack id, queue id (int32), transaction slot. */
export const FRFCFS_REQUEST_BYTES = 5 * 8 + 3 * 4 + 8;
/** Per crossbar input queue entry: pointer, output, ready and base ticks (crossbar.ts). */
export const XBAR_ENTRY_BYTES = 8 + 4 + 8 + 8;
/** Per DRAM bank: open row, stamp, column-ready and last-activate ticks (dram.ts). */
export const DRAM_BANK_BYTES = 4 * 8;
/** A transaction object in flight (transaction.ts) besides its payload buffer. */
export const TRANSACTION_BYTES = 256;

/** A TLB of `entries` entries and `mshrs` MSHRs. */
function tlbBytes(entries: number, mshrs: number): number {
  return entries * TLB_ENTRY_BYTES + mshrs * 13;
}

/** Masters attached to each bus (the crossbar keeps an input FIFO per master). */
function inputsPerBus(c: SocConfig): Map<string, number> {
  const n = new Map<string, number>();
  const add = (bus: string): void => {
    n.set(bus, (n.get(bus) ?? 0) + 1);
  };
  // Every device has an input on its bus (behind an IOMMU too: its attach point); a unit has two (traffic and walker).
  for (const d of c.devices) add(d.bus);
  for (const u of [...c.iommus, ...c.cpuMmus]) {
    add(u.bus);
    add(u.bus);
  }
  for (const b of c.bridges) add(b.to);
  return n;
}

/** Slaves attached to each bus (an output port with its histogram each). */
function outputsPerBus(c: SocConfig): Map<string, number> {
  const n = new Map<string, number>();
  for (const m of c.memories) n.set(m.bus, (n.get(m.bus) ?? 0) + 1);
  for (const b of c.bridges) n.set(b.from, (n.get(b.from) ?? 0) + 1);
  return n;
}

/** The estimate of a SoC config, one item per sized allocation (paths relative to the SoC config). */
export function estimateSocHostMemory(c: SocConfig): HostMemoryItem[] {
  const items: HostMemoryItem[] = [];
  const add = (path: (string | number)[], component: string, bytes: number): void => {
    items.push({ path, component, bytes });
  };

  c.memories.forEach((m, i) => {
    if (m.kind === 'dram') {
      const d = resolveDramParams(m);
      add(['memories', i, 'banks'], m.name, COMPONENT_BYTES + HISTOGRAM_BYTES + m.channels * d.banks * DRAM_BANK_BYTES);
      // fcfs: a pending-queue entry per request slot; fr-fcfs: a request-table row per read
      // and write slot plus its id in the channel's read or write queue.
      const slots = m.scheduler === 'fr-fcfs' ? m.queueDepth + m.writeQueueDepth : m.queueDepth;
      add(['memories', i, 'queueDepth'], m.name, m.channels * slots * (m.scheduler === 'fr-fcfs' ? FRFCFS_REQUEST_BYTES : QUEUE_ENTRY_BYTES));
    } else {
      add(['memories', i, 'queueDepth'], m.name, COMPONENT_BYTES + HISTOGRAM_BYTES + m.queueDepth * QUEUE_ENTRY_BYTES);
    }
  });

  const inputs = inputsPerBus(c);
  const outputs = outputsPerBus(c);
  c.buses.forEach((b, i) => {
    const nIn = inputs.get(b.name) ?? 0;
    const nOut = outputs.get(b.name) ?? 0;
    const ports = (nIn + nOut) * (COMPONENT_BYTES / 4 + HISTOGRAM_BYTES);
    add(['buses', i, 'inputQueueDepth'], b.name, COMPONENT_BYTES + ports + nIn * (b.inputQueueDepth * XBAR_ENTRY_BYTES + 1024 * 20));
  });

  c.bridges.forEach((b, i) => {
    let cap = 4;
    while (cap < b.queueDepth) cap *= 2;
    add(['bridges', i, 'queueDepth'], b.name, COMPONENT_BYTES + HISTOGRAM_BYTES + cap * 16);
  });

  const unit = (
    root: 'iommus' | 'cpuMmus', i: number, name: string,
    u: SocConfig['iommus'][number] | SocConfig['cpuMmus'][number], l1Count: number,
  ): void => {
    // The walker's two histograms (latency in ns and in cycles) and the unit's objects.
    add([root, i, 'l2Tlb', 'entries'], name, 2 * COMPONENT_BYTES + 2 * HISTOGRAM_BYTES + tlbBytes(u.l2Tlb.entries, u.l2Tlb.mshrs));
    add([root, i, 'l1Tlb', 'entries'], name, l1Count * (COMPONENT_BYTES / 4 + tlbBytes(u.l1Tlb.entries, u.l1Tlb.mshrs)));
    u.walker.walkCaches.forEach((w, k) => add([root, i, 'walker', 'walkCaches', k, 'entries'], name, w.entries * WALK_CACHE_ENTRY_BYTES));
  };
  c.iommus.forEach((u, i) => {
    const devices = c.devices.filter((d) => d.translation.kind === 'iommu' && d.translation.iommu === u.name).length;
    unit('iommus', i, u.name, u, devices);
  });
  c.cpuMmus.forEach((u, i) => {
    // An L1 DTLB per core, plus the kernel's CPU accessor.
    unit('cpuMmus', i, u.name, u, u.cores.length + 1);
    if (u.cache) {
      const k = u.cache;
      const slots = k.sizeBytes / k.lineBytes;
      add(['cpuMmus', i, 'cache', 'sizeBytes'], u.name, k.sizeBytes + slots * CACHE_SLOT_BYTES + (slots / k.ways) * 4);
      add(['cpuMmus', i, 'cache', 'mshrs'], u.name, k.mshrs * (2 * k.lineBytes + TRANSACTION_BYTES));
    }
    u.cores.forEach((core, j) => {
      add(['cpuMmus', i, 'cores', j, 'maxOutstanding'], core.name,
        COMPONENT_BYTES + HISTOGRAM_BYTES + (core.maxOutstanding + core.storeBuffer) * (TRANSACTION_BYTES + 64 + 8));
    });
  });

  c.devices.forEach((d, i) => {
    const p = d as unknown as { name: string; kind: string; maxOutstanding?: number; burstBytes?: number; fifoBytes?: number; lineBufferBytes?: number };
    const hists = p.kind === 'display' ? 3 : 1;
    const burst = p.burstBytes ?? 256;
    // Transactions in flight, each with its payload buffer (pools grow to maxOutstanding).
    add(['devices', i, 'maxOutstanding'], p.name, COMPONENT_BYTES + hists * HISTOGRAM_BYTES + (p.maxOutstanding ?? 1) * (TRANSACTION_BYTES + burst + 8));
    // The display's and camera's request records: one per burst of their buffer (plus per-line records, counted with the job).
    if (p.fifoBytes !== undefined) add(['devices', i, 'fifoBytes'], p.name, Math.ceil(p.fifoBytes / burst) * 41);
    if (p.lineBufferBytes !== undefined) add(['devices', i, 'lineBufferBytes'], p.name, Math.ceil(p.lineBufferBytes / burst) * 12);
  });
  return items;
}
