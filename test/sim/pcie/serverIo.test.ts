import * as path from 'path';
import { createSimContext } from '../../../sim/engine/context';
import { Cmd } from '../../../sim/bus/transaction';
import { buildSoc, loadSocConfig } from '../../../sim/soc/builder';
import type { SocConfig } from '../../../sim/soc/schema';
import { getFormat } from '../../../sim/mmu/format';
import { readConfig, REPO, socConfigError } from '../../helpers/configFiles';
import { TrafficMaster } from '../../helpers/trafficMaster';

const SERVER_IO = path.join(REPO, 'soc-configs', 'server-io.json');

/** The latency (ns) of one 64-byte DMA read by the NIC's master id, IOMMU stream in bypass. */
function nicReadNs(cfg: SocConfig, addr: number): number {
  const ctx = createSimContext(1);
  const soc = buildSoc(ctx, cfg, SERVER_IO, { detached: ['nic'] });
  const iommu = soc.iommu('iommu');
  iommu.setStreamContext(1, { format: getFormat('arm-lpae-4k'), root: 0, asid: 0, mode: 'bypass', privileged: false, allowRead: true, allowWrite: true });
  const m = new TrafficMaster(ctx, 'nic_probe', soc.attachPoint('nic').masterId, [{ cmd: Cmd.Read, addr, size: 64 }]);
  soc.attach('nic', m);
  m.start(0);
  ctx.engine.runUntilIdle();
  expect(m.completed[0].status).toBe(1);
  return m.completed[0].doneTick / 1000;
}

describe('server-io: the NIC behind PCIe 2.0 x8 and a root complex', () => {
  const cfg = loadSocConfig(SERVER_IO);

  test('a NIC DMA read takes hundreds of ns: link, root complex, IOMMU, crossbar and DRAM', () => {
    const addr = 0x9000_0000; // below 4 GiB: a 3-DW header
    const behindPcie = nicReadNs(cfg, addr);
    const onChip = nicReadNs({ ...cfg, devices: cfg.devices.map((d) => (d.name === 'nic' ? { ...d, pcie: undefined } : d)) }, addr);
    // Expected PCIe part: 2 x 100 ns link latency + 2 x 100 cycles at 1 GHz root complex
    // + the read request (8 + 12 = 20 B) and its completion (8 + 12 + 64 = 84 B) at
    // 5 GT/s x 8 lanes x 8/10 = 4 bytes/ns: 200 + 200 + 26 = 426 ns.
    const pcie = 200 + 200 + (20 + 84) / 4;
    expect(behindPcie - onChip).toBeGreaterThanOrEqual(pcie - 1);
    expect(behindPcie - onChip).toBeLessThanOrEqual(pcie + 1);
    // On chip: IOMMU bypass + crossbar + DRAM (tens of ns); in all a few hundred ns.
    expect(onChip).toBeGreaterThan(15);
    expect(onChip).toBeLessThan(60);
    expect(behindPcie).toBeGreaterThan(400);
    expect(behindPcie).toBeLessThan(600);
  });

  test('the root complex holds the IOMMU; the NIC is Gen2 x8, the storage Gen3 x4', () => {
    expect(cfg.rootComplexes[0].iommu).toBe('iommu');
    const raw = readConfig(SERVER_IO);
    raw.rootComplexes[0].iommu = 'smmu9';
    const e = socConfigError(raw);
    expect(e.message).toContain('soc.rootComplexes[0].iommu');
    expect(e.message).toContain('unknown IOMMU "smmu9"');
    expect(cfg.devices.filter((d) => d.pcie).map((d) => [d.name, d.pcie!.gen, d.pcie!.lanes])).toEqual([['nic', 2, 8], ['storage', 3, 4], ['pciebench', 3, 8]]);
  });
});
