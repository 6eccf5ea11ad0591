import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../helpers/cliInProcess';
import type { PageTablesDoc } from '../../scenario/pageTables';

/**
 * `run --out` writes pagetables.json (issue 13): for the 4 KiB and 2 MiB mobile GPU
 * texture scenarios, the GPU context maps exactly the scenario's buffer with its page
 * size, and its tables are the ones the nvkm driver allocated and wrote (its stats).
 */

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-pagetables-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

type Stats = Record<string, number | null | number[]>;
interface Buffer { name: string; device: string; size: number; via: string; pageSize: number }
const readJson = <T>(dir: string, f: string): T => JSON.parse(fs.readFileSync(path.join(dir, f), 'utf8')) as T;

async function runOut(scenario: string, dir: string): Promise<void> {
  // The buffers are mapped at boot: a short run sees the same tables as a full one.
  const r = await runCli(['run', scenario, '--until', '2us', '--out', dir, '--no-progress', '--stats', 'json']);
  expect(r.err).toBe('');
  expect(r.code).toBe(0);
}

describe.each(['mobile-gpu-texture-4k', 'mobile-gpu-texture-2m'])('%s: pagetables.json', (scenario) => {
  const dir = path.join(tmp, scenario);
  beforeAll(() => runOut(scenario, dir), 30_000);

  test('the GPU context maps the scenario\'s buffer: its bytes, in pages of its page size', () => {
    const doc = readJson<PageTablesDoc>(dir, 'pagetables.json');
    expect(doc).toMatchObject({ format: 'socsim-pagetables', version: 1, max_runs: 10_000 });
    const config = readJson<{ scenario: { buffers: Buffer[] } }>(dir, 'config.json');
    const bufs = config.scenario.buffers.filter((b) => b.via === 'nvkm');
    expect(bufs).toHaveLength(1);
    const buf = bufs[0];
    const gpu = doc.contexts.filter((c) => c.device === buf.device);
    expect(gpu).toHaveLength(1);
    const c = gpu[0];
    expect(c).toMatchObject({ unit: 'gpu_mmu', kind: 'iommu-stream', format: 'nv-gp100' });
    expect(c.mapped_bytes).toBe(buf.size);
    expect(c.page_sizes).toEqual([{ page_size: buf.pageSize, pages: buf.size / buf.pageSize, bytes: buf.size }]);
    // Every run is listed (far below the cap) and adds up to the buffer.
    expect(c.runs).toHaveLength(c.run_count);
    expect(c.runs.reduce((a, r) => a + r.bytes, 0)).toBe(buf.size);
    expect(c.runs.every((r) => r.page_size === buf.pageSize && r.bytes === r.pages * r.page_size)).toBe(true);
    expect(c.sparse_run_count).toBe(0);
  });

  test('the tables are those the nvkm driver allocated and the entries those it wrote (its stats)', () => {
    const doc = readJson<PageTablesDoc>(dir, 'pagetables.json');
    const stats = readJson<Stats>(dir, 'stats.json');
    const c = doc.contexts.find((x) => x.unit === 'gpu_mmu')!;
    // Nothing was unmapped or reused, so each allocated table is in use and each entry written is valid.
    expect(stats['kernel.gpu.nvkm.pt_frees']).toBe(0);
    expect(c.levels.reduce((a, l) => a + l.tables, 0)).toBe(stats['kernel.gpu.nvkm.pt_allocs']);
    expect(c.levels.reduce((a, l) => a + l.valid_entries, 0)).toBe(stats['kernel.gpu.nvkm.entry_writes']);
    // Root first; the leaves' valid entries are the pages.
    expect(c.levels.map((l) => l.level)).toEqual(['PD3', 'PD2', 'PD1', 'PD0', 'LPT', 'SPT']);
    const leafLevel = c.page_sizes[0].page_size === 4096 ? 'SPT' : 'PD0';
    const leaf = c.levels.find((l) => l.level === leafLevel)!;
    expect(leaf.valid_entries).toBe(c.page_sizes[0].pages);
  });
});

test('pagetables.json is the same for the same config and seed', async () => {
  const again = path.join(tmp, 'again');
  await runOut('mobile-gpu-texture-4k', again);
  const first = fs.readFileSync(path.join(tmp, 'mobile-gpu-texture-4k', 'pagetables.json'), 'utf8');
  expect(first.length).toBeGreaterThan(1000);
  expect(fs.readFileSync(path.join(again, 'pagetables.json'), 'utf8')).toBe(first);
}, 30_000);
