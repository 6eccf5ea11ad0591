import * as fs from 'fs';
import * as path from 'path';
import type { TraceOutputFormat } from '../sim/engine/chromeTrace';
import { clearRunDir, readRunMeta, TRACE_FILES, type RunDirInfo } from '../scenario/runDir';

/** How `run --out DIR` lays out its files; see scenario/runDir.ts. */
export interface OutPlan {
  dir: string;
  /** Where the tracer writes during the run (a temporary name for a trace inside DIR). */
  tracePath?: string;
  trace: RunDirInfo['trace'];
  /** A bare `--trace`: the trace is DIR's own file (removed when the run fails). */
  traceInDir?: boolean;
}

/**
 * Checks `--out DIR` (with `--force` and `--trace`) and readies the directory. A directory
 * holding a finished run (meta.json) is refused unless `force`: results are not replaced
 * by accident. An incomplete one (no meta.json: interrupted or failed) is reused. A bare
 * `--trace` puts the trace in DIR; a `--trace FILE` is written where it says.
 * Returns the plan, or the usage problem as a string.
 */
export function planOutDir(dir: string, force: boolean, trace: string | undefined, format: TraceOutputFormat): OutPlan | string {
  if (dir.trim() === '') return '--out: give a directory';
  if (fs.existsSync(dir) && !fs.statSync(dir).isDirectory()) return `--out: ${dir} exists and is not a directory`;
  const previous = readRunMeta(dir);
  if (previous && !force) {
    return `--out: ${dir} already holds a finished run (scenario ${previous.scenario}, seed ${previous.seed}, config ${previous.config_hash}); pass --force to replace it, or choose another directory`;
  }
  clearRunDir(dir);
  if (trace === undefined) return { dir, trace: null };
  if (trace === '') {
    // The trace writer itself writes under a temporary name and renames on close (sim/engine/outputFile.ts).
    const final = path.join(dir, TRACE_FILES[format]);
    return { dir, tracePath: final, trace: { written: final, final }, traceInDir: true };
  }
  return { dir, tracePath: trace, trace: { written: trace, final: trace } };
}

/** After a failed run: a trace in DIR goes, so nothing in DIR looks like a result. */
export function discardOutTrace(plan: OutPlan): void {
  if (plan.trace && plan.traceInDir) fs.rmSync(plan.trace.final, { force: true });
}

/** After an interrupted run: the trace (ending with its "interrupted" record) takes its final name; returns it. */
export function keepOutTrace(plan: OutPlan): string | undefined {
  if (!plan.trace) return undefined;
  if (plan.trace.written !== plan.trace.final && fs.existsSync(plan.trace.written)) fs.renameSync(plan.trace.written, plan.trace.final);
  return plan.trace.final;
}
