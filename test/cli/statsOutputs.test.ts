import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../helpers/cliInProcess';
import { formatStatValue } from '../../sim/engine/stats';
import { REPO } from '../helpers/configFiles';

/**
 * The table, `--stats json` and `--stats csv` of one run show the same numbers: both come from the
 * snapshot taken when the jobs end, before drivers are removed (teardown sends more
 * IOMMU commands and frees buffers, which the live registry would count).
 */
const cliResult = runCli;

async function cli(args: string[]): Promise<string> {
  const r = await cliResult(args);
  if (r.code !== 0) throw new Error(`socsim ${args.join(' ')} exited ${r.code}: ${r.err}`);
  return r.out;
}

function tableRows(table: string): Map<string, string> {
  const rows = new Map<string, string>();
  const lines = table.split('\n');
  const start = lines.findIndex((l) => /^stat\s+value\s+description/.test(l));
  for (const l of lines.slice(start + 2)) {
    const m = /^(\S+)\s+(\S+)/.exec(l);
    if (m) rows.set(m[1], m[2]);
  }
  return rows;
}

const SCENARIOS = fs.readdirSync(path.join(REPO, 'soc-configs', 'scenarios')).filter((f) => f.endsWith('.json')).map((f) => f.replace(/\.json$/, ''));

/** The `stat,value` rows of statsToCsv's output (stat names hold no commas or quotes). */
function csvRows(csv: string): Map<string, number | null> {
  const lines = csv.trimEnd().split('\n');
  expect(lines[0]).toBe('stat,value');
  return new Map(lines.slice(1).map((l) => {
    const [k, v] = l.split(',');
    return [k, v === '' ? null : Number(v)];
  }));
}

describe('table, JSON and CSV agree', () => {
  test('every bundled scenario is covered', () => {
    expect(SCENARIOS.length).toBeGreaterThanOrEqual(16);
  });

  /** The three views of one stats snapshot agree, stat by stat. */
  function expectAgree(json: Record<string, number | null | number[]>, csv: Map<string, number | null>, rows: Map<string, string>): void {
    const scalar = Object.entries(json).filter(([, v]) => !Array.isArray(v));
    expect(scalar.length).toBeGreaterThan(100);
    // Same stats in all three (bucket arrays are JSON-only) ...
    expect([...rows.keys()]).toEqual(scalar.map(([k]) => k));
    expect([...csv.keys()]).toEqual(scalar.map(([k]) => k));
    // ... with the same values: CSV exactly, the table as formatStatValue rounds them.
    const differing = scalar.filter(([k, v]) => rows.get(k) !== formatStatValue(v as number | null) || csv.get(k) !== v)
      .map(([k, v]) => `${k}: table ${rows.get(k)}, csv ${csv.get(k)}, json ${v}`);
    expect(differing).toEqual([]);
  }

  // One run per scenario: the table it prints, and the stats.json and stats.csv it writes.
  test.each(SCENARIOS)('%s: the table, stats.json and stats.csv of one run', async (name) => {
    const file = path.join(REPO, 'soc-configs', 'scenarios', `${name}.json`);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-stats-'));
    try {
      const table = await cli(['run', file, '--until', '20us', '--no-progress', '--out', dir]);
      const json = JSON.parse(fs.readFileSync(path.join(dir, 'stats.json'), 'utf8')) as Record<string, number | null | number[]>;
      expectAgree(json, csvRows(fs.readFileSync(path.join(dir, 'stats.csv'), 'utf8')), tableRows(table));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  test('--stats json and --stats csv on stdout agree with the table', async () => {
    const file = path.join(REPO, 'soc-configs', 'scenarios', 'server-io-nic-strict.json');
    const args = ['run', file, '--until', '20us', '--no-progress'];
    const json = JSON.parse(await cli([...args, '--stats', 'json'])) as Record<string, number | null | number[]>;
    expectAgree(json, csvRows(await cli([...args, '--stats', 'csv'])), tableRows(await cli(args)));
  });

  test('--stats-filter and --nonzero select the same stats in all three', async () => {
    const file = path.join(REPO, 'soc-configs', 'scenarios', 'server-io-nic-strict.json');
    const args = ['run', file, '--until', '20us', '--no-progress', '--stats-filter', 'soc.iommu.**.misses', '--stats-filter', 'soc.nic.packet_latency_ns', '--nonzero'];
    const full = JSON.parse(await cli(['run', file, '--until', '20us', '--no-progress', '--stats', 'json'])) as Record<string, unknown>;
    const json = JSON.parse(await cli([...args, '--stats', 'json'])) as Record<string, unknown>;
    const expected = Object.keys(full).filter((k) => (/^soc\.iommu\..*\.misses$/.test(k) || k.startsWith('soc.nic.packet_latency_ns.'))
      && full[k] !== 0 && full[k] !== null && !(Array.isArray(full[k]) && (full[k] as number[]).every((x) => x === 0)));
    expect(Object.keys(json)).toEqual(expected);
    expect(expected).toContain('soc.iommu.l2tlb.misses');
    expect(expected).not.toContain('soc.iommu.storage.l1tlb.misses'); // 0: the storage device is idle
    for (const k of expected) expect(json[k]).toEqual(full[k]);
    const scalar = expected.filter((k) => !Array.isArray(full[k]));
    expect([...csvRows(await cli([...args, '--stats', 'csv'])).keys()]).toEqual(scalar);
    expect([...tableRows(await cli(args)).keys()]).toEqual(scalar);
  });

  test('a filter that matches nothing: exit 1, naming the glob and close names', async () => {
    const file = path.join(REPO, 'soc-configs', 'scenarios', 'server-io-nic-strict.json');
    const r = await cliResult(['run', file, '--until', '2us', '--no-progress', '--stats-filter', 'soc.iommu.l2tbl']);
    expect(r.code).toBe(1);
    expect(r.out).toBe('');
    expect(r.err).toContain('--stats-filter soc.iommu.l2tbl matches no stat; close names: soc.iommu.l2tlb');
  });
});

describe('one snapshot', () => {
  test('the snapshot excludes teardown: the strict NIC run sent more IOMMU commands after its jobs than the JSON shows', async () => {
    const file = path.join(REPO, 'soc-configs', 'scenarios', 'server-io-nic-strict.json');
    const { run } = await import('../../scenario/run');
    const out = run(file, { until: 40_000_000 });
    const live = out.soc.ctx.stats.value('soc.iommu.commands');
    expect(live).toBeGreaterThan(out.stats['soc.iommu.commands'] as number);
  });
});
