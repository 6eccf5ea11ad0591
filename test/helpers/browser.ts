import * as fs from 'fs';
import { spawnSync } from 'child_process';
import type { Browser } from 'puppeteer-core';
import puppeteer from 'puppeteer-core';

/**
 * The system's headless browser for the report tests and `npm run report:example`:
 * $SOCSIM_CHROMIUM, else Debian's `chromium-headless-shell` or `chromium` (.ci/run
 * installs chromium when neither is there). Null when there is none.
 */
export function findChromium(): string | null {
  const env = process.env.SOCSIM_CHROMIUM;
  if (env) return fs.existsSync(env) ? env : null;
  for (const name of ['chromium-headless-shell', 'chromium', 'chromium-browser']) {
    const r = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
    if (r.status === 0 && r.stdout.trim()) return r.stdout.trim();
  }
  for (const p of ['/usr/bin/chromium-headless-shell', '/usr/bin/chromium', '/usr/lib/chromium/headless_shell']) if (fs.existsSync(p)) return p;
  return null;
}

export function launchChromium(executablePath: string): Promise<Browser> {
  return puppeteer.launch({
    executablePath,
    headless: executablePath.includes('headless') ? 'shell' : true,
    // Containers and CI run as root, where Chromium's sandbox cannot start.
    args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
  });
}
