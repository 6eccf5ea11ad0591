import { SimInvariantError } from '../sim/engine/errors';
import { MiB, GiB } from '../sim/engine/addr';
import type { Soc } from '../sim/soc/builder';
import { CpuAddressSpace } from './iommu/cpuPgtable';
import { IommuDomain } from './iommu/iommuDomain';
import { Stage2Domain } from './iommu/stage2Domain';
import { iommuAttachIdentity } from './iommu/identityDomain';
import { pgtableOps } from './iommu/pgtableOps';
import { vcmIommuCreate } from './iommu/vcmIommuDriver';
import { Kernel } from './kernel';
import { BuddyAllocator } from './mm/buddy';
import { ContiguousRegion } from './mm/contiguous';
import { mmMisuseSink } from './mm/misuse';
import type { Vcm, VcmEnv } from './vcm/types';
import { vcmO2oCreate } from './vcm/o2o';
import { DmaDebug } from './dma/debug';
import { DmaDevice, type DmaEnv } from './dma/device';
import { DmaDirectOps } from './dma/direct';
import { IommuDmaOps } from './dma/iommuDma';
import { Swiotlb } from './dma/swiotlb';
import { DMA_BIT_MASK } from './dma/types';
import { IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE } from './iommu/ioPgtableArm';
import { KernelCpu, PAGE_OFFSET } from './kernelCpu';

export interface PlatformOptions {
  /** Size of the contiguous (CMA-like) region for one-to-one devices, carved from the bottom of DRAM. */
  cmaSize?: number;
  /** Device address window of each IOMMU VCM context. */
  iovaStart?: number;
  iovaSize?: number;
  /** Virtual address window of the CPU (VMM) VCM context (vmalloc-like). */
  cpuVaStart?: number;
  cpuVaSize?: number;
  /**
   * swiotlb bounce-buffer pool for direct-mapped devices, placed just above the CMA
   * region (low memory, so narrow DMA masks reach it). Default 64 MiB (Linux's
   * IO_TLB_DEFAULT_SIZE), at most DRAM/16, rounded down to whole 256 KiB segments;
   * 0 = no swiotlb. Only allocated when the SoC has a direct-mapped device.
   */
  swiotlbSize?: number;
  /** iommu.strict: invalidate the IOTLB on every unmap (true, arm64's default) or batch through a flush queue (false, lazy). */
  iommuStrict?: boolean;
  /** CONFIG_DMA_API_DEBUG with dma_debug=on (default true). */
  dmaDebug?: boolean;
  /**
   * iommu.passthrough=1: every device behind an IOMMU whose tables io-pgtable builds
   * gets the identity domain (its stream bypasses translation) and dma-direct, as on a
   * direct-mapped device (default false). GPUs behind nv MMUs keep their VMM.
   */
  iommuPassthrough?: boolean;
  /**
   * Run the kernel as a guest over a hypervisor (issue 17): the hypervisor's stage 2
   * (Stage2Domain, VMID `vmid`) maps all of DRAM at IPA = PA with pages of up to
   * `stage2PageSize` (4 KiB or 2 MiB), and every device behind an LPAE IOMMU that would get
   * an IOMMU domain gets a guest domain nested over it (its DMA API uses stage 1, each
   * of whose table reads and outputs stage 2 translates); with iommuPassthrough such a
   * device's stream is stage 2 only. null (default): no hypervisor.
   */
  hypervisor?: HypervisorOptions | null;
}

export interface HypervisorOptions {
  vmid: number;
  stage2PageSize: number;
}

/** What the platform uses for options a caller leaves out. */
export const PLATFORM_DEFAULTS: Readonly<Required<PlatformOptions>> = {
  cmaSize: 64 * MiB,
  iovaStart: 1 * GiB,
  iovaSize: 1 * GiB,
  cpuVaStart: 64 * GiB,
  cpuVaSize: 1 * GiB,
  swiotlbSize: 64 * MiB,
  iommuStrict: true,
  dmaDebug: true,
  iommuPassthrough: false,
  hypervisor: null,
};

