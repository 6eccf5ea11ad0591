import { spawn, spawnSync, type ChildProcess } from 'child_process';
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { Queue } from 'bullmq';
import { compiledCli } from '../helpers/compiledCli';
import { REPO } from '../helpers/configFiles';
import { haveRedisServer, startRedis, type RedisServer } from '../helpers/redisServer';

/**
 * `socsim sweep --queue` and `socsim worker` through the compiled CLI against a real
 * redis-server on a loopback port: the same results.csv as a local sweep, a SIGKILLed
 * worker's point run by another, a malformed job refused while the worker keeps serving,
 * a trace input carried in the job, a coordinator restarted to collect finished jobs,
 * and the password in no output.
 */

const PASSWORD = 'pw-Zq81-secret';
/** 3 IOTLB sizes × 4 seeds = 12 short points. */
const SWEEP = ['server-io-nic-strict', '--grid', 'soc.iommus.iommu.l2Tlb.entries=64,128,256', '--seeds', '4', '--until', '20us',
  '--stats-filter', 'soc.iommu.**', '--no-progress'];

/** How long a test waits for a line from a process (below the tests' 60 s). */
const WAIT_MS = 40_000;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-sweepq-'));
/** Every line any socsim process printed (the password must be in none). */
const transcript: string[] = [];
const children = new Set<ChildProcess>();

interface Proc {
  child: ChildProcess;
  text(): string;
  waitFor(re: RegExp): Promise<RegExpExecArray>;
  exited: Promise<number | null>;
}

function socsim(args: string[]): Proc {
  const child = spawn(process.execPath, [compiledCli(), ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  children.add(child);
  let text = '';
  const waiters: { re: RegExp; resolve: (m: RegExpExecArray) => void }[] = [];
  const onData = (d: Buffer) => {
    text += String(d);
    for (const w of [...waiters]) {
      const m = w.re.exec(text);
      if (m) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(m);
      }
    }
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => {
    children.delete(child);
    transcript.push(text);
    resolve(code);
  }));
  return {
    child, exited, text: () => text,
    waitFor: (re) => {
      const m = re.exec(text);
      if (m) return Promise.resolve(m);
      return new Promise((resolve, reject) => {
        // Fails before the test's own timeout, with what the process said.
        const timer = setTimeout(() => reject(new Error(`no ${re} from socsim ${args[0]} within ${WAIT_MS / 1000} s; it printed:\n${text.slice(-3000)}`)), WAIT_MS);
        waiters.push({ re, resolve: (found) => { clearTimeout(timer); resolve(found); } });
      });
    },
  };
}

function socsimSync(args: string[]): { status: number | null; out: string } {
  const r = spawnSync(process.execPath, [compiledCli(), ...args], { encoding: 'utf8' });
  transcript.push(r.stdout + r.stderr);
  return { status: r.status, out: r.stdout + r.stderr };
}

let redis: RedisServer;
let url: string;
let reference: string;
const localOut = tmp();

async function worker(concurrency = 1): Promise<Proc> {
  const w = socsim(['worker', '--queue', url, '--concurrency', String(concurrency), '--stalled-after', '1s']);
  await w.waitFor(/serving/);
  return w;
}

async function stop(w: Proc): Promise<number | null> {
  w.child.kill('SIGTERM');
  return w.exited;
}

const okLines = (text: string) => [...text.matchAll(/^ok ([0-9a-f]{16}) /gm)].map((m) => m[1]);

test('a local sweep loads neither BullMQ nor ioredis', () => {
  const dir = tmp();
  const probe = path.join(dir, 'probe.js');
  fs.writeFileSync(probe, "process.on('exit', () => { const m = Object.keys(require.cache).filter((k) => /node_modules[\\\\/](bullmq|ioredis)[\\\\/]/.test(k)); process.stderr.write('queue modules: ' + m.length + '\\n'); });\n");
  const r = spawnSync(process.execPath, ['-r', probe, compiledCli(), 'sweep', 'server-io-nic-strict', '--until', '10us', '-j', '1', '--no-progress', '--out', path.join(dir, 'out')], { encoding: 'utf8' });
  expect(r.status).toBe(0);
  expect(r.stderr).toMatch(/queue modules: 0\n/);
}, 30_000);

