/** One figure printed by a benchmark. Benchmarks report, they never assert. */
export interface BenchResult {
  /** Stable identifier, e.g. `engine.steady.events_per_s`. */
  name: string;
  value: number;
  /** Unit of `value`, e.g. `M events/s`, `ms`. */
  unit: string;
  /** Context: workload size, population, etc. */
  note?: string;
}

/** `name: value unit (note)`, the line format run-all prints. */
export function formatResult(r: BenchResult): string {
  const v = Number.isInteger(r.value) ? String(r.value) : r.value.toFixed(r.value >= 100 ? 1 : 3);
  return `${r.name}: ${v} ${r.unit}${r.note ? ` (${r.note})` : ''}`;
}

/**
 * The median, leaving `values` as they are; of an even count the mean of the middle two
 * (the upper one made the scale bench's 64 MiB copy, timed twice, count its slower run).
 */
export function median(values: number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}
