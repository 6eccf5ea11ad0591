import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../helpers/cliInProcess';
import { diffStats, parseStatsCsv, parseTolerance, StatsInputError } from '../../cli/statsDiff';
import { statsToCsv } from '../../sim/engine/statsCsv';
import { REPO } from '../helpers/configFiles';

const cli = runCli;

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-statsdiff-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** Writes `stats` as `name`: .json as run --stats json, .csv as statsToCsv; a string as it is. */
function statsFile(name: string, stats: Record<string, number | null | number[]> | string | unknown[]): string {
  const file = path.join(tmp, name);
  const text = typeof stats === 'string' ? stats
    : name.endsWith('.csv') ? statsToCsv(stats as Record<string, number | null | number[]>) : JSON.stringify(stats, null, 2);
  fs.writeFileSync(file, text);
  return file;
}

/** A run directory holding the stats.json of `socsim run <scenario> --until <until> --stats json`. */
async function runDir(name: string, scenario: string, until: string): Promise<string> {
  const r = await cli(['run', scenario, '--until', until, '--no-progress', '--stats', 'json']);
  expect(r.code).toBe(0);
  const dir = path.join(tmp, name);
  fs.mkdirSync(dir);
  fs.writeFileSync(path.join(dir, 'stats.json'), r.out);
  return dir;
}

describe('stats diff of runs', () => {
  const ring = path.join(REPO, 'soc-configs', 'scenarios', 'server-io-nic-ring-1024.json');
  let base: string;

  beforeAll(async () => {
    base = await runDir('base', ring, '150us');
  });

  test('a run against itself (and against its stats.json, and its CSV) exits 0', async () => {
    const self = await cli(['stats', 'diff', base, base]);
    expect(self.code).toBe(0);
    expect(self.out).toMatch(/^0 moved beyond the tolerance, 0 changed within it, \d+ equal; 0 only in a, 0 only in b$/m);
    const again = await runDir('again', ring, '150us');
    expect((await cli(['stats', 'diff', base, path.join(again, 'stats.json')])).code).toBe(0);
    const csv = statsFile('base.csv', JSON.parse(fs.readFileSync(path.join(base, 'stats.json'), 'utf8')));
    expect((await cli(['stats', 'diff', base, csv])).code).toBe(0);
  });

  test('against the same scenario with a 4096-entry IOTLB: exit 1, the L2 TLB misses among the changes', async () => {
    // The scenario names its SoC relative to itself: both copies go in one directory.
    const dir = path.join(tmp, 'bigger-iotlb');
    fs.mkdirSync(dir);
    const soc = JSON.parse(fs.readFileSync(path.join(REPO, 'soc-configs', 'server-io.json'), 'utf8'));
    delete soc.$schema;
    soc.iommus[0].l2Tlb.entries = 4096;
    soc.iommus[0].l2Tlb.ways = 16;
    fs.writeFileSync(path.join(dir, 'soc.json'), JSON.stringify(soc));
    const scn = JSON.parse(fs.readFileSync(ring, 'utf8'));
    delete scn.$schema;
    scn.soc = './soc.json';
    fs.writeFileSync(path.join(dir, 'scenario.json'), JSON.stringify(scn));
    const big = await runDir('big', path.join(dir, 'scenario.json'), '150us');

    const r = await cli(['stats', 'diff', base, big, '--tol', '1%']);
    expect(r.code).toBe(1);
    const a = JSON.parse(fs.readFileSync(path.join(base, 'stats.json'), 'utf8'));
    const b = JSON.parse(fs.readFileSync(path.join(big, 'stats.json'), 'utf8'));
    expect(b['soc.iommu.l2tlb.misses']).toBeLessThan(a['soc.iommu.l2tlb.misses'] * 0.95);
    const line = r.out.split('\n').find((l) => l.startsWith('soc.iommu.l2tlb.misses '));
    expect(line).toBeDefined();
    const rel = (100 * (b['soc.iommu.l2tlb.misses'] - a['soc.iommu.l2tlb.misses'])) / a['soc.iommu.l2tlb.misses'];
    expect(line!.split(/\s+/)).toEqual(['soc.iommu.l2tlb.misses', String(a['soc.iommu.l2tlb.misses']), String(b['soc.iommu.l2tlb.misses']),
      String(b['soc.iommu.l2tlb.misses'] - a['soc.iommu.l2tlb.misses']), `${rel.toPrecision(3)}%`]);

    // --stats-filter narrows the comparison; --json gives the same changes as data.
    const only = await cli(['stats', 'diff', base, big, '--stats-filter', 'soc.iommu.l2tlb.misses', '--json']);
    expect(only.code).toBe(1);
    const j = JSON.parse(only.out);
    expect(j.moved).toEqual([{ stat: 'soc.iommu.l2tlb.misses', a: a['soc.iommu.l2tlb.misses'], b: b['soc.iommu.l2tlb.misses'],
      abs: b['soc.iommu.l2tlb.misses'] - a['soc.iommu.l2tlb.misses'], rel: rel / 100 }]);
    // Stats that did not move pass the gate.
    expect((await cli(['stats', 'diff', base, big, '--stats-filter', 'soc.storage'])).code).toBe(0);
  });
});

