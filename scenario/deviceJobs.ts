/**
 * Scenario jobs that run a device model on buffers its driver obtained: traffic
 * generators, the GPU engine, the display controller, the camera and trace-driven CPU
 * cores. This is the composition root's part: it builds each model from the SoC
 * config's hardware parameters plus the job's programming, attaches it to the device's
 * translation path, and starts it at the job's time.
 */
import * as path from 'path';
import type { SimContext } from '../sim/engine/context';
import { ceilRatio } from '../sim/engine/time';
import { SimInvariantError } from '../sim/engine/errors';
import type { Soc } from '../sim/soc/builder';
import type { AccessMode } from '../sim/soc/builder';
import { CameraIsp } from '../sim/devices/camera';
import { CpuCore, type CpuTraceResult } from '../sim/devices/cpuCore';
import { DisplayController } from '../sim/devices/display';
import { GpuEngine } from '../sim/devices/gpuEngine';
import { readTraceFile } from '../sim/devices/memTrace';
import { TrafficGenerator } from '../sim/devices/trafficGenerator';
import type { WorkloadSpec } from '../sim/devices/workload';
import { Nic } from '../sim/devices/nic';
import { DescDma } from '../sim/devices/descDma';
import { DescDmaDriver } from '../drivers/devices/descDmaDriver';
import { sgInitTable, sgSetPage } from '../drivers/dma/types';
import type { DeviceBuffer } from '../drivers/devices/buffers';
import { NicDriver } from '../drivers/devices/nicDriver';
import { UserProcess } from '../drivers/devices/cpuProcess';
import type { Platform } from '../drivers/platform';
import type { JobResult, RunningJob } from './jobTypes';
import type { Job, WorkloadConfig } from './schema';

export interface DeviceJobEnv {
  ctx: SimContext;
  soc: Soc;
  mode: AccessMode;
  platform: Platform;
  buffers: Map<string, DeviceBuffer>;
  /** Directory of the scenario file (trace paths are relative to it). */
  scenarioDir: string;
  /** Called when the run ends (process exit, driver remove). */
  atExit: Array<() => void>;
}

type DeviceJob = Exclude<Job, { kind: 'dma-copy' }>;

/** A job whose device signals completion once; result details come from `detail()`. */
function running(
  job: DeviceJob, startAt: number, ctx: SimContext, start: (done: () => void) => void, detail: () => JobResult['detail'],
  /** Completion the device does not signal (e.g. the last packets dropped on the wire). */
  finishedAnyway: () => boolean = () => false,
): RunningJob {
  let started = false;
  let done = false;
  const scope = ctx.stats.scope(`scenario.${job.name}`);
  const sDone = scope.counter('done', '1 when the job completed');
  const sDuration = scope.counter('duration_ps', 'start to completion, ps');
  ctx.engine.schedule(startAt, () => {
    started = true;
    const t0 = ctx.engine.now;
    start(() => {
      done = true;
      sDone.value = 1;
      sDuration.value = ctx.engine.now - t0;
    });
  });
  const isDone = () => done || (started && finishedAnyway());
  return {
    name: job.name,
    progress: () => (isDone() ? 1 : started ? 0.5 : 0),
    isDone,
    result: () => {
      const d = isDone();
      if (d && !done) sDone.value = 1;
      return { name: job.name, kind: job.kind, done: d, status: d ? 'ok' : started ? 'not_finished' : 'not_started', verified: null, detail: detail() };
    },
  };
}

function hw<K extends string>(soc: Soc, device: string, kind: K) {
  const a = soc.attachPoint(device);
  if (a.config.kind !== kind) throw new SimInvariantError(`device ${device} is a ${a.config.kind}, not a ${kind}`);
  return { ...a, config: a.config as Extract<typeof a.config, { kind: K }> };
}

function buffer(env: DeviceJobEnv, name: string): DeviceBuffer {
  const b = env.buffers.get(name);
  if (!b) throw new SimInvariantError(`no buffer ${name} (the scenario loader checks this)`);
  return b;
}

