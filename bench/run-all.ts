/**
 * Runs every benchmark and prints one line per figure: `name: value unit (note)`.
 * Run compiled: `npm run bench` (= `tsc -p tsconfig.build.json && node dist/bench/run-all.js`).
 * Add new benches to BENCHES.
 */
import { runDmaBench } from './dma.bench';
import { runEngineBench } from './engine.bench';
import { runIovaBench } from './iova.bench';
import { runMappingsBench } from './mappings.bench';
import { runNvkmBench } from './nvkm.bench';
import { runScaleBench } from './scale.bench';
import { runScenarioBench } from './scenario.bench';
import { runStatsBench } from './stats.bench';
import { runSweepBench } from './sweep.bench';
import { runTlbBench } from './tlb.bench';
import { runTranslationBench } from './translation.bench';
import { runVcmBench } from './vcm.bench';
import { formatResult, type BenchResult } from './result';

const BENCHES: { name: string; run: () => BenchResult[] | Promise<BenchResult[]> }[] = [
  { name: 'engine', run: runEngineBench },
  { name: 'stats', run: runStatsBench },
  { name: 'scenario', run: () => runScenarioBench() },
  { name: 'tlb', run: runTlbBench },
  { name: 'translation', run: runTranslationBench },
  { name: 'nvkm', run: runNvkmBench },
  { name: 'vcm', run: () => runVcmBench() },
  { name: 'iova', run: runIovaBench },
  { name: 'dma', run: () => runDmaBench() },
  { name: 'sweep', run: runSweepBench },
  { name: 'scale', run: runScaleBench },
  { name: 'mappings', run: runMappingsBench },
];

export async function runAll(): Promise<BenchResult[]> {
  const all: BenchResult[] = [];
  for (const b of BENCHES) {
    for (const r of await b.run()) {
      console.log(formatResult(r));
      all.push(r);
    }
  }
  return all;
}

if (require.main === module) void runAll();
