/**
 * A lackey trace of a real program replays through the CPU MMU (issue 6 acceptance):
 * made here with valgrind when the machine has it, otherwise the checked-in sample.
 */
import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { run } from '../../scenario/run';
import { newParseCounts, parseLackey, fileLines } from '../../sim/devices/memTrace';
import { MINIMAL, REPO, writeTemp } from '../helpers/configFiles';

function valgrindTrace(): string | null {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-lackey-'));
  const file = path.join(dir, 'ls.lackey');
  try {
    execFileSync('valgrind', ['--tool=lackey', '--trace-mem=yes', `--log-file=${file}`, '/bin/ls', '/'], { stdio: 'ignore', timeout: 60_000 });
    return file;
  } catch {
    return null;
  }
}

test('a lackey trace of a real program replays through the CPU MMU with its TLB and walk counts reported', () => {
  const trace = valgrindTrace() ?? path.join(REPO, 'soc-configs', 'traces', 'true-lackey.txt');
  // Expected counts straight from the trace text, independently of the replay.
  let loads = 0;
  let stores = 0;
  const pages = new Set<number>();
  const counts = newParseCounts();
  for (const r of parseLackey(fileLines(trace), { counts })) {
    if (r.op === 0 || r.op === 2) loads++;
    if (r.op === 1 || r.op === 2) stores++;
    for (let p = Math.floor(r.addr / 4096); p <= Math.floor((r.addr + r.size - 1) / 4096); p++) pages.add(p);
  }
  expect(loads + stores).toBeGreaterThan(500);

  const scenario = writeTemp({
    name: 'lackey_replay', soc: MINIMAL, seed: 1,
    jobs: [{ kind: 'cpu-trace', name: 'prog', core: 'cpu0', trace }],
  });
  const out = run(scenario);
  const s = out.stats as Record<string, number>;
  expect(out.jobs[0].done).toBe(true);
  expect(s['soc.cpu0.loads']).toBe(loads);
  expect(s['soc.cpu0.stores']).toBe(stores);
  expect(s['soc.cpu0.faults']).toBe(0);
  expect(out.jobs[0].detail.pages).toBe(pages.size);
  // The 1024-entry L2 TLB holds every page of a small program: one walk per page, plus one
  // for the kernel's linear map, through which the process's pages were cleared.
  expect(s['soc.cpu_mmu.walker.walks']).toBe(pages.size + 1);
  expect(s['soc.cpu_mmu.cpu0.l1tlb.misses']).toBeGreaterThanOrEqual(pages.size);
  expect(s['soc.cpu_mmu.cpu0.l1tlb.hits']).toBeGreaterThan(0);
});
