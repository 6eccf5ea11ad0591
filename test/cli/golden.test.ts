/**
 * Every bundled scenario's short run matches its golden trace (regenerate deliberately
 * with `npm run golden:update`). A mismatch fails with the trace diff's first divergence.
 */
import * as path from 'path';
import { bundledScenarios, checkGolden } from '../../cli/golden';

describe('golden traces of the bundled scenarios', () => {
  test.each(bundledScenarios().map((f) => path.basename(f, '.json')))('%s', (name) => {
    const file = bundledScenarios().find((f) => path.basename(f, '.json') === name)!;
    const r = checkGolden(file);
    if (!r.ok) throw new Error(r.report);
  });
});

describe('a deliberate change', () => {
  test('one TLB parameter changed: the golden check fails with a readable first divergence; regenerating makes it pass', async () => {
    const fs = await import('fs');
    const { goldenDir, goldenTrace } = await import('../../cli/golden');
    const { traceDiffCommand } = await import('../../cli/traceDiff');
    const { readConfig, writeTemp, REPO } = await import('../helpers/configFiles');
    const soc = readConfig(path.join(REPO, 'soc-configs', 'mobile.json'));
    soc.iommus.find((u: { name: string }) => u.name === 'gpu_mmu').l2Tlb.latencyCycles = 12; // was 10
    const socFile = writeTemp(soc, 'mobile-small-tlb.json');
    const scenario = readConfig(path.join(REPO, 'soc-configs', 'scenarios', 'mobile-gpu-texture-4k.json'));
    scenario.soc = socFile;
    const trace = goldenTrace(writeTemp(scenario, 'mobile-gpu-texture-4k.json'));
    const now = writeTemp(trace, 'now.trace.jsonl');
    const golden = path.join(goldenDir(), 'mobile-gpu-texture-4k.trace.jsonl');
    const lines: string[] = [];
    expect(traceDiffCommand(golden, now, (l) => lines.push(l))).toBe(1);
    const report = lines.join('\n');
    expect(report).toMatch(/config_hash: "[0-9a-f]{16}" vs "[0-9a-f]{16}"/);
    expect(report).toMatch(/first divergence at record \d+ \(line \d+\)/);
    expect(report).toMatch(/differing fields:/);
    expect(report).toMatch(/records per category \(b - a\):/);
    // "Regenerating": the new trace as the golden file passes.
    const regenerated = writeTemp(trace, 'regenerated.trace.jsonl');
    expect(traceDiffCommand(regenerated, now, () => {})).toBe(0);
    expect(fs.readFileSync(regenerated, 'utf8')).toBe(trace);
  });
});

describe("users' own golden traces (socsim golden)", () => {
  test('--update writes a golden for a user scenario in a user directory; the check passes, and fails after a --set change', async () => {
    const fs = await import('fs');
    const os = await import('os');
    const { goldenCommand } = await import('../../cli/golden');
    const { readConfig, writeTemp, REPO } = await import('../helpers/configFiles');
    const scenario = readConfig(path.join(REPO, 'soc-configs', 'scenarios', 'server-io-nic-strict.json'));
    scenario.soc = path.join(REPO, 'soc-configs', 'server-io.json');
    const file = writeTemp(scenario, 'my-nic.json');
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-goldens-'));
    let out = '';
    const say = (s: string) => { out += s; };
    expect(goldenCommand([file], { dir, update: true, until: 2_000_000 }, say)).toBe(0);
    expect(fs.existsSync(path.join(dir, 'my-nic.trace.jsonl'))).toBe(true);
    expect(goldenCommand([file], { dir, until: 2_000_000 }, say)).toBe(0);
    expect(out).toContain('all 1 golden traces match');
    out = '';
    expect(goldenCommand([file], { dir, until: 2_000_000, sets: ['soc.iommus.iommu.walker.stepCycles=9'] }, say)).toBe(1);
    expect(out).toMatch(/golden trace of my-nic differs[\s\S]*first divergence at record/);
    expect(out).toContain('1 of 1 golden traces differ or are missing');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
