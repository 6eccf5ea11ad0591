import { SimInvariantError } from './errors';
import { Histogram } from './histogram';
import type { Tick } from './time';

export { Histogram } from './histogram';

/**
 * Hierarchical statistics (DESIGN.md "Stats"). Names are dotted paths that follow the
 * SoC tree (`soc.dram.row_hits`). Counters and histograms are plain objects that hot
 * paths update directly (`c.value++`, `h.sample(x)`); formulas are evaluated at dump
 * time. `reset()` zeroes everything, e.g. after warm-up.
 */

export class Counter {
  value = 0;
  constructor(readonly name: string, readonly desc: string) {}
  inc(n = 1): void {
    this.value += n;
  }
  reset(): void {
    this.value = 0;
  }
}

export class Formula {
  constructor(readonly name: string, readonly desc: string, readonly fn: () => number) {}
}

/**
 * An instantaneous level (a queue's occupancy, walk slots in use) read on demand. Gauges
 * are not stats: they are never dumped (a run's stats do not depend on whether anyone
 * looks), only read by time-series sampling (sim/engine/timeSeries.ts) between events.
 */
export class Gauge {
  constructor(readonly name: string, readonly desc: string, readonly read: () => number) {}
}

type Stat = Counter | Histogram | Formula;
export type StatValue = number | null | number[];
export type StatsDump = Record<string, StatValue>;

/** A prefix view onto a registry: `scope('soc.dram').counter('row_hits')`. */
export class StatScope {
  constructor(readonly registry: StatsRegistry, readonly prefix: string) {}

  counter(name: string, desc = ''): Counter {
    return this.registry.counter(this.full(name), desc);
  }
  histogram(name: string, desc: string): Histogram {
    return this.registry.histogram(this.full(name), desc);
  }
  formula(name: string, desc: string, fn: () => number): Formula {
    return this.registry.formula(this.full(name), desc, fn);
  }
  gauge(name: string, desc: string, read: () => number): Gauge {
    return this.registry.gauge(this.full(name), desc, read);
  }
  scope(child: string): StatScope {
    return new StatScope(this.registry, this.full(child));
  }
  /** Ticks since the registry was last reset (for rates and utilisation). */
  elapsedTicks(): Tick {
    return this.registry.elapsedTicks();
  }
  private full(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }
}

/** The percentiles a histogram dumps, as `<name>.<key>`. */
const PERCENTILES = [['p50', 0.5], ['p90', 0.9], ['p99', 0.99], ['p999', 0.999]] as const;

/**
 * The keys a histogram expands to in dump(): `<name>.<suffix>`. The `bucket_*` keys are
 * parallel arrays over the non-empty buckets (lower edge, upper edge, count).
 */
const HISTOGRAM_KEYS: readonly string[] = ['samples', 'mean', 'min', 'max', ...PERCENTILES.map((p) => p[0]), 'bucket_lo', 'bucket_hi', 'bucket_counts'];

const NAME_RE = /^[a-z0-9_]+(\.[a-z0-9_[\]-]+)*$/i;

export class StatsRegistry {
  private readonly stats = new Map<string, Stat>();
  private readonly gauges = new Map<string, Gauge>();
  private resetTick: Tick = 0;
  /** reset() calls so far (time-series sampling restarts its deltas after one). */
  resets = 0;

  /** `now` supplies the current tick, so rates can be computed over the measured window. */
  constructor(private readonly now: () => Tick = () => 0) {}

  counter(name: string, desc = ''): Counter {
    return this.add(new Counter(name, desc));
  }
  histogram(name: string, desc: string): Histogram {
    return this.add(new Histogram(name, desc));
  }
  formula(name: string, desc: string, fn: () => number): Formula {
    return this.add(new Formula(name, desc, fn));
  }
  scope(prefix: string): StatScope {
    return new StatScope(this, prefix);
  }
  gauge(name: string, desc: string, read: () => number): Gauge {
    if (!NAME_RE.test(name)) throw new SimInvariantError(`bad gauge name "${name}"`);
    if (this.gauges.has(name) || this.stats.has(name)) throw new SimInvariantError(`gauge ${name} registered twice or named like a stat`);
    const g = new Gauge(name, desc, read);
    this.gauges.set(name, g);
    return g;
  }

  /** Registered gauges, by name. */
  gaugeList(): Gauge[] {
    return [...this.gauges.values()];
  }

  /** Registered counters (the stats whose per-interval change time series record). */
  counterList(): Counter[] {
    return [...this.stats.values()].filter((s): s is Counter => s instanceof Counter);
  }

  get(name: string): Stat | undefined {
    return this.stats.get(name);
  }

