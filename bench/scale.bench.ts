/**
 * Does host cost grow linearly with simulated work (issue 16, "scale with work")?
 *
 * Two workloads at three sizes each: the default scenario's DMA copy of 16, 64 and 256 MiB
 * (src, dst and the init fill resized with --set overrides) and the NIC receive ring
 * (server-io-nic-ring-1024) at 10^4, 10^5 and 10^6 packets. Each size runs in a fresh
 * Node process, so its RSS is its own: the child first runs the workload at a small size
 * (JIT warm-up and the one-off costs of loading code), then times the measured size.
 *
 * Per size it prints host time per unit of work and the RSS left after subtracting the
 * simulated memory the run touched (4 KiB frames of PhysicalMemory): that remainder is
 * socsim's own footprint and must stay flat as the work grows. Per workload it prints the
 * spread of per-unit cost across sizes (largest / smallest, linear when <= 1.10).
 * Prints; never asserts.
 */
import { spawnSync } from 'child_process';
import { resolveScenario } from '../scenario/resolve';
import { runLoaded } from '../scenario/run';
import { compiledScript } from './paths';
import type { BenchResult } from './result';

const MiB = 1024 * 1024;

interface Workload {
  name: string;
  /** What one unit of work is, for the printed figures. */
  unit: string;
  sizes: number[];
  warmUpSize: number;
  /** Scenario and overrides for `size` units. */
  scenario(size: number): { source: string; sets: string[] };
  /** Host cost is printed per this many units (µs per MiB, µs per packet). */
  perUnits: number;
  unitLabel: string;
}

const WORKLOADS: Workload[] = [
  {
    name: 'copy', unit: 'MiB copied', sizes: [16, 64, 256], warmUpSize: 4, perUnits: 1, unitLabel: 'MiB',
    scenario: (mib) => {
      const bytes = mib * MiB;
      // Destination one row (8 KiB) past the end of the source, as in default.json.
      const dst = 0x8000_0000 + bytes + 8192;
      return {
        source: 'default',
        sets: [`scenario.init[0].bytes=${bytes}`, `scenario.jobs.copy16m.bytes=${bytes}`, `scenario.jobs.copy16m.dst=${dst}`],
      };
    },
  },
  {
    name: 'nic_rx', unit: 'packets offered', sizes: [1e4, 1e5, 1e6], warmUpSize: 2000, perUnits: 1, unitLabel: 'packet',
    scenario: (packets) => ({ source: 'server-io-nic-ring-1024', sets: [`scenario.jobs.rx.rx.packets=${packets}`] }),
  },
];

interface PointFigures {
  hostSecs: number;
  rssBytes: number;
  simulatedBytes: number;
  events: number;
}

/** In the child: warm up, then run the measured size once. */
function measurePoint(w: Workload, size: number): PointFigures {
  const warm = w.scenario(w.warmUpSize);
  runLoaded(resolveScenario(warm.source, warm.sets));
  const { source, sets } = w.scenario(size);
  const loaded = resolveScenario(source, sets);
  const t0 = process.hrtime.bigint();
  const out = runLoaded(loaded);
  const hostSecs = Number(process.hrtime.bigint() - t0) / 1e9;
  for (const j of out.jobs) if (!j.done || j.status !== 'ok') throw new Error(`scale bench: job ${j.name} failed at size ${size}`);
  // The simulated memory stays reachable through `out` while RSS is read.
  const rssBytes = process.memoryUsage().rss;
  return { hostSecs, rssBytes, simulatedBytes: out.soc.physmem.framesAllocated * 4096, events: out.events };
}

function runChild(w: Workload, size: number): PointFigures {
  const r = spawnSync(process.execPath, [compiledScript(__filename), 'point', w.name, String(size)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`scale bench: ${w.name} at ${size} exited ${r.status}: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as PointFigures;
}

export function runScaleBench(): BenchResult[] {
  const results: BenchResult[] = [];
  for (const w of WORKLOADS) {
    const perUnit: number[] = [];
    const overhead: number[] = [];
    for (const size of w.sizes) {
      const p = runChild(w, size);
      const usPerUnit = (p.hostSecs * 1e6) / (size / w.perUnits);
      perUnit.push(usPerUnit);
      overhead.push(p.rssBytes - p.simulatedBytes);
      results.push({
        name: `scale.${w.name}.${size}.host_us_per_${w.unitLabel.toLowerCase()}`, value: usPerUnit, unit: `µs per ${w.unitLabel}`,
        note: `${size} ${w.unit}: ${p.hostSecs.toFixed(2)} s host, ${p.events} events`,
      });
      results.push({
        name: `scale.${w.name}.${size}.rss_minus_simulated`, value: (p.rssBytes - p.simulatedBytes) / MiB, unit: 'MiB',
        note: `RSS ${(p.rssBytes / MiB).toFixed(0)} MiB, simulated memory touched ${(p.simulatedBytes / MiB).toFixed(0)} MiB`,
      });
    }
    const spread = Math.max(...perUnit) / Math.min(...perUnit);
    results.push({
      name: `scale.${w.name}.cost_spread`, value: spread, unit: '× (max/min per-unit host cost)',
      note: spread <= 1.1 ? `linear within 10% over ${w.sizes.join(', ')}` : `NOT linear within 10% over ${w.sizes.join(', ')}`,
    });
    results.push({
      name: `scale.${w.name}.rss_growth`, value: (overhead[overhead.length - 1] - overhead[0]) / MiB, unit: 'MiB',
      note: `growth of RSS minus simulated memory from ${w.sizes[0]} to ${w.sizes[w.sizes.length - 1]} ${w.unit}`,
    });
  }
  return results;
}

if (require.main === module) {
  if (process.argv[2] === 'point') {
    const w = WORKLOADS.find((x) => x.name === process.argv[3]);
    if (!w) throw new Error(`scale bench: no workload ${process.argv[3]}`);
    console.log(JSON.stringify(measurePoint(w, Number(process.argv[4]))));
  } else {
    const { formatResult } = require('./result') as typeof import('./result');
    for (const r of runScaleBench()) console.log(formatResult(r));
  }
}