/** IO_TLB_SEGSIZE << IO_TLB_SHIFT: the swiotlb pool is a whole number of 256 KiB segments. */
const SWIOTLB_SEGMENT_BYTES = 128 * 2048;

/** What a device driver receives as platform data (dev_get_platdata). */
export type DevicePlatformData =
  | { kind: 'iommu'; device: string; vcm: Vcm; domain: IommuDomain; streamId: number }
  | { kind: 'direct'; device: string; vcm: Vcm; region: ContiguousRegion; dmaMaskBits: number }
  /** Behind an IOMMU in the identity domain (iommu.passthrough=1): DMA addresses are physical; one-to-one VCM over the CMA region. */
  | { kind: 'identity'; device: string; vcm: Vcm; region: ContiguousRegion; iommu: string; streamId: number }
  | { kind: 'unsupported'; device: string; reason: string };

export interface CpuContext {
  mmu: string;
  space: CpuAddressSpace;
  vcm: Vcm;
}

/**
 * The kernel booted on a built SoC (DESIGN.md drivers/platform.ts): the page allocator
 * over DRAM, a contiguous region for direct-mapped devices, a VCM context per IOMMU
 * stream (an IOMMU domain with its own ASID behind a VCM MMU context), a one-to-one VCM
 * context per direct-mapped device, and a VMM context for each CPU MMU. Device drivers
 * get theirs through `platdata(device)`.
 *
 * Which kernel code drives an IOMMU's tables comes from its format's entry in the
 * page-table ops table (iommu/pgtableOps.ts): streams of IOMMUs whose tables an nvkm VMM
 * builds (the nv GPU MMUs) get no domain, so their platform data says so rather than
 * inventing a VCM.
 */
export class Platform {
  readonly kernel: Kernel;
  /** The kernel's CPU loads/stores through the linear map (and the uncached alias). */
  readonly kcpu: KernelCpu;
  /** The DMA API's shared state; `dmaDevice(name)` gives each device's struct device. */
  readonly dma: DmaEnv;
  readonly swiotlb: Swiotlb | null;
  private readonly dmaDevices = new Map<string, DmaDevice>();
  readonly pages: BuddyAllocator;
  readonly cma: ContiguousRegion;
  readonly env: VcmEnv;
  readonly cpus = new Map<string, CpuContext>();
  private readonly platformData = new Map<string, DevicePlatformData>();
  /** The hypervisor's stage 2 for this (guest) kernel, or null when it runs on bare metal. */
  readonly stage2: Stage2Domain | null = null;
  private readonly hypervisor: HypervisorOptions | null;

