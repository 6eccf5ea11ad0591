import * as path from 'path';
import { run } from '../../../scenario/run';
import { ConfigError } from '../../../sim/engine/errors';
import { loadSocConfig } from '../../../sim/soc/builder';
import { readConfig, REPO, writeTemp, socConfigError } from '../../helpers/configFiles';

/**
 * Every infrastructure component's spec, as the SoC config sees it: a good config
 * passes, and each rule (field bounds, cross-field rules, rules that need the unit's
 * page-table format) is a ConfigError with the full JSON path.
 */

const TLB = { entries: 32, ways: 4, latencyCycles: 1, pageSizes: ['4KiB', '2MiB'] };

/** The minimal SoC plus a peripheral bus behind a bridge and an SMMU-style IOMMU with a walk cache. */
function full(mutate: (c: any) => void = () => {}): any {
  const c = readConfig();
  c.buses.push({ name: 'periph', clock: 'sys', widthBytes: 8, latencyCycles: 1 });
  c.bridges = [{ name: 'down', from: 'xbar', to: 'periph', clock: 'sys', latencyCycles: 2 }];
  c.iommus = [{
    name: 'smmu', bus: 'xbar', clock: 'sys', format: 'arm-lpae-4k',
    l1Tlb: { ...TLB }, l2Tlb: { ...TLB, entries: 512, ways: 8, latencyCycles: 4 },
    walker: { slots: 4, stepCycles: 2, walkCaches: [{ level: 'L2', entries: 16, ways: 4, latencyCycles: 1 }] },
    commandCycles: { invalidateAll: 100, invalidateAsid: 50, invalidateRange: 20, sync: 10 },
  }];
  c.devices[0].translation = { kind: 'iommu', iommu: 'smmu', streamId: 3 };
  mutate(c);
  return c;
}

const configError = socConfigError;

