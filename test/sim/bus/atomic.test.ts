import { Bridge } from '../../../sim/bus/bridge';
import { Crossbar, type CrossbarParams } from '../../../sim/bus/crossbar';
import { connectPorts } from '../../../sim/bus/port';
import { Cmd, Status } from '../../../sim/bus/transaction';
import { ClockDomain } from '../../../sim/engine/clock';
import { createSimContext, type SimContext } from '../../../sim/engine/context';
import type { StatsDump } from '../../../sim/engine/stats';
import { buildSoc, loadSocConfig, type Soc } from '../../../sim/soc/builder';
import { MINIMAL } from '../../helpers/configFiles';
import { FixedSlave } from '../../helpers/fixedSlave';
import { TrafficMaster, type TrafficRequest } from '../../helpers/trafficMaster';

const DRAM = 0x8000_0000;
const SRAM = 0x1000_0000;
const UNMAPPED = 0x4000_0000;

function pattern(seed: number, size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (seed * 29 + i * 11 + 3) & 0xff);
}

/** A fresh minimal SoC with a test master on its crossbar (master id 99). */
function minimalSoc(reqs: TrafficRequest[] = [], gap = 0): { ctx: SimContext; soc: Soc; m: TrafficMaster } {
  const ctx = createSimContext(5);
  const soc = buildSoc(ctx, loadSocConfig(MINIMAL), MINIMAL);
  const m = new TrafficMaster(ctx, 'tm', 99, reqs, 1, gap);
  connectPorts(m.port, soc.buses.get('xbar')!.addInput('tm'));
  return { ctx, soc, m };
}

/** Latencies of `reqs` issued one at a time, 1 us apart (each finds the system idle), in timing mode. */
function timingLatencies(reqs: TrafficRequest[]): { lat: number[]; status: number[]; stats: StatsDump } {
  const { ctx, m } = minimalSoc(reqs, 1_000_000);
  m.start(0);
  ctx.engine.runUntilIdle();
  expect(m.done).toBe(true);
  return { lat: m.completed.map((c) => c.doneTick - c.issueTick), status: m.completed.map((c) => c.status), stats: ctx.stats.dump() };
}

/** Estimated latencies of the same requests issued atomically, one after another, at tick 0. */
function atomicLatencies(reqs: TrafficRequest[]): { lat: number[]; status: number[]; stats: StatsDump; ctx: SimContext } {
  const { ctx, m } = minimalSoc();
  const res = reqs.map((r) => m.atomic(r));
  expect(ctx.engine.pending).toBe(0);
  return { lat: res.map((r) => r.latency), status: res.map((r) => r.status), stats: ctx.stats.dump(), ctx };
}

/** Every counter and histogram in the dump is zero (formulas over nothing are null or 0). */
function expectAllZero(dump: StatsDump): void {
  const nonZero = Object.entries(dump).filter(([, v]) =>
    Array.isArray(v) ? v.some((x) => x !== 0) : v !== null && v !== 0);
  expect(nonZero).toEqual([]);
}

const COUNTERS = [
  'soc.xbar.tm.transactions', 'soc.xbar.tm.bytes', 'soc.xbar.dram.transactions', 'soc.xbar.dram.bytes',
  'soc.xbar.sram.transactions', 'soc.xbar.sram.bytes', 'soc.xbar.decode_errors',
  'soc.dram.reads', 'soc.dram.writes', 'soc.dram.bytes_read', 'soc.dram.bytes_written',
  'soc.dram.row_hits', 'soc.dram.row_misses', 'soc.dram.row_conflicts', 'soc.dram.ch0.bytes', 'soc.dram.decode_errors',
  'soc.sram.reads', 'soc.sram.writes', 'soc.sram.bytes_read', 'soc.sram.bytes_written',
];