  /** Current value of a counter or formula by name (tests and scenarios use this). */
  value(name: string): number {
    const s = this.stats.get(name);
    if (s instanceof Counter) return s.value;
    if (s instanceof Formula) return s.fn();
    throw new SimInvariantError(`no counter or formula named ${name}`);
  }

  elapsedTicks(): Tick {
    return this.now() - this.resetTick;
  }

  /** Zeroes every counter and histogram and starts a new measurement window. */
  reset(): void {
    for (const s of this.stats.values()) if (!(s instanceof Formula)) s.reset();
    this.resetTick = this.now();
    this.resets++;
  }

  /** One flat object, keys sorted; histograms expand to HISTOGRAM_KEYS. */
  dump(): StatsDump {
    const out: StatsDump = {};
    for (const name of [...this.stats.keys()].sort()) {
      const s = this.stats.get(name)!;
      if (s instanceof Counter) out[name] = s.value;
      else if (s instanceof Formula) out[name] = finite(s.fn());
      else {
        // Keys must match HISTOGRAM_KEYS.
        out[`${name}.samples`] = s.samples;
        out[`${name}.mean`] = finite(s.mean());
        out[`${name}.min`] = s.samples ? s.min : null;
        out[`${name}.max`] = s.samples ? s.max : null;
        for (const [key, q] of PERCENTILES) out[`${name}.${key}`] = finite(s.quantile(q));
        const b = s.nonEmptyBuckets();
        out[`${name}.bucket_lo`] = b.lo;
        out[`${name}.bucket_hi`] = b.hi;
        out[`${name}.bucket_counts`] = b.counts;
      }
    }
    return sortKeys(out);
  }

  toJson(): string {
    return JSON.stringify(this.dump(), null, 2);
  }

  /**
   * A readable table (name, value, description) of `dump`, by default a fresh one. Pass
   * the snapshot a run took so that the table shows the same numbers as its JSON.
   */
  toTable(dump: StatsDump = this.dump()): string {
    const rows: [string, string, string][] = [];
    const descOf = (key: string): string => {
      const direct = this.stats.get(key);
      if (direct) return direct.desc;
      const base = key.slice(0, key.lastIndexOf('.'));
      return this.stats.get(base)?.desc ?? '';
    };
    for (const [k, v] of Object.entries(dump)) {
      if (Array.isArray(v)) continue; // bucket arrays are for JSON consumers
      rows.push([k, formatStatValue(v), descOf(k)]);
    }
    const w0 = Math.max(4, ...rows.map((r) => r[0].length));
    const w1 = Math.max(5, ...rows.map((r) => r[1].length));
    const lines = [`${'stat'.padEnd(w0)}  ${'value'.padStart(w1)}  description`];
    lines.push('-'.repeat(w0 + w1 + 15));
    for (const [k, v, d] of rows) lines.push(`${k.padEnd(w0)}  ${v.padStart(w1)}  ${d}`.trimEnd());
    return lines.join('\n');
  }

  private add<T extends Stat>(s: T): T {
    if (!NAME_RE.test(s.name)) throw new SimInvariantError(`bad stat name "${s.name}"`);
    if (this.stats.has(s.name) || this.gauges.has(s.name)) throw new SimInvariantError(`stat ${s.name} registered twice or named like a gauge`);
    // A histogram's dump keys must not collide with another stat's name.
    const dot = s.name.lastIndexOf('.');
    if (dot > 0 && HISTOGRAM_KEYS.includes(s.name.slice(dot + 1))
        && this.stats.get(s.name.slice(0, dot)) instanceof Histogram) {
      throw new SimInvariantError(`stat ${s.name} collides with histogram ${s.name.slice(0, dot)}'s dump keys`);
    }
    if (s instanceof Histogram) {
      for (const k of HISTOGRAM_KEYS) {
        if (this.stats.has(`${s.name}.${k}`)) {
          throw new SimInvariantError(`histogram ${s.name} would dump ${s.name}.${k}, which is already a stat`);
        }
      }
    }
    this.stats.set(s.name, s);
    return s;
  }
}

function finite(v: number): number | null {
  return Number.isFinite(v) ? v : null;
}

function sortKeys(o: StatsDump): StatsDump {
  const out: StatsDump = {};
  for (const k of Object.keys(o).sort()) out[k] = o[k];
  return out;
}

/** How the table writes a value (integers exactly; others to 6 significant digits, or 0.1 from 1000 up). */
export function formatStatValue(v: number | null): string {
  if (v === null) return 'n/a';
  if (Number.isInteger(v)) return String(v);
  return Math.abs(v) >= 1000 ? v.toFixed(1) : v.toPrecision(6).replace(/\.?0+$/, '');
}
