import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { run, runLoadedInterruptible, RunInterrupted } from '../../scenario/run';
import { resolveScenario } from '../../scenario/resolve';
import { ConfigError } from '../../sim/engine/errors';
import { MemoryTraceWriter, Tracer } from '../../sim/engine/trace';
import { compiledCli } from '../helpers/compiledCli';
import { DEFAULT_SCENARIO, readConfig, REPO, writeTemp } from '../helpers/configFiles';

/**
 * Issue 15 item 7: every trace says how its run ended, with a last record
 * `{"t","cat":"end","reason",…}`; a Chrome trace is valid JSON on every exit path.
 */

const COPY_4K = path.join(__dirname, '..', 'golden', 'minimal-copy-4k.scenario.json');
const SERVER = path.join(REPO, 'soc-configs', 'server-io.json');

let dir: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-trace-end-'));
});
afterAll(() => {
  fs.rmSync(dir, { recursive: true, force: true });
});

type Rec = Record<string, any>;

/** Parses a JSON Lines trace line by line (each must parse). */
function jsonl(text: string): Rec[] {
  expect(text.endsWith('\n')).toBe(true);
  return text.slice(0, -1).split('\n').map((l) => JSON.parse(l) as Rec);
}

describe('end record of a run', () => {
  test('complete: the run ran out of events; the record counts the records and events', () => {
    const w = new MemoryTraceWriter();
    const out = run(COPY_4K, { traceWriter: w });
    expect(out.stopReason).toBe('idle');
    const recs = jsonl(w.text());
    expect(recs.filter((r) => r.cat === 'end')).toHaveLength(1);
    expect(recs[recs.length - 1]).toEqual({ t: out.endTick, cat: 'end', reason: 'complete', records: recs.length - 2, events: out.events });
  });

  test('until: the run stopped at its time limit', () => {
    const w = new MemoryTraceWriter();
    const out = run(DEFAULT_SCENARIO, { traceWriter: w, until: 3_000_000 });
    const recs = jsonl(w.text());
    expect(recs[recs.length - 1]).toEqual({ t: 3_000_000, cat: 'end', reason: 'until', records: recs.length - 2, events: out.events });
    expect(recs.slice(1, -1).every((r) => r.cat !== 'end' && r.t <= 3_000_000)).toBe(true);
  });

  test('error: a job whose kernel calls run out of memory ends the trace with the error, JSON Lines and Chrome alike', () => {
    // 2 × 64 MiB fits the 160 MiB of DRAM (validation passes), not what CMA and swiotlb leave of it.
    const soc = readConfig(SERVER);
    soc.memories[0].size = '160MiB';
    const file = writeTemp({ name: 'huge', soc: writeTemp(soc), jobs: [{ kind: 'sg-copy', name: 'copies', device: 'storage', bytes: '64MiB', transfers: 1 }] });
    const lines = path.join(dir, 'error.jsonl');
    expect(() => run(file, { tracePath: lines, until: 1_000_000 })).toThrow(ConfigError);
    const recs = jsonl(fs.readFileSync(lines, 'utf8'));
    expect(recs[0].format).toBe('socsim-trace');
    const end = recs[recs.length - 1];
    expect(end).toMatchObject({ cat: 'end', reason: 'error', records: recs.length - 2 });
    expect(end.error).toMatch(/scenario\.jobs\[0\]: the kernel ran out of resources for job "copies": alloc_pages: ENOMEM/);

    const chrome = path.join(dir, 'error.json');
    expect(() => run(file, { tracePath: chrome, traceFormat: 'chrome', until: 1_000_000 })).toThrow(ConfigError);
    const json = JSON.parse(fs.readFileSync(chrome, 'utf8'));
    expect(json.otherData.end).toMatchObject({ reason: 'error', error: end.error });
    expect(json.traceEvents.filter((e: Rec) => e.cat === 'end')).toHaveLength(1);
  });
});

describe('interrupting a run through the API', () => {
  test('a small trace (well under the 64 KiB write chunk) is flushed with its end record', async () => {
    const file = path.join(dir, 'small.jsonl');
    let asked = 0;
    const stop = () => (++asked === 2 ? 'SIGTERM' : null);
    const p = runLoadedInterruptible(resolveScenario(DEFAULT_SCENARIO, []), { tracePath: file, traceCategories: ['dma'] }, stop);
    const e = await p.then(() => null, (x: unknown) => x);
    expect(e).toBeInstanceOf(RunInterrupted);
    const ri = e as RunInterrupted;
    expect(ri.signal).toBe('SIGTERM');
    expect(ri.events).toBe(1 << 18); // asked after boot (0 events), then after the first slice: stopped there
    const text = fs.readFileSync(file, 'utf8');
    expect(text.length).toBeLessThan(1 << 16);
    const recs = jsonl(text);
    expect(recs.map((r) => r.cat)).toEqual([undefined, 'dma', 'end']);
    expect(recs[2]).toEqual({ t: ri.tick, cat: 'end', reason: 'interrupted', records: 1, events: ri.events, signal: 'SIGTERM' });
  });

  test('the Tracer writes one end record, only after its header, outside the category filter', () => {
    const w = new MemoryTraceWriter();
    const t = new Tracer(w, ['bus']);
    t.end(5, 'error');
    expect(w.lines).toEqual([]); // no header, no trace to end
    t.start({ configHash: 'h', seed: 1 });
    t.emit('bus', 7, { a: 1 });
    t.emit('dma', 8, { b: 1 }); // filtered out
    t.end(9, 'until', { events: 3 });
    t.end(10, 'error');
    expect(w.lines.slice(1)).toEqual(['{"t":7,"cat":"bus","a":1}', '{"t":9,"cat":"end","reason":"until","records":1,"events":3}']);
  });
});

