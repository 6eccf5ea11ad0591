import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { configErrorOf } from '../helpers/configFiles';
import { checkSweepSpec, expandSweep, loadSweepSpec, overrideText } from '../../scenario/sweepSpec';
import { resultsCsv, statColumns } from '../../scenario/sweepResults';
import { StatsSelectError } from '../../sim/engine/statsSelect';
import type { StatsDump } from '../../sim/engine/stats';
import { specFromArgs } from '../../cli/sweep';

const spec = (s: unknown) => checkSweepSpec(s, 'spec.json');
const errorOf = configErrorOf;

describe('sweep spec', () => {
  test('points come in grid order: scenarios, grid axes (first slowest), zipped groups, seeds innermost', () => {
    const points = expandSweep(spec({
      scenarios: ['a', 'b'],
      set: ['scenario.jobs.rx.packets=100'],
      until: '50us',
      grid: { 'soc.x.n': [1, 2] },
      zip: [{ 'soc.t.entries': [32, 64], 'soc.t.ways': [32, 64] }],
      seeds: 2,
    }));
    expect(points).toHaveLength(2 * 2 * 2 * 2);
    expect(points.slice(0, 5).map((p) => [p.scenario, p.params.map(([, v]) => v).join('/'), p.seed])).toEqual([
      ['a', '1/32/32', 1], ['a', '1/32/32', 2], ['a', '1/64/64', 1], ['a', '1/64/64', 2], ['a', '2/32/32', 1],
    ]);
    expect(points[8].scenario).toBe('b');
    expect(points[3].sets).toEqual([
      'scenario.jobs.rx.packets=100', 'scenario.until=50us', 'soc.x.n=1', 'soc.t.entries=64', 'soc.t.ways=64', 'scenario.seed=2',
    ]);
    expect(points.map((p) => p.index)).toEqual(points.map((_, i) => i));
  });

  test('seed lists, and no seeds (the scenario\'s own)', () => {
    expect(expandSweep(spec({ scenarios: ['a'], seeds: [7, 3] })).map((p) => p.seed)).toEqual([7, 3]);
    const own = expandSweep(spec({ scenarios: ['a'] }));
    expect(own.map((p) => [p.seed, p.sets])).toEqual([[null, []]]);
  });

  test('values are written so that --set reads them back with their type', () => {
    expect(overrideText('p', 128)).toBe('p=128');
    expect(overrideText('p', true)).toBe('p=true');
    expect(overrideText('p', '4KiB')).toBe('p=4KiB');
    expect(overrideText('p', '128')).toBe('p="128"');
  });

  test('errors name the JSON path', () => {
    expect(errorOf(() => spec({ scenarios: ['a'], zip: [{ 'soc.a': [1, 2], 'soc.b': [1] }] })).message)
      .toMatch(/^spec\.json: sweep\.zip\[0\]\["soc\.b"\]: a zipped group moves together: 1 values here, 2 for "soc\.a"/);
    expect(errorOf(() => spec({ scenarios: ['a'], grid: { 'iommus.x': [1] } })).message).toMatch(/sweep\.grid\["iommus\.x"\]: an axis is an override path starting with "soc\." or "scenario\."/);
    expect(errorOf(() => spec({ scenarios: ['a'], grid: { 'soc.a': [1] }, zip: [{ 'soc.a': [2] }] })).message).toMatch(/sweep\.zip\[0\]\["soc\.a"\]: "soc\.a" is already an axis/);
    expect(errorOf(() => spec({ scenarios: [], grid: {} })).jsonPath).toBe('sweep.scenarios');
    expect(errorOf(() => spec({ scenarios: ['a'], until: '10' })).message).toMatch(/sweep\.until: a time with its unit/);
    expect(errorOf(() => spec({ scenarios: ['a'], seeds: 0 })).jsonPath).toBe('sweep.seeds');
    expect(errorOf(() => spec({ scenarios: ['a'], colums: [] })).message).toMatch(/unknown field "colums"/);
    expect(errorOf(() => spec({ scenarios: ['a'], grid: { 'soc.a': [] } })).jsonPath).toBe('sweep.grid["soc.a"]');
  });

  test('a spec file: scenario paths relative to it, bundled names kept', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-spec-'));
    fs.writeFileSync(path.join(dir, 'mine.json'), '{}');
    const file = path.join(dir, 'sweep.json');
    fs.writeFileSync(file, JSON.stringify({ scenarios: ['mine.json', 'server-io-nic-strict'], grid: { 'soc.a': [1] } }));
    expect(loadSweepSpec(file).scenarios).toEqual([path.join(dir, 'mine.json'), 'server-io-nic-strict']);
  });

  test('flags build the same spec; --zip flags form one group; --seed-list', () => {
    const s = specFromArgs({
      scenario: ['a'], out: 'x', progress: false, grid: ['soc.x.n=1,2'], zip: ['soc.t.entries=32,64', 'soc.t.ways=32,64'],
      'seed-list': '5,6', set: ['scenario.jobs.rx.packets=10'], until: '20us', 'stats-filter': ['soc.*.misses'],
    });
    expect(s).toMatchObject({
      scenarios: ['a'], grid: { 'soc.x.n': [1, 2] }, zip: [{ 'soc.t.entries': [32, 64], 'soc.t.ways': [32, 64] }],
      seeds: [5, 6], set: ['scenario.jobs.rx.packets=10'], until: '20us', stats: ['soc.*.misses'],
    });
    expect(() => specFromArgs({ out: 'x', progress: false })).toThrow(/name at least one scenario/);
    expect(() => specFromArgs({ scenario: ['a'], out: 'x', progress: false, grid: ['soc.x'] })).toThrow(/--grid: expected path=v1,v2/);
    expect(() => specFromArgs({ scenario: ['a'], out: 'x', progress: false, seeds: 'two' })).toThrow(/--seeds: a count/);
  });
});

