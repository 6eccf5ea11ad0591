import type { Engine, RunResult } from './engine';
import type { Counter, Gauge, StatsRegistry } from './stats';
import { globToRegExp, suggestStatNames } from './statsSelect';
import { PS_PER_NS, type Tick } from './time';
import { parseTime, UnitError } from './units';

/**
 * Time series (`socsim run --sample-interval 1us`): selected stats recorded every
 * interval of simulated time, into `timeseries.csv`.
 *
 * One row per interval; the interval (t - I, t] holds the events at ticks in it (the
 * first one also tick 0). Columns: `end_ns` (t), `interval_ns` (its length: the last
 * row ends with the run and may be shorter), then per selected counter its increase
 * during the interval (a count in the counter's own unit, e.g. bytes), then per selected
 * gauge its level at t after every event of tick t. A run that ends at E > 0 has
 * ceil(E / I) rows.
 *
 * Sampling changes nothing in the run: the engine runs in segments up to each boundary
 * (Engine.runEventsUntil, which leaves time where the last event put it) and the sampler
 * reads counters and gauges between segments; no event is scheduled. A stats reset (the
 * warm-up) restarts the deltas from zero, so the rows from the one holding the reset on
 * sum to the final counter values.
 */

/** The default selection: bandwidth, TLB misses, walks, faults, invalidations, queue levels. */
export const DEFAULT_SAMPLE_STATS: readonly string[] = [
  // Bytes moved per bus master and per memory, and per DRAM channel.
  'soc.*.bytes_read', 'soc.*.bytes_written', 'soc.*.bytes', 'soc.*.ch*.bytes',
  // TLB misses per TLB of each translation unit, and page-table walks.
  'soc.*.*.l1tlb.misses', 'soc.*.l2tlb.misses', 'soc.*.walker.walks',
  // Translation faults and invalidations (IOMMU commands, kernel invalidations).
  'soc.*.faults', 'soc.*.cmd.invalidate_*', 'kernel.**.inval_cmds', 'kernel.**.tlbi_ops',
  // Gauges: crossbar input queues and outstanding requests, walk slots in use.
  'soc.**.queue_depth', 'soc.**.outstanding', 'soc.**.busy_slots',
];

export interface SampleOptions {
  /** Interval length in ps (> 0). */
  intervalPs: Tick;
  /** Globs (sim/engine/statsSelect.ts) naming counters and gauges; default DEFAULT_SAMPLE_STATS. */
  stats?: readonly string[];
}

export interface TimeSeries {
  intervalPs: Tick;
  /** `end_ns`, `interval_ns`, then the sampled counters and gauges by name. */
  columns: string[];
  /** Per sampled column (from the third): a counter's increase, or a gauge's level. */
  kinds: ('delta' | 'gauge')[];
  rows: number[][];
}

export const TIME_COLUMNS = ['end_ns', 'interval_ns'] as const;

/** A bad `--sample-interval` or a `--sample-stats` glob that selects nothing: bad input. */
export class SampleOptionError extends Error {}

/** `--sample-interval`: a positive simulated time with its unit ("1us", "500ns"). */
export function parseSampleInterval(text: string): Tick {
  const t = text.trim();
  if (/^\d+(\.\d+)?$/.test(t)) throw new SampleOptionError(`--sample-interval: give a unit, e.g. ${t}us or ${t}ns (got ${JSON.stringify(text)})`);
  let ps: Tick;
  try {
    ps = parseTime(t);
  } catch (e) {
    if (!(e instanceof UnitError)) throw e;
    throw new SampleOptionError(`--sample-interval: ${e.message}`);
  }
  if (!(ps > 0)) throw new SampleOptionError(`--sample-interval: must be more than 0, got ${JSON.stringify(text)}`);
  return ps;
}

export class TimeSeriesSampler {
  private readonly counters: Counter[];
  private readonly gauges: Gauge[];
  private readonly prev: Float64Array;
  private readonly rows: number[][] = [];
  private readonly interval: Tick;
  private next: Tick;
  private lastEnd: Tick = 0;
  private seenResets: number;