const describeRedis = haveRedisServer() ? describe : describe.skip;
if (!haveRedisServer()) console.warn('sweepQueue: no redis-server (apt-get install redis-server); queue tests skipped');

describeRedis('socsim sweep --queue / socsim worker', () => {
  beforeAll(async () => {
    compiledCli();
    redis = await startRedis(PASSWORD);
    url = `redis://:${PASSWORD}@127.0.0.1:${redis.port}`;
    const local = socsimSync(['sweep', ...SWEEP, '-j', '2', '--out', localOut]);
    expect(local.status).toBe(0);
    reference = fs.readFileSync(path.join(localOut, 'results.csv'), 'utf8');
  }, 60_000);

  // A test that failed half-way must not leave a worker to take the next test's jobs.
  afterEach(() => {
    for (const c of children) c.kill('SIGKILL');
  });

  afterAll(async () => {
    await redis?.stop();
  });

  test('12 points on 2 workers: the results.csv and run directories of the local backend', async () => {
    const [a, b] = await Promise.all([worker(), worker()]);
    const out = tmp();
    const sweep = socsim(['sweep', ...SWEEP, '--queue', url, '--out', out]);
    expect(await sweep.exited).toBe(0);
    expect(sweep.text()).toMatch(/sweep: 12 point\(s\), 0 already finished, 12 to run/);
    expect(sweep.text()).toMatch(/\[12\/12\] ok /);
    expect(fs.readFileSync(path.join(out, 'results.csv'), 'utf8')).toBe(reference);
    const rows = reference.trim().split('\n').slice(1);
    expect(rows).toHaveLength(12);
    for (const row of rows) {
      const hash = row.split(',')[4];
      for (const f of ['config.json', 'stats.json', 'stats.csv']) {
        expect(fs.readFileSync(path.join(out, 'points', hash, f), 'utf8')).toBe(fs.readFileSync(path.join(localOut, 'points', hash, f), 'utf8'));
      }
      expect(JSON.parse(fs.readFileSync(path.join(out, 'points', hash, 'meta.json'), 'utf8'))).toMatchObject({ status: 'ok', config_hash: hash, source: expect.stringMatching(/server-io-nic-strict\.json$/) });
    }
    expect(await Promise.all([stop(a), stop(b)])).toEqual([0, 0]);
    // Both served, and between them ran every point once.
    const ran = [...okLines(a.text()), ...okLines(b.text())];
    expect(okLines(a.text()).length).toBeGreaterThan(0);
    expect(okLines(b.text()).length).toBeGreaterThan(0);
    expect(ran.sort()).toEqual(rows.map((r) => r.split(',')[4]).sort());
  }, 60_000);

  test('--sample-interval through the queue: each point comes back with the timeseries.csv a local sweep writes', async () => {
    const sampled = ['server-io-nic-strict', '--grid', 'soc.iommus.iommu.l2Tlb.entries=64,128', '--until', '20us', '--sample-interval', '5us', '--no-progress'];
    const local = tmp();
    expect(socsimSync(['sweep', ...sampled, '-j', '2', '--out', local]).status).toBe(0);
    const w = await worker();
    const out = tmp();
    const sweep = socsim(['sweep', ...sampled, '--queue', url, '--out', out]);
    expect(await sweep.exited).toBe(0);
    expect(await stop(w)).toBe(0);
    const hashes = fs.readdirSync(path.join(local, 'points'));
    expect(hashes).toHaveLength(2);
    for (const h of hashes) {
      const series = fs.readFileSync(path.join(out, 'points', h, 'timeseries.csv'), 'utf8');
      expect(series.trim().split('\n')).toHaveLength(1 + 4); // header + 20 us in 5 us intervals
      expect(series).toBe(fs.readFileSync(path.join(local, 'points', h, 'timeseries.csv'), 'utf8'));
    }
  }, 60_000);

  test('a worker SIGKILLed mid-point: its point goes back to the queue and runs on the other, once in results.csv', async () => {
    // a alone until it is killed. With both serving from the start, a CI run under load
    // timed out here, most likely waiting for a second start of a's while b ran the rest.
    const a = await worker();
    const out = tmp();
    const sweep = socsim(['sweep', ...SWEEP, '--queue', url, '--out', out]);
    // a's second point: kill a while it runs it.
    const [, hash] = await a.waitFor(/^start [0-9a-f]{16} [\s\S]*^start ([0-9a-f]{16}) /m);
    a.child.kill('SIGKILL');
    const b = await worker();
    expect(await sweep.exited).toBe(0);
    expect(okLines(a.text())).not.toContain(hash);
    expect(okLines(b.text())).toContain(hash);
    expect(fs.readFileSync(path.join(out, 'results.csv'), 'utf8')).toBe(reference);
    expect(await stop(b)).toBe(0);
  }, 60_000);

  test('a malformed job fails with a clear reason; the worker keeps serving and runs the next point', async () => {
    const w = await worker();
    const queue = new Queue('socsim-points', { connection: { host: '127.0.0.1', port: redis.port, password: PASSWORD } });
    try {
      const bad = await queue.add('socsim-point', { format: 'socsim-point', version: 1, hash: 'nothex', config: 'rm -rf /' });
      await w.waitFor(/^rejected job /m);
      let reason: string | undefined;
      for (let i = 0; i < 50 && !reason; i++) {
        reason = (await queue.getJob(bad.id!))?.failedReason;
        if (!reason) await new Promise((r) => setTimeout(r, 100));
      }
      expect(reason).toMatch(/not a socsim point job: .*hash: .*16 hex digits/);
      expect(w.text()).toMatch(/rejected job \S+: not a socsim point job/);
      const other = await queue.add('shell', { cmd: 'id' });
      await w.waitFor(/not a socsim point job \(name "shell"\)/);
      while (await other.getState() === 'active') await new Promise((r) => setTimeout(r, 50));
      expect(await other.getState()).toBe('failed');
    } finally {
      await queue.close();
    }
    const out = tmp();
    const one = socsim(['sweep', 'server-io-nic-strict', '--until', '20us', '--no-progress', '--queue', url, '--out', out]);
    expect(await one.exited).toBe(0);
    expect(okLines(w.text())).toHaveLength(1);
    // A point that fails deterministically (the kernel runs out of pages) is recorded once, not retried.
    const failing = tmp();
    const f = socsim(['sweep', 'mobile-camera-codec', '--set', 'scenario.buffers.frames.size=1GiB', '--set', 'soc.memories.dram.size=1GiB', '--until', '1us', '--no-progress', '--queue', url, '--out', failing]);
    expect(await f.exited).toBe(1);
    const row = fs.readFileSync(path.join(failing, 'results.csv'), 'utf8').trim().split('\n')[1];
    // The error names the coordinator's scenario file, not the worker's scratch copy.
    expect(row).toMatch(new RegExp(`^mobile-camera-codec,1,error,([0-9a-f]{16}),"?${REPO.replace(/[/.]/g, '\\$&')}/soc-configs/scenarios/mobile-camera-codec\\.json: scenario\\.buffers\\[0\\]: the kernel could not provide buffer "?"?frames`));
    const hash = row.split(',')[3];
    expect(JSON.parse(fs.readFileSync(path.join(failing, 'points', hash, 'error.json'), 'utf8'))).toMatchObject({ kind: 'config', status: 'error' });
    expect([...w.text().matchAll(new RegExp(`^error ${hash} `, 'gm'))]).toHaveLength(1);
    expect(w.child.exitCode).toBeNull();
    expect(await stop(w)).toBe(0);
  }, 60_000);

  test('a trace input travels with the job; a restarted coordinator collects points finished without it', async () => {
    // The CPU-trace scenario and its trace, in a directory whose trace is gone while the worker runs the points.
    const src = tmp();
    fs.mkdirSync(path.join(src, 'scenarios'));
    fs.mkdirSync(path.join(src, 'traces'));
    const scenario = JSON.parse(fs.readFileSync(path.join(REPO, 'soc-configs', 'scenarios', 'minimal-cpu-trace.json'), 'utf8'));
    scenario.soc = path.join(REPO, 'soc-configs', 'minimal.json');
    delete scenario.$schema;
    fs.writeFileSync(path.join(src, 'scenarios', 'trace.json'), JSON.stringify(scenario));
    fs.copyFileSync(path.join(REPO, 'soc-configs', 'traces', 'true-lackey.txt'), path.join(src, 'traces', 'true-lackey.txt'));
    const args = [path.join(src, 'scenarios', 'trace.json'), '--seeds', '2', '--stats-filter', 'scenario.**', '--no-progress'];
    const local = socsimSync(['sweep', ...args, '-j', '1', '--out', tmp()]);
    expect(local.status).toBe(0);
    const localCsv = fs.readFileSync(/; (\S+results\.csv)/.exec(local.out)![1], 'utf8');
    expect(localCsv).toMatch(/,ok,[0-9a-f]{16},,.*[1-9]/);

    const out = tmp();
    const first = socsim(['sweep', ...args, '--queue', url, '--out', out]);
    await first.waitFor(/on the queue at redis:\/\/:\*\*\*@127\.0\.0\.1/);
    const queue = new Queue('socsim-points', { connection: { host: '127.0.0.1', port: redis.port, password: PASSWORD } });
    try {
      while ((await queue.getJobCounts('waiting')).waiting < 2) await new Promise((r) => setTimeout(r, 50));
    } finally {
      await queue.close();
    }
    first.child.kill('SIGKILL');
    await first.exited;
    fs.rmSync(path.join(src, 'traces'), { recursive: true });

    const w = await worker();
    await w.waitFor(/^ok [\s\S]*^ok /m);
    // The coordinator resolves the scenario again, which reads the trace.
    fs.mkdirSync(path.join(src, 'traces'));
    fs.copyFileSync(path.join(REPO, 'soc-configs', 'traces', 'true-lackey.txt'), path.join(src, 'traces', 'true-lackey.txt'));
    const again = socsim(['sweep', ...args, '--queue', url, '--out', out]);
    expect(await again.exited).toBe(0);
    expect(again.text()).toMatch(/2 point\(s\): 2 ran, 0 already finished, 0 failed/);
    expect(fs.readFileSync(path.join(out, 'results.csv'), 'utf8')).toBe(localCsv);
    // Collected from the queue, not run again.
    expect(okLines(w.text())).toHaveLength(2);
    expect(await stop(w)).toBe(0);
  }, 60_000);

  test('a wrong password or an unreachable server is an error that names the queue without its password', () => {
    const wrong = socsimSync(['sweep', ...SWEEP, '--queue', `redis://:nope-Xy77@127.0.0.1:${redis.port}`, '--out', tmp()]);
    expect(wrong.status).toBe(1);
    expect(wrong.out).toMatch(/cannot use the queue at redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0: WRONGPASS/);
    expect(wrong.out).not.toMatch(/nope-Xy77/);
    // Nothing listens on port 1.
    const down = socsimSync(['worker', '--queue', 'redis://:nope-Xy77@127.0.0.1:1']);
    expect(down.status).toBe(1);
    expect(down.out).toMatch(/cannot use the queue at redis:\/\/:\*\*\*@127\.0\.0\.1:1\/0: connect ECONNREFUSED/);
    expect(down.out).not.toMatch(/nope-Xy77/);
    const bad = socsimSync(['worker', '--queue', `http://:nope-Xy77@h`]);
    expect(bad.status).toBe(1);
    expect(bad.out).toMatch(/--queue: a redis:\/\/ or rediss:\/\/ URL/);
    expect(bad.out).not.toMatch(/nope-Xy77/);
  });

  test('the password appears in no output of any test', () => {
    expect(transcript.length).toBeGreaterThan(8);
    expect(transcript.filter((t) => t.includes(PASSWORD))).toEqual([]);
  });
});
