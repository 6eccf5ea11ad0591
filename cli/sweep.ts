import * as os from 'os';
import { Presets, SingleBar } from 'cli-progress';
import type { Argv } from 'yargs';
import { parseHostMemoryLimit } from '../scenario/hostMemory';
import { parseSeed } from './seed';
import { runSweep, type SweepResult } from '../scenario/sweep';
import { LocalRunner } from '../scenario/sweepBackend';
import { checkSweepSpec, loadSweepSpec, type SweepSpec } from '../scenario/sweepSpec';
import { readPointStats, varyingColumns } from '../scenario/sweepResults';
import { StatsSelectError } from '../sim/engine/statsSelect';
import { parseQueueUrl, QueueUrlError, type QueueTarget } from '../scenario/queue/queueUrl';
import * as path from 'path';
import * as fs from 'fs';
import { sweepOutputOverInput } from './outputs';
import { resolveScenario } from '../scenario/resolve';
import { runInputFiles, type RunInput } from '../scenario/inputs';
import { ConfigError } from '../sim/engine/errors';

/** Where the command writes (the CLI's stdout and stderr, or test collectors). */
export interface SweepIO {
  out(text: string): void;
  err(text: string): void;
}

/** `socsim sweep` options (see docs/experiments.md). */
export function sweepOptions<T>(y: Argv<T>) {
  return y
    .positional('scenario', { type: 'string', array: true, describe: 'scenario files or bundled scenario names (added to the spec\'s)' })
    .option('spec', { type: 'string', describe: 'sweep spec file (JSON, soc-configs/sweep.schema.json)' })
    .option('grid', { type: 'string', array: true, describe: 'an axis: path=v1,v2,v3 (repeatable; every combination runs)' })
    .option('zip', { type: 'string', array: true, describe: 'path=v1,v2,v3; all --zip axes move together as one axis (same length)' })
    .option('set', { type: 'string', array: true, describe: 'path=value for every point (repeatable)' })
    .option('seeds', { type: 'string', describe: 'N: run every point with seeds 1..N' })
    .option('seed-list', { type: 'string', describe: 'comma-separated seeds, e.g. 3,7,11' })
    .option('until', { type: 'string', describe: 'stop every point at this simulated time, e.g. 100us' })
    .option('stats-filter', { type: 'string', array: true, describe: 'results.csv stat columns: globs as for run --stats-filter (repeatable; default every stat)' })
    .option('sample-interval', { type: 'string', requiresArg: true, describe: 'a time series per point, OUT/points/<hash>/timeseries.csv: selected stats every interval of simulated time, e.g. 1us' })
    .option('sample-stats', { type: 'string', array: true, requiresArg: true, describe: 'counters and gauges to sample (repeatable glob, as run --sample-stats)' })
    .option('jobs', { alias: 'j', type: 'number', describe: 'worker processes (default: the number of cores)' })
    .option('queue', { type: 'string', describe: 'run the points on `socsim worker`s through this Redis server instead of here: redis://[:password@]host[:port][/db] (README: Sweeps on several machines)' })
    .option('max-host-memory', { type: 'string', requiresArg: true, describe: 'refuse a point whose estimated host memory exceeds this, e.g. 2GiB (default: half of this machine\'s memory divided among the workers)' })
    .option('out', { type: 'string', demandOption: true, describe: 'sweep directory: points/<hash>/ run directories and results.csv' })
    .option('progress', { type: 'boolean', default: true, describe: 'progress bar on stderr when it is a terminal (else a line per point)' })
    .example('$0 sweep server-io-nic-ring-1024 --grid soc.iommus.iommu.l2Tlb.entries=256,1024,4096 --set soc.iommus.iommu.l2Tlb.ways=16 --until 300us -j 2 --out sweeps/iotlb', 'an IOTLB size sweep, two points at a time')
    .example('$0 sweep server-io-nic-strict --zip soc.iommus.iommu.l2Tlb.entries=32,64 --zip soc.iommus.iommu.l2Tlb.ways=32,64 --seeds 3 --out sweeps/fa', 'fully associative sizes (entries and ways move together), 3 seeds each')
    .example('$0 sweep --spec my-sweep.json --out sweeps/mine', 'a sweep spec file; run it again to finish an interrupted sweep')
    .example('$0 sweep server-io-nic-strict --seeds 20 --queue redis://:secret@10.0.0.5:6379 --out sweeps/seeds', 'the points run on `socsim worker --queue …` processes on other machines; results land here');
}

