import { spawnSync } from 'child_process';
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

/**
 * Runs the compiled twin of bench module `file` in a fresh Node process (`nodeArgs`
 * before the script, `args` after it) and returns the JSON of the last line it printed.
 * `label` names the child in the error when it fails; `env` adds to this process's
 * environment for the child.
 */
export function benchChildJson<T>(file: string, args: string[], label: string, nodeArgs: string[] = [], env: Record<string, string> = {}): T {
  const r = spawnSync(process.execPath, [...nodeArgs, compiledScript(file), ...args], { encoding: 'utf8', maxBuffer: 1 << 20, env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${label} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}
