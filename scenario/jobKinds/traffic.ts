import { z } from 'zod';
import { ratePerUs } from '../../sim/engine/timeSpec';
import { TrafficGenerator } from '../../sim/devices/trafficGenerator';
import { validateWorkloadSpec, type WorkloadSpec } from '../../sim/devices/workload';
import type { DeviceBuffer } from '../../drivers/devices/buffers';
import { Name, Size } from '../../sim/soc/schemaTypes';
import { defineJobKind, jobBuffer, jobFields, runningJob, type JobIssue, bufferTooSmall } from '../jobSpec';

const WorkloadCommon = {
  accessBytes: Size.describe('bytes per access (a power of two)'),
  readFraction: z.number().min(0).max(1).optional(),
  mix: z.enum(['random', 'exact']).optional(),
  accesses: z.number().int().positive().optional().describe('accesses to issue (default: one pass over the footprint)'),
  offset: Size.default(0).describe('start of the workload inside the buffer'),
  footprint: Size.optional().describe('bytes of the buffer used (default: the rest of the buffer)'),
};

export const WorkloadSchema = z.discriminatedUnion('kind', [
  z.strictObject({ kind: z.literal('sequential'), ...WorkloadCommon }),
  z.strictObject({ kind: z.literal('strided'), ...WorkloadCommon, strideBytes: Size }),
  z.strictObject({ kind: z.literal('random'), ...WorkloadCommon }),
  z.strictObject({ kind: z.literal('zipf'), ...WorkloadCommon, theta: z.number().min(0).lt(1) }),
  z.strictObject({ kind: z.literal('ring'), ...WorkloadCommon }),
  z.strictObject({ kind: z.literal('tiled2d'), ...WorkloadCommon, widthBytes: Size, height: z.number().int().positive(), tileWidthBytes: Size, tileHeight: z.number().int().positive() }),
]);

export type WorkloadConfig = z.output<typeof WorkloadSchema>;

/** A workload spec at `base`: footprint from the buffer's size, one pass unless `accesses` says otherwise. */
function workloadAt(base: number, size: number, w: WorkloadConfig): WorkloadSpec {
  const { offset: _offset, footprint, ...rest } = w;
  if (w.kind === 'tiled2d') {
    const pass = (w.widthBytes * w.height) / w.accessBytes;
    return { ...rest, kind: 'tiled2d', base: base + w.offset, accesses: w.accesses ?? pass } as WorkloadSpec;
  }
  const bytes = footprint ?? size - w.offset;
  return { ...rest, base: base + w.offset, footprint: bytes, accesses: w.accesses ?? bytes / w.accessBytes } as WorkloadSpec;
}

function workloadOn(buf: DeviceBuffer, w: WorkloadConfig): WorkloadSpec {
  return workloadAt(buf.deviceAddr, buf.size, w);
}

/** `traffic`: workload streams on a buffer of a traffic generator. */
export const trafficJobKind = defineJobKind({
  spec: jobFields('traffic', {
    device: Name.describe('a device of kind "traffic"'),
    buffer: Name,
    streams: z.array(WorkloadSchema).min(1),
    ratePerUs: ratePerUs().optional().describe('accesses per microsecond per stream (default: as fast as outstanding requests allow)'),
  }),
  target: { field: 'device', kinds: ['traffic'], exclusive: true },
  fastForward: true,
  check: (j, c) => {
    const buf = c.buffer(j.buffer, ['buffer']);
    if (Array.isArray(buf)) return [buf];
    const issues: JobIssue[] = [];
    j.streams.forEach((w, k) => {
      const footprint = w.kind === 'tiled2d' ? w.widthBytes * w.height : (w.footprint ?? buf.size - w.offset);
      const small = bufferTooSmall(w.offset + footprint, j.buffer, buf.size, ['streams', k]);
      if (small) issues.push(small);
      // Buffers start on a page, so a workload's alignment is its offset's.
      const problem = validateWorkloadSpec(workloadAt(0, buf.size, w));
      if (problem) {
        const colon = problem.indexOf(': ');
        const field = problem.slice(0, colon);
        issues.push([['streams', k, field === 'base' ? 'offset' : field], problem.slice(colon + 2)]);
      }
    });
    return issues;
  },
  start: (env, job) => {
    const gen = env.soc.model(job.device, TrafficGenerator);
    const buf = jobBuffer(env, job.buffer);
    gen.configure({ streams: job.streams.map((w) => workloadOn(buf, w)), ...(job.ratePerUs !== undefined ? { ratePerUs: job.ratePerUs } : {}) });
    return runningJob(job, env.ctx, (done) => gen.start(() => done()), () => ({}));
  },
});
