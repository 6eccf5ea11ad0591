import * as path from 'path';
import { main, type CliIO } from '../../cli/main';
import { formatStatValue } from '../../sim/engine/stats';
import { REPO } from '../helpers/configFiles';

/**
 * The table and `--stats json` of one run show the same numbers: both come from the
 * snapshot taken when the jobs end, before drivers are removed (teardown sends more
 * IOMMU commands and frees buffers, which the live registry would count).
 */
async function cli(args: string[]): Promise<string> {
  let out = '';
  let err = '';
  const io: CliIO = { out: (t) => { out += t; }, err: (t) => { err += t; } };
  const code = await main(args, io);
  if (code !== 0) throw new Error(`socsim ${args.join(' ')} exited ${code}: ${err}`);
  return out;
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

describe('table and JSON agree', () => {
  test.each(['server-io-nic-strict', 'server-io-storage-sg', 'minimal-cpu-trace'])('%s', async (name) => {
    const file = path.join(REPO, 'soc-configs', 'scenarios', `${name}.json`);
    const args = ['run', file, '--until', '40us', '--no-progress'];
    const json = JSON.parse(await cli([...args, '--stats', 'json'])) as Record<string, number | null | number[]>;
    const rows = tableRows(await cli(args));
    const scalar = Object.entries(json).filter(([, v]) => !Array.isArray(v));
    expect(rows.size).toBe(scalar.length);
    const differing = scalar.filter(([k, v]) => rows.get(k) !== formatStatValue(v as number | null)).map(([k, v]) => `${k}: table ${rows.get(k)}, json ${v}`);
    expect(differing).toEqual([]);
  });

  test('the snapshot excludes teardown: the strict NIC run sent more IOMMU commands after its jobs than the JSON shows', async () => {
    const file = path.join(REPO, 'soc-configs', 'scenarios', 'server-io-nic-strict.json');
    const { run } = await import('../../scenario/run');
    const out = run(file, { until: 40_000_000 });
    const live = out.soc.ctx.stats.value('soc.iommu.commands');
    expect(live).toBeGreaterThan(out.stats['soc.iommu.commands'] as number);
  });
});
