import * as fs from 'fs';
import * as path from 'path';
import { RUN_FILES } from '../scenario/runDir';
import { SWEEP_FILES } from '../scenario/sweep';
import { ReportInputError, type Report } from './model';
import { isDirectory, readRunData } from './runData';
import { runReport } from './runReport';
import { readSweepData, sweepReport, type SweepReportOptions } from './sweepReport';

export { ReportInputError } from './model';
export { reportHtml } from './html';
export { writeReportSvgs } from './svg';

/** The report of a run directory (it has meta.json) or a sweep directory (it has sweep.json). */
export function buildReport(dir: string, opts: SweepReportOptions = {}): Report {
  if (!isDirectory(dir)) throw new ReportInputError(`${dir}: not a directory (give a run directory from socsim run --out, or a sweep directory from socsim sweep --out)`);
  if (fs.existsSync(path.join(dir, SWEEP_FILES.spec))) return uniqueChartIds(sweepReport(dir, readSweepData(dir), opts));
  if (opts.statsFilter?.length || opts.x !== undefined) throw new ReportInputError(`${dir}: --stats-filter and --x apply to sweep directories; this is ${fs.existsSync(path.join(dir, RUN_FILES.meta)) ? 'a run directory' : 'not a sweep directory'}`);
  return uniqueChartIds(runReport(readRunData(dir)));
}

/** Chart ids name elements and SVG files: a repeated id gets -2, -3, …. */
function uniqueChartIds(r: Report): Report {
  const seen = new Map<string, number>();
  for (const s of r.sections) {
    for (const c of s.charts) {
      const n = (seen.get(c.id) ?? 0) + 1;
      seen.set(c.id, n);
      if (n > 1) c.id = `${c.id}-${n}`;
    }
  }
  return r;
}
