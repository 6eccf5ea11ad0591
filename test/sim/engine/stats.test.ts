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
  test('buckets, overflow, underflow clamp, mean/min/max', () => {
    const h = new Histogram('lat', 'latency', { bucketWidth: 10, buckets: 4 }); // [0,10) .. [30,40), overflow
    expect(h.buckets).toBe(4);
    for (const v of [0, 5, 9.99, 10, 25, 39, 40, 1000]) h.sample(v);
    expect(Array.from(h.counts)).toEqual([3, 1, 1, 1, 2]);
    expect(h.samples).toBe(8);
    expect(h.min).toBe(0);
    expect(h.max).toBe(1000);
    expect(h.mean()).toBeCloseTo((0 + 5 + 9.99 + 10 + 25 + 39 + 40 + 1000) / 8, 10);
    h.sample(-5); // below start: counted in bucket 0
    expect(h.counts[0]).toBe(4);
    expect(h.min).toBe(-5);
  });

  test('start offset and weighted samples', () => {
    const h = new Histogram('x', '', { bucketWidth: 5, buckets: 2, start: 100 }); // [100,105) [105,110) overflow
    h.sample(100);
    h.sample(106, 3);
    h.sample(110);
    expect(Array.from(h.counts)).toEqual([1, 3, 1]);
    expect(h.samples).toBe(5);
    expect(h.sum).toBe(100 + 318 + 110);
    expect(h.mean()).toBe(528 / 5);
  });

  test('quantiles: interpolated inside the bucket, edges narrowed to [min, max]', () => {
    const h = new Histogram('lat', '', { bucketWidth: 10, buckets: 10 });
    for (let v = 0; v < 100; v++) h.sample(v); // 10 per bucket
    expect(h.quantile(0.5)).toBe(50); // target 50 = all of [40,50)
    expect(h.quantile(0.51)).toBeCloseTo(51, 10); // 1 of 10 into [50,60)
    expect(h.quantile(0.99)).toBeCloseTo(98.1, 10); // 9 of 10 into [90, 99]: last edge narrowed to max
    expect(h.quantile(1)).toBe(99);
    expect(h.quantile(0.1)).toBe(10);

    const one = new Histogram('one', '', { bucketWidth: 100, buckets: 10 });
    one.sample(42);
    one.sample(42);
    // Idle-system case: every quantile is the exact observed value.
    expect(one.quantile(0)).toBe(42);
    expect(one.quantile(0.5)).toBe(42);
    expect(one.quantile(0.99)).toBe(42);

    const ovf = new Histogram('ovf', '', { bucketWidth: 1, buckets: 2 });
    ovf.sample(0.5);
    for (let i = 0; i < 99; i++) ovf.sample(500 + i);
    expect(ovf.quantile(0.5)).toBe(598); // in overflow: reported as the max
    expect(ovf.quantile(0.001)).toBeCloseTo(0.55, 10); // [0.5 (min), 1): a tenth of the way in
  });

  test('empty histogram: NaN mean and quantiles', () => {
    const h = new Histogram('e', '', { bucketWidth: 1, buckets: 1 });
    expect(h.mean()).toBeNaN();
    expect(h.quantile(0.5)).toBeNaN();
  });

  test('rejects bad bucket specs', () => {
    expect(() => new Histogram('b', '', { bucketWidth: 0, buckets: 4 })).toThrow(SimInvariantError);
    expect(() => new Histogram('b', '', { bucketWidth: 1, buckets: 0 })).toThrow(SimInvariantError);
    expect(() => new Histogram('b', '', { bucketWidth: 1, buckets: 2.5 })).toThrow(SimInvariantError);
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
    walker.histogram('latency_ns', 'walk latency', { bucketWidth: 50, buckets: 4 }).sample(120);
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
    r.histogram('soc.lat', '', { bucketWidth: 1, buckets: 2 });
    expect(() => r.counter('soc.lat.mean')).toThrow(SimInvariantError);
    expect(() => r.formula('soc.lat.p99', '', () => 0)).toThrow(SimInvariantError);
    r.counter('soc.lat.other'); // not a dump key: fine
    r.counter('soc.b.samples');
    expect(() => r.histogram('soc.b', '', { bucketWidth: 1, buckets: 2 })).toThrow(SimInvariantError);
  });

  test('value() of an unknown name or a histogram throws', () => {
    const r = new StatsRegistry();
    r.histogram('h', '', { bucketWidth: 1, buckets: 1 });
    expect(() => r.value('nope')).toThrow(SimInvariantError);
    expect(() => r.value('h')).toThrow(SimInvariantError);
  });

  test('dump: keys sorted, histograms expanded', () => {
    const r = new StatsRegistry();
    r.counter('zeta').inc(1);
    r.counter('alpha.b').inc(2);
    r.counter('alpha.a').inc(3);
    r.counter('Mid');
    const h = r.histogram('lat', 'latency', { bucketWidth: 10, buckets: 2 });
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
      'lat.buckets': [1, 1, 1],
      'lat.max': 100,
      'lat.mean': 40,
      'lat.min': 5,
      'lat.p50': 15,
      'lat.p99': 100,
      'lat.samples': 3,
      'zeta': 1,
    });
    // Registration order does not matter.
    const r2 = new StatsRegistry();
    r2.histogram('lat', 'latency', { bucketWidth: 10, buckets: 2 });
    r2.counter('Mid');
    r2.counter('alpha.a');
    r2.counter('zeta');
    r2.counter('alpha.b');
    expect(Object.keys(r2.dump())).toEqual(keys);
  });

  test('empty histogram dumps nulls, not NaN or Infinity', () => {
    const r = new StatsRegistry();
    r.histogram('lat', '', { bucketWidth: 10, buckets: 2 });
    const d = r.dump();
    expect(d['lat.samples']).toBe(0);
    expect(d['lat.mean']).toBeNull();
    expect(d['lat.min']).toBeNull();
    expect(d['lat.max']).toBeNull();
    expect(d['lat.p50']).toBeNull();
    expect(r.toJson()).not.toMatch(/NaN|Infinity/);
  });

  test('JSON output parses back to the dump', () => {
    const r = new StatsRegistry();
    r.counter('soc.a').inc(7);
    r.formula('soc.f', '', () => 1 / 3);
    r.histogram('soc.h', '', { bucketWidth: 1, buckets: 3 }).sample(1);
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
    r.histogram('soc.walker.latency_ns', 'walk latency', { bucketWidth: 10, buckets: 4 }).sample(25);
    const t = r.toTable();
    const lines = t.split('\n');
    expect(lines[0]).toMatch(/^stat\s+value\s+description$/);
    const row = (name: string): string => lines.find((l) => l.startsWith(name + ' '))!;
    expect(row('soc.dram.row_hits')).toMatch(/soc\.dram\.row_hits\s+12345\s+row buffer hits/);
    expect(row('soc.tlb.hit_rate')).toMatch(/0\.987654\s+hit rate/);
    expect(row('soc.none')).toMatch(/n\/a\s+undefined ratio/);
    expect(row('soc.walker.latency_ns.mean')).toMatch(/25\s+walk latency/);
    expect(t).not.toMatch(/\.buckets/); // arrays are for JSON only
  });

  test('reset() zeroes counters and histograms, keeps formulas, and restarts the elapsed window', () => {
    let now = 1000;
    const r = new StatsRegistry(() => now);
    const c = r.counter('c');
    const h = r.histogram('h', '', { bucketWidth: 1, buckets: 2 });
    const f = r.formula('rate', 'per tick', () => c.value / r.elapsedTicks());
    c.inc(10);
    h.sample(1);
    now = 3000;
    expect(r.elapsedTicks()).toBe(3000);
    r.reset();
    expect(c.value).toBe(0);
    expect(h.samples).toBe(0);
    expect(Array.from(h.counts)).toEqual([0, 0, 0]);
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
