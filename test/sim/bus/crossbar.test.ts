import { Crossbar, CrossbarSpec, type CrossbarParams } from '../../../sim/bus/crossbar';
import { firstProblem } from '../../helpers/spec';
import { connectPorts, RequestPort, ResponsePort, type RequestReceiver, type ResponseReceiver } from '../../../sim/bus/port';
import { Cmd, Status, type Transaction } from '../../../sim/bus/transaction';
import { ClockDomain } from '../../../sim/engine/clock';
import { createSimContext } from '../../../sim/engine/context';
import { SimInvariantError } from '../../../sim/engine/errors';
import type { Histogram } from '../../../sim/engine/stats';
import { MemoryTraceWriter, Tracer } from '../../../sim/engine/trace';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import { FixedSlave } from '../../helpers/fixedSlave';
import { TrafficMaster, type TrafficRequest } from '../../helpers/trafficMaster';

const GHz = 1e9;

function params(p: Partial<CrossbarParams> = {}): CrossbarParams {
  return { widthBytes: 16, latencyCycles: 2, arbitration: 'round-robin', inputQueueDepth: 8, maxOutstandingPerMaster: 0, ...p };
}

/** Sits between a master and a crossbar input and counts requests accepted and not yet answered. */
class Probe implements RequestReceiver, ResponseReceiver {
  readonly up = new ResponsePort('probe.up', this);
  readonly down = new RequestPort('probe.down', this);
  inFlight = 0;
  maxInFlight = 0;
  recvRequest(t: Transaction): boolean {
    const ok = this.down.sendRequest(t);
    if (ok && ++this.inFlight > this.maxInFlight) this.maxInFlight = this.inFlight;
    return ok;
  }
  recvResponse(t: Transaction): void {
    this.inFlight--;
    this.up.sendResponse(t);
  }
  recvRetry(): void {
    this.up.sendRetry();
  }
  recvAtomic(t: Transaction): number {
    return this.down.sendAtomic(t);
  }
  recvFunctional(t: Transaction): void {
    this.down.sendFunctional(t);
  }
}

function writes(base: number, count: number, size: number, stride = size): TrafficRequest[] {
  return Array.from({ length: count }, (_, i) => ({ cmd: Cmd.Write, addr: base + i * stride, size }));
}
function readsOf(base: number, count: number, size: number, stride = size): TrafficRequest[] {
  return Array.from({ length: count }, (_, i) => ({ cmd: Cmd.Read, addr: base + i * stride, size }));
}
function pattern(seed: number, size: number): Uint8Array {
  return Uint8Array.from({ length: size }, (_, i) => (seed * 31 + i * 7) & 0xff);
}

/** Max bytes whose events fall in any window [t, t + window) (events sorted by tick). */
function maxWindowBytes(events: { tick: number; bytes: number }[], window: number): number {
  const ev = [...events].sort((a, b) => a.tick - b.tick);
  let best = 0;
  let sum = 0;
  let lo = 0;
  for (let hi = 0; hi < ev.length; hi++) {
    sum += ev[hi].bytes;
    while (ev[hi].tick - ev[lo].tick >= window) sum -= ev[lo++].bytes;
    if (sum > best) best = sum;
  }
  return best;
}

describe('CrossbarSpec', () => {
  test('accepts good parameters, fills defaults and names the bad field', () => {
    const check = (p: unknown) => firstProblem(CrossbarSpec, p);
    expect(check(params())).toBeNull();
    expect(CrossbarSpec.parse({ widthBytes: 8, latencyCycles: 1 })).toEqual({ widthBytes: 8, latencyCycles: 1, arbitration: 'round-robin', inputQueueDepth: 8, maxOutstandingPerMaster: 0 });
    expect(check(params({ widthBytes: 6 }))).toBe('widthBytes: must be a power of two, got 6');
    expect(check(params({ widthBytes: 0 }))).toMatch(/^widthBytes: /);
    expect(check(params({ widthBytes: 2 ** 21 }))).toBe('widthBytes: must be at most 2^20, got 2097152');
    expect(check(params({ latencyCycles: -1 }))).toMatch(/^latencyCycles: .*got -1/);
    expect(check(params({ latencyCycles: 1.5 }))).toMatch(/^latencyCycles: /);
    expect(check(params({ arbitration: 'lottery' as never }))).toMatch(/^arbitration: /);
    expect(check(params({ inputQueueDepth: 0 }))).toMatch(/^inputQueueDepth: .*got 0/);
    expect(check(params({ inputQueueDepth: 2 ** 30 }))).toMatch(/^inputQueueDepth: .*2\^20/);
    expect(check(params({ maxOutstandingPerMaster: -2 }))).toMatch(/^maxOutstandingPerMaster: /);
    const ctx = createSimContext();
    expect(() => new Crossbar(ctx, 'x', new ClockDomain('c', GHz), params({ widthBytes: 24 }))).toThrow(SimInvariantError);
  });
});

