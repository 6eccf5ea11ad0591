/**
 * socsim as a library: what the README's "Using socsim as a library" shows, through the
 * package entry point (index.ts), with numbers checked against each other.
 */
import { resolveScenario, runLoaded, statNumber, statNumberOr, StatLookupError, statsToCsv, bundledScenarioNames } from '../../index';

describe('the library API', () => {
  test('resolve a bundled scenario with overrides, run it, read stats by name', () => {
    expect(bundledScenarioNames()).toContain('server-io-nic-strict');
    const misses = (entries: number) => {
      const out = runLoaded(resolveScenario('server-io-nic-strict', [`soc.iommus.iommu.l2Tlb.entries=${entries}`, 'scenario.until=300us']));
      const lookups = statNumber(out.stats, 'soc.iommu.l2tlb.lookups');
      const hits = statNumber(out.stats, 'soc.iommu.l2tlb.hits');
      const m = statNumber(out.stats, 'soc.iommu.l2tlb.misses');
      expect(hits + m).toBe(lookups);
      expect(out.jobs.map((j) => j.status)).toEqual(['not_finished']);
      return m;
    };
    expect(misses(1024)).toBeLessThan(misses(64));
  });

  test('statNumber names a missing stat and its siblings; a null is refused, statNumberOr falls back', () => {
    const stats = { 'a.b.count': 1, 'a.b.lat.p50': null };
    expect(() => statNumber(stats, 'a.b.cont')).toThrow(new StatLookupError('no stat named "a.b.cont" (under a.b.: a.b.count)'));
    expect(() => statNumber(stats, 'a.b.lat.p50')).toThrow(/is null \(no samples\)/);
    expect(statNumberOr(stats, 'a.b.lat.p50', -1)).toBe(-1);
    expect(statsToCsv(stats)).toBe('stat,value\na.b.count,1\na.b.lat.p50,\n');
  });
});
