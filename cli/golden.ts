/**
 * Golden traces (issue 7): every bundled scenario, run for a short simulated time with
 * every trace category on, must produce exactly the trace checked in under
 * test/golden/scenarios/<scenario>.trace.jsonl. A behaviour change that alters a trace
 * must be deliberate: regenerate with `npm run golden:update` and say why in the commit.
 *
 *   ts-node cli/golden.ts            check, print the first divergence of each mismatch
 *   ts-node cli/golden.ts --update   rewrite the golden files
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MemoryTraceWriter } from '../sim/engine/trace';
import { run } from '../scenario/run';
import { socConfigsDir } from './list';
import { traceDiffCommand } from './traceDiff';

/** Simulated time each golden run covers: long enough for boot, first maps, walks and traffic. */
export const GOLDEN_UNTIL_PS = 5_000_000;

export function goldenDir(): string {
  return path.join(path.dirname(socConfigsDir()), 'test', 'golden', 'scenarios');
}

export function bundledScenarios(): string[] {
  const dir = path.join(socConfigsDir(), 'scenarios');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(dir, f));
}

/** The trace of a short run of `scenarioFile`. */
export function goldenTrace(scenarioFile: string): string {
  const writer = new MemoryTraceWriter();
  run(scenarioFile, { traceWriter: writer, until: GOLDEN_UNTIL_PS });
  return writer.text();
}

export interface GoldenResult {
  scenario: string;
  golden: string;
  ok: boolean;
  /** The trace diff's report when the trace differs (or the golden file is missing). */
  report: string;
}

/** Compares (or with `update`, rewrites) the golden trace of one scenario. */
export function checkGolden(scenarioFile: string, update = false): GoldenResult {
  const name = path.basename(scenarioFile, '.json');
  const golden = path.join(goldenDir(), `${name}.trace.jsonl`);
  const trace = goldenTrace(scenarioFile);
  if (update) {
    fs.mkdirSync(path.dirname(golden), { recursive: true });
    fs.writeFileSync(golden, trace);
    return { scenario: name, golden, ok: true, report: '' };
  }
  if (!fs.existsSync(golden)) return { scenario: name, golden, ok: false, report: `no golden trace ${golden}: run npm run golden:update` };
  if (fs.readFileSync(golden, 'utf8') === trace) return { scenario: name, golden, ok: true, report: '' };
  const now = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-golden-')), `${name}.trace.jsonl`);
  fs.writeFileSync(now, trace);
  let report = `golden trace of ${name} differs (golden: ${golden}, now: ${now})\n`;
  traceDiffCommand(golden, now, (line) => { report += `${line}\n`; });
  return { scenario: name, golden, ok: false, report };
}

if (require.main === module) {
  const update = process.argv.includes('--update');
  let failed = 0;
  for (const f of bundledScenarios()) {
    const r = checkGolden(f, update);
    process.stdout.write(update ? `wrote ${r.golden}\n` : r.ok ? `ok ${r.scenario}\n` : r.report);
    if (!r.ok) failed++;
  }
  process.exitCode = failed > 0 ? 1 : 0;
}
