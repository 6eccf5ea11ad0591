import * as path from 'path';
import { ConfigError, formatJsonPath } from '../sim/engine/errors';
import { rangesOverlap } from '../sim/bus/addrRange';
import { loadSocConfig } from '../sim/soc/builder';
import { parseWithSchema, readJsonFile } from '../sim/soc/loadJson';
import type { SocConfig } from '../sim/soc/schema';
import { ScenarioSchema, type Scenario } from './scenarioSchema';

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
  const names = new Set<string>();
  s.jobs.forEach((j, i) => {
    if (names.has(j.name)) throw new ConfigError(file, at(['jobs', i, 'name']), `job name "${j.name}" is used twice`);
    names.add(j.name);
    const dev = soc.devices.find((d) => d.name === j.device);
    if (!dev) {
      throw new ConfigError(file, at(['jobs', i, 'device']), `SoC "${soc.name}" has no device "${j.device}" (devices: ${soc.devices.map((d) => d.name).join(', ') || 'none'})`);
    }
    if (dev.kind !== 'dma') throw new ConfigError(file, at(['jobs', i, 'device']), `device "${j.device}" is a ${dev.kind}, not a DMA engine`);
    if (j.bytes === 0) throw new ConfigError(file, at(['jobs', i, 'bytes']), 'must be positive');
    if (rangesOverlap({ base: j.src, size: j.bytes }, { base: j.dst, size: j.bytes })) {
      throw new ConfigError(file, at(['jobs', i, 'dst']), 'source and destination ranges overlap');
    }
  });
  if (s.until !== undefined && s.until <= s.warmup) {
    throw new ConfigError(file, at(['until']), `must be after warmup (${s.warmup} ps), got ${s.until} ps`);
  }
}
