import { spawnSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import type { Browser } from 'puppeteer-core';
import { buildReport } from '../../report';
import { chartId } from '../../report/model';
import type { PageTablesDoc } from '../../scenario/pageTables';
import { parseCsv } from '../../sim/engine/statsCsv';
import { compiledCli } from '../helpers/compiledCli';
import { findChromium, launchChromium } from '../helpers/browser';

/**
 * `socsim report` through the compiled CLI, checked in a real headless Chromium: the
 * page loads from file:// with no console errors and no request but itself, every chart
 * has rendered marks, and the numbers it shows are the run's stats (walks of the 4 KiB
 * vs 2 MiB GPU texture scenarios). The sweep report's bands are checked against
 * results.csv, and --format svg against the charts.
 */

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-report-'));
const socsim = (args: string[]) => spawnSync(process.execPath, [compiledCli(), ...args], { encoding: 'utf8' });
const RUNS = ['mobile-gpu-texture-4k', 'mobile-gpu-texture-2m'];
const chromium = findChromium();
type Stats = Record<string, number | null | number[]>;
const statsOf = (dir: string): Stats => JSON.parse(fs.readFileSync(path.join(dir, 'stats.json'), 'utf8')) as Stats;

beforeAll(() => {
  for (const s of RUNS) {
    // The 4 KiB run records a time series (its report gets the over-time charts); the 2 MiB run does not.
    const sample = s === RUNS[0] ? ['--sample-interval', '1us'] : [];
    const r = socsim(['run', s, '--until', '200us', '--out', path.join(tmp, s), '--no-progress', ...sample]);
    expect(r.status).toBe(0);
    const h = socsim(['report', path.join(tmp, s), '-o', path.join(tmp, `${s}.html`)]);
    expect(h.stderr).toBe('');
    expect(h.status).toBe(0);
  }
  const sw = socsim(['sweep', ...RUNS, '--grid', 'soc.iommus.gpu_mmu.l2Tlb.entries=256,2048', '--seeds', '2', '--until', '20us',
    '--stats-filter', 'soc.gpu_mmu.**', '-j', '2', '--no-progress', '--out', path.join(tmp, 'sweep')]);
  expect(sw.status).toBe(0);
}, 60_000);

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface PageCheck {
  errors: string[];
  requests: string[];
  charts: number;
  views: number;
  /** Rendered mark items per chart container. */
  marks: Record<string, number>;
  /** data-stat → data-value of the numeric cells. */
  cells: Record<string, string>;
  /** The sections' notes. */
  notes: string[];
}

/** Runs in the page (plain JS: the test's TypeScript has no DOM types): waits for the charts, then reads them and the numeric cells. */
const PAGE_PROBE = `(async () => {
  await window.socsimReport.ready;
  const marks = {};
  for (const div of document.querySelectorAll('div.chart')) marks[div.id] = div.querySelectorAll('svg .role-mark > *').length;
  const cells = {};
  for (const td of document.querySelectorAll('td[data-stat][data-value]')) cells[td.getAttribute('data-stat')] = td.getAttribute('data-value');
  const notes = Array.from(document.querySelectorAll('p.note')).map((p) => p.textContent);
  return { charts: document.querySelectorAll('div.chart').length, views: Object.keys(window.socsimReport.views).length, marks, cells, notes, errors: window.socsimReport.errors };
})()`;

async function openReport(browser: Browser, file: string): Promise<PageCheck> {
  const page = await browser.newPage();
  const errors: string[] = [];
  const requests: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(String(e)));
  page.on('requestfailed', (r) => errors.push(`request failed: ${r.url()}`));
  page.on('request', (r) => requests.push(r.url()));
  await page.goto(`file://${file}`, { waitUntil: 'load' });
  const result = await page.evaluate(PAGE_PROBE) as Omit<PageCheck, 'requests'>;
  await page.close();
  return { ...result, errors: [...errors, ...result.errors], requests };
}

/** The page-table view (issue 13): the GPU context's section shows pagetables.json's numbers, and its occupancy chart is drawn. */
function checkPageTableSection(page: PageCheck, dir: string): void {
  const doc = JSON.parse(fs.readFileSync(path.join(dir, 'pagetables.json'), 'utf8')) as PageTablesDoc;
  const gpu = doc.contexts.find((c) => c.unit === 'gpu_mmu')!;
  const at = `pagetables.json[${gpu.name}]`;
  expect(Number(page.cells[`${at}.mapped_bytes`])).toBe(gpu.mapped_bytes);
  expect(gpu.mapped_bytes).toBe(16 * 2 ** 20);
  const [size] = gpu.page_sizes;
  expect(Number(page.cells[`${at}.page_sizes[${size.page_size}].pages`])).toBe(size.pages);
  for (const l of gpu.levels.filter((x) => x.tables > 0)) expect(Number(page.cells[`${at}.levels[${l.level}].valid_entries`])).toBe(l.valid_entries);
  expect(page.marks[`chart-${chartId(`${gpu.name} table occupancy`)}`]).toBeGreaterThan(0);
}

