import { z } from 'zod';
import { rateHz } from '../../sim/engine/timeSpec';
import { CameraIsp } from '../../sim/devices/camera';
import { PS_PER_S } from '../../sim/engine/time';
import { Name } from '../../sim/soc/schemaTypes';
import { defineJobKind, jobBuffer, jobFields, runningJob, withRules, type JobIssue, bufferTooSmall } from '../jobSpec';

/** `camera`: frames at `fps` into `buffers` frame buffers back to back in one buffer. */
export const cameraJobKind = defineJobKind({
  spec: withRules(jobFields('camera', {
    device: Name.describe('a device of kind "camera"'),
    buffer: Name.describe('holds `buffers` frames back to back'),
    width: z.number().int().positive(),
    height: z.number().int().positive(),
    bytesPerPixel: z.number().int().positive(),
    fps: rateHz(),
    buffers: z.number().int().positive().default(2),
    frames: z.number().int().positive().optional(),
  }), (j): JobIssue[] => {
    const linePs = PS_PER_S / j.fps / j.height;
    return linePs < 1 ? [[['fps'], `a line must last at least 1 ps, got ${linePs} ps`]] : [];
  }),
  target: { field: 'device', kinds: ['camera'], exclusive: true },
  fastForward: 'the camera is paced by its line arrivals; its atomic path keeps a virtual issue cursor that cannot hand over to timing mode mid-frame',
  check: (j, c) => {
    const lineBytes = j.width * j.bytesPerPixel;
    const lineBuffer = c.device!.lineBufferBytes as number;
    if (lineBuffer < lineBytes) {
      return [[['width'], `a line (width × bytesPerPixel = ${lineBytes} bytes) must fit in the receiver buffer of "${j.device}" (lineBufferBytes ${lineBuffer})`]];
    }
    const buf = c.buffer(j.buffer, ['buffer']);
    if (Array.isArray(buf)) return [buf];
    const bytes = lineBytes * j.height * j.buffers;
    const small = bufferTooSmall(bytes, j.buffer, buf.size, ['buffers']);
    if (small) return [small];
    if (j.frames === undefined && c.until === undefined) return [[['frames'], 'a camera streams forever: give frames, or an "until" for the scenario']];
    return [];
  },
  start: (env, job) => {
    const cam = env.soc.model(job.device, CameraIsp);
    cam.configure({
      base: jobBuffer(env, job.buffer).deviceAddr, width: job.width, height: job.height, bytesPerPixel: job.bytesPerPixel,
      pitchBytes: job.width * job.bytesPerPixel, fps: job.fps, buffers: job.buffers, frames: job.frames,
    });
    return runningJob(job, env.ctx, (done) => cam.start(done), () => ({}));
  },
});
