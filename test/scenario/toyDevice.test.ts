/**
 * A device kind and its job kind defined in this file alone: registered at run time, used
 * by a SoC config and a scenario written to a temp dir, run with `run()`. Nothing else
 * in socsim knows about them.
 */
import * as fs from 'fs';
import * as os from 'os';
import * as path from 'path';
import { RequestPort, type ResponseReceiver } from '../../sim/bus/port';
import { Cmd, Status, type Transaction, TransactionPool } from '../../sim/bus/transaction';
import type { ClockDomain } from '../../sim/engine/clock';
import type { SimContext } from '../../sim/engine/context';
import type { Counter } from '../../sim/engine/stats';
import { registerDeviceKind } from '../../sim/soc/deviceRegistry';
import { defineDeviceKind, deviceFields } from '../../sim/soc/deviceSpec';
import { Name, PositiveInt, Size } from '../../sim/soc/schemaTypes';
import { registerJobKind } from '../../scenario/jobRegistry';
import { defineJobKind, jobBuffer, jobFields, runningJob, withRules } from '../../scenario/jobSpec';
import { run } from '../../scenario/run';
import { loadScenario } from '../../scenario/load';
import { configErrorOf, MINIMAL, readConfig } from '../helpers/configFiles';

/** Reads `bytes` from `base` in bursts, one at a time, and sums the bytes it got. */
class ToyReader implements ResponseReceiver {
  readonly port: RequestPort;
  private readonly pool: TransactionPool;
  base = 0;
  private bytes = 0;
  private offset = 0;
  private pending: Transaction | null = null;
  private done: (() => void) | null = null;
  checksum = 0;
  private readonly sReads: Counter;
  private readonly sBytes: Counter;

  constructor(private readonly ctx: SimContext, path: string, readonly clock: ClockDomain, private readonly masterId: number, private readonly burstBytes: number) {
    this.port = new RequestPort(`${path}.port`, this);
    this.pool = new TransactionPool(burstBytes);
    const s = ctx.stats.scope(path);
    this.sReads = s.counter('reads', 'reads completed');
    this.sBytes = s.counter('bytes_read', 'bytes read');
  }

  configure(base: number, bytes: number): void {
    this.base = base;
    this.bytes = bytes;
  }

  start(done: () => void): void {
    this.offset = 0;
    this.done = done;
    this.next();
  }

  private next(): void {
    if (this.offset >= this.bytes) {
      this.done?.();
      return;
    }
    const size = Math.min(this.burstBytes, this.bytes - this.offset);
    this.pending = this.pool.alloc(Cmd.Read, this.base + this.offset, size, this.masterId, this.ctx.engine.now);
    this.offset += size;
    if (this.port.sendRequest(this.pending)) this.pending = null;
  }

  recvRetry(): void {
    if (this.pending && this.port.sendRequest(this.pending)) this.pending = null;
  }

  recvResponse(t: Transaction): void {
    if (t.status === Status.Ok) {
      this.sReads.inc();
      this.sBytes.inc(t.size);
      for (let i = 0; i < t.size; i++) this.checksum += t.data[i];
    }
    this.pool.release(t);
    this.next();
  }
}

const toyDeviceKind = defineDeviceKind({
  spec: deviceFields('toy_reader', { burstBytes: Size.describe('bytes per read'), maxBytes: PositiveInt.default(1 << 20) }),
  rules: (d) => (d.burstBytes > 0 && d.burstBytes <= 256 ? [] : [['burstBytes', `must be in [1, 256], got ${d.burstBytes}`]]),
  build: (env, d) => new ToyReader(env.ctx, env.path, env.clock, env.masterId, d.burstBytes),
});

