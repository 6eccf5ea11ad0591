import type { SimContext } from '../sim/engine/context';
import type { Rng } from '../sim/engine/rng';
import { STATUS_NAMES, Status } from '../sim/bus/transaction';
import type { Soc } from '../sim/soc/builder';
import type { DmaCopyResult } from '../sim/devices/dmaEngine';
import { SimInvariantError } from '../sim/engine/errors';
import { startDeviceJob, type DeviceJobEnv } from './deviceJobs';
import type { InitFill, Job } from './schema';
import type { JobResult, RunningJob } from './jobTypes';

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

/** Schedules a job on the SoC and registers its stats under `scenario.<name>`. */
export function startJob(ctx: SimContext, soc: Soc, job: Job, devices: DeviceJobEnv | null): RunningJob {
  if (job.kind === 'dma-copy') return startDmaCopy(ctx, soc, job);
  if (!devices) throw new SimInvariantError(`job ${job.name}: device jobs need the booted platform`);
  return startDeviceJob(devices, job);
}

function startDmaCopy(ctx: SimContext, soc: Soc, job: Extract<Job, { kind: 'dma-copy' }>): RunningJob {
  const dma = soc.dma(job.device);
  const scope = ctx.stats.scope(`scenario.${job.name}`);
  const sDone = scope.counter('done', '1 when the copy completed');
  const sOk = scope.counter('ok', '1 when the copy completed without error');
  const sBytes = scope.counter('bytes', 'bytes written to the destination');
  const sDuration = scope.counter('duration_ps', 'start to completion, ps');
  const sVerified = job.verify ? scope.counter('verified', '1 when destination bytes equal source bytes after the run') : null;
  scope.formula('bandwidth_gbps', 'bytes / duration, GB/s', () => sBytes.value / (sDuration.value / 1000));
  let result: DmaCopyResult | null = null;
  let started = false;
  let verified: boolean | null = null;

  ctx.engine.schedule(job.at, () => {
    started = true;
    dma.copy(job.src, job.dst, job.bytes, (r) => {
      result = r;
      sDone.value = 1;
      sOk.value = r.status === Status.Ok ? 1 : 0;
      sBytes.value = r.bytesWritten;
      sDuration.value = r.endTick - r.startTick;
    });
  });

  return {
    name: job.name,
    progress: () => (result ? 1 : started ? dma.progress : 0),
    isDone: () => result !== null,
    result: (): JobResult => {
      if (result && sVerified && verified === null) {
        verified = sameBytes(soc, job.src, job.dst, job.bytes);
        sVerified.value = verified ? 1 : 0;
      }
      const r = result as DmaCopyResult | null;
      const detail: JobResult['detail'] = r
        ? { bytes_written: r.bytesWritten, fault_addr: r.faultAddr === null ? null : `0x${r.faultAddr.toString(16)}`, start_ps: r.startTick, end_ps: r.endTick }
        : {};
      return {
        name: job.name,
        kind: job.kind,
        done: r !== null,
        status: r ? STATUS_NAMES[r.status] : 'not_finished',
        verified: job.verify ? verified : null,
        detail,
      };
    },
  };
}

/** Compares two memory ranges through the functional path (no time, no stats). */
function sameBytes(soc: Soc, a: number, b: number, bytes: number): boolean {
  const n = Math.min(FILL_CHUNK, bytes);
  const bufA = new Uint8Array(n);
  const bufB = new Uint8Array(n);
  for (let off = 0; off < bytes; off += n) {
    const len = Math.min(n, bytes - off);
    soc.physmem.read(a + off, bufA, 0, len);
    soc.physmem.read(b + off, bufB, 0, len);
    for (let i = 0; i < len; i++) if (bufA[i] !== bufB[i]) return false;
  }
  return true;
}
