import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { compiledCli } from '../helpers/compiledCli';
import { REPO } from '../helpers/configFiles';

/**
 * Every histogram of every bundled scenario, run for 20 µs through the compiled CLI,
 * reports percentiles within [min, max] and buckets that hold exactly its samples (the
 * linear buckets socsim had before gave p50 above the mean and p99 at a saturated edge).
 */
const DIR = path.join(REPO, 'soc-configs', 'scenarios');
const SCENARIOS = fs.readdirSync(DIR).filter((f) => f.endsWith('.json')).sort();
const PERCENTILES = ['p50', 'p90', 'p99', 'p999'];

type Dump = Record<string, number | null | number[]>;

function histograms(d: Dump): string[] {
  return Object.keys(d).filter((k) => k.endsWith('.bucket_counts')).map((k) => k.slice(0, -'.bucket_counts'.length));
}

/** What is wrong with histogram `h` of dump `d`, as readable lines (none when it is right). */
function problems(d: Dump, h: string): string[] {
  const out: string[] = [];
  const n = d[`${h}.samples`] as number;
  const min = d[`${h}.min`] as number | null;
  const max = d[`${h}.max`] as number | null;
  const lo = d[`${h}.bucket_lo`] as number[];
  const hi = d[`${h}.bucket_hi`] as number[];
  const counts = d[`${h}.bucket_counts`] as number[];
  if (counts.reduce((a, c) => a + c, 0) !== n) out.push(`${h}: bucket counts sum to ${counts.reduce((a, c) => a + c, 0)}, samples ${n}`);
  if (n === 0) {
    for (const p of [...PERCENTILES, 'min', 'max', 'mean']) if (d[`${h}.${p}`] !== null) out.push(`${h}.${p}: ${String(d[`${h}.${p}`])} with no samples`);
    return out;
  }
  if (min === null || max === null) return [`${h}: min/max null with ${n} samples`];
  for (const p of [...PERCENTILES, 'mean']) {
    const v = d[`${h}.${p}`] as number;
    if (!(v >= min && v <= max)) out.push(`${h}.${p} = ${v} outside [${min}, ${max}]`);
  }
  if (!(lo[0] <= min && max < hi[hi.length - 1])) out.push(`${h}: buckets [${lo[0]}, ${hi[hi.length - 1]}) do not hold [${min}, ${max}]`);
  return out;
}

describe('bundled scenarios: histogram percentiles lie within [min, max]', () => {
  test.each(SCENARIOS)('%s', (file) => {
    const stdout = execFileSync(process.execPath, [compiledCli(), 'run', path.join(DIR, file), '--stats', 'json', '--until', '20us', '--no-progress'],
      { encoding: 'utf8', maxBuffer: 1 << 28 });
    const d = JSON.parse(stdout) as Dump;
    const hs = histograms(d);
    expect(hs.length).toBeGreaterThan(0);
    expect(hs.filter((h) => (d[`${h}.samples`] as number) > 0).length).toBeGreaterThan(0);
    expect(hs.flatMap((h) => problems(d, h))).toEqual([]);
  });
});
