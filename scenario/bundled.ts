import * as fs from 'fs';
import * as path from 'path';

/** The soc-configs directory, found from here whether running from source or from dist/. */
export function socConfigsDir(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'soc-configs', 'minimal.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`soc-configs/ not found above ${__dirname}`);
    dir = up;
  }
  return path.join(dir, 'soc-configs');
}

/** Names of the bundled scenarios (soc-configs/scenarios/<name>.json), sorted. */
export function bundledScenarioNames(): string[] {
  return fs.readdirSync(path.join(socConfigsDir(), 'scenarios')).filter((f) => f.endsWith('.json')).map((f) => f.slice(0, -5)).sort();
}

/** The file of a bundled scenario, or null when there is none of that name. */
export function bundledScenarioFile(name: string): string | null {
  if (!/^[\w.-]+$/.test(name)) return null;
  const file = path.join(socConfigsDir(), 'scenarios', name.endsWith('.json') ? name : `${name}.json`);
  return fs.existsSync(file) ? file : null;
}