describe('component specs in SoC configs', () => {
  test('the full config passes and gets each spec\'s defaults', () => {
    const cfg = loadSocConfig(writeTemp(full()));
    expect(cfg.bridges[0].queueDepth).toBe(8);
    expect(cfg.buses[1]).toMatchObject({ arbitration: 'round-robin', inputQueueDepth: 8, maxOutstandingPerMaster: 0 });
    expect(cfg.iommus[0]).toMatchObject({ inputQueueDepth: 16, faultQueueDepth: 64, commandQueueDepth: 64, countStaleTlbHits: false });
    expect(cfg.iommus[0].l1Tlb).toEqual({ entries: 32, ways: 4, replacement: 'lru', latencyCycles: 1, pageSizes: [4096, 2 ** 21], mshrs: 4 });
    expect(cfg.cpuMmus[0].cache).toEqual({ sizeBytes: 32768, ways: 2, lineBytes: 64, hitLatencyCycles: 4, mshrs: 6 });
  });

  test.each<[string, (c: any) => void, string, RegExp | string]>([
    // DRAM
    ['DRAM banks not a power of two', (c) => { c.memories[0].banks = 6; }, 'soc.memories[0].banks', 'must be a power of two, got 6'],
    ['DRAM channels × banks too many', (c) => { c.memories[0].channels = 1024; c.memories[0].banks = 2048; }, 'soc.memories[0].banks', 'channels × banks must be at most 2^20, got 2097152'],
    ['DRAM burst larger than a row', (c) => { c.memories[0].burstBytes = '16KiB'; }, 'soc.memories[0].burstBytes', 'must be at most rowBytes (8192), got 16384'],
    ['DRAM mapping without channel', (c) => { c.memories[0].mapping = 'row:bank:column'; }, 'soc.memories[0].mapping', /^field channel must appear exactly once in "row:bank:column", found 0 times$/],
    ['DRAM mapping with an unknown field', (c) => { c.memories[0].mapping = 'row:rank:bank:channel:column'; }, 'soc.memories[0].mapping', /^unknown field "rank"/],
    ['DRAM tBURST below a picosecond', (c) => { c.memories[0].timing = { tBURST: 0.0001 }; }, 'soc.memories[0].timing.tBURST', 'must be at least 0.001 ns, got 0.0001'],
    ['DRAM timing negative', (c) => { c.memories[0].timing = { tRP: -1 }; }, 'soc.memories[0].timing.tRP', /^must be a positive number of ns/],
    ['DRAM queue depth absurd', (c) => { c.memories[0].queueDepth = 2 ** 21; }, 'soc.memories[0].queueDepth', 'must be an integer from 1 to 2^20, got 2097152'],
    ['DRAM frontend latency negative', (c) => { c.memories[0].frontendLatencyNs = -1; }, 'soc.memories[0].frontendLatencyNs', /^must be a non-negative number of ns/],
    // SRAM
    ['SRAM queue depth zero', (c) => { c.memories[1].queueDepth = 0; }, 'soc.memories[1].queueDepth', 'must be an integer from 1 to 2^20, got 0'],
    ['SRAM bytes per cycle fractional', (c) => { c.memories[1].bytesPerCycle = 1.5; }, 'soc.memories[1].bytesPerCycle', /got 1\.5$/],
    ['SRAM latency absurd', (c) => { c.memories[1].latencyCycles = 2 ** 40; }, 'soc.memories[1].latencyCycles', /^must be an integer from 0 to 2\^20/],
    // crossbar, bridge
    ['bus width not a power of two', (c) => { c.buses[1].widthBytes = 24; }, 'soc.buses[1].widthBytes', 'must be a power of two, got 24'],
    ['bus input queue absurd', (c) => { c.buses[0].inputQueueDepth = 2 ** 30; }, 'soc.buses[0].inputQueueDepth', /^must be an integer from 1 to 2\^20/],
    ['bus outstanding limit negative', (c) => { c.buses[0].maxOutstandingPerMaster = -1; }, 'soc.buses[0].maxOutstandingPerMaster', /^must be an integer from 0 to 2\^20/],
    ['bridge queue depth zero', (c) => { c.bridges[0].queueDepth = 0; }, 'soc.bridges[0].queueDepth', 'must be an integer from 1 to 2^20, got 0'],
    ['bridge latency fractional', (c) => { c.bridges[0].latencyCycles = 0.5; }, 'soc.bridges[0].latencyCycles', /got 0\.5$/],
    // TLBs
    ['TLB ways not dividing entries', (c) => { c.iommus[0].l2Tlb.ways = 6; }, 'soc.iommus[0].l2Tlb.ways', 'must divide entries (512), got 6'],
    ['TLB sets not a power of two', (c) => { c.cpuMmus[0].l2Tlb.ways = 8; c.cpuMmus[0].l2Tlb.entries = 96; }, 'soc.cpuMmus[0].l2Tlb.ways', /number of sets\) must be a power of two, got 96 \/ 8 = 12$/],
    ['plru with 12 ways', (c) => { Object.assign(c.iommus[0].l1Tlb, { entries: 12, ways: 12, replacement: 'plru' }); }, 'soc.iommus[0].l1Tlb.ways', 'plru needs a power-of-two number of ways, got 12'],
    ['TLB entries absurd', (c) => { Object.assign(c.iommus[0].l2Tlb, { entries: 2 ** 24, ways: 8 }); }, 'soc.iommus[0].l2Tlb.entries', /^must be an integer from 1 to 2\^20/],
    ['TLB MSHRs absurd', (c) => { c.iommus[0].l2Tlb.mshrs = 1e6; }, 'soc.iommus[0].l2Tlb.mshrs', /^must be an integer from 1 to 1024/],
    ['TLB page size twice', (c) => { c.cpuMmus[0].l1Tlb.pageSizes = ['4KiB', '2MiB', 4096]; }, 'soc.cpuMmus[0].l1Tlb.pageSizes[2]', 'duplicate page size 4KiB'],
    ['TLB page size not a power of two', (c) => { c.iommus[0].l1Tlb.pageSizes = ['4KiB', '12KiB']; }, 'soc.iommus[0].l1Tlb.pageSizes[1]', 'must be a power of two, got 12288'],
    ['TLB without page sizes', (c) => { c.iommus[0].l1Tlb.pageSizes = []; }, 'soc.iommus[0].l1Tlb.pageSizes', /^must be a non-empty list/],
    ['TLB page size the format lacks', (c) => { c.cpuMmus[0].l2Tlb.pageSizes = ['4KiB', '64KiB']; }, 'soc.cpuMmus[0].l2Tlb.pageSizes[1]', /^format arm-lpae-4k has no 65536-byte pages \(it has .*4KiB/],
    // walker, walk caches
    ['walker without slots', (c) => { c.iommus[0].walker.slots = 0; }, 'soc.iommus[0].walker.slots', 'must be an integer from 1 to 2^20, got 0'],
    ['walker step negative', (c) => { c.iommus[0].walker.stepCycles = -2; }, 'soc.iommus[0].walker.stepCycles', /got -2$/],
    ['walk cache ways not dividing entries', (c) => { c.iommus[0].walker.walkCaches[0].ways = 3; }, 'soc.iommus[0].walker.walkCaches[0].ways', 'must divide entries (16), got 3'],
    ['walk cache on a leaf level', (c) => { c.cpuMmus[0].walker.walkCaches[0].level = 'L3'; }, 'soc.cpuMmus[0].walker.walkCaches[0].level', '"L3" is not a table level of arm-lpae-4k (choose from L0, L1, L2)'],
    ['walk cache on a level of another format', (c) => { c.iommus[0].walker.walkCaches[0].level = 'PD0'; }, 'soc.iommus[0].walker.walkCaches[0].level', /^"PD0" is not a table level of arm-lpae-4k/],
    ['two walk caches on one level', (c) => { c.cpuMmus[0].walker.walkCaches.push({ level: 'L2', entries: 8, ways: 8, latencyCycles: 1 }); }, 'soc.cpuMmus[0].walker.walkCaches[1].level', 'level "L2" already has a walk cache (walkCaches[0])'],
    // IOMMU
    ['unknown format', (c) => { c.iommus[0].format = 'x86-ept'; }, 'soc.iommus[0].format', /^unknown page-table format "x86-ept" \(known: .*arm-lpae-4k/],
    ['a format name that is an Object property', (c) => { c.cpuMmus[0].format = 'constructor'; }, 'soc.cpuMmus[0].format', /^unknown page-table format "constructor"/],
    ['command cycles negative', (c) => { c.iommus[0].commandCycles.sync = -1; }, 'soc.iommus[0].commandCycles.sync', /got -1$/],
    ['command cycles missing', (c) => { delete c.iommus[0].commandCycles.invalidateAsid; }, 'soc.iommus[0].commandCycles.invalidateAsid', /got undefined$/],
    ['fault queue absurd', (c) => { c.iommus[0].faultQueueDepth = 2 ** 21; }, 'soc.iommus[0].faultQueueDepth', /^must be an integer from 1 to 2\^20/],
    ['unit input queue zero', (c) => { c.cpuMmus[0].inputQueueDepth = 0; }, 'soc.cpuMmus[0].inputQueueDepth', /^must be an integer from 1 to 2\^20/],
    // CPU cache and cores
    ['cache sets not a power of two', (c) => { c.cpuMmus[0].cache.sizeBytes = '24KiB'; }, 'soc.cpuMmus[0].cache.sizeBytes', 'gives 192 sets (sizeBytes / (ways × lineBytes)), which must be a power of two'],
    ['cache size not a multiple of a set', (c) => { c.cpuMmus[0].cache.sizeBytes = 1000; }, 'soc.cpuMmus[0].cache.sizeBytes', 'must be a positive multiple of ways × lineBytes (128), got 1000'],
    ['cache too large to hold', (c) => { c.cpuMmus[0].cache.sizeBytes = '4GiB'; }, 'soc.cpuMmus[0].cache.sizeBytes', /^must be from 1 byte to 1GiB/],
    ['cache line not a power of two', (c) => { c.cpuMmus[0].cache.lineBytes = 48; }, 'soc.cpuMmus[0].cache.lineBytes', 'must be a power of two, got 48'],
    ['cache ways zero', (c) => { c.cpuMmus[0].cache.ways = 0; }, 'soc.cpuMmus[0].cache.ways', /^must be an integer from 1 to 1024/],
    ['cache MSHRs absurd', (c) => { c.cpuMmus[0].cache.mshrs = 1e5; }, 'soc.cpuMmus[0].cache.mshrs', /^must be an integer from 1 to 1024/],
    ['core outstanding zero', (c) => { c.cpuMmus[0].cores[0].maxOutstanding = 0; }, 'soc.cpuMmus[0].cores[0].maxOutstanding', /^must be an integer from 1 to 1024/],
    ['core store buffer fractional', (c) => { c.cpuMmus[0].cores[0].storeBuffer = 2.5; }, 'soc.cpuMmus[0].cores[0].storeBuffer', /got 2\.5$/],
    // names the units use for their own ports and parts
    ['a device named like a walker port', (c) => { c.devices[0].name = 'smmu_walker'; }, 'soc.devices[0].name', 'name "smmu_walker" is already used by soc.iommus[0] (its walker\'s bus port)'],
    ['a core named like the kernel\'s core', (c) => { c.cpuMmus[0].cores[0].name = 'cpu'; }, 'soc.cpuMmus[0].cores[0].name', /^"cpu" names a part of "cpu_mmu"/],
    ['a device behind an IOMMU named like its walker', (c) => { c.devices[0].name = 'walker'; }, 'soc.devices[0].name', /^"walker" names a part of "smmu"/],
  ])('%s', (_name, mutate, jsonPath, reason) => {
    const e = configError(full(mutate));
    expect(e.jsonPath).toBe(jsonPath);
    if (typeof reason === 'string') expect(e.reason).toBe(reason);
    else expect(e.reason).toMatch(reason);
  });
});

describe('memory the kernel boots on', () => {
  const sramOnly = (c: any) => { c.memories = c.memories.filter((m: any) => m.kind !== 'dram'); };

  test.each<[string, (c: any) => void, string, RegExp]>([
    ['no DRAM', sramOnly, 'soc.memories', /^needs a memory of kind "dram"/],
    ['the first DRAM not page-aligned', (c) => { c.memories[0].base = '0x8000_0800'; }, 'soc.memories[0].base', /^must be a multiple of 4 KiB.*got 2147485696$/],
    ['the first DRAM not a whole number of pages', (c) => { c.memories[0].size = 2 ** 30 + 512; }, 'soc.memories[0].size', /^must be a multiple of 4 KiB/],
  ])('%s is a ConfigError', (_name, mutate, jsonPath, reason) => {
    const c = readConfig();
    mutate(c);
    const e = configError(c);
    expect(e.jsonPath).toBe(jsonPath);
    expect(e.reason).toMatch(reason);
  });

  test('a scenario that boots the kernel on a SoC without DRAM fails at load, not in the kernel', () => {
    const c = readConfig();
    sramOnly(c);
    const scenario = {
      name: 'cpu_trace', soc: writeTemp(c), seed: 1,
      jobs: [{ kind: 'cpu-trace', name: 'true', core: 'cpu0', trace: path.join(REPO, 'soc-configs', 'traces', 'true-lackey.txt') }],
    };
    expect(() => run(writeTemp(scenario))).toThrow(ConfigError);
    expect(() => run(writeTemp(scenario))).toThrow(/soc\.memories: needs a memory of kind "dram"/);
  });
});
