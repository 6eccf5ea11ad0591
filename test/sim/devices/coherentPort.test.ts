import { connectPorts } from '../../../sim/bus/port';
import { Cmd, Status } from '../../../sim/bus/transaction';
import { createSimContext } from '../../../sim/engine/context';
import { ConfigError } from '../../../sim/engine/errors';
import type { DmaCopyResult } from '../../../sim/devices/dmaEngine';
import { buildSoc, loadSocConfig, type Soc } from '../../../sim/soc/builder';
import { CacheRig, Driver, MEM_BASE, pattern, SMALL_CACHE } from '../../helpers/cacheRig';
import { readConfig, writeTemp } from '../../helpers/configFiles';
import type { AccessMode } from '../../../sim/engine/accessMode';

const TLB = { entries: 32, ways: 4, latencyCycles: 1, pageSizes: ['4KiB', '2MiB'] };
const BUF = 0x8010_0000; // the shared buffer: 4 lines
const OUT = 0x8020_0000; // where a device copies the buffer to (what it read)
const SRC = 0x8030_0000; // where a device's new bytes come from
const N = 256;
const OLD = new Uint8Array(N).fill(0xaa);
const NEW = pattern(N, 9);

/** The minimal SoC plus a CPU MMU with a 32 KiB data cache; dma0 non-coherent, dma1 IO-coherent. */
function socConfig(mutate: (c: any) => void = () => {}): any {
  const c = readConfig();
  c.cpuMmus = [{
    name: 'cpu', bus: 'xbar', clock: 'sys', format: 'arm-lpae-4k', l1Tlb: TLB, l2Tlb: { ...TLB, entries: 1024, ways: 8 }, walker: { slots: 2, stepCycles: 1 },
    cache: { sizeBytes: '32KiB', ways: 4, lineBytes: 64, hitLatencyCycles: 2 },
  }];
  c.devices.push({ ...c.devices[0], name: 'dma1', coherent: true, snoopLatencyCycles: 3 });
  const copy = JSON.parse(JSON.stringify(c));
  mutate(copy);
  return copy;
}

class System {
  readonly soc: Soc;
  readonly cpu: Driver;

  constructor(readonly mode: AccessMode = 'timing', cfg: any = socConfig()) {
    const ctx = createSimContext(4);
    this.soc = buildSoc(ctx, loadSocConfig(writeTemp(cfg)), 'test', { mode });
    this.cpu = new Driver(ctx, 'core', 99, 4);
    connectPorts(this.cpu.master.port, this.soc.cpuMmu('cpu').cpuSidePort); // MMU off: PA = VA
    this.soc.physmem.write(BUF, OLD);
    this.soc.physmem.write(SRC, NEW);
  }

  get cache() {
    return this.soc.cpuCache();
  }

  /** CPU stores through the MMU and cache, in the SoC's mode. */
  cpuWrite(addr: number, data: Uint8Array): void {
    if (this.mode === 'timing') return this.cpu.write(addr, data);
    for (let off = 0; off < data.length; off += 64) {
      expect(this.cpu.master.atomic({ cmd: Cmd.Write, addr: addr + off, size: 64, data: data.subarray(off, off + 64) }).status).toBe(Status.Ok);
    }
  }

  cpuRead(addr: number, bytes: number): Uint8Array {
    if (this.mode === 'timing') return this.cpu.read(addr, bytes);
    const r = this.cpu.master.atomic({ cmd: Cmd.Read, addr, size: bytes });
    expect(r.status).toBe(Status.Ok);
    return r.data;
  }

  /** A device copy, run to completion. */
  dma(dev: string, src: number, dst: number, bytes: number): void {
    let res: DmaCopyResult | null = null;
    this.soc.dma(dev).copy(src, dst, bytes, (r) => { res = r; });
    this.soc.ctx.engine.runUntilIdle();
    expect(res!.status).toBe(Status.Ok);
  }

  /** What the device read: it copies BUF to OUT; returns OUT from memory. */
  deviceReads(dev: string): Uint8Array {
    this.soc.physmem.fill(OUT, N, 0);
    this.dma(dev, BUF, OUT, N);
    const out = new Uint8Array(N);
    this.soc.physmem.read(OUT, out);
    return out;
  }