  /** `kernel`: one already running on `soc` (a SoC has one kernel), or a new one. */
  constructor(readonly soc: Soc, options: PlatformOptions = {}, kernel: Kernel = new Kernel(soc)) {
    const opts = { ...PLATFORM_DEFAULTS, ...options };
    this.hypervisor = opts.hypervisor;
    this.kernel = kernel;
    const dram = soc.config.memories.find((m) => m.kind === 'dram');
    if (!dram) throw new SimInvariantError(`platform: SoC ${soc.config.name} has no DRAM`);
    if (opts.cmaSize >= dram.size) throw new SimInvariantError(`platform: CMA size ${opts.cmaSize} does not fit in DRAM (${dram.size})`);
    this.pages = new BuddyAllocator(dram.base, dram.size);
    // CMA at the bottom of DRAM: the lowest addresses are the ones narrow DMA masks reach.
    this.pages.reserve(dram.base, opts.cmaSize);
    this.cma = new ContiguousRegion('cma', dram.base, opts.cmaSize);
    // Allocator misuse (double free, unknown block) is the kernel's warning, not a socsim bug.
    // (Registered here so every booted kernel's stats show all three; VCM MMU pools share the genpool one.)
    this.pages.misuse.sink = mmMisuseSink(kernel, soc.ctx.stats, 'buddy');
    this.cma.misuse.sink = mmMisuseSink(kernel, soc.ctx.stats, 'cma');
    mmMisuseSink(kernel, soc.ctx.stats, 'genpool');
    this.env = { kernel: this.kernel, pages: this.pages };

    const hasDirect = soc.config.devices.some((d) => d.translation.kind === 'direct' || (opts.iommuPassthrough && d.translation.kind === 'iommu' && passthroughApplies(soc, d.translation.iommu)));
    const swiotlbBytes = Math.floor(Math.min(opts.swiotlbSize, dram.size / 16) / SWIOTLB_SEGMENT_BYTES) * SWIOTLB_SEGMENT_BYTES;
    this.swiotlb = null;
    if (hasDirect && swiotlbBytes > 0) {
      const base = dram.base + opts.cmaSize;
      this.pages.reserve(base, swiotlbBytes);
      this.swiotlb = new Swiotlb(this.kernel, base, swiotlbBytes);
    }

    let asid = 1;
    for (const [name, mmu] of soc.cpuMmus) {
      const space = new CpuAddressSpace(this.kernel, mmu, this.pages, asid++);
      // The kernel's linear map: all of DRAM at PAGE_OFFSET + pa, privileged, the largest blocks alignment allows.
      const rc = space.map(PAGE_OFFSET + dram.base, dram.base, dram.size, IOMMU_READ | IOMMU_WRITE | IOMMU_PRIV);
      if (rc !== 0) throw new SimInvariantError(`platform: linear map of ${name} failed (${rc})`);
      space.activate();
      this.cpus.set(name, { mmu: name, space, vcm: vcmIommuCreate(this.env, opts.cpuVaStart, opts.cpuVaSize, space) });
    }
    const firstCpu = soc.cpuMmus.keys().next().value;
    this.kcpu = new KernelCpu(this.kernel, firstCpu ? soc.cpuMmus.get(firstCpu)! : null, firstCpu ? soc.cpuCaches.get(firstCpu) ?? null : null);
    this.dma = { kernel: this.kernel, cpu: this.kcpu, pages: this.pages, cma: this.cma, debug: opts.dmaDebug ? new DmaDebug(this.kernel) : null };
    const directOps = new DmaDirectOps(this.swiotlb);

    soc.config.devices.forEach((d) => {
      const tr = d.translation;
      if (tr.kind === 'direct') {
        const busDmaLimit = Math.min(DMA_BIT_MASK(tr.dmaMaskBits), tr.window ? tr.window.base + tr.window.size - 1 : Number.MAX_SAFE_INTEGER);
        this.dmaDevices.set(d.name, new DmaDevice(d.name, this.dma, directOps, { coherent: d.coherent, busDmaLimit }));
        if (tr.dmaMaskBits < 64 && dram.base + opts.cmaSize > 2 ** tr.dmaMaskBits) {
          this.platformData.set(d.name, { kind: 'unsupported', device: d.name, reason: `the CMA region ends above its ${tr.dmaMaskBits}-bit DMA mask` });
          return;
        }
        this.platformData.set(d.name, { kind: 'direct', device: d.name, vcm: vcmO2oCreate(this.kernel, this.cma), region: this.cma, dmaMaskBits: tr.dmaMaskBits });
        return;
      }
      const iommu = soc.iommu(tr.iommu);
      const ops = pgtableOps(iommu.format);
      if (ops.family !== 'io-pgtable') {
        this.platformData.set(d.name, { kind: 'unsupported', device: d.name, reason: `IOMMU ${tr.iommu} walks ${iommu.format.name} tables: use the ${ops.family} VMM` });
        return;
      }
      if (opts.iommuPassthrough && ops.usesDmaApi) {
        // iommu.passthrough=1: the identity default domain, and dma-direct (iommu_setup_dma_ops skips identity domains).
        // In a guest, the identity domain is stage 2 only (the device's DMA addresses are IPAs = PAs).
        const s2 = this.guestStage2(dram).stage2;
        const ret = s2 ? s2.attachStage2Only(iommu, tr.streamId) : iommuAttachIdentity(iommu, tr.streamId);
        if (ret !== 0) throw new SimInvariantError(`platform: attaching ${d.name} to ${tr.iommu} stream ${tr.streamId} (identity) failed (${ret})`);
        this.platformData.set(d.name, { kind: 'identity', device: d.name, vcm: vcmO2oCreate(this.kernel, this.cma), region: this.cma, iommu: tr.iommu, streamId: tr.streamId });
        this.dmaDevices.set(d.name, new DmaDevice(d.name, this.dma, directOps, { coherent: d.coherent, busDmaLimit: Number.MAX_SAFE_INTEGER }));
        return;
      }
      const domain = new IommuDomain(this.kernel, iommu, this.pages, asid++, this.guestStage2(dram));
      const ret = domain.attachDevice(tr.streamId);
      if (ret !== 0) throw new SimInvariantError(`platform: attaching ${d.name} to ${tr.iommu} stream ${tr.streamId} failed (${ret})`);
      const vcm = vcmIommuCreate(this.env, opts.iovaStart, opts.iovaSize, domain);
      this.platformData.set(d.name, { kind: 'iommu', device: d.name, vcm, domain, streamId: tr.streamId });
      if (!ops.usesDmaApi) return;
      // iommu-dma shares the domain with the VCM context: the VCM window is reserved in its IOVA space.
      const dmaOps = new IommuDmaOps(this.dma, domain, { strict: opts.iommuStrict, reserved: [{ base: opts.iovaStart, size: opts.iovaSize }] });
      this.dmaDevices.set(d.name, new DmaDevice(d.name, this.dma, dmaOps, { coherent: d.coherent, busDmaLimit: Number.MAX_SAFE_INTEGER }));
    });
  }

