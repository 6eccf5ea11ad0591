/**
 * The bundled sweep soc-configs/sweeps/server-io-dma-window.json: 8 windows x IOMMU /
 * passthrough x 1 / 32 reads in flight, every point's overrides valid on the bundled
 * scenario (checked by loading, not running: the sweep itself takes ~10 s).
 */
import * as path from 'path';
import { loadScenario } from '../../scenario/load';
import { parseOverride } from '../../scenario/overrides';
import { expandSweep, loadSweepSpec } from '../../scenario/sweepSpec';

const SPEC = path.join(__dirname, '..', '..', 'soc-configs', 'sweeps', 'server-io-dma-window.json');

test('the DMA-window sweep has 32 points from 4 KiB to 64 MiB, with and without the IOMMU, and each loads', () => {
  const points = expandSweep(loadSweepSpec(SPEC));
  expect(points).toHaveLength(32);
  const windows = new Set<number>();
  const modes = new Set<string>();
  for (const p of points) {
    const loaded = loadScenario(p.scenario, p.sets.map(parseOverride));
    windows.add(loaded.scenario.buffers[0].size);
    const dev = loaded.soc.devices.find((d) => d.name === 'pciebench') as { maxOutstanding?: number };
    modes.add(`${loaded.scenario.kernel.iommuPassthrough}/${dev.maxOutstanding}`);
  }
  expect([...windows].sort((a, b) => a - b)).toEqual([4, 16, 64, 256, 1024, 4096, 16384, 65536].map((k) => k * 1024));
  expect([...modes].sort()).toEqual(['false/1', 'false/32', 'true/1', 'true/32']);
});
