#!/usr/bin/env node
import * as fs from 'fs';
import yargs from 'yargs';
import { ConfigError } from '../sim/engine/errors';
import { LOG_LEVELS, setLogLevel, type LogLevel } from '../sim/engine/log';
import { Tracer } from '../sim/engine/trace';
import { TRACE_OUTPUT_FORMATS, type TraceOutputFormat } from '../sim/engine/chromeTrace';
import { parseTime, UnitError } from '../sim/engine/units';
import { loadSocConfigWith } from '../scenario/load';
import { readJsonFile } from '../sim/soc/loadJson';
import { benchCommand } from './bench';
import { goldenCommand } from './golden';
import { parseSeed } from './seed';
import { formatList, listBundled, socConfigsDir } from './list';
import { TraceInputError, traceDiffCommand } from './traceDiff';
import { TraceWindowOptionError, traceToChromeCommand, traceWindowOption } from './traceToChrome';
import { RunProgress, formatSimTime } from './progress';
import { withRunOptions, writeRunDir } from '../scenario/runDir';
import { discardOutTrace, keepOutTrace, planOutDir } from './runOut';
import { sweepCommand, sweepOptions, type SweepArgs } from './sweep';
import { workerCommand, workerOptions, type WorkerArgs } from './worker';
import { reportCommand, reportOptions, type ReportArgs } from './report';
import { RunInterrupted, runLoadedInterruptible, type RunOutput } from '../scenario/run';
import { catchStopSignals, signalExitCode } from './interrupt';
import { resolveScenario } from '../scenario/resolve';
import { parseOverride } from '../scenario/overrides';
import { ACCESS_MODES, type AccessMode } from '../sim/engine/accessMode';
import { selectStats, StatsSelectError } from '../sim/engine/statsSelect';
import { statsToCsv } from '../sim/engine/statsCsv';
import { formatHeadline, headlineOf } from '../scenario/headline';
import { StatsInputError, statsDiffCommand } from './statsDiff';
import { socsimVersion } from './version';
import { InputFileError } from '../sim/engine/inputFile';
import { OutputFileError } from '../sim/engine/outputFile';
import { runInputFiles } from '../scenario/inputs';
import { outputOverInput, runOutputFiles } from './outputs';
import { repeatedOptionProblem, type ParsedOptions } from './repeatedOptions';
import { checkRunHostMemory, parseHostMemoryLimit } from '../scenario/hostMemory';
import { SAMPLE_OPTIONS, SampleOptionError, sampleOptionsOf, type SampleArgs } from './sampleOptions';
import { timeSeriesToCsv } from '../sim/engine/timeSeries';
import { writeFileAtomic } from '../sim/engine/outputFile';

/** Where the CLI writes; tests pass collectors. */
export interface CliIO {
  out(text: string): void;
  err(text: string): void;
}

const processIO: CliIO = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
};

