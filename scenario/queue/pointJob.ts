import { createHash } from 'crypto';
import * as fs from 'fs';
import * as path from 'path';
import { z } from 'zod';
import { ConfigError, formatJsonPath } from '../../sim/engine/errors';
import { hashJson, validateSocConfig } from '../../sim/soc/builder';
import { parseWithSchema } from '../../sim/soc/loadJson';
import { SocConfigSchema } from '../../sim/soc/schema';
import { jobKind } from '../jobRegistry';
import type { LoadedScenario } from '../load';
import type { PointDisplay, PointFiles, PointOutcome } from '../pointRun';
import { RUN_FILES, runConfig } from '../runDir';
import { ScenarioSchema } from '../schema';
import { socsimVersion } from '../provenance';
import type { SampleOptions } from '../../sim/engine/timeSeries';

/**
 * What travels through the queue: a point as DATA (the resolved config, its hash, the
 * input files its jobs read) and, back, the text of its run-directory files. Both are
 * checked with a schema on arrival; a worker rebuilds the point only from a payload that
 * parses, whose config passes the same schema checks as a file and hashes to the point's
 * hash.
 */

export const POINT_JOB_NAME = 'socsim-point';
const Hex = (n: number) => z.string().regex(new RegExp(`^[0-9a-f]{${n}}$`), `${n} hex digits`);

const InputFile = z.strictObject({
  /** As the job names it, relative to the scenario. */
  path: z.string().min(1).max(4096),
  /** Where the coordinator read it (error messages name it). */
  original: z.string().max(4096),
  sha256: Hex(64),
  data: z.base64(),
});

export const PointJobSchema = z.strictObject({
  format: z.literal('socsim-point'),
  version: z.literal(1),
  /** The coordinator's socsim version: a worker of another version refuses the point (its numbers could differ). */
  socsim: z.string().min(1),
  hash: Hex(16),
  file: z.string().min(1),
  socFile: z.string().min(1),
  overrides: z.array(z.string()),
  config: z.strictObject({ soc: z.unknown(), scenario: z.unknown() }),
  inputs: z.array(InputFile).max(256),
  /** Sampling into timeseries.csv (sweep --sample-interval): interval in ps, stat globs. */
  sample: z.strictObject({
    intervalPs: z.number().int().positive(),
    stats: z.array(z.string().min(1).max(1000)).min(1).max(256).optional(),
  }).optional(),
});
export type PointJob = z.output<typeof PointJobSchema>;

const FILE_NAMES = Object.values(RUN_FILES) as [string, ...string[]];

export const PointResultSchema = z.strictObject({
  format: z.literal('socsim-point-result'),
  hash: Hex(16),
  ok: z.boolean(),
  hostSeconds: z.number().nonnegative(),
  files: z.partialRecord(z.enum(FILE_NAMES), z.string()).nullable(),
  error: z.string().optional(),
});
export type PointResult = z.output<typeof PointResultSchema>;

/**
 * The job id of a point: the same point is one job however often it is enqueued. A
 * sampled point is another job (its answer has a timeseries.csv), one per sampling.
 */
