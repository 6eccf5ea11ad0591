/**
 * Fast-forward speed-up (issue 16): a GPU texture sweep (mobile-gpu-texture-4k, a
 * 4 MiB texture swept 4 times) whose first 3 passes are warm-up. Timed to completion:
 * the full timing run, and the run that fast-forwards the warm-up passes in atomic mode
 * (`fastForwardAccesses` = 3 passes) and times the last pass. Both simulate the same
 * last pass in timing mode; the ratio of host times is the speed-up. Prints; never asserts.
 */
import { loadScenario } from '../scenario/load';
import { parseOverride } from '../scenario/overrides';
import { runLoaded, type RunOutput } from '../scenario/run';
import { bundled } from './paths';
import type { BenchResult } from './result';

const PASSES = 4;
const HEIGHT = 1024;
const ACCESSES_PER_PASS = (4096 * HEIGHT) / 64;

function timed(sets: string[]): { out: RunOutput; seconds: number } {
  const loaded = loadScenario(bundled('scenarios', 'mobile-gpu-texture-4k.json'), [
    `scenario.jobs.sweep.height=${HEIGHT}`, `scenario.jobs.sweep.passes=${PASSES}`, 'scenario.buffers.texture.size=4MiB', ...sets,
  ].map(parseOverride));
  const t0 = process.hrtime.bigint();
  const out = runLoaded(loaded);
  return { out, seconds: Number(process.hrtime.bigint() - t0) / 1e9 };
}

export function runFastForwardBench(): BenchResult[] {
  const warm = (PASSES - 1) * ACCESSES_PER_PASS;
  const timing = timed([]);
  const ff = timed([`scenario.fastForwardAccesses=${warm}`]);
  const note = `gpu texture 4k, ${PASSES} passes of ${ACCESSES_PER_PASS} accesses, first ${PASSES - 1} fast-forwarded`;
  return [
    { name: 'fast_forward.timing_run_s', value: timing.seconds, unit: 's', note: 'full timing run' },
    { name: 'fast_forward.ff_run_s', value: ff.seconds, unit: 's', note: `atomic phase ${ff.out.fastForward?.hostSeconds.toFixed(3)} s host for ${ff.out.fastForward?.accesses} accesses` },
    { name: 'fast_forward.speedup', value: timing.seconds / ff.seconds, unit: 'x', note },
  ];
}

if (require.main === module) {
  for (const r of runFastForwardBench()) console.log(`${r.name}: ${r.value} ${r.unit}${r.note ? ` (${r.note})` : ''}`);
}
