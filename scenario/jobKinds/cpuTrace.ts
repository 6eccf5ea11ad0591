import * as path from 'path';
import { z } from 'zod';
import type { CpuTraceResult } from '../../sim/devices/cpuCore';
import { readTraceFile } from '../../sim/devices/memTrace';
import { inputFileProblem } from '../../sim/engine/inputFile';
import { Name } from '../../sim/soc/schemaTypes';
import { UserProcess } from '../../drivers/devices/cpuProcess';
import { defineJobKind, jobFields, jobPlatform, runningJob } from '../jobSpec';
import type { JobResult } from '../jobTypes';

/** ASIDs of trace processes: 1000 + the core's index (deterministic, clear of the platform's). */
const PROCESS_ASID_BASE = 1000;

/** `cpu-trace`: a lackey or compact trace replayed by a user process on a CPU core (its pages mapped before the run). */
export const cpuTraceJobKind = defineJobKind({
  spec: jobFields('cpu-trace', {
    core: Name.describe('a CPU core declared under cpuMmus[].cores'),
    trace: z.string().min(1).describe('trace file, relative to the scenario: valgrind lackey --trace-mem=yes output or the compact socsim format'),
    includeFetches: z.boolean().default(false).describe('replay instruction fetches (lackey "I" records) as loads'),
  }),
  target: { field: 'core', exclusive: true },
  fastForward: true,
  check: (j, c) => {
    const trace = path.resolve(c.scenarioDir, j.trace);
    // Streamed, so any size; but a FIFO would block and a device never ends.
    const problem = inputFileProblem(trace);
    return problem ? [[['trace'], `${problem}: ${trace}`]] : [];
  },
  inputs: (j) => [j.trace],
  start: (env, job) => {
    const { ctx, soc } = env;
    const platform = jobPlatform(env, job);
    const point = soc.corePorts.get(job.core)!;
    const cpu = soc.core(job.core);
    const file = path.resolve(env.scenarioDir, job.trace);
    const opts = { includeFetches: job.includeFetches, source: file };
    // The process's pages exist before it runs (its page faults, done up front).
    const process = new UserProcess(platform, point.mmu, PROCESS_ASID_BASE + [...soc.corePorts.keys()].indexOf(job.core));
    const addrs = function* () {
      for (const r of readTraceFile(file, opts)) {
        yield r.addr;
        yield r.addr + r.size - 1;
      }
    };
    process.prefault(addrs());
    ctx.stats.scope(`scenario.${job.name}`).counter('pages', 'pages of the process (mapped before the run)').value = process.residentPages;
    env.atExit.push(() => process.exit());
    let result: CpuTraceResult | null = null;
    return runningJob(job, ctx, (done) => {
      process.activate();
      cpu.runTrace(readTraceFile(file, opts), (r) => {
        result = r;
        done();
      });
    }, (): JobResult['detail'] => {
      const r = result as CpuTraceResult | null;
      return r ? { records: r.records, loads: r.loads, stores: r.stores, faults: r.faults, pages: process.residentPages } : { pages: process.residentPages };
    });
  },
});