describe('crossbar atomic access on the minimal SoC', () => {
  test('a single access: atomic latency equals the idle timing-mode latency exactly (fresh SoC each)', () => {
    const cases: TrafficRequest[] = [
      { cmd: Cmd.Read, addr: DRAM, size: 64 }, // DRAM miss, 2 response beats
      { cmd: Cmd.Write, addr: DRAM + 0x40, size: 64 }, // DRAM miss, 2 request beats
      { cmd: Cmd.Read, addr: DRAM + 0x1000, size: 256 }, // 4 bursts, 8 beats
      { cmd: Cmd.Write, addr: DRAM + 0x1ff0, size: 100 }, // unaligned, crosses into the next bank
      { cmd: Cmd.Read, addr: DRAM + 8, size: 4 },
      { cmd: Cmd.Read, addr: SRAM, size: 64 },
      { cmd: Cmd.Write, addr: SRAM + 0x100, size: 40 },
      { cmd: Cmd.Read, addr: UNMAPPED, size: 64 }, // decode miss
    ];
    for (const r of cases) {
      const t = timingLatencies([r]);
      const a = atomicLatencies([r]);
      expect({ r, lat: a.lat[0], status: a.status[0] }).toEqual({ r, lat: t.lat[0], status: t.status[0] });
    }
    // Spot values: DRAM miss = 30 ns (tRCD + tCL + tBURST), xbar 2 + 1 cycles in and 2 + 2 out.
    expect(atomicLatencies([cases[0]]).lat[0]).toBe(37_000);
    expect(atomicLatencies([cases[7]]).lat[0]).toBe(2_000);
  });

  test('a sequence (hits, misses, conflicts, SRAM, errors): same latencies, statuses and counters as idle timing', () => {
    const reqs: TrafficRequest[] = [
      { cmd: Cmd.Write, addr: DRAM, size: 64, data: pattern(1, 64) }, // miss, bank 0 row 0
      { cmd: Cmd.Read, addr: DRAM + 64, size: 64 }, // hit: 16.25 ns, rounded up to 17 cycles on the response path
      { cmd: Cmd.Read, addr: DRAM + 0x2_0000, size: 128 }, // bank 0 row 1: conflict
      { cmd: Cmd.Read, addr: DRAM, size: 64 }, // conflict back to row 0
      { cmd: Cmd.Write, addr: DRAM + 0x2000, size: 32 }, // bank 1: miss
      { cmd: Cmd.Read, addr: SRAM + 0x40, size: 48 },
      { cmd: Cmd.Write, addr: UNMAPPED, size: 64 },
      { cmd: Cmd.Read, addr: DRAM + 0x2040, size: 64 }, // hit
    ];
    const t = timingLatencies(reqs);
    const a = atomicLatencies(reqs);
    expect(a.lat).toEqual(t.lat);
    expect(a.status).toEqual(t.status);
    expect(a.status[6]).toBe(Status.DecodeError);
    for (const k of COUNTERS) expect({ k, v: a.stats[k] }).toEqual({ k, v: t.stats[k] });
    expect(a.stats['soc.dram.row_hits']).toBe(2 + 1); // the 128-byte read's second burst hits too
    expect(a.stats['soc.dram.row_conflicts']).toBe(2);
    expect(a.stats['soc.dram.row_misses']).toBe(2);
    expect(a.stats['soc.xbar.decode_errors']).toBe(1);
    // Timing-only stats stay untouched: no queueing, no link occupancy, no refusals.
    expect(a.stats['soc.xbar.tm.queue_delay_ns.samples']).toBe(0);
    expect(a.stats['soc.xbar.dram.req_busy_ps']).toBe(0);
    expect(a.stats['soc.xbar.tm.resp_busy_ps']).toBe(0);
    expect(a.stats['soc.xbar.refused']).toBe(0);
    expect(t.stats['soc.xbar.tm.queue_delay_ns.samples']).toBeGreaterThan(0);
    // DRAM latency_ns holds the same samples (the estimates are the idle latencies).
    for (const k of ['bucket_lo', 'bucket_counts']) expect(a.stats[`soc.dram.latency_ns.${k}`]).toEqual(t.stats[`soc.dram.latency_ns.${k}`]);
  });

  test('atomic moves real data and leaves the route stack empty; a read sees an earlier atomic write', () => {
    const { ctx, soc, m } = minimalSoc();
    const data = pattern(7, 200);
    expect(m.atomic({ cmd: Cmd.Write, addr: DRAM + 0x3000, size: 200, data }).status).toBe(Status.Ok);
    const back = new Uint8Array(200);
    soc.physmem.read(DRAM + 0x3000, back);
    expect(back).toEqual(data);
    const r = m.atomic({ cmd: Cmd.Read, addr: DRAM + 0x3000, size: 200 }); // the helper throws if a route entry is left
    expect(r.data).toEqual(data);
    expect(ctx.engine.pending).toBe(0);
    expect(ctx.engine.now).toBe(0);
  });

  test('decode miss in atomic mode: DecodeError, L cycles, counted, memory untouched', () => {
    const { ctx, soc, m } = minimalSoc();
    const r = m.atomic({ cmd: Cmd.Write, addr: UNMAPPED, size: 64, data: pattern(2, 64) });
    expect(r.status).toBe(Status.DecodeError);
    expect(r.latency).toBe(2_000);
    expect(ctx.stats.value('soc.xbar.decode_errors')).toBe(1);
    expect(ctx.stats.value('soc.xbar.tm.transactions')).toBe(1);
    expect(soc.physmem.framesAllocated).toBe(0);
    // Straddling the end of a region is a miss too.
    expect(m.atomic({ cmd: Cmd.Read, addr: SRAM + 0x4_0000 - 8, size: 16 }).status).toBe(Status.DecodeError);
  });
});

