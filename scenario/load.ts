import * as path from 'path';
import { ConfigError, formatJsonPath } from '../sim/engine/errors';
import { pgtableOps } from '../drivers/iommu/pgtableOps';
import { PLATFORM_DEFAULTS } from '../drivers/platform';
import { parseWithSchema, readJsonFile } from '../sim/soc/loadJson';
import { SocConfigSchema } from '../sim/soc/schema';
import { validateSocConfig } from '../sim/soc/builder';
import { applyOverrides, overrideLabel, settablePaths, type Override } from './overrides';
import { nearest } from '../sim/engine/editDistance';
import type { SocConfig } from '../sim/soc/schema';
import { jobKind } from './jobRegistry';
import { ScenarioSchema, type Scenario } from './schema';
import { checkFastForward } from './fastForward';

export interface LoadedScenario {
  file: string;
  /** The scenario after overrides and defaults. Its `soc` is a path or the inline SoC as written. */
  scenario: Scenario;
  /** The SoC config's file: the scenario file itself when the SoC is inline. */
  socFile: string;
  /** The SoC config after overrides and defaults: what runs. */
  soc: SocConfig;
  /** The `--set` overrides applied, as typed, in order. */
  overrides: readonly string[];
}

/**
 * Reads a scenario and its SoC config (a file named by `soc`, relative to the scenario, or
 * the SoC itself inline), applies overrides to the JSON as read, and checks the result as
 * it would check a file. A problem an override introduced is reported against it.
 */
export function loadScenario(file: string, overrides: readonly Override[] = []): LoadedScenario {
  const ofRoot = (root: Override['root']) => overrides.filter((o) => o.root === root);
  const setPaths: string[] = [];
  const rawScenario = readJsonFile(file, 'scenario');
  const scenario = parseOverridden(rawScenario, ofRoot('scenario'), 'scenario', setPaths, (data) => parseWithSchema(ScenarioSchema, data, file, 'scenario'));
  const inline = typeof scenario.soc !== 'string';
  const socFile = inline ? file : path.resolve(path.dirname(file), scenario.soc as string);
  const rawSoc = inline ? scenario.soc : readJsonFile(socFile, 'soc');
  const soc = parseSoc(rawSoc, socFile, ofRoot('soc'), setPaths);
  const check = () => {
    checkKernelFits(scenario, soc, file);
    checkPassthrough(scenario, soc, file);
    checkJobsSupportMode(scenario, scenario.mode, file, 'the scenario\'s "mode"');
    checkFastForward(scenario, scenario.mode, file, { what: scenario.fastForward !== undefined ? 'the scenario\'s "fastForward"' : 'the scenario\'s "fastForwardAccesses"' });
    checkScenarioAgainstSoc(scenario, soc, file);
  };
  if (overrides.length === 0) check();
  else blameOverrides(check, [...ofRoot('scenario'), ...ofRoot('soc')], setPaths, () => loadScenario(file), null);
  return { file, scenario, socFile, soc, overrides: overrides.map((o) => o.text) };
}

/** A SoC config file with `soc.…` overrides applied, checked as a file would be (`socsim validate`). */
export function loadSocConfigWith(file: string, overrides: readonly Override[]): SocConfig {
  return parseSoc(readJsonFile(file, 'soc'), file, overrides, []);
}

function parseSoc(raw: unknown, socFile: string, overrides: readonly Override[], setPaths: string[]): SocConfig {
  return parseOverridden(raw, overrides, 'soc', setPaths, (data) => {
    const cfg = parseWithSchema(SocConfigSchema, data, socFile, 'soc');
    validateSocConfig(cfg, socFile);
    return cfg;
  });
}

/** Parses `raw` with its overrides applied (appending the JSON paths they set to `setPaths`). */
function parseOverridden<T>(raw: unknown, overrides: readonly Override[], root: Override['root'], setPaths: string[], parse: (data: unknown) => T): T {
  if (overrides.length === 0) return parse(raw);
  const { data, paths } = applyOverrides(raw, overrides);
  setPaths.push(...paths);
  return blameOverrides(() => parse(data), overrides, paths, () => parse(raw), () => settablePaths(root, parse(raw)));
}