describe('crossbar address decoding', () => {
  test('decodes ranges, merges adjacent ranges of one output, rejects overlaps and straddles', () => {
    const ctx = createSimContext();
    const xb = new Crossbar(ctx, 'soc.xbar', new ClockDomain('c', GHz), params());
    xb.addOutput('a', [{ base: 0x1000, size: 0x1000 }, { base: 0x2000, size: 0x1000 }]);
    xb.addOutput('b', [{ base: 0x8000_0000, size: 2 ** 40 }]);
    xb.addOutput('c', [{ base: 0x3000, size: 0x100 }]);
    expect(xb.decode(0x1000, 4)).toBe(0);
    expect(xb.decode(0x1ff0, 0x20)).toBe(0); // crosses the merged boundary of one output
    expect(xb.decode(0x2fff, 1)).toBe(0);
    expect(xb.decode(0x2ff0, 0x20)).toBe(-1); // straddles outputs a and c
    expect(xb.decode(0x3000, 0x100)).toBe(2);
    expect(xb.decode(0x3000, 0x101)).toBe(-1);
    expect(xb.decode(0x8000_0000 + 2 ** 40 - 64, 64)).toBe(1); // beyond 2^32: no 32-bit arithmetic
    expect(xb.decode(0xfff, 1)).toBe(-1);
    expect(xb.decode(0, 64)).toBe(-1);
    expect(() => xb.addOutput('d', [{ base: 0x2800, size: 0x1000 }])).toThrow(SimInvariantError);
    expect(() => xb.addOutput('d', [{ base: 0x2800, size: 0x1000 }])).toThrow(/overlaps output a/);
    expect(() => xb.addOutput('a', [{ base: 0x9000, size: 0x10 }])).toThrow(/used twice/);
    expect(() => xb.addInput('b')).toThrow(/used twice/);
    expect(xb.decode(0x2800, 1)).toBe(0); // a failed addOutput changes nothing
  });
});

