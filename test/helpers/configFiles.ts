import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { ConfigError } from '../../sim/engine/errors';
import { loadSocConfig } from '../../sim/soc/builder';

export const REPO = path.join(__dirname, '..', '..');
export const MINIMAL = path.join(REPO, 'soc-configs', 'minimal.json');
export const DEFAULT_SCENARIO = path.join(REPO, 'soc-configs', 'scenarios', 'default.json');

/** A deep copy of a bundled config as a plain object, to mutate in tests. */
export function readConfig(file = MINIMAL): any {
  return JSON.parse(fs.readFileSync(file, 'utf8'));
}

let dir: string | null = null;
let counter = 0;

/** Writes `obj` as JSON into a per-process temp directory and returns the path. */
export function writeTemp(obj: unknown, name = `cfg${counter++}.json`): string {
  if (!dir) dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-test-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, typeof obj === 'string' ? obj : JSON.stringify(obj, null, 2));
  return file;
}

/** A scenario for a temp SoC file: one DMA copy of `bytes` with random source data. */
export function copyScenario(socFile: string, opts: { bytes?: number; src?: number; dst?: number; device?: string; seed?: number } = {}): any {
  const bytes = opts.bytes ?? 64 * 1024;
  const src = opts.src ?? 0x8000_0000;
  return {
    name: 'copy_test',
    soc: socFile,
    seed: opts.seed ?? 7,
    init: [{ kind: 'fill', addr: src, bytes, pattern: 'random' }],
    jobs: [{ kind: 'dma-copy', name: 'copy', device: opts.device ?? 'dma0', src, dst: opts.dst ?? 0x8100_2000, bytes }],
  };
}

/** The ConfigError `f` must throw (any other outcome fails the test). */
export function configErrorOf(f: () => unknown): ConfigError {
  try {
    f();
  } catch (e) {
    if (e instanceof ConfigError) return e;
    throw e;
  }
  throw new Error('expected a ConfigError');
}

/** Loads SoC config object `c` from a temp file and returns the ConfigError it must raise. */
export function socConfigError(c: unknown): ConfigError {
  return configErrorOf(() => loadSocConfig(writeTemp(c)));
}
