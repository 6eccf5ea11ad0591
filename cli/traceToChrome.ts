import * as path from 'path';
import { chromeTraceFromJsonl, TraceConvertError } from '../sim/engine/chromeTrace';
import { inputFileProblem } from '../sim/engine/inputFile';
import { parseTraceWindow, type TraceWindow } from '../sim/engine/traceWindow';

/** A bad `--trace-window` (the CLI turns it into a usage error, exit 1). */
export class TraceWindowOptionError extends Error {}

/** `--trace-window A..B` → the window; undefined when the option is not given. */
export function traceWindowOption(text: string | undefined): TraceWindow | undefined {
  if (text === undefined) return undefined;
  try {
    return parseTraceWindow(text);
  } catch (e) {
    throw new TraceWindowOptionError(`--trace-window: ${(e as Error).message}`);
  }
}

/**
 * `socsim trace to-chrome IN -o OUT`: converts a JSON Lines trace after the run with the
 * same writer `--trace-format chrome` uses. Exit 0, or 1 with a one-line error for a bad
 * input (the output is then not written). Output file errors are thrown (OutputFileError).
 */
export function traceToChromeCommand(input: string, output: string, window: TraceWindow | undefined, err: (line: string) => void): number {
  const problem = inputFileProblem(input);
  if (problem) {
    err(`error: cannot read trace ${input}: ${problem}`);
    return 1;
  }
  if (path.resolve(input) === path.resolve(output)) {
    err(`error: -o: ${output} is the input trace; write the output elsewhere`);
    return 1;
  }
  try {
    chromeTraceFromJsonl(input, output, {}, window ?? null);
  } catch (e) {
    if (!(e instanceof TraceConvertError)) throw e;
    err(`error: ${e.message}`);
    return 1;
  }
  return 0;
}
