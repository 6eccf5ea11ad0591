import * as path from 'path';
import { main, type CliIO } from '../../cli/main';
import { loadScenario } from '../../scenario/load';
import { parseOverride } from '../../scenario/overrides';
import { runLoaded, type RunOutput } from '../../scenario/run';
import type { Soc } from '../../sim/soc/builder';

const SCENARIOS = path.join(__dirname, '../../soc-configs/scenarios');
const GPU = path.join(SCENARIOS, 'mobile-gpu-texture-4k.json');
const CPU = path.join(SCENARIOS, 'minimal-cpu-trace.json');
const DMA = path.join(SCENARIOS, 'default.json');
const NIC = path.join(SCENARIOS, 'server-io-nic-strict.json');

function run(file: string, sets: string[], inspect?: (soc: Soc) => void): RunOutput {
  return runLoaded(loadScenario(file, sets.map(parseOverride)), inspect ? { beforeTeardown: inspect } : {});
}

function collect(): CliIO & { stdout: string; stderr: string } {
  const io = { stdout: '', stderr: '', out: (t: string) => { io.stdout += t; }, err: (t: string) => { io.stderr += t; } };
  return io;
}

const stat = (o: RunOutput, name: string) => (o.stats as Record<string, number>)[name];

/** A small GPU sweep with one access in flight: the access order is the same in atomic and timing mode. */
const GPU_SERIAL = ['scenario.jobs.sweep.height=256', 'scenario.jobs.sweep.passes=1', 'scenario.buffers.texture.size=1MiB', 'soc.devices.gpu.maxOutstanding=1'];

describe('fast-forward: functional state equals timing mode', () => {
  test('GPU MMU L2 TLB (entries and LRU stamps) after a fast-forward of 6000 accesses equals a full timing run', () => {
    const state = (sets: string[]) => {
      let l2: string[] = [];
      const out = run(GPU, [...GPU_SERIAL, ...sets], (soc) => { l2 = soc.iommu('gpu_mmu').l2.describeEntries(); });
      return { out, l2 };
    };
    const timing = state([]);
    const ff = state(['scenario.fastForwardAccesses=6000']);
    expect(ff.out.fastForward).toMatchObject({ switched: true, accesses: 6000 });
    expect(stat(ff.out, 'sim.fast_forward.accesses')).toBe(6000);
    // The timing phase issued the rest of the sweep (16384 accesses in all).
    expect(stat(ff.out, 'soc.gpu.issued')).toBe(16384 - 6000);
    expect(timing.l2.length).toBe(256);
    expect(ff.l2).toEqual(timing.l2);
    // And a fast-forward through the whole sweep (it parks after its last access) leaves the same TLB.
    const all = state(['scenario.fastForwardAccesses=16384']);
    expect(all.out.fastForward?.switched).toBe(true);
    expect(all.l2).toEqual(timing.l2);
  });

  test('CPU cache lines and CPU MMU L2 TLB after a fast-forwarded trace equal a timing replay (blocking core, no store buffer)', () => {
    const sets = ['soc.cpuMmus.cpu_mmu.cores.cpu0.storeBuffer=0'];
    const state = (more: string[]) => {
      let lines: string[] = [];
      let tlb: string[] = [];
      const out = run(CPU, [...sets, ...more], (soc) => {
        lines = soc.cpuCache().describeLines();
        tlb = soc.cpuMmu('cpu_mmu').l2.describeEntries();
      });
      return { out, lines, tlb };
    };
    const timing = state([]);
    const ff = state(['scenario.fastForwardAccesses=400']);
    expect(ff.out.fastForward?.switched).toBe(true);
    // A record's transactions are not split across the switch: at least the budget, at most one record more.
    expect(ff.out.fastForward!.accesses).toBeGreaterThanOrEqual(400);
    expect(ff.out.fastForward!.accesses).toBeLessThan(410);
    expect(timing.lines.length).toBeGreaterThan(50);
    expect(ff.lines).toEqual(timing.lines);
    expect(ff.tlb).toEqual(timing.tlb);
  });
});