  /** The device writes NEW into BUF. */
  deviceWritesNew(dev: string): void {
    this.dma(dev, SRC, BUF, N);
  }

  memory(addr: number, bytes: number): Uint8Array {
    const out = new Uint8Array(bytes);
    this.soc.physmem.read(addr, out);
    return out;
  }

  stat(name: string): number {
    return this.soc.ctx.stats.value(name);
  }
}

const eq = (a: Uint8Array, b: Uint8Array) => expect(Array.from(a)).toEqual(Array.from(b));

describe.each<AccessMode>(['timing', 'atomic'])('coherency you can observe (%s mode)', (mode) => {
  test('(a) non-coherent device reads stale DRAM bytes until the CPU cleans its cache', () => {
    const s = new System(mode);
    s.cpuWrite(BUF, NEW);
    expect(s.cache.isDirty(BUF)).toBe(true);
    eq(s.deviceReads('dma0'), OLD); // stale: the new bytes are only in the CPU cache
    expect(s.cache.cleanRange(BUF, N)).toBeGreaterThan(0);
    expect(s.stat('soc.cpu.cache.cleaned_lines')).toBe(4);
    eq(s.deviceReads('dma0'), NEW);
  });

  test('(b) the CPU reads stale lines after a non-coherent device write until it invalidates', () => {
    const s = new System(mode);
    eq(s.cpuRead(BUF, N), OLD); // lines now cached
    s.deviceWritesNew('dma0');
    eq(s.memory(BUF, N), NEW);
    eq(s.cpuRead(BUF, N), OLD); // stale cache hits
    s.cache.invalidateRange(BUF, N);
    eq(s.cpuRead(BUF, N), NEW);
  });

  test('(c) an IO-coherent device is always fresh, with no maintenance', () => {
    const s = new System(mode);
    s.cpuWrite(BUF, NEW);
    eq(s.deviceReads('dma1'), NEW); // snooped the dirty lines
    expect(s.memory(BUF, 4)[0]).toBe(0xaa); // and without writing them back
    expect(s.cache.isDirty(BUF)).toBe(true);
    const NEWER = pattern(N, 21);
    s.soc.physmem.write(SRC, NEWER);
    s.deviceWritesNew('dma1'); // invalidates the CPU's copies (dirty ones written back first)
    eq(s.cpuRead(BUF, N), NEWER);
    eq(s.memory(BUF, N), NEWER);
    // Each copy reads 4 lines and writes 4.
    expect(s.stat('soc.dma1.coherent.read_snoops')).toBe(8);
    expect(s.stat('soc.dma1.coherent.write_snoops')).toBe(8);
    expect(s.stat('soc.cpu.cache.snoop_hits')).toBeGreaterThanOrEqual(8);
    expect(s.stat('soc.cpu.cache.cleaned_lines') + s.stat('soc.cpu.cache.invalidated_lines')).toBe(0);
    expect(s.soc.coherentPorts.has('dma0')).toBe(false);
  });

  test('(d) invalidateRange drops dirty data: memory keeps the old bytes', () => {
    const s = new System(mode);
    s.cpuWrite(BUF, NEW);
    s.cache.invalidateRange(BUF, N);
    expect(s.stat('soc.cpu.cache.dropped_dirty_lines')).toBe(4);
    eq(s.memory(BUF, N), OLD);
    eq(s.cpuRead(BUF, N), OLD);
    eq(s.deviceReads('dma1'), OLD);
  });
});

