import { spawn } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { allMutants, describeMutant, HOSTILE_VALUES, type Mutant } from './mutants';

/**
 * Issue 11's acceptance: every numeric and enum field of every bundled SoC config and
 * scenario, set to each hostile value, gives `socsim validate` and `socsim run --until
 * 1us` either a ConfigError naming the JSON path (exit 1) or a clean run (exit 0) —
 * never exit 2, a crash or a hang. The mutants run in two worker processes (one per core).
 */
const WORKERS = 2;
/** A mutant that shows no progress for this long counts as a hang. */
const MUTANT_TIMEOUT_MS = 30_000;
/** A run that needs more host memory than this is an out-of-memory failure, found fast. */
const WORKER_HEAP_MB = 1536;

interface Outcome { i: number; validate: number; run: number | null; message: string }

/**
 * Runs mutants [first, end) in child processes. A child that crashes, runs out of memory
 * or stalls on one mutant is killed; that mutant is recorded as a crash, and a new child
 * goes on with the next one.
 */
async function runRange(file: string, first: number, end: number, mutants: readonly Mutant[]): Promise<{ outcomes: Outcome[]; crashes: string[] }> {
  const outcomes: Outcome[] = [];
  const crashes: string[] = [];
  let next = first;
  while (next < end) {
    const r = await runChild(file, next, end - next);
    outcomes.push(...r.outcomes);
    const done = r.outcomes.length ? r.outcomes[r.outcomes.length - 1].i + 1 : next;
    if (done >= end) break;
    const culprit = r.lastStarted ?? next;
    crashes.push(`${describeMutant(mutants[culprit])}: ${r.timedOut ? `no progress for ${MUTANT_TIMEOUT_MS} ms` : `worker exited with ${r.code ?? r.signal}`} ${r.stderr.split('\n').slice(0, 3).join(' | ')}`);
    next = culprit + 1;
  }
  return { outcomes, crashes };
}

function runChild(file: string, first: number, count: number): Promise<{ outcomes: Outcome[]; lastStarted: number | null; code: number | null; signal: string | null; timedOut: boolean; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [`--max-old-space-size=${WORKER_HEAP_MB}`, require.resolve('ts-node/dist/bin.js'), '--transpile-only', path.join(__dirname, 'runMutants.ts'), file, String(first), String(count)], {
      cwd: path.resolve(__dirname, '..', '..'), stdio: ['ignore', 'pipe', 'pipe'],
    });
    const outcomes: Outcome[] = [];
    let lastStarted: number | null = null;
    let pending = '';
    let stderr = '';
    let timedOut = false;
    let timer = setTimeout(() => undefined, 0);
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, MUTANT_TIMEOUT_MS);
    };
    arm();
    child.stdout.on('data', (d) => {
      pending += d;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const l of lines.filter(Boolean)) {
        const o = JSON.parse(l);
        if ('start' in o) lastStarted = o.start;
        else outcomes.push(o);
      }
      arm();
    });
    child.stderr.on('data', (d) => { stderr = (stderr + d).slice(-4000); });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ outcomes, lastStarted, code, signal, timedOut, stderr });
    });
  });
}

/**
 * Mutants run by default: a sample this large, chosen by SOCSIM_FUZZ_SEED (default 1), so
 * CI stays about a minute; SOCSIM_FUZZ=all runs every mutant.
 */
const SAMPLE = 2000;

/**
 * `n` indices of [0, total) chosen by `seed` (a Fisher-Yates shuffle on mulberry32), in
 * order, with every group (`groupOf(i)`) represented: the first index of each group in
 * the shuffled order is taken first, then the earliest of the rest.
 */
function sampleIndices(total: number, n: number, seed: number, groupOf: (i: number) => string): number[] {
  const idx = Array.from({ length: total }, (_v, i) => i);
  if (n >= total) return idx;
  let a = seed >>> 0;
  const next = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  for (let i = 0; i < total - 1; i++) {
    const j = i + Math.floor(next() * (total - i));
    [idx[i], idx[j]] = [idx[j], idx[i]];
  }
  const seen = new Set<string>();
  const firsts = idx.filter((i) => !seen.has(groupOf(i)) && seen.add(groupOf(i)));
  const taken = new Set(firsts);
  const rest = idx.filter((i) => !taken.has(i)).slice(0, Math.max(0, n - firsts.length));
  return [...firsts, ...rest].sort((x, y) => x - y);
}

describe('config mutation: validate accepts ⇒ run runs', () => {
  const all: Mutant[] = allMutants();
  const seed = Number(process.env.SOCSIM_FUZZ_SEED ?? 1);
  const mutants: Mutant[] = process.env.SOCSIM_FUZZ === 'all' ? all : sampleIndices(all.length, SAMPLE, seed, (i) => all[i].scenario).map((i) => all[i]);
  let outcomes: Outcome[] = [];
  const crashes: string[] = [];

  beforeAll(async () => {
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-mutants-')), 'mutants.json');
    fs.writeFileSync(file, JSON.stringify(mutants));
    const per = Math.ceil(mutants.length / WORKERS);
    const results = await Promise.all(Array.from({ length: WORKERS }, (_v, w) => runRange(file, w * per, Math.min(mutants.length, (w + 1) * per), mutants)));
    for (const r of results) {
      outcomes.push(...r.outcomes);
      crashes.push(...r.crashes);
    }
    outcomes = outcomes.sort((a, b) => a.i - b.i);
  }, 600_000);

  test('covers every field of every bundled file with every hostile value', () => {
    expect(all.length).toBeGreaterThan(1000);
    expect(all.length % HOSTILE_VALUES.length).toBe(0);
    expect(mutants.length).toBe(process.env.SOCSIM_FUZZ === 'all' ? all.length : Math.min(SAMPLE, all.length));
    expect(new Set(mutants.map((m) => m.scenario)).size).toBe(fs.readdirSync(path.resolve(__dirname, '../../soc-configs/scenarios')).filter((f) => f.endsWith('.json')).length);
  });

  test('no mutant crashes, runs out of memory or hangs', () => {
    expect(crashes).toEqual([]);
    expect(outcomes.length).toBe(mutants.length);
  });

  test('no mutant makes validate or run exit 2 (an internal error)', () => {
    const internal = outcomes.filter((o) => o.validate === 2 || o.run === 2).map((o) => `${describeMutant(mutants[o.i])}: ${o.message.split('\n')[0]}`);
    expect(internal).toEqual([]);
  });

  test('every refusal names the JSON path', () => {
    const unnamed = outcomes
      .filter((o) => o.validate === 1 || o.run === 1)
      .filter((o) => !/: (soc|scenario)(\.|\[|:)/.test(o.message))
      .map((o) => `${describeMutant(mutants[o.i])}: ${o.message.split('\n')[0]}`);
    expect(unnamed).toEqual([]);
  });

  test('the mutants are not all refused: many hostile values are valid and run', () => {
    const ran = outcomes.filter((o) => o.run === 0).length;
    expect(ran).toBeGreaterThan(mutants.length / 10);
  });
});
