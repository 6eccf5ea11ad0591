import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../helpers/cliInProcess';
import { DEFAULT_SCENARIO, MINIMAL, REPO } from '../helpers/configFiles';
import { OutputFile, OutputFileError } from '../../sim/engine/outputFile';
import { FileTraceWriter } from '../../sim/engine/trace';
import { MAX_JSON_INPUT_BYTES } from '../../sim/engine/inputFile';

/** Issue 15, item 5: what socsim reads and writes, and the options it takes once. */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-files-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** One line on stderr, no stack trace, exit 1. */
function expectOneLine(r: { code: number; err: string }, message: RegExp): void {
  expect(r.code).toBe(1);
  expect(r.err).toMatch(message);
  expect(r.err.trimEnd().split('\n').length).toBeLessThanOrEqual(2); // usage errors add "Try 'socsim --help'."
  expect(r.err).not.toMatch(/\n\s+at /);
}

/** A copy of the default scenario (and, optionally, its SoC) in the temp directory. */
function scenarioCopy(name: string): string {
  const s = JSON.parse(fs.readFileSync(DEFAULT_SCENARIO, 'utf8'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, JSON.stringify({ ...s, soc: MINIMAL }));
  return file;
}

describe('inputs: regular files within a size limit', () => {
  const fifo = path.join(dir, 'fifo');
  const big = path.join(dir, 'big.json');
  beforeAll(() => {
    execFileSync('mkfifo', [fifo]);
    fs.writeFileSync(big, '');
    fs.truncateSync(big, MAX_JSON_INPUT_BYTES + 1); // sparse: no 64 MiB written
  });

  test.each([
    ['/dev/zero', /^error: \/dev\/zero: (file|scenario): cannot read file: not a regular file \(a character device\)$/m],
    ['<dir>', /cannot read file: not a regular file \(a directory\)$/m],
    ['<fifo>', /cannot read file: not a regular file \(a FIFO\)$/m],
    ['<big>', /cannot read file: 64\.0 MiB, above the 64 MiB limit for this kind of file$/m],
  ])('validate %s: one line, exit 1', async (which, message) => {
    const file = which === '<dir>' ? dir : which === '<fifo>' ? fifo : which === '<big>' ? big : which;
    expectOneLine(await runCli(['validate', file]), message);
    expectOneLine(await runCli(['run', file]), message);
  });

  test('stats diff, trace diff and a sweep spec refuse devices, FIFOs and directories without blocking', async () => {
    expectOneLine(await runCli(['stats', 'diff', '/dev/zero', '/dev/zero']), /^error: cannot read stats \/dev\/zero: not a regular file \(a character device\)$/m);
    expectOneLine(await runCli(['stats', 'diff', fifo, fifo]), /cannot read stats .*fifo: not a regular file \(a FIFO\)$/m);
    expectOneLine(await runCli(['trace', 'diff', fifo, fifo]), /^error: cannot read trace .*fifo: not a regular file \(a FIFO\)$/m);
    expectOneLine(await runCli(['trace', 'diff', '/dev/zero', fifo]), /cannot read trace \/dev\/zero: not a regular file \(a character device\)$/m);
    expectOneLine(await runCli(['sweep', '--spec', '/dev/zero', '--out', path.join(dir, 'sw')]), /\/dev\/zero: sweep: cannot read file: not a regular file/);
  });

  test('a 10^6-character device name is refused at once, with its path and the limit', async () => {
    const soc = JSON.parse(fs.readFileSync(MINIMAL, 'utf8'));
    soc.devices[0].name = 'd'.repeat(1_000_000);
    const file = path.join(dir, 'long-name.json');
    fs.writeFileSync(file, JSON.stringify(soc));
    const t0 = Date.now();
    const r = await runCli(['validate', file]);
    expect(Date.now() - t0).toBeLessThan(2000);
    expectOneLine(r, /: soc\.devices\[0\]\.name: must be at most 64 characters, got 1000000$/m);
    expect(r.err.length).toBeLessThan(300);
  });
});

describe('outputs: written whole, never over an input, one line when they cannot be', () => {
  test('run --trace over the scenario, its SoC or a CPU trace the job reads is refused, and the file is untouched', async () => {
    const scenario = scenarioCopy('x.json');
    const before = fs.readFileSync(scenario, 'utf8');
    expectOneLine(await runCli(['run', scenario, '--trace', scenario, '--until', '1us']), /^socsim: --trace: .*x\.json is the scenario file, an input of this run; write the output elsewhere$/m);
    // Another spelling of the same file, and a symlink to it.
    expectOneLine(await runCli(['run', scenario, '--trace', path.join(dir, '..', path.basename(dir), '.', 'x.json'), '--until', '1us']), /is the scenario file/);
    fs.symlinkSync(scenario, path.join(dir, 'link.json'));
    expectOneLine(await runCli(['run', scenario, '--trace', path.join(dir, 'link.json'), '--until', '1us']), /is the scenario file \(.*x\.json\)/);
    expect(fs.readFileSync(scenario, 'utf8')).toBe(before);

    const soc = fs.readFileSync(MINIMAL, 'utf8');
    expectOneLine(await runCli(['run', scenario, '--trace', MINIMAL, '--trace-format', 'chrome', '--until', '1us']), /--trace: .*minimal\.json is the SoC config, an input of this run/);
    expect(fs.readFileSync(MINIMAL, 'utf8')).toBe(soc);

    const cpu = JSON.parse(fs.readFileSync(path.join(REPO, 'soc-configs', 'scenarios', 'minimal-cpu-trace.json'), 'utf8'));
    const traceFile = path.resolve(REPO, 'soc-configs', 'scenarios', cpu.jobs[0].trace);
    const text = fs.readFileSync(traceFile, 'utf8');
    expectOneLine(await runCli(['run', 'minimal-cpu-trace', '--trace', traceFile, '--until', '1us']), new RegExp(`--trace: .* is a file job "${cpu.jobs[0].name}" reads, an input of this run`));
    expect(fs.readFileSync(traceFile, 'utf8')).toBe(text);
  });

  test('sweep --out over an input (its scenario as OUT/sweep.json or OUT/results.csv, the spec, a file under OUT/points) is refused and the file is untouched', async () => {
    const out = path.join(dir, 'sweep-over');
    fs.mkdirSync(out);
    const asSpec = path.join(out, 'sweep.json');
    fs.copyFileSync(scenarioCopy('s1.json'), asSpec);
    const before = fs.readFileSync(asSpec, 'utf8');
    // Before the check the sweep wrote its own sweep.json over this scenario and every point failed.
    expectOneLine(await runCli(['sweep', asSpec, '--grid', 'scenario.until=1us', '--out', out]), /^socsim: --out: .*sweep\.json is the scenario file, an input of this sweep; write the output elsewhere$/m);
    expect(fs.readFileSync(asSpec, 'utf8')).toBe(before);
    const asResults = path.join(out, 'results.csv');
    fs.copyFileSync(scenarioCopy('s2.json'), asResults);
    expectOneLine(await runCli(['sweep', asResults, '--until', '1us', '--out', out]), /results\.csv is the scenario file, an input of this sweep/);
    const inPoints = path.join(out, 'points', 'mine', 'p.json');
    fs.mkdirSync(path.dirname(inPoints), { recursive: true });
    fs.copyFileSync(scenarioCopy('s3.json'), inPoints);
    expectOneLine(await runCli(['sweep', inPoints, '--until', '1us', '--out', out]), /p\.json is the scenario file, an input of this sweep, inside .*points where the sweep writes its points/);
    const specFile = path.join(dir, 'spec-out', 'sweep.json');
    fs.mkdirSync(path.dirname(specFile));
    fs.writeFileSync(specFile, JSON.stringify({ scenarios: [scenarioCopy('s4.json')], until: '1us' }));
    expectOneLine(await runCli(['sweep', '--spec', specFile, '--out', path.dirname(specFile)]), /sweep\.json is the sweep spec, an input of this sweep/);
    expect(fs.existsSync(path.join(out, 'points', 'mine', 'p.json'))).toBe(true);
  });

  test('run --out over the scenario file (DIR/config.json) is refused before the directory is cleared', async () => {
    const out = path.join(dir, 'run-over');
    fs.mkdirSync(out);
    const scenario = path.join(out, 'stats.json');
    fs.copyFileSync(scenarioCopy('y.json'), scenario);
    expectOneLine(await runCli(['run', scenario, '--out', out, '--until', '1us']), /^socsim: --out: .*stats\.json is the scenario file/m);
    expect(fs.existsSync(scenario)).toBe(true);
  });

  test.each([
    ['a directory', () => dir, /^error: cannot write .*: is a directory$/m],
    ['a missing directory', () => path.join(dir, 'no', 'such', 't.jsonl'), /^error: cannot write .*t\.jsonl: no such directory .*no\/such$/m],
    ['a read-only file', () => { const f = path.join(dir, 'ro.jsonl'); fs.writeFileSync(f, 'keep'); fs.chmodSync(f, 0o444); return f; }, /^error: cannot write .*ro\.jsonl: the file is read-only$/m],
    ['a full disk (/dev/full)', () => '/dev/full', /^error: cannot write \/dev\/full: no space left on the device \(ENOSPC\)$/m],
  ])('--trace to %s: one line, exit 1', async (_what, target, message) => {
    const t = target();
    expectOneLine(await runCli(['run', 'minimal-cpu-trace', '--until', '2us', '--trace', t]), message);
    expectOneLine(await runCli(['run', 'minimal-cpu-trace', '--until', '2us', '--trace', t, '--trace-format', 'chrome']), message);
    if (t.endsWith('ro.jsonl')) expect(fs.readFileSync(t, 'utf8')).toBe('keep');
  });

  test('a trace replaces the old file only when it is complete; a device is written in place', () => {
    const file = path.join(dir, 'atomic.jsonl');
    fs.writeFileSync(file, 'old\n');
    const w = new FileTraceWriter(file);
    for (let i = 0; i < 5000; i++) w.writeLine(`{"t":${i},"cat":"bus"}`); // several 64 KiB chunks
    expect(fs.readFileSync(file, 'utf8')).toBe('old\n');
    w.close();
    const lines = fs.readFileSync(file, 'utf8').split('\n');
    expect(lines.length).toBe(5001);
    expect(lines[4999]).toBe('{"t":4999,"cat":"bus"}');
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.atomic.jsonl'))).toEqual([]);

    const dropped = new OutputFile(file);
    dropped.write('half');
    dropped.abandon();
    expect(fs.readFileSync(file, 'utf8').split('\n').length).toBe(5001);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.atomic.jsonl'))).toEqual([]);

    const full = new OutputFile('/dev/full');
    expect(() => full.write('x')).toThrow(OutputFileError);
  });

  test('golden --update and bench --update-baseline go through the same checks, before any run', async () => {
    const t0 = Date.now();
    expectOneLine(await runCli(['bench', '--quick', '--update-baseline', '--baseline', path.join(dir, 'none', 'b.json')]), /^error: cannot write .*b\.json: no such directory/m);
    expectOneLine(await runCli(['bench', '--quick', '--update-baseline', '--baseline', dir]), /^error: cannot write .*: is a directory$/m);
    expect(Date.now() - t0).toBeLessThan(5000); // refused before the suite runs
    const file = path.join(dir, 'not-a-dir');
    fs.writeFileSync(file, '');
    expectOneLine(await runCli(['golden', DEFAULT_SCENARIO, '--until', '1us', '--update', '--dir', path.join(file, 'sub')]), /^error: cannot write .*not-a-dir: exists and is not a directory$/m);
  });

  test('golden --update writes the golden file whole', async () => {
    const gold = path.join(dir, 'gold');
    const r = await runCli(['golden', DEFAULT_SCENARIO, '--until', '1us', '--update', '--dir', gold]);
    expect(r.code).toBe(0);
    expect(fs.readdirSync(gold)).toEqual(['default.trace.jsonl']);
    expect(JSON.parse(fs.readFileSync(path.join(gold, 'default.trace.jsonl'), 'utf8').trimEnd().split('\n').pop()!)).toMatchObject({ cat: 'end', reason: 'until' });
  });
});

describe('single-value options may be given once', () => {
  test.each([
    [['run', DEFAULT_SCENARIO, '--trace', 'a.jsonl', '--trace', 'b.jsonl'], 'trace'],
    [['run', DEFAULT_SCENARIO, '--mode', 'atomic', '--mode', 'timing'], 'mode'],
    [['run', DEFAULT_SCENARIO, '--seed', '1', '--seed', '2'], 'seed'],
    [['run', DEFAULT_SCENARIO, '--until', '1us', '--until', '2us'], 'until'],
    [['run', DEFAULT_SCENARIO, '--stats', 'json', '--stats', 'csv'], 'stats'],
    [['run', DEFAULT_SCENARIO, '--out', 'a', '--out', 'b'], 'out'],
    [['run', DEFAULT_SCENARIO, '--trace', 'a', '--trace-format', 'chrome', '--trace-format', 'jsonl'], 'trace-format'],
    [['run', DEFAULT_SCENARIO, '--log-level', 'warn', '--log-level', 'info'], 'log-level'],
    [['trace', 'diff', 'a', 'b', '--context', '1', '--context', '2'], 'context'],
    [['stats', 'diff', 'a', 'b', '--tol', '1%', '--tol', '2%'], 'tol'],
    [['golden', '--until', '1us', '--until', '2us'], 'until'],
    [['bench', '--baseline', 'a', '--baseline', 'b'], 'baseline'],
    [['sweep', DEFAULT_SCENARIO, '--out', 'a', '--out', 'b', '--grid', 'soc.x=1'], 'out'],
    [['sweep', DEFAULT_SCENARIO, '--out', 'a', '-j', '1', '-j', '2', '--grid', 'soc.x=1'], 'jobs'],
  ])('%j', async (args, option) => {
    const r = await runCli(args as string[]);
    expectOneLine(r, new RegExp(`^socsim: --${option} was given 2 times \\(.*\\); it takes one value$`, 'm'));
  });

  test('repeatable options still repeat', async () => {
    const r = await runCli(['run', DEFAULT_SCENARIO, '--until', '1us', '--stats', 'json', '--stats-filter', 'sim.time_ns', '--stats-filter', 'sim.events', '--set', 'scenario.seed=2', '--set', 'scenario.seed=3']);
    expect(r.code).toBe(0);
    expect(Object.keys(JSON.parse(r.out))).toEqual(['sim.events', 'sim.time_ns']);
  });
});
