import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { parseCsv } from '../../sim/engine/statsCsv';
import { runCli } from '../helpers/cliInProcess';

/**
 * `socsim run --sample-interval` (issue 13, "over time"): timeseries.csv rows, their
 * relation to the final stats, and that sampling leaves the run itself untouched.
 */
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-ts-'));
const GPU = 'mobile-gpu-texture-4k';
type Stats = Record<string, number | null | number[]>;

const read = (dir: string, f: string) => fs.readFileSync(path.join(dir, f), 'utf8');
const statsOf = (dir: string) => JSON.parse(read(dir, 'stats.json')) as Stats;

function series(file: string): { columns: string[]; rows: number[][]; col: (name: string) => number[] } {
  const [columns, ...rest] = parseCsv(fs.readFileSync(file, 'utf8'));
  const rows = rest.map((r) => r.map(Number));
  return { columns, rows, col: (name) => { const i = columns.indexOf(name); expect(i).toBeGreaterThan(1); return rows.map((r) => r[i]); } };
}

async function ok(args: string[]): Promise<void> {
  const r = await runCli([...args, '--no-progress', '--stats', 'json']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
}

afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

describe('run --sample-interval', () => {
  const plain = path.join(tmp, 'plain');
  const sampled = path.join(tmp, 'sampled');
  const again = path.join(tmp, 'again');
  const fine = path.join(tmp, 'fine.csv');

  beforeAll(async () => {
    await ok(['run', GPU, '--until', '10us', '--out', plain, '--trace']);
    await ok(['run', GPU, '--until', '10us', '--out', sampled, '--trace', '--sample-interval', '3us']);
    await ok(['run', GPU, '--until', '10us', '--out', again, '--sample-interval', '3us']);
    // Gauges are levels at instants: a fine interval sees the walker busy at some of them.
    await ok(['run', GPU, '--until', '10us', '--sample-interval', '100ns', '--sample-stats', 'soc.gpu_mmu.walker.*', '--sample-out', fine]);
  }, 60_000);

  test('sampling changes no stat (sim.events included) and no trace record', () => {
    expect(read(sampled, 'stats.json')).toBe(read(plain, 'stats.json'));
    expect(read(sampled, 'trace.jsonl')).toBe(read(plain, 'trace.jsonl'));
    expect(fs.existsSync(path.join(plain, 'timeseries.csv'))).toBe(false);
  });

  test('ceil(10us / 3us) = 4 rows; the last one is the 1 us left; the same run gives the same file', () => {
    const ts = series(path.join(sampled, 'timeseries.csv'));
    expect(ts.columns.slice(0, 2)).toEqual(['end_ns', 'interval_ns']);
    expect(ts.rows.map((r) => [r[0], r[1]])).toEqual([[3000, 3000], [6000, 3000], [9000, 3000], [10000, 1000]]);
    expect(read(again, 'timeseries.csv')).toBe(read(sampled, 'timeseries.csv'));
  });

  test('every sampled counter\'s deltas sum to its final value; the default selection covers bandwidth, TLB misses, walks, faults and queues', () => {
    const ts = series(path.join(sampled, 'timeseries.csv'));
    const stats = statsOf(sampled);
    const counters = ts.columns.slice(2).filter((c) => c in stats);
    for (const c of counters) expect([c, ts.col(c).reduce((a, b) => a + b, 0)]).toEqual([c, stats[c]]);
    for (const c of ['soc.gpu.bytes_read', 'soc.dram.ch0.bytes', 'soc.gpu_mmu.gpu.l1tlb.misses', 'soc.gpu_mmu.l2tlb.misses', 'soc.gpu_mmu.walker.walks', 'soc.gpu_mmu.faults', 'soc.gpu_mmu.cmd.invalidate_range']) {
      expect(counters).toContain(c);
    }
    expect(stats['soc.gpu_mmu.walker.walks']).toBeGreaterThan(0);
    // Gauges are not stats: levels at each interval end, within what the hardware holds.
    const gauges = ts.columns.slice(2).filter((c) => !(c in stats));
    expect(gauges).toEqual(expect.arrayContaining(['soc.xbar.gpu_mmu.queue_depth', 'soc.xbar.gpu_mmu.outstanding', 'soc.gpu_mmu.walker.busy_slots']));
    const config = JSON.parse(read(sampled, 'config.json'));
    const slots = config.soc.iommus.find((m: { name: string }) => m.name === 'gpu_mmu').walker.slots as number;
    const busy = series(fine).col('soc.gpu_mmu.walker.busy_slots');
    expect(busy).toHaveLength(100);
    expect(Math.max(...busy)).toBeGreaterThan(0);
    expect(Math.max(...busy)).toBeLessThanOrEqual(slots);
    const depth = config.soc.buses.find((b: { name: string }) => b.name === 'xbar').inputQueueDepth as number;
    for (const g of gauges.filter((n) => n.startsWith('soc.xbar.') && n.endsWith('.queue_depth'))) for (const v of ts.col(g)) expect(v >= 0 && v <= depth && Number.isInteger(v)).toBe(true);
    // Walks waiting for a slot and DRAM requests queued: levels, never negative.
    expect(gauges).toEqual(expect.arrayContaining(['soc.gpu_mmu.walker.queue_depth', 'soc.dram.reads.queue_depth', 'soc.dram.writes.queue_depth']));
    for (const g of gauges) for (const v of ts.col(g)) expect(v >= 0 && Number.isInteger(v)).toBe(true);
  });

  test('--sample-stats picks the columns; --sample-out writes the CSV without a run directory', async () => {
    const file = path.join(tmp, 'walks.csv');
    await ok(['run', GPU, '--until', '10us', '--sample-interval', '2.5us', '--sample-stats', 'soc.gpu_mmu.walker.walks', '--sample-stats', 'soc.**.busy_slots', '--sample-out', file]);
    const ts = series(file);
    expect(ts.columns).toEqual(['end_ns', 'interval_ns', 'soc.gpu_mmu.walker.walks', 'soc.cpu_mmu.walker.busy_slots', 'soc.gpu_mmu.walker.busy_slots', 'soc.smmu.walker.busy_slots']);
    expect(ts.rows.map((r) => r[0])).toEqual([2500, 5000, 7500, 10000]);
    expect(ts.col('soc.gpu_mmu.walker.walks').reduce((a, b) => a + b, 0)).toBe(statsOf(sampled)['soc.gpu_mmu.walker.walks']);
  });

  test('a run that goes idle: ceil(end / interval) rows; after a warm-up reset the deltas restart and sum to the final stats', async () => {
    const dir = path.join(tmp, 'warm');
    await ok(['run', 'minimal-cpu-trace', '--set', 'scenario.warmup=1us', '--out', dir, '--sample-interval', '500ns']);
    const stats = statsOf(dir);
    const endNs = stats['sim.time_ns'] as number;
    const ts = series(path.join(dir, 'timeseries.csv'));
    expect(ts.rows).toHaveLength(Math.ceil(endNs / 500));
    expect(ts.rows[ts.rows.length - 1][0]).toBe(endNs);
    // The reset runs at 1000 ns, in the row (500, 1000]; from that row on the rows count what the stats count.
    const from = ts.rows.findIndex((r) => r[0] === 1000);
    const loads = ts.col('soc.cpu0.bytes');
    expect(loads.slice(0, from).reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    expect(loads.slice(from).reduce((a, b) => a + b, 0)).toBe(stats['soc.cpu0.bytes']);
  }, 30_000);

  test.each([
    [['--sample-interval', '0us', '--out', 'x'], '--sample-interval: must be more than 0'],
    [['--sample-interval', '-1us', '--out', 'x'], '--sample-interval: expected a time'],
    [['--sample-interval', 'soon', '--out', 'x'], '--sample-interval: expected a time'],
    [['--sample-interval', '5', '--out', 'x'], '--sample-interval: give a unit'],
    [['--sample-interval', '1us'], '--sample-interval needs --out DIR'],
    [['--sample-stats', 'soc.**', '--out', 'x'], '--sample-stats needs --sample-interval'],
    [['--sample-interval', '1us', '--out', 'x', '--sample-out', 'y.csv'], '--sample-out: with --out'],
    [['--sample-interval', '1us', '--sample-out', 'y.csv', '--sample-stats', 'soc.gpu_mmu.walker.walkz'], '--sample-stats soc.gpu_mmu.walker.walkz matches no counter or gauge; close names: soc.gpu_mmu.walker.walks'],
    [['--sample-interval', '1us', '--sample-out', 'y.csv', '--sample-stats', 'soc.gpu_mmu.walker.latency_ns'], 'it is a histogram or formula'],
  ])('bad options %j: exit 1, %s', async (extra, message) => {
    const cwd = process.cwd();
    process.chdir(tmp);
    try {
      const r = await runCli(['run', GPU, '--until', '1us', '--no-progress', ...extra]);
      expect(r.err).toContain(message);
      expect(r.code).toBe(1);
      expect(fs.existsSync(path.join(tmp, 'y.csv'))).toBe(false);
    } finally {
      process.chdir(cwd);
    }
  });
});
