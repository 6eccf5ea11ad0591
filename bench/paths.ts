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

/**
 * The compiled file of a bench module, for benches that measure in child processes:
 * itself when running compiled, else its twin under dist/ (under ts-jest `__filename`
 * is the .ts source, which plain Node cannot run; `npm test` builds dist/ first).
 */
export function compiledScript(file: string): string {
  if (!file.endsWith('.ts')) return file;
  return path.join(repoRoot(), 'dist', path.relative(repoRoot(), file).replace(/\.ts$/, '.js'));
}
