import { SimInvariantError } from '../../../sim/engine/errors';
import { Counter, Formula, Histogram, StatsRegistry } from '../../../sim/engine/stats';

describe('Counter', () => {
  test('inc, direct update and reset', () => {
    const r = new StatsRegistry();
    const c = r.counter('soc.dram.row_hits', 'row buffer hits');
    expect(c).toBeInstanceOf(Counter);
    c.inc();
    c.inc(4);
    c.value++;
    expect(c.value).toBe(6);
    expect(r.value('soc.dram.row_hits')).toBe(6);
    c.reset();
    expect(c.value).toBe(0);
  });
});

describe('Histogram', () => {
  test('exact mean, min and max; empty: NaN mean and quantiles', () => {
    const h = new Histogram('lat', 'latency');
    expect(h.mean()).toBeNaN();
    expect(h.quantile(0.5)).toBeNaN();
    for (const v of [0, 5, 9.99, 10, 25, 39, 40, 1000]) h.sample(v);
    expect(h.samples).toBe(8);
    expect(h.min).toBe(0);
    expect(h.max).toBe(1000);
    expect(h.sum).toBe(0 + 5 + 9.99 + 10 + 25 + 39 + 40 + 1000);
    expect(h.mean()).toBe(h.sum / 8);
  });
});

