import { Bridge, BridgeSpec } from '../../../sim/bus/bridge';
import { firstProblem } from '../../helpers/spec';
import { Crossbar } from '../../../sim/bus/crossbar';
import { connectPorts } from '../../../sim/bus/port';
import { Cmd, Status } from '../../../sim/bus/transaction';
import { ClockDomain } from '../../../sim/engine/clock';
import { createSimContext } from '../../../sim/engine/context';
import { SimInvariantError } from '../../../sim/engine/errors';
import type { Histogram } from '../../../sim/engine/stats';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import { FixedSlave } from '../../helpers/fixedSlave';
import { TrafficMaster, type TrafficRequest } from '../../helpers/trafficMaster';

function pattern(seed: number, size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (seed * 13 + i * 5 + 1) & 0xff);
}

describe('bridge parameters', () => {
  test('the spec names the field; the constructor refuses bad parameters', () => {
    const check = (p: unknown) => firstProblem(BridgeSpec, p);
    expect(check({ latencyCycles: 0, queueDepth: 1 })).toBeNull();
    expect(BridgeSpec.parse({ latencyCycles: 2 })).toEqual({ latencyCycles: 2, queueDepth: 8 });
    expect(check({ latencyCycles: -1, queueDepth: 1 })).toMatch(/^latencyCycles: .*got -1/);
    expect(check({ latencyCycles: 1, queueDepth: 0 })).toMatch(/^queueDepth: .*got 0/);
    expect(check({ latencyCycles: 1, queueDepth: 2 ** 21 })).toMatch(/^queueDepth: .*2\^20/);
    const ctx = createSimContext();
    expect(() => new Bridge(ctx, 'b', new ClockDomain('c', 1e9), { latencyCycles: 1, queueDepth: 0 })).toThrow(SimInvariantError);
  });
});

describe('bridge alone', () => {
  /** master → bridge → slave; one request; [slave accept tick, completion tick]. */
  function one(freqHz: number, latencyCycles: number, slaveLatency: number, cmd: Cmd, issueAt = 0): [number, number] {
    const ctx = createSimContext();
    const br = new Bridge(ctx, 'soc.br', new ClockDomain('c', freqHz), { latencyCycles, queueDepth: 4 });
    const s = new FixedSlave(ctx, 's', { latency: slaveLatency });
    const m = new TrafficMaster(ctx, 'm', 0, [{ cmd, addr: 0x40, size: 64 }]);
    connectPorts(m.port, br.cpuSidePort);
    connectPorts(br.memSidePort, s.port);
    m.start(issueAt);
    ctx.engine.runUntilIdle();
    expect(m.completed[0].status).toBe(Status.Ok);
    expect(ctx.stats.value('soc.br.transactions')).toBe(1);
    expect(ctx.stats.value('soc.br.bytes')).toBe(64);
    const h = ctx.stats.get('soc.br.latency_ns') as Histogram;
    expect(h.samples).toBe(1);
    expect(h.max).toBe((m.completed[0].doneTick - issueAt) / 1000);
    return [s.accepted[0].tick, m.completed[0].doneTick];
  }

  test('adds its latency each way, aligned to its clock edges', () => {
    expect(one(1e9, 3, 10_000, Cmd.Read)).toEqual([3000, 16_000]);
    expect(one(1e9, 3, 10_000, Cmd.Write)).toEqual([3000, 16_000]);
    expect(one(1e9, 3, 10_000, Cmd.Read, 500)).toEqual([4000, 17_000]); // waits for the edge at 1000
    expect(one(800e6, 2, 10_000, Cmd.Read)).toEqual([2500, 15_000]);
    expect(one(800e6, 2, 10_100, Cmd.Read)).toEqual([2500, 16_250]); // response at 12600 → edge 13750 + 2
    expect(one(1e9, 0, 10_000, Cmd.Read)).toEqual([0, 10_000]);
  });

  test('a full queue refuses upstream, retries when space frees, and keeps order and data', () => {
    const ctx = createSimContext();
    const br = new Bridge(ctx, 'soc.br', new ClockDomain('c', 1e9), { latencyCycles: 1, queueDepth: 2 });
    const s = new FixedSlave(ctx, 's', { latency: 20_000, queueLimit: 1 });
    const reqs: TrafficRequest[] = [
      ...Array.from({ length: 10 }, (_, k) => ({ cmd: Cmd.Write, addr: k * 64, size: 64, data: pattern(k, 64) })),
      ...Array.from({ length: 10 }, (_, k) => ({ cmd: Cmd.Read, addr: k * 64, size: 64 })),
    ];
    const m = new TrafficMaster(ctx, 'm', 0, reqs, 8);
    connectPorts(m.port, br.cpuSidePort);
    connectPorts(br.memSidePort, s.port);
    m.start(0);
    let maxQueued = 0;
    let maxOutstanding = 0;
    while (ctx.engine.runEvents(1) === 'count') {
      maxQueued = Math.max(maxQueued, br.queued);
      maxOutstanding = Math.max(maxOutstanding, br.outstanding);
    }
    expect(m.done).toBe(true);
    expect(m.refusals).toBeGreaterThan(0);
    expect(ctx.stats.value('soc.br.refused')).toBe(m.refusals);
    expect(s.refusals).toBeGreaterThan(0); // the bridge itself was held by the slave
    expect(maxQueued).toBe(2);
    expect(maxOutstanding).toBe(4); // 2 queued + 1 at the slave + 1 response on its way up
    expect(br.outstanding).toBe(0);
    expect(s.accepted.map((a) => a.addr)).toEqual(reqs.map((r) => r.addr));
    for (const c of m.completed.filter((c) => c.cmd === Cmd.Read)) {
      expect(Array.from(c.data)).toEqual(Array.from(pattern(c.addr / 64, 64)));
    }
    // One slave slot, 20 ns each: 20 requests need at least 400 ns.
    expect(Math.max(...m.completed.map((c) => c.doneTick))).toBeGreaterThanOrEqual(400_000);
    expect((ctx.stats.get('soc.br.latency_ns') as Histogram).samples).toBe(20);
  });
});