describe('crossbar timing', () => {
  /** One master, one slave, one request; returns [slave accept tick, completion tick]. */
  function idle(freqHz: number, p: Partial<CrossbarParams>, req: TrafficRequest, slaveLatency: number, issueAt = 0): [number, number] {
    const ctx = createSimContext();
    const xb = new Crossbar(ctx, 'soc.xbar', new ClockDomain('c', freqHz), params(p));
    const s = new FixedSlave(ctx, 's', { latency: slaveLatency });
    connectPorts(xb.addOutput('s', [{ base: 0, size: 1 << 20 }]), s.port);
    const m = new TrafficMaster(ctx, 'm', 0, [req]);
    connectPorts(m.port, xb.addInput('m'));
    m.start(issueAt);
    ctx.engine.runUntilIdle();
    expect(m.completed).toHaveLength(1);
    expect(m.completed[0].status).toBe(Status.Ok);
    expect(s.accepted).toHaveLength(1);
    return [s.accepted[0].tick, m.completed[0].doneTick];
  }

  test.each([
    // freq, latency, width, period ps
    [1 * GHz, 2, 16, 1000],
    [800e6, 2, 16, 1250],
    [800e6, 0, 32, 1250],
    [2 * GHz, 3, 8, 500],
  ])('idle latency at %d Hz, L=%d, width %d: L + occupancy each way + slave latency', (f, L, w, P) => {
    const S = 10 * P; // slave latency: 10 cycles, so the response lands on an edge
    const beats = 64 / w;
    // Read: address takes 1 cycle out, data takes 64/w cycles back.
    expect(idle(f, { latencyCycles: L, widthBytes: w }, { cmd: Cmd.Read, addr: 0x100, size: 64 }, S))
      .toEqual([(L + 1) * P, (L + 1) * P + S + (L + beats) * P]);
    // Write: data takes 64/w cycles out, the acknowledgement 1 cycle back.
    expect(idle(f, { latencyCycles: L, widthBytes: w }, { cmd: Cmd.Write, addr: 0x100, size: 64 }, S))
      .toEqual([(L + beats) * P, (L + beats) * P + S + (L + 1) * P]);
  });

  test('a request arriving between edges waits for the next edge; so does a response', () => {
    // 1 GHz, L=2, read of 32 bytes over 16 (2 beats back). Issue at 300 ps → first edge 1000.
    // Slave sees it at 1000 + 3000; answers 2500 later (6500, not an edge) → edge 7000 + 4 cycles.
    expect(idle(GHz, {}, { cmd: Cmd.Read, addr: 0, size: 32 }, 2500, 300)).toEqual([4000, 11000]);
  });

  test('a small transfer still takes one cycle; a partial beat counts as a whole one', () => {
    const P = 1000;
    expect(idle(GHz, {}, { cmd: Cmd.Write, addr: 0, size: 4 }, 0)).toEqual([3 * P, 6 * P]);
    expect(idle(GHz, {}, { cmd: Cmd.Write, addr: 0, size: 17 }, 0)).toEqual([4 * P, 7 * P]);
  });

  test('a request behind a busy layer is granted when both the layer and its own pipeline allow', () => {
    // 1 GHz, L=2, 16 B. Master a writes 64 B at 0: granted at 2000, layer busy until 6000.
    // Master b's read arrives at `at`: ready at at + 2000, granted at max(ready, 6000), at the slave 1 cycle later.
    const run = (at: number) => {
      const ctx = createSimContext();
      const xb = new Crossbar(ctx, 'soc.xbar', new ClockDomain('c', GHz), params());
      const s = new FixedSlave(ctx, 's', { latency: 0 });
      connectPorts(xb.addOutput('s', [{ base: 0, size: 1 << 20 }]), s.port);
      const a = new TrafficMaster(ctx, 'a', 0, [{ cmd: Cmd.Write, addr: 0, size: 64 }]);
      const b = new TrafficMaster(ctx, 'b', 1, [{ cmd: Cmd.Read, addr: 64, size: 16 }]);
      connectPorts(a.port, xb.addInput('a'));
      connectPorts(b.port, xb.addInput('b'));
      a.start(0);
      b.start(at);
      ctx.engine.runUntilIdle();
      const qd = ctx.stats.get('soc.xbar.b.queue_delay_ns') as Histogram;
      return [s.accepted.map((x) => x.tick), qd.max];
    };
    expect(run(3000)).toEqual([[6000, 7000], 1]); // waited one cycle for the layer
    expect(run(4000)).toEqual([[6000, 7000], 0]); // ready exactly when the layer frees
    expect(run(4500)).toEqual([[6000, 8000], 0.5]); // edge 5000, ready 7000: the layer sat idle for a cycle
  });

  test('at a fractional period (1.2 GHz) transfers start and end on exact edges', () => {
    const clk = new ClockDomain('c', 1.2e9);
    // Read, L=2, 64 bytes over 16: slave at edge 3; slave latency 0 → delivered at edge 3 + 2 + 4.
    expect(idle(1.2e9, {}, { cmd: Cmd.Read, addr: 0, size: 64 }, 0)).toEqual([clk.cycleToTick(3), clk.cycleToTick(9)]);
    expect(clk.cycleToTick(9)).toBe(7500);
  });
});