/** Exit codes: 0 ok, 1 bad input (config, scenario, arguments), 2 internal error; 130 / 143 a run stopped by SIGINT / SIGTERM. */
export async function main(argv: string[], io: CliIO = processIO): Promise<number> {
  let code = 0;
  const parser = yargs(argv)
    .scriptName('socsim')
    .usage('$0 <command> [options]')
    .command(
      'run <scenario>',
      'run a scenario (a file, or a bundled scenario by name) and print its stats',
      (y) => y
        .positional('scenario', { type: 'string', demandOption: true, describe: 'scenario JSON file, or the name of a bundled one (socsim list)' })
        .option('set', SET_OPTION)
        .option('seed', { type: 'string', describe: "override the scenario's seed: an integer from 0 to 2^32-1" })
        .option('until', { type: 'string', describe: 'stop at this simulated time, e.g. 10us, 2ms' })
        .option('mode', { choices: ACCESS_MODES, describe: "override the scenario's access mode (atomic = fast-forward)" })
        .option('stats', { choices: ['table', 'json', 'csv'] as const, default: 'table' as const, describe: 'stats output: table (headline, then every stat), json (one flat object) or csv (stat,value)' })
        .option('stats-filter', { type: 'string', array: true, describe: 'only stats matching this glob or below it (repeatable; * within a segment, ** across segments); the run directory keeps every stat' })
        .option('nonzero', { type: 'boolean', default: false, describe: 'leave out stats that are 0 or null' })
        .option('trace', { type: 'string', describe: 'write a JSON Lines trace to this file (with --out, a bare --trace writes DIR/trace.jsonl)' })
        .option('trace-format', { choices: TRACE_OUTPUT_FORMATS, default: 'jsonl' as const, describe: 'jsonl: socsim JSON Lines (diffable, golden traces); chrome: Chrome trace-event JSON for Perfetto / chrome://tracing' })
        .option('trace-filter', { type: 'string', describe: 'comma-separated trace categories (map,unmap,tlb,walk,fault,inval,dma,bus)' })
        .option('trace-window', { type: 'string', describe: 'trace only events in this simulated-time window, e.g. 100us..200us (or 100us.., ..200us)' })
        .option('log-level', { choices: LOG_LEVELS, default: 'warn' as LogLevel, describe: 'pino log level (logs go to stderr)' })
        .option('progress', { type: 'boolean', default: true, describe: 'progress bar on stderr when it is a terminal' })
        .option('out', { type: 'string', describe: 'write a run directory: config.json, stats.json, stats.csv, meta.json (see docs/experiments.md)' })
        .option('force', { type: 'boolean', default: false, describe: 'with --out: replace a finished run in that directory' })
        .option('max-host-memory', MAX_HOST_MEMORY_OPTION)
        .options(SAMPLE_OPTIONS)
        .example('$0 run server-io-nic-strict --out runs/nic', 'a run directory: config, stats (JSON and CSV), meta')
        .example('$0 run mobile-gpu-texture-4k --until 20us --out runs/gpu --sample-interval 1us', 'and runs/gpu/timeseries.csv: bandwidth, TLB misses, walks and queue depths per µs')
        .example('$0 run soc-configs/scenarios/server-io-nic-strict.json', 'headline and stats table')
        .example('$0 run server-io-nic-strict --set soc.iommus.iommu.l2Tlb.entries=128', 'a bundled scenario by name, with a bigger IOTLB')
        .example("$0 run soc-configs/scenarios/server-io-nic-strict.json --until 100us --stats csv --stats-filter 'soc.iommu.**.hit_rate' --nonzero", 'selected stats as CSV')
        .example(`$0 run soc-configs/scenarios/default.json --stats json | jq '."sim.time_ns"'`, 'JSON for scripts'),
      async (args) => {
        code = await cmdRun(args, io);
      },
    )
    .command(
      'validate <file>',
      'check a SoC config or scenario file and report the first problem with its JSON path',
      (y) => y
        .positional('file', { type: 'string', demandOption: true, describe: 'SoC config or scenario file (or a bundled scenario name)' })
        .option('set', SET_OPTION)
        .option('max-host-memory', MAX_HOST_MEMORY_OPTION)
        .example('$0 validate soc-configs/server-io.json', 'a SoC config')
        .example('$0 validate soc-configs/scenarios/server-io-nic-strict.json', 'a scenario and the SoC it names')
        .example('$0 validate server-io-nic-strict --set soc.iommus.iommu.l2Tlb.entries=128', 'a bundled scenario with an override'),
      (args) => {
        code = cmdValidate(args.file, args.set ?? [], io, maxHostMemory(args['max-host-memory']));
      },
    )
    .command(
      'trace',
      'work with socsim traces: trace diff, trace to-chrome',
      (y) => y
        .command(
          'diff <a> <b>',
          'compare two socsim traces: the first divergence with context, and per-category counts (exit 0 identical, 1 different)',
          (yy) => yy
            .positional('a', { type: 'string', demandOption: true })
            .positional('b', { type: 'string', demandOption: true })
            .option('context', { type: 'number', default: 3, describe: 'records shown around the divergence' })
            .example('$0 trace diff a.jsonl b.jsonl --context 5', 'first divergence with 5 records around it'),
          (args) => {
            try {
              code = traceDiffCommand(args.a, args.b, (line) => io.out(`${line}\n`), { context: args.context });
            } catch (e) {
              if (!(e instanceof TraceInputError)) throw e;
              io.err(`error: ${e.message}\n`);
              code = 1;
            }
          },
        )
        .command(
          'to-chrome <input>',
          'convert a socsim JSON Lines trace to Chrome trace-event JSON (Perfetto, chrome://tracing), streaming',
          (yy) => yy
            .positional('input', { type: 'string', demandOption: true, describe: 'a socsim JSON Lines trace' })
            .option('o', { alias: 'output', type: 'string', demandOption: true, describe: 'the Chrome JSON file to write' })
            .option('trace-window', { type: 'string', describe: 'keep only records in this window, e.g. 100us..200us' })
            .example('$0 trace to-chrome run.jsonl -o run.json --trace-window 100us..200us', 'open run.json in ui.perfetto.dev'),
          (args) => {
            code = traceToChromeCommand(args.input, args.o, traceWindowOption(args['trace-window']), (line) => io.err(`${line}\n`));
          },
        )
        .example('$0 trace diff a.jsonl b.jsonl', 'where two traces first differ')
        .demandCommand(1, 'name a trace command: diff, to-chrome'),
    )
    .command(
      'stats',
      'work with stats files: stats diff',
      (y) => y
        .command(
          'diff <a> <b>',
          'per-stat change between two runs (run directories or stats .json/.csv files); exit 0 when nothing moved beyond the tolerance, 1 when something did',
          (yy) => yy
            .positional('a', { type: 'string', demandOption: true, describe: 'run directory or stats file (.json as run --stats json writes, .csv as run --stats csv writes)' })
            .positional('b', { type: 'string', demandOption: true, describe: 'run directory or stats file' })
            .option('tol', { type: 'string', describe: 'relative tolerance as a percentage, e.g. 1% (default 0: any change counts)' })
            .option('abs-tol', { type: 'string', describe: 'absolute tolerance in the stat\'s unit (a change must exceed both tolerances)' })
            .option('stats-filter', { type: 'string', array: true, describe: 'only stats matching this glob or below it (repeatable)' })
            .option('json', { type: 'boolean', default: false, describe: 'one JSON object instead of the report' })
            .example('$0 stats diff runs/iotlb-64 runs/iotlb-128', 'two run directories')
            .example("$0 stats diff base.json new.csv --tol 1% --stats-filter 'soc.iommu.**'", 'CI gate: IOMMU stats within 1%'),
          (args) => {
            try {
              code = statsDiffCommand(args.a, args.b, { tol: args.tol, absTol: args['abs-tol'], filters: args['stats-filter'], json: args.json }, (line) => io.out(`${line}\n`));
            } catch (e) {
              if (!(e instanceof StatsInputError)) throw e;
              io.err(`error: ${e.message}\n`);
              code = 1;
            }
          },
        )
        .example('$0 stats diff runs/iotlb-64 runs/iotlb-128 --tol 1%', 'which stats moved by more than 1%')
        .demandCommand(1, 'name a stats command: diff'),
    )
    .command(
      'bench',
      'run the bundled scenarios: TLB, walk, fault and invalidation counts and simulator speed, compared with bench/baseline.json (exit 1 when a count changed)',
      (y) => y
        .option('json', { type: 'boolean', default: false, describe: 'one JSON object instead of tables' })
        .option('quick', { type: 'boolean', default: false, describe: 'short runs (what CI and the baseline use)' })
        .option('scenario', { type: 'string', array: true, describe: 'only these scenarios: bundled names (file names without .json) or your own scenario files' })
        .option('set', SET_OPTION)
        .option('baseline', { type: 'string', describe: 'baseline file (default bench/baseline.json)' })
        .option('update-baseline', { type: 'boolean', default: false, describe: 'rewrite the baseline with this run' })
        .example('$0 bench --quick', 'what CI runs: counts compared with bench/baseline.json')
        .example('$0 bench --quick --scenario server-io-nic-strict --json', 'one scenario, as JSON'),
      (args) => {
        code = benchCommand({ json: args.json, quick: args.quick, scenarios: args.scenario, sets: args.set, baseline: args.baseline, updateBaseline: args['update-baseline'] }, io.out);
      },
    )
    .command(
      'golden [scenarios..]',
      'compare short runs of scenarios with their golden traces (exit 0 all match, 1 a trace differs or is missing)',
      (y) => y
        .positional('scenarios', { type: 'string', array: true, describe: 'scenario files or bundled names (default: every bundled scenario)' })
        .option('dir', { type: 'string', describe: 'directory of <scenario>.trace.jsonl golden files (default: the bundled test/golden/scenarios)' })
        .option('update', { type: 'boolean', default: false, describe: 'write the golden files from this run instead of comparing' })
        .option('until', { type: 'string', describe: 'simulated time each run covers (default 5us)' })
        .option('set', SET_OPTION)
        .example('$0 golden', 'check every bundled scenario against test/golden/scenarios')
        .example('$0 golden my.json --dir my-goldens --update', 'record the golden trace of your own scenario')
        .example('$0 golden my.json --dir my-goldens', 'exit 1 with the first divergence when it changed'),
      (args) => {
        code = goldenCommand(args.scenarios ?? [], { update: args.update, dir: args.dir, sets: args.set, until: args.until === undefined ? undefined : parseUntil(args.until) }, io.out);
      },
    )
    .command(
      'sweep [scenario..]',
      'run scenarios over a grid of overrides and seeds in parallel worker processes: a run directory per point and results.csv (resumable; see docs/experiments.md)',
      (y) => sweepOptions(y),
      async (args) => {
        code = await sweepCommand(args as unknown as SweepArgs, io);
      },
    )
    .command(
      'worker',
      'run sweep points from a Redis queue (socsim sweep --queue) until SIGTERM; see README: Sweeps on several machines',
      (y) => workerOptions(y),
      async (args) => {
        code = await workerCommand(args as unknown as WorkerArgs, io);
      },
    )
    .command(
      'report <dir>',
      'a self-contained HTML report (charts and tables) of a run or sweep directory, or its figures as SVG (README: Reports)',
      (y) => reportOptions(y),
      async (args) => {
        code = await reportCommand(args as unknown as ReportArgs, io);
      },
    )
    .command(
      'list',
      'list the bundled SoC configs and scenarios with one-line descriptions',
      (y) => y.example('$0 list', 'every bundled SoC config and scenario'),
      () => {
        const root = socConfigsDir();
        io.out(formatList(listBundled(root), root));
      },
    )
    .example('$0 run soc-configs/scenarios/server-io-nic-strict.json --until 100us', 'run a bundled scenario for 100 µs of simulated time')
    .example('$0 <command> --help', 'options and examples of one command')
    .demandCommand(1, 'name a command (socsim --help lists them)')
    // yargs passes its instance (the current command's options) as a second argument its types omit.
    .middleware(((args: Record<string, unknown>, y: { getOptions(): ParsedOptions }) => {
      const problem = repeatedOptionProblem(args, y.getOptions());
      if (problem) throw new UsageError(problem);
    }) as never, true)
    .strict()
    .help()
    .version('version', 'print the socsim version', socsimVersion())
    .exitProcess(false)
    .fail((msg, err) => {
      throw err ?? new UsageError(msg);
    });

  try {
    await parser.parseAsync(argv, {}, (_err, _args, output) => {
      if (output) io.out(output + '\n');
    });
  } catch (e) {
    if (e instanceof UsageError || e instanceof TraceWindowOptionError || e instanceof SampleOptionError) {
      io.err(`socsim: ${e.message}\nTry 'socsim --help'.\n`);
      return 1;
    }
    return reportError(e, io);
  }
  return code;
}