  /** The hypervisor's stage 2 (built at the first guest domain), as IommuDomain options; {} on bare metal. */
  private guestStage2(dram: { base: number; size: number }): { stage2?: Stage2Domain } {
    const hyp = this.hypervisor;
    if (hyp === null) return {};
    if (this.stage2 === null) {
      const s2 = new Stage2Domain(this.kernel, this.pages, { vmid: hyp.vmid, maxPageSize: hyp.stage2PageSize });
      // Guest RAM: all of DRAM, IPA = PA.
      const rc = s2.map(dram.base, dram.base, dram.size);
      if (rc !== 0) throw new SimInvariantError(`platform: stage-2 map of guest RAM failed (${rc})`);
      (this as { stage2: Stage2Domain | null }).stage2 = s2;
    }
    return { stage2: this.stage2! };
  }

  /** dev_get_platdata(): the platform data of a device. */
  platdata(device: string): DevicePlatformData {
    const p = this.platformData.get(device);
    if (!p) throw new SimInvariantError(`platform: no device ${device}`);
    return p;
  }

  /** The VCM context of a device (its IOMMU context or its one-to-one context). */
  deviceVcm(device: string): Vcm {
    const p = this.platdata(device);
    if (p.kind === 'unsupported') throw new SimInvariantError(`platform: ${device} has no VCM context: ${p.reason}`);
    return p.vcm;
  }

  /** Whether the device has a struct device for the DMA API (GPUs behind nv MMUs have none). */
  hasDmaDevice(device: string): boolean {
    return this.dmaDevices.has(device);
  }

  /** The device's struct device for the DMA API (direct-mapped or behind an LPAE IOMMU). */
  dmaDevice(device: string): DmaDevice {
    const d = this.dmaDevices.get(device);
    if (d) return d;
    const p = this.platformData.get(device);
    throw new SimInvariantError(`platform: ${p ? `${device} has no DMA API device: ${p.kind === 'unsupported' ? p.reason : p.kind}` : `no device ${device}`}`);
  }

  cpu(name?: string): CpuContext {
    const c = name ? this.cpus.get(name) : this.cpus.values().next().value;
    if (!c) throw new SimInvariantError(`platform: no CPU MMU ${name ?? ''}`);
    return c;
  }
}

/** Whether iommu.passthrough=1 changes the devices of IOMMU `name` (those whose tables io-pgtable builds and that use the DMA API). */
export function passthroughApplies(soc: Soc, name: string): boolean {
  return pgtableOps(soc.iommu(name).format).usesDmaApi;
}

/** Boots the kernel on `soc`. */
export function bootPlatform(soc: Soc, options: PlatformOptions = {}, kernel?: Kernel): Platform {
  return new Platform(soc, options, kernel);
}