export function pointJobId(hash: string, sample?: SampleOptions): string {
  return sample ? `point-${hash}-s${hashJson({ intervalPs: sample.intervalPs, stats: sample.stats ?? null }).slice(0, 8)}` : `point-${hash}`;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** The input files of a scenario's jobs: [job index, path as written]. */
function inputsOf(loaded: LoadedScenario): [number, string][] {
  return loaded.scenario.jobs.flatMap((j, i) => jobKind(j.kind).inputs(j).map((p): [number, string] => [i, p]));
}

/**
 * The payload of a point (coordinator side). Input files are read through `read` (a
 * cache: every point of a sweep usually reads the same trace). A point whose input is an
 * absolute path cannot be rebuilt elsewhere: a ConfigError naming the job.
 */
export function pointJobOf(hash: string, loaded: LoadedScenario, read: (file: string) => Buffer, sample?: SampleOptions): PointJob {
  const dir = path.dirname(loaded.file);
  const inputs = inputsOf(loaded).map(([i, p]) => {
    if (path.isAbsolute(p)) {
      throw new ConfigError(loaded.file, formatJsonPath('scenario', ['jobs', i]), `a sweep on a queue sends input files to its workers by their path relative to the scenario; "${p}" is absolute`);
    }
    const original = path.resolve(dir, p);
    const data = read(original);
    return { path: p, original, sha256: sha256(data), data: data.toString('base64') };
  });
  return {
    format: 'socsim-point', version: 1, socsim: socsimVersion(), hash,
    file: loaded.file, socFile: loaded.socFile, overrides: [...loaded.overrides],
    config: runConfig(loaded), inputs,
    ...(sample ? { sample: { intervalPs: sample.intervalPs, ...(sample.stats ? { stats: [...sample.stats] } : {}) } } : {}),
  };
}

/** A job the worker will not run; the job fails with this message (BullMQ records it). */
export class BadPointJob extends Error {}

/** The first few schema issues, readable. */
function issues(e: z.ZodError): string {
  return e.issues.slice(0, 4).map((i) => `${i.path.length > 0 ? i.path.join('.') : '(payload)'}: ${i.message}`).join('; ');
}

/**
 * Rebuilds a point from a payload (worker side): checks it, writes its input files under
 * `scratch` (a directory per set of inputs, named by their hashes), and returns the
 * loaded scenario to run and how to name it in its files.
 */
export function acceptPointJob(data: unknown, scratch: string): { job: PointJob; loaded: LoadedScenario; display: PointDisplay } {
  const parsed = PointJobSchema.safeParse(data);
  if (!parsed.success) throw new BadPointJob(`not a socsim point job: ${issues(parsed.error)}`);
  const job = parsed.data;
  if (job.socsim !== socsimVersion()) {
    throw new BadPointJob(`the point was enqueued by socsim ${job.socsim}, this worker is socsim ${socsimVersion()}: run the same version on the coordinator and every worker`);
  }
  let soc: LoadedScenario['soc'];
  let scenario: LoadedScenario['scenario'];
  try {
    soc = parseWithSchema(SocConfigSchema, job.config.soc, job.socFile, 'soc');
    validateSocConfig(soc, job.socFile);
    scenario = parseWithSchema(ScenarioSchema, job.config.scenario, job.file, 'scenario');
  } catch (e) {
    if (e instanceof ConfigError) throw new BadPointJob(`the point's config does not check: ${e.message}`);
    throw e;
  }
  if (hashJson({ soc, scenario }) !== job.hash) throw new BadPointJob(`the point's config does not hash to its id ${job.hash}`);

  const files = writeInputs(job, scratch);
  const loaded: LoadedScenario = { file: files.scenarioFile, scenario, socFile: job.socFile, soc, overrides: job.overrides };
  const needed = inputsOf(loaded).map(([, p]) => p).filter((p) => !job.inputs.some((x) => x.path === p));
  if (needed.length > 0) throw new BadPointJob(`the payload lacks the input file(s) its jobs read: ${needed.join(', ')}`);
  return { job, loaded, display: { file: job.file, rewrite: [...files.rewrite, [files.scenarioFile, job.file]] } };
}

/**
 * Lays the inputs out as they were around the scenario: the scenario's (notional) file
 * sits deep enough in the scratch directory that every relative path ("../traces/x")
 * resolves inside it. A path that would leave it is refused.
 */
function writeInputs(job: PointJob, scratch: string): { scenarioFile: string; rewrite: [string, string][] } {
  const depth = Math.max(0, ...job.inputs.map((x) => leadingUps(x.path)));
  if (depth > 32) throw new BadPointJob('an input path climbs more than 32 directories');
  const key = createHash('sha256').update(JSON.stringify(job.inputs.map((x) => [x.path, x.sha256]))).digest('hex').slice(0, 24);
  const root = path.join(scratch, key);
  const dir = path.join(root, ...Array.from({ length: depth }, (_, i) => `d${i}`));
  const rewrite: [string, string][] = [];
  const planned = job.inputs.map((x) => {
    if (path.isAbsolute(x.path)) throw new BadPointJob(`input path "${x.path}" is absolute`);
    const target = path.resolve(dir, x.path);
    const rel = path.relative(root, target);
    if (rel === '' || rel.startsWith('..') || path.isAbsolute(rel)) throw new BadPointJob(`input path "${x.path}" leaves the point's directory`);
    const bytes = Buffer.from(x.data, 'base64');
    if (sha256(bytes) !== x.sha256) throw new BadPointJob(`input "${x.path}" does not match its sha256`);
    rewrite.push([target, x.original]);
    return { target, bytes };
  });
  if (!fs.existsSync(root)) {
    // Built aside and renamed: a directory named by its contents is complete or absent.
    const tmp = `${root}.${process.pid}.tmp`;
    fs.rmSync(tmp, { recursive: true, force: true });
    for (const p of planned) {
      const t = path.join(tmp, path.relative(root, p.target));
      fs.mkdirSync(path.dirname(t), { recursive: true });
      fs.writeFileSync(t, p.bytes);
    }
    fs.mkdirSync(tmp, { recursive: true });
    fs.renameSync(tmp, root);
  }
  return { scenarioFile: path.join(dir, 'scenario.json'), rewrite };
}

function leadingUps(p: string): number {
  const parts = path.normalize(p).split(/[\\/]/);
  let n = 0;
  while (parts[n] === '..') n++;
  return n;
}

/** The job's return value (worker side). */
export function pointResultOf(hash: string, o: PointOutcome): PointResult {
  return { format: 'socsim-point-result', hash, ok: o.ok, hostSeconds: o.hostSeconds, files: o.files as Record<string, string> | null, ...(o.error !== undefined ? { error: o.error } : {}) };
}

/**
 * Reads a job's return value (coordinator side): it must parse, be the point's, and a
 * run's meta.json must record the point's config hash.
 */
export function outcomeOfResult(hash: string, value: unknown): PointOutcome {
  const r = PointResultSchema.safeParse(value);
  if (!r.success) return { ok: false, hostSeconds: 0, files: null, error: `a worker answered with a malformed result: ${issues(r.error)}` };
  if (r.data.hash !== hash) return { ok: false, hostSeconds: 0, files: null, error: `a worker answered for point ${r.data.hash}, not ${hash}` };
  const files = r.data.files as PointFiles | null;
  if (r.data.ok) {
    let metaHash: unknown;
    try {
      metaHash = (JSON.parse(files?.[RUN_FILES.meta] ?? 'null') as { config_hash?: unknown } | null)?.config_hash;
    } catch {
      metaHash = undefined;
    }
    if (metaHash !== hash) return { ok: false, hostSeconds: 0, files: null, error: 'a worker answered with a run whose meta.json is missing or names another config' };
  }
  return { ok: r.data.ok, hostSeconds: r.data.hostSeconds, files, ...(r.data.error !== undefined ? { error: r.data.error } : {}) };
}
