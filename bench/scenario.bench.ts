/**
 * Host speed of the default scenario (the DMA engine copying 16 MiB through the crossbar
 * to DDR4), in simulated bus transactions per host second, plus the simulated figures
 * for two buffer placements. Prints; never asserts.
 */
import { runLoaded, type RunOutput } from '../scenario/run';
import { loadScenario } from '../scenario/load';
import { bundled } from './paths';
import { median, type BenchResult } from './result';

/** Bus transactions issued by masters: one latency sample per transaction. */
function masterTransactions(out: RunOutput): number {
  let n = 0;
  for (const [k, v] of Object.entries(out.stats)) {
    if (/^soc\.[a-z0-9_]+\.txn_latency_ns\.samples$/.test(k)) n += v as number;
  }
  return n;
}

/**
 * Runs the default scenario `repeats` times in this process. The best run is the steady
 * speed (what a long run or a sweep's later points see); the first is a cold start, JIT
 * warm-up included, as a single `socsim run` pays it. Runs two and three were still
 * warming up (0.66, 0.58, 0.44, 0.45 s in one process), so best of 3 under-stated the
 * steady speed by 10-20%. Twelve runs, not six: on the shared 2-core VM the best of six
 * moved by ±5% from one bench run to the next (1.561, 1.645, 1.711 M txn/s in three
 * consecutive runs of this bench), as other tenants' load came and went; more runs give
 * the best a steadier chance at a quiet stretch. The median of the warm runs is printed
 * beside it: what a run sees under the machine's usual load.
 */
export function runScenarioBench(repeats = 12): BenchResult[] {
  const loaded = loadScenario(bundled('scenarios', 'default.json'));
  const times: number[] = [];
  let out: RunOutput | null = null;
  for (let i = 0; i < repeats; i++) {
    const t0 = process.hrtime.bigint();
    out = runLoaded(loaded);
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  const best = Math.min(...times);
  const warm = times.slice(1);
  const typical = median(warm);
  const txns = masterTransactions(out!);
  const results: BenchResult[] = [
    { name: 'scenario.default.bus_txn_per_s', value: txns / best / 1e6, unit: 'M txn/s', note: `${txns} transactions, best of ${repeats}: ${best.toFixed(3)} s` },
    { name: 'scenario.default.median_bus_txn_per_s', value: txns / typical / 1e6, unit: 'M txn/s', note: `median of the ${warm.length} runs after the first: ${typical.toFixed(3)} s` },
    { name: 'scenario.default.events_per_s', value: out!.events / best / 1e6, unit: 'M events/s', note: `${(out!.events / txns).toFixed(2)} events per transaction` },
    { name: 'scenario.default.first_run_s', value: times[0], unit: 's', note: `the first run in a fresh process (JIT warm-up included): ${(txns / times[0] / 1e6).toFixed(2)} M txn/s` },
  ];

  // Simulated (deterministic) effect of buffer placement on the open-page controller (minimal.json: FR-FCFS).
  for (const [label, dst] of [['bank_offset', 0x8100_2000], ['same_bank', 0x8400_0000]] as const) {
    const variant = { ...loaded, scenario: { ...loaded.scenario, jobs: loaded.scenario.jobs.map((j) => ({ ...j, dst })) } };
    const r = runLoaded(variant);
    results.push({
      name: `scenario.default.${label}.copy_gbps`, value: r.stats['scenario.copy16m.bandwidth_GBps'] as number, unit: 'GB/s (simulated)',
      note: `dst 0x${dst.toString(16)}, DRAM row hit rate ${(r.stats['soc.dram.row_hit_rate'] as number).toFixed(4)}, conflicts ${r.stats['soc.dram.row_conflicts']}`,
    });
  }
  return results;
}

if (require.main === module) {
  const { formatResult } = require('./result') as typeof import('./result');
  for (const r of runScenarioBench()) console.log(formatResult(r));
}