export interface SweepArgs {
  scenario?: string[];
  spec?: string;
  grid?: string[];
  zip?: string[];
  set?: string[];
  seeds?: string;
  'seed-list'?: string;
  until?: string;
  'stats-filter'?: string[];
  'sample-interval'?: string;
  'sample-stats'?: string[];
  jobs?: number;
  queue?: string;
  'max-host-memory'?: string;
  out: string;
  progress: boolean;
}

export class SweepUsageError extends Error {}

/** `path=v1,v2` → [path, values]; each value read like a --set value (JSON, else text). */
function parseAxis(flag: string, text: string): [string, (number | string | boolean | null)[]] {
  const eq = text.indexOf('=');
  if (eq <= 0 || eq === text.length - 1) throw new SweepUsageError(`${flag}: expected path=v1,v2,…, got ${JSON.stringify(text)}`);
  const values = text.slice(eq + 1).split(',').map((v) => {
    try {
      return JSON.parse(v.trim()) as number | string | boolean | null;
    } catch {
      return v.trim();
    }
  });
  return [text.slice(0, eq).trim(), values];
}

function parseSeedList(text: string): number[] {
  return text.split(',').map((s) => {
    const seed = parseSeed(s);
    if (seed === null) throw new SweepUsageError(`--seed-list: seeds are integers from 0 to 2^32-1, got ${JSON.stringify(s)}`);
    return seed;
  });
}

/** The spec the command line describes: the spec file, plus the flags. */
export function specFromArgs(args: SweepArgs): SweepSpec {
  const base: Record<string, unknown> = args.spec ? { ...loadSweepSpec(args.spec) } : { scenarios: [] };
  const spec = { ...base } as Record<string, unknown> & { scenarios: string[]; set?: string[]; grid?: Record<string, unknown>; zip?: unknown[] };
  spec.scenarios = [...spec.scenarios, ...(args.scenario ?? [])];
  if (spec.scenarios.length === 0) throw new SweepUsageError('name at least one scenario (or give --spec FILE)');
  if (args.set) spec.set = [...(spec.set ?? []), ...args.set];
  if (args.grid) spec.grid = { ...(spec.grid ?? {}), ...Object.fromEntries(args.grid.map((g) => parseAxis('--grid', g))) };
  if (args.zip) spec.zip = [...(spec.zip ?? []), Object.fromEntries(args.zip.map((g) => parseAxis('--zip', g)))];
  if (args.seeds !== undefined && args['seed-list'] !== undefined) throw new SweepUsageError('give --seeds or --seed-list, not both');
  if (args.seeds !== undefined) {
    if (!/^\s*\d+\s*$/.test(args.seeds) || Number(args.seeds) < 1) throw new SweepUsageError(`--seeds: a count of seeds (1, 2, …), got ${JSON.stringify(args.seeds)}`);
    spec.seeds = Number(args.seeds);
  }
  if (args['seed-list'] !== undefined) spec.seeds = parseSeedList(args['seed-list']);
  if (args.until !== undefined) spec.until = args.until;
  if (args['stats-filter']) spec.stats = args['stats-filter'];
  // The flags override the spec file's `sample` field by field.
  const sampled = spec.sample as { interval: string; stats?: string[] } | undefined;
  const interval = args['sample-interval'] ?? sampled?.interval;
  const sampleStats = args['sample-stats'] ?? sampled?.stats;
  if (interval !== undefined) spec.sample = { interval, ...(sampleStats ? { stats: sampleStats } : {}) };
  else if (sampleStats !== undefined) throw new SweepUsageError('--sample-stats needs --sample-interval');
  return checkSweepSpec(spec, args.spec ?? 'command line');
}

