import { Engine } from '../../../sim/engine/engine';
import { StatsRegistry } from '../../../sim/engine/stats';
import { parseSampleInterval, SampleOptionError, TimeSeriesSampler, timeSeriesToCsv } from '../../../sim/engine/timeSeries';

/** The sampler on a bare engine: boundaries, slices that end mid-interval, time left where the last event put it. */
function model(): { engine: Engine; stats: StatsRegistry } {
  const engine = new Engine();
  const stats = new StatsRegistry(() => engine.now);
  const hits = stats.counter('m.hits');
  let level = 0;
  stats.gauge('m.level', 'events so far minus 2, at least 0', () => Math.max(0, level - 2));
  // Events at 0, 5, 10 (two), 15 and 40 ps; each adds 1 to m.hits and to the gauge's level.
  for (const t of [0, 5, 10, 10, 15, 40]) engine.schedule(t, () => { hits.value++; level++; });
  return { engine, stats };
}

function sampled(budget: number): { csv: string; now: number; events: number } {
  const { engine, stats } = model();
  const s = new TimeSeriesSampler(stats, { intervalPs: 10, stats: ['m.**'] });
  let r;
  do r = s.runSlice(engine, budget); while (r === 'count');
  expect(r).toBe('idle');
  return { csv: timeSeriesToCsv(s.finish(engine.now)), now: engine.now, events: engine.eventsDispatched };
}

test('rows at each boundary the run passes, events at a boundary in the row it ends, the last row at the last event', () => {
  const { csv, now, events } = sampled(1000);
  expect(now).toBe(40);
  expect(events).toBe(6);
  // end_ns, interval_ns, m.hits (delta), m.level (gauge): (0,10] holds 0, 5, 10, 10; (10,20] 15; (20,30] nothing; (30,40] 40.
  expect(csv).toBe('end_ns,interval_ns,m.hits,m.level\n0.01,0.01,4,2\n0.02,0.01,1,3\n0.03,0.01,0,3\n0.04,0.01,1,4\n');
});

test('slices of one event give the same rows as one long slice', () => {
  expect(sampled(1)).toEqual(sampled(1000));
});

test('runEventsUntil leaves time at the last event; runUntil moves it to the limit', () => {
  const a = model().engine;
  expect(a.runEventsUntil(12, 100)).toBe('limit');
  expect(a.now).toBe(10);
  const b = model().engine;
  expect(b.runUntil(12)).toBe('limit');
  expect(b.now).toBe(12);
});

test('interval values', () => {
  expect(parseSampleInterval('1us')).toBe(1e6);
  expect(parseSampleInterval(' 2.5ns ')).toBe(2500);
  for (const bad of ['0ns', '0', '-1us', 'abc', '1 week', '', '0.0001ps']) expect(() => parseSampleInterval(bad)).toThrow(SampleOptionError);
});
