import * as path from 'path';
import { ensureDirectory, writeFileAtomic } from '../sim/engine/outputFile';
import type { Report } from './model';
import { loadVega } from './vegaRuntime';

/**
 * Every chart of a report as an SVG file (`<chart id>.svg`) in `dir`, rendered in Node by
 * vega's headless View from the same Vega-Lite spec the page embeds. Returns the files.
 */
export async function writeReportSvgs(report: Report, dir: string): Promise<string[]> {
  const { vega, vegaLite } = await loadVega();
  ensureDirectory(dir);
  const files: string[] = [];
  for (const s of report.sections) {
    for (const c of s.charts) {
      const view = new vega.View(vega.parse(vegaLite.compile(c.spec).spec), { renderer: 'none' });
      const svg = await view.toSVG();
      view.finalize();
      const file = path.join(dir, `${c.id}.svg`);
      writeFileAtomic(file, svg);
      files.push(file);
    }
  }
  return files;
}