/**
 * The files a sweep reads: its spec file, and per scenario the files a run of it reads
 * (the scenario, its SoC config, job inputs) with the spec's shared overrides. A
 * scenario that does not load is left to fail as a point; its own file still counts.
 */
function sweepInputFiles(spec: SweepSpec, specFile: string | undefined): RunInput[] {
  const inputs: RunInput[] = specFile ? [{ file: specFile, what: 'the sweep spec' }] : [];
  for (const scenario of spec.scenarios) {
    try {
      inputs.push(...runInputFiles(resolveScenario(scenario, spec.set)));
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      if (fs.existsSync(scenario)) inputs.push({ file: scenario, what: 'a scenario file of the sweep' });
    }
  }
  return inputs;
}

export async function sweepCommand(args: SweepArgs, io: SweepIO): Promise<number> {
  let spec: SweepSpec;
  let queue: QueueTarget | null = null;
  let maxHostMemory: number | undefined;
  try {
    if (args.jobs !== undefined && !(Number.isInteger(args.jobs) && args.jobs >= 1)) throw new SweepUsageError(`--jobs: a number of worker processes (1, 2, …), got ${args.jobs}`);
    if (args.queue !== undefined) {
      if (args.jobs !== undefined) throw new SweepUsageError('--jobs counts local worker processes: with --queue, give each worker --concurrency');
      queue = parseQueueUrl(args.queue);
    }
    spec = specFromArgs(args);
    const clash = sweepOutputOverInput(args.out, sweepInputFiles(spec, args.spec));
    if (clash) throw new SweepUsageError(clash);
    if (args['max-host-memory'] !== undefined) {
      try {
        maxHostMemory = parseHostMemoryLimit(args['max-host-memory']);
      } catch (e) {
        throw new SweepUsageError(`--max-host-memory: ${(e as Error).message}`);
      }
    }
  } catch (e) {
    if (!(e instanceof SweepUsageError) && !(e instanceof QueueUrlError)) throw e;
    io.err(`socsim: ${e.message}\nTry 'socsim sweep --help'.\n`);
    return 1;
  }
  const jobs = args.jobs ?? os.availableParallelism();
  const progress = new SweepProgress(io, args.progress && process.stderr.isTTY === true);
  const abort = new AbortController();
  const onSigint = () => abort.abort();
  process.once('SIGINT', onSigint);
  let r: SweepResult;
  try {
    r = await runSweep(spec, {
      outDir: args.out, jobs, signal: abort.signal, maxHostMemory,
      ...(queue ? { backend: queueBackend(queue, io) } : {}),
      onPlanned: (p) => progress.planned(p),
      onPointDone: (p) => progress.pointDone(p),
    });
  } catch (e) {
    if (queue && (e as Error)?.name === 'QueueUnreachable') {
      io.err(`socsim: ${queue.redact((e as Error).message)}\n`);
      return 1;
    }
    if (!(e instanceof StatsSelectError)) throw e;
    // Stat names are known only once points have run; their directories are kept.
    io.err(`socsim: ${e.message}\nThe points are saved: run the same sweep with a corrected filter and they are reused.\n`);
    return 1;
  } finally {
    process.removeListener('SIGINT', onSigint);
    progress.stop();
  }
  if (r.interrupted) {
    io.err(`interrupted: ${r.ran} point(s) ran, ${r.skipped} were already finished; run the same command again to finish the rest\n`);
    return 130;
  }
  io.out(summaryTable(r, spec, args.out) + '\n');
  io.out(`${r.results.length} point(s): ${r.ran} ran, ${r.skipped} already finished, ${r.failed} failed; ${path.join(args.out, 'results.csv')}\n`);
  if (r.failed > 0) {
    io.err(`${r.failed} of ${r.results.length} point(s) failed (status "error" in results.csv, error.json in their directories)\n`);
    return 1;
  }
  return 0;
}

