import { createHash } from 'crypto';
import { ClockDomain } from '../engine/clock';
import type { SimContext } from '../engine/context';
import { ConfigError, formatJsonPath, SimInvariantError } from '../engine/errors';
import type { AddrRange } from '../bus/addrRange';
import { Bridge } from '../bus/bridge';
import { Crossbar, validateCrossbarParams } from '../bus/crossbar';
import { connectPorts } from '../bus/port';
import { DmaEngine } from '../devices/dmaEngine';
import { AddressMap, RegionOverlapError } from '../mem/addressMap';
import { DramController, validateDramParams } from '../mem/dram';
import { PhysicalMemory } from '../mem/physmem';
import { SimpleMemory, validateSramParams } from '../mem/sram';
import { readJsonFile, parseWithSchema } from './loadJson';
import { SocConfigSchema, type SocConfig } from './schema';
import { reachableBuses, validateSocReferences } from './validate';

/** Stats root for every component: `soc.<component>.<stat>`. */
export const SOC_ROOT = 'soc';

export type MemoryModel = DramController | SimpleMemory;
export type DeviceModel = DmaEngine;

/** A built SoC: every part constructed, wired and registered with the context. */
export class Soc {
  readonly physmem = new PhysicalMemory();
  readonly addressMap = new AddressMap();
  readonly clocks = new Map<string, ClockDomain>();
  readonly buses = new Map<string, Crossbar>();
  readonly bridges = new Map<string, Bridge>();
  readonly memories = new Map<string, MemoryModel>();
  readonly devices = new Map<string, DeviceModel>();

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

  dma(name: string): DmaEngine {
    const d = this.device(name);
    if (!(d instanceof DmaEngine)) throw new SimInvariantError(`device ${name} is not a DMA engine`);
    return d;
  }
}

/** Reads, validates and parses a SoC config file (no construction). */
export function loadSocConfig(file: string): SocConfig {
  const cfg = parseWithSchema(SocConfigSchema, readJsonFile(file, 'soc'), file, 'soc');
  validateSocConfig(cfg, file);
  return cfg;
}

/** All checks that need no simulation objects: references, graph, regions, parameters. */
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
    const reason = m.kind === 'dram' ? validateDramParams(m) : validateSramParams(m);
    if (reason) throw new ConfigError(file, at(['memories', i, ...fieldOf(reason)]), reasonOf(reason));
  });
  cfg.buses.forEach((b, i) => {
    const reason = validateCrossbarParams(b);
    if (reason) throw new ConfigError(file, at(['buses', i, ...fieldOf(reason)]), reasonOf(reason));
  });
}

/** Constructs and wires the SoC described by an already-validated config. */
export function buildSoc(ctx: SimContext, cfg: SocConfig, file = '<config>'): Soc {
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
    connectPorts(soc.buses.get(br.from)!.addOutput(br.name, ranges), bridge.slavePort);
    connectPorts(bridge.masterPort, soc.buses.get(br.to)!.addInput(br.name));
  }

  cfg.devices.forEach((d, masterId) => {
    const dev = new DmaEngine(ctx, path(d.name), clock(d.clock), masterId, d);
    soc.devices.set(d.name, dev);
    connectPorts(dev.port, soc.buses.get(d.bus)!.addInput(d.name, { priority: d.priority }));
  });
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

// Model validators return "field: reason"; split it so the field joins the JSON path.
function fieldOf(reason: string): string[] {
  const m = /^([A-Za-z0-9_.]+): /.exec(reason);
  return m ? m[1].split('.') : [];
}

function reasonOf(reason: string): string {
  const m = /^([A-Za-z0-9_.]+): /.exec(reason);
  return m ? reason.slice(m[0].length) : reason;
}
