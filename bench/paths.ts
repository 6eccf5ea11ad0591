import * as fs from 'fs';
import * as path from 'path';

/** The repository root, found from here whether running from bench/ or dist/bench/. */
export function repoRoot(): string {
  let dir = __dirname;
  while (!fs.existsSync(path.join(dir, 'package.json'))) {
    const up = path.dirname(dir);
    if (up === dir) throw new Error('package.json not found above ' + __dirname);
    dir = up;
  }
  return dir;
}

export function bundled(...parts: string[]): string {
  return path.join(repoRoot(), 'soc-configs', ...parts);
}
