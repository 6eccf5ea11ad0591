import { ClockDomain } from '../../sim/engine/clock';
import { createSimContext, type SimContext } from '../../sim/engine/context';
import { Crossbar } from '../../sim/bus/crossbar';
import { connectPorts } from '../../sim/bus/port';
import { Cmd } from '../../sim/bus/transaction';
import { PhysicalMemory } from '../../sim/mem/physmem';
import { SimpleMemory } from '../../sim/mem/sram';
import { CpuMmu } from '../../sim/mmu/cpuMmu';
import { getFormat } from '../../sim/mmu/format';
import { CoherentPort } from '../../sim/devices/coherentPort';
import { CpuCache, type CpuCacheParams, type CpuCacheParamsInput } from '../../sim/devices/cpuCache';
import { MEM_BASE, MEM_SIZE, iommuParams } from './mmuRig';
import { TrafficMaster, type CompletedRequest, type TrafficRequest } from './trafficMaster';

export { MEM_BASE };

/** 4 sets × 2 ways × 64-byte lines: lines 256 bytes apart share a set. */
export const SMALL_CACHE: CpuCacheParams = { sizeBytes: 512, ways: 2, lineBytes: 64, hitLatencyCycles: 2, mshrs: 4, maxOutstanding: 16 };

/** A master whose script can be extended and re-run. */
export class Driver {
  private readonly script: TrafficRequest[] = [];
  readonly master: TrafficMaster;

  constructor(private readonly ctx: SimContext, name: string, masterId: number, maxOutstanding = 4) {
    this.master = new TrafficMaster(ctx, name, masterId, this.script, maxOutstanding);
  }

  /** Queues `reqs` and starts issuing them now, without running the engine. */
  issue(reqs: TrafficRequest[]): void {
    this.script.push(...reqs);
    this.master.start();
  }

  /** Runs `reqs` to completion; returns their completions in request order. */
  run(reqs: TrafficRequest[]): CompletedRequest[] {
    const before = this.master.completed.length;
    this.script.push(...reqs);
    this.master.start();
    this.ctx.engine.runUntilIdle();
    const done = this.master.completed.slice(before);
    if (done.length !== reqs.length) throw new Error(`${done.length} of ${reqs.length} requests completed`);
    return done.sort((a, b) => a.id - b.id);
  }

  /** Writes `data` at `addr` in line-sized (or smaller) aligned pieces. */
  write(addr: number, data: Uint8Array, piece = 64): void {
    const reqs: TrafficRequest[] = [];
    for (let off = 0; off < data.length; off += piece) {
      reqs.push({ cmd: Cmd.Write, addr: addr + off, size: Math.min(piece, data.length - off), data: data.subarray(off, off + piece) });
    }
    this.run(reqs);
  }

  /** Reads `bytes` at `addr` in pieces; returns the bytes. */
  read(addr: number, bytes: number, piece = 64): Uint8Array {
    const reqs: TrafficRequest[] = [];
    for (let off = 0; off < bytes; off += piece) reqs.push({ cmd: Cmd.Read, addr: addr + off, size: Math.min(piece, bytes - off) });
    const out = new Uint8Array(bytes);
    this.run(reqs).forEach((c, i) => out.set(c.data, i * piece));
    return out;
  }
}

/**
 * A 1 GHz crossbar with one fixed-latency memory; the CPU (a TrafficMaster) reaches it
 * through a CPU MMU with translation off (PA = VA) and a CpuCache. Devices are
 * TrafficMasters on the crossbar, directly (non-coherent) or through a CoherentPort.
 */
export class CacheRig {
  readonly ctx = createSimContext(11);
  readonly clock = new ClockDomain('sys', 1e9);
  readonly mem = new PhysicalMemory();
  readonly xbar: Crossbar;
  readonly ram: SimpleMemory;
  readonly mmu: CpuMmu;
  readonly cache: CpuCache;
  readonly cpu: Driver;
  private nextDevice = 1;

  constructor(params: CpuCacheParamsInput = SMALL_CACHE, memLatencyCycles = 20, cpuOutstanding = 1) {
    const ctx = this.ctx;
    this.xbar = new Crossbar(ctx, 'soc.xbar', this.clock, { widthBytes: 32, latencyCycles: 1, arbitration: 'round-robin', inputQueueDepth: 16, maxOutstandingPerMaster: 0 });
    this.ram = new SimpleMemory(ctx, 'soc.mem', this.clock, { base: MEM_BASE, size: MEM_SIZE }, this.mem, { latencyCycles: memLatencyCycles, bytesPerCycle: 32, queueDepth: 64 });
    connectPorts(this.xbar.addOutput('mem', [{ base: MEM_BASE, size: MEM_SIZE }]), this.ram.port);
    const p = iommuParams();
    this.mmu = new CpuMmu(ctx, 'soc.cpu', this.clock, getFormat('arm-lpae-4k'), 50, { l1Tlb: p.l1Tlb, l2Tlb: p.l2Tlb, walker: p.walker, inputQueueDepth: 16 });
    this.cache = new CpuCache(ctx, 'soc.cpu.cache', this.clock, 50, params);
    connectPorts(this.mmu.memSidePort, this.cache.cpuSidePort);
    connectPorts(this.cache.memSidePort, this.xbar.addInput('cpu'));
    connectPorts(this.mmu.walker.port, this.xbar.addInput('cpu_walker'));
    this.cpu = new Driver(ctx, 'core', 40, cpuOutstanding);
    connectPorts(this.cpu.master.port, this.mmu.cpuSidePort);
  }

  /** A device master on the crossbar; coherent ones go through a CoherentPort. */
  device(coherent: boolean, snoopLatencyCycles = 2): { dev: Driver; port: CoherentPort | null } {
    const id = this.nextDevice++;
    const dev = new Driver(this.ctx, `dev${id}`, id, 4);
    const input = this.xbar.addInput(`dev${id}`);
    if (!coherent) {
      connectPorts(dev.master.port, input);
      return { dev, port: null };
    }
    const port = new CoherentPort(this.ctx, `soc.dev${id}.coherent`, this.clock, this.cache, { snoopLatencyCycles });
    connectPorts(dev.master.port, port.cpuSidePort);
    connectPorts(port.memSidePort, input);
    return { dev, port };
  }

  /** Memory's bytes (behind the cache). */
  peek(addr: number, n: number): Uint8Array {
    const out = new Uint8Array(n);
    this.mem.read(addr, out);
    return out;
  }

  poke(addr: number, data: Uint8Array): void {
    this.mem.write(addr, data);
  }

  stat(name: string): number {
    return this.ctx.stats.value(name);
  }

  /** Cache stat `soc.cpu.cache.<name>`. */
  c(name: string): number {
    return this.ctx.stats.value(`soc.cpu.cache.${name}`);
  }
}

export function pattern(bytes: number, seed: number): Uint8Array {
  const out = new Uint8Array(bytes);
  for (let i = 0; i < bytes; i++) out[i] = (seed * 31 + i * 7 + ((i >> 3) * 13)) & 0xff;
  return out;
}