describe('IO-coherent devices behind an IOMMU', () => {
  const behindSmmu = (c: any) => {
    c.iommus = [{
      name: 'smmu', bus: 'xbar', clock: 'sys', format: 'arm-lpae-4k', l1Tlb: TLB, l2Tlb: { ...TLB, entries: 512, ways: 8 },
      walker: { slots: 2, stepCycles: 1 }, commandCycles: { invalidateAll: 10, invalidateAsid: 10, invalidateRange: 10, sync: 1 },
    }];
    c.devices[0].translation = { kind: 'iommu', iommu: 'smmu', streamId: 1, initialMode: 'bypass' };
    c.devices[1].translation = { kind: 'iommu', iommu: 'smmu', streamId: 2, initialMode: 'bypass' };
  };

  test('one snooping port after the IOMMU serves only the coherent masters', () => {
    const s = new System('timing', socConfig(behindSmmu));
    expect([...s.soc.coherentPorts.keys()]).toEqual(['smmu']);
    s.cpuWrite(BUF, NEW);
    eq(s.deviceReads('dma0'), OLD); // non-coherent, though it shares the port
    eq(s.deviceReads('dma1'), NEW);
    expect(s.stat('soc.smmu.coherent.read_snoops')).toBe(4); // dma1's reads only
  });
});

describe('cache and coherence in SoC configs', () => {
  function configError(c: any): ConfigError {
    try {
      loadSocConfig(writeTemp(c));
    } catch (e) {
      expect(e).toBeInstanceOf(ConfigError);
      return e as ConfigError;
    }
    throw new Error('expected a ConfigError');
  }

  test('the builder wires CPU MMU → cache → bus and exposes the cache', () => {
    const s = new System();
    expect(s.soc.cpuCaches.get('cpu')).toBe(s.cache);
    expect(s.soc.cpuCache('cpu')).toBe(s.cache);
    expect(() => s.soc.cpuCache('nope')).toThrow(/no CPU cache/);
    expect(s.cache.sets).toBe(128);
    expect(s.soc.cpuMmu('cpu').memSidePort.peer).toBe(s.cache.cpuSidePort);
    s.cpuRead(BUF, 64);
    s.cpuRead(BUF, 64);
    expect([s.stat('soc.cpu.cache.misses'), s.stat('soc.cpu.cache.hits')]).toEqual([1, 1]);
    expect(s.stat('soc.xbar.cpu.transactions')).toBe(1);
  });

  test('without a cache the CPU MMU goes straight to the bus', () => {
    const cfg = socConfig((c) => { delete c.cpuMmus[0].cache; c.devices.pop(); });
    const s = new System('timing', cfg);
    expect(s.soc.cpuCaches.size).toBe(0);
    expect(() => s.soc.cpuCache()).toThrow(/no CPU cache/);
    s.cpuRead(BUF, 64);
    s.cpuRead(BUF, 64);
    expect(s.stat('soc.xbar.cpu.transactions')).toBe(2);
  });

  test.each<[string, (c: any) => void, string, RegExp]>([
    ['coherent device without a CPU cache', (c) => { delete c.cpuMmus[0].cache; }, 'soc.devices[1].coherent', /no CPU MMU has a cache/],
    ['line size not a power of two', (c) => { c.cpuMmus[0].cache.lineBytes = 48; }, 'soc.cpuMmus[0].cache.lineBytes', /power of two/],
    ['size not a multiple of ways × line', (c) => { c.cpuMmus[0].cache.sizeBytes = 1000; }, 'soc.cpuMmus[0].cache.sizeBytes', /multiple of ways × lineBytes \(256\)/],
    ['sets not a power of two', (c) => { c.cpuMmus[0].cache.sizeBytes = '24KiB'; }, 'soc.cpuMmus[0].cache.sizeBytes', /96 sets/],
  ])('%s is a ConfigError', (_name, mutate, jsonPath, re) => {
    const e = configError(socConfig(mutate));
    expect(e.jsonPath).toBe(jsonPath);
    expect(e.reason).toMatch(re);
  });

  test('coherent defaults to false, snoopLatencyCycles to 2', () => {
    const c = readConfig();
    const cfg = loadSocConfig(writeTemp(c));
    expect(cfg.devices[0]).toMatchObject({ coherent: false, snoopLatencyCycles: 2 });
  });
});