describe('crossbar functional access', () => {
  test('moves data in zero time and leaves every stat at zero', () => {
    const { ctx, soc, m } = minimalSoc();
    const data = pattern(3, 4096);
    expect(m.functional({ cmd: Cmd.Write, addr: DRAM + 0x10_0000, size: 4096, data }).status).toBe(Status.Ok);
    expect(m.functional({ cmd: Cmd.Write, addr: SRAM + 0x200, size: 64, data }).status).toBe(Status.Ok);
    const back = m.functional({ cmd: Cmd.Read, addr: DRAM + 0x10_0000, size: 4096 });
    expect(back.status).toBe(Status.Ok);
    expect(back.data).toEqual(data);
    expect(m.functional({ cmd: Cmd.Read, addr: SRAM + 0x200, size: 64 }).data).toEqual(data.subarray(0, 64));
    expect(soc.physmem.read32(DRAM + 0x10_0000)).toBe(new DataView(data.buffer).getUint32(0, true));
    expect(ctx.engine.now).toBe(0);
    expect(ctx.engine.pending).toBe(0);
    expectAllZero(ctx.stats.dump());
  });

  test('decode miss: DecodeError, nothing counted, memory untouched', () => {
    const { ctx, soc, m } = minimalSoc();
    expect(m.functional({ cmd: Cmd.Write, addr: UNMAPPED, size: 64, data: pattern(4, 64) }).status).toBe(Status.DecodeError);
    expect(m.functional({ cmd: Cmd.Read, addr: DRAM - 4, size: 8 }).status).toBe(Status.DecodeError);
    expect(soc.physmem.framesAllocated).toBe(0);
    expectAllZero(ctx.stats.dump());
  });
});

