import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';

const ROOT = path.join(__dirname, '..', '..');
const CLI = path.join(ROOT, 'dist', 'cli', 'main.js');
/** Written by every `npm run build` (incremental), even when no output changed. */
const BUILD_INFO = path.join(ROOT, 'dist', '.tsbuildinfo');

/** Newest modification time of the .ts sources the CLI is built from. */
function newestSource(dir: string): number {
  let newest = 0;
  for (const e of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) newest = Math.max(newest, newestSource(p));
    else if (e.name.endsWith('.ts')) newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

let checked = false;

/**
 * The compiled CLI (dist/cli/main.js). `npm test` compiles before jest runs; when the
 * compiled files are missing or older than a source (jest run on its own after an
 * edit), they are rebuilt here first, so tests never run stale code.
 */
export function compiledCli(): string {
  if (!checked) {
    const sources = Math.max(...['sim', 'drivers', 'scenario', 'cli', 'report', 'bench'].map((d) => newestSource(path.join(ROOT, d))));
    if (!fs.existsSync(CLI) || !fs.existsSync(BUILD_INFO) || fs.statSync(BUILD_INFO).mtimeMs < sources) {
      execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', path.join(ROOT, 'tsconfig.build.json')], { stdio: 'inherit' });
      fs.chmodSync(CLI, 0o755); // as `npm run build` does: the bin must be executable
    }
    checked = true;
  }
  return CLI;
}
