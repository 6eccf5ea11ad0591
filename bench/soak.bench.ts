/**
 * Soak benchmark (issue 15; not a timed test, not in `npm run bench`): a 10^8-access run
 * of the bundled mobile-gpu-texture-4k scenario — the GPU sweeping a 16 MiB texture
 * through the nvkm GPU MMU, 262144 accesses of 64 bytes per pass, so 382 passes are
 * 1.0014 × 10^8 accesses — in timing mode (about 4 events per access, so RSS is
 * sampled often; atomic mode batches accesses into few events), with a JSON Lines trace of the cheap map and fault
 * categories. Prints RSS sampled between event slices (first / last / max: it must stay
 * flat), accesses per host second, and the trace's end record, which must say
 * "complete". Exits 1 if it does not, or if RSS grew by more than half between the
 * first sample and the last.
 *
 *   npm run bench:soak                 # 10^8 accesses
 *   node dist/bench/soak.bench.js 1e7  # a shorter soak
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { resolveScenario } from '../scenario/resolve';
import { runLoaded } from '../scenario/run';

const ACCESSES_PER_PASS = (16 * 1024 * 1024) / 64;

function mib(bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`;
}

function lastLine(file: string): string {
  const text = fs.readFileSync(file, 'utf8').trimEnd();
  return text.slice(text.lastIndexOf('\n') + 1);
}

function main(): number {
  const target = Number(process.argv[2] ?? 1e8);
  if (!(target >= 1)) throw new Error(`accesses: a positive number, got ${process.argv[2]}`);
  const passes = Math.ceil(target / ACCESSES_PER_PASS);
  const loaded = resolveScenario('mobile-gpu-texture-4k', [`scenario.jobs.sweep.passes=${passes}`]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-soak-'));
  const trace = path.join(dir, 'trace.jsonl');
  const rss: number[] = [];
  const sampleEvery = 16; // slices of 2^18 events
  let slices = 0;
  console.log(`soak: mobile-gpu-texture-4k, ${passes} passes (${passes * ACCESSES_PER_PASS} GPU accesses), timing mode, trace ${trace} (map,fault)`);
  const t0 = process.hrtime.bigint();
  const out = runLoaded(loaded, {
    tracePath: trace,
    traceCategories: ['map', 'fault'],
    onProgress: () => {
      if (slices++ % sampleEvery === 0) rss.push(process.memoryUsage().rss);
    },
  });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  rss.push(process.memoryUsage().rss);
  const accesses = out.stats['soc.gpu.latency_ns.samples'] as number;
  const end = JSON.parse(lastLine(trace)) as { cat: string; reason: string };
  fs.rmSync(dir, { recursive: true, force: true });

  const first = rss[0];
  const last = rss[rss.length - 1];
  const max = Math.max(...rss);
  console.log(`accesses        ${accesses} in ${seconds.toFixed(1)} s host time: ${(accesses / seconds / 1e6).toFixed(3)} M accesses/s (${out.events} events)`);
  console.log(`rss             first ${mib(first)}, last ${mib(last)}, max ${mib(max)} (${rss.length} samples, one per ${sampleEvery} × 2^18 events)`);
  console.log(`trace end       ${JSON.stringify(end)}`);
  let ok = true;
  if (end.cat !== 'end' || end.reason !== 'complete') {
    console.log('FAIL: the trace does not end with reason "complete"');
    ok = false;
  }
  if (last > 1.5 * first) {
    console.log(`FAIL: RSS grew from ${mib(first)} to ${mib(last)}`);
    ok = false;
  }
  return ok ? 0 : 1;
}

process.exitCode = main();
