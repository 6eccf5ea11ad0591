import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import { runCli } from '../helpers/cliInProcess';
import { compiledCli } from '../helpers/compiledCli';
import { REPO } from '../helpers/configFiles';

const cli = runCli;

/** The commands a help text lists (`socsim trace diff <a> <b>  …` → `trace diff`). */
function commandsOf(help: string): string[] {
  const section = help.slice(help.indexOf('Commands:'), help.indexOf('Options:'));
  return [...section.matchAll(/^ {2}socsim ((?:[a-z][a-z-]* ?)+)/gm)].map((m) => m[1].trim());
}

test('--version prints the package.json version (the compiled bin)', () => {
  const version = JSON.parse(fs.readFileSync(path.join(REPO, 'package.json'), 'utf8')).version;
  expect(version).toMatch(/^\d+\.\d+\.\d+/);
  expect(execFileSync(process.execPath, [compiledCli(), '--version'], { encoding: 'utf8' })).toBe(`${version}\n`);
});

test('every command, and socsim itself, shows examples in its help', async () => {
  const top = await cli(['--help']);
  expect(top.code).toBe(0);
  const commands = commandsOf(top.out);
  expect(commands).toEqual(expect.arrayContaining(['run', 'validate', 'trace', 'stats', 'bench', 'list']));
  const stats = await cli(['stats', '--help']);
  expect(commandsOf(stats.out)).toEqual(['stats diff']);
  const trace = await cli(['trace', '--help']);
  expect(commandsOf(trace.out)).toEqual(['trace diff', 'trace to-chrome']);
  const missing: string[] = [];
  for (const c of ['', ...commands, 'stats diff', 'trace diff', 'trace to-chrome']) {
    const r = await cli([...c.split(' ').filter(Boolean), '--help']);
    expect(r.code).toBe(0);
    const examples = r.out.slice(r.out.indexOf('Examples:'));
    if (!r.out.includes('Examples:') || !new RegExp(`^ {2}socsim ${c}`, 'm').test(examples)) missing.push(c || 'socsim');
  }
  expect(missing).toEqual([]);
});

test('options are typed and unknown ones refused (strict), with exit 1', async () => {
  const run = ['run', path.join(REPO, 'soc-configs', 'scenarios', 'default.json')];
  const cases: [string[], RegExp][] = [
    [[...run, '--stats', 'xml'], /Invalid values:[\s\S]*stats/],
    [[...run, '--stat-filter', 'soc'], /Unknown arguments?: stat-filter/],
    [['stats', 'diff', 'a', 'b', 'c'], /Unknown argument: c/],
    [['stats', 'dif', 'a', 'b'], /Unknown arguments: dif, a, b/],
    [['frobnicate'], /Unknown argument: frobnicate/],
  ];
  for (const [args, msg] of cases) {
    const r = await cli(args);
    expect({ args, code: r.code }).toEqual({ args, code: 1 });
    expect(r.err).toMatch(msg);
  }
});