/** A workload spec on a buffer: base and footprint from the buffer, one pass unless `accesses` says otherwise. */
function workloadOn(buf: DeviceBuffer, w: WorkloadConfig): WorkloadSpec {
  const base = buf.deviceAddr + w.offset;
  const { offset: _offset, footprint, ...rest } = w;
  if (w.kind === 'tiled2d') {
    const pass = (w.widthBytes * w.height) / w.accessBytes;
    return { ...rest, kind: 'tiled2d', base, accesses: w.accesses ?? pass } as WorkloadSpec;
  }
  const bytes = footprint ?? buf.size - w.offset;
  return { ...rest, base, footprint: bytes, accesses: w.accesses ?? bytes / w.accessBytes } as WorkloadSpec;
}

export function startDeviceJob(env: DeviceJobEnv, job: DeviceJob): RunningJob {
  const { ctx, soc, mode } = env;
  const statsPath = (device: string) => `soc.${device}`;
  switch (job.kind) {
    case 'traffic': {
      const a = hw(soc, job.device, 'traffic');
      const buf = buffer(env, job.buffer);
      const gen = new TrafficGenerator(ctx, statsPath(job.device), a.clock, a.masterId, {
        streams: job.streams.map((w) => workloadOn(buf, w)), maxOutstanding: a.config.maxOutstanding, ratePerUs: job.ratePerUs, mode,
      });
      soc.attach(job.device, gen.port);
      return running(job, job.at, ctx, (done) => gen.start(() => done()), () => ({}));
    }
    case 'gpu': {
      const a = hw(soc, job.device, 'gpu');
      const buf = buffer(env, job.buffer);
      const gpu = new GpuEngine(ctx, statsPath(job.device), a.clock, a.masterId, {
        streams: job.streams, maxOutstanding: a.config.maxOutstanding, accessBytes: job.accessBytes, sharing: job.sharing, passes: job.passes,
        readFraction: job.readFraction, mode,
        surface: { base: buf.deviceAddr, widthBytes: job.widthBytes, height: job.height, tileWidthBytes: job.tileWidthBytes, tileHeight: job.tileHeight },
      });
      soc.attach(job.device, gpu.port);
      return running(job, job.at, ctx, (done) => gpu.start(() => done()), () => ({}));
    }
    case 'display': {
      const a = hw(soc, job.device, 'display');
      const buf = buffer(env, job.buffer);
      const disp = new DisplayController(ctx, statsPath(job.device), a.clock, a.masterId, {
        base: buf.deviceAddr, width: job.width, height: job.height, bytesPerPixel: job.bytesPerPixel,
        pitchBytes: job.pitchBytes ?? job.width * job.bytesPerPixel, refreshHz: job.refreshHz, frames: job.frames,
        vblankFraction: job.vblankFraction, burstBytes: a.config.burstBytes, maxOutstanding: a.config.maxOutstanding,
        fifoBytes: a.config.fifoBytes, mode,
      });
      soc.attach(job.device, disp.port);
      return running(job, job.at, ctx, (done) => disp.start(done), () => ({}));
    }
    case 'camera': {
      const a = hw(soc, job.device, 'camera');
      const buf = buffer(env, job.buffer);
      const cam = new CameraIsp(ctx, statsPath(job.device), a.clock, a.masterId, {
        base: buf.deviceAddr, width: job.width, height: job.height, bytesPerPixel: job.bytesPerPixel,
        pitchBytes: job.width * job.bytesPerPixel, fps: job.fps, buffers: job.buffers, frames: job.frames,
        burstBytes: a.config.burstBytes, maxOutstanding: a.config.maxOutstanding, lineBufferBytes: a.config.lineBufferBytes, mode,
      });
      soc.attach(job.device, cam.port);
      return running(job, job.at, ctx, (done) => cam.start(done), () => ({}));
    }
    case 'cpu-trace':
      return startCpuTrace(env, job);
    case 'nic':
      return startNic(env, job);
    case 'sg-copy':
      return startSgCopy(env, job);
  }
}

