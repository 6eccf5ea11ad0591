import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../helpers/cliInProcess';
import { topLevelUnit } from '../../sim/engine/chromeTrace';
import { findChromium, launchChromium } from '../helpers/browser';

/**
 * A GPU scenario's Chrome trace is one people can open (issue 13 part 3): the file the
 * CLI writes parses as JSON, in Node and in the headless browser's own JSON parser (the
 * one Perfetto and chrome://tracing use), and its tracks stay within stated limits.
 */
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-timeline-'));
const SCENARIO = 'mobile-gpu-texture-4k';
/** The limits: tracks (threads plus counter tracks), lanes per track, file sizes. */
const MAX_TRACKS = 64;
const MAX_LANES = 8;
const MAX_BYTES_50US = 1024 * 1024;
const MAX_BYTES_10US_WINDOW = 256 * 1024;

interface Ev { name: string; ph: string; pid: number; tid?: number; ts?: number; dur?: number; cat?: string; args?: any }

function load(file: string): { events: Ev[]; otherData: any } {
  const json = JSON.parse(fs.readFileSync(file, 'utf8'));
  return { events: json.traceEvents, otherData: json.otherData };
}

const ns = (us: number) => Math.round(us * 1000);
const baseName = (thread: string) => thread.replace(/ \[\d+\]$/, '');

