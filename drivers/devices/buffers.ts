/**
 * How a device's buffer is obtained, the way a Linux driver would get it (issue 6,
 * "how each buffer is obtained"). Each provider returns one range of DEVICE addresses
 * (an IOVA behind an IOMMU, a GPU VA behind an nv MMU, a physical address for a direct
 * device) that a workload or a device program can address contiguously.
 *
 *   dma-alloc-coherent  dmaAllocCoherent(dev, size)
 *   dma-map-single      a physically contiguous kernel buffer + dmaMapSingle(dev, …, dir)
 *   dma-map-sg          one page per scatterlist entry + dmaMapSg(dev, …); needs the
 *                       segments to form one device-contiguous range (an IOMMU merges
 *                       them; a direct device only if the pages happen to be adjacent)
 *   vcm                 vcmMakeBinding on the device's VCM context (IOMMU or one-to-one)
 *   nvkm                nvkmVmmGet + nvkmVmmMap on the GPU's VMM with a chosen page size
 *   physical            a contiguous block of physical memory used as is (direct devices)
 *
 * Failures throw a KernelError naming the call and carrying the errno the kernel
 * returned (converted by drivers/errno.ts), which the scenario runner reports with the
 * buffer's name.
 */
import { hex } from '../../sim/engine/addr';
import { PageFlag } from '../../sim/mmu/format/types';
import { errFromRet, KernelError, unwrapErrPtr } from '../errno';
import { dmaAllocCoherent, dmaFreeCoherent, dmaMapSingle, dmaMapSg, dmaMappingError, dmaSyncSgForDevice, dmaSyncSingleForDevice, dmaUnmapSg, dmaUnmapSingle } from '../dma/mapping';
import { DMA_BIDIRECTIONAL, DMA_FROM_DEVICE, DMA_TO_DEVICE, sgInitTable, sgSetPage, type DmaDataDirection } from '../dma/types';
import {
  NvkmMmu,
  nvkmMemoryContig,
  nvkmMemoryDma,
  nvkmVmmGet,
  nvkmVmmJoin,
  nvkmVmmMap,
  nvkmVmmNew,
  nvkmVmmPut,
  nvkmVmmUnmap,
  type NvkmMemory,
  type NvkmVmm,
} from '../iommu/nvkm';
import { vcmActivate, vcmDestroyBinding, vcmMakeBinding } from '../vcm';
import type { Platform } from '../platform';

export type BufferVia = 'dma-alloc-coherent' | 'dma-map-single' | 'dma-map-sg' | 'vcm' | 'nvkm' | 'physical';
export type BufferDirection = 'to-device' | 'from-device' | 'bidirectional';

export interface BufferSpec {
  name: string;
  device: string;
  size: number;
  via: BufferVia;
  /** Direction of streaming mappings (dma-map-single, dma-map-sg). */
  direction?: BufferDirection;
  /** nvkm: GPU page size in bytes (4 KiB, 64/128 KiB large pages, 2 MiB). */
  pageSize?: number;
}

export interface DeviceBuffer {
  readonly spec: BufferSpec;
  /** First device address of the contiguous range the device uses. */
  readonly deviceAddr: number;
  readonly size: number;
  /** Kernel virtual address of the memory, when the kernel has one. */
  readonly cpuAddr: number | null;
  /** Physical pages (or blocks) behind it, in device-address order: [pa, bytes]. */
  readonly backing: ReadonlyArray<readonly [number, number]>;
  /**
   * Hands memory the CPU (or a test) wrote through `backing` to the device: for
   * streaming mappings dma_sync_*_for_device, which also copies into a swiotlb bounce
   * slot; nothing for coherent and IOMMU-only buffers.
   */
  syncForDevice(): void;
  /** Unmaps and frees, as the driver's remove would. */
  release(): void;
}

const NO_SYNC = (): void => {};

const DIRS: Record<BufferDirection, DmaDataDirection> = {
  'to-device': DMA_TO_DEVICE,
  'from-device': DMA_FROM_DEVICE,
  bidirectional: DMA_BIDIRECTIONAL,
};

const PAGE = 4096;
/** GPU VA window of every per-device VMM: [4 GiB, 4 GiB + 16 GiB). */
const GPU_VA_BASE = 2 ** 32;
const GPU_VA_SIZE = 16 * 2 ** 30;

/** Per-platform driver state the providers share: one nvkm VMM per GPU device. */
export class DeviceContexts {
  private readonly vmms = new Map<string, NvkmVmm>();
  private mmu: NvkmMmu | null = null;
  private nextAsid = 200;

  constructor(readonly platform: Platform) {}

