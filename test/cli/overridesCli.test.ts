/** `--set` on run and validate, scenarios by bundled name: errors name the override, exit 1. */
import * as path from 'path';
import { runCli } from '../helpers/cliInProcess';
import { MINIMAL, REPO } from '../helpers/configFiles';

const cli = runCli;

describe('--set and bundled names on the command line', () => {
  test('run takes a bundled scenario by name, and --set changes what runs', async () => {
    const base = await cli(['run', 'server-io-nic-strict', '--until', '500us', '--stats', 'json']);
    const big = await cli(['run', 'server-io-nic-strict', '--until', '500us', '--stats', 'json', '--set', 'soc.iommus.iommu.l2Tlb.entries=1024']);
    expect(base.code).toBe(0);
    expect(big.code).toBe(0);
    const misses = (out: string) => JSON.parse(out)['soc.iommu.l2tlb.misses'] as number;
    expect(misses(base.out)).toBeGreaterThan(0);
    expect(misses(big.out)).toBeLessThan(misses(base.out));
  });

  test.each([
    [['run', 'server-io-nic-strict', '--set', 'soc.iommus.iommu.l2Tlb.entries=0'], /^error: --set soc\.iommus\.iommu\.l2Tlb\.entries=0: soc\.iommus\[0\]\.l2Tlb\.entries: /],
    [['run', 'server-io-nic-strict', '--set', 'soc.iommus.smmu.l2Tlb.entries=8'], /no element named "smmu" \(names: iommu\)/],
    [['run', 'server-io-nic-strict', '--set', 'scenario.jobs.tx.rx.packets=5'], /scenario\.jobs: no element named "tx" \(names: rx\)/],
    [['run', 'nosuch-scenario'], /no bundled scenario of that name/],
    [['validate', MINIMAL, '--set', 'scenario.seed=3'], /only soc\.… overrides apply/],
    [['validate', MINIMAL, '--set', 'soc.memories.dram.sizee=1'], /nearest valid paths: soc\.memories\.dram\.size/],
  ])('%j is refused with exit 1', async (args, message) => {
    const r = await cli(args as string[]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message as RegExp);
  });

  test('validate applies --set to a SoC file and to a scenario', async () => {
    const soc = await cli(['validate', MINIMAL, '--set', 'soc.name=tiny']);
    expect(soc.out).toMatch(/^ok: .*minimal\.json: soc "tiny"/);
    const sc = await cli(['validate', path.join(REPO, 'soc-configs', 'scenarios', 'default.json'), '--set', 'scenario.name=d2']);
    expect(sc.out).toMatch(/scenario "d2" on soc "minimal" with 1 override\(s\)/);
  });
});
