import { ConfigError, formatJsonPath } from '../engine/errors';
import type { SocConfig } from './schema';
import { FORMAT_NAMES, getFormat } from '../mmu/format';

/**
 * Cross-reference checks a schema cannot express: unique names, references to clocks
 * and buses, a bus graph without cycles, a route to memory from every device, and a
 * CPU cache for IO-coherent devices to snoop. Each failure is a ConfigError naming the JSON path (`soc.bridges[0].to`).
 */
export function validateSocReferences(cfg: SocConfig, file: string): void {
  const fail = (path: (string | number)[], reason: string): never => {
    throw new ConfigError(file, formatJsonPath('soc', path), reason);
  };

  const seen = new Map<string, string>();
  const claim = (name: string, path: (string | number)[], what = '') => {
    const prev = seen.get(name);
    if (prev) fail([...path, 'name'], `name "${name}"${what} is already used by ${prev}`);
    seen.set(name, formatJsonPath('soc', path) + what);
  };
  // A unit's walker joins its bus as a port named `<unit>_walker`, next to the devices' ports.
  const claimUnit = (name: string, path: (string | number)[]) => {
    claim(name, path);
    claim(`${name}_walker`, path, ' (its walker\'s bus port)');
  };
  cfg.buses.forEach((b, i) => claim(b.name, ['buses', i]));
  cfg.memories.forEach((m, i) => claim(m.name, ['memories', i]));
  cfg.bridges.forEach((b, i) => claim(b.name, ['bridges', i]));
  cfg.iommus.forEach((m, i) => claimUnit(m.name, ['iommus', i]));
  cfg.cpuMmus.forEach((m, i) => {
    claimUnit(m.name, ['cpuMmus', i]);
    m.cores.forEach((c, k) => claim(c.name, ['cpuMmus', i, 'cores', k]));
  });
  cfg.rootComplexes.forEach((r, i) => claim(r.name, ['rootComplexes', i]));
  cfg.devices.forEach((d, i) => claim(d.name, ['devices', i]));

  // A unit's inputs (IOMMU devices, CPU cores) get stats under `soc.<unit>.<input>`,
  // next to the unit's own parts; "cpu" is the CPU MMU's kernel core.
  const parts = ['walker', 'l2tlb', 'cache', 'coherent', 'cpu'];
  const notAPart = (name: string, unit: string, path: (string | number)[]) => {
    if (parts.includes(name)) {
      fail([...path, 'name'], `"${name}" names a part of "${unit}" (soc.${unit}.${name}); choose another name (reserved: ${parts.join(', ')})`);
    }
  };
  cfg.cpuMmus.forEach((m, i) => m.cores.forEach((c, k) => notAPart(c.name, m.name, ['cpuMmus', i, 'cores', k])));
  cfg.devices.forEach((d, i) => {
    if (d.translation.kind === 'iommu') notAPart(d.name, d.translation.iommu, ['devices', i]);
  });

  const clocks = Object.keys(cfg.clocks);
  const buses = new Set(cfg.buses.map((b) => b.name));
  const needClock = (name: string, path: (string | number)[]) => {
    if (!Object.hasOwn(cfg.clocks, name)) fail(path, `unknown clock "${name}" (defined clocks: ${clocks.join(', ') || 'none'})`);
  };
  const needBus = (name: string, path: (string | number)[]) => {
    if (!buses.has(name)) fail(path, `unknown bus "${name}" (defined buses: ${[...buses].join(', ')})`);
  };
  cfg.buses.forEach((b, i) => needClock(b.clock, ['buses', i, 'clock']));
  cfg.memories.forEach((m, i) => {
    needClock(m.clock, ['memories', i, 'clock']);
    needBus(m.bus, ['memories', i, 'bus']);
  });
  cfg.bridges.forEach((b, i) => {
    needClock(b.clock, ['bridges', i, 'clock']);
    needBus(b.from, ['bridges', i, 'from']);
    needBus(b.to, ['bridges', i, 'to']);
    if (b.from === b.to) fail(['bridges', i, 'to'], `a bridge must join two different buses, got "${b.to}" twice`);
  });
  const units = [
    ...cfg.iommus.map((u, i) => ({ u, at: ['iommus', i] as (string | number)[] })),
    ...cfg.cpuMmus.map((u, i) => ({ u, at: ['cpuMmus', i] as (string | number)[] })),
  ];
  for (const { u, at } of units) {
    needClock(u.clock, [...at, 'clock']);
    needBus(u.bus, [...at, 'bus']);
  }
  // The kernel puts page tables (and the buffers it maps) in the DRAM it boots on, so
  // every translation unit's format must be able to hold those physical addresses.
  const kernelDram = cfg.memories.findIndex((m) => m.kind === 'dram');
  if (kernelDram >= 0) {
    const m = cfg.memories[kernelDram];
    for (const { u } of units) {
      if (!FORMAT_NAMES.includes(u.format)) continue;
      const paBits = getFormat(u.format).paBits;
      if (m.base + m.size > 2 ** paBits) {
        fail(['memories', kernelDram, 'base'], `DRAM "${m.name}" ends at 0x${(m.base + m.size).toString(16)}, beyond the 2^${paBits} physical addresses page-table format ${u.format} of "${u.name}" can hold; the kernel's page tables and buffers live in this DRAM`);
      }
    }
  }
  cfg.rootComplexes.forEach((r, i) => {
    needClock(r.clock, ['rootComplexes', i, 'clock']);
    if (r.iommu !== undefined && !cfg.iommus.some((m) => m.name === r.iommu)) {
      fail(['rootComplexes', i, 'iommu'], `unknown IOMMU "${r.iommu}" (defined: ${cfg.iommus.map((m) => m.name).join(', ') || 'none'})`);
    }
  });
  const streams = new Map<string, Map<number, string>>();
  const cached = cfg.cpuMmus.find((u) => u.cache);
  cfg.devices.forEach((d, i) => {
    needClock(d.clock, ['devices', i, 'clock']);
    needBus(d.bus, ['devices', i, 'bus']);
    if (d.coherent && !cached) {
      fail(['devices', i, 'coherent'], `device "${d.name}" is IO-coherent, but no CPU MMU has a cache to snoop (add a cache to a cpuMmus entry, or set coherent to false)`);
    }
    const tr = d.translation;
    if (tr.kind === 'iommu') {
      const iommu = cfg.iommus.find((m) => m.name === tr.iommu);
      if (!iommu) fail(['devices', i, 'translation', 'iommu'], `unknown IOMMU "${tr.iommu}" (defined: ${cfg.iommus.map((m) => m.name).join(', ') || 'none'})`);
      if (iommu!.bus !== d.bus) {
        fail(['devices', i, 'bus'], `device "${d.name}" sits behind IOMMU "${iommu!.name}", whose traffic goes to bus "${iommu!.bus}"; set bus to "${iommu!.bus}"`);
      }
      const used = streams.get(tr.iommu) ?? new Map<number, string>();
      const other = used.get(tr.streamId);
      if (other) fail(['devices', i, 'translation', 'streamId'], `stream ${tr.streamId} of IOMMU "${tr.iommu}" is already used by device "${other}"`);
      used.set(tr.streamId, d.name);
      streams.set(tr.iommu, used);
    } else if (tr.window && tr.window.size === 0) {
      fail(['devices', i, 'translation', 'window', 'size'], 'must be positive');
    }
    if (d.pcie) {
      const rc = cfg.rootComplexes.find((r) => r.name === d.pcie!.rootComplex);
      if (!rc) fail(['devices', i, 'pcie', 'rootComplex'], `unknown root complex "${d.pcie.rootComplex}" (defined: ${cfg.rootComplexes.map((r) => r.name).join(', ') || 'none'})`);
      if (d.pcie.ats && tr.kind !== 'iommu') {
        fail(['devices', i, 'pcie', 'ats'], `device "${d.name}" has ATS, which needs an IOMMU to answer its Translation Requests; its translation is "${tr.kind}"`);
      }
      if (rc!.iommu !== undefined && tr.kind === 'iommu' && tr.iommu !== rc!.iommu) {
        fail(['devices', i, 'translation', 'iommu'], `device "${d.name}" is behind root complex "${rc!.name}", which holds IOMMU "${rc!.iommu}"; got "${tr.iommu}"`);
      }
    }
  });

  const cycle = findBridgeCycle(cfg);
  if (cycle) {
    fail(['bridges', cycle.index, 'to'], `the bus graph has a cycle: ${cycle.buses.join(' → ')}`);
  }

  const withMemory = new Set(cfg.memories.map((m) => m.bus));
  const needRoute = (what: string, bus: string, path: (string | number)[]) => {
    const reachable = reachableBuses(cfg, bus);
    if (![...reachable].some((b) => withMemory.has(b))) {
      fail(path, `${what} has no route to memory from bus "${bus}" (reachable: ${[...reachable].join(', ')})`);
    }
  };
  cfg.devices.forEach((d, i) => needRoute(`device "${d.name}"`, d.bus, ['devices', i, 'bus']));
  for (const { u, at } of units) needRoute(`"${u.name}"`, u.bus, [...at, 'bus']);
}