const describeBrowser = chromium ? describe : describe.skip;
if (!chromium) console.warn('report.test: no chromium or chromium-headless-shell found (apt-get install chromium, or set SOCSIM_CHROMIUM): browser checks skipped');

describeBrowser('the HTML report in headless Chromium', () => {
  let browser: Browser;
  beforeAll(async () => { browser = await launchChromium(chromium!); }, 30_000);
  afterAll(async () => { await browser?.close(); });

  test('run reports: offline, no console errors, every chart drawn, the walks and hit rates are the stats', async () => {
    const walks: number[] = [];
    for (const s of RUNS) {
      const file = path.join(tmp, `${s}.html`);
      const page = await openReport(browser, file);
      expect(page.errors).toEqual([]);
      expect(page.requests).toEqual([`file://${file}`]);
      expect(page.charts).toBeGreaterThanOrEqual(5);
      expect(page.views).toBe(page.charts);
      for (const [id, n] of Object.entries(page.marks)) expect([id, n > 0]).toEqual([id, true]);

      const stats = statsOf(path.join(tmp, s));
      const w = stats['soc.gpu_mmu.walker.walks'] as number;
      expect(Number(page.cells['soc.gpu_mmu.walker.walks'])).toBe(w);
      expect(Number(page.cells['1000 × soc.gpu_mmu.walker.walks / soc.gpu_mmu.translations'])).toBeCloseTo((1000 * w) / (stats['soc.gpu_mmu.translations'] as number), 9);
      // Every cell that names a plain stat shows that stat's value.
      const plain = Object.entries(page.cells).filter(([k]) => k in stats);
      expect(plain.length).toBeGreaterThan(20);
      for (const [k, v] of plain) expect([k, v === '' ? null : Number(v)]).toEqual([k, stats[k]]);
      walks.push(w);
      checkPageTableSection(page, path.join(tmp, s));
    }
    // 2 MiB pages need far fewer walks than 4 KiB pages for the same textures.
    expect(walks[0]).toBeGreaterThan(walks[1]);
  }, 30_000);

  test('over time: with timeseries.csv the charts are drawn and the totals and peaks are the CSV\'s; without it the page says how to get them', async () => {
    const file = path.join(tmp, `${RUNS[0]}.html`);
    const page = await openReport(browser, file);
    for (const id of ['over-time-bandwidth', 'over-time-tlb-misses-per-us', 'over-time-walks-per-us', 'over-time-queue-depths']) {
      expect([id, page.marks[`chart-${id}`] > 0]).toEqual([id, true]);
    }
    const [header, ...rows] = parseCsv(fs.readFileSync(path.join(tmp, RUNS[0], 'timeseries.csv'), 'utf8'));
    expect(rows).toHaveLength(200);
    const walks = rows.map((r) => Number(r[header.indexOf('soc.gpu_mmu.walker.walks')]));
    const intervals = rows.map((r) => Number(r[header.indexOf('interval_ns')]));
    const stats = statsOf(path.join(tmp, RUNS[0]));
    expect(Number(page.cells['sum of timeseries.csv soc.gpu_mmu.walker.walks'])).toBe(walks.reduce((a, b) => a + b, 0));
    expect(Number(page.cells['sum of timeseries.csv soc.gpu_mmu.walker.walks'])).toBe(stats['soc.gpu_mmu.walker.walks']);
    expect(Number(page.cells['peak walks per µs: timeseries.csv soc.gpu_mmu.walker.walks'])).toBe(Math.max(...walks.map((w, i) => (1000 * w) / intervals[i])));
    // The drawn walks line holds one point per row, each the CSV's count over its interval.
    const drawn = await (async () => {
      const p = await browser.newPage();
      await p.goto(`file://${file}`, { waitUntil: 'load' });
      const values = await p.evaluate(`window.socsimReport.ready.then(() => window.socsimReport.views['over-time-walks-per-us'].data('source_0').filter((d) => d.series === 'soc.gpu_mmu.walker.walks').map((d) => [d.t, d.value]))`) as [number, number][];
      await p.close();
      return values;
    })();
    expect(drawn).toEqual(rows.map((r, i) => [Number(r[0]), (1000 * walks[i]) / intervals[i]]));

    const other = await openReport(browser, path.join(tmp, `${RUNS[1]}.html`));
    expect(Object.keys(other.marks).filter((id) => id.startsWith('chart-over-time'))).toEqual([]);
    expect(other.notes.join('\n')).toContain('run with --sample-interval 1us');
  }, 30_000);

  test('sweep report: one drawn chart per stat that differs between points', async () => {
    const file = path.join(tmp, 'sweep.html');
    expect(socsim(['report', path.join(tmp, 'sweep'), '-o', file]).status).toBe(0);
    const page = await openReport(browser, file);
    expect(page.errors).toEqual([]);
    expect(page.requests).toEqual([`file://${file}`]);
    expect(page.charts).toBe(buildReport(path.join(tmp, 'sweep')).sections.flatMap((s) => s.charts).length);
    expect(page.charts).toBeGreaterThan(3);
    for (const [id, n] of Object.entries(page.marks)) expect([id, n > 0]).toEqual([id, true]);
  }, 30_000);
});

