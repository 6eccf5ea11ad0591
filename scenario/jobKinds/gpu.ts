import { z } from 'zod';
import { GpuEngine, gpuSurfaceSpec, type GpuProgram } from '../../sim/devices/gpuEngine';
import { validateWorkloadSpec } from '../../sim/devices/workload';
import { Name, Size } from '../../sim/soc/schemaTypes';
import { defineJobKind, jobBuffer, jobFields, runningJob, withRules, type JobIssue, bufferTooSmall } from '../jobSpec';

const SURFACE_FIELDS = ['widthBytes', 'height', 'tileWidthBytes', 'tileHeight', 'accessBytes', 'readFraction'];

/** `gpu`: concurrent streams sweeping a tiled 2D surface in a buffer of a GPU engine. */
export const gpuJobKind = defineJobKind({
  spec: withRules(jobFields('gpu', {
    device: Name.describe('a device of kind "gpu"'),
    buffer: Name,
    streams: z.number().int().positive().describe('concurrent streams (warps/CTAs)'),
    widthBytes: Size.describe('surface pitch'),
    height: z.number().int().positive(),
    tileWidthBytes: Size,
    tileHeight: z.number().int().positive(),
    accessBytes: Size,
    sharing: z.enum(['slice', 'shared']).default('slice'),
    passes: z.number().int().positive().max(2 ** 20).default(1).describe('sweeps over the surface, at most 2^20'),
    readFraction: z.number().min(0).max(1).default(1),
  }), (j): JobIssue[] => {
    // The surface must be a valid tiled2d walk (workload.ts's rules), at a page-aligned base.
    const program = programOf(j, 0);
    const problem = validateWorkloadSpec(gpuSurfaceSpec(program, 0, j.height, 0, 1));
    if (problem) {
      const colon = problem.indexOf(': ');
      const field = problem.slice(0, colon);
      return [[SURFACE_FIELDS.includes(field) ? [field] : [], problem.slice(colon + 2)]];
    }
    const tileRows = j.height / j.tileHeight;
    if (j.sharing === 'slice' && j.streams > tileRows) {
      return [[['streams'], `slice sharing needs at most one stream per tile row (${tileRows} tile rows), got ${j.streams}`]];
    }
    return [];
  }),
  target: { field: 'device', kinds: ['gpu'], exclusive: true },
  fastForward: true,
  check: (j, c) => {
    const buf = c.buffer(j.buffer, ['buffer']);
    if (Array.isArray(buf)) return [buf];
    const bytes = j.widthBytes * j.height;
    const small = bufferTooSmall(bytes, j.buffer, buf.size, ['height']);
    return small ? [small] : [];
  },
  start: (env, job) => {
    const gpu = env.soc.model(job.device, GpuEngine);
    gpu.configure(programOf(job, jobBuffer(env, job.buffer).deviceAddr));
    return runningJob(job, env.ctx, (done) => gpu.start(() => done()), () => ({}));
  },
});

interface GpuJobFields {
  streams: number; widthBytes: number; height: number; tileWidthBytes: number; tileHeight: number;
  accessBytes: number; sharing: 'slice' | 'shared'; passes: number; readFraction: number;
}

function programOf(j: GpuJobFields, base: number): GpuProgram {
  return {
    streams: j.streams, accessBytes: j.accessBytes, sharing: j.sharing, passes: j.passes, readFraction: j.readFraction,
    surface: { base, widthBytes: j.widthBytes, height: j.height, tileWidthBytes: j.tileWidthBytes, tileHeight: j.tileHeight },
  };
}
