import * as fs from 'fs';
import { ConfigError } from '../sim/engine/errors';
import { bundledScenarioFile, bundledScenarioNames } from './bundled';
import { loadScenario, type LoadedScenario } from './load';
import { parseOverride } from './overrides';
import { nearest } from '../sim/engine/editDistance';

/**
 * The front door for users' runs: a scenario named by file or by bundled name
 * (`server-io-nic-strict`), with `--set path=value` overrides applied in order and the
 * result checked as a file would be. `run`, `validate`, `bench` and `sweep` all load
 * scenarios through here.
 */
export function resolveScenario(source: string, sets: readonly string[] = []): LoadedScenario {
  return loadScenario(scenarioFileOf(source), sets.map(parseOverride));
}

/** A path that exists, else a bundled scenario of that name (`socsim list`). */
export function scenarioFileOf(source: string): string {
  if (fs.existsSync(source)) return source;
  const bundled = bundledScenarioFile(source);
  if (bundled) return bundled;
  // A path (it has a directory part) that does not exist: reading it reports the OS error.
  if (/[\\/]/.test(source)) return source;
  const close = nearest(source.replace(/\.json$/, ''), bundledScenarioNames());
  throw new ConfigError(source, 'scenario', `no such file, and no bundled scenario of that name (closest bundled: ${close.join(', ')}; \`socsim list\` shows them all)`);
}
