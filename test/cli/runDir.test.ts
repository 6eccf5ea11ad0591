import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../helpers/cliInProcess';
import { hashJson } from '../../sim/soc/builder';
import { ScenarioSchema } from '../../scenario/schema';
import { REPO } from '../helpers/configFiles';

const NIC = path.join(REPO, 'soc-configs', 'scenarios', 'server-io-nic-strict.json');

const cli = runCli;

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-rundir-'));
const readJson = (f: string) => JSON.parse(fs.readFileSync(f, 'utf8'));

describe('run --out DIR', () => {
  const base = ['run', NIC, '--until', '30us', '--no-progress', '--set', 'soc.iommus.iommu.l2Tlb.entries=128', '--set', 'soc.iommus.iommu.l2Tlb.ways=128'];
  let dir: string;
  let printedJson: Record<string, unknown>;

  beforeAll(async () => {
    dir = path.join(tmp(), 'run');
    const r = await cli([...base, '--seed', '9', '--out', dir, '--trace', '--stats', 'json']);
    expect(r.err).toBe('');
    expect(r.code).toBe(0);
    printedJson = JSON.parse(r.out);
  });

  test('writes config, stats (JSON = what --stats json printed), CSV (= the JSON), trace and meta', () => {
    expect(fs.readdirSync(dir).sort()).toEqual(['config.json', 'meta.json', 'pagetables.json', 'stats.csv', 'stats.json', 'trace.jsonl']);
    const stats = readJson(path.join(dir, 'stats.json'));
    expect(stats).toEqual(printedJson);
    expect(stats['soc.iommu.l2tlb.lookups']).toBeGreaterThan(0);
    const csv = fs.readFileSync(path.join(dir, 'stats.csv'), 'utf8').trim().split('\n');
    expect(csv[0]).toBe('stat,value');
    const fromCsv = new Map(csv.slice(1).map((l) => l.split(',') as [string, string]));
    const scalars = Object.entries(stats).filter(([, v]) => !Array.isArray(v));
    expect(fromCsv.size).toBe(scalars.length);
    for (const [k, v] of scalars) expect([k, fromCsv.get(k)]).toEqual([k, v === null ? '' : String(v)]);
  });

  test('meta.json records the run: version, seed, overrides, config hash, times, jobs', () => {
    const meta = readJson(path.join(dir, 'meta.json'));
    const config = readJson(path.join(dir, 'config.json'));
    expect(meta).toMatchObject({
      format: 'socsim-run', status: 'ok', socsim_version: readJson(path.join(REPO, 'package.json')).version,
      node_version: process.version, scenario: 'server_io_nic_strict', soc: 'server_io', seed: 9,
      overrides: ['soc.iommus.iommu.l2Tlb.entries=128', 'soc.iommus.iommu.l2Tlb.ways=128'],
      config_hash: hashJson(config), sim_time_ps: 30_000_000, sim_time: '30 us', stop_reason: 'limit',
      jobs: [{ name: 'rx', kind: 'nic', status: 'not_finished', done: false, verified: null }], trace: 'trace.jsonl',
    });
    expect(meta.events).toBe(printedJson['sim.events']);
    expect(meta.git_commit === null || /^[0-9a-f]{40}$/.test(meta.git_commit)).toBe(true);
    expect(meta.host_seconds).toBeGreaterThan(0);
    // The trace header names the same config.
    const header = JSON.parse(fs.readFileSync(path.join(dir, 'trace.jsonl'), 'utf8').split('\n')[0]);
    expect(header.config_hash).toBe(meta.config_hash);
    expect(header.seed).toBe(9);
  });

  test('config.json is the resolved config with the run\'s seed and stop time; it validates and re-runs to the same stats', async () => {
    const config = readJson(path.join(dir, 'config.json'));
    expect(config.soc.iommus[0].l2Tlb).toMatchObject({ entries: 128, ways: 128 });
    expect(config.scenario).toMatchObject({ seed: 9, until: 30_000_000 });
    expect(ScenarioSchema.parse(config.scenario)).toEqual(config.scenario);
    // Re-run it as a scenario with its SoC inline, no flags: same stats.
    const again = path.join(tmp(), 'again.json');
    fs.writeFileSync(again, JSON.stringify({ ...config.scenario, soc: config.soc }));
    const r = await cli(['run', again, '--stats', 'json', '--no-progress']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual(printedJson);
  });

  test('a directory holding a finished run is refused without --force, replaced with it', async () => {
    const before = fs.readFileSync(path.join(dir, 'meta.json'), 'utf8');
    const refused = await cli([...base, '--out', dir]);
    expect(refused.code).toBe(1);
    expect(refused.err).toMatch(/already holds a finished run \(scenario server_io_nic_strict, seed 9.*--force/);
    expect(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')).toBe(before);
    const forced = await cli([...base, '--out', dir, '--force', '--stats', 'json']);
    expect(forced.code).toBe(0);
    expect(readJson(path.join(dir, 'meta.json')).seed).toBe(1);
    expect(fs.existsSync(path.join(dir, 'trace.jsonl'))).toBe(false); // no stale trace from the earlier run
  });

  test('a failed run leaves no stats or meta (nor a temporary trace) in the directory', async () => {
    const d = path.join(tmp(), 'bad');
    const bad = await cli(['run', NIC, '--until', '30us', '--set', 'soc.iommus.iommu.l2Tlb.entries=48', '--out', d, '--trace']);
    expect(bad.code).toBe(1);
    expect(bad.err).toMatch(/--set soc\.iommus\.iommu\.l2Tlb\.entries=48/);
    expect(fs.existsSync(d) ? fs.readdirSync(d) : []).toEqual([]);
    // An incomplete directory (no meta.json) is reused without --force. (The config error
    // above is found before the directory is made.)
    fs.mkdirSync(d, { recursive: true });
    fs.writeFileSync(path.join(d, 'stats.json'), '{"partial":');
    const ok = await cli(['run', NIC, '--until', '10us', '--out', d, '--stats', 'json']);
    expect(ok.code).toBe(0);
    expect(readJson(path.join(d, 'stats.json'))).toEqual(JSON.parse(ok.out));
  });

  test('a bare --trace needs --out', async () => {
    const r = await cli(['run', NIC, '--until', '10us', '--trace']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--trace: give a file/);
  });
});