describe('stats diff of hand-made files', () => {
  const a = statsFile('a.json', { 'x.hits': 1000, 'x.misses': 200, 'x.rate': null, 'x.lat.buckets': [1, 2], 'zero': 0 });

  test('a 0.5% change is hidden by a 1% tolerance and shown without one', async () => {
    const b = statsFile('b.json', { 'x.hits': 1005, 'x.misses': 200, 'x.rate': null, 'x.lat.buckets': [9, 9], 'zero': 0 });
    expect((await cli(['stats', 'diff', a, b, '--tol', '1%'])).code).toBe(0);
    const exact = await cli(['stats', 'diff', a, b]);
    expect(exact.code).toBe(1);
    expect(exact.out).toMatch(/^x\.hits\s+1000\s+1005\s+\+5\s+\+0\.500%$/m);
    // Bucket arrays are not compared (they changed here).
    expect(exact.out).toContain('1 moved beyond the tolerance, 0 changed within it, 3 equal; 0 only in a, 0 only in b');
    expect((await cli(['stats', 'diff', a, b, '--tol', '0.4%'])).code).toBe(1);
    expect((await cli(['stats', 'diff', a, b, '--tol', '0.5%'])).code).toBe(0); // exactly at the tolerance is within it
    const within = await cli(['stats', 'diff', a, b, '--tol', '1%']);
    expect(within.out).toContain('0 moved beyond the tolerance, 1 changed within it');
  });

  test('--abs-tol: a change must exceed both tolerances to count', async () => {
    const b = statsFile('c.json', { 'x.hits': 1000, 'x.misses': 210, 'x.rate': null, 'x.lat.buckets': [], 'zero': 0 });
    expect((await cli(['stats', 'diff', a, b, '--tol', '1%'])).code).toBe(1); // +5%
    expect((await cli(['stats', 'diff', a, b, '--tol', '1%', '--abs-tol', '10'])).code).toBe(0);
    expect((await cli(['stats', 'diff', a, b, '--abs-tol', '9.5'])).code).toBe(1);
  });

  test('from 0, and null against a number, always move; sorted by relative change', async () => {
    const b = statsFile('d.json', { 'x.hits': 2000, 'x.misses': 190, 'x.rate': 0.5, 'x.lat.buckets': [], 'zero': 1 });
    const r = await cli(['stats', 'diff', a, b, '--tol', '50%']);
    expect(r.code).toBe(1);
    const stats = r.out.split('\n').filter((l) => /^(x|zero)/.test(l)).map((l) => l.split(/\s+/));
    expect(stats).toEqual([
      ['x.rate', 'n/a', '0.5', 'n/a', 'n/a'],
      ['zero', '0', '1', '+1', '+inf'],
      ['x.hits', '1000', '2000', '+1000', '+100%'],
    ]);
    expect(r.out).toContain('3 moved beyond the tolerance, 1 changed within it, 0 equal');
  });

  test('stats on one side only are listed and count as a difference', async () => {
    const b = statsFile('e.csv', { 'x.hits': 1000, 'x.misses': 200, 'x.rate': null, 'x.new': 3 });
    const r = await cli(['stats', 'diff', a, b]);
    expect(r.code).toBe(1);
    expect(r.out).toContain('only in a (1): zero');
    expect(r.out).toContain('only in b (1): x.new');
  });

  test('unreadable or missing input: exit 1 with a message, never 2', async () => {
    const cases: [string[], RegExp][] = [
      [[a, path.join(tmp, 'nope.json')], /cannot read stats .*nope\.json: no such file or directory/],
      [[a, tmp], /is a directory without stats\.json \(not a run directory\)/],
      [[a, statsFile('bad.json', '{"x": "high"}')], /stat "x" is "high", not a number, null or an array/],
      [[a, statsFile('list.json', [1, 2])], /not a stats file/],
      [[a, statsFile('trunc.json', '{"x": 1')], /not JSON/],
      [[a, statsFile('bad.csv', 'name,v\nx,1\n')], /the first line must be "stat,value"/],
      [[a, statsFile('bad2.csv', 'stat,value\nx,abc\n')], /bad2\.csv:2: stat "x": value "abc" is not a number/],
      [[a, a, '--tol', '1'], /--tol: give a percentage, e\.g\. 1% or 0\.5%, got "1"/],
      [[a, a, '--abs-tol', '-1'], /--abs-tol: give a number ≥ 0, got "-1"/],
      [[a, a, '--stats-filter', 'x.hit'], /--stats-filter x\.hit matches no stat; close names: x\.hits/],
    ];
    for (const [args, msg] of cases) {
      const r = await cli(['stats', 'diff', ...args]);
      expect({ args, code: r.code }).toEqual({ args, code: 1 });
      expect(r.err).toMatch(msg);
    }
  });
});

