import * as fs from 'fs';
import * as path from 'path';
import { ConfigError, formatJsonPath } from '../sim/engine/errors';
import { rangesOverlap } from '../sim/bus/addrRange';
import { pgtableOps } from '../drivers/iommu/pgtableOps';
import { loadSocConfig } from '../sim/soc/builder';
import { parseWithSchema, readJsonFile } from '../sim/soc/loadJson';
import type { SocConfig } from '../sim/soc/schema';
import { ScenarioSchema, type Scenario } from './schema';

export interface LoadedScenario {
  file: string;
  scenario: Scenario;
  socFile: string;
  soc: SocConfig;
}

/** Reads a scenario and its SoC config and checks that they fit together. */
export function loadScenario(file: string): LoadedScenario {
  const scenario = parseWithSchema(ScenarioSchema, readJsonFile(file, 'scenario'), file, 'scenario');
  const socFile = path.resolve(path.dirname(file), scenario.soc);
  const soc = loadSocConfig(socFile);
  checkScenarioAgainstSoc(scenario, soc, file);
  return { file, scenario, socFile, soc };
}

function checkScenarioAgainstSoc(s: Scenario, soc: SocConfig, file: string): void {
  const at = (p: (string | number)[]) => formatJsonPath('scenario', p);
  const inMemory = (addr: number, bytes: number) =>
    soc.memories.some((m) => addr >= m.base && addr + bytes <= m.base + m.size);

  s.init.forEach((f, i) => {
    if (!inMemory(f.addr, f.bytes)) {
      throw new ConfigError(file, at(['init', i]), `fill of ${f.bytes} bytes at 0x${f.addr.toString(16)} is not inside one memory of SoC "${soc.name}"`);
    }
  });
  const deviceAt = (name: string, p: (string | number)[]) => {
    const dev = soc.devices.find((d) => d.name === name);
    if (!dev) throw new ConfigError(file, at(p), `SoC "${soc.name}" has no device "${name}" (devices: ${soc.devices.map((d) => d.name).join(', ') || 'none'})`);
    return dev;
  };
  const formatOf = (dev: SocConfig['devices'][number]) =>
    dev.translation.kind === 'iommu' ? soc.iommus.find((u) => u.name === (dev.translation as { iommu: string }).iommu)!.format : 'direct';

  const buffers = new Map<string, { device: string; size: number }>();
  s.buffers.forEach((b, i) => {
    if (buffers.has(b.name)) throw new ConfigError(file, at(['buffers', i, 'name']), `buffer name "${b.name}" is used twice`);
    const dev = deviceAt(b.device, ['buffers', i, 'device']);
    const format = formatOf(dev);
    const nv = format !== 'direct' && pgtableOps(format, { file, jsonPath: at(['buffers', i, 'device']) }).family === 'nvkm';
    if (b.via === 'nvkm' && !nv) throw new ConfigError(file, at(['buffers', i, 'via']), `"nvkm" needs a device behind an nv-format GPU MMU; "${b.device}" is ${format === 'direct' ? 'direct-mapped' : `behind a ${format} IOMMU`}`);
    if (b.via !== 'nvkm' && nv) throw new ConfigError(file, at(['buffers', i, 'via']), `"${b.device}" is behind an ${format} GPU MMU: its buffers come from the nvkm VMM (via "nvkm")`);
    if (b.via === 'physical' && format !== 'direct') throw new ConfigError(file, at(['buffers', i, 'via']), `"physical" needs a direct-mapped device; "${b.device}" is behind an IOMMU`);
    if (b.pageSize !== undefined && b.via !== 'nvkm') throw new ConfigError(file, at(['buffers', i, 'pageSize']), 'only nvkm buffers choose a page size');
    if (b.size === 0) throw new ConfigError(file, at(['buffers', i, 'size']), 'must be positive');
    buffers.set(b.name, { device: b.device, size: b.size });
  });
  const bufferAt = (name: string, device: string, p: (string | number)[]) => {
    const b = buffers.get(name);
    if (!b) throw new ConfigError(file, at(p), `no buffer "${name}" (buffers: ${[...buffers.keys()].join(', ') || 'none'})`);
    if (b.device !== device) throw new ConfigError(file, at(p), `buffer "${name}" is mapped for device "${b.device}", not "${device}"`);
    return b;
  };
  const needFits = (bytes: number, buf: { size: number }, name: string, p: (string | number)[]) => {
    if (bytes > buf.size) throw new ConfigError(file, at(p), `needs ${bytes} bytes, buffer "${name}" has ${buf.size}`);
  };

  const names = new Set<string>();
  const modelled = new Map<string, string>();
  const cores = new Set(soc.cpuMmus.flatMap((u) => u.cores.map((c) => c.name)));
  s.jobs.forEach((j, i) => {
    if (names.has(j.name)) throw new ConfigError(file, at(['jobs', i, 'name']), `job name "${j.name}" is used twice`);
    names.add(j.name);
    if (j.kind === 'cpu-trace') {
      if (!cores.has(j.core)) throw new ConfigError(file, at(['jobs', i, 'core']), `SoC "${soc.name}" has no CPU core "${j.core}" (cores: ${[...cores].join(', ') || 'none'}; declare them under cpuMmus[].cores)`);
      if (modelled.has(j.core)) throw new ConfigError(file, at(['jobs', i, 'core']), `core "${j.core}" already runs job "${modelled.get(j.core)}"`);
      modelled.set(j.core, j.name);
      const trace = path.resolve(path.dirname(file), j.trace);
      if (!fs.existsSync(trace)) throw new ConfigError(file, at(['jobs', i, 'trace']), `no such file: ${trace}`);
      return;
    }
    const dev = deviceAt(j.device, ['jobs', i, 'device']);
    const want = j.kind === 'dma-copy' ? 'dma' : j.kind === 'sg-copy' ? 'descdma' : j.kind;
    if (dev.kind !== want) throw new ConfigError(file, at(['jobs', i, 'device']), `device "${j.device}" is a ${dev.kind}, a "${j.kind}" job needs a ${want}`);
    if (j.kind === 'dma-copy') {
      if (j.bytes === 0) throw new ConfigError(file, at(['jobs', i, 'bytes']), 'must be positive');
      if (rangesOverlap({ base: j.src, size: j.bytes }, { base: j.dst, size: j.bytes })) {
        throw new ConfigError(file, at(['jobs', i, 'dst']), 'source and destination ranges overlap');
      }
      return;
    }
    if (modelled.has(j.device)) throw new ConfigError(file, at(['jobs', i, 'device']), `device "${j.device}" already runs job "${modelled.get(j.device)}"`);
    modelled.set(j.device, j.name);
    if (j.kind === 'sg-copy') {
      if (j.bytes === 0 || j.bytes % 4096 !== 0) throw new ConfigError(file, at(['jobs', i, 'bytes']), `must be a positive multiple of 4096, got ${j.bytes}`);
      return;
    }
    if (j.kind === 'nic') {
      if (!j.rx && !j.tx) throw new ConfigError(file, at(['jobs', i]), 'a NIC job needs rx, tx or both');
      if (j.rx && j.rx.packetBytes > j.rx.bufferBytes) throw new ConfigError(file, at(['jobs', i, 'rx', 'packetBytes']), `a packet (${j.rx.packetBytes} bytes) must fit in a receive buffer (${j.rx.bufferBytes} bytes)`);
      if (formatOf(dev) !== 'direct' && !pgtableOps(formatOf(dev), { file, jsonPath: at(['jobs', i, 'device']) }).usesDmaApi) throw new ConfigError(file, at(['jobs', i, 'device']), `the NIC driver uses the DMA API; "${j.device}" is behind a GPU MMU`);
      return;
    }
    const buf = bufferAt(j.buffer, j.device, ['jobs', i, 'buffer']);
    switch (j.kind) {
      case 'traffic':
        j.streams.forEach((w, k) => {
          const footprint = w.kind === 'tiled2d' ? w.widthBytes * w.height : (w.footprint ?? buf.size - w.offset);
          needFits(w.offset + footprint, buf, j.buffer, ['jobs', i, 'streams', k]);
        });
        break;
      case 'gpu':
        needFits(j.widthBytes * j.height, buf, j.buffer, ['jobs', i, 'height']);
        break;
      case 'display':
        needFits((j.pitchBytes ?? j.width * j.bytesPerPixel) * j.height, buf, j.buffer, ['jobs', i, 'height']);
        if (j.frames === undefined && s.until === undefined) throw new ConfigError(file, at(['jobs', i, 'frames']), 'a display scans forever: give frames, or an "until" for the scenario');
        break;
      case 'camera':
        needFits(j.width * j.bytesPerPixel * j.height * j.buffers, buf, j.buffer, ['jobs', i, 'buffers']);
        if (j.frames === undefined && s.until === undefined) throw new ConfigError(file, at(['jobs', i, 'frames']), 'a camera streams forever: give frames, or an "until" for the scenario');
        break;
    }
  });
  if (s.until !== undefined && s.until <= s.warmup) {
    throw new ConfigError(file, at(['until']), `must be after warmup (${s.warmup} ps), got ${s.until} ps`);
  }
}
