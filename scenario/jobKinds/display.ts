import { z } from 'zod';
import { rateHz } from '../../sim/engine/timeSpec';
import { DisplayController } from '../../sim/devices/display';
import { PS_PER_S } from '../../sim/engine/time';
import { Name, Size } from '../../sim/soc/schemaTypes';
import { defineJobKind, jobBuffer, jobFields, runningJob, withRules, type JobIssue, bufferTooSmall } from '../jobSpec';

/** `display`: scanout of a frame buffer at `refreshHz` for `frames` (or until the run ends). */
export const displayJobKind = defineJobKind({
  spec: withRules(jobFields('display', {
    device: Name.describe('a device of kind "display"'),
    buffer: Name.describe('the frame buffer'),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    bytesPerPixel: z.number().int().positive(),
    pitchBytes: Size.optional().describe('default width × bytesPerPixel'),
    refreshHz: rateHz(),
    frames: z.number().int().positive().optional().describe('stop after this many frames (default: until the run ends)'),
    vblankFraction: z.number().min(0).lt(1).default(0),
  }), (j): JobIssue[] => {
    const lineBytes = j.width * j.bytesPerPixel;
    if (j.pitchBytes !== undefined && j.pitchBytes < lineBytes) return [[['pitchBytes'], `must be at least width × bytesPerPixel (${lineBytes}), got ${j.pitchBytes}`]];
    const linePs = (PS_PER_S / j.refreshHz) * (1 - j.vblankFraction) / j.height;
    if (linePs < 1) return [[['refreshHz'], `an active line must last at least 1 ps, got ${linePs} ps`]];
    return [];
  }),
  target: { field: 'device', kinds: ['display'], exclusive: true },
  fastForward: 'the display is paced by its line timers; its atomic path keeps a virtual issue cursor that cannot hand over to timing mode mid-frame',
  check: (j, c) => {
    const buf = c.buffer(j.buffer, ['buffer']);
    if (Array.isArray(buf)) return [buf];
    const bytes = (j.pitchBytes ?? j.width * j.bytesPerPixel) * j.height;
    const small = bufferTooSmall(bytes, j.buffer, buf.size, ['height']);
    if (small) return [small];
    if (j.frames === undefined && c.until === undefined) return [[['frames'], 'a display scans forever: give frames, or an "until" for the scenario']];
    return [];
  },
  start: (env, job) => {
    const disp = env.soc.model(job.device, DisplayController);
    disp.configure({
      base: jobBuffer(env, job.buffer).deviceAddr, width: job.width, height: job.height, bytesPerPixel: job.bytesPerPixel,
      pitchBytes: job.pitchBytes ?? job.width * job.bytesPerPixel, refreshHz: job.refreshHz, frames: job.frames, vblankFraction: job.vblankFraction,
    });
    return runningJob(job, env.ctx, (done) => disp.start(done), () => ({}));
  },
});