class UsageError extends Error {}

/** `--set path=value`, repeatable, on every command that loads a scenario. */
const SET_OPTION = {
  type: 'string',
  array: true,
  requiresArg: true,
  describe: 'override a SoC or scenario field (repeatable): soc.<component name>.….field=value or scenario.jobs.<job name>.field=value',
} as const;

/** `--max-host-memory`: refuse runs whose host-memory estimate exceeds it (scenario/hostMemory.ts, docs/limits.md). */
const MAX_HOST_MEMORY_OPTION = {
  type: 'string',
  requiresArg: true,
  describe: 'refuse a run whose estimated host memory exceeds this, e.g. 4GiB (default: half of this machine\'s memory)',
} as const;

function maxHostMemory(text: string | undefined): number | undefined {
  if (text === undefined) return undefined;
  try {
    return parseHostMemoryLimit(text);
  } catch (e) {
    throw new UsageError(`--max-host-memory: ${(e as Error).message}`);
  }
}

interface RunArgs extends SampleArgs {
  scenario: string;
  set?: string[];
  /** As typed: checked here (a yargs number would turn "abc" into NaN). */
  seed?: string;
  until?: string;
  mode?: AccessMode;
  stats: 'json' | 'table' | 'csv';
  'stats-filter'?: string[];
  nonzero: boolean;
  trace?: string;
  'trace-filter'?: string;
  'trace-format': TraceOutputFormat;
  'trace-window'?: string;
  'log-level': LogLevel;
  progress: boolean;
  out?: string;
  force: boolean;
  'max-host-memory'?: string;
}

