import * as path from 'path';
import type { Argv } from 'yargs';
import { OutputFileError, writeFileAtomic } from '../sim/engine/outputFile';
import { buildReport, ReportInputError, reportHtml, writeReportSvgs } from '../report';

/** Where the command writes (the CLI's stdout and stderr, or test collectors). */
export interface ReportIO {
  out(text: string): void;
  err(text: string): void;
}

export const REPORT_FORMATS = ['html', 'svg'] as const;

/** `socsim report` options (README: Reports). */
export function reportOptions<T>(y: Argv<T>) {
  return y
    .positional('dir', { type: 'string', demandOption: true, describe: 'a run directory (socsim run --out) or a sweep directory (socsim sweep --out)' })
    .option('output', { alias: 'o', type: 'string', demandOption: true, requiresArg: true, describe: 'html: the report file; svg: a directory for one SVG per chart' })
    .option('format', { choices: REPORT_FORMATS, default: 'html' as const, describe: 'html: one self-contained page (opens offline); svg: the figures as SVG files, for papers' })
    .option('stats-filter', { type: 'string', array: true, requiresArg: true, describe: 'sweeps: the stats to plot, globs over the results.csv stat columns (repeatable; default every stat that differs between points)' })
    .option('x', { type: 'string', requiresArg: true, describe: 'sweeps: the swept parameter on the x axis (default the first axis); the other axes and the scenario make the series' })
    .example('$0 report runs/nic -o nic.html', 'a run directory as one HTML page')
    .example("$0 report sweeps/iotlb -o iotlb.html --stats-filter 'soc.iommu.l2tlb.hit_rate'", 'a sweep: the IOTLB hit rate against the swept size, a line per scenario')
    .example('$0 report sweeps/iotlb -o figures --format svg', 'every chart as an SVG file in figures/');
}

export interface ReportArgs {
  dir: string;
  output: string;
  format: (typeof REPORT_FORMATS)[number];
  'stats-filter'?: string[];
  x?: string;
}

export async function reportCommand(args: ReportArgs, io: ReportIO): Promise<number> {
  try {
    if (path.resolve(args.output) === path.resolve(args.dir)) throw new ReportInputError(`-o ${args.output}: that is the directory being reported on`);
    const report = buildReport(args.dir, { statsFilter: args['stats-filter'], x: args.x });
    if (args.format === 'svg') {
      const files = await writeReportSvgs(report, args.output);
      io.out(`${files.length} SVG figure(s) in ${args.output}\n`);
    } else {
      writeFileAtomic(args.output, reportHtml(report));
      io.out(`${args.output}: ${report.sections.reduce((n, s) => n + s.charts.length, 0)} chart(s)\n`);
    }
    return 0;
  } catch (e) {
    if (!(e instanceof ReportInputError || e instanceof OutputFileError)) throw e;
    io.err(`error: ${e.message}\n`);
    return 1;
  }
}