const toyJobKind = defineJobKind({
  spec: withRules(jobFields('toy_read', { device: Name, buffer: Name, bytes: Size }), (j) => (j.bytes > 0 ? [] : [[['bytes'], 'must be positive']])),
  target: { field: 'device', kinds: ['toy_reader'], exclusive: true },
  check: (j, c) => {
    const buf = c.buffer(j.buffer, ['buffer']);
    if (Array.isArray(buf)) return [buf];
    if (j.bytes > buf.size) return [[['bytes'], `needs ${j.bytes} bytes, buffer "${j.buffer}" has ${buf.size}`]];
    if (j.bytes > (c.device!.maxBytes as number)) return [[['bytes'], `more than the reader's maxBytes (${c.device!.maxBytes})`]];
    return [];
  },
  start: (env, job) => {
    const reader = env.soc.model(job.device, ToyReader);
    reader.configure(jobBuffer(env, job.buffer).deviceAddr, job.bytes);
    return runningJob(job, env.ctx, (done) => reader.start(done), () => ({ checksum: reader.checksum }));
  },
});

registerDeviceKind(toyDeviceKind);
registerJobKind(toyJobKind);

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'socsim-toy-'));

function writeFiles(device: Record<string, unknown>, job: Record<string, unknown> = {}): string {
  const soc = readConfig(MINIMAL);
  delete soc.$schema;
  soc.devices.push({ name: 'toy', kind: 'toy_reader', bus: 'xbar', clock: 'sys', burstBytes: 64, ...device });
  fs.writeFileSync(path.join(dir, 'toy-soc.json'), JSON.stringify(soc));
  const scenario = {
    name: 'toy', soc: 'toy-soc.json', seed: 3,
    buffers: [{ name: 'buf', device: 'toy', size: '64KiB', via: 'physical', fill: 'random' }],
    jobs: [{ kind: 'toy_read', name: 'read', device: 'toy', buffer: 'buf', bytes: 10_000, ...job }],
  };
  const file = path.join(dir, `toy-${Math.random().toString(36).slice(2)}.json`);
  fs.writeFileSync(file, JSON.stringify(scenario));
  return file;
}

describe('a device kind and job kind registered at run time', () => {
  test('the builder builds it, the job programs it, and the crossbar sees its reads', () => {
    const out = run(writeFiles({}));
    const s = out.stats;
    // 10000 bytes in 64-byte bursts: 156 full reads and one of 16 bytes.
    expect(s['soc.toy.reads']).toBe(157);
    expect(s['soc.toy.bytes_read']).toBe(10_000);
    expect(s['soc.xbar.toy.transactions']).toBe(157);
    expect(s['soc.xbar.toy.bytes']).toBe(10_000);
    expect(s['scenario.read.done']).toBe(1);
    expect(s['scenario.read.duration_ps']).toBeGreaterThan(0);
    // The reader got the buffer's bytes: its checksum is the sum of what memory holds there.
    const reader = out.soc.model('toy', ToyReader);
    expect(out.soc.devices.get('toy')).toBe(reader);
    const mem = new Uint8Array(10_000);
    out.soc.physmem.read(reader.base, mem);
    expect(reader.checksum).toBe(mem.reduce((a, b) => a + b, 0));
    expect(reader.checksum).toBeGreaterThan(0);
    expect(out.jobs[0]).toMatchObject({ name: 'read', kind: 'toy_read', done: true, detail: { checksum: reader.checksum } });
    // The DMA engine and the CPU core exist with no job: zero counts.
    expect(s['soc.dma0.bytes_written']).toBe(0);
    expect(s['soc.cpu0.records']).toBe(0);
  });

  test('its hardware rule and its job check are ConfigErrors with JSON paths', () => {
    const err = configErrorOf;
    const bad = err(() => loadScenario(writeFiles({ burstBytes: 512 })));
    expect(bad.jsonPath).toMatch(/^soc\.devices\[\d+\]\.burstBytes$/);
    expect(bad.message).toMatch(/must be in \[1, 256\], got 512/);
    const big = err(() => loadScenario(writeFiles({}, { bytes: '128KiB' })));
    expect(big.jsonPath).toBe('scenario.jobs[0].bytes');
    expect(big.message).toMatch(/needs 131072 bytes, buffer "buf" has 65536/);
    const cap = err(() => loadScenario(writeFiles({ maxBytes: 100 })));
    expect(cap.jsonPath).toBe('scenario.jobs[0].bytes');
    const kind = err(() => loadScenario(writeFiles({}, { kind: 'toy_write' })));
    expect(kind.jsonPath).toBe('scenario.jobs[0].kind');
  });
});
