import * as fs from 'fs';
import * as path from 'path';
import type { StatsDump } from '../sim/engine/stats';
import { InputFileError, readInputText } from '../sim/engine/inputFile';
import type { LoadedScenario } from '../scenario/load';
import { readRunMeta, RUN_FILES, type RunMeta } from '../scenario/runDir';
import { ReportInputError } from './model';
import { CsvSyntaxError, parseCsv } from '../sim/engine/statsCsv';
import type { TimeSeriesData } from './timeSeriesSection';
import { PAGE_TABLES_FORMAT, type PageTablesDoc } from '../scenario/pageTables';

/** A finished run directory as the report reads it. */
export interface RunData {
  dir: string;
  meta: RunMeta;
  /** config.json: the resolved `{soc, scenario}` that ran. */
  config: { soc: LoadedScenario['soc']; scenario: LoadedScenario['scenario'] };
  stats: StatsDump;
  /** timeseries.csv (run --sample-interval), or null when the run has none. */
  timeseries: TimeSeriesData | null;
  /** pagetables.json, when the run wrote one (report/pageTableReport.ts). */
  pageTables: PageTablesDoc | null;
}

export function readRunData(dir: string): RunData {
  const meta = readRunMeta(dir);
  if (!meta) throw new ReportInputError(`${dir}: not a finished run directory (no valid ${RUN_FILES.meta}; see docs/experiments.md)`);
  return {
    dir, meta, config: readJson(path.join(dir, RUN_FILES.config)) as RunData['config'], stats: readJson(path.join(dir, RUN_FILES.stats)) as StatsDump,
    timeseries: readTimeSeries(path.join(dir, RUN_FILES.timeseries)),
    pageTables: readPageTables(dir),
  };
}

/** A run directory's timeseries.csv: a header, then rows of numbers; null when there is none. */
export function readTimeSeries(file: string): TimeSeriesData | null {
  if (!fs.existsSync(file)) return null;
  let table: string[][];
  try {
    table = parseCsv(readInputText(file));
  } catch (e) {
    if (e instanceof CsvSyntaxError || e instanceof InputFileError) throw new ReportInputError(`${file}: ${(e as Error).message}`);
    throw e;
  }
  const [columns, ...rest] = table.filter((r) => !(r.length === 1 && r[0] === ''));
  if (!columns || columns[0] !== 'end_ns' || columns[1] !== 'interval_ns') throw new ReportInputError(`${file}: not a socsim time series (the header must start with end_ns,interval_ns)`);
  const rows = rest.map((r, i) => {
    const nums = r.map(Number);
    if (r.length !== columns.length || nums.some((n, j) => !Number.isFinite(n) || r[j].trim() === '')) throw new ReportInputError(`${file}: row ${i + 2} is not ${columns.length} numbers`);
    return nums;
  });
  return { columns, rows };
}

export function readJson(file: string): unknown {
  let text: string;
  try {
    text = readInputText(file);
  } catch (e) {
    if (e instanceof InputFileError) throw new ReportInputError(`cannot read ${file}: ${e.reason}`);
    throw new ReportInputError(`cannot read ${file}: ${(e as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new ReportInputError(`${file}: not JSON (${(e as Error).message})`);
  }
}

/** The loaded scenario a run directory records, as the headline needs it. */
export function loadedOf(run: RunData): LoadedScenario {
  return { file: run.meta.source, scenario: run.config.scenario, socFile: run.meta.source, soc: run.config.soc, overrides: run.meta.overrides };
}

export function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** pagetables.json of a run directory, or null when the run wrote none (older runs, `run` without `--out`). */
export function readPageTables(dir: string): PageTablesDoc | null {
  const file = path.join(dir, RUN_FILES.pageTables);
  if (!fs.existsSync(file)) return null;
  const doc = readJson(file) as PageTablesDoc;
  if (doc === null || typeof doc !== 'object' || doc.format !== PAGE_TABLES_FORMAT || !Array.isArray(doc.contexts)) {
    throw new ReportInputError(`${file}: not a socsim page-table file (format "${PAGE_TABLES_FORMAT}"; see docs/experiments.md)`);
  }
  return doc;
}
