import { execFileSync } from 'child_process';
import * as path from 'path';
import { runCli } from '../helpers/cliInProcess';
import { compiledCli } from '../helpers/compiledCli';
import { resolveScenario } from '../../scenario/resolve';
import { checkHostMemory, estimateRunHostMemory, totalHostMemory } from '../../scenario/hostMemory';
import { runPoint } from '../../scenario/pointRun';
import { ConfigError } from '../../sim/engine/errors';

const MiB = 2 ** 20;
const BIG_IOTLB = ['--set', 'soc.iommus.iommu.l2Tlb.entries=1048576', '--set', 'soc.iommus.iommu.l2Tlb.ways=16'];

describe('host-memory limit (issue 15)', () => {
  test('run refuses a config over --max-host-memory before building, naming the dominating component and field', async () => {
    const r = await runCli(['run', 'server-io-nic-strict', '--until', '2us', '--max-host-memory', '32MiB', ...BIG_IOTLB]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/server-io\.json: soc\.iommus\[0\]\.l2Tlb\.entries: the run would need about 5\d MiB of host memory, more than the limit of 32 MiB \(--max-host-memory\); "iommu" allocates the most by this field: 48 MiB/);
    expect(r.out).toBe('');
    // The same config runs under a limit that fits it.
    const ok = await runCli(['run', 'server-io-nic-strict', '--until', '2us', '--max-host-memory', '128MiB', '--stats', 'json', ...BIG_IOTLB]);
    expect(ok.code).toBe(0);
  });

  test('validate applies the same check (what validate accepts must run)', async () => {
    const r = await runCli(['validate', 'server-io-nic-strict', '--max-host-memory', '32MiB', ...BIG_IOTLB]);
    expect(r.code).toBe(1);
    expect(r.err).toContain('soc.iommus[0].l2Tlb.entries: the run would need about');
    expect((await runCli(['validate', 'server-io-nic-strict', '--max-host-memory', '1GiB', ...BIG_IOTLB])).code).toBe(0);
  });

  test('a scenario field can dominate: a display job with 1-byte lines on a 256 MiB FIFO', () => {
    const loaded = resolveScenario('mobile-display', ['soc.devices.display.fifoBytes=256MiB', 'scenario.jobs.scanout.width=1', 'scenario.jobs.scanout.bytesPerPixel=1']);
    const e = (() => {
      try {
        checkHostMemory(loaded, 4 * 1024 * MiB);
      } catch (err) {
        return err;
      }
      return null;
    })();
    expect(e).toBeInstanceOf(ConfigError);
    expect((e as ConfigError).jsonPath).toBe('scenario.jobs[0].width');
    expect((e as ConfigError).reason).toMatch(/job "scanout" allocates the most by this field: 23 GiB/);
  });

  test('bad --max-host-memory is a usage error', async () => {
    const r = await runCli(['run', 'server-io-nic-strict', '--max-host-memory', '0']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--max-host-memory: must be a positive size/);
  });

  test('a sweep point over its limit fails as a config error (error.json), not an out-of-memory worker', () => {
    const loaded = resolveScenario('server-io-nic-strict', [BIG_IOTLB[1], BIG_IOTLB[3]]);
    const reply = runPoint(loaded, undefined, 32 * MiB);
    expect(reply.ok).toBe(false);
    expect(reply.error).toContain('soc.iommus[0].l2Tlb.entries');
    expect(JSON.parse(reply.files!['error.json']!).kind).toBe('config');
  });
});

/**
 * The estimate against reality: a child node (--expose-gc) resolves the config, takes the
 * estimate, then measures heap + external (typed arrays) growth over a 2 µs run after a
 * forced GC. Within a factor of 3 either way, for bundled configs and for configs where
 * one sized field dominates. (In-flight transaction payloads and untouched buffers are
 * counted at their maximum, so configs dominated by them are not in this list.)
 */
describe('host-memory estimate vs measured heap growth', () => {
  const dist = path.dirname(path.dirname(compiledCli()));
  const child = `
    const D = ${JSON.stringify(dist)};
    const { resolveScenario } = require(D + '/scenario/resolve');
    const { runLoaded } = require(D + '/scenario/run');
    const { estimateRunHostMemory, totalHostMemory } = require(D + '/scenario/hostMemory');
    const [name, ...sets] = process.argv.slice(1);
    const loaded = resolveScenario(name, sets);
    const est = totalHostMemory(estimateRunHostMemory(loaded));
    const mem = () => { global.gc(); global.gc(); const m = process.memoryUsage(); return m.heapUsed + m.external; };
    const before = mem();
    const out = runLoaded(loaded, { until: 2e6 });
    const after = mem();
    process.stdout.write(JSON.stringify({ est, measured: after - before, events: out.events }));
  `;
  const cases: [string, string[]][] = [
    ['server-io-nic-strict', []],
    ['mobile-display', []],
    ['minimal-cpu-trace', []],
    ['server-io-storage-sg', []],
    ['server-io-nic-strict', ['soc.iommus.iommu.l2Tlb.entries=1048576', 'soc.iommus.iommu.l2Tlb.ways=16']],
    ['server-io-nic-strict', ['soc.iommus.iommu.walker.walkCaches[0].entries=1048576']],
    ['minimal-cpu-trace', ['soc.cpuMmus.cpu_mmu.cache.sizeBytes=256MiB']],
    ['server-io-nic-strict', ['soc.memories.dram.queueDepth=1048576']],
    ['server-io-nic-strict', ['soc.buses.xbar.inputQueueDepth=1048576']],
    ['server-io-nic-strict', ['soc.memories.dram.banks=65536', 'soc.memories.dram.channels=16']],
    ['mobile-display', ['soc.devices.display.fifoBytes=64MiB']],
  ];
  test.each(cases)('%s %j: estimate within 3x of measured', (name, sets) => {
    const text = execFileSync(process.execPath, ['--expose-gc', '-e', child, name, ...sets], { encoding: 'utf8', timeout: 60_000 });
    const { est, measured, events } = JSON.parse(text) as { est: number; measured: number; events: number };
    expect(events).toBeGreaterThan(0);
    expect(est).toBe(totalHostMemory(estimateRunHostMemory(resolveScenario(name, sets))));
    expect(est / measured).toBeGreaterThan(1 / 3);
    expect(est / measured).toBeLessThan(3);
  }, 60_000);
});