describe(`${SCENARIO} timeline`, () => {
  const chrome = path.join(dir, 'gpu.json');
  const jsonl = path.join(dir, 'gpu.jsonl');
  let t: { events: Ev[]; otherData: any };
  let records: any[];

  beforeAll(async () => {
    expect((await runCli(['run', SCENARIO, '--until', '50us', '--trace', chrome, '--trace-format', 'chrome'])).code).toBe(0);
    expect((await runCli(['run', SCENARIO, '--until', '50us', '--trace', jsonl])).code).toBe(0);
    t = load(chrome);
    records = fs.readFileSync(jsonl, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
  });

  test(`at most ${MAX_TRACKS} tracks, ${MAX_LANES} lanes each, and ${MAX_BYTES_50US} bytes for 50 µs`, () => {
    const threads = t.events.filter((e) => e.name === 'thread_name');
    const counters = new Set(t.events.filter((e) => e.ph === 'C').map((e) => `${e.pid}|${e.name}`));
    expect(threads.length).toBeGreaterThan(5);
    expect(threads.length + counters.size).toBeLessThanOrEqual(MAX_TRACKS);
    const lanes = new Map<string, number>();
    for (const th of threads) lanes.set(baseName(th.args.name), (lanes.get(baseName(th.args.name)) ?? 0) + 1);
    expect(Math.max(...lanes.values())).toBe(MAX_LANES); // the GPU's 256 requests in flight fill the cap
    expect(fs.statSync(chrome).size).toBeLessThanOrEqual(MAX_BYTES_50US);
  });

  test('a process per top-level unit, each thread in the process of its component', () => {
    const procs = new Map(t.events.filter((e) => e.name === 'process_name').map((e) => [e.pid, e.args.name as string]));
    expect([...procs.values()].sort()).toEqual(['kernel', 'mobile: mobile_gpu_texture_4k', 'soc.cpu_mmu', 'soc.gpu_mmu', 'soc.xbar']);
    for (const th of t.events.filter((e) => e.name === 'thread_name')) {
      const component = baseName(th.args.name).split(' ← ')[0];
      expect([th.args.name, procs.get(th.pid)]).toEqual([th.args.name, topLevelUnit(component)]);
    }
    // Every slice and instant is on a named thread of its process.
    const threadPid = new Map(t.events.filter((e) => e.name === 'thread_name').map((e) => [e.tid, e.pid]));
    for (const e of t.events.filter((x) => x.ph === 'X' || (x.ph === 'i' && x.cat !== 'end'))) expect(threadPid.get(e.tid)).toBe(e.pid);
  });

  test('walks are slices with their duration on the GPU MMU\'s walker, every table read nested in its walk', () => {
    const walkerTids = new Set(t.events.filter((e) => e.name === 'thread_name' && baseName(e.args.name) === 'soc.gpu_mmu.walker').map((e) => e.tid));
    const walks = t.events.filter((e) => e.ph === 'X' && e.name === 'walk');
    const reads = t.events.filter((e) => e.ph === 'X' && e.cat === 'walk' && e.name !== 'walk');
    const done = records.filter((r) => r.cat === 'walk' && r.ev === 'done');
    const overflowed = t.otherData.overflow?.['soc.gpu_mmu.walker'] ?? 0;
    expect(done.length).toBeGreaterThan(50);
    expect(walks.length + overflowed).toBe(done.length);
    for (const w of walks) {
      expect(walkerTids.has(w.tid)).toBe(true);
      expect(w.dur!).toBeGreaterThan(0);
    }
    for (const rd of reads) {
      const parent = walks.find((w) => w.tid === rd.tid && ns(w.ts!) <= ns(rd.ts!) && ns(rd.ts!) + ns(rd.dur!) <= ns(w.ts!) + ns(w.dur!) && w.args.va === rd.args.va);
      expect(parent).toBeDefined();
    }
    expect(reads.length).toBe(walks.reduce((n, w) => n + w.args.reads, 0));
  });

  test('every bus record is drawn or counted as overflow', () => {
    const bus = records.filter((r) => r.cat === 'bus').length;
    const drawn = t.events.filter((e) => e.ph === 'X' && e.cat === 'bus').length;
    const overflow = Object.entries(t.otherData.overflow as Record<string, number>).filter(([k]) => k.includes(' ← ')).reduce((n, [, v]) => n + v, 0);
    expect(drawn).toBeGreaterThan(100);
    expect(drawn + overflow).toBe(bus);
  });

  test(`walks are slices with their duration when only walk is traced (no bus), and a 10 µs window stays under ${MAX_BYTES_10US_WINDOW} bytes`, async () => {
    const only = path.join(dir, 'walk-only.json');
    expect((await runCli(['run', SCENARIO, '--until', '50us', '--trace', only, '--trace-format', 'chrome', '--trace-filter', 'walk'])).code).toBe(0);
    const w = load(only).events.filter((e) => e.ph === 'X' && e.name === 'walk');
    const full = t.events.filter((e) => e.ph === 'X' && e.name === 'walk');
    expect(w.map((e) => [e.ts, e.dur])).toEqual(full.map((e) => [e.ts, e.dur]));
    const win = path.join(dir, 'window.json');
    expect((await runCli(['run', SCENARIO, '--until', '50us', '--trace', win, '--trace-format', 'chrome', '--trace-window', '20us..30us'])).code).toBe(0);
    const size = fs.statSync(win).size;
    expect(size).toBeLessThanOrEqual(MAX_BYTES_10US_WINDOW);
    expect(size).toBeLessThan(fs.statSync(chrome).size / 2);
    // Few slices: the GPU's bus reads last ~7 µs each (queueing), so 8 lanes hold few of them in 10 µs.
    expect(load(win).events.filter((e) => e.ph === 'X').length).toBeGreaterThan(10);
  });
});

const chromium = findChromium();
if (!chromium) console.warn('timeline.test: no chromium or chromium-headless-shell found (apt-get install chromium, or set SOCSIM_CHROMIUM): browser parse skipped');
(chromium ? describe : describe.skip)(`${SCENARIO} timeline in headless Chromium`, () => {
  test("the browser's JSON.parse reads the trace and sees the same tracks as Node", async () => {
    const file = path.join(dir, 'browser.json');
    expect((await runCli(['run', SCENARIO, '--until', '50us', '--trace', file, '--trace-format', 'chrome'])).code).toBe(0);
    const text = fs.readFileSync(file, 'utf8');
    const browser = await launchChromium(chromium!);
    try {
      const page = await browser.newPage();
      const seen = await page.evaluate((t: string) => {
        const json = JSON.parse(t);
        const evs = json.traceEvents as { name: string; ph: string; pid: number; tid?: number }[];
        return {
          events: evs.length,
          threads: evs.filter((e) => e.name === 'thread_name').length,
          processes: evs.filter((e) => e.name === 'process_name').length,
          end: json.otherData?.end?.reason ?? null,
        };
      }, text);
      const node = JSON.parse(text);
      expect(seen).toEqual({
        events: node.traceEvents.length,
        threads: node.traceEvents.filter((e: Ev) => e.name === 'thread_name').length,
        processes: node.traceEvents.filter((e: Ev) => e.name === 'process_name').length,
        end: 'until',
      });
      expect(seen.threads).toBeLessThanOrEqual(MAX_TRACKS);
    } finally {
      await browser.close();
    }
  }, 60_000);
});
