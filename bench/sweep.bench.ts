/**
 * `socsim sweep` costs, measured through the compiled CLI as a user runs it:
 * - overhead per point: wall time of a sweep of tiny points (1 µs of simulated time)
 *   minus the simulation time its points record (meta.json host_seconds), per point. It
 *   covers the sweep's process start, resolving and hashing each point, the workers'
 *   start (amortized: a worker runs many points), IPC, writing the run directories and
 *   results.csv. Target < 150 ms.
 * - the same for a single `socsim run --out` (a fresh process per point, for comparison).
 * - parallel speed-up on 8 points of ~1 s each (60000 packets), -j 1 against -j 2. Target
 *   ≥ 1.7× on 2 cores. The machine's own ceiling is measured alongside: two independent
 *   `socsim run` processes of the same size at once against one after the other (shared
 *   caches, memory bandwidth and V8's helper threads keep it below 2×).
 * Prints figures; asserts nothing. Run: `npm run bench:sweep` (or as part of `npm run bench`).
 */
import { spawn, spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { repoRoot } from './paths';
import type { BenchResult } from './result';
import { formatResult } from './result';

const CLI = () => path.join(repoRoot(), 'dist', 'cli', 'main.js');
const SCENARIO = 'server-io-nic-strict';

function socsim(args: string[]): number {
  const t0 = process.hrtime.bigint();
  const r = spawnSync(process.execPath, [CLI(), ...args], { encoding: 'utf8' });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`socsim ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return seconds;
}

/** Sum of the simulation host time the points of a sweep recorded. */
function simSeconds(out: string): number {
  const points = path.join(out, 'points');
  return fs.readdirSync(points).reduce((a, h) => a + JSON.parse(fs.readFileSync(path.join(points, h, 'meta.json'), 'utf8')).host_seconds, 0);
}

/** A sweep of `entries.length × seeds` points of SCENARIO, stopped at `until` or run to the end. */
function sweepArgs(entries: number[], seeds: number, stop: string[], jobs: number, out: string): string[] {
  return ['sweep', SCENARIO, '--zip', `soc.iommus.iommu.l2Tlb.entries=${entries}`, '--zip', `soc.iommus.iommu.l2Tlb.ways=${entries}`,
    '--seeds', String(seeds), ...stop, '-j', String(jobs), '--out', out, '--stats-filter', 'soc.iommu.*', '--no-progress'];
}

/** Points of about a second each: the NIC scenario run to its end with 60000 packets. */
const SECOND_POINT = ['--set', 'scenario.jobs.rx.rx.packets=60000'];

/** Wall time of `n` copies of one such run started together. */
function concurrentRuns(n: number): Promise<number> {
  const t0 = process.hrtime.bigint();
  const args = [CLI(), 'run', SCENARIO, ...SECOND_POINT, '--stats', 'json', '--no-progress'];
  return Promise.all(Array.from({ length: n }, () => new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`socsim run exited ${code}`))));
  }))).then(() => Number(process.hrtime.bigint() - t0) / 1e9);
}

export async function runSweepBench(): Promise<BenchResult[]> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-sweep-bench-'));
  try {
    const results: BenchResult[] = [];
    const n = 16;
    const tinyOut = path.join(tmp, 'tiny');
    const wall = socsim(sweepArgs([16, 32, 64, 128], 4, ['--until', '1us'], 1, tinyOut));
    results.push({ name: 'sweep.overhead_per_point', value: ((wall - simSeconds(tinyOut)) / n) * 1000, unit: 'ms', note: `${n} points of 1 us, -j 1, target < 150 ms` });

    const runs = 4;
    let single = 0;
    for (let i = 0; i < runs; i++) {
      const dir = path.join(tmp, `run${i}`);
      const w = socsim(['run', SCENARIO, '--until', '1us', '--seed', String(i + 1), '--out', dir, '--stats', 'json', '--no-progress']);
      single += w - JSON.parse(fs.readFileSync(path.join(dir, 'meta.json'), 'utf8')).host_seconds;
    }
    results.push({ name: 'sweep.single_run_overhead', value: (single / runs) * 1000, unit: 'ms', note: 'one `socsim run --out` process per point, for comparison' });

    const entries = [32, 64, 128, 256];
    const j1 = socsim(sweepArgs(entries, 2, SECOND_POINT, 1, path.join(tmp, 'j1')));
    const j2 = socsim(sweepArgs(entries, 2, SECOND_POINT, 2, path.join(tmp, 'j2')));
    results.push({ name: 'sweep.j1_seconds', value: j1, unit: 's', note: `8 points, ${(simSeconds(path.join(tmp, 'j1')) / 8).toFixed(2)} s each on average` });
    results.push({ name: 'sweep.j2_seconds', value: j2, unit: 's', note: '8 points' });
    results.push({ name: 'sweep.speedup_j2', value: j1 / j2, unit: '×', note: `-j 2 vs -j 1 on ${os.availableParallelism()} cores, load average ${os.loadavg()[0].toFixed(1)} at the end, target ≥ 1.7` });
    const one = await concurrentRuns(1);
    const two = await concurrentRuns(2);
    results.push({ name: 'sweep.machine_ceiling_2', value: (2 * one) / two, unit: '×', note: 'two independent socsim runs at once vs one after the other: the most -j 2 can give here' });
    return results;
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

if (require.main === module) {
  void runSweepBench().then((rs) => {
    for (const r of rs) console.log(formatResult(r));
  });
}