/**
 * Runs `f`. When it fails with a ConfigError and `base` (the same step without overrides)
 * succeeds, the overrides caused it: the error is re-addressed to the override that set
 * the failing path (or to all of them when none set it), with the nearest settable paths
 * when the override named a field that does not exist. When `base` fails too, the file
 * is at fault and its own error is thrown.
 */
function blameOverrides<T>(f: () => T, overrides: readonly Override[], paths: readonly string[], base: () => unknown,
  candidates: (() => string[]) | null): T {
  try {
    return f();
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    base();
    const related = (p: string) => e.jsonPath === p || e.jsonPath.startsWith(`${p}.`) || e.jsonPath.startsWith(`${p}[`) || p.startsWith(`${e.jsonPath}.`);
    const hit = overrides.filter((_, i) => paths[i] !== undefined && related(paths[i]));
    const blamed = hit.length === 1 ? hit : overrides;
    let reason = `${e.reason} (in ${e.file})`;
    if (hit.length === 1 && /^unknown field/.test(e.reason) && candidates) {
      const setPath = hit[0].text.slice(0, hit[0].text.indexOf('=')).trim();
      reason += `; nearest valid paths: ${nearest(setPath, candidates()).join(', ')}`;
    }
    throw new ConfigError(blamed.map(overrideLabel).join(', '), e.jsonPath, reason, e.more);
  }
}

/** Scenarios with buffers or jobs that drive devices through drivers boot the kernel; plain DMA copies do not. */
export function needsPlatform(s: Scenario): boolean {
  return s.buffers.length > 0 || s.jobs.some((j) => jobKind(j.kind).needsKernel);
}

/** Atomic mode (fast-forward) needs an atomic path in every job's device model. */
export function checkJobsSupportMode(s: Scenario, mode: Scenario['mode'], file: string, modeFrom: string): void {
  if (mode !== 'atomic') return;
  const i = s.jobs.findIndex((j) => !jobKind(j.kind).atomic);
  if (i < 0) return;
  const j = s.jobs[i];
  throw new ConfigError(file, formatJsonPath('scenario', ['jobs', i, 'kind']), `job "${j.name}" (${j.kind}) runs in timing mode only, but ${modeFrom} asks for atomic mode`);
}

/** The kernel reserves its CMA region at the start of the DRAM it boots on; it must leave room for everything else. */
function checkKernelFits(s: Scenario, soc: SocConfig, file: string): void {
  if (!needsPlatform(s)) return;
  const dram = soc.memories.find((m) => m.kind === 'dram')!;
  const cma = s.kernel.cmaSize ?? PLATFORM_DEFAULTS.cmaSize;
  const at = formatJsonPath('scenario', s.kernel.cmaSize === undefined ? ['kernel'] : ['kernel', 'cmaSize']);
  if (cma % 4096 !== 0) throw new ConfigError(file, at, `the CMA region must be a whole number of 4 KiB pages, got ${cma} bytes`);
  if (cma >= dram.size) {
    throw new ConfigError(file, at, `the CMA region (${cma} bytes${s.kernel.cmaSize === undefined ? ', the default' : ''}) must be smaller than DRAM "${dram.name}" (${dram.size} bytes), which the kernel boots on; set kernel.cmaSize`);
  }
}

/**
 * iommu.passthrough=1 changes only devices behind an IOMMU whose tables io-pgtable builds
 * (the nv GPU MMUs keep their VMM): asking for it on a SoC without one is a mistake.
 */
