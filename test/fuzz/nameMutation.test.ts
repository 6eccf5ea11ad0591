import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { runCli } from '../helpers/cliInProcess';
import { describeNameMutant, HOSTILE_NAMES, nameMutants, writeNameMutant, type NameMutant } from './mutants';

/**
 * Issue 15, item 4: every kind of user-chosen name (SoC, scenario, clock, bus, memory,
 * bridge, IOMMU, CPU MMU, CPU core, device, job, buffer), renamed everywhere to each
 * hostile name, and each referenced kind also left dangling (references renamed, the
 * declaration not): `validate` then `run --until 2us` give a ConfigError with the JSON
 * path (exit 1) or a clean run (exit 0), never exit 2.
 */
describe('name mutation: prototype keys, separators, unicode and long names', () => {
  const mutants = nameMutants();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-names-'));
  const outcomes: { m: NameMutant; validate: number; run: number | null; err: string }[] = [];

  beforeAll(async () => {
    for (const m of mutants) {
      const file = writeNameMutant(m, dir);
      const v = await runCli(['validate', file]);
      const r = v.code === 0 ? await runCli(['run', file, '--until', '2us', '--stats', 'json', '--no-progress']) : null;
      outcomes.push({ m, validate: v.code, run: r?.code ?? null, err: v.err + (r?.err ?? '') });
    }
  }, 120_000);
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  test('every kind of name, each hostile name', () => {
    // No bundled SoC has a bridge; every other kind is covered.
    expect([...new Set(mutants.map((m) => m.kind))].sort()).toEqual(['buffer', 'bus', 'clock', 'core', 'cpuMmu', 'device', 'iommu', 'job', 'memory', 'scenario', 'soc']);
    expect(mutants.length).toBe((11 + 6) * HOSTILE_NAMES.length);
  });

  test('nothing exits 2', () => {
    expect(outcomes.filter((o) => o.validate === 2 || o.run === 2).map((o) => `${describeNameMutant(o.m)}: ${o.err.split('\n')[0]}`)).toEqual([]);
  });

  test('"constructor" is a name like any other: declared, it runs; dangling, it is an unknown name at its JSON path', () => {
    for (const o of outcomes.filter((x) => x.m.to === 'constructor')) {
      if (o.m.dangling) {
        expect([describeNameMutant(o.m), o.validate]).toEqual([describeNameMutant(o.m), 1]);
        expect(o.err).toMatch(/: (soc|scenario)\.\S+: (unknown|SoC "\w+" has no|no buffer) .*"constructor"/);
      } else {
        expect([describeNameMutant(o.m), o.validate, o.run]).toEqual([describeNameMutant(o.m), 0, 0]);
      }
    }
  });

  test('names outside the rules are refused at their JSON path with the rule', () => {
    const bad = outcomes.filter((o) => o.m.to !== 'constructor');
    for (const o of bad) {
      expect([describeNameMutant(o.m), o.validate]).toEqual([describeNameMutant(o.m), 1]);
      expect(o.err.split('\n')[0]).toMatch(/: (soc|scenario)(\.|\[).*: (bad name: )?must be (lower-case letters, digits and _, starting with a letter|at most 64 characters, got 200)$/);
    }
  });
});