describe('fast-forward: the timing phase matches a full timing run', () => {
  // A 2 MiB texture swept twice by 8 streams with 256 outstanding accesses: the window
  // after the switch is compared with the same window of a timing run (stats reset by
  // `warmup` at 150 us, where the timing run has issued N accesses; the fast-forward
  // runs exactly N accesses atomically). Tolerance 5%: the windows differ only by the
  // accesses in flight at the timing run's reset (up to 256 of ~55 000) and the
  // pipeline's fill at the switch (the fast-forwarded run starts with empty queues).
  const sets = ['scenario.jobs.sweep.height=512', 'scenario.buffers.texture.size=2MiB'];
  test('bandwidth, mean latency and TLB hit rates within 5%', () => {
    const timing = run(GPU, [...sets, 'scenario.warmup=150us']);
    const total = 2 * (4096 * 512) / 64;
    const n = total - stat(timing, 'soc.gpu.issued');
    expect(n).toBeGreaterThan(1000);
    const ff = run(GPU, [...sets, `scenario.fastForwardAccesses=${n}`]);
    expect(ff.fastForward).toMatchObject({ switched: true, accesses: n });
    expect(stat(ff, 'soc.gpu.issued')).toBe(total - n);
    for (const name of ['soc.gpu.throughput_GBps', 'soc.gpu.latency_ns.mean', 'soc.gpu_mmu.l2tlb.hit_rate', 'soc.gpu_mmu.gpu.l1tlb.hit_rate']) {
      const want = stat(timing, name);
      expect(Math.abs(stat(ff, name) - want) / want).toBeLessThan(0.05);
    }
    // The atomic phase was cheaper in simulated time than the timing run's same accesses (no contention).
    expect(ff.fastForward!.switchTick).toBeLessThan(150e6);
  });

  test('a DMA copy fast-forwarded by time continues in timing mode and is verified', () => {
    const sets = ['scenario.jobs.copy16m.bytes=1MiB', 'scenario.init[0].bytes=1MiB'];
    const timing = run(DMA, sets);
    const ff = run(DMA, [...sets, 'scenario.fastForward=20us']);
    expect(ff.fastForward?.switched).toBe(true);
    expect(ff.fastForward!.switchTick).toBeGreaterThanOrEqual(20e6);
    expect(ff.jobs[0]).toMatchObject({ status: 'ok', verified: true });
    // Bursts after the switch: bytes_written counts the timing phase only.
    const bytesAfter = stat(ff, 'soc.dma0.bytes_written');
    expect(bytesAfter).toBeGreaterThan(0);
    expect(bytesAfter).toBeLessThan(1 << 20);
    expect(bytesAfter + ff.fastForward!.accesses / 2 * 64).toBe(1 << 20);
    // Timing-phase bandwidth of the copy engine within 10% of the full timing run's (a DRAM-bound copy).
    const bw = (o: RunOutput, bytes: number) => bytes / ((o.endTick - (o.fastForward?.switchTick ?? 0)) / 1000);
    const want = bw(timing, stat(timing, 'soc.dma0.bytes_written'));
    expect(Math.abs(bw(ff, bytesAfter) - want) / want).toBeLessThan(0.1);
  });
});

describe('fast-forward: determinism and options', () => {
  test('same config and seed give identical stats', () => {
    const a = run(GPU, [...GPU_SERIAL, 'soc.devices.gpu.maxOutstanding=16', 'scenario.fastForward=30us']);
    const b = run(GPU, [...GPU_SERIAL, 'soc.devices.gpu.maxOutstanding=16', 'scenario.fastForward=30us']);
    expect(a.fastForward?.switched).toBe(true);
    expect(JSON.stringify(a.stats)).toBe(JSON.stringify(b.stats));
    expect(a.events).toBe(b.events);
  });

  test('without the option nothing changes: no sim.fast_forward stats', () => {
    const o = run(GPU, GPU_SERIAL);
    expect(o.fastForward).toBeNull();
    expect(Object.keys(o.stats).some((k) => k.startsWith('sim.fast_forward'))).toBe(false);
  });

  test.each([
    [['--fast-forward', '0us'], /--fast-forward: must be a positive time/],
    [['--fast-forward', '-5us'], /--fast-forward: expected a time/],
    [['--fast-forward', 'soon'], /--fast-forward: expected a time/],
    [['--fast-forward', '200'], /--fast-forward: give a unit/],
    [['--fast-forward-accesses', '0'], /--fast-forward-accesses: must be a positive integer/],
    [['--fast-forward-accesses', '-3'], /--fast-forward-accesses: must be a positive integer/],
    [['--fast-forward-accesses', '1.5'], /--fast-forward-accesses: must be a positive integer/],
    [['--fast-forward', '1us', '--fast-forward-accesses', '10'], /give one of them/],
    [['--fast-forward', '1us', '--mode', 'atomic'], /scenario\.mode: --fast-forward switches the run from atomic to timing mode.*--mode atomic/],
    [['--fast-forward', '10us', '--set', 'scenario.until=5us'], /scenario\.until: must be after the fast-forward time/],
  ])('run %j: exit 1 with a clear error', async (args, message) => {
    const io = collect();
    expect(await main(['run', CPU, '--no-progress', ...args], io)).toBe(1);
    expect(io.stderr).toMatch(message);
  });

  test('a device that cannot fast-forward: run and validate give the same ConfigError naming the job and device', async () => {
    const r = collect();
    expect(await main(['run', NIC, '--no-progress', '--fast-forward', '10us'], r)).toBe(1);
    expect(r.stderr).toMatch(/scenario\.jobs\[0\]\.kind: job "rx" \(nic\) on device "nic" cannot fast-forward, which --fast-forward asks for: the NIC model has no atomic path/);
    const v = collect();
    expect(await main(['validate', NIC, '--set', 'scenario.fastForward=10us'], v)).toBe(1);
    expect(v.stderr).toMatch(/job "rx" \(nic\) on device "nic" cannot fast-forward, which the scenario's "fastForward" asks for: the NIC model has no atomic path/);
    const z = collect();
    expect(await main(['validate', CPU, '--set', 'scenario.fastForwardAccesses=0'], z)).toBe(1);
    expect(z.stderr).toMatch(/fastForwardAccesses/);
  });

  test('the CLI prints what the fast-forward skipped', async () => {
    const io = collect();
    expect(await main(['run', CPU, '--no-progress', '--fast-forward-accesses', '500', '--stats-filter', 'sim.fast_forward.*'], io)).toBe(0);
    expect(io.stdout).toMatch(/fast-forward: [\d.]+ \w+ in atomic mode \(50\d accesses, \d+ events, [\d.]+ s host time\), then timing mode/);
    expect(io.stdout).toMatch(/sim\.fast_forward\.switched\s+1/);
  });
});