describe('master → xbar → bridge → xbar → slave', () => {
  /**
   * sys xbar (1 GHz, L=2, 16 B) with a local SRAM and a bridge (1 GHz, L=3) claiming the
   * DRAM range; periph xbar (500 MHz, L=1, 8 B) with the DRAM slave (10 ns).
   */
  function chain() {
    const ctx = createSimContext();
    const sys = new ClockDomain('sys', 1e9);
    const periph = new ClockDomain('periph', 500e6);
    const xb1 = new Crossbar(ctx, 'soc.xbar', sys, {
      widthBytes: 16, latencyCycles: 2, arbitration: 'round-robin', inputQueueDepth: 4, maxOutstandingPerMaster: 0,
    });
    const xb2 = new Crossbar(ctx, 'soc.pbus', periph, {
      widthBytes: 8, latencyCycles: 1, arbitration: 'round-robin', inputQueueDepth: 4, maxOutstandingPerMaster: 0,
    });
    const br = new Bridge(ctx, 'soc.br', sys, { latencyCycles: 3, queueDepth: 4 });
    const mem = new PhysicalMemory();
    const sram = new FixedSlave(ctx, 'sram', { latency: 2000, mem });
    const dram = new FixedSlave(ctx, 'dram', { latency: 10_000, mem, queueLimit: 4 });
    const DRAM = { base: 0x8000_0000, size: 0x100_0000 };
    connectPorts(xb1.addOutput('sram', [{ base: 0x1000_0000, size: 0x4_0000 }]), sram.port);
    connectPorts(xb1.addOutput('br', [DRAM]), br.cpuSidePort);
    connectPorts(br.memSidePort, xb2.addInput('br'));
    connectPorts(xb2.addOutput('dram', [DRAM]), dram.port);
    return { ctx, xb1, xb2, br, sram, dram, mem };
  }

  test('idle latency is the sum of the hops, each on its own clock', () => {
    for (const [cmd, expected] of [[Cmd.Read, [10_000, 47_000]], [Cmd.Write, [28_000, 48_000]]] as const) {
      const c = chain();
      const m = new TrafficMaster(c.ctx, 'm', 0, [{ cmd, addr: 0x8000_0000, size: 64 }]);
      connectPorts(m.port, c.xb1.addInput('m'));
      m.start(0);
      c.ctx.engine.runUntilIdle();
      // Read: xbar 2+1 → 3000; bridge +3 → 6000; periph xbar: edge 6000, +1 ready, +1 address → 10000;
      // slave 10 ns → 20000; periph response 8 beats + 1 → 38000; bridge +3 → 41000; xbar 4 beats + 2 → 47000.
      // Write: xbar 2+4 → 6000; bridge → 9000; periph: edge 10000, ready 12000, 8 beats → 28000; slave → 38000;
      // ack 1 + 1 → 42000; bridge → 45000; xbar 1 + 2 → 48000.
      expect([c.dram.accepted[0].tick, m.completed[0].doneTick]).toEqual(expected);
      expect(m.completed[0].status).toBe(Status.Ok);
    }
  });

  test('two masters write and read back through both buses and the bridge with correct data', () => {
    const c = chain();
    const masters = [0, 1].map((id) => {
      const addrs = Array.from({ length: 24 }, (_, k) =>
        k % 3 === 0 ? 0x1000_0000 + id * 0x1_0000 + k * 64 : 0x8000_0000 + id * 0x10_0000 + k * 64);
      const reqs: TrafficRequest[] = [
        ...addrs.map((addr, k) => ({ cmd: Cmd.Write, addr, size: 64, data: pattern(id * 100 + k, 64) })),
        ...addrs.map((addr) => ({ cmd: Cmd.Read, addr, size: 64 })),
        { cmd: Cmd.Read, addr: 0x4000_0000, size: 64 }, // decodes nowhere
      ];
      const m = new TrafficMaster(c.ctx, `m${id}`, id, reqs, 8);
      connectPorts(m.port, c.xb1.addInput(`m${id}`));
      m.start(0);
      return { m, addrs };
    });
    c.ctx.engine.runUntilIdle();
    for (const [id, { m, addrs }] of masters.entries()) {
      expect(m.done).toBe(true);
      expect(m.completed).toHaveLength(49);
      for (const done of m.completed) {
        if (done.addr === 0x4000_0000) { expect(done.status).toBe(Status.DecodeError); continue; }
        expect(done.status).toBe(Status.Ok);
        const k = addrs.indexOf(done.addr);
        expect(k).toBeGreaterThanOrEqual(0); // only its own addresses come back to it
        if (done.cmd === Cmd.Read) expect(Array.from(done.data)).toEqual(Array.from(pattern(id * 100 + k, 64)));
      }
    }
    expect(c.dram.accepted).toHaveLength(2 * 2 * 16);
    expect(c.sram.accepted).toHaveLength(2 * 2 * 8);
    expect(new Set(c.dram.accepted.map((a) => a.masterId))).toEqual(new Set([0, 1]));
    expect(c.ctx.stats.value('soc.br.transactions')).toBe(64);
    expect(c.ctx.stats.value('soc.br.bytes')).toBe(64 * 64);
    expect(c.ctx.stats.value('soc.pbus.br.transactions')).toBe(64);
    expect(c.ctx.stats.value('soc.xbar.br.transactions')).toBe(64);
    expect(c.ctx.stats.value('soc.xbar.decode_errors')).toBe(2);
    expect(c.ctx.stats.value('soc.pbus.decode_errors')).toBe(0);
    expect(c.br.outstanding).toBe(0);
    // The DRAM bytes really are in memory.
    const buf = new Uint8Array(64);
    c.mem.read(0x8000_0000 + 0x10_0000 + 64, buf);
    expect(Array.from(buf)).toEqual(Array.from(pattern(101, 64)));
  });
});
