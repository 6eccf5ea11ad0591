import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../helpers/cliInProcess';
import { DEFAULT_SCENARIO } from '../helpers/configFiles';

/** `--trace-window` on run (both formats) and `socsim trace to-chrome` (issue 13 part 3). */
const cli = runCli;
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-window-'));
const SCENARIO = 'mobile-gpu-texture-4k';
const FROM = 20_000_000;
const TO = 30_000_000;

function lines(file: string): any[] {
  return fs.readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
}

describe('trace windows', () => {
  const full = path.join(dir, 'full.jsonl');
  const win = path.join(dir, 'win.jsonl');

  beforeAll(async () => {
    expect((await cli(['run', SCENARIO, '--until', '50us', '--trace', full])).code).toBe(0);
    expect((await cli(['run', SCENARIO, '--until', '50us', '--trace', win, '--trace-window', '20us..30us'])).code).toBe(0);
  });

  test('a JSON Lines window holds exactly the full trace\'s records inside it, with header and end record saying the window', () => {
    const a = lines(full);
    const w = lines(win);
    const inside = a.slice(1, -1).filter((r) => r.t >= FROM && r.t < TO);
    expect(inside.length).toBeGreaterThan(100);
    expect(inside.length).toBeLessThan(a.length - 2);
    expect(w.slice(1, -1)).toEqual(inside);
    expect(w[0].window).toEqual({ from_ps: FROM, to_ps: TO });
    expect(a[0].window).toBeUndefined();
    const end = w[w.length - 1];
    expect(end).toMatchObject({ cat: 'end', reason: 'until', t: 50_000_000, records: inside.length, window: { from_ps: FROM, to_ps: TO } });
  });

  test('run --trace-format chrome with a window equals trace to-chrome of the full trace with that window', async () => {
    const runChrome = path.join(dir, 'run.json');
    const conv = path.join(dir, 'conv.json');
    expect((await cli(['run', SCENARIO, '--until', '50us', '--trace', runChrome, '--trace-format', 'chrome', '--trace-window', '20us..30us'])).code).toBe(0);
    const r = await cli(['trace', 'to-chrome', full, '-o', conv, '--trace-window', '20us..30us']);
    expect(r).toEqual({ code: 0, out: '', err: '' });
    const a = JSON.parse(fs.readFileSync(runChrome, 'utf8'));
    const b = JSON.parse(fs.readFileSync(conv, 'utf8'));
    expect(b.traceEvents).toEqual(a.traceEvents);
    expect(b.otherData.window).toEqual({ from_ps: FROM, to_ps: TO });
    expect(a.otherData.end.window).toEqual({ from_ps: FROM, to_ps: TO });
    // Every instant lies in the window; slices end in it (a bus slice starts when its request was issued).
    for (const e of a.traceEvents) {
      if (e.ph === 'i' && e.cat !== 'end') expect(e.ts * 1e6 >= FROM && e.ts * 1e6 < TO).toBe(true);
      if (e.ph === 'X') expect((e.ts + e.dur) * 1e6).toBeGreaterThanOrEqual(FROM);
    }
  });

  test('open windows: 40us.. keeps the tail, ..10us the head', async () => {
    const tail = path.join(dir, 'tail.jsonl');
    expect((await cli(['run', SCENARIO, '--until', '50us', '--trace', tail, '--trace-window', '40us..'])).code).toBe(0);
    const t = lines(tail);
    expect(t[0].window).toEqual({ from_ps: 40_000_000, to_ps: null });
    expect(t.slice(1, -1)).toEqual(lines(full).slice(1, -1).filter((r) => r.t >= 40_000_000));
  });

  test.each([
    [['--trace-window', '30us..20us'], /--trace-window: the window's end must be after its start/],
    [['--trace-window', '10..20us'], /--trace-window: give each end a unit, e\.g\. 10us/],
    [['--trace-window', '20us'], /--trace-window: expected a window like "100us\.\.200us"/],
    [['--trace-window', '..'], /--trace-window: expected a window/],
  ])('run %j is a usage error', async (extra, message) => {
    const r = await cli(['run', DEFAULT_SCENARIO, '--trace', path.join(dir, 'x.jsonl'), ...extra as string[]]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message as RegExp);
  });

  test('--trace-window without --trace is refused', async () => {
    const r = await cli(['run', DEFAULT_SCENARIO, '--trace-window', '1us..2us']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/--trace-window needs --trace <file>/);
  });
});

describe('trace to-chrome', () => {
  test('a file that is not a socsim trace is bad input (exit 1) and leaves no output', async () => {
    const bad = path.join(dir, 'bad.jsonl');
    fs.writeFileSync(bad, '{"format":"socsim-trace","version":1,"config_hash":"x","seed":1,"categories":[]}\nnot json\n');
    const out = path.join(dir, 'bad.json');
    const r = await cli(['trace', 'to-chrome', bad, '-o', out]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/bad\.jsonl:2: .*JSON/);
    expect(fs.existsSync(out)).toBe(false);
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('bad.json') && f !== 'bad.jsonl')).toEqual([]);
  });

  test('a missing input and an output over the input are refused', async () => {
    const missing = await cli(['trace', 'to-chrome', path.join(dir, 'nope.jsonl'), '-o', path.join(dir, 'nope.json')]);
    expect(missing.code).toBe(1);
    expect(missing.err).toMatch(/cannot read trace .*nope\.jsonl: no such file/);
    const f = path.join(dir, 'same.jsonl');
    fs.writeFileSync(f, '');
    const same = await cli(['trace', 'to-chrome', f, '-o', f]);
    expect(same.code).toBe(1);
    expect(same.err).toMatch(/-o: .*same\.jsonl is the input trace/);
  });
});
