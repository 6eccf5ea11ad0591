import * as fs from 'fs';
import * as path from 'path';

/**
 * socsim's version, from its package.json: the nearest one above this module that names
 * socsim (this file runs from `cli/` under ts-node and jest, and from `dist/cli/` built).
 */
export function socsimVersion(): string {
  for (let dir = __dirname; ; dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (fs.existsSync(file)) {
      const pkg = JSON.parse(fs.readFileSync(file, 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'socsim' && pkg.version) return pkg.version;
    }
    if (path.dirname(dir) === dir) throw new Error(`no socsim package.json above ${__dirname}`);
  }
}
