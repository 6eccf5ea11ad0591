import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { benchCommand } from '../../cli/bench';
import type { SuiteResult } from '../../bench/suite';

const SCENARIOS_DIR = path.join(__dirname, '..', '..', 'soc-configs', 'scenarios');
/** The bundled scenarios, read from the directory (never a hard-coded list). */
const BUNDLED = fs.readdirSync(SCENARIOS_DIR).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -'.json'.length)).sort();

let tmpDir: string | null = null;
function tempBaseline(b: unknown): string {
  tmpDir ??= fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-bench-'));
  const file = path.join(tmpDir, `baseline-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(b));
  return file;
}
afterAll(() => {
  if (tmpDir) fs.rmSync(tmpDir, { recursive: true, force: true });
});

function bench(opts: Parameters<typeof benchCommand>[0]): { code: number; out: string } {
  let out = '';
  const code = benchCommand(opts, (s) => { out += s; });
  return { code, out };
}

/** The scenario that ran fastest and walked at least once: the cheapest to rerun. */
function cheapScenario(b: SuiteResult): { name: string; metric: string; value: number } {
  const candidates = Object.entries(b.scenarios)
    .map(([name, s]) => ({ name, s, metric: Object.keys(s.counts).find((k) => /\.walker\.walks$/.test(k) && (s.counts[k] ?? 0) > 0) }))
    .filter((c) => c.metric !== undefined)
    .sort((x, y) => x.s.speed.host_ms - y.s.speed.host_ms);
  const c = candidates[0];
  return { name: c.name, metric: c.metric!, value: c.s.counts[c.metric!] as number };
}

/** One quick run of the whole suite against the committed baseline, shared by all tests. */
let run: { code: number; out: string };
let result: SuiteResult & { comparison: any };
beforeAll(() => {
  run = bench({ json: true, quick: true });
  result = JSON.parse(run.out);
});

/**
 * A baseline made from this run (a deep copy without the comparison): the tests that
 * change a baseline start from it, so they do not depend on the committed baseline
 * being up to date (only 'the counts match the committed baseline' does).
 */
function fresh(): SuiteResult {
  const { comparison: _comparison, ...r } = JSON.parse(run.out);
  return r as SuiteResult;
}

describe('benchCommand({ json: true, quick: true }) over every bundled scenario', () => {

  test('prints one JSON object with an entry per bundled scenario', () => {
    expect(result.version).toBe(1);
    expect(result.quick).toBe(true);
    expect(Object.keys(result.scenarios).sort()).toEqual(BUNDLED);
  });

  test('each scenario has the count fields of every translation unit and the speed fields', () => {
    for (const name of BUNDLED) {
      const { counts, speed, until_ps } = result.scenarios[name];
      expect(until_ps).toBeGreaterThan(0);
      const units = Object.keys(counts).map((k) => /^soc\.([^.]+)\.l2tlb\.lookups$/.exec(k)?.[1]).filter(Boolean) as string[];
      expect(units.length).toBeGreaterThan(0);
      for (const u of units) {
        for (const f of ['l1tlb.lookups', 'l1tlb.hits', 'l1tlb.misses', 'l2tlb.lookups', 'l2tlb.hits', 'l2tlb.misses',
          'walker.walks', 'walker.mem_reads', 'walker.latency_ns.mean', 'walker.latency_ns.p99', 'faults', 'l2tlb.invalidations']) {
          expect(`${name} soc.${u}.${f} ${typeof counts[`soc.${u}.${f}`]}`).toMatch(/ (number|object)$/);
        }
        const l1 = counts[`soc.${u}.l1tlb.lookups`] as number;
        expect(counts[`soc.${u}.l1tlb.hits`]! + counts[`soc.${u}.l1tlb.misses`]!).toBe(l1);
        // The unit's L1 figures are the sum over its device inputs.
        const inputs = Object.keys(counts).filter((k) => k.startsWith(`soc.${u}.`) && /^soc\.[^.]+\.[^.]+\.l1tlb\.lookups$/.test(k));
        expect(inputs.reduce((a, k) => a + (counts[k] as number), 0)).toBe(l1);
      }
      for (const f of ['host_ms', 'events', 'events_per_s', 'bus_txns', 'bus_txns_per_s']) expect(speed[f]).toBeGreaterThan(0);
    }
    // IOMMUs report their commands and the kernel's invalidations.
    const nic = Object.values(result.scenarios).find((s) => 'soc.iommu.cmd.invalidate_range' in s.counts);
    expect(nic?.counts).toHaveProperty(['kernel.iommu.pgtable.inval_cmds']);
    expect(result.micro['translation.atomic.tlb_hit'].speed.translations_per_s).toBeGreaterThan(0);
  });

  test('the counts match the committed baseline: exit 0', () => {
    expect(result.comparison.count_changes).toEqual([]);
    expect(result.comparison.comparable).toBe(true);
    expect(result.comparison.counts_compared).toBeGreaterThan(100);
    expect(run.code).toBe(0);
  });
});

describe('comparison with a baseline', () => {
  test('a changed baseline count gives exit 1 and a line naming scenario, metric, baseline, now and delta', () => {
    const b = fresh();
    const { name, metric, value } = cheapScenario(b);
    b.scenarios[name].counts[metric] = value + 10;
    const { code, out } = bench({ json: false, quick: true, scenarios: [name], baseline: tempBaseline(b) });
    expect(code).toBe(1);
    const delta = ((value - (value + 10)) / (value + 10)) * 100;
    expect(out).toContain(`${name}: ${metric}: baseline ${value + 10}, now ${value}, delta ${delta.toFixed(2)}%`);
    expect(out).toMatch(/COUNT CHANGES vs baseline: 1 of \d+ differ/);
  });

  test('speed changes are reported, never fail', () => {
    const b = fresh();
    const { name } = cheapScenario(b);
    b.scenarios[name].speed.events_per_s *= 1000;
    const { code, out } = bench({ json: true, quick: true, scenarios: [name], baseline: tempBaseline(b) });
    expect(code).toBe(0);
    const speed = JSON.parse(out).comparison.speed.find((s: any) => s.scenario === name && s.metric === 'events_per_s');
    expect(speed.delta_pct).toBeLessThan(-99);
  });

  test('a scenario missing from the baseline fails; a baseline of the other mode is not compared', () => {
    const b = fresh();
    const { name } = cheapScenario(b);
    delete (b.scenarios as Record<string, unknown>)[name];
    const missing = bench({ json: false, quick: true, scenarios: [name], baseline: tempBaseline(b) });
    expect(missing.code).toBe(1);
    expect(missing.out).toContain(`${name}: scenario not in the baseline`);
    // A baseline of the other mode: nothing is compared, nothing fails.
    const other = { ...fresh(), quick: false };
    other.scenarios[name].counts[cheapScenario(fresh()).metric] = -1;
    const mixed = bench({ json: false, quick: true, scenarios: [name], baseline: tempBaseline(other) });
    expect(mixed.code).toBe(0);
    expect(mixed.out).toContain('Counts not compared: the baseline is a full run, this is a quick run');
  });

  test('updateBaseline merges the chosen scenarios into the baseline file', () => {
    const b = fresh();
    const { name, metric, value } = cheapScenario(b);
    b.scenarios[name].counts[metric] = value + 1;
    const file = tempBaseline(b);
    expect(bench({ json: false, quick: true, scenarios: [name], baseline: file, updateBaseline: true }).code).toBe(0);
    const written = JSON.parse(fs.readFileSync(file, 'utf8')) as SuiteResult;
    expect(written.scenarios[name].counts[metric]).toBe(value);
    expect(Object.keys(written.scenarios).sort()).toEqual(Object.keys(b.scenarios).sort());
    expect(bench({ json: false, quick: true, scenarios: [name], baseline: file }).code).toBe(0);
  });

  test('an unknown scenario is exit 1 with the bundled names', () => {
    const { code, out } = bench({ json: false, quick: true, scenarios: ['no-such-scenario'] });
    expect(code).toBe(1);
    expect(out).toContain('unknown scenario "no-such-scenario"');
  });

  test("a user's own scenario file and --set overrides: recorded, gated against the user's baseline, refused against another", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-bench-user-'));
    const scenario = JSON.parse(fs.readFileSync(path.join(SCENARIOS_DIR, 'server-io-nic-strict.json'), 'utf8'));
    scenario.soc = path.join(SCENARIOS_DIR, '..', 'server-io.json');
    scenario.jobs[0].rx.packets = 300;
    const file = path.join(dir, 'my-nic.json');
    fs.writeFileSync(file, JSON.stringify(scenario));
    const baseline = path.join(dir, 'my-baseline.json');
    const sets = ['soc.iommus.iommu.l2Tlb.entries=128'];
    expect(bench({ json: false, quick: true, scenarios: [file], sets, baseline, updateBaseline: true }).code).toBe(0);
    const written = JSON.parse(fs.readFileSync(baseline, 'utf8')) as SuiteResult;
    expect(Object.keys(written.scenarios)).toEqual(['my-nic']);
    expect(written.overrides).toEqual(sets);
    expect(written.scenarios['my-nic'].counts['soc.iommu.l2tlb.lookups']).toBeGreaterThan(0);
    expect(bench({ json: false, quick: true, scenarios: [file], sets, baseline }).code).toBe(0);
    const other = bench({ json: false, quick: true, scenarios: [file], baseline });
    expect(other.code).toBe(1);
    expect(other.out).toContain('the baseline was run with --set soc.iommus.iommu.l2Tlb.entries=128, this run with no overrides');
    fs.rmSync(dir, { recursive: true, force: true });
  });
});