describe('socsim report without a browser', () => {
  test('sweep charts: a line per scenario against the swept size, the band spanning the seeds of results.csv', () => {
    const dir = path.join(tmp, 'sweep');
    const report = buildReport(dir, { statsFilter: ['soc.gpu_mmu.walker.latency_ns.mean'] });
    const charts = report.sections.flatMap((s) => s.charts);
    expect(charts.map((c) => c.title)).toEqual(['soc.gpu_mmu.walker.latency_ns.mean']);
    const values = (charts[0].spec.data as { values: { series: string; x: number; min: number; max: number; mean: number; n: number }[] }).values;
    const [header, ...rows] = parseCsv(fs.readFileSync(path.join(dir, 'results.csv'), 'utf8'));
    const col = (name: string) => header.indexOf(name);
    expect(values).toHaveLength(4);
    for (const v of values) {
      const ys = rows.filter((r) => r[col('scenario')] === v.series && Number(r[col('soc.iommus.gpu_mmu.l2Tlb.entries')]) === v.x).map((r) => Number(r[col('soc.gpu_mmu.walker.latency_ns.mean')]));
      expect(ys).toHaveLength(2);
      expect([v.n, v.min, v.max, v.mean]).toEqual([2, Math.min(...ys), Math.max(...ys), (ys[0] + ys[1]) / 2]);
    }
    expect(new Set(values.map((v) => v.series))).toEqual(new Set(RUNS));
  });

  test('--format svg: one SVG per chart, with marks', () => {
    const out = path.join(tmp, 'figs');
    const r = socsim(['report', path.join(tmp, RUNS[0]), '-o', out, '--format', 'svg']);
    expect(r.status).toBe(0);
    const ids = buildReport(path.join(tmp, RUNS[0])).sections.flatMap((s) => s.charts.map((c) => `${c.id}.svg`));
    expect(fs.readdirSync(out).sort()).toEqual(ids.sort());
    for (const f of ids) {
      const svg = fs.readFileSync(path.join(out, f), 'utf8');
      expect(svg.startsWith('<svg')).toBe(true);
      expect(svg).toMatch(/class="mark-(rect|line|area)/);
    }
  });

  test('bad input: exit 1 with the reason', () => {
    const notDir = socsim(['report', path.join(tmp, 'nope'), '-o', path.join(tmp, 'x.html')]);
    expect(notDir.status).toBe(1);
    expect(notDir.stderr).toContain('not a directory');
    const badStat = socsim(['report', path.join(tmp, 'sweep'), '-o', path.join(tmp, 'x.html'), '--stats-filter', 'soc.nothing.*']);
    expect(badStat.status).toBe(1);
    expect(badStat.stderr).toContain('--stats-filter soc.nothing.* matches no stat');
    const badX = socsim(['report', path.join(tmp, 'sweep'), '-o', path.join(tmp, 'x.html'), '--x', 'soc.foo']);
    expect(badX.status).toBe(1);
    expect(badX.stderr).toContain('--x soc.foo: not an axis');
    const runX = socsim(['report', path.join(tmp, RUNS[0]), '-o', path.join(tmp, 'x.html'), '--x', 'soc.foo']);
    expect(runX.status).toBe(1);
    expect(fs.existsSync(path.join(tmp, 'x.html'))).toBe(false);
  });
});
