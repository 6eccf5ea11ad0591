import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { compiledCli } from '../helpers/compiledCli';

/**
 * `socsim sweep` through the compiled CLI, as a user runs it: worker processes, run
 * directories, resumption and results.csv. Each sweep is a few short NIC runs (--until).
 */

const SCENARIO = 'server-io-nic-strict';
const ENTRIES = [32, 64, 128];
const SEEDS = [1, 2];
const UNTIL = '100us';
const FILTER = 'soc.iommu.l2tlb.*';
/** A fully associative IOTLB: entries and ways move together. */
const SWEEP = [SCENARIO, '--zip', `soc.iommus.iommu.l2Tlb.entries=${ENTRIES}`, '--zip', `soc.iommus.iommu.l2Tlb.ways=${ENTRIES}`,
  '--seeds', String(SEEDS.length), '--until', UNTIL, '--stats-filter', FILTER, '--no-progress'];

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-sweep-'));
const socsim = (args: string[]) => spawnSync(process.execPath, [compiledCli(), ...args], { encoding: 'utf8' });
const metaFiles = (out: string) => fs.readdirSync(path.join(out, 'points'))
  .map((h) => path.join(out, 'points', h, 'meta.json')).filter((f) => fs.existsSync(f));

let reference: string;

beforeAll(() => {
  compiledCli();
});

