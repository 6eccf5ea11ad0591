/**
 * Runs every benchmark and prints one line per figure: `name: value unit (note)`.
 * Run compiled: `npm run bench` (= `tsc -p tsconfig.build.json && node dist/bench/run-all.js`).
 * Add new benches to BENCHES.
 *
 * Each bench runs in its own Node process (`run-all.js --bench NAME`), as JMH forks a JVM
 * per benchmark: run one after another in one process, a bench measured code that earlier
 * benches had made polymorphic (the default scenario ran at 0.60 s after the engine bench
 * against 0.41-0.44 s on its own). A user's run is one workload per process, so that is
 * what each figure measures.
 */
import { spawnSync } from 'child_process';
import { compiledScript } from './paths';
import { formatResult, type BenchResult } from './result';

/** Each bench: its module (loaded only in its own process) and the function that runs it. */
export const BENCHES: readonly { name: string; module: string; fn: string }[] = [
  { name: 'engine', module: './engine.bench', fn: 'runEngineBench' },
  { name: 'stats', module: './stats.bench', fn: 'runStatsBench' },
  { name: 'scenario', module: './scenario.bench', fn: 'runScenarioBench' },
  { name: 'tlb', module: './tlb.bench', fn: 'runTlbBench' },
  { name: 'translation', module: './translation.bench', fn: 'runTranslationBench' },
  { name: 'nvkm', module: './nvkm.bench', fn: 'runNvkmBench' },
  { name: 'vcm', module: './vcm.bench', fn: 'runVcmBench' },
  { name: 'iova', module: './iova.bench', fn: 'runIovaBench' },
  { name: 'dma', module: './dma.bench', fn: 'runDmaBench' },
  { name: 'sweep', module: './sweep.bench', fn: 'runSweepBench' },
  { name: 'scale', module: './scale.bench', fn: 'runScaleBench' },
  { name: 'mappings', module: './mappings.bench', fn: 'runMappingsBench' },
  { name: 'fastForward', module: './fastForward.bench', fn: 'runFastForwardBench' },
];

/** Runs one bench in this process and prints its figures. */
async function runOne(name: string): Promise<void> {
  const bench = BENCHES.find((b) => b.name === name);
  if (!bench) throw new Error(`run-all: no bench ${name} (have ${BENCHES.map((b) => b.name).join(', ')})`);
  // Only this bench's code is loaded: loading them all made the default scenario slower (0.55-0.61 s against 0.39-0.46 s).
  const run = (require(bench.module) as Record<string, () => BenchResult[] | Promise<BenchResult[]>>)[bench.fn];
  for (const r of await run()) console.log(formatResult(r));
}

/** Runs every bench, each in a child process; returns false if one failed. */
export function runAll(): boolean {
  let ok = true;
  for (const b of BENCHES) {
    const r = spawnSync(process.execPath, [compiledScript(__filename), '--bench', b.name], { stdio: 'inherit' });
    if (r.status !== 0) {
      console.error(`run-all: bench ${b.name} failed (exit ${r.status ?? r.signal})`);
      ok = false;
    }
  }
  return ok;
}

if (require.main === module) {
  const i = process.argv.indexOf('--bench');
  if (i >= 0) {
    runOne(process.argv[i + 1]).catch((e: unknown) => {
      console.error(e instanceof Error && e.message.startsWith('run-all:') ? e.message : e);
      process.exitCode = 1;
    });
  } else if (!runAll()) {
    process.exitCode = 1;
  }
}
