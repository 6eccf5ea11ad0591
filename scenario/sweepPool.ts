import { fork, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as path from 'path';
import type { WorkerReply, WorkerRequest } from './sweepWorker';

/**
 * A pool of sweep worker processes (child_process.fork of scenario/sweepWorker). Processes,
 * not worker_threads: a point that crashes or runs out of memory takes down only its
 * worker (the point is recorded as failed and a new worker takes the next one), and
 * every point runs in a process of its own kind, exactly as `socsim run` would.
 */

interface Task {
  req: Omit<WorkerRequest, 'id'>;
  resolve: (r: WorkerReply) => void;
}

interface Worker {
  child: ChildProcess;
  task: Task | null;
}

/** The worker entry next to this module: compiled JS, or the .ts source through ts-node (tests). */
function workerEntry(): { file: string; execArgv: string[] } {
  const js = path.join(__dirname, 'sweepWorker.js');
  if (fs.existsSync(js)) return { file: js, execArgv: [] };
  return { file: path.join(__dirname, 'sweepWorker.ts'), execArgv: ['-r', 'ts-node/register/transpile-only'] };
}

export class WorkerPool {
  private readonly workers: Worker[] = [];
  private readonly queue: Task[] = [];
  private nextId = 0;
  private closed = false;
  /** Worker processes started so far (the sweep bench reports it). */
  started = 0;

  constructor(private readonly size: number) {}

  /** Runs one point on the next free worker. */
  run(req: Omit<WorkerRequest, 'id'>): Promise<WorkerReply> {
    return new Promise((resolve) => {
      this.queue.push({ req, resolve });
      this.dispatch();
    });
  }

  private dispatch(): void {
    while (this.queue.length > 0 && !this.closed) {
      let w = this.workers.find((x) => x.task === null);
      if (!w) {
        if (this.workers.length >= this.size) return;
        w = this.spawn();
      }
      const task = this.queue.shift()!;
      w.task = task;
      w.child.send({ id: this.nextId++, ...task.req } satisfies WorkerRequest);
    }
  }

  private spawn(): Worker {
    const entry = workerEntry();
    const child = fork(entry.file, [], {
      serialization: 'advanced',
      execArgv: [...process.execArgv.filter((a) => !a.startsWith('--inspect')), ...entry.execArgv],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.started++;
    const w: Worker = { child, task: null };
    this.workers.push(w);
    child.on('message', (reply: WorkerReply) => {
      const t = w.task;
      w.task = null;
      t?.resolve(reply);
      this.dispatch();
    });
    child.on('exit', (code, signal) => {
      this.workers.splice(this.workers.indexOf(w), 1);
      const t = w.task;
      w.task = null;
      if (t) t.resolve({ id: -1, ok: false, hostSeconds: 0, files: null, error: `the worker process died (${signal ? `signal ${signal}` : `exit code ${code}`}) while running this point` });
      this.dispatch();
    });
    return w;
  }

  /** Lets idle workers exit; call when every task has been answered. */
  close(): void {
    this.closed = true;
    for (const w of this.workers) w.child.disconnect();
  }

  /** Stops at once (interrupt): kills this pool's worker processes; queued tasks are answered unrun. */
  kill(): void {
    this.closed = true;
    for (const t of this.queue.splice(0)) t.resolve({ id: -1, ok: false, hostSeconds: 0, files: null, error: 'not run (interrupted)' });
    for (const w of this.workers) w.child.kill('SIGKILL');
  }
}