describe('crossbar and bridge with fixed-latency slaves', () => {
  function xparams(p: Partial<CrossbarParams> = {}): CrossbarParams {
    return { widthBytes: 16, latencyCycles: 2, arbitration: 'round-robin', inputQueueDepth: 8, maxOutstandingPerMaster: 0, ...p };
  }

  /** master → xbar(up) → bridge → xbar(down) → slave, fresh each call. */
  function twoLevel(slaveLatency: number, upHz = 1e9, bridgeHz = 800e6, downHz = 500e6) {
    const ctx = createSimContext();
    const up = new Crossbar(ctx, 'soc.up', new ClockDomain('u', upHz), xparams());
    const down = new Crossbar(ctx, 'soc.down', new ClockDomain('d', downHz), xparams({ widthBytes: 8, latencyCycles: 1 }));
    const br = new Bridge(ctx, 'soc.br', new ClockDomain('b', bridgeHz), { latencyCycles: 3, queueDepth: 4 });
    const s = new FixedSlave(ctx, 's', { latency: slaveLatency });
    const m = new TrafficMaster(ctx, 'm', 0, []);
    connectPorts(m.port, up.addInput('m'));
    connectPorts(up.addOutput('br', [{ base: 0x1000, size: 0x1000 }]), br.cpuSidePort);
    connectPorts(br.memSidePort, down.addInput('br'));
    connectPorts(down.addOutput('s', [{ base: 0x1000, size: 0x1000 }]), s.port);
    return { ctx, m, s };
  }

  function timingTwoLevel(r: TrafficRequest, slaveLatency: number, clocks: [number, number, number]): number {
    const ctx = createSimContext();
    const up = new Crossbar(ctx, 'soc.up', new ClockDomain('u', clocks[0]), xparams());
    const down = new Crossbar(ctx, 'soc.down', new ClockDomain('d', clocks[2]), xparams({ widthBytes: 8, latencyCycles: 1 }));
    const br = new Bridge(ctx, 'soc.br', new ClockDomain('b', clocks[1]), { latencyCycles: 3, queueDepth: 4 });
    const s = new FixedSlave(ctx, 's', { latency: slaveLatency });
    const m = new TrafficMaster(ctx, 'm', 0, [r]);
    connectPorts(m.port, up.addInput('m'));
    connectPorts(up.addOutput('br', [{ base: 0x1000, size: 0x1000 }]), br.cpuSidePort);
    connectPorts(br.memSidePort, down.addInput('br'));
    connectPorts(down.addOutput('s', [{ base: 0x1000, size: 0x1000 }]), s.port);
    m.start(0);
    ctx.engine.runUntilIdle();
    expect(m.completed[0].status).toBe(Status.Ok);
    return m.completed[0].doneTick;
  }

  test('xbar → bridge → xbar → slave: exact with one clock; otherwise short only by the edge waits of clock crossings', () => {
    const reqs: TrafficRequest[] = [
      { cmd: Cmd.Read, addr: 0x1000, size: 64 },
      { cmd: Cmd.Write, addr: 0x1100, size: 64, data: pattern(5, 64) },
      { cmd: Cmd.Read, addr: 0x1200, size: 4 },
      { cmd: Cmd.Write, addr: 0x1300, size: 100, data: pattern(6, 100) },
    ];
    const clockSets: [number, number, number][] = [[1e9, 1e9, 1e9], [1e9, 800e6, 500e6], [2e9, 500e6, 250e6], [500e6, 1e9, 2e9]];
    for (const clocks of clockSets) {
      const [pu, pb, pd] = clocks.map((hz) => 1e12 / hz);
      const sameClock = pu === pb && pb === pd;
      for (const slaveLatency of [10_000, 10_100, 7_777]) {
        for (const r of reqs) {
          const { ctx, m, s } = twoLevel(slaveLatency, ...clocks);
          const a = m.atomic(r);
          expect(a.status).toBe(Status.Ok);
          const t = timingTwoLevel(r, slaveLatency, clocks);
          if (sameClock) {
            expect({ clocks, slaveLatency, r, lat: a.latency }).toEqual({ clocks, slaveLatency, r, lat: t });
          } else {
            // Each hop anchors its estimate at one of its own edges: the waits for the
            // first edge after crossing into the bridge's and the lower crossbar's clock
            // (and the rounding they cause on the way back) are not included.
            expect(a.latency).toBeLessThanOrEqual(t);
            expect(t - a.latency).toBeLessThan(2 * (pb + pd) + pu);
          }
          expect(s.accepted).toHaveLength(1);
          expect(ctx.stats.value('soc.br.transactions')).toBe(1);
          expect(ctx.stats.value('soc.br.bytes')).toBe(r.size);
          expect(ctx.stats.value('soc.up.m.transactions')).toBe(1);
          expect(ctx.stats.value('soc.down.s.bytes')).toBe(r.size);
          expect(ctx.stats.dump()['soc.br.latency_ns.samples']).toBe(1);
        }
      }
    }
  });

  test('bridge alone: adds its latency each way, aligned to its clock edges (as the timing tests)', () => {
    function atomicOne(freqHz: number, latencyCycles: number, slaveLatency: number, cmd: Cmd): number {
      const ctx = createSimContext();
      const br = new Bridge(ctx, 'soc.br', new ClockDomain('c', freqHz), { latencyCycles, queueDepth: 4 });
      const s = new FixedSlave(ctx, 's', { latency: slaveLatency });
      const m = new TrafficMaster(ctx, 'm', 0, []);
      connectPorts(m.port, br.cpuSidePort);
      connectPorts(br.memSidePort, s.port);
      return m.atomic({ cmd, addr: 0x40, size: 64 }).latency;
    }
    // The same numbers as the timing-mode bridge test (issue at tick 0).
    expect(atomicOne(1e9, 3, 10_000, Cmd.Read)).toBe(16_000);
    expect(atomicOne(1e9, 3, 10_000, Cmd.Write)).toBe(16_000);
    expect(atomicOne(800e6, 2, 10_000, Cmd.Read)).toBe(15_000);
    expect(atomicOne(800e6, 2, 10_100, Cmd.Read)).toBe(16_250);
    expect(atomicOne(1e9, 0, 10_000, Cmd.Read)).toBe(10_000);
  });

  test('functional through xbar → bridge → xbar: data moves, no stats, decode miss on either level', () => {
    const { ctx, m, s } = twoLevel(10_000);
    const data = pattern(9, 64);
    expect(m.functional({ cmd: Cmd.Write, addr: 0x1800, size: 64, data }).status).toBe(Status.Ok);
    expect(m.functional({ cmd: Cmd.Read, addr: 0x1800, size: 64 }).data).toEqual(data);
    expect(s.functionalAccesses).toBe(2);
    expect(s.accepted).toHaveLength(0);
    expect(m.functional({ cmd: Cmd.Read, addr: 0x3000, size: 4 }).status).toBe(Status.DecodeError);
    expectAllZero(ctx.stats.dump());
  });

  test('the decode-miss latency of an atomic access is the timing path\'s L cycles', () => {
    const ctx = createSimContext();
    const x = new Crossbar(ctx, 'soc.x', new ClockDomain('c', 800e6), xparams({ latencyCycles: 3 }));
    const m = new TrafficMaster(ctx, 'm', 0, [{ cmd: Cmd.Read, addr: 0x9000, size: 8 }]);
    connectPorts(m.port, x.addInput('m'));
    const a = m.atomic({ cmd: Cmd.Read, addr: 0x9000, size: 8 });
    m.start(0);
    ctx.engine.runUntilIdle();
    expect(a.status).toBe(Status.DecodeError);
    expect(m.completed[0].status).toBe(Status.DecodeError);
    expect(a.latency).toBe(m.completed[0].doneTick);
    expect(a.latency).toBe(3750);
    expect(ctx.stats.value('soc.x.decode_errors')).toBe(2);
  });
});