describe('stats diff pieces', () => {
  test('tolerances', () => {
    expect(parseTolerance('1%')).toBe(0.01);
    expect(parseTolerance('0.5%')).toBe(0.005);
    expect(parseTolerance('0')).toBe(0);
    expect(() => parseTolerance('0.01')).toThrow(StatsInputError);
    expect(() => parseTolerance('%')).toThrow(StatsInputError);
  });

  test('CSV with quoted cells and CRLF line ends', () => {
    const m = parseStatsCsv('stat,value\r\n"a,b",1.5\r\n"q""x",\r\nc,-2e-3', 'f.csv');
    expect([...m]).toEqual([['a,b', 1.5], ['q"x', null], ['c', -0.002]]);
  });

  test('round trip: statsToCsv output reads back as the dump\'s scalars, exactly', () => {
    const dump = { 'a.mean': 0.1 + 0.2, 'a.p99': 1 / 3, 'a.buckets': [1], 'b': null, 'c': 1e21 };
    const m = parseStatsCsv(statsToCsv(dump), 'x.csv');
    expect([...m]).toEqual([['a.mean', 0.1 + 0.2], ['a.p99', 1 / 3], ['b', null], ['c', 1e21]]);
  });

  test('a change within the tolerance is kept apart from one beyond it', () => {
    const d = diffStats(new Map([['s', 100], ['t', 100]]), new Map([['s', 101], ['t', 150]]), { tol: 0.02, absTol: 0 });
    expect(d.moved.map((c) => c.stat)).toEqual(['t']);
    expect(d.within.map((c) => c.stat)).toEqual(['s']);
  });
});