/**
 * Starts `socsim run` of the (long) default scenario with `args`, and resolves `started`
 * once the file `tracing()` names (the trace being written) holds an event record.
 */
function startRun(args: string[], tracing: () => string | undefined): { child: ReturnType<typeof spawn>; exited: Promise<{ code: number | null; stdout: string; stderr: string }>; started: Promise<void> } {
  const child = spawn(process.execPath, [compiledCli(), 'run', DEFAULT_SCENARIO, ...args, '--no-progress'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  const exited = new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    child.on('exit', (code) => resolve({ code, stdout, stderr }));
  });
  const started = new Promise<void>((resolve, reject) => {
    const poll = setInterval(() => {
      const trace = tracing();
      // A record after the header: events run, so the run is past its boot and answers signals.
      if (trace !== undefined && fs.existsSync(trace) && fs.readFileSync(trace, 'utf8').split('\n').length > 2) {
        clearInterval(poll);
        resolve();
      } else if (child.exitCode !== null) {
        clearInterval(poll);
        reject(new Error(`socsim exited (${child.exitCode}) before writing its trace: ${stderr}`));
      }
    }, 10);
  });
  return { child, exited, started };
}

/** The temporary file a trace is written to until the run ends (`.<name>.<pid>.tmp` next to it; sim/engine/outputFile.ts). */
function beingWritten(file: string): string | undefined {
  const tmp = fs.readdirSync(path.dirname(file)).find((f) => f.startsWith(`.${path.basename(file)}.`) && f.endsWith('.tmp'));
  return tmp && path.join(path.dirname(file), tmp);
}

describe('socsim run interrupted by a signal', () => {
  test.each([
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const)('%s: exit %i, no stats, a JSON Lines trace ending "interrupted", a valid Chrome trace', async (signal, code) => {
    const lines = path.join(dir, `${signal}.jsonl`);
    const chrome = path.join(dir, `${signal}.json`);
    const a = startRun(['--trace', lines], () => beingWritten(lines));
    const b = startRun(['--trace', chrome, '--trace-format', 'chrome'], () => beingWritten(chrome));
    await Promise.all([a.started, b.started]);
    a.child.kill(signal);
    b.child.kill(signal);
    const [ra, rb] = await Promise.all([a.exited, b.exited]);
    for (const r of [ra, rb]) {
      expect(r.code).toBe(code);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(new RegExp(`^socsim: interrupted by ${signal} at [0-9.]+ [mun]?s simulated \\(\\d+ events\\): no stats printed; the trace .* ends with an "interrupted" end record\\n$`));
    }
    const recs = jsonl(fs.readFileSync(lines, 'utf8'));
    const end = recs[recs.length - 1];
    expect(end).toMatchObject({ cat: 'end', reason: 'interrupted', signal, records: recs.length - 2 });
    expect(end.events).toBeGreaterThan(0);
    expect(recs.slice(1, -1).every((r) => r.cat === 'bus' || r.cat === 'dma')).toBe(true);
    // The run was stopped early (the scenario copies 16 MiB; the end is far off).
    expect(recs.some((r) => r.cat === 'dma' && r.ev === 'done')).toBe(false);

    const json = JSON.parse(fs.readFileSync(chrome, 'utf8'));
    expect(json.otherData.end).toMatchObject({ reason: 'interrupted', signal });
    expect(json.traceEvents.length).toBeGreaterThan(100);
  }, 60_000);
});

describe('socsim run --out interrupted by a signal', () => {
  test('the run directory stays incomplete (no meta.json, no stats) and keeps its trace, which ends "interrupted"', async () => {
    const out = path.join(dir, 'interrupted-run');
    // With --out, a bare --trace is written under a temporary name in the directory until the run ends.
    const run = startRun(['--out', out, '--trace'], () => {
      const tmp = fs.existsSync(out) ? fs.readdirSync(out).find((f) => f.startsWith('.trace.jsonl')) : undefined;
      return tmp && path.join(out, tmp);
    });
    await run.started;
    run.child.kill('SIGINT');
    const r = await run.exited;
    expect(r.code).toBe(130);
    expect(fs.readdirSync(out).sort()).toEqual(['trace.jsonl']);
    const recs = jsonl(fs.readFileSync(path.join(out, 'trace.jsonl'), 'utf8'));
    expect(recs[recs.length - 1]).toMatchObject({ cat: 'end', reason: 'interrupted', signal: 'SIGINT' });
    expect(r.stderr).toContain(`the trace ${path.join(out, 'trace.jsonl')} ends with an "interrupted" end record`);
  }, 60_000);
});

describe('catchStopSignals', () => {
  test('handlers are installed when the run first asks (after boot), not before, and removed on release', async () => {
    const { catchStopSignals } = await import('../../cli/interrupt');
    const before = { int: process.listenerCount('SIGINT'), term: process.listenerCount('SIGTERM') };
    const s = catchStopSignals();
    // Loading and booting are synchronous: a handler there would only delay the signal, so none yet.
    expect(process.listenerCount('SIGTERM')).toBe(before.term);
    expect(s.stop()).toBeNull();
    expect(process.listenerCount('SIGTERM')).toBe(before.term + 1);
    expect(process.listenerCount('SIGINT')).toBe(before.int + 1);
    process.emit('SIGTERM', 'SIGTERM');
    process.emit('SIGINT', 'SIGINT');
    expect(s.stop()).toBe('SIGTERM');
    s.release();
    expect(process.listenerCount('SIGTERM')).toBe(before.term);
    expect(process.listenerCount('SIGINT')).toBe(before.int);
  });
});
