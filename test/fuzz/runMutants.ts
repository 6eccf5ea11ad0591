/**
 * Runs config mutants through the CLI's own entry point, in one process (a jest
 * sandbox would make the hot loops several times slower): `socsim validate`, then, when
 * it accepts, `socsim run --until 1us`. Prints one JSON line per mutant:
 * { i, validate, run, message }. Usage: runMutants.ts <mutants.json> <first> <count>
 * (the runner is started before each mutant is known to finish, so a hang or crash
 * is pinned on the mutant named by the last "start" line).
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { main, type CliIO } from '../../cli/main';
import { describeMutant, writeMutant, type Mutant } from './mutants';

async function runAll(): Promise<void> {
  const [file, first, count] = process.argv.slice(2);
  const mutants = (JSON.parse(fs.readFileSync(file, 'utf8')) as Mutant[]).slice(Number(first), Number(first) + Number(count));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-mutant-'));
  try {
    for (let k = 0; k < mutants.length; k++) {
      const i = Number(first) + k;
      process.stdout.write(`${JSON.stringify({ start: i, mutant: describeMutant(mutants[k]) })}\n`);
      const scenario = writeMutant(mutants[k], dir);
      let err = '';
      const io: CliIO = { out: () => undefined, err: (t) => { err += t; } };
      const validate = await main(['validate', scenario], io);
      const run = validate === 0 ? await main(['run', scenario, '--until', '1us', '--stats', 'json', '--no-progress'], io) : null;
      process.stdout.write(`${JSON.stringify({ i, validate, run, message: err.slice(0, 400) })}\n`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

runAll().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(3);
});