describe('crossbar routing', () => {
  test('decode miss: decode_error after L cycles, slave untouched, counted', () => {
    const ctx = createSimContext();
    const xb = new Crossbar(ctx, 'soc.xbar', new ClockDomain('c', GHz), params({ latencyCycles: 3 }));
    const mem = new PhysicalMemory();
    const s = new FixedSlave(ctx, 's', { latency: 1000, mem });
    connectPorts(xb.addOutput('s', [{ base: 0x8000_0000, size: 1 << 20 }]), s.port);
    const m = new TrafficMaster(ctx, 'm', 7, [
      { cmd: Cmd.Write, addr: 0x4000_0000, size: 64, data: pattern(1, 64) },
      { cmd: Cmd.Read, addr: 0x8000_0000 - 32, size: 64 }, // straddles the range start
    ]);
    connectPorts(m.port, xb.addInput('m'));
    m.start(0);
    ctx.engine.runUntilIdle();
    expect(m.completed.map((c) => c.status)).toEqual([Status.DecodeError, Status.DecodeError]);
    expect(m.completed[0].doneTick).toBe(3000);
    expect(s.accepted).toHaveLength(0);
    expect(mem.framesAllocated).toBe(0);
    expect(ctx.stats.value('soc.xbar.decode_errors')).toBe(2);
    expect(ctx.stats.value('soc.xbar.s.transactions')).toBe(0);
    expect(ctx.stats.value('soc.xbar.m.transactions')).toBe(2);
  });

  test('one decode miss among good traffic: exactly one decode_error, the rest complete with data', () => {
    const ctx = createSimContext();
    const xb = new Crossbar(ctx, 'soc.xbar', new ClockDomain('c', GHz), params());
    const s = new FixedSlave(ctx, 's', { latency: 5000 });
    connectPorts(xb.addOutput('s', [{ base: 0x1000, size: 0x1000 }]), s.port);
    const reqs: TrafficRequest[] = [
      { cmd: Cmd.Write, addr: 0x1000, size: 16, data: pattern(3, 16) },
      { cmd: Cmd.Read, addr: 0x9000, size: 16 },
      { cmd: Cmd.Read, addr: 0x1000, size: 16 },
    ];
    const m = new TrafficMaster(ctx, 'm', 0, reqs, 4);
    connectPorts(m.port, xb.addInput('m'));
    m.start(0);
    ctx.engine.runUntilIdle();
    expect(ctx.stats.value('soc.xbar.decode_errors')).toBe(1);
    expect(s.accepted.map((a) => a.addr)).toEqual([0x1000, 0x1000]);
    const byAddr = (addr: number, cmd: Cmd) => m.completed.find((c) => c.addr === addr && c.cmd === cmd)!;
    expect(byAddr(0x9000, Cmd.Read).status).toBe(Status.DecodeError);
    expect(byAddr(0x1000, Cmd.Read).status).toBe(Status.Ok);
    expect(Array.from(byAddr(0x1000, Cmd.Read).data)).toEqual(Array.from(pattern(3, 16)));
  });

  test('two masters, two slaves: every response returns to its own master with its own data', () => {
    const ctx = createSimContext();
    const xb = new Crossbar(ctx, 'soc.xbar', new ClockDomain('c', GHz), params({ latencyCycles: 1 }));
    const mem = new PhysicalMemory();
    const s0 = new FixedSlave(ctx, 's0', { latency: 7000, mem });
    const s1 = new FixedSlave(ctx, 's1', { latency: 3000, mem, queueLimit: 2 });
    connectPorts(xb.addOutput('sram', [{ base: 0x1000_0000, size: 0x10_0000 }]), s0.port);
    connectPorts(xb.addOutput('dram', [{ base: 0x8000_0000, size: 0x1000_0000 }]), s1.port);
    const bases = [[0x1000_0000, 0x8000_0000], [0x1008_0000, 0x8800_0000]];
    const masters = [0, 1].map((id) => {
      const reqs: TrafficRequest[] = [];
      for (let k = 0; k < 40; k++) {
        const addr = bases[id][k % 2] + Math.floor(k / 2) * 64;
        reqs.push({ cmd: Cmd.Write, addr, size: 64, data: pattern(100 * id + k, 64) });
      }
      for (let k = 0; k < 40; k++) reqs.push({ cmd: Cmd.Read, addr: bases[id][k % 2] + Math.floor(k / 2) * 64, size: 64 });
      const m = new TrafficMaster(ctx, `m${id}`, 10 + id, reqs, 6);
      connectPorts(m.port, xb.addInput(`m${id}`));
      m.start(0);
      return m;
    });
    ctx.engine.runUntilIdle();
    for (const [id, m] of masters.entries()) {
      expect(m.done).toBe(true);
      expect(m.completed).toHaveLength(80);
      for (const c of m.completed) {
        expect(c.status).toBe(Status.Ok);
        expect(bases[id].some((b) => c.addr >= b && c.addr < b + 0x80000)).toBe(true);
        if (c.cmd === Cmd.Read) {
          const k = 2 * ((c.addr % 0x80000) / 64) + (c.addr >= 0x8000_0000 ? 1 : 0);
          expect(Array.from(c.data)).toEqual(Array.from(pattern(100 * id + k, 64)));
        }
      }
    }
    expect(s0.accepted.every((a) => a.addr >= 0x1000_0000 && a.addr < 0x1010_0000)).toBe(true);
    expect(s1.accepted.every((a) => a.addr >= 0x8000_0000)).toBe(true);
    expect(s0.accepted).toHaveLength(80);
    expect(s1.accepted).toHaveLength(80);
    expect(new Set(s0.accepted.map((a) => a.masterId))).toEqual(new Set([10, 11]));
    expect(s1.refusals).toBeGreaterThan(0); // its queue limit pushed back on the crossbar
    expect(ctx.stats.value('soc.xbar.dram.refused')).toBe(s1.refusals);
    expect(ctx.stats.value('soc.xbar.dram.transactions')).toBe(80);
    expect(ctx.stats.value('soc.xbar.m0.transactions')).toBe(80);
    expect(ctx.stats.value('soc.xbar.m1.bytes')).toBe(80 * 64);
  });
});