describe('CoherentPort', () => {
  test('adds snoopLatencyCycles to every access, and only to coherent ones', () => {
    const r = new CacheRig();
    const plain = r.device(false).dev;
    const snooping = r.device(true, 5).dev;
    const zero = r.device(true, 0).dev;
    const lat = (d: Driver, cmd: Cmd) => {
      const c = d.run([{ cmd, addr: MEM_BASE + 0x1000, size: 64 }])[0];
      return c.doneTick - c.issueTick;
    };
    const atomic = (d: Driver, cmd: Cmd) => d.master.atomic({ cmd, addr: MEM_BASE + 0x1000, size: 64 }).latency;
    for (const cmd of [Cmd.Read, Cmd.Write]) {
      expect(lat(snooping, cmd)).toBe(lat(plain, cmd) + 5000);
      expect(lat(zero, cmd)).toBe(lat(plain, cmd));
      expect(atomic(snooping, cmd)).toBe(atomic(plain, cmd) + 5000);
    }
  });

  test('a coherent write racing a CPU fill in flight: the CPU ends up with the device\'s bytes', () => {
    const r = new CacheRig(SMALL_CACHE, 40);
    const { dev } = r.device(true, 0);
    const L = MEM_BASE + 0x2000;
    r.poke(L, new Uint8Array(64).fill(1));
    // The CPU's fill read reaches memory first; the device's write lands after it.
    let inFlight = false;
    r.ctx.engine.schedule(4000, () => {
      inFlight = r.cache.missesInFlight === 1;
      dev.issue([{ cmd: Cmd.Write, addr: L + 8, size: 8, data: new Uint8Array(8).fill(2) }]);
    });
    r.cpu.run([{ cmd: Cmd.Read, addr: L, size: 4 }]);
    expect(inFlight).toBe(true);
    expect(dev.master.completed.length).toBe(1);
    expect(r.peek(L + 8, 1)[0]).toBe(2);
    expect(Array.from(r.cpu.read(L + 8, 8))).toEqual(Array(8).fill(2));
  });

  test('a CPU miss issued while a coherent write is in flight waits for it', () => {
    const r = new CacheRig(SMALL_CACHE, 40);
    const { dev } = r.device(true, 0);
    const L = MEM_BASE + 0x2000;
    r.poke(L, new Uint8Array(64).fill(1));
    dev.issue([{ cmd: Cmd.Write, addr: L, size: 64, data: new Uint8Array(64).fill(3) }]);
    const got = r.cpu.run([{ cmd: Cmd.Read, addr: L, size: 4 }])[0];
    expect(r.c('stalls')).toBe(1);
    expect(Array.from(got.data)).toEqual([3, 3, 3, 3]);
    expect(Array.from(r.cpu.read(L + 60, 4))).toEqual([3, 3, 3, 3]);
  });

  test('functional accesses: coherent reads see dirty lines, coherent writes update cached copies', () => {
    const r = new CacheRig();
    const plain = r.device(false).dev;
    const coh = r.device(true).dev;
    const L = MEM_BASE + 0x40;
    r.cpu.write(L, Uint8Array.of(5, 6, 7, 8));
    const read = (d: Driver) => Array.from(d.master.functional({ cmd: Cmd.Read, addr: L, size: 4 }).data);
    expect(read(plain)).toEqual([0, 0, 0, 0]);
    expect(read(coh)).toEqual([5, 6, 7, 8]);
    coh.master.functional({ cmd: Cmd.Write, addr: L + 2, size: 2, data: Uint8Array.of(9, 9) });
    expect(r.cache.isDirty(L)).toBe(true); // no state change
    expect(Array.from(r.cpu.read(L, 4))).toEqual([5, 6, 9, 9]);
    expect(Array.from(r.peek(L, 4))).toEqual([0, 0, 9, 9]);
    expect(r.c('snoop_hits')).toBe(0);
  });

  test('a failed access takes no data from the cache', () => {
    const r = new CacheRig();
    const { dev } = r.device(true);
    const res = dev.master.atomic({ cmd: Cmd.Read, addr: 0x40, size: 4 });
    expect(res.status).toBe(Status.DecodeError);
    expect(dev.run([{ cmd: Cmd.Read, addr: 0x40, size: 4 }])[0].status).toBe(Status.DecodeError);
  });
});
