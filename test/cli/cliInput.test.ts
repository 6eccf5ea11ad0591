import * as path from 'path';
import * as fs from 'fs';
import { spawnSync } from 'child_process';
import { runCli } from '../helpers/cliInProcess';
import { REPO, DEFAULT_SCENARIO, writeTemp } from '../helpers/configFiles';
import { compiledCli } from '../helpers/compiledCli';

/** Bad command-line input gets a clear message and exit 1, never a silent default or exit 2. */
const cli = runCli;

const NIC = path.join(REPO, 'soc-configs', 'scenarios', 'server-io-nic-strict.json');

describe('CLI input checks', () => {
  test.each([
    [['--seed', 'abc'], /--seed: must be an integer from 0 to 2\^32-1, got "abc"/],
    [['--seed', '1.5'], /--seed: must be an integer/],
    [['--seed', '4294967296'], /--seed: must be an integer/],
    [['--seed', '-1'], /--seed: must be an integer/],
    [['--until', '10'], /--until: give a unit, e\.g\. 10ns or 10us \(a bare number would be picoseconds: write 10ps\)/],
    [['--trace-format', 'chrome'], /--trace-format chrome needs --trace <file>/],
  ])('run %j', async (extra, message) => {
    const r = await cli(['run', DEFAULT_SCENARIO, ...extra as string[]]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(message as RegExp);
  });

  test('a valid seed and a time with a unit run', async () => {
    const r = await cli(['run', DEFAULT_SCENARIO, '--seed', '4294967295', '--until', '2us', '--stats', 'json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)['sim.time_ns']).toBe(2000);
  });

  test('--mode atomic on a NIC job is refused at the job (the NIC has no atomic path), and so is a scenario asking for it', async () => {
    const r = await cli(['run', NIC, '--mode', 'atomic']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/scenario\.jobs\[0\]\.kind: job "rx" \(nic\) runs in timing mode only, but --mode atomic asks for atomic mode/);
    const scenario = { ...JSON.parse(fs.readFileSync(NIC, 'utf8')), soc: path.join(REPO, 'soc-configs', 'server-io.json'), mode: 'atomic' };
    const v = await cli(['validate', writeTemp(scenario)]);
    expect(v.code).toBe(1);
    expect(v.err).toMatch(/scenario\.jobs\[0\]\.kind: .*the scenario's "mode" asks for atomic mode/);
  });

  test('trace diff of a missing file is bad input (exit 1), not an internal error', async () => {
    const r = await cli(['trace', 'diff', '/nonexistent/a.jsonl', '/nonexistent/b.jsonl']);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/cannot read trace \/nonexistent\/a\.jsonl/);
  });

  test('the built CLI is executable and survives a reader that closes the pipe early', () => {
    const main = compiledCli();
    expect(fs.statSync(main).mode & 0o111).not.toBe(0);
    const r = spawnSync('bash', ['-c', `set -o pipefail; "${main}" run "${DEFAULT_SCENARIO}" | head -1`], { encoding: 'utf8' });
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    expect(r.stdout).toMatch(/^scenario default on soc minimal/);
  });
});