describe('crossbar arbitration and bandwidth (acceptance)', () => {
  /** Two masters, each with `n` requests, saturating one slave. */
  function contend(arbitration: CrossbarParams['arbitration'], prio: [number, number], make: (id: number) => TrafficRequest[],
    slave: { latency: number; queueLimit?: number } = { latency: 5000 }) {
    const ctx = createSimContext();
    const xb = new Crossbar(ctx, 'soc.xbar', new ClockDomain('c', GHz), params({ arbitration, widthBytes: 16, latencyCycles: 2 }));
    const s = new FixedSlave(ctx, 's', slave);
    connectPorts(xb.addOutput('s', [{ base: 0, size: 1 << 30 }]), s.port);
    const ms = [0, 1].map((id) => {
      const m = new TrafficMaster(ctx, `m${id}`, id, make(id), 32);
      connectPorts(m.port, xb.addInput(`m${id}`, { priority: prio[id] }));
      m.start(0);
      return m;
    });
    ctx.engine.runUntilIdle();
    expect(ms.every((m) => m.done)).toBe(true);
    return { ctx, s, ms };
  }
  const wr = (id: number) => writes(id << 20, 400, 64);
  const rd = (id: number) => readsOf(id << 20, 400, 64);

  /** Share of master 0 among the slave's first `k` accepted requests (both still busy then). */
  const share0 = (s: FixedSlave, k: number) => s.accepted.slice(0, k).filter((a) => a.masterId === 0).length / k;

  test('round-robin splits a saturated request layer 50/50, whatever the priorities', () => {
    const { s } = contend('round-robin', [5, 0], wr);
    expect(share0(s, 400)).toBeGreaterThanOrEqual(0.48);
    expect(share0(s, 400)).toBeLessThanOrEqual(0.52);
    // Strictly alternating once both queues are full.
    const ids = s.accepted.slice(10, 60).map((a) => a.masterId);
    for (let k = 1; k < ids.length; k++) expect(ids[k]).not.toBe(ids[k - 1]);
  });

  test('fixed priority starves the lower master while the higher one has requests', () => {
    for (const prio of [[1, 0], [0, 1]] as [number, number][]) {
      const hi = prio[0] > prio[1] ? 0 : 1;
      const { s, ms } = contend('fixed-priority', prio, wr);
      const lastHi = s.accepted.map((a) => a.masterId).lastIndexOf(hi);
      expect(lastHi).toBe(399); // the higher master's 400 requests all went first
      expect(s.accepted.slice(0, 400).filter((a) => a.masterId !== hi)).toHaveLength(0);
      // The lower master had requests waiting from tick 0 all along; it still completes them all.
      expect(ms[1 - hi].completed).toHaveLength(400);
      expect(ms[1 - hi].refusals).toBeGreaterThan(0);
    }
  });

  test('with a back-pressuring slave, round-robin shares it and fixed priority starves', () => {
    const slave = { latency: 20_000, queueLimit: 2 };
    const rr = contend('round-robin', [1, 0], rd, slave);
    expect(rr.s.refusals).toBeGreaterThan(100);
    expect(share0(rr.s, 400)).toBeGreaterThanOrEqual(0.48);
    expect(share0(rr.s, 400)).toBeLessThanOrEqual(0.52);
    const fp = contend('fixed-priority', [1, 0], rd, slave);
    expect(fp.s.refusals).toBeGreaterThan(100);
    expect(share0(fp.s, 400)).toBe(1);
  });

  test('throughput never exceeds widthBytes x frequency on a layer, and saturates it', () => {
    const W = 16; // bytes per 1 ns cycle
    const windowPs = 200_000;
    const bound = (W * windowPs) / 1000;
    // Writes: data crosses the output's request layer.
    const w = contend('round-robin', [0, 0], wr);
    const inBytes = maxWindowBytes(w.s.accepted.map((a) => ({ tick: a.tick, bytes: a.size })), windowPs);
    expect(inBytes).toBeLessThanOrEqual(bound + 64);
    expect(inBytes).toBeGreaterThanOrEqual(0.97 * bound);
    // Reads: data comes back through the slave's response channel, shared by both masters.
    const r = contend('round-robin', [0, 0], rd);
    const done = r.ms.flatMap((m) => m.completed.map((c) => ({ tick: c.doneTick, bytes: c.size })));
    const outBytes = maxWindowBytes(done, windowPs);
    expect(outBytes).toBeLessThanOrEqual(bound + 64);
    expect(outBytes).toBeGreaterThanOrEqual(0.97 * bound);
    // Whole run: 800 × 64 bytes can not take less than 800 × 4 cycles.
    const last = Math.max(...done.map((d) => d.tick));
    expect(last).toBeGreaterThanOrEqual(800 * 4 * 1000);
    expect(last).toBeLessThanOrEqual(800 * 4 * 1000 + 50_000);
    for (const k of ['soc.xbar.s.util', 'soc.xbar.m0.util', 'soc.xbar.m1.util', 'soc.xbar.util']) {
      expect(r.ctx.stats.value(k)).toBeLessThanOrEqual(1);
    }
    expect(r.ctx.stats.value('soc.xbar.s.util')).toBeGreaterThan(0.97);
    expect(r.ctx.stats.value('soc.xbar.s.resp_busy_ps')).toBe(800 * 4 * 1000);
    expect(r.ctx.stats.value('soc.xbar.s.req_busy_ps')).toBe(800 * 1000);
    expect(r.ctx.stats.value('soc.xbar.s.busy_ps')).toBe(800 * 4 * 1000);
    expect(r.ctx.stats.value('soc.xbar.m0.resp_busy_ps')).toBe(400 * 4 * 1000);
  });

  test("one master's request link carries at most widthBytes per cycle, even towards two slaves", () => {
    const ctx = createSimContext();
    const xb = new Crossbar(ctx, 'soc.xbar', new ClockDomain('c', GHz), params());
    const s0 = new FixedSlave(ctx, 's0', { latency: 3000 });
    const s1 = new FixedSlave(ctx, 's1', { latency: 3000 });
    connectPorts(xb.addOutput('s0', [{ base: 0, size: 1 << 20 }]), s0.port);
    connectPorts(xb.addOutput('s1', [{ base: 1 << 20, size: 1 << 20 }]), s1.port);
    const reqs = Array.from({ length: 200 }, (_, k) => ({ cmd: Cmd.Write, addr: (k % 2) * (1 << 20) + k * 64, size: 64 }));
    const m = new TrafficMaster(ctx, 'm', 0, reqs, 32);
    connectPorts(m.port, xb.addInput('m'));
    // Another master keeps s1's layer granting every cycle, so s1 would happily take m's next
    // request while m's link is still sending the previous one to s0.
    const other = new TrafficMaster(ctx, 'o', 1, writes((1 << 20) + 0x8000, 400, 16), 32);
    connectPorts(other.port, xb.addInput('o'));
    m.start(0);
    other.start(0);
    ctx.engine.runUntilIdle();
    expect(m.done && other.done).toBe(true);
    const ev = [...s0.accepted, ...s1.accepted].filter((a) => a.masterId === 0).map((a) => ({ tick: a.tick, bytes: a.size }));
    expect(maxWindowBytes(ev, 100_000)).toBeLessThanOrEqual(16 * 100 + 64);
    expect(maxWindowBytes(ev, 100_000)).toBeGreaterThanOrEqual(16 * 100 - 64);
    expect(ctx.stats.value('soc.xbar.m.req_busy_ps')).toBe(200 * 4 * 1000);
    expect(ctx.stats.value('soc.xbar.m.util')).toBeLessThanOrEqual(1);
  });

  test('back-pressure holds a master at its outstanding limit; all requests still complete', () => {
    const ctx = createSimContext();
    // Input queues deep enough that only the outstanding limits push back.
    const xb = new Crossbar(ctx, 'soc.xbar', new ClockDomain('c', GHz), params({ maxOutstandingPerMaster: 4, inputQueueDepth: 16 }));
    const s = new FixedSlave(ctx, 's', { latency: 30_000 });
    connectPorts(xb.addOutput('s', [{ base: 0, size: 1 << 30 }]), s.port);
    const limits = [4, 2, 0]; // bus default, per-input override, unlimited override
    const probes = limits.map((_, id) => {
      const m = new TrafficMaster(ctx, `m${id}`, id, readsOf(id << 20, 100, 64), 16);
      const p = new Probe();
      connectPorts(m.port, p.up);
      connectPorts(p.down, xb.addInput(`m${id}`, id === 0 ? {} : { maxOutstanding: limits[id] }));
      m.start(0);
      return { m, p };
    });
    let maxMasterInFlight = 0;
    while (ctx.engine.runEvents(1) === 'count') maxMasterInFlight = Math.max(maxMasterInFlight, probes[0].m.inFlight);
    for (const [id, { m, p }] of probes.entries()) {
      expect(m.done).toBe(true);
      expect(m.completed).toHaveLength(100);
      expect(m.completed.every((c) => c.status === Status.Ok)).toBe(true);
      expect(p.inFlight).toBe(0);
      if (limits[id] > 0) {
        expect(p.maxInFlight).toBe(limits[id]); // reached, never exceeded
        expect(m.refusals).toBeGreaterThan(0);
        expect(ctx.stats.value(`soc.xbar.m${id}.refused`)).toBe(m.refusals);
      } else {
        expect(p.maxInFlight).toBe(16); // only the master's own limit
        expect(m.refusals).toBe(0);
      }
    }
    // TrafficMaster counts the request it holds after a refusal: at most one above the limit.
    expect(maxMasterInFlight).toBe(5);
    expect(ctx.stats.value('soc.xbar.refused')).toBe(probes[0].m.refusals + probes[1].m.refusals);
    // A limited master is slower: at most `limit` requests per 30 ns slave round trip.
    const end = (k: number) => Math.max(...probes[k].m.completed.map((c) => c.doneTick));
    expect(end(0)).toBeGreaterThan(25 * 30_000);
    expect(end(1)).toBeGreaterThan(50 * 30_000);
    expect(end(2)).toBeLessThan(end(0));
  });

  test('a full input queue refuses, then retries, and ordering and data survive', () => {
    const ctx = createSimContext();
    const xb = new Crossbar(ctx, 'soc.xbar', new ClockDomain('c', GHz), params({ inputQueueDepth: 2 }));
    const s = new FixedSlave(ctx, 's', { latency: 10_000, queueLimit: 1 });
    connectPorts(xb.addOutput('s', [{ base: 0, size: 1 << 20 }]), s.port);
    const reqs: TrafficRequest[] = [
      ...Array.from({ length: 20 }, (_, k) => ({ cmd: Cmd.Write, addr: k * 32, size: 32, data: pattern(k, 32) })),
      ...readsOf(0, 20, 32),
    ];
    const m = new TrafficMaster(ctx, 'm', 0, reqs, 16);
    const p = new Probe();
    connectPorts(m.port, p.up);
    connectPorts(p.down, xb.addInput('m'));
    m.start(0);
    ctx.engine.runUntilIdle();
    expect(m.done).toBe(true);
    expect(m.refusals).toBeGreaterThan(0);
    // Queue (2) + the request held on the blocked layer (1) + the slave's one + one response on
    // its way back: never more accepted.
    expect(p.maxInFlight).toBe(5);
    expect(s.accepted.map((a) => a.addr)).toEqual(reqs.map((r) => r.addr));
    for (const c of m.completed.filter((c) => c.cmd === Cmd.Read)) {
      expect(Array.from(c.data)).toEqual(Array.from(pattern(c.addr / 32, 32)));
    }
    expect(ctx.stats.value('soc.xbar.s.stalled_ps')).toBeGreaterThan(0);
    // One slave at a time, 10 ns each: 40 requests take at least 400 ns.
    expect(Math.max(...m.completed.map((c) => c.doneTick))).toBeGreaterThanOrEqual(400_000);
  });
});