/** `--until`: a simulated time with its unit. */
function parseUntil(text: string): number {
  if (/^\s*\d+(\.\d+)?\s*$/.test(text)) {
    throw new UsageError(`--until: give a unit, e.g. ${text.trim()}ns or ${text.trim()}us (a bare number would be picoseconds: write ${text.trim()}ps)`);
  }
  try {
    return parseTime(text);
  } catch (e) {
    throw new UsageError(`--until: ${(e as UnitError).message}`);
  }
}

async function cmdRun(args: RunArgs, io: CliIO): Promise<number> {
  setLogLevel(args['log-level']);
  const seed = args.seed === undefined ? undefined : parseSeed(args.seed);
  if (seed === null) throw new UsageError(`--seed: must be an integer from 0 to 2^32-1, got ${JSON.stringify(args.seed)}`);
  const until = args.until === undefined ? undefined : parseUntil(args.until);
  const hostLimit = maxHostMemory(args['max-host-memory']);
  const sampling = sampleOptionsOf(args, args.out !== undefined);
  // Loaded before any output is touched: outputs must not overwrite the run's inputs.
  const resolved = resolveScenario(args.scenario, args.set ?? []);
  const clash = outputOverInput(runOutputFiles(args.trace, args.out, args['trace-format'], sampling?.file ?? undefined), runInputFiles(resolved));
  if (clash) throw new UsageError(clash);
  const outPlan = args.out === undefined ? null : planOutDir(args.out, args.force, args.trace, args['trace-format']);
  if (typeof outPlan === 'string') throw new UsageError(outPlan);
  if (args.trace === '' && !outPlan) throw new UsageError('--trace: give a file (a bare --trace needs --out DIR)');
  if (args['trace-format'] !== 'jsonl' && args.trace === undefined) throw new UsageError(`--trace-format ${args['trace-format']} needs --trace <file>`);
  let categories;
  try {
    categories = args['trace-filter'] ? Tracer.parseFilter(args['trace-filter']) : undefined;
  } catch (e) {
    throw new UsageError(`--trace-filter: ${(e as Error).message}`);
  }
  if (categories && args.trace === undefined) throw new UsageError('--trace-filter needs --trace <file>');
  const traceWindow = traceWindowOption(args['trace-window']);
  if (traceWindow && args.trace === undefined) throw new UsageError('--trace-window needs --trace <file>');

  const progress = RunProgress.forStderr(args.progress);
  const startedAt = new Date();
  const hostStart = process.hrtime.bigint();
  let result: RunOutput;
  const signals = catchStopSignals();
  try {
    // A run directory's config.json holds the seed, stop time and mode the run used.
    const loaded = outPlan ? withRunOptions(resolved, { seed, until, mode: args.mode }) : resolved;
    result = await runLoadedInterruptible(loaded, {
      seed, until, mode: args.mode, maxHostMemory: hostLimit, pageTables: outPlan !== null, tracePath: outPlan?.tracePath ?? args.trace, traceFormat: args['trace-format'], traceCategories: categories, traceWindow,
      ...(sampling ? { sample: sampling.sample } : {}),
      onProgress: progress ? (f, t) => progress.update(f, t) : undefined,
    }, signals.stop);
  } catch (e) {
    if (!(e instanceof RunInterrupted)) {
      if (outPlan) discardOutTrace(outPlan);
      throw e;
    }
    progress?.stop();
    // An interrupted run directory has no meta.json (incomplete); its trace is kept: it ends with an honest end record.
    const tracePath = outPlan ? keepOutTrace(outPlan) : args.trace;
    const trace = tracePath ? `; the trace ${tracePath} ends with an "interrupted" end record` : '';
    io.err(`socsim: interrupted by ${e.signal} at ${formatSimTime(e.tick)} simulated (${e.events} events): no stats printed${trace}\n`);
    return signalExitCode(e.signal);
  } finally {
    signals.release();
    progress?.stop();
  }
  const hostSeconds = Number(process.hrtime.bigint() - hostStart) / 1e9;
  if (outPlan) writeRunDir(outPlan.dir, result, { startedAt, hostSeconds, trace: outPlan.trace });
  if (sampling?.file && result.timeseries) writeFileAtomic(sampling.file, timeSeriesToCsv(result.timeseries));

  // The table, JSON and CSV show the same selection of one snapshot (taken when the jobs
  // ended, before driver teardown); the headline reads the whole snapshot.
  let shown;
  try {
    shown = selectStats(result.stats, { filters: args['stats-filter'], nonzero: args.nonzero });
  } catch (e) {
    if (!(e instanceof StatsSelectError)) throw e;
    throw new UsageError(e.message);
  }
  if (args.stats === 'json') {
    io.out(JSON.stringify(shown, null, 2) + '\n');
  } else if (args.stats === 'csv') {
    io.out(statsToCsv(shown));
  } else {
    io.out(summary(result, hostSeconds) + '\n\n');
    io.out(formatHeadline(headlineOf(result)) + '\n\n');
    io.out(result.soc.ctx.stats.toTable(shown) + '\n');
  }
  return 0;
}