/**
 * Scatter-gather copies on a descriptor DMA engine through its dmaengine-style driver:
 * each transfer copies `bytes` between two lists of single pages taken from the page
 * allocator in an interleaved order (so neither list is physically contiguous), filled
 * with random bytes through the CPU and compared through the CPU afterwards.
 */
function startSgCopy(env: DeviceJobEnv, job: Extract<DeviceJob, { kind: 'sg-copy' }>): RunningJob {
  const { ctx, soc, platform, mode } = env;
  const a = hw(soc, job.device, 'descdma');
  const engine = new DescDma(ctx, `soc.${job.device}`, a.clock, a.masterId, { burstBytes: a.config.burstBytes, maxOutstanding: a.config.maxOutstanding, mode });
  soc.attach(job.device, engine.port);
  const driver = new DescDmaDriver(platform, job.device, engine);
  // A run cut short by `until` may end mid-transfer: the driver then stays bound (its remove would refuse, EBUSY).
  env.atExit.push(() => {
    if (!driver.busy) driver.remove();
  });
  const scope = ctx.stats.scope(`scenario.${job.name}`);
  const sBytes = scope.counter('bytes', 'bytes copied');
  const sMismatches = scope.counter('mismatches', 'transfers whose destination differed from the source');
  const rng = ctx.rng.fork(`scenario.${job.name}`);
  const pages = job.bytes / 4096;
  const kcpu = platform.kcpu;
  let completed = 0;
  const transfer = (done: () => void) => {
    // Interleaved allocation: source and destination pages alternate, so each list is scattered.
    const src: number[] = [];
    const dst: number[] = [];
    for (let i = 0; i < 2 * pages; i++) {
      const pa = platform.pages.allocPages(0);
      if (pa === null) throw new SimInvariantError(`${job.name}: out of pages`);
      (i % 2 === 0 ? src : dst).push(pa);
    }
    const data = new Uint8Array(4096);
    for (const pa of src) {
      rng.fillBytes(data);
      kcpu.write(kcpu.physToVirt(pa), data);
    }
    const list = (ps: number[]) => {
      const sg = sgInitTable(ps.length);
      ps.forEach((pa, i) => sgSetPage(sg[i], pa, 4096, 0));
      return sg;
    };
    driver.memcpySg(list(src), pages, list(dst), pages, (r) => {
      sBytes.value += r.bytes;
      if (job.verify) {
        const x = new Uint8Array(4096);
        const y = new Uint8Array(4096);
        let same = r.error === null;
        for (let i = 0; same && i < pages; i++) {
          kcpu.read(kcpu.physToVirt(src[i]), x);
          kcpu.read(kcpu.physToVirt(dst[i]), y);
          for (let k = 0; k < 4096; k++) if (x[k] !== y[k]) { same = false; break; }
        }
        if (!same) sMismatches.value++;
      }
      for (const pa of [...src, ...dst]) platform.pages.freePages(pa, 0);
      if (++completed < job.transfers) transfer(done);
      else done();
    });
  };
  return running(job, job.at, ctx, (done) => {
    driver.probe();
    transfer(done);
  }, () => ({ transfers: completed }));
}

