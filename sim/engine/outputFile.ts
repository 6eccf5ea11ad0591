import * as fs from 'fs';
import * as path from 'path';

/**
 * How socsim writes its output files (traces, run-directory files, golden traces, bench
 * baselines; issue 15, item 5): into a temporary file next to the target, renamed over
 * it when the writer closes, so the target is either its old contents or a whole new
 * file, never a half-written one. Problems (a directory, a read-only file, a missing
 * directory, a full disk) are an OutputFileError, one line for the user (exit 1).
 * An existing device or FIFO (`/dev/stdout`, a named pipe) is written directly: it
 * cannot be renamed over.
 */

/** A file that cannot be written: the user's environment, not a bug. */
export class OutputFileError extends Error {
  constructor(readonly file: string, readonly reason: string) {
    super(`cannot write ${file}: ${reason}`);
    this.name = 'OutputFileError';
  }
}

/** A temporary name next to `file`, unique to this process (two runs may race on one target). */
export function tempPathFor(file: string): string {
  return path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
}

function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err.code) {
    case 'ENOSPC': return 'no space left on the device (ENOSPC)';
    case 'EDQUOT': return 'disk quota exceeded (EDQUOT)';
    case 'EACCES': case 'EPERM': return `permission denied (${err.code})`;
    case 'EROFS': return 'read-only file system (EROFS)';
    case 'EISDIR': return 'is a directory';
    case 'ENOENT': return 'no such directory';
    case 'ENOTDIR': return 'a part of the path is not a directory';
    default: return err.code ? `${err.code}` : String((e as Error)?.message ?? e);
  }
}

function statOrNull(p: string): fs.Stats | null {
  try {
    return fs.statSync(p);
  } catch {
    return null;
  }
}

/**
 * Why `file` cannot be written, or null. Checked before a run starts, so a bad path
 * fails at once rather than after the run.
 */
export function outputFileProblem(file: string): string | null {
  if (file.trim() === '') return 'no file name given';
  const st = statOrNull(file);
  if (st?.isDirectory()) return 'is a directory';
  if (st && !st.isFile()) return null; // a device or FIFO: written in place
  // A file without write permission is kept, even for root (replacing it by a rename would bypass the permission).
  if (st) {
    try {
      fs.accessSync(file, fs.constants.W_OK);
      if ((st.mode & 0o222) === 0) throw new Error('read-only');
    } catch {
      return 'the file is read-only';
    }
  }
  const dir = path.dirname(path.resolve(file));
  const d = statOrNull(dir);
  if (!d) return `no such directory ${dir}`;
  if (!d.isDirectory()) return `${dir} is not a directory`;
  try {
    fs.accessSync(dir, fs.constants.W_OK);
  } catch {
    return `the directory ${dir} is not writable`;
  }
  return null;
}

/** A file being written: `write` chunks, then `close` (renames it into place) or `abandon` (removes it). */
export class OutputFile {
  private fd = -1;
  /** Where the bytes go until close: a temporary file, or the target itself (a device or FIFO). */
  private readonly writing: string;

  constructor(readonly file: string) {
    const problem = outputFileProblem(file);
    if (problem) throw new OutputFileError(file, problem);
    const st = statOrNull(file);
    this.writing = st && !st.isFile() ? file : tempPathFor(file);
    try {
      this.fd = fs.openSync(this.writing, 'w');
    } catch (e) {
      throw new OutputFileError(file, errnoText(e));
    }
  }

  /** Appends `text`; a failure (a full disk) removes the temporary file and throws an OutputFileError. */
  write(text: string): void {
    if (this.fd < 0) return;
    const buf = Buffer.from(text, 'utf8');
    try {
      for (let off = 0; off < buf.length; ) off += fs.writeSync(this.fd, buf, off, buf.length - off);
    } catch (e) {
      this.abandon();
      throw new OutputFileError(this.file, errnoText(e));
    }
  }

  /** Closes and renames the file into place (the target is replaced only now). */
  close(): void {
    if (this.fd < 0) return;
    const fd = this.fd;
    this.fd = -1;
    try {
      fs.closeSync(fd);
      if (this.writing !== this.file) fs.renameSync(this.writing, this.file);
    } catch (e) {
      this.removeTemp();
      throw new OutputFileError(this.file, errnoText(e));
    }
  }

  /** Drops what was written; the target keeps its old contents. */
  abandon(): void {
    if (this.fd >= 0) {
      try { fs.closeSync(this.fd); } catch { /* already failing */ }
      this.fd = -1;
    }
    this.removeTemp();
  }

  get closed(): boolean {
    return this.fd < 0;
  }

  private removeTemp(): void {
    if (this.writing !== this.file) fs.rmSync(this.writing, { force: true });
  }
}

/** Writes `text` to `file` through a temporary file and a rename (see OutputFile). */
export function writeFileAtomic(file: string, text: string): void {
  const out = new OutputFile(file);
  out.write(text);
  out.close();
}

/**
 * Creates `dir` and its missing parents (mkdir -p). Not fs.mkdirSync's `recursive`,
 * which loops forever where mkdir fails with ENOENT under an existing parent (/proc).
 * A failure is an OutputFileError naming the directory.
 */
export function ensureDirectory(dir: string): void {
  const abs = path.resolve(dir);
  const st = statOrNull(abs);
  if (st?.isDirectory()) return;
  if (st) throw new OutputFileError(dir, 'exists and is not a directory');
  const parent = path.dirname(abs);
  if (parent !== abs) ensureDirectory(parent);
  try {
    fs.mkdirSync(abs);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST' && statOrNull(abs)?.isDirectory()) return;
    throw new OutputFileError(dir, `cannot create the directory (${errnoText(e)})`);
  }
}