describe('StatsRegistry', () => {
  test('formulas are evaluated at dump time', () => {
    const r = new StatsRegistry();
    const s = r.scope('soc.l2tlb');
    const hits = s.counter('hits');
    const misses = s.counter('misses');
    const f = s.formula('hit_rate', 'hits / lookups', () => hits.value / (hits.value + misses.value));
    expect(f).toBeInstanceOf(Formula);
    hits.inc(3);
    misses.inc(1);
    expect(r.dump()['soc.l2tlb.hit_rate']).toBe(0.75);
    hits.inc(4);
    expect(r.dump()['soc.l2tlb.hit_rate']).toBe(0.875);
    expect(r.value('soc.l2tlb.hit_rate')).toBe(0.875);
  });

  test('NaN and infinite formulas dump as null', () => {
    const r = new StatsRegistry();
    const a = r.counter('a');
    r.formula('ratio', '', () => a.value / a.value); // 0/0
    r.formula('inf', '', () => 1 / a.value);
    const d = r.dump();
    expect(d.ratio).toBeNull();
    expect(d.inf).toBeNull();
    expect(JSON.parse(r.toJson()).ratio).toBeNull();
  });

  test('hierarchical names through nested scopes', () => {
    const r = new StatsRegistry();
    const soc = r.scope('soc');
    const walker = soc.scope('gpu_iommu').scope('walker');
    walker.counter('walks').inc(2);
    walker.counter('mem_reads').inc(8);
    walker.histogram('latency_ns', 'walk latency').sample(120);
    soc.scope('dram').counter('row_hits');
    r.scope('').counter('top');
    expect(r.get('soc.gpu_iommu.walker.walks')).toBeInstanceOf(Counter);
    expect(r.value('soc.gpu_iommu.walker.mem_reads')).toBe(8);
    const keys = Object.keys(r.dump());
    expect(keys).toEqual(expect.arrayContaining([
      'soc.gpu_iommu.walker.walks', 'soc.gpu_iommu.walker.mem_reads', 'soc.dram.row_hits', 'top',
      'soc.gpu_iommu.walker.latency_ns.samples', 'soc.gpu_iommu.walker.latency_ns.p99',
    ]));
  });

  test('duplicate names and bad names throw', () => {
    const r = new StatsRegistry();
    r.counter('soc.x.count');
    expect(() => r.counter('soc.x.count')).toThrow(SimInvariantError);
    expect(() => r.scope('soc.x').counter('count')).toThrow(SimInvariantError);
    expect(() => r.formula('soc.x.count', '', () => 1)).toThrow(SimInvariantError);
    expect(() => r.counter('')).toThrow(SimInvariantError);
    expect(() => r.counter('has space')).toThrow(SimInvariantError);
    expect(() => r.counter('a..b')).toThrow(SimInvariantError);
    expect(() => r.counter('.a')).toThrow(SimInvariantError);
  });

  test("a histogram's dump keys may not collide with other stats", () => {
    const r = new StatsRegistry();
    r.histogram('soc.lat', '');
    expect(() => r.counter('soc.lat.mean')).toThrow(SimInvariantError);
    expect(() => r.formula('soc.lat.p99', '', () => 0)).toThrow(SimInvariantError);
    expect(() => r.formula('soc.lat.p999', '', () => 0)).toThrow(SimInvariantError);
    expect(() => r.counter('soc.lat.bucket_counts')).toThrow(SimInvariantError);
    expect(() => r.counter('soc.lat.buckets')).not.toThrow(); // no longer a dump key
    r.counter('soc.lat.other'); // not a dump key: fine
    r.counter('soc.b.samples');
    expect(() => r.histogram('soc.b', '')).toThrow(SimInvariantError);
    r.counter('soc.c.bucket_lo');
    expect(() => r.histogram('soc.c', '')).toThrow(SimInvariantError);
  });

  test('value() of an unknown name or a histogram throws', () => {
    const r = new StatsRegistry();
    r.histogram('h', '');
    expect(() => r.value('nope')).toThrow(SimInvariantError);
    expect(() => r.value('h')).toThrow(SimInvariantError);
  });

  test('dump: keys sorted, histograms expanded', () => {
    const r = new StatsRegistry();
    r.counter('zeta').inc(1);
    r.counter('alpha.b').inc(2);
    r.counter('alpha.a').inc(3);
    r.counter('Mid');
    const h = r.histogram('lat', 'latency');
    h.sample(5);
    h.sample(15);
    h.sample(100);
    const d = r.dump();
    const keys = Object.keys(d);
    expect(keys).toEqual([...keys].sort());
    expect(d).toEqual({
      'Mid': 0,
      'alpha.a': 3,
      'alpha.b': 2,
      // Non-empty buckets, parallel arrays: [5, 5.03125), [15, 15.0625), [100, 100.5).
      'lat.bucket_counts': [1, 1, 1],
      'lat.bucket_hi': [5.03125, 15.0625, 100.5],
      'lat.bucket_lo': [5, 15, 100],
      'lat.max': 100,
      'lat.mean': 40,
      'lat.min': 5,
      'lat.p50': 15.03125, // rank 2: the midpoint of [15, 15.0625)
      'lat.p90': 100, // rank 3: [100, 100.5) narrowed to the max, 100
      'lat.p99': 100,
      'lat.p999': 100,
      'lat.samples': 3,
      'zeta': 1,
    });
    // Registration order does not matter.
    const r2 = new StatsRegistry();
    r2.histogram('lat', 'latency');
    r2.counter('Mid');
    r2.counter('alpha.a');
    r2.counter('zeta');
    r2.counter('alpha.b');
    expect(Object.keys(r2.dump())).toEqual(keys);
  });

  test('empty histogram dumps nulls, not NaN or Infinity', () => {
    const r = new StatsRegistry();
    r.histogram('lat', '');
    const d = r.dump();
    expect(d['lat.samples']).toBe(0);
    expect(d['lat.mean']).toBeNull();
    expect(d['lat.min']).toBeNull();
    expect(d['lat.max']).toBeNull();
    expect(d['lat.p50']).toBeNull();
    expect(d['lat.p999']).toBeNull();
    expect(d['lat.bucket_counts']).toEqual([]);
    expect(r.toJson()).not.toMatch(/NaN|Infinity/);
  });

  test('JSON output parses back to the dump', () => {
    const r = new StatsRegistry();
    r.counter('soc.a').inc(7);
    r.formula('soc.f', '', () => 1 / 3);
    r.histogram('soc.h', '').sample(1);
    const parsed = JSON.parse(r.toJson());
    expect(parsed).toEqual(r.dump());
    expect(parsed['soc.a']).toBe(7);
    expect(Object.keys(parsed)).toEqual(Object.keys(r.dump()));
  });

  test('table output contains names, values and descriptions', () => {
    const r = new StatsRegistry();
    r.counter('soc.dram.row_hits', 'row buffer hits').inc(12345);
    r.formula('soc.tlb.hit_rate', 'hit rate', () => 0.987654321);
    r.formula('soc.none', 'undefined ratio', () => NaN);
    r.histogram('soc.walker.latency_ns', 'walk latency').sample(25);
    const t = r.toTable();
    const lines = t.split('\n');
    expect(lines[0]).toMatch(/^stat\s+value\s+description$/);
    const row = (name: string): string => lines.find((l) => l.startsWith(name + ' '))!;
    expect(row('soc.dram.row_hits')).toMatch(/soc\.dram\.row_hits\s+12345\s+row buffer hits/);
    expect(row('soc.tlb.hit_rate')).toMatch(/0\.987654\s+hit rate/);
    expect(row('soc.none')).toMatch(/n\/a\s+undefined ratio/);
    expect(row('soc.walker.latency_ns.mean')).toMatch(/25\s+walk latency/);
    expect(t).not.toMatch(/\.bucket_/); // arrays are for JSON only
  });

  test('reset() zeroes counters and histograms, keeps formulas, and restarts the elapsed window', () => {
    let now = 1000;
    const r = new StatsRegistry(() => now);
    const c = r.counter('c');
    const h = r.histogram('h', '');
    const f = r.formula('rate', 'per tick', () => c.value / r.elapsedTicks());
    c.inc(10);
    h.sample(1);
    now = 3000;
    expect(r.elapsedTicks()).toBe(3000);
    r.reset();
    expect(c.value).toBe(0);
    expect(h.samples).toBe(0);
    expect(h.counts.every((c) => c === 0)).toBe(true);
    expect(h.max).toBe(-Infinity);
    expect(h.min).toBe(Infinity);
    expect(r.get('rate')).toBe(f);
    expect(r.elapsedTicks()).toBe(0);
    expect(r.dump().rate).toBeNull(); // 0 / 0
    now = 3500;
    c.inc(50);
    expect(r.elapsedTicks()).toBe(500);
    expect(r.scope('x').elapsedTicks()).toBe(500);
    expect(r.dump().rate).toBe(0.1);
  });
});