function checkPassthrough(s: Scenario, soc: SocConfig, file: string): void {
  const applies = () => soc.devices.some((d) => d.translation.kind === 'iommu' && pgtableOps(soc.iommus.find((u) => u.name === (d.translation as { iommu: string }).iommu)!.format).usesDmaApi);
  if (s.kernel.iommuPassthrough === true && !applies()) {
    throw new ConfigError(file, formatJsonPath('scenario', ['kernel', 'iommuPassthrough']),
      `SoC "${soc.name}" has no device behind an IOMMU that the DMA API drives (io-pgtable formats), so iommu.passthrough changes nothing; remove it`);
  }
  // The same devices are the ones a hypervisor's stage 2 applies to.
  if (s.kernel.hypervisor !== undefined && !applies()) {
    throw new ConfigError(file, formatJsonPath('scenario', ['kernel', 'hypervisor']),
      `SoC "${soc.name}" has no device behind an LPAE IOMMU (io-pgtable formats), so a hypervisor's stage 2 translates nothing; remove it`);
  }
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
    if (b.via === 'physical' && format !== 'direct' && s.kernel.iommuPassthrough !== true) {
      throw new ConfigError(file, at(['buffers', i, 'via']), `"physical" needs a direct-mapped device; "${b.device}" is behind an IOMMU (set kernel.iommuPassthrough for physical DMA addresses)`);
    }
    if (b.pageSize !== undefined && b.via !== 'nvkm') throw new ConfigError(file, at(['buffers', i, 'pageSize']), 'only nvkm buffers choose a page size');
    if (b.size === 0) throw new ConfigError(file, at(['buffers', i, 'size']), 'must be positive');
    buffers.set(b.name, { device: b.device, size: b.size });
  });
  // Each job: its target (a device of the kinds its entry names, or a CPU core), then its kind's own check.
  const names = new Set<string>();
  const modelled = new Map<string, string>();
  const cores = new Set(soc.cpuMmus.flatMap((u) => u.cores.map((c) => c.name)));
  const scenarioDir = path.dirname(file);
  s.jobs.forEach((j, i) => {
    if (names.has(j.name)) throw new ConfigError(file, at(['jobs', i, 'name']), `job name "${j.name}" is used twice`);
    names.add(j.name);
    const entry = jobKind(j.kind);
    const target = entry.target;
    let device: SocConfig['devices'][number] | null = null;
    let targetName: string;
    if (target.field === 'core') {
      targetName = j.core as string;
      if (!cores.has(targetName)) throw new ConfigError(file, at(['jobs', i, 'core']), `SoC "${soc.name}" has no CPU core "${targetName}" (cores: ${[...cores].join(', ') || 'none'}; declare them under cpuMmus[].cores)`);
    } else {
      targetName = j.device as string;
      device = deviceAt(targetName, ['jobs', i, 'device']);
      if (!target.kinds.includes(device.kind)) {
        throw new ConfigError(file, at(['jobs', i, 'device']), `device "${targetName}" is a ${device.kind}, a "${j.kind}" job needs a ${target.kinds.join(' or ')}`);
      }
    }
    if (target.exclusive) {
      const what = target.field === 'core' ? 'core' : 'device';
      if (modelled.has(targetName)) throw new ConfigError(file, at(['jobs', i, target.field]), `${what} "${targetName}" already runs job "${modelled.get(targetName)}"`);
      modelled.set(targetName, j.name);
    }
    const issues = entry.check(j, {
      soc, until: s.until, scenarioDir, device, deviceFormat: device ? formatOf(device) : 'direct',
      deviceUsesDmaApi: !device || formatOf(device) === 'direct' || pgtableOps(formatOf(device), { file, jsonPath: at(['jobs', i, target.field]) }).usesDmaApi,
      buffer: (name, p) => {
        const b = buffers.get(name);
        if (!b) return [p, `no buffer "${name}" (buffers: ${[...buffers.keys()].join(', ') || 'none'})`];
        if (b.device !== targetName) return [p, `buffer "${name}" is mapped for device "${b.device}", not "${targetName}"`];
        return b;
      },
    });
    if (issues.length > 0) {
      const [[p, reason], ...rest] = issues;
      throw new ConfigError(file, at(['jobs', i, ...p]), reason, rest.map(([q, r]) => `${at(['jobs', i, ...q])}: ${r}`));
    }
  });
  if (s.until !== undefined && s.until <= s.warmup) {
    throw new ConfigError(file, at(['until']), `must be after warmup (${s.warmup} ps), got ${s.until} ps`);
  }
}
