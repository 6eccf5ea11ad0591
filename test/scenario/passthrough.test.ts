/**
 * The scenario switch for iommu.passthrough (scenario.kernel.iommuPassthrough, also
 * `--set scenario.kernel.iommuPassthrough=true`): what it changes in a run, and the
 * errors for asking it where it changes nothing or for physical buffers without it.
 */
import * as path from 'path';
import { loadScenario } from '../../scenario/load';
import { parseOverride } from '../../scenario/overrides';
import { runLoaded } from '../../scenario/run';

const SCENARIOS = path.join(__dirname, '..', '..', 'soc-configs', 'scenarios');
const WINDOW = path.join(SCENARIOS, 'server-io-dma-window.json');
const small = ['scenario.jobs.reads.streams[0].accesses=300', 'scenario.buffers.window.size=64KiB'];

function run(sets: string[]) {
  const loaded = loadScenario(WINDOW, sets.map(parseOverride));
  return runLoaded(loaded).stats;
}

test('iommuPassthrough: the window reads bypass the IOMMU (no walk, no TLB lookup) and take less time', () => {
  const on = run([...small, 'scenario.kernel.iommuPassthrough=true']);
  const off = run(small);
  expect(on['soc.iommu.bypassed']).toBe(300);
  expect(on['soc.iommu.walker.walks']).toBe(0);
  expect(on['soc.iommu.pciebench.l1tlb.misses']).toBe(0);
  expect(off['soc.iommu.bypassed']).toBe(0);
  expect(off['soc.iommu.walker.walks']).toBeGreaterThanOrEqual(16); // 16 pages of 4 KiB, each walked at least once
  expect(on['soc.pciebench.latency_ns.p50'] as number).toBeLessThan(off['soc.pciebench.latency_ns.p50'] as number);
});

test('iommuPassthrough on a SoC with no DMA-API IOMMU is a ConfigError naming the field', () => {
  expect(() => loadScenario(path.join(SCENARIOS, 'dgpu-gf100-texture-4k.json'), [parseOverride('scenario.kernel.iommuPassthrough=true')]))
    .toThrow(/scenario\.kernel\.iommuPassthrough.*no device behind an IOMMU that the DMA API drives/);
});

test('a "physical" buffer on a device behind the IOMMU needs passthrough, and works with it', () => {
  const physical = [...small, 'scenario.buffers.window.via=physical'];
  expect(() => loadScenario(WINDOW, physical.map(parseOverride))).toThrow(/buffers\[0\]\.via.*behind an IOMMU \(set kernel\.iommuPassthrough/);
  const stats = run([...physical, 'scenario.kernel.iommuPassthrough=true']);
  expect(stats['soc.pciebench.reads']).toBe(300);
  expect(stats['soc.pciebench.errors']).toBe(0);
});
