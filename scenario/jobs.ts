import type { Rng } from '../sim/engine/rng';
import type { Soc } from '../sim/soc/builder';
import { jobKind } from './jobRegistry';
import type { JobEnv } from './jobSpec';
import type { InitFill, Job } from './schema';
import type { RunningJob } from './jobTypes';

export type { JobResult, RunningJob } from './jobTypes';

const FILL_CHUNK = 1 << 20;

/** Functional (zero-time) initialisation of memory before the run starts. */
export function applyFill(soc: Soc, fill: InitFill, rng: Rng): void {
  const buf = new Uint8Array(Math.min(FILL_CHUNK, fill.bytes));
  for (let off = 0; off < fill.bytes; off += buf.length) {
    const n = Math.min(buf.length, fill.bytes - off);
    const chunk = buf.subarray(0, n);
    if (fill.pattern === 'random') rng.fillBytes(chunk);
    else if (fill.pattern === 'zero') chunk.fill(0);
    else for (let i = 0; i < n; i++) chunk[i] = (off + i) & 0xff;
    soc.physmem.write(fill.addr + off, chunk);
  }
}

/** Starts a job through its kind's registry entry (it registers its stats under `scenario.<name>`). */
export function startJob(env: JobEnv, job: Job): RunningJob {
  return jobKind(job.kind).start(env, job);
}
