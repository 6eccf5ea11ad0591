import { SimInvariantError } from '../sim/engine/errors';
import { MiB, GiB } from '../sim/engine/addr';
import type { Soc } from '../sim/soc/builder';
import { CpuAddressSpace } from './iommu/cpuPgtable';
import { IommuDomain } from './iommu/iommuDomain';
import { vcmIommuCreate } from './iommu/vcmIommuDriver';
import { Kernel } from './kernel';
import { BuddyAllocator } from './mm/buddy';
import { ContiguousRegion } from './mm/contiguous';
import type { Vcm, VcmEnv } from './vcm/types';
import { vcmO2oCreate } from './vcm/o2o';

export interface PlatformOptions {
  /** Size of the contiguous (CMA-like) region for one-to-one devices, carved from the bottom of DRAM. */
  cmaSize?: number;
  /** Device address window of each IOMMU VCM context. */
  iovaStart?: number;
  iovaSize?: number;
  /** Virtual address window of the CPU (VMM) VCM context (vmalloc-like). */
  cpuVaStart?: number;
  cpuVaSize?: number;
}

const DEFAULTS: Required<PlatformOptions> = {
  cmaSize: 64 * MiB,
  iovaStart: 1 * GiB,
  iovaSize: 1 * GiB,
  cpuVaStart: 64 * GiB,
  cpuVaSize: 1 * GiB,
};

/** What a device driver receives as platform data (dev_get_platdata). */
export type DevicePlatformData =
  | { kind: 'iommu'; device: string; vcm: Vcm; domain: IommuDomain; streamId: number }
  | { kind: 'direct'; device: string; vcm: Vcm; region: ContiguousRegion; dmaMaskBits: number }
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
 * Streams of IOMMUs whose format is not arm-lpae-4k (the nv GPU MMUs) are programmed by
 * the nvkm VMM instead, so their platform data says so rather than inventing a VCM.
 */
export class Platform {
  readonly kernel: Kernel;
  readonly pages: BuddyAllocator;
  readonly cma: ContiguousRegion;
  readonly env: VcmEnv;
  readonly cpus = new Map<string, CpuContext>();
  private readonly platformData = new Map<string, DevicePlatformData>();

  /** `kernel`: one already running on `soc` (a SoC has one kernel), or a new one. */
  constructor(readonly soc: Soc, options: PlatformOptions = {}, kernel: Kernel = new Kernel(soc)) {
    const opts = { ...DEFAULTS, ...options };
    this.kernel = kernel;
    const dram = soc.config.memories.find((m) => m.kind === 'dram');
    if (!dram) throw new SimInvariantError(`platform: SoC ${soc.config.name} has no DRAM`);
    if (opts.cmaSize >= dram.size) throw new SimInvariantError(`platform: CMA size ${opts.cmaSize} does not fit in DRAM (${dram.size})`);
    this.pages = new BuddyAllocator(dram.base, dram.size);
    // CMA at the bottom of DRAM: the lowest addresses are the ones narrow DMA masks reach.
    this.pages.reserve(dram.base, opts.cmaSize);
    this.cma = new ContiguousRegion('cma', dram.base, opts.cmaSize);
    this.env = { kernel: this.kernel, pages: this.pages };

    let asid = 1;
    for (const [name, mmu] of soc.cpuMmus) {
      const space = new CpuAddressSpace(this.kernel, mmu, this.pages, asid++);
      space.activate();
      this.cpus.set(name, { mmu: name, space, vcm: vcmIommuCreate(this.env, opts.cpuVaStart, opts.cpuVaSize, space) });
    }

    soc.config.devices.forEach((d) => {
      const tr = d.translation;
      if (tr.kind === 'direct') {
        if (tr.dmaMaskBits < 64 && dram.base + opts.cmaSize > 2 ** tr.dmaMaskBits) {
          this.platformData.set(d.name, { kind: 'unsupported', device: d.name, reason: `the CMA region ends above its ${tr.dmaMaskBits}-bit DMA mask` });
          return;
        }
        this.platformData.set(d.name, { kind: 'direct', device: d.name, vcm: vcmO2oCreate(this.kernel, this.cma), region: this.cma, dmaMaskBits: tr.dmaMaskBits });
        return;
      }
      const iommu = soc.iommu(tr.iommu);
      if (iommu.format.name !== 'arm-lpae-4k') {
        this.platformData.set(d.name, { kind: 'unsupported', device: d.name, reason: `IOMMU ${tr.iommu} walks ${iommu.format.name} tables: use the nvkm VMM` });
        return;
      }
      const domain = new IommuDomain(this.kernel, iommu, this.pages, asid++);
      const ret = domain.attachDevice(tr.streamId);
      if (ret !== 0) throw new SimInvariantError(`platform: attaching ${d.name} to ${tr.iommu} stream ${tr.streamId} failed (${ret})`);
      const vcm = vcmIommuCreate(this.env, opts.iovaStart, opts.iovaSize, domain);
      this.platformData.set(d.name, { kind: 'iommu', device: d.name, vcm, domain, streamId: tr.streamId });
    });
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

  cpu(name?: string): CpuContext {
    const c = name ? this.cpus.get(name) : this.cpus.values().next().value;
    if (!c) throw new SimInvariantError(`platform: no CPU MMU ${name ?? ''}`);
    return c;
  }
}

/** Boots the kernel on `soc`. */
export function bootPlatform(soc: Soc, options: PlatformOptions = {}, kernel?: Kernel): Platform {
  return new Platform(soc, options, kernel);
}
