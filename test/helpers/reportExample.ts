import { execFileSync } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { findChromium, launchChromium } from './browser';

/**
 * `npm run report:example`: runs a bundled scenario, writes its HTML report and saves a
 * screenshot of the page (docs/report-example.png, linked from the README) taken in the
 * headless browser the tests use.
 */
const ROOT = path.join(__dirname, '..', '..');
const SCENARIO = 'mobile-gpu-texture-4k';
const PNG = path.join(ROOT, 'docs', 'report-example.png');

async function main(): Promise<void> {
  const chromium = findChromium();
  if (!chromium) throw new Error('no chromium or chromium-headless-shell (apt-get install chromium, or set SOCSIM_CHROMIUM)');
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-report-example-'));
  const cli = path.join(ROOT, 'dist', 'cli', 'main.js');
  const run = path.join(tmp, 'run');
  const html = path.join(tmp, 'report.html');
  execFileSync(process.execPath, [cli, 'run', SCENARIO, '--until', '200us', '--out', run, '--no-progress', '--sample-interval', '1us'], { stdio: ['ignore', 'ignore', 'inherit'] });
  execFileSync(process.execPath, [cli, 'report', run, '-o', html], { stdio: 'inherit' });
  const browser = await launchChromium(chromium);
  try {
    const page = await browser.newPage();
    await page.setViewport({ width: 1200, height: 900 });
    await page.goto(`file://${html}`, { waitUntil: 'load' });
    await page.evaluate('window.socsimReport.ready');
    await page.screenshot({ path: PNG as `${string}.png`, fullPage: true });
  } finally {
    await browser.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  process.stdout.write(`${path.relative(ROOT, PNG)}: the report of ${SCENARIO} (--until 200us --sample-interval 1us)\n`);
}

main().catch((e) => {
  process.stderr.write(`report:example: ${(e as Error).message}\n`);
  process.exit(1);
});
