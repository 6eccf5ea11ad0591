import * as path from 'path';
import { Kernel } from '../../../drivers/kernel';
import { run } from '../../../scenario/run';
import { createSimContext } from '../../../sim/engine/context';
import { SimInvariantError } from '../../../sim/engine/errors';
import { MasterRegistry } from '../../../sim/engine/masters';
import { MemoryTraceWriter } from '../../../sim/engine/trace';
import { buildSoc, KERNEL_MASTER, loadSocConfig } from '../../../sim/soc/builder';
import { copyScenario, MINIMAL, REPO, writeTemp } from '../../helpers/configFiles';

const MOBILE = path.join(REPO, 'soc-configs', 'mobile.json');

describe('MasterRegistry', () => {
  test('hands out dense ids in registration order; name and id are inverse', () => {
    const m = new MasterRegistry();
    expect(m.register('soc.a')).toBe(0);
    expect(m.register('soc.b')).toBe(1);
    expect(m.register('kernel')).toBe(2);
    expect(m.size).toBe(3);
    expect(m.names).toEqual(['soc.a', 'soc.b', 'kernel']);
    for (let id = 0; id < m.size; id++) expect(m.id(m.name(id))).toBe(id);
    expect([...m.entries()]).toEqual([[0, 'soc.a'], [1, 'soc.b'], [2, 'kernel']]);
  });

  test('a name twice, an unknown name or id: SimInvariantError', () => {
    const m = new MasterRegistry();
    m.register('soc.a');
    expect(() => m.register('soc.a')).toThrow(SimInvariantError);
    expect(() => m.id('soc.z')).toThrow(/no bus master "soc.z" \(masters: soc.a\)/);
    expect(() => m.name(1)).toThrow(SimInvariantError);
  });
});

describe('the SoC builder registers every bus master', () => {
  const cfg = loadSocConfig(MOBILE);
  const soc = buildSoc(createSimContext(1), cfg, MOBILE);

  test('mobile.json: devices in config order, IOMMU walkers, CPU MMU walkers, the kernel, then cores', () => {
    expect(soc.masters.names).toEqual([
      'soc.gpu', 'soc.camera', 'soc.codec', 'soc.display', 'soc.dma0',
      'soc.gpu_mmu', 'soc.smmu',
      'soc.cpu_mmu',
      'kernel',
      'soc.cpu0',
    ]);
  });

  test('each part carries the id the registry gave its name', () => {
    cfg.devices.forEach((d, i) => {
      expect(soc.attachPoint(d.name).masterId).toBe(soc.masters.id(`soc.${d.name}`));
      expect(soc.attachPoint(d.name).masterId).toBe(i); // devices first, in config order
    });
    for (const [name, u] of soc.iommus) expect(u.walker.masterId).toBe(soc.masters.id(`soc.${name}`));
    for (const [name, u] of soc.cpuMmus) {
      expect(u.walker.masterId).toBe(soc.masters.id(`soc.${name}`));
      // The CPU cache's line traffic goes out with its CPU MMU's id.
      expect(soc.cpuCache(name).masterId).toBe(u.walker.masterId);
    }
    for (const [name, c] of soc.corePorts) expect(c.masterId).toBe(soc.masters.id(`soc.${name}`));
    // The kernel's loads and stores: the id registered for it, before the cores.
    const kernel = new Kernel(soc);
    expect(kernel.mem.masterId).toBe(soc.masters.id(KERNEL_MASTER));
    expect(kernel.mem.masterId).toBe(cfg.devices.length + cfg.iommus.length + cfg.cpuMmus.length);
  });

  test('ids are stable: a second build gives the same table', () => {
    const again = buildSoc(createSimContext(7), loadSocConfig(MOBILE), MOBILE);
    expect([...again.masters.entries()]).toEqual([...soc.masters.entries()]);
  });
});

test('bus records of a JSON Lines trace carry the master name next to its id', () => {
  const writer = new MemoryTraceWriter();
  const out = run(writeTemp(copyScenario(MINIMAL, { bytes: 1024 })), { traceWriter: writer });
  const bus = writer.lines.slice(1).map((l) => JSON.parse(l)).filter((r) => r.cat === 'bus');
  expect(bus.length).toBeGreaterThan(0);
  for (const r of bus) expect(r.master_name).toBe(out.soc.masters.name(r.master));
  expect(new Set(bus.map((r) => r.master_name))).toContain('soc.dma0');
  // The name sits right after the id.
  const keys = Object.keys(bus[0]);
  expect(keys[keys.indexOf('master') + 1]).toBe('master_name');
});