describe('results.csv', () => {
  test('stat columns: globs as for --stats-filter over the scalar stats of every ok point', () => {
    const stats = new Map<string, StatsDump>([['p1', { 'b': 1, 'a.x': 2, 'a.y.p50': 3, 'c': 4, 'a.h.bucket_lo': [1] }], ['p2', { 'a.z': 5 }]]);
    // `a.*` selects a.x, a.y (and so its subtree a.y.p50) and a.z.
    expect(statColumns(stats, ['a.*', 'c'])).toEqual(['a.x', 'a.y.p50', 'a.z', 'c']);
    expect(statColumns(stats, ['*.x'])).toEqual(['a.x']);
    expect(statColumns(stats, ['a'])).toEqual(['a.x', 'a.y.p50', 'a.z']);
    expect(statColumns(stats, ['**.p50'])).toEqual(['a.y.p50']);
    expect(statColumns(stats, [])).toEqual(['a.x', 'a.y.p50', 'a.z', 'b', 'c']);
    expect(() => statColumns(stats, ['a.q'])).toThrow(StatsSelectError);
    expect(statColumns(new Map(), ['a.q'])).toEqual([]);
  });

  test('one row per point in point order; failed points have an error and empty stats', () => {
    const points = expandSweep(spec({ scenarios: ['s'], grid: { 'soc.a': [1, 'x,y'] } }));
    const csv = resultsCsv([
      { point: points[0], hash: 'h0', status: 'ok', seed: 1, error: null },
      { point: points[1], hash: 'h1', status: 'error', seed: 1, error: 'bad "value"' },
    ], ['soc.a'], ['m', 'n'], new Map([['h0', { m: 3, n: null }]]));
    expect(csv).toBe('scenario,soc.a,seed,status,hash,error,m,n\ns,1,1,ok,h0,,3,\ns,"x,y",1,error,h1,"bad ""value""",,\n');
  });
});