function startNic(env: DeviceJobEnv, job: Extract<DeviceJob, { kind: 'nic' }>): RunningJob {
  const { ctx, soc, platform } = env;
  const a = hw(soc, job.device, 'nic');
  const { rx, tx } = job;
  const nic = new Nic(ctx, `soc.${job.device}`, a.clock, a.masterId, {
    burstBytes: a.config.burstBytes, maxOutstanding: a.config.maxOutstanding, lineRateGbps: a.config.lineRateGbps,
    rxFifoBytes: a.config.rxFifoBytes, interruptEvery: job.interruptEvery, interruptTimerNs: job.interruptDelay / 1000,
    rx: rx ? { packetBytes: rx.packetBytes, packetsPerSecond: rx.packetsPerSecond, packets: rx.packets } : null,
    ...(rx?.rogueLagPackets !== undefined ? { rogue: { lagPackets: rx.rogueLagPackets } } : {}),
  });
  soc.attach(job.device, nic.port);
  const driver = new NicDriver(platform, job.device, nic, {
    rxRingEntries: rx?.ringEntries ?? 0, rxBufferBytes: rx?.bufferBytes ?? 2048, mapping: rx?.mapping ?? 'per-packet',
    txRingEntries: tx?.ringEntries ?? 0, verify: job.verify,
  });
  env.atExit.push(() => driver.remove());
  const missed = () => (rx ? ctx.stats.value(`soc.${job.device}.rx_missed`) : 0);
  const finished = () => (!rx || driver.rxPackets + missed() >= rx.packets) && (!tx || driver.txPackets + driver.txBusy >= tx.packets);
  return running(job, job.at, ctx, (done) => {
    let signalled = false;
    driver.onCleaned = () => {
      if (!signalled && finished()) {
        signalled = true;
        done();
      }
    };
    driver.probe();
    if (tx) {
      // The stack hands the driver a packet every 1/rate seconds (e1000_xmit_frame per packet).
      let sent = 0;
      const t0 = ctx.engine.now;
      const next = () => {
        driver.xmit(tx.packetBytes);
        sent++;
        if (sent < tx.packets) ctx.engine.schedule(t0 + ceilRatio(sent, tx.packetsPerSecond), next);
      };
      next();
    }
  }, () => ({ rx_packets: driver.rxPackets, rx_missed: missed(), tx_packets: driver.txPackets, tx_busy: driver.txBusy }), finished);
}

/** ASIDs of trace processes: 1000 + the core's index (deterministic, clear of the platform's). */
const PROCESS_ASID_BASE = 1000;

function startCpuTrace(env: DeviceJobEnv, job: Extract<DeviceJob, { kind: 'cpu-trace' }>): RunningJob {
  const { ctx, soc, mode, platform } = env;
  const core = soc.corePorts.get(job.core);
  if (!core) throw new SimInvariantError(`no CPU core ${job.core} (the scenario loader checks this)`);
  const file = path.resolve(env.scenarioDir, job.trace);
  const opts = { includeFetches: job.includeFetches, source: file };
  // The process's pages exist before it runs (its page faults, done up front).
  const process = new UserProcess(platform, core.mmu, PROCESS_ASID_BASE + [...soc.corePorts.keys()].indexOf(job.core));
  const addrs = function* () {
    for (const r of readTraceFile(file, opts)) {
      yield r.addr;
      yield r.addr + r.size - 1;
    }
  };
  process.prefault(addrs());
  ctx.stats.scope(`scenario.${job.name}`).counter('pages', 'pages of the process (mapped before the run)').value = process.residentPages;
  env.atExit.push(() => process.exit());
  const lineBytes = soc.cpuCaches.get(core.mmu)?.lineBytes ?? 64;
  const cpu = new CpuCore(ctx, `soc.${job.core}`, core.clock, core.masterId, {
    maxOutstanding: core.config.maxOutstanding, storeBuffer: core.config.storeBuffer, cyclesBetween: core.config.cyclesBetween, lineBytes, mode,
  });
  soc.attachCore(job.core, cpu.port);
  let result: CpuTraceResult | null = null;
  return running(job, job.at, ctx, (done) => {
    process.activate();
    cpu.runTrace(readTraceFile(file, opts), (r) => {
      result = r;
      done();
    });
  }, (): JobResult['detail'] => {
    const r = result as CpuTraceResult | null;
    return r ? { records: r.records, loads: r.loads, stores: r.stores, faults: r.faults, pages: process.residentPages } : { pages: process.residentPages };
  });
}