function summary(r: RunOutput, hostSeconds: number): string {
  const lines = [
    `scenario ${r.loaded.scenario.name} on soc ${r.loaded.soc.name} (seed ${r.seed}, config ${r.configHash})`,
    `simulated ${formatSimTime(r.endTick)} in ${hostSeconds.toFixed(2)} s host time, ${r.events} events, stopped: ${r.stopReason}`,
  ];
  for (const j of r.jobs) {
    const verified = j.verified === null ? '' : j.verified ? ', verified' : ', VERIFY FAILED';
    lines.push(`job ${j.name} (${j.kind}): ${j.status}${verified}`);
  }
  return lines.join('\n');
}

function cmdValidate(file: string, sets: readonly string[], io: CliIO, hostLimit?: number): number {
  const data = fs.existsSync(file) ? readJsonFile(file, 'file') as Record<string, unknown> | null : null;
  const isSoc = data !== null && typeof data === 'object' && !('jobs' in data) && !('soc' in data);
  if (!isSoc) {
    const s = resolveScenario(file, sets);
    // What validate accepts must run: the run's host-memory check too.
    checkRunHostMemory(s, hostLimit);
    const soc = s.socFile === s.file ? 'inline soc' : 'soc';
    const applied = s.overrides.length ? ` with ${s.overrides.length} override(s)` : '';
    io.out(`ok: ${file}: scenario "${s.scenario.name}" on ${soc} "${s.soc.name}"${applied}, ${s.scenario.jobs.length} job(s)\n`);
  } else {
    const overrides = sets.map(parseOverride);
    const stray = overrides.find((o) => o.root !== 'soc');
    if (stray) throw new UsageError(`--set ${stray.text}: ${file} is a SoC config, so only soc.… overrides apply`);
    const c = loadSocConfigWith(file, overrides);
    io.out(`ok: ${file}: soc "${c.name}": ${c.memories.length} memories, ${c.buses.length} buses, ${c.bridges.length} bridges, ${c.devices.length} devices\n`);
  }
  return 0;
}

const FS_ERRORS = new Set(['ENOENT', 'EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'EDQUOT', 'ENOTDIR', 'EISDIR', 'EEXIST', 'ENAMETOOLONG']);

function reportError(e: unknown, io: CliIO): number {
  if (e instanceof ConfigError) {
    io.err(`error: ${e.message}\n`);
    return 1;
  }
  if (e instanceof InputFileError || e instanceof OutputFileError) {
    io.err(`error: ${e.message}\n`);
    return 1;
  }
  // The file system refusing (permissions, a full disk, a file where a directory should be) is the environment, not a bug.
  if (e instanceof SyntaxError || FS_ERRORS.has((e as NodeJS.ErrnoException)?.code ?? '')) {
    io.err(`error: ${(e as Error).message}\n`);
    return 1;
  }
  io.err(`internal error (a bug in socsim): ${(e as Error)?.stack ?? String(e)}\n`);
  return 2;
}

if (require.main === module) {
  // `socsim run … | head` closes the pipe early: that is the reader's choice, not an error.
  process.stdout.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(process.exitCode ?? 0);
    throw e;
  });
  main(process.argv.slice(2)).then((code) => {
    process.exitCode = code;
  });
}