describe('crossbar stats and trace', () => {
  function small(tracer?: Tracer) {
    const ctx = createSimContext(1, tracer);
    const xb = new Crossbar(ctx, 'soc.xbar', new ClockDomain('c', GHz), params());
    const s = new FixedSlave(ctx, 's', { latency: 4000 });
    connectPorts(xb.addOutput('mem', [{ base: 0x1000, size: 0x1000 }]), s.port);
    const m0 = new TrafficMaster(ctx, 'm0', 3, [{ cmd: Cmd.Read, addr: 0x1000, size: 64 }, { cmd: Cmd.Write, addr: 0x1040, size: 32 }], 2);
    const m1 = new TrafficMaster(ctx, 'm1', 4, [{ cmd: Cmd.Read, addr: 0x1080, size: 64 }, { cmd: Cmd.Read, addr: 0x0, size: 8 }], 2);
    connectPorts(m0.port, xb.addInput('cpu'));
    connectPorts(m1.port, xb.addInput('dma'));
    m0.start(0);
    m1.start(0);
    ctx.engine.runUntilIdle();
    return { ctx, m0, m1 };
  }

  test('per-port counters, queue delay and utilisation', () => {
    const { ctx } = small();
    const v = (k: string) => ctx.stats.value(`soc.xbar.${k}`);
    expect(v('cpu.transactions')).toBe(2);
    expect(v('cpu.bytes')).toBe(96);
    expect(v('dma.transactions')).toBe(2);
    expect(v('mem.transactions')).toBe(3);
    expect(v('mem.bytes')).toBe(64 + 32 + 64);
    expect(v('decode_errors')).toBe(1);
    expect(v('refused')).toBe(0);
    // Request layer: read 1 + write 2 + read 1 cycles; response channel: 4 + 1 + 4.
    expect(v('mem.req_busy_ps')).toBe(4000);
    expect(v('mem.resp_busy_ps')).toBe(9000);
    expect(v('mem.busy_ps')).toBe(9000);
    expect(v('mem.util')).toBeCloseTo(9000 / ctx.engine.now, 12);
    expect(v('util')).toBeCloseTo(9000 / ctx.engine.now, 12);
    const qd = ctx.stats.get('soc.xbar.mem.queue_delay_ns') as Histogram;
    // cpu's read and dma's read arrive together: one is granted at once, the other a cycle later;
    // cpu's write follows its read through the same request link.
    expect(qd.samples).toBe(3);
    expect(qd.min).toBe(0);
    expect(qd.max).toBeGreaterThanOrEqual(1);
    const dump = ctx.stats.dump();
    expect(Object.keys(dump)).toEqual(expect.arrayContaining([
      'soc.xbar.cpu.queue_delay_ns.p99', 'soc.xbar.mem.util', 'soc.xbar.dma.refused', 'soc.xbar.mem.stalled_ps',
    ]));
  });

  test('one bus record per transaction at delivery, keys in order; nothing when disabled', () => {
    const w = new MemoryTraceWriter();
    const tracer = new Tracer(w, ['bus']);
    tracer.start({ configHash: 'x', seed: 1 });
    const { m0, m1 } = small(tracer);
    const recs = w.lines.slice(1).map((l) => JSON.parse(l));
    expect(recs).toHaveLength(4);
    const first = m0.completed.concat(m1.completed).sort((a, b) => a.doneTick - b.doneTick)[0];
    expect(w.lines[1]).toBe(JSON.stringify({
      // No SoC registered these masters, so the record has no name for them.
      t: first.doneTick, cat: 'bus', bus: 'soc.xbar', master: 4, master_name: null, op: 'R', addr: '0x0', size: 8,
      status: 'decode_error', lat_ps: first.doneTick, q_out: 1, q_in: 1, // its second request is still queued
    }));
    const rd = recs.find((r) => r.addr === '0x1000');
    expect(Object.keys(rd)).toEqual(['t', 'cat', 'bus', 'master', 'master_name', 'op', 'addr', 'size', 'status', 'lat_ps', 'q_out', 'q_in']);
    // Queue depths after this delivery: master 3 still has its write in the crossbar.
    expect(rd.q_out).toBeGreaterThanOrEqual(0);
    expect(rd.q_out).toBeLessThanOrEqual(1);
    expect(rd).toMatchObject({ master: 3, op: 'R', size: 64, status: 'ok' });
    expect(rd.lat_ps).toBe(m0.completed.find((c) => c.addr === 0x1000)!.doneTick);
    expect(recs.find((r) => r.addr === '0x1040')).toMatchObject({ op: 'W', size: 32, master: 3 });

    const off = new Tracer(new MemoryTraceWriter(), []);
    small(off);
    expect(off.records).toBe(0);
  });

  test('identical runs give identical stats', () => {
    expect(JSON.stringify(small().ctx.stats.dump())).toBe(JSON.stringify(small().ctx.stats.dump()));
  });
});
