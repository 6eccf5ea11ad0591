/**
 * `socsim bench`: runs the scenario suite (bench/suite.ts), prints its counts and speed
 * figures, and compares them with a committed baseline (bench/baseline.json).
 *
 * Exit codes: 0 when every count equals the baseline (speed is reported, never
 * gated), when the baseline was rewritten (`updateBaseline`), or when the baseline is
 * of the other mode (a full run against the quick baseline: counts are not
 * comparable, a note says so); 1 when a count differs, a scenario is missing on one
 * side, the baseline is missing, unreadable, of another suite version or made with
 * other `--set` overrides, or a scenario is unknown.
 */
import * as fs from 'fs';
import * as path from 'path';
import { repoRoot } from '../bench/paths';
import { InputFileError, MAX_JSON_INPUT_BYTES, readInputText } from '../sim/engine/inputFile';
import { OutputFileError, outputFileProblem, writeFileAtomic } from '../sim/engine/outputFile';
import {
  compareWithBaseline, formatCountChange, formatCountsTable, formatSpeedTable, runSuite, SUITE_VERSION, UnknownScenarioError,
  type Comparison, type SuiteResult,
} from '../bench/suite';

export interface BenchCommandOptions {
  /** One JSON object on `out` (the suite result plus `comparison`), nothing else. */
  json: boolean;
  /** Bundled scenario names (file names without `.json`) or users' scenario files; default every bundled scenario. */
  scenarios?: string[];
  /** `--set` overrides applied to every scenario (recorded in the result; a baseline with others is not comparable). */
  sets?: string[];
  /** Baseline file; default bench/baseline.json. */
  baseline?: string;
  /** Rewrite the baseline with this run (merged into it when `scenarios` chooses some). */
  updateBaseline?: boolean;
  /** Stop each scenario at its quick-mode time (bench/suite.ts QUICK_UNTIL_PS); CI mode. */
  quick?: boolean;
}

/** The committed baseline: bench/baseline.json at the repository root. */
export function defaultBaselinePath(): string {
  return path.join(repoRoot(), 'bench', 'baseline.json');
}

function display(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel && !rel.startsWith('..') ? rel : file;
}

function readBaseline(file: string): SuiteResult | string {
  let text: string;
  try {
    text = readInputText(file, MAX_JSON_INPUT_BYTES);
  } catch (e) {
    return `cannot read the baseline ${display(file)}: ${e instanceof InputFileError ? e.reason : (e as Error).message}`;
  }
  try {
    const b = JSON.parse(text) as SuiteResult;
    if (!b || typeof b !== 'object' || typeof b.scenarios !== 'object' || b.scenarios === null) {
      return `baseline ${display(file)}: not a socsim bench result (no "scenarios" object)`;
    }
    return b;
  } catch (e) {
    return `baseline ${display(file)}: ${(e as Error).message}`;
  }
}

/** Baseline file contents: the result with sorted scenario names, two-space JSON. */
function baselineText(r: SuiteResult): string {
  const scenarios: SuiteResult['scenarios'] = Object.create(null); // keyed by users' file names
  for (const k of Object.keys(r.scenarios).sort()) scenarios[k] = r.scenarios[k];
  return JSON.stringify({ version: r.version, quick: r.quick, ...(r.overrides ? { overrides: r.overrides } : {}), scenarios, micro: r.micro }, null, 2) + '\n';
}

function comparisonJson(file: string, c: Comparison | null, error?: string): unknown {
  if (!c) return { baseline: file, error };
  return {
    baseline: file,
    comparable: c.comparable,
    ...(c.reason ? { reason: c.reason } : {}),
    counts_compared: c.countsCompared,
    count_changes: c.countChanges.map((x) => ({
      scenario: x.scenario, metric: x.metric, baseline: x.baseline ?? null, now: x.now ?? null, delta_pct: x.deltaPct,
      ...(x.note ? { note: x.note } : {}), line: formatCountChange(x),
    })),
    speed: c.speed.map((s) => ({ scenario: s.scenario, metric: s.metric, baseline: s.baseline, now: s.now, delta_pct: s.deltaPct })),
  };
}

function tables(r: SuiteResult, file: string, c: Comparison | null): string {
  const n = Object.keys(r.scenarios).length;
  return [
    `socsim bench: ${n} scenario${n === 1 ? '' : 's'}, ${r.quick ? 'quick (each stops at its quick-mode until)' : 'full runs'}, baseline ${display(file)}`,
    '',
    'Translation counts (deterministic; gated against the baseline):',
    formatCountsTable(r),
    '',
    'Speed (host time; noisy, reported only):',
    formatSpeedTable(r, c ?? undefined),
    '',
  ].join('\n');
}

