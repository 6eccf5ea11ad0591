import { spawnSync } from 'child_process';
import * as path from 'path';
import { compiledCli } from '../helpers/compiledCli';

/**
 * `npm run bench` runs each bench in its own process (bench/run-all.ts). Through the
 * compiled script, as npm runs it: one bench by name prints its figures in the
 * `name: value unit (note)` format; an unknown name fails, naming the benches there are.
 */
const RUN_ALL = () => path.join(path.dirname(compiledCli()), '..', 'bench', 'run-all.js');

test('run-all --bench NAME runs that bench alone and prints its figures', () => {
  const r = spawnSync(process.execPath, [RUN_ALL(), '--bench', 'nvkm'], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  const lines = r.stdout.trim().split('\n');
  expect(lines.length).toBeGreaterThanOrEqual(4);
  for (const line of lines) expect(line).toMatch(/^nvkm\.[a-z0-9_.]+: [0-9.]+ \S.* \(.+\)$/);
  // The 1 GiB of 2 MiB PTEs: 512 entries and the tables above them.
  expect(r.stdout).toMatch(/^nvkm\.map_1g_2m\.cold: [0-9.]+ ms \(gp100, 512 × 2 MiB PTEs, 516 entries written, 1 flush, tables allocated\)$/m);
}, 60_000);

test('run-all --bench with an unknown name exits 1 and lists the benches', () => {
  const r = spawnSync(process.execPath, [RUN_ALL(), '--bench', 'nope'], { encoding: 'utf8' });
  expect(r.status).toBe(1);
  expect(r.stderr).toMatch(/run-all: no bench nope \(have engine, stats, scenario, tlb, translation, nvkm, vcm, iova, dma, sweep, scale, mappings, fastForward\)/);
  expect(r.stderr).not.toMatch(/\n\s+at /); // the message, not a stack trace
});

test('every bench run-all lists names a module that exports its function', () => {
  // Required from the sources (ts-jest): the runner loads the compiled twins by the same relative paths.
  const { BENCHES } = require('../../bench/run-all') as typeof import('../../bench/run-all');
  expect(BENCHES.length).toBeGreaterThanOrEqual(13);
  for (const b of BENCHES) {
    const mod = require(path.join('..', '..', 'bench', b.module)) as Record<string, unknown>;
    expect([b.name, typeof mod[b.fn]]).toEqual([b.name, 'function']);
  }
});
