import { z } from 'zod';
import { Address, Name, Notes, Size, Time } from '../sim/soc/schemaTypes';

/**
 * The scenario format: which SoC, which seed, how long, and the jobs that run on it.
 * Paths are relative to the scenario file. Later issues add more job kinds.
 */

export const FillPattern = z.enum(['random', 'zero', 'incrementing']);

export const InitFillSchema = z.strictObject({
  kind: z.literal('fill'),
  addr: Address,
  bytes: Size,
  pattern: FillPattern.default('random').describe('random uses the scenario seed; incrementing writes byte i = i mod 256'),
});

export const DmaCopyJobSchema = z.strictObject({
  kind: z.literal('dma-copy'),
  name: Name.describe('job name; stats appear under scenario.<name>'),
  device: Name.describe('a DMA engine in the SoC config'),
  src: Address,
  dst: Address,
  bytes: Size,
  at: Time.default(0).describe('simulated time at which the copy is started'),
  verify: z.boolean().default(true).describe('compare destination with source bytes at the end'),
});

export const JobSchema = z.discriminatedUnion('kind', [DmaCopyJobSchema]);

export const ScenarioSchema = z.strictObject({
  $schema: z.string().optional(),
  name: Name,
  description: z.string().default(''),
  notes: Notes,
  soc: z.string().min(1).describe('SoC config file, relative to this scenario'),
  seed: z.number().int().nonnegative().default(1),
  mode: z.enum(['timing', 'atomic']).default('timing').describe('timing: every latency and contention; atomic: fast-forward with estimated latencies, no event per access'),
  until: Time.optional().describe('stop at this simulated time; default: when all jobs are done'),
  warmup: Time.default(0).describe('stats are reset at this simulated time'),
  init: z.array(InitFillSchema).default([]),
  jobs: z.array(JobSchema).min(1),
});

export type Scenario = z.output<typeof ScenarioSchema>;
export type Job = z.output<typeof JobSchema>;
export type InitFill = z.output<typeof InitFillSchema>;