  /** The GPU's VMM (nvkm_vmm_new + join on its stream), created on first use. */
  gpuVmm(device: string): NvkmVmm {
    const existing = this.vmms.get(device);
    if (existing) return existing;
    const p = this.platform;
    const cfg = p.soc.config.devices.find((d) => d.name === device);
    if (!cfg || cfg.translation.kind !== 'iommu') throw new KernelError('ENODEV', 'nvkm_vmm_new', `${device} is not behind a GPU MMU`);
    const iommu = p.soc.iommu(cfg.translation.iommu);
    this.mmu ??= new NvkmMmu(p.kernel, p.pages, 'gpu');
    const vmm = unwrapErrPtr(nvkmVmmNew(this.mmu, iommu, GPU_VA_BASE, GPU_VA_SIZE, { name: device, asid: this.nextAsid++ }), 'nvkm_vmm_new', device);
    const rc = nvkmVmmJoin(vmm, cfg.translation.streamId);
    if (rc !== 0) throw errFromRet(rc, 'nvkm_vmm_join', device);
    this.vmms.set(device, vmm);
    return vmm;
  }
}

/** Obtains the buffer `spec` describes. Throws KernelError when the kernel call fails. */
export function obtainBuffer(ctx: DeviceContexts, spec: BufferSpec): DeviceBuffer {
  switch (spec.via) {
    case 'dma-alloc-coherent':
      return coherentBuffer(ctx.platform, spec);
    case 'dma-map-single':
      return mapSingleBuffer(ctx.platform, spec);
    case 'dma-map-sg':
      return mapSgBuffer(ctx.platform, spec);
    case 'vcm':
      return vcmBuffer(ctx.platform, spec);
    case 'nvkm':
      return nvkmBuffer(ctx, spec);
    case 'physical':
      return physicalBuffer(ctx.platform, spec);
  }
}

function coherentBuffer(p: Platform, spec: BufferSpec): DeviceBuffer {
  const dev = p.dmaDevice(spec.device);
  const buf = dmaAllocCoherent(dev, spec.size);
  if (!buf) throw new KernelError('ENOMEM', 'dma_alloc_coherent', `${spec.name}: ${spec.size} bytes for ${spec.device}`);
  const pa = p.kcpu.virtToPhys(buf.cpuAddr);
  return {
    spec, deviceAddr: buf.dmaHandle, size: spec.size, cpuAddr: buf.cpuAddr, backing: [[pa, spec.size]], syncForDevice: NO_SYNC,
    release: () => dmaFreeCoherent(dev, spec.size, buf.cpuAddr, buf.dmaHandle),
  };
}

/** A physically contiguous block: buddy pages up to 4 MiB (kmalloc/alloc_pages), else the CMA region. */
function contiguous(p: Platform, size: number, call: string): { pa: number; free: () => void } {
  const pages = Math.ceil(size / PAGE);
  const order = Math.ceil(Math.log2(pages));
  if (order <= p.pages.maxOrder) {
    const pa = p.pages.allocPages(order);
    if (pa !== null) return { pa, free: () => p.pages.freePages(pa, order) };
  }
  const pa = p.cma.alloc(size, Math.min(order, 9));
  if (pa === null) throw new KernelError('ENOMEM', call, `no ${size} contiguous bytes`);
  return { pa, free: () => p.cma.release(pa, pages * PAGE) };
}

function mapSingleBuffer(p: Platform, spec: BufferSpec): DeviceBuffer {
  const dev = p.dmaDevice(spec.device);
  const dir = DIRS[spec.direction ?? 'bidirectional'];
  const mem = contiguous(p, spec.size, 'dma_map_single');
  const va = p.kcpu.physToVirt(mem.pa);
  const addr = dmaMapSingle(dev, va, spec.size, dir);
  if (dmaMappingError(dev, addr)) {
    mem.free();
    throw new KernelError('ENOMEM', 'dma_map_single', `${spec.name}: mapping ${spec.size} bytes at ${hex(mem.pa)} for ${spec.device} failed`);
  }
  return {
    spec, deviceAddr: addr, size: spec.size, cpuAddr: va, backing: [[mem.pa, spec.size]],
    syncForDevice: () => dmaSyncSingleForDevice(dev, addr, spec.size, dir),
    release: () => {
      dmaUnmapSingle(dev, addr, spec.size, dir);
      mem.free();
    },
  };
}

function mapSgBuffer(p: Platform, spec: BufferSpec): DeviceBuffer {
  const dev = p.dmaDevice(spec.device);
  const dir = DIRS[spec.direction ?? 'bidirectional'];
  const n = Math.ceil(spec.size / PAGE);
  const pages: number[] = [];
  const freeAll = () => pages.forEach((pa) => p.pages.freePages(pa, 0));
  for (let i = 0; i < n; i++) {
    const pa = p.pages.allocPages(0);
    if (pa === null) {
      freeAll();
      throw new KernelError('ENOMEM', 'alloc_page', `${spec.name}: page ${i} of ${n}`);
    }
    pages.push(pa);
  }
  const sgl = sgInitTable(n);
  pages.forEach((pa, i) => sgSetPage(sgl[i], pa, Math.min(PAGE, spec.size - i * PAGE), 0));
  const count = dmaMapSg(dev, sgl, n, dir);
  if (count === 0) {
    freeAll();
    throw new KernelError('ENOMEM', 'dma_map_sg', `${spec.name}: ${n} entries for ${spec.device}`);
  }
  for (let i = 1; i < count; i++) {
    if (sgl[i].dmaAddress !== sgl[i - 1].dmaAddress + sgl[i - 1].dmaLength) {
      dmaUnmapSg(dev, sgl, n, dir);
      freeAll();
      throw new KernelError('EINVAL', 'dma_map_sg', `${spec.name}: ${count} segments are not contiguous in ${spec.device}'s address space (segment ${i} at ${hex(sgl[i].dmaAddress)}): a workload needs one range; use a device behind an IOMMU`);
    }
  }
  return {
    spec, deviceAddr: sgl[0].dmaAddress, size: spec.size, cpuAddr: null, backing: pages.map((pa) => [pa, PAGE] as const),
    syncForDevice: () => dmaSyncSgForDevice(dev, sgl, n, dir),
    release: () => {
      dmaUnmapSg(dev, sgl, n, dir);
      freeAll();
    },
  };
}

