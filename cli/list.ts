import * as fs from 'fs';
import * as path from 'path';
import { socConfigsDir } from '../scenario/bundled';

export { socConfigsDir };

export interface BundledEntry {
  /** Path relative to the soc-configs directory. */
  file: string;
  name: string;
  description: string;
  /** Scenarios: the SoC config they run on (relative to soc-configs), or `inline` when the scenario carries its own. */
  soc?: string;
}

function readEntry(root: string, rel: string): BundledEntry {
  const json = JSON.parse(fs.readFileSync(path.join(root, rel), 'utf8')) as { name?: string; description?: string; soc?: unknown };
  const entry: BundledEntry = { file: rel, name: json.name ?? '', description: json.description ?? '' };
  if (typeof json.soc === 'string') entry.soc = path.relative(root, path.resolve(path.dirname(path.join(root, rel)), json.soc));
  else if (json.soc !== undefined && rel.startsWith('scenarios')) entry.soc = 'inline';
  return entry;
}

/** Bundled SoC configs (soc-configs/*.json but the JSON Schemas) and scenarios (soc-configs/scenarios/*.json), sorted by file. */
export function listBundled(root = socConfigsDir()): { socs: BundledEntry[]; scenarios: BundledEntry[] } {
  const socs = fs.readdirSync(root).filter((f) => f.endsWith('.json') && !f.endsWith('schema.json')).sort().map((f) => readEntry(root, f));
  const scenarioDir = path.join(root, 'scenarios');
  const scenarios = fs.readdirSync(scenarioDir).filter((f) => f.endsWith('.json')).sort().map((f) => readEntry(root, path.join('scenarios', f)));
  return { socs, scenarios };
}

const MAX_DESCRIPTION = 120;

/** One line per entry: file, then the first sentence of its description (at most 120 characters). */
export function formatList(l: ReturnType<typeof listBundled>, root: string): string {
  const first = (d: string) => {
    const m = /^(.*?)\.(\s|$)/.exec(d);
    const s = m ? m[1] : d;
    return s.length > MAX_DESCRIPTION ? `${s.slice(0, MAX_DESCRIPTION - 1)}…` : s;
  };
  const width = Math.max(...[...l.socs, ...l.scenarios].map((e) => e.file.length)) + 2;
  const line = (e: BundledEntry) => `  ${e.file.padEnd(width)}${e.soc ? `[${e.soc.replace(/\.json$/, '')}] ` : ''}${first(e.description)}\n`;
  return `SoC configs (${root}):\n${l.socs.map(line).join('')}\nScenarios (run with: socsim run soc-configs/<file>):\n${l.scenarios.map(line).join('')}`;
}