  /** Selects the counters and gauges registered now; throws SampleOptionError for a user glob that matches none. */
  constructor(private readonly registry: StatsRegistry, opts: SampleOptions) {
    if (!(opts.intervalPs > 0) || !Number.isSafeInteger(opts.intervalPs)) throw new SampleOptionError(`sample interval must be a positive whole number of ps, got ${opts.intervalPs}`);
    this.interval = opts.intervalPs;
    this.next = opts.intervalPs;
    const counters = registry.counterList();
    const gauges = registry.gaugeList();
    const keep = sampleFilter([...counters, ...gauges].map((s) => s.name), opts.stats, registry);
    this.counters = counters.filter((c) => keep(c.name)).sort(byName);
    this.gauges = gauges.filter((g) => keep(g.name)).sort(byName);
    this.prev = new Float64Array(this.counters.length);
    this.seenResets = registry.resets;
  }

  /**
   * Runs at most `count` events, recording a row at each interval boundary the run
   * passes. Returns what runEvents(count) would: 'count' when the budget ran out.
   */
  runSlice(engine: Engine, count: number): RunResult {
    let left = count;
    while (true) {
      const before = engine.eventsDispatched;
      const r = engine.runEventsUntil(this.next, left);
      left -= engine.eventsDispatched - before;
      if (r !== 'limit') return r;
      // Every event at ticks <= next has run, and a later one is pending.
      this.record(this.next);
      this.next += this.interval;
      if (left <= 0) return 'count';
    }
  }

  /** The series, with the last (possibly partial) row ending at `endTick`. */
  finish(endTick: Tick): TimeSeries {
    if (this.rows.length === 0 || this.lastEnd < endTick) this.record(endTick);
    return {
      intervalPs: this.interval,
      columns: [...TIME_COLUMNS, ...this.counters.map((c) => c.name), ...this.gauges.map((g) => g.name)],
      kinds: [...this.counters.map(() => 'delta' as const), ...this.gauges.map(() => 'gauge' as const)],
      rows: this.rows,
    };
  }

  private record(end: Tick): void {
    if (this.registry.resets !== this.seenResets) {
      // Counters restarted from 0 at the reset: this row counts what came after it.
      this.prev.fill(0);
      this.seenResets = this.registry.resets;
    }
    const row = new Array<number>(2 + this.counters.length + this.gauges.length);
    row[0] = end / PS_PER_NS;
    row[1] = (end - this.lastEnd) / PS_PER_NS;
    let k = 2;
    for (let i = 0; i < this.counters.length; i++) {
      const v = this.counters[i].value;
      row[k++] = v - this.prev[i];
      this.prev[i] = v;
    }
    for (const g of this.gauges) row[k++] = g.read();
    this.rows.push(row);
    this.lastEnd = end;
  }
}

function byName(a: { name: string }, b: { name: string }): number {
  return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
}

/** Which names to sample. The default globs may match nothing on a given SoC; a user's glob must match a counter or gauge. */
function sampleFilter(names: readonly string[], globs: readonly string[] | undefined, registry: StatsRegistry): (name: string) => boolean {
  const user = globs !== undefined && globs.length > 0;
  const res = (user ? globs : DEFAULT_SAMPLE_STATS).map((g) => ({ glob: g, re: toRegExp(g) }));
  if (user) {
    for (const { glob, re } of res) {
      if (names.some((n) => re.test(n))) continue;
      const other = registry.get(glob) ? ' (it is a histogram or formula; time series record counters and gauges)' : '';
      const close = suggestStatNames(glob, names);
      throw new SampleOptionError(`--sample-stats ${glob} matches no counter or gauge${other}${close.length ? `; close names: ${close.join(', ')}` : ''}`);
    }
  }
  return (n) => res.some(({ re }) => re.test(n));
}

function toRegExp(glob: string): RegExp {
  try {
    return globToRegExp(glob);
  } catch (e) {
    throw new SampleOptionError(`--sample-stats: ${(e as Error).message}`);
  }
}

/** The series as CSV: a header of column names, then one line per row. */
export function timeSeriesToCsv(ts: TimeSeries): string {
  const lines = [ts.columns.join(',')];
  for (const r of ts.rows) lines.push(r.map(String).join(','));
  return lines.join('\n') + '\n';
}
