import { parseSampleInterval, SampleOptionError, type SampleOptions } from '../sim/engine/timeSeries';

export { SampleOptionError } from '../sim/engine/timeSeries';

/** `run`'s time-series options as typed. */
export interface SampleArgs {
  'sample-interval'?: string;
  'sample-stats'?: string[];
  'sample-out'?: string;
}

export const SAMPLE_OPTIONS = {
  'sample-interval': { type: 'string', requiresArg: true, describe: 'record selected stats every interval of simulated time, e.g. 1us, into timeseries.csv (with --out) or --sample-out FILE' },
  'sample-stats': { type: 'string', array: true, requiresArg: true, describe: 'counters and gauges to sample (repeatable glob, as --stats-filter); default: bandwidth, TLB misses, walks, faults, invalidations, queue depths' },
  'sample-out': { type: 'string', requiresArg: true, describe: 'write the time series to this CSV file (without --out)' },
} as const;

/**
 * The sampling a `run` asks for, and where its CSV goes: DIR/timeseries.csv with
 * `--out DIR`, else the `--sample-out` file. Throws SampleOptionError (a usage error).
 */
export function sampleOptionsOf(args: SampleArgs, outDir: boolean): { sample: SampleOptions; file: string | null } | null {
  const interval = args['sample-interval'];
  if (interval === undefined) {
    if (args['sample-stats'] !== undefined) throw new SampleOptionError('--sample-stats needs --sample-interval');
    if (args['sample-out'] !== undefined) throw new SampleOptionError('--sample-out needs --sample-interval');
    return null;
  }
  const intervalPs = parseSampleInterval(interval);
  const file = args['sample-out'];
  if (file !== undefined && file.trim() === '') throw new SampleOptionError('--sample-out: give a file');
  if (outDir && file !== undefined) throw new SampleOptionError('--sample-out: with --out the time series goes to DIR/timeseries.csv; leave out one of the two');
  if (!outDir && file === undefined) throw new SampleOptionError('--sample-interval needs --out DIR (writes DIR/timeseries.csv) or --sample-out FILE');
  const stats = args['sample-stats'];
  return { sample: { intervalPs, ...(stats !== undefined ? { stats } : {}) }, file: file ?? null };
}
