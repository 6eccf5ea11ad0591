import * as fs from 'fs';
import * as path from 'path';
import { execFileSync } from 'child_process';
import { findCycles, importsOf, LAYERS, REPO_ROOT, sourceModules } from './moduleGraph';

/** DESIGN: arrows point down only (cli → scenario → drivers → sim, bench → scenario, cli → report → scenario), no cycles, no production import of test/. */
const PRODUCTION = ['index.ts', ...LAYERS];
const modules = sourceModules(PRODUCTION);
const graph = new Map(modules.map((m) => [m, importsOf(m)]));

const layerOf = (mod: string): string => mod.split('/')[0];
/** What each layer may import (besides itself). bench, report and cli all sit on scenario; cli may run benches and write reports. */
const ALLOWED: Record<string, readonly string[]> = {
  index: ['cli', 'report', 'bench', 'scenario', 'drivers', 'sim'],
  cli: ['report', 'bench', 'scenario', 'drivers', 'sim'],
  report: ['scenario', 'drivers', 'sim'],
  bench: ['scenario', 'drivers', 'sim'],
  scenario: ['drivers', 'sim'],
  drivers: ['sim'],
  sim: [],
};

describe('module graph', () => {
  test('the checker finds a planted cycle and none where there is none', () => {
    expect(findCycles(new Map([['a', ['b']], ['b', ['c']], ['c', ['a']], ['d', ['a']]]))).toEqual([['a', 'b', 'c']]);
    expect(findCycles(new Map([['a', ['b']], ['b', []]]))).toEqual([]);
  });

  test('no import cycles anywhere in production code (type-only imports included)', () => {
    expect(findCycles(graph)).toEqual([]);
  });

  test('imports point down the layers and never into test/', () => {
    const bad: string[] = [];
    for (const [mod, deps] of graph) {
      const from = layerOf(mod);
      for (const d of deps) {
        const to = layerOf(d);
        if (to !== from && !ALLOWED[from.replace(/\.ts$/, '')]?.includes(to)) bad.push(`${mod} → ${d}`);
      }
    }
    expect(bad).toEqual([]);
  });

  test('the build compiles nothing from test/', () => {
    const files = execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--listFilesOnly'], { cwd: REPO_ROOT, encoding: 'utf8' })
      .split('\n').filter((f) => f && !f.includes('node_modules'));
    expect(files.length).toBeGreaterThan(100);
    expect(files.filter((f) => path.relative(REPO_ROOT, f).split(path.sep)[0] === 'test')).toEqual([]);
    expect(fs.existsSync(path.join(REPO_ROOT, 'dist', 'test'))).toBe(false);
  });
});
