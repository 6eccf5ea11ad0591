import { createHash } from 'crypto';
import { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { ConfigError, formatJsonPath, SimInvariantError } from '../engine/errors';
import { MasterRegistry } from '../engine/masters';
import type { AddrRange } from '../bus/addrRange';
import { Bridge } from '../bus/bridge';
import { Crossbar } from '../bus/crossbar';
import { connectPorts, type RequestPort, type ResponsePort } from '../bus/port';
import { CoherentPort, type CoherentPortParams } from '../devices/coherentPort';
import { CpuCache } from '../devices/cpuCache';
import { CpuCore } from '../devices/cpuCore';
import { DmaEngine } from '../devices/dmaEngine';
import { deviceKind } from './deviceRegistry';
import type { DeviceModel } from './deviceSpec';
import { AddressMap, RegionOverlapError } from '../mem/addressMap';
import { DramController } from '../mem/dram';
import { PhysicalMemory } from '../mem/physmem';
import { SimpleMemory } from '../mem/sram';
import { readJsonFile, parseWithSchema } from './loadJson';
import { SocConfigSchema, type CpuCoreConfig, type DeviceConfig, type SocConfig } from './schema';
import { CpuMmu } from '../mmu/cpuMmu';
import { DirectMap } from '../mmu/directMap';
import { getFormat } from '../mmu/format';
import { Iommu } from '../mmu/iommu';
import { PcieLink } from '../pcie/link';
import { AtsEndpoint } from '../pcie/ats';
import { hasFencedInterrupts } from '../bus/interruptFence';
import { RootComplex } from '../pcie/rootComplex';
import { reachableBuses, validateSocReferences } from './validate';
import type { AccessMode } from '../engine/accessMode';

/** Stats root for every component: `soc.<component>.<stat>`. */
export const SOC_ROOT = 'soc';
/** The bus-master name of the kernel's loads and stores (drivers/kernelMemory.ts). */
export const KERNEL_MASTER = 'kernel';

export type MemoryModel = DramController | SimpleMemory;
export type { DeviceModel } from './deviceSpec';

export interface DeviceAttachPoint {
  port: ResponsePort;
  masterId: number;
  clock: ClockDomain;
  config: DeviceConfig;
}

export interface CoreAttachPoint {
  port: ResponsePort;
  masterId: number;
  clock: ClockDomain;
  mmu: string;
  config: CpuCoreConfig;
}

/** A built SoC: every part constructed, wired and registered with the context. */
export class Soc {
  readonly physmem = new PhysicalMemory();
  readonly addressMap = new AddressMap();
  readonly clocks = new Map<string, ClockDomain>();
  readonly buses = new Map<string, Crossbar>();
  readonly bridges = new Map<string, Bridge>();
  readonly memories = new Map<string, MemoryModel>();
  /** Every device model, built by its kind's registry entry (`soc.devices[]`). */
  readonly devices = new Map<string, DeviceModel>();
  /** The CPU cores declared under `cpuMmus[].cores`. */
  readonly cores = new Map<string, CpuCore>();
  readonly iommus = new Map<string, Iommu>();
  readonly cpuMmus = new Map<string, CpuMmu>();
  readonly directMaps = new Map<string, DirectMap>();
  /** CPU data caches, by CPU MMU name. */
  readonly cpuCaches = new Map<string, CpuCache>();
  /** Snooping ports, by the device (direct-mapped) or IOMMU (shared) whose traffic they see. */
  readonly coherentPorts = new Map<string, CoherentPort>();
  /** PCIe root complexes (`rootComplexes[]`). */
  readonly rootComplexes = new Map<string, RootComplex>();
  /** PCIe links, by the device at their endpoint (devices with a `pcie` entry). */
  readonly pcieLinks = new Map<string, PcieLink>();
  /** PCIe ATS endpoints (the device's ATC), by device (devices with `pcie.ats`). */
  readonly atsEndpoints = new Map<string, AtsEndpoint>();
  /**
   * Where each device's RequestPort connects (its translation path), with its master id
   * and clock. The builder connects every device model it builds; `attach` connects a
   * master of one's own to a device left `detached` (BuildOptions).
   */
  readonly attachPoints = new Map<string, DeviceAttachPoint>();
  /** CPU cores declared under `cpuMmus[].cores`: their MMU port, master id and clock. */
  readonly corePorts = new Map<string, CoreAttachPoint>();
  /** Bus-master ids and names (the builder registers every master; traces name them from here). */
  readonly masters = new MasterRegistry();
  private readonly attached = new Set<string>();

  constructor(
    readonly ctx: SimContext,
    readonly config: SocConfig,
    readonly file: string,
  ) {}

  /** A stable hash of the resolved config, recorded in trace headers. */
  get configHash(): string {
    return hashJson(this.config);
  }

  device(name: string): DeviceModel {
    const d = this.devices.get(name);
    if (!d) throw new SimInvariantError(`no device named ${name}`);
    return d;
  }

  iommu(name: string): Iommu {
    const u = this.iommus.get(name);
    if (!u) throw new SimInvariantError(`no IOMMU named ${name}`);
    return u;
  }

  cpuMmu(name: string): CpuMmu {
    const u = this.cpuMmus.get(name);
    if (!u) throw new SimInvariantError(`no CPU MMU named ${name}`);
    return u;
  }

  /** The data cache of CPU MMU `name`; without a name, the first one (the one coherent devices snoop). */
  cpuCache(name?: string): CpuCache {
    const c = name === undefined ? this.cpuCaches.values().next().value : this.cpuCaches.get(name);
    if (!c) throw new SimInvariantError(name === undefined ? 'the SoC has no CPU cache' : `no CPU cache on CPU MMU ${name}`);
    return c;
  }

  /** The attach point of device `name` (throws naming it when there is none). */
  attachPoint(name: string): DeviceAttachPoint {
    const a = this.attachPoints.get(name);
    if (!a) throw new SimInvariantError(`no device named ${name}`);
    return a;
  }

  /**
   * Connects a device model's request port to device `name`'s translation path (once).
   * Behind a PCIe link, a model whose interrupts are MSIs (FencedInterrupts) also gets the
   * link as its interrupt fence, so its interrupts wait for its earlier posted writes.
   */
  attach(name: string, model: { readonly port: RequestPort }): void {
    if (this.attached.has(name)) throw new SimInvariantError(`device ${name} already has a model attached`);
    connectPorts(model.port, this.attachPoint(name).port);
    this.attached.add(name);
    // With ATS the device's requests queue in its ATC first: the fence is the ATC's, which
    // also waits for writes still held there.
    const link = this.atsEndpoints.get(name) ?? this.pcieLinks.get(name);
    if (link && hasFencedInterrupts(model)) model.setInterruptFence(link);
  }

  /** Connects a CPU core model to core `name` of its CPU MMU (once). */
  attachCore(name: string, port: RequestPort): void {
    const c = this.corePorts.get(name);
    if (!c) throw new SimInvariantError(`no CPU core named ${name}`);
    if (this.attached.has(name)) throw new SimInvariantError(`CPU core ${name} already has a model attached`);
    connectPorts(port, c.port);
    this.attached.add(name);
  }

  dma(name: string): DmaEngine {
    return this.model(name, DmaEngine);
  }

  /** Device `name`'s model, which must be a `type` (jobs look up what they program). */
  model<T>(name: string, type: abstract new (...args: never[]) => T): T {
    const d = this.device(name);
    if (!(d instanceof type)) throw new SimInvariantError(`device ${name} is not a ${type.name}`);
    return d;
  }

  /** CPU core `name` (declared under cpuMmus[].cores). */
  core(name: string): CpuCore {
    const c = this.cores.get(name);
    if (!c) throw new SimInvariantError(`no CPU core named ${name}`);
    return c;
  }
}

/** Reads, validates and parses a SoC config file (no construction). */
export function loadSocConfig(file: string): SocConfig {
  const cfg = parseWithSchema(SocConfigSchema, readJsonFile(file, 'soc'), file, 'soc');
  validateSocConfig(cfg, file);
  return cfg;
}

/**
 * The checks across components: references, the bus graph and the address map. Each
 * component's own parameters and rules (including those that need its page-table
 * format) were checked by its spec when the config was parsed.
 */
export function validateSocConfig(cfg: SocConfig, file: string): void {
  validateSocReferences(cfg, file);
  const at = (path: (string | number)[]) => formatJsonPath('soc', path);
  const map = new AddressMap();
  cfg.memories.forEach((m, i) => {
    if (m.size === 0) throw new ConfigError(file, at(['memories', i, 'size']), 'must be positive');
    try {
      map.add({ name: m.name, kind: m.kind, base: m.base, size: m.size });
    } catch (e) {
      if (e instanceof RegionOverlapError) throw new ConfigError(file, at(['memories', i, 'base']), e.message);
      throw e;
    }
  });
}

export interface BuildOptions {
  /** How devices access memory: `timing` (default, every latency and contention) or `atomic` (fast-forward). */
  mode?: AccessMode;
  /**
   * Devices and CPU cores to leave without a model: their translation path is wired, and
   * a test or tool connects a master of its own with `attach` / `attachCore`.
   */
  detached?: readonly string[];
}


/** Constructs and wires the SoC described by an already-validated config. */
export function buildSoc(ctx: SimContext, cfg: SocConfig, file = '<config>', opts: BuildOptions = {}): Soc {
  const soc = new Soc(ctx, cfg, file);
  const path = (name: string) => `${SOC_ROOT}.${name}`;

  for (const [name, hz] of Object.entries(cfg.clocks)) soc.clocks.set(name, new ClockDomain(name, hz));
  const clock = (name: string) => soc.clocks.get(name)!;

  for (const b of cfg.buses) soc.buses.set(b.name, new Crossbar(ctx, path(b.name), clock(b.clock), b));

  for (const m of cfg.memories) {
    const region: AddrRange = { base: m.base, size: m.size };
    soc.addressMap.add({ name: m.name, kind: m.kind, base: m.base, size: m.size });
    const model = m.kind === 'dram'
      ? new DramController(ctx, path(m.name), clock(m.clock), region, soc.physmem, m)
      : new SimpleMemory(ctx, path(m.name), clock(m.clock), region, soc.physmem, m);
    soc.memories.set(m.name, model);
    connectPorts(soc.buses.get(m.bus)!.addOutput(m.name, [region]), model.port);
  }

  // A bridge's upstream side claims every memory reachable through it.
  for (const br of cfg.bridges) {
    const bridge = new Bridge(ctx, path(br.name), clock(br.clock), br);
    soc.bridges.set(br.name, bridge);
    const behind = reachableBuses(cfg, br.to);
    const ranges = cfg.memories.filter((m) => behind.has(m.bus)).map((m) => ({ base: m.base, size: m.size }));
    connectPorts(soc.buses.get(br.from)!.addOutput(br.name, ranges), bridge.cpuSidePort);
    connectPorts(bridge.memSidePort, soc.buses.get(br.to)!.addInput(br.name));
  }

  // Bus-master ids, all handed out here in the order stats and traces depend on: devices
  // in config order, IOMMU walkers, CPU MMU walkers, the kernel (drivers/kernelMemory.ts),
  // then CPU cores. A CPU cache's line
  // traffic carries its CPU MMU walker's id: the CPU cluster's one bus interface.
  for (const d of cfg.devices) soc.masters.register(path(d.name));
  for (const u of cfg.iommus) soc.masters.register(path(u.name));
  for (const u of cfg.cpuMmus) soc.masters.register(path(u.name));
  soc.masters.register(KERNEL_MASTER);
  for (const u of cfg.cpuMmus) for (const core of u.cores) soc.masters.register(path(core.name));
  ctx.tracer.useMasters(soc.masters);
  // Caches exist before anything that snoops them; they are wired with their CPU MMU below.
  cfg.cpuMmus.forEach((u) => {
    if (u.cache) soc.cpuCaches.set(u.name, new CpuCache(ctx, path(`${u.name}.cache`), clock(u.clock), soc.masters.id(path(u.name)), u.cache));
  });
  const snooped = soc.cpuCaches.values().next().value;
  const coherentPort = (name: string, bus: string, params: CoherentPortParams) => {
    if (!snooped) throw new SimInvariantError(`${name}: coherent, but the SoC has no CPU cache (validateSocConfig checks this)`);
    const port = new CoherentPort(ctx, path(`${name}.coherent`), clock(cfg.buses.find((b) => b.name === bus)!.clock), snooped, params);
    soc.coherentPorts.set(name, port);
    return port;
  };

  for (const u of cfg.iommus) {
    const iommu = new Iommu(ctx, path(u.name), clock(u.clock), getFormat(u.format), soc.masters.id(path(u.name)), u);
    soc.iommus.set(u.name, iommu);
    const bus = soc.buses.get(u.bus)!;
    const busInput = bus.addInput(u.name);
    // Coherent devices behind an IOMMU share one snooping port after translation, selected by master id.
    const coherent = new Map<number, number>();
    for (const d of cfg.devices) {
      if (d.coherent && d.translation.kind === 'iommu' && d.translation.iommu === u.name) coherent.set(soc.masters.id(path(d.name)), d.snoopLatencyCycles);
    }
    if (coherent.size > 0) {
      const port = coherentPort(u.name, u.bus, { snoopLatencyCycles: 0, masters: coherent });
      connectPorts(iommu.memSidePort, port.cpuSidePort);
      connectPorts(port.memSidePort, busInput);
    } else {
      connectPorts(iommu.memSidePort, busInput);
    }
    connectPorts(iommu.walker.port, bus.addInput(`${u.name}_walker`));
  }
  for (const u of cfg.cpuMmus) {
    const masterId = soc.masters.id(path(u.name));
    const mmu = new CpuMmu(ctx, path(u.name), clock(u.clock), getFormat(u.format), masterId, u);
    soc.cpuMmus.set(u.name, mmu);
    const bus = soc.buses.get(u.bus)!;
    const busInput = bus.addInput(u.name);
    const cache = soc.cpuCaches.get(u.name);
    if (cache) {
      if (cache.masterId !== masterId) throw new SimInvariantError(`${cache.path}: master id ${cache.masterId}, its walker has ${masterId}`);
      connectPorts(mmu.memSidePort, cache.cpuSidePort);
      connectPorts(cache.memSidePort, busInput);
    } else {
      connectPorts(mmu.memSidePort, busInput);
    }
    connectPorts(mmu.walker.port, bus.addInput(`${u.name}_walker`));
  }

  for (const r of cfg.rootComplexes) soc.rootComplexes.set(r.name, new RootComplex(ctx, path(r.name), clock(r.clock), r));

  const detached = new Set(opts.detached ?? []);
  for (const d of cfg.devices) {
    const masterId = soc.masters.id(path(d.name));
    const point = d.pcie ? pcieAttachPoint(d, attachPoint(d)) : attachPoint(d);
    if (d.pcie && d.translation.kind === 'iommu') soc.iommus.get(d.translation.iommu)!.orderPostedWrites(d.translation.streamId);
    soc.attachPoints.set(d.name, { port: point, masterId, clock: clock(d.clock), config: d });
    if (detached.has(d.name)) continue;
    const dev = deviceKind(d.kind).build({ ctx, path: path(d.name), clock: clock(d.clock), masterId, mode: opts.mode ?? 'timing' }, d);
    soc.devices.set(d.name, dev);
    soc.attach(d.name, dev);
  }
  // CPU cores: trace-driven masters on their CPU MMU (each a core with its own L1 DTLB).
  for (const u of cfg.cpuMmus) {
    for (const core of u.cores) {
      const point: CoreAttachPoint = { port: soc.cpuMmu(u.name).addCore(core.name), masterId: soc.masters.id(path(core.name)), clock: clock(u.clock), mmu: u.name, config: core };
      soc.corePorts.set(core.name, point);
      if (detached.has(core.name)) continue;
      const cpu = new CpuCore(ctx, path(core.name), point.clock, point.masterId, {
        maxOutstanding: core.maxOutstanding, storeBuffer: core.storeBuffer, cyclesBetween: core.cyclesBetween,
        lineBytes: soc.cpuCaches.get(u.name)?.lineBytes ?? 64, mode: opts.mode ?? 'timing',
      });
      soc.cores.set(core.name, cpu);
      soc.attachCore(core.name, cpu.port);
    }
  }

  /** A PCIe device's requests cross its link and a root port before its translation path. */
  function pcieAttachPoint(d: SocConfig['devices'][number], translation: ResponsePort): ResponsePort {
    const link = new PcieLink(ctx, path(`${d.name}.pcie`), d.pcie!);
    soc.pcieLinks.set(d.name, link);
    const rootPort = soc.rootComplexes.get(d.pcie!.rootComplex)!.addRootPort(d.name);
    connectPorts(link.memSidePort, rootPort.cpuSidePort);
    connectPorts(rootPort.memSidePort, translation);
    const tr = d.translation;
    if (!d.pcie!.ats || tr.kind !== 'iommu') return link.cpuSidePort;
    // PCIe ATS: the device's ATC sits in front of its link; the IOMMU answers its Translation Requests.
    const ats = new AtsEndpoint(ctx, path(`${d.name}.pcie.ats`), clock(d.clock), link, d.pcie!.ats);
    soc.atsEndpoints.set(d.name, ats);
    connectPorts(ats.memSidePort, link.cpuSidePort);
    const iommu = soc.iommus.get(tr.iommu)!;
    iommu.attachAts(tr.streamId, ats);
    if (iommu.iommuParams.countStaleTlbHits) ats.setStaleOracle((va, pa, write) => iommu.atsTranslationStale(tr.streamId, va, pa, write));
    return ats.cpuSidePort;
  }

  /** Where a device's requests enter: its IOMMU stream, or (snoop port →) DMA-mask check → bus. */
  function attachPoint(d: SocConfig['devices'][number]): ResponsePort {
    const tr = d.translation;
    if (tr.kind === 'iommu') {
      const iommu = soc.iommus.get(tr.iommu)!;
      const port = iommu.attachDevice(d.name, tr.streamId);
      if (tr.initialMode === 'bypass') {
        iommu.setStreamContext(tr.streamId, { format: iommu.format, root: 0, asid: 0, mode: 'bypass', privileged: false, allowRead: true, allowWrite: true });
      }
      return port;
    }
    let busInput = soc.buses.get(d.bus)!.addInput(d.name, { priority: d.priority });
    if (d.coherent) {
      // After the DirectMap (its rejections never reach memory), before the bus.
      const port = coherentPort(d.name, d.bus, { snoopLatencyCycles: d.snoopLatencyCycles });
      connectPorts(port.memSidePort, busInput);
      busInput = port.cpuSidePort;
    }
    if (tr.dmaMaskBits >= 64 && !tr.window) return busInput;
    const direct = new DirectMap(ctx, path(`${d.name}.direct`), { dmaMaskBits: tr.dmaMaskBits, window: tr.window ?? null });
    soc.directMaps.set(d.name, direct);
    connectPorts(direct.memSidePort, busInput);
    return direct.cpuSidePort;
  }
  return soc;
}

/** Canonical JSON (sorted keys) hashed with SHA-256, shortened to 16 hex digits. */
export function hashJson(value: unknown): string {
  return createHash('sha256').update(canonicalJson(value)).digest('hex').slice(0, 16);
}

export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.keys(v).sort().map((k) => [k, v[k]]))
      : v);
}