/** Buses reachable from `start` by following bridges downstream (including `start`). */
export function reachableBuses(cfg: Pick<SocConfig, 'bridges'>, start: string): Set<string> {
  const seen = new Set<string>([start]);
  const stack = [start];
  while (stack.length) {
    const bus = stack.pop()!;
    for (const br of cfg.bridges) {
      if (br.from === bus && !seen.has(br.to)) {
        seen.add(br.to);
        stack.push(br.to);
      }
    }
  }
  return seen;
}

/** The first bridge that closes a cycle, with the buses along it, or null. */
function findBridgeCycle(cfg: SocConfig): { index: number; buses: string[] } | null {
  const state = new Map<string, 'open' | 'done'>();
  const path: string[] = [];
  const visit = (bus: string): { index: number; buses: string[] } | null => {
    state.set(bus, 'open');
    path.push(bus);
    for (let i = 0; i < cfg.bridges.length; i++) {
      const br = cfg.bridges[i];
      if (br.from !== bus) continue;
      const s = state.get(br.to);
      if (s === 'open') return { index: i, buses: [...path.slice(path.indexOf(br.to)), br.to] };
      if (s === undefined) {
        const found = visit(br.to);
        if (found) return found;
      }
    }
    path.pop();
    state.set(bus, 'done');
    return null;
  };
  for (const b of cfg.buses) {
    if (!state.has(b.name)) {
      const found = visit(b.name);
      if (found) return found;
    }
  }
  return null;
}
