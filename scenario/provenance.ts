import * as fs from 'fs';
import * as path from 'path';

/**
 * Where this copy of socsim came from, for run metadata: the package version and, when
 * socsim runs from a git checkout, the commit. Read from files (package.json, .git),
 * never by starting a subprocess.
 */

/** The directory holding socsim's package.json (the repo root, from sources or dist/). */
export function packageRoot(): string {
  let dir = __dirname;
  for (;;) {
    const pkg = path.join(dir, 'package.json');
    if (fs.existsSync(pkg)) {
      try {
        if ((JSON.parse(fs.readFileSync(pkg, 'utf8')) as { name?: string }).name === 'socsim') return dir;
      } catch {
        // not ours: keep going up
      }
    }
    const up = path.dirname(dir);
    if (up === dir) throw new Error(`socsim's package.json not found above ${__dirname}`);
    dir = up;
  }
}

export function socsimVersion(): string {
  return (JSON.parse(fs.readFileSync(path.join(packageRoot(), 'package.json'), 'utf8')) as { version: string }).version;
}

const readText = (file: string): string | null => {
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    return null;
  }
};

/**
 * The commit checked out at `root`, or null when it is not a git checkout (an installed
 * package) or the ref cannot be read. Follows a worktree's `.git` file to its git dir and
 * looks refs up loose, in the common dir and in packed-refs.
 */
export function gitCommit(root = packageRoot()): string | null {
  let gitDir = path.join(root, '.git');
  let stat: fs.Stats;
  try {
    stat = fs.statSync(gitDir);
  } catch {
    return null;
  }
  if (stat.isFile()) {
    const m = /^gitdir:\s*(.+)$/m.exec(readText(gitDir) ?? '');
    if (!m) return null;
    gitDir = path.resolve(root, m[1]);
  }
  const head = readText(path.join(gitDir, 'HEAD'));
  if (!head) return null;
  if (/^[0-9a-f]{40}$/.test(head)) return head;
  const ref = /^ref:\s*(\S+)$/.exec(head)?.[1];
  if (!ref) return null;
  const common = readText(path.join(gitDir, 'commondir'));
  const dirs = [gitDir, ...(common ? [path.resolve(gitDir, common)] : [])];
  for (const d of dirs) {
    const sha = readText(path.join(d, ref));
    if (sha && /^[0-9a-f]{40}$/.test(sha)) return sha;
  }
  for (const d of dirs) {
    for (const line of (readText(path.join(d, 'packed-refs')) ?? '').split('\n')) {
      const [sha, name] = line.split(' ');
      if (name === ref && /^[0-9a-f]{40}$/.test(sha)) return sha;
    }
  }
  return null;
}
