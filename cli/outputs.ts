import * as fs from 'fs';
import * as path from 'path';
import type { RunInput } from '../scenario/inputs';
import { RUN_FILES, TRACE_FILES } from '../scenario/runDir';
import { SWEEP_FILES } from '../scenario/sweep';
import type { TraceOutputFormat } from '../sim/engine/chromeTrace';

/**
 * Outputs are never written over inputs (issue 15, item 5): `run x.json --trace x.json`
 * would destroy the scenario. Paths are compared as real paths, so `./x.json`,
 * `dir/../x.json` and a symlink to x.json are all the same file.
 */

/** The real path of `p`, or of its directory joined with its name when it does not exist yet. */
function realPathOf(p: string): string {
  try {
    return fs.realpathSync(p);
  } catch {
    try {
      return path.join(fs.realpathSync(path.dirname(path.resolve(p))), path.basename(p));
    } catch {
      return path.resolve(p);
    }
  }
}

/** The first output (`option`: how the user named it) that is an input of the run, as a message; null when none is. */
export function outputOverInput(outputs: readonly { option: string; file: string }[], inputs: readonly RunInput[], of: 'run' | 'sweep' = 'run'): string | null {
  const byPath = new Map(inputs.map((i) => [realPathOf(i.file), i]));
  for (const o of outputs) {
    const input = byPath.get(realPathOf(o.file));
    if (!input) continue;
    const named = path.resolve(input.file) === path.resolve(o.file) ? '' : ` (${input.file})`;
    return `${o.option}: ${o.file} is ${input.what}${named}, an input of this ${of}; write the output elsewhere`;
  }
  return null;
}

/** The files `socsim run` writes: `--trace FILE`, `--sample-out FILE`, and with `--out DIR` the run directory's files (and its trace). */
export function runOutputFiles(trace: string | undefined, out: string | undefined, format: TraceOutputFormat, sampleOut?: string): { option: string; file: string }[] {
  const files: { option: string; file: string }[] = [];
  if (trace) files.push({ option: '--trace', file: trace });
  if (sampleOut) files.push({ option: '--sample-out', file: sampleOut });
  if (out !== undefined && out.trim() !== '') {
    for (const f of [...Object.values(RUN_FILES), TRACE_FILES[format]]) files.push({ option: '--out', file: path.join(out, f) });
  }
  return files;
}

/**
 * The first input of a sweep that its output directory would overwrite, as a message;
 * null when none would. A sweep writes `OUT/sweep.json` and `OUT/results.csv` and
 * everything under `OUT/points/` (point run directories, replaced when a point reruns).
 */
export function sweepOutputOverInput(outDir: string, inputs: readonly RunInput[]): string | null {
  const files = [SWEEP_FILES.spec, SWEEP_FILES.results].map((f) => ({ option: '--out', file: path.join(outDir, f) }));
  const clash = outputOverInput(files, inputs, 'sweep');
  if (clash) return clash;
  const points = realPathOf(path.join(outDir, SWEEP_FILES.points)) + path.sep;
  for (const input of inputs) {
    if (realPathOf(input.file).startsWith(points)) {
      return `--out: ${input.file} is ${input.what}, an input of this sweep, inside ${path.join(outDir, SWEEP_FILES.points)} where the sweep writes its points; write the output elsewhere`;
    }
  }
  return null;
}
