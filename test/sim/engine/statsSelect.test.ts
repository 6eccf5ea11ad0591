import { globToRegExp, isNonzero, selectStats, StatsSelectError, suggestStatNames } from '../../../sim/engine/statsSelect';
import type { StatsDump } from '../../../sim/engine/stats';

const DUMP: StatsDump = {
  'sim.time_ns': 40000,
  'soc.iommu.l2tlb.hits': 0,
  'soc.iommu.l2tlb.hit_rate': null,
  'soc.iommu.l2tlb.misses': 75,
  'soc.iommu.nic.l1tlb.misses': 75,
  'soc.iommu.walker.latency_ns.buckets': [0, 3, 0],
  'soc.iommu.walker.latency_ns.p99': 124.9,
  'soc.iommu.walker.latency_ns.samples': 3,
  'soc.iommux.misses': 1,
  'soc.misses': 2,
  'soc.nic.idle_ns.buckets': [0, 0],
  'soc.nic.rx_bytes': 2496,
};

const kept = (...filters: string[]): string[] => Object.keys(selectStats(DUMP, { filters }));

describe('stats globs', () => {
  test('a plain name selects that stat and everything below it, not a sibling that shares its prefix', () => {
    expect(kept('soc.iommu.l2tlb')).toEqual(['soc.iommu.l2tlb.hits', 'soc.iommu.l2tlb.hit_rate', 'soc.iommu.l2tlb.misses']);
    expect(kept('soc.iommu')).not.toContain('soc.iommux.misses');
    expect(kept('sim.time_ns')).toEqual(['sim.time_ns']);
  });

  test('a histogram name selects all its keys', () => {
    expect(kept('soc.iommu.walker.latency_ns')).toEqual([
      'soc.iommu.walker.latency_ns.buckets', 'soc.iommu.walker.latency_ns.p99', 'soc.iommu.walker.latency_ns.samples',
    ]);
  });

  test('* stays within a segment', () => {
    expect(kept('soc.*.misses')).toEqual(['soc.iommux.misses']);
    expect(kept('soc.iommu.*.misses')).toEqual(['soc.iommu.l2tlb.misses']);
    expect(kept('soc.nic.rx_*')).toEqual(['soc.nic.rx_bytes']);
  });

  test('** as a segment spans zero or more segments', () => {
    expect(kept('soc.**.misses')).toEqual(['soc.iommu.l2tlb.misses', 'soc.iommu.nic.l1tlb.misses', 'soc.iommux.misses', 'soc.misses']);
    expect(kept('**.p99')).toEqual(['soc.iommu.walker.latency_ns.p99']);
    expect(kept('**')).toEqual(Object.keys(DUMP));
    expect(globToRegExp('soc.**').test('soc')).toBe(true);
    expect(globToRegExp('soc.**').test('socx')).toBe(false);
    expect(globToRegExp('a.**.**.b').test('a.b')).toBe(true);
  });

  test('** inside a segment crosses dots; regex characters are literal', () => {
    expect(kept('soc.io**ses')).toEqual(['soc.iommu.l2tlb.misses', 'soc.iommu.nic.l1tlb.misses', 'soc.iommux.misses']);
    expect(globToRegExp('a+b').test('aab')).toBe(false);
    expect(globToRegExp('a+b').test('a+b')).toBe(true);
  });

  test('any of several globs keeps a stat, in the dump order', () => {
    expect(kept('soc.nic', 'sim')).toEqual(['sim.time_ns', 'soc.nic.idle_ns.buckets', 'soc.nic.rx_bytes']);
  });

  test('globs are case-sensitive', () => {
    expect(() => kept('SIM.time_ns')).toThrow(StatsSelectError);
  });
});

describe('--nonzero', () => {
  test('drops 0, null and all-zero bucket arrays, keeps the rest', () => {
    const out = selectStats(DUMP, { nonzero: true });
    expect(Object.keys(out)).toEqual([
      'sim.time_ns', 'soc.iommu.l2tlb.misses', 'soc.iommu.nic.l1tlb.misses', 'soc.iommu.walker.latency_ns.buckets',
      'soc.iommu.walker.latency_ns.p99', 'soc.iommu.walker.latency_ns.samples', 'soc.iommux.misses', 'soc.misses', 'soc.nic.rx_bytes',
    ]);
    expect(isNonzero(-1)).toBe(true);
    expect(isNonzero([0, 0])).toBe(false);
  });

  test('combines with a filter', () => {
    expect(Object.keys(selectStats(DUMP, { filters: ['soc.iommu.l2tlb'], nonzero: true }))).toEqual(['soc.iommu.l2tlb.misses']);
  });

  test('a filter that only matches zeros is not an error: it just shows nothing', () => {
    expect(selectStats(DUMP, { filters: ['soc.iommu.l2tlb.hits'], nonzero: true })).toEqual({});
  });
});

describe('a filter that matches nothing', () => {
  test('names the glob and suggests close stat names', () => {
    expect(() => kept('soc.iommu.l2tbl.misses')).toThrow('--stats-filter soc.iommu.l2tbl.misses matches no stat; close names: soc.iommu.l2tlb.misses');
  });

  test('keeps wildcard segments in the suggestion', () => {
    expect(suggestStatNames('soc.*.l2tbl.misses', Object.keys(DUMP))[0]).toBe('soc.*.l2tlb.misses');
  });

  test('suggests subtrees', () => {
    expect(suggestStatNames('soc.iomu', Object.keys(DUMP))[0]).toBe('soc.iommu');
  });

  test('offers nothing when nothing is close', () => {
    expect(() => kept('dram')).toThrow(/^--stats-filter dram matches no stat$/);
  });

  test('any one glob matching nothing is an error, even when others match', () => {
    expect(() => kept('soc.nic', 'soc.nick')).toThrow('--stats-filter soc.nick matches no stat; close names: soc.nic');
  });

  test('an empty glob is refused', () => {
    expect(() => kept('')).toThrow('a stats filter must not be empty');
  });
});