/**
 * The queue backend, loaded only when --queue is given: a local sweep never loads
 * BullMQ or needs Redis. With nothing to run, no connection is made.
 */
function queueBackend(queue: QueueTarget, io: SweepIO) {
  return async (toRun: number) => {
    if (toRun === 0) return new LocalRunner(1);
    const { QueueRunner } = await import('../scenario/queue/queueRunner');
    let runner;
    try {
      runner = await QueueRunner.open(queue, io.err);
    } catch (e) {
      if ((e as Error)?.name === 'QueueUnreachable') throw e;
      // Whatever failed, its message and stack must not carry the password.
      const redacted = new Error(queue.redact((e as Error)?.message ?? String(e)));
      redacted.stack = queue.redact((e as Error)?.stack ?? redacted.message);
      throw redacted;
    }
    io.err(`sweep: ${toRun} point(s) on the queue at ${queue.shown}; they run on \`socsim worker --queue …\` processes\n`);
    return runner;
  };
}

/** At most this many stat columns in the printed summary (results.csv has them all). */
const SUMMARY_STATS = 6;

/** One row per point: scenario, axes, seed, status, then the selected stats (or those that vary). */
function summaryTable(r: SweepResult, spec: SweepSpec, outDir: string): string {
  const stats = readPointStats(path.join(outDir, 'points'), r.results);
  // The stats that differ between points tell the story; with none differing, the first selected.
  const varying = varyingColumns(r.columns, stats);
  const shown = (varying.length > 0 ? varying : spec.stats.length > 0 ? r.columns : []).slice(0, SUMMARY_STATS);
  const header = ['scenario', ...r.axes, 'seed', 'status', 'hash', ...shown];
  const rows = r.results.map((x) => {
    const params = new Map(x.point.params);
    const dump = stats.get(x.hash);
    return [x.point.scenario, ...r.axes.map((a) => String(params.get(a))), String(x.seed ?? ''), x.status, x.hash,
      ...shown.map((c) => (dump ? String(dump[c] ?? '') : ''))];
  });
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const fmt = (row: string[]) => row.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd();
  return [fmt(header), fmt(widths.map((w) => '-'.repeat(w))), ...rows.map(fmt)].join('\n');
}

/** A bar with ETA on a terminal; otherwise one line per finished point (CI logs, tests). */
class SweepProgress {
  private bar: SingleBar | null = null;
  private failed = 0;

  constructor(private readonly io: SweepIO, private readonly tty: boolean) {}

  planned(p: { total: number; toRun: number; finished: number; failedToResolve: number }): void {
    this.io.err(`sweep: ${p.total} point(s), ${p.finished} already finished, ${p.toRun} to run${p.failedToResolve ? `, ${p.failedToResolve} with a config error` : ''}\n`);
    if (this.tty && p.toRun > 0) {
      this.bar = new SingleBar({ stream: process.stderr, format: 'sweep [{bar}] {value}/{total} points | {failed} failed | eta {eta_formatted}', hideCursor: true }, Presets.shades_classic);
      this.bar.start(p.toRun, 0, { failed: 0 });
    }
  }

  pointDone(p: { status: string; hash: string; point: { scenario: string; params: [string, unknown][] }; seed: number | null; hostSeconds: number; done: number; toRun: number; error: string | null }): void {
    if (p.status !== 'ok') this.failed++;
    if (this.bar) {
      this.bar.update(p.done, { failed: this.failed });
      return;
    }
    const params = p.point.params.map(([k, v]) => `${k.split('.').pop()}=${v}`).join(' ');
    this.io.err(`[${p.done}/${p.toRun}] ${p.status} ${p.hash} ${p.point.scenario}${params ? ` ${params}` : ''} seed ${p.seed ?? '-'} (${p.hostSeconds.toFixed(2)} s)${p.error ? `: ${p.error.split('\n')[0]}` : ''}\n`);
  }

  stop(): void {
    this.bar?.stop();
  }
}