describe('socsim sweep', () => {
  test('-j 2 gives the results.csv that running each point alone gives', () => {
    const out = tmp();
    const r = socsim(['sweep', ...SWEEP, '-j', '2', '--out', out]);
    expect(r.stderr).toMatch(/sweep: 6 point\(s\), 0 already finished, 6 to run/);
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/6 point\(s\): 6 ran, 0 already finished, 0 failed/);
    reference = fs.readFileSync(path.join(out, 'results.csv'), 'utf8');

    // The same points, one `socsim run --out` each.
    const rows: string[] = [];
    let columns: string[] | null = null;
    for (const n of ENTRIES) {
      for (const seed of SEEDS) {
        const dir = path.join(tmp(), 'run');
        const single = socsim(['run', SCENARIO, '--set', `soc.iommus.iommu.l2Tlb.entries=${n}`, '--set', `soc.iommus.iommu.l2Tlb.ways=${n}`,
          '--until', UNTIL, '--seed', String(seed), '--out', dir, '--no-progress', '--stats', 'json']);
        expect(single.status).toBe(0);
        const stats = JSON.parse(fs.readFileSync(path.join(dir, 'stats.json'), 'utf8')) as Record<string, unknown>;
        const hash = JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')).config_hash;
        columns ??= Object.keys(stats).filter((k) => k.startsWith('soc.iommu.l2tlb.') && !Array.isArray(stats[k])).sort();
        rows.push([SCENARIO, n, n, seed, 'ok', hash, '', ...columns.map((c) => (stats[c] === null ? '' : String(stats[c])))].join(','));
      }
    }
    const header = ['scenario', 'soc.iommus.iommu.l2Tlb.entries', 'soc.iommus.iommu.l2Tlb.ways', 'seed', 'status', 'hash', 'error', ...columns!].join(',');
    expect(reference).toBe([header, ...rows].join('\n') + '\n');
    // The bigger IOTLB evicts less: the columns hold real, differing numbers.
    const evictions = reference.trim().split('\n').slice(1).map((l) => Number(l.split(',')[7 + columns!.indexOf('soc.iommu.l2tlb.evictions')]));
    expect(evictions[0]).toBeGreaterThan(evictions[2]);
    expect(evictions[2]).toBeGreaterThan(evictions[4]);
    // Every point directory is a complete run directory.
    expect(metaFiles(out)).toHaveLength(6);
  }, 60_000);

  test('-j 1 gives the same results.csv; re-running skips every finished point', () => {
    const out = tmp();
    expect(socsim(['sweep', ...SWEEP, '-j', '1', '--out', out]).status).toBe(0);
    expect(fs.readFileSync(path.join(out, 'results.csv'), 'utf8')).toBe(reference);
    const again = socsim(['sweep', ...SWEEP, '-j', '2', '--out', out]);
    expect(again.status).toBe(0);
    expect(again.stderr).toMatch(/6 already finished, 0 to run/);
    expect(fs.readFileSync(path.join(out, 'results.csv'), 'utf8')).toBe(reference);
  }, 60_000);

  test.each(['SIGINT', 'SIGKILL'] as const)('killed half-way (%s), a re-run runs only the missing points', async (signal) => {
    const out = tmp();
    const child = spawn(process.execPath, [compiledCli(), 'sweep', ...SWEEP, '-j', '1', '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      child.stderr.on('data', (d) => {
        err += String(d);
        if (/\[2\/6\]/.test(err)) resolve();
      });
    });
    child.kill(signal);
    const code = await exited;
    if (signal === 'SIGINT') {
      expect(code).toBe(130);
      expect(err).toMatch(/interrupted: \d point\(s\) ran/);
    }
    expect(fs.existsSync(path.join(out, 'results.csv'))).toBe(false);
    const before = new Map(metaFiles(out).map((f) => [f, fs.statSync(f).mtimeMs]));
    expect(before.size).toBeGreaterThanOrEqual(2);
    expect(before.size).toBeLessThan(6);

    const again = socsim(['sweep', ...SWEEP, '-j', '2', '--out', out]);
    expect(again.status).toBe(0);
    const m = /6 point\(s\): (\d) ran, (\d) already finished, 0 failed/.exec(again.stdout);
    expect(m).not.toBeNull();
    // A SIGKILLed sweep's worker may finish the point it was on after the parent died.
    expect(Number(m![2])).toBeGreaterThanOrEqual(before.size);
    expect(Number(m![1]) + Number(m![2])).toBe(6);
    for (const [f, mtime] of before) expect(fs.statSync(f).mtimeMs).toBe(mtime);
    expect(fs.readFileSync(path.join(out, 'results.csv'), 'utf8')).toBe(reference);
  }, 60_000);

  test('a point the schema refuses is recorded, the others run, the exit status is 1', () => {
    const out = tmp();
    // 32 entries do not divide into the IOTLB's 64 ways.
    const args = ['sweep', SCENARIO, '--grid', 'soc.iommus.iommu.l2Tlb.entries=32,128', '--until', '20us', '--stats-filter', 'soc.iommu.l2tlb.misses', '--no-progress', '--out', out];
    const r = socsim(args);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/1 of 2 point\(s\) failed/);
    const [header, bad, good] = fs.readFileSync(path.join(out, 'results.csv'), 'utf8').trim().split('\n');
    expect(header).toBe('scenario,soc.iommus.iommu.l2Tlb.entries,seed,status,hash,error,soc.iommu.l2tlb.misses');
    expect(bad).toMatch(/^server-io-nic-strict,32,,error,x[0-9a-f]{15},"--set soc\.iommus\.iommu\.l2Tlb\.entries=32: soc\.iommus\[0\]\.l2Tlb\.ways: must divide entries \(32\), got 64.*",$/);
    expect(good).toMatch(/^server-io-nic-strict,128,1,ok,[0-9a-f]{16},,\d+$/);
    const hash = bad.split(',')[4];
    expect(JSON.parse(fs.readFileSync(path.join(out, 'points', hash, 'error.json'), 'utf8'))).toMatchObject({ status: 'error', kind: 'config' });
    expect(fs.existsSync(path.join(out, 'points', hash, 'meta.json'))).toBe(false);
    // A re-run tries the failed point again and skips the finished one.
    const again = socsim(args);
    expect(again.status).toBe(1);
    expect(again.stdout).toMatch(/2 point\(s\): 0 ran, 1 already finished, 1 failed/);
  }, 60_000);

  test('--sample-interval: a timeseries.csv per point whose intervals sum to its stats; a finished unsampled point runs again to get one', () => {
    const out = tmp();
    const base = [SCENARIO, '--grid', 'scenario.until=50us,100us', '--no-progress', '-j', '2', '--out', out];
    const plain = socsim(['sweep', ...base]);
    expect(plain.status).toBe(0);
    const hashes = fs.readdirSync(path.join(out, 'points'));
    expect(hashes).toHaveLength(2);
    for (const h of hashes) expect(fs.existsSync(path.join(out, 'points', h, 'timeseries.csv'))).toBe(false);

    // The same points, sampled: they are finished but lack their time series, so they run again.
    const sampled = socsim(['sweep', ...base, '--sample-interval', '10us', '--sample-stats', 'soc.iommu.l2tlb.misses', '--sample-stats', 'soc.iommu.walker.walks']);
    expect(sampled.status).toBe(0);
    expect(sampled.stdout).toMatch(/2 point\(s\): 2 ran, 0 already finished, 0 failed/);
    const intervals: number[] = [];
    for (const h of hashes) {
      const rows = fs.readFileSync(path.join(out, 'points', h, 'timeseries.csv'), 'utf8').trim().split('\n').map((l) => l.split(','));
      expect(rows[0]).toEqual(['end_ns', 'interval_ns', 'soc.iommu.l2tlb.misses', 'soc.iommu.walker.walks']);
      const stats = JSON.parse(fs.readFileSync(path.join(out, 'points', h, 'stats.json'), 'utf8'));
      const sum = (col: number) => rows.slice(1).reduce((a, r) => a + Number(r[col]), 0);
      expect(sum(2)).toBe(stats['soc.iommu.l2tlb.misses']);
      expect(sum(3)).toBe(stats['soc.iommu.walker.walks']);
      expect(sum(2)).toBeGreaterThan(0);
      intervals.push(rows.length - 1);
    }
    // Each point's own series: 50 us and 100 us in 10 us intervals.
    expect(intervals.sort((a, b) => a - b)).toEqual([5, 10]);
    // Sampling changes no stat: results.csv is the unsampled sweep's.
    expect(JSON.parse(fs.readFileSync(path.join(out, 'sweep.json'), 'utf8')).sample).toEqual({ interval: '10us', stats: ['soc.iommu.l2tlb.misses', 'soc.iommu.walker.walks'] });
    const again = socsim(['sweep', ...base, '--sample-interval', '10us']);
    expect(again.stdout).toMatch(/2 point\(s\): 0 ran, 2 already finished, 0 failed/);

    const bad = socsim(['sweep', SCENARIO, '--sample-interval', '0us', '--out', tmp()]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/sweep\.sample\.interval: must be more than 0/);
    const noInterval = socsim(['sweep', SCENARIO, '--sample-stats', 'soc.**', '--out', tmp()]);
    expect(noInterval.status).toBe(1);
    expect(noInterval.stderr).toMatch(/--sample-stats needs --sample-interval/);
  }, 60_000);

  test('bad flags are usage errors (exit 1)', () => {
    const r = socsim(['sweep', SCENARIO, '--grid', 'soc.iommus.iommu.l2Tlb.entries', '--out', tmp()]);
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/--grid: expected path=v1,v2/);
    const zip = socsim(['sweep', SCENARIO, '--zip', 'soc.a.b=1,2', '--zip', 'soc.a.c=1', '--out', tmp()]);
    expect(zip.status).toBe(1);
    expect(zip.stderr).toMatch(/sweep\.zip\[0\]\["soc\.a\.c"\]: a zipped group moves together/);
  });
});