function vcmBuffer(p: Platform, spec: BufferSpec): DeviceBuffer {
  const vcm = p.deviceVcm(spec.device);
  if (vcm.activations === 0) {
    const rc = vcmActivate(vcm);
    if (rc !== 0) throw errFromRet(rc, 'vcm_activate', spec.device);
  }
  const res = vcmMakeBinding(vcm, spec.size, 0, 0);
  const backing: Array<readonly [number, number]> = [];
  for (const part of res.phys?.parts ?? []) backing.push([part.start, part.size] as const);
  return { spec, deviceAddr: res.start, size: spec.size, cpuAddr: null, backing, syncForDevice: NO_SYNC, release: () => vcmDestroyBinding(res) };
}

function nvkmBuffer(ctx: DeviceContexts, spec: BufferSpec): DeviceBuffer {
  const p = ctx.platform;
  const vmm = ctx.gpuVmm(spec.device);
  const pageSize = spec.pageSize ?? PAGE;
  const shift = Math.log2(pageSize);
  // Only page sizes that can map memory (VRAM or host); the sparse-only levels cannot.
  const mappable = vmm.page.filter((pg) => (pg.type & (PageFlag.VRAM | PageFlag.HOST)) !== 0);
  if (!mappable.some((pg) => pg.shift === shift)) {
    throw new KernelError('EINVAL', 'nvkm_vmm_get', `${spec.name}: ${vmm.iommu.format.name} has no ${pageSize}-byte pages (it has ${mappable.map((pg) => 2 ** pg.shift).sort((a, b) => a - b).join(', ')})`);
  }
  const size = Math.ceil(spec.size / pageSize) * pageSize;
  const frees: Array<() => void> = [];
  const undo = () => {
    while (frees.length > 0) frees.pop()!();
  };
  const backing: Array<readonly [number, number]> = [];
  let memory: NvkmMemory;
  if (shift === 12) {
    const pages: number[] = [];
    for (let i = 0; i < size / PAGE; i++) {
      const pa = p.pages.allocPages(0);
      if (pa === null) {
        undo();
        throw new KernelError('ENOMEM', 'alloc_page', `${spec.name}: page ${i} of ${size / PAGE}`);
      }
      pages.push(pa);
      backing.push([pa, PAGE]);
      frees.push(() => p.pages.freePages(pa, 0));
    }
    memory = nvkmMemoryDma('host', pages);
  } else {
    // Large pages need physically contiguous, page-aligned memory (VRAM on a real GPU).
    const pa = p.cma.alloc(size, Math.min(shift - 12, 9));
    if (pa !== null) frees.push(() => p.cma.release(pa, size));
    if (pa === null || pa % pageSize !== 0) {
      undo();
      throw new KernelError('ENOMEM', 'nvkm_mem_new', `${spec.name}: ${size} contiguous bytes aligned to ${pageSize}`);
    }
    backing.push([pa, size]);
    memory = nvkmMemoryContig('vram', pa, size, shift);
  }
  const vma = nvkmVmmGet(vmm, shift, size);
  if (typeof vma === 'number') {
    undo();
    throw errFromRet(vma, 'nvkm_vmm_get', spec.name);
  }
  frees.push(() => nvkmVmmPut(vmm, vma));
  const rc = nvkmVmmMap(vmm, vma, null, { memory });
  if (rc !== 0) {
    undo();
    throw errFromRet(rc, 'nvkm_vmm_map', spec.name);
  }
  return {
    spec, deviceAddr: vma.addr, size: spec.size, cpuAddr: null, backing, syncForDevice: NO_SYNC,
    release: () => {
      nvkmVmmUnmap(vmm, vma);
      undo();
    },
  };
}

function physicalBuffer(p: Platform, spec: BufferSpec): DeviceBuffer {
  const mem = contiguous(p, spec.size, 'alloc_pages');
  return { spec, deviceAddr: mem.pa, size: spec.size, cpuAddr: p.kcpu.physToVirt(mem.pa), backing: [[mem.pa, spec.size]], syncForDevice: NO_SYNC, release: mem.free };
}
