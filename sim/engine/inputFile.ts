import * as fs from 'fs';

/**
 * What socsim reads must be a regular file of bounded size (issue 15, item 5): a
 * directory, a FIFO (which would block), a device such as /dev/zero (endless) or a
 * file too big to hold in memory gets one clear line instead of a hang or an abort.
 * Readers that stream (traces) pass no size limit.
 */

/** JSON inputs (SoC configs, scenarios, sweep specs, stats files, bench baselines) are read whole: at most 64 MiB. */
export const MAX_JSON_INPUT_BYTES = 64 * 1024 * 1024;

/** Why `file` cannot be read as an input, or null when it can. Never opens the file (a FIFO would block). */
export function inputFileProblem(file: string, maxBytes = Infinity): string | null {
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : `cannot read it (${code ?? (e as Error).message})`;
  }
  if (!st.isFile()) return `not a regular file (${fileKind(st)})`;
  if (st.size > maxBytes) return `${formatBytes(st.size)}, above the ${formatBytes(maxBytes)} limit for this kind of file`;
  return null;
}

/** The text of a regular file of at most `maxBytes`; throws an Error whose message is the reason. */
export function readInputText(file: string, maxBytes = MAX_JSON_INPUT_BYTES): string {
  const problem = inputFileProblem(file, maxBytes);
  if (problem) throw new InputFileError(file, problem);
  let fd: number;
  try {
    fd = fs.openSync(file, 'r');
  } catch (e) {
    throw new InputFileError(file, `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  try {
    // The file may have changed since stat: read at most one byte past the limit.
    const buf = Buffer.allocUnsafe(Math.min(maxBytes, fs.fstatSync(fd).size) + 1);
    let n = 0;
    for (let r; n < buf.length && (r = fs.readSync(fd, buf, n, buf.length - n, null)) > 0; ) n += r;
    if (n > maxBytes) throw new InputFileError(file, `above the ${formatBytes(maxBytes)} limit for this kind of file`);
    return buf.toString('utf8', 0, n);
  } catch (e) {
    if (e instanceof InputFileError) throw e;
    throw new InputFileError(file, `cannot read it (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  } finally {
    fs.closeSync(fd);
  }
}

/** An input file that is not a readable regular file within its size limit. `reason` has no file name. */
export class InputFileError extends Error {
  constructor(readonly file: string, readonly reason: string) {
    super(`${file}: ${reason}`);
    this.name = 'InputFileError';
  }
}

export function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isSocket()) return 'a socket';
  return 'not a file';
}

function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < units.length - 1 && n % 1024 === 0) { n /= 1024; i++; }
  if (i === 0 && n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${n} ${units[i]}`;
}