/** Runs `socsim bench`; writes to `out`; returns the exit code (see the file comment). */
export function benchCommand(opts: BenchCommandOptions, out: (s: string) => void): number {
  const file = path.resolve(opts.baseline ?? defaultBaselinePath());
  const partial = (opts.scenarios?.length ?? 0) > 0;
  // Checked before the suite runs: an unwritable baseline must not cost a whole run.
  const unwritable = opts.updateBaseline ? outputFileProblem(file) : null;
  if (unwritable) throw new OutputFileError(file, unwritable);
  let result: SuiteResult;
  try {
    result = runSuite({ quick: opts.quick ?? false, scenarios: opts.scenarios, sets: opts.sets });
  } catch (e) {
    if (e instanceof UnknownScenarioError) {
      out(opts.json ? JSON.stringify({ error: e.message }) + '\n' : `socsim bench: ${e.message}\n`);
      return 1;
    }
    throw e;
  }

  if (opts.updateBaseline) {
    let toWrite = result;
    if (partial && fs.existsSync(file)) {
      const old = readBaseline(file);
      if (typeof old === 'string') {
        out(opts.json ? JSON.stringify({ error: old }) + '\n' : `socsim bench: ${old}; not updated\n`);
        return 1;
      }
      if (old.version !== result.version || old.quick !== result.quick || JSON.stringify(old.overrides ?? []) !== JSON.stringify(result.overrides ?? [])) {
        const msg = `cannot merge a ${result.quick ? 'quick' : 'full'} version ${result.version} run of some scenarios${result.overrides ? ' with overrides' : ''} into the ${old.quick ? 'quick' : 'full'} version ${old.version} baseline ${display(file)}${old.overrides ? ' (made with overrides)' : ''}: rerun without a scenario list`;
        out(opts.json ? JSON.stringify({ error: msg }) + '\n' : `socsim bench: ${msg}\n`);
        return 1;
      }
      toWrite = { ...result, scenarios: { ...old.scenarios, ...result.scenarios } };
    }
    writeFileAtomic(file, baselineText(toWrite));
    if (opts.json) out(JSON.stringify({ ...result, baseline_written: file }, null, 2) + '\n');
    else out(tables(result, file, null) + `\nBaseline written: ${display(file)} (${Object.keys(toWrite.scenarios).length} scenarios).\n`);
    return 0;
  }

  const base = readBaseline(file);
  if (typeof base === 'string') {
    if (opts.json) out(JSON.stringify({ ...result, comparison: comparisonJson(file, null, base) }, null, 2) + '\n');
    else out(tables(result, file, null) + `\nCounts not compared: ${base}.\n`);
    return 1;
  }
  const cmp = compareWithBaseline(result, base, partial);
  const stale = base.version !== SUITE_VERSION;
  // Other overrides than the baseline's: the user asked for a gate that cannot be applied.
  const otherOverrides = JSON.stringify(base.overrides ?? []) !== JSON.stringify(result.overrides ?? []);
  const failed = (cmp.comparable && cmp.countChanges.length > 0) || stale || otherOverrides;
  if (opts.json) {
    out(JSON.stringify({ ...result, comparison: comparisonJson(file, cmp) }, null, 2) + '\n');
    return failed ? 1 : 0;
  }
  const lines = [tables(result, file, cmp)];
  if (!cmp.comparable) {
    lines.push(`Counts not compared: ${cmp.reason}.${stale ? ' Regenerate the baseline: socsim bench --quick --update-baseline.' : ' Use the mode the baseline was made with (CI: --quick).'}`);
  } else if (cmp.countChanges.length === 0) {
    lines.push(`Counts vs baseline: all ${cmp.countsCompared} equal.`);
  } else {
    lines.push(`COUNT CHANGES vs baseline: ${cmp.countChanges.length} of ${cmp.countsCompared} differ. Counts are deterministic: if the change is deliberate, regenerate the baseline (socsim bench --quick --update-baseline) and say why in the commit.`);
    for (const c of cmp.countChanges) lines.push(`  ${formatCountChange(c)}`);
  }
  out(lines.join('\n') + '\n');
  return failed ? 1 : 0;
}
