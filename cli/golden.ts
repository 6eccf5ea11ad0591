/**
 * Golden traces (issue 7): every bundled scenario, run for a short simulated time with
 * every trace category on, must produce exactly the trace checked in under
 * test/golden/scenarios/<scenario>.trace.jsonl. A behaviour change that alters a trace
 * must be deliberate: regenerate with `npm run golden:update` and say why in the commit.
 *
 *   socsim golden                    check, print the first divergence of each mismatch
 *   socsim golden --update           rewrite the golden files
 *   socsim golden my.json --dir my-goldens [--update]   the same for users' own scenarios
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { MemoryTraceWriter } from '../sim/engine/trace';
import { runLoaded } from '../scenario/run';
import { resolveScenario, scenarioFileOf } from '../scenario/resolve';
import { ConfigError } from '../sim/engine/errors';
import type { Tick } from '../sim/engine/time';
import { socConfigsDir } from './list';
import { traceDiffCommand } from './traceDiff';
import { readInputText } from '../sim/engine/inputFile';
import { ensureDirectory, writeFileAtomic } from '../sim/engine/outputFile';

/** Simulated time each golden run covers: long enough for boot, first maps, walks and traffic. */
export const GOLDEN_UNTIL_PS = 5_000_000;

export function goldenDir(): string {
  return path.join(path.dirname(socConfigsDir()), 'test', 'golden', 'scenarios');
}

export function bundledScenarios(): string[] {
  const dir = path.join(socConfigsDir(), 'scenarios');
  return fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(dir, f));
}

export interface GoldenOptions {
  /** Rewrite the golden file instead of comparing. */
  update?: boolean;
  /** Directory of `<scenario>.trace.jsonl` files; default test/golden/scenarios. */
  dir?: string;
  /** `--set` overrides applied before the run (the trace header records them). */
  sets?: readonly string[];
  /** Simulated time each run covers (ps); default GOLDEN_UNTIL_PS. */
  until?: Tick;
}

/** The trace of a short run of `scenarioFile` (a file or a bundled name). */
export function goldenTrace(scenarioFile: string, opts: GoldenOptions = {}): string {
  const writer = new MemoryTraceWriter();
  runLoaded(resolveScenario(scenarioFile, opts.sets ?? []), { traceWriter: writer, until: opts.until ?? GOLDEN_UNTIL_PS });
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
export function checkGolden(scenarioFile: string, opts: GoldenOptions = {}): GoldenResult {
  const name = path.basename(scenarioFile, '.json');
  const golden = path.join(opts.dir ?? goldenDir(), `${name}.trace.jsonl`);
  const trace = goldenTrace(scenarioFile, opts);
  if (opts.update) {
    ensureDirectory(path.dirname(golden));
    writeFileAtomic(golden, trace);
    return { scenario: name, golden, ok: true, report: '' };
  }
  if (!fs.existsSync(golden)) return { scenario: name, golden, ok: false, report: `no golden trace ${golden}: write it with --update\n` };
  if (readInputText(golden, Infinity) === trace) return { scenario: name, golden, ok: true, report: '' };
  const now = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-golden-')), `${name}.trace.jsonl`);
  fs.writeFileSync(now, trace);
  let report = `golden trace of ${name} differs (golden: ${golden}, now: ${now})\n`;
  traceDiffCommand(golden, now, (line) => { report += `${line}\n`; });
  return { scenario: name, golden, ok: false, report };
}

/**
 * `socsim golden [scenario…]`: checks (or `--update`s) golden traces of the given
 * scenarios (files or bundled names; default every bundled one) against a directory of
 * golden files (default the bundled ones). Exit 0 when all match, 1 when any differs or
 * is missing.
 */
export function goldenCommand(scenarios: readonly string[], opts: GoldenOptions, out: (s: string) => void): number {
  const files = scenarios.length > 0 ? scenarios.map(scenarioFileOf) : bundledScenarios();
  const names = files.map((f) => path.basename(f, '.json'));
  const twice = names.find((n, i) => names.indexOf(n) !== i);
  if (twice) throw new ConfigError(twice, 'scenario', 'two scenarios share this file name, and golden files are named after it: rename one');
  let failed = 0;
  for (const f of files) {
    const r = checkGolden(f, opts);
    out(opts.update ? `wrote ${r.golden}\n` : r.ok ? `ok ${r.scenario}\n` : r.report);
    if (!r.ok) failed++;
  }
  if (!opts.update) out(failed === 0 ? `all ${files.length} golden traces match\n` : `${failed} of ${files.length} golden traces differ or are missing\n`);
  return failed > 0 ? 1 : 0;
}
