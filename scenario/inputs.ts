import * as path from 'path';
import { jobKind } from './jobRegistry';
import type { LoadedScenario } from './load';

/** An input file of a run and what it is (for messages). */
export interface RunInput {
  file: string;
  what: string;
}

/**
 * The files a run reads: the scenario, its SoC config and what its jobs read (CPU
 * traces). Outputs must not be written over them (cli/outputs.ts).
 */
export function runInputFiles(loaded: LoadedScenario): RunInput[] {
  const dir = path.dirname(loaded.file);
  const inputs: RunInput[] = [{ file: loaded.file, what: 'the scenario file' }];
  if (loaded.socFile !== loaded.file) inputs.push({ file: loaded.socFile, what: 'the SoC config' });
  for (const j of loaded.scenario.jobs) {
    for (const f of jobKind(j.kind).inputs(j)) inputs.push({ file: path.resolve(dir, f), what: `a file job "${j.name}" reads` });
  }
  return inputs;
}
