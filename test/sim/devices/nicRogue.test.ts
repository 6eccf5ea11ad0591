import { Cmd } from '../../../sim/bus/transaction';
import type { ClockDomain } from '../../../sim/engine/clock';
import type { SimContext } from '../../../sim/engine/context';
import type { Histogram } from '../../../sim/engine/stats';
import { encodeE1000RxDesc } from '../../../sim/devices/descriptors';
import { Nic, packetByte, ROGUE_BYTE, type NicParams, type NicProgram } from '../../../sim/devices/nic';
import { makeNicRig, type NicRig } from '../../helpers/nicRig';

// The Thunderclap-style rogue NIC (NicParams.rogue) against a fixed-latency memory: the
// exact rogue writes (tick, address, size, bytes), their counters, that faulted ones
// neither halt receive nor count as dma_errors, and validation.

const PATH = 'soc.nic';
const RING = 0x1000;
const BUFS = 0x10_0000;
const STRIDE = 2048;
const NS = 1000;
const US = 1_000_000;
const L = 50 * NS;

/** Hardware and program in one object (the tests vary both). */
type Params = NicParams & NicProgram;

function params(over: Partial<Params> = {}): Params {
  return {
    burstBytes: 64, maxOutstanding: 4, lineRateGbps: 10,
    rx: { packetBytes: 200, packetsPerSecond: 1e6, packets: 12 }, rxFifoBytes: 4096, ...over,
  };
}

/** A NIC built with the hardware part of `p` and configured with its program part. */
function makeNic(ctx: SimContext, clock: ClockDomain, p: Params): Nic {
  const { rx, interruptEvery, interruptTimerNs, rogue, ...hw } = p;
  const nic = new Nic(ctx, PATH, clock, 3, hw);
  nic.configure({ rx, interruptEvery, interruptTimerNs, rogue });
  return nic;
}

function rig(p: Params, extra: { memLimit?: number } = {}): NicRig<Nic> {
  return makeNicRig({ latency: L, ...extra }, (ctx, clock) => makeNic(ctx, clock, p));
}

const stat = (r: NicRig<Nic>, name: string): number => r.ctx.stats.value(`${PATH}.${name}`);

function peek(r: NicRig<Nic>, addr: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  r.mem.read(addr, out);
  return out;
}

/** Posts `bufs[i]` in ring slot i (16 slots), hands 15 to the NIC, enables receive, runs to idle. */
function runRx(r: NicRig<Nic>, bufs: number[]): number[] {
  for (let i = 0; i < 16; i++) r.mem.write(RING + 16 * i, encodeE1000RxDesc(bufs[i]));
  const irqs: number[] = [];
  r.dev.onInterrupt(() => irqs.push(r.ctx.engine.now));
  r.dev.setRxRing(RING, 16);
  r.dev.setRxTail(15);
  r.slave.accepted.length = 0;
  r.dev.setRxEnable(true);
  r.ctx.engine.runUntilIdle();
  return irqs;
}

describe('Nic rogue stats', () => {
  it('an honest NIC has no rogue stats', () => {
    const r = rig(params());
    expect(r.ctx.stats.get(`${PATH}.rogue_writes`)).toBeUndefined();
    expect(r.ctx.stats.get(`${PATH}.rogue_writes_ok`)).toBeUndefined();
    expect(r.ctx.stats.get(`${PATH}.rogue_writes_faulted`)).toBeUndefined();
    const g = rig(params({ rogue: { lagPackets: 2 } }));
    expect(stat(g, 'rogue_writes')).toBe(0);
  });
});

describe('Nic rogue writes', () => {
  const N = 12;
  const P = 200;
  const bufs = Array.from({ length: 16 }, (_v, i) => BUFS + i * STRIDE);

  it('lag 2: N − 2 writes of 64 × ROGUE_BYTE to the buffers of packets 0..N−3, counted ok', () => {
    const r = rig(params({ rogue: { lagPackets: 2 } }));
    const irqs = runRx(r, bufs);

    expect(stat(r, 'rx_packets')).toBe(N);
    // Packet k arrives at a_k = (k+1) µs; its write-back is acknowledged at a_k + 3L, and
    // the rogue write to packet k−2's buffer is accepted at that instant.
    const rogue = r.slave.accepted.filter((a) => a.cmd === Cmd.Write && a.size === 64 && a.addr % STRIDE === 0 && a.tick % US === 3 * L);
    expect(rogue).toEqual(Array.from({ length: N - 2 }, (_v, j) => ({ tick: (j + 3) * US + 3 * L, masterId: 3, cmd: Cmd.Write, addr: bufs[j], size: 64 })));
    expect(stat(r, 'rogue_writes')).toBe(N - 2);
    expect(stat(r, 'rogue_writes_ok')).toBe(N - 2);
    expect(stat(r, 'rogue_writes_faulted')).toBe(0);
    expect(stat(r, 'dma_errors')).toBe(0);

    // Buffers 0..N−3: 64 pattern bytes, then the packet's own bytes; N−2 and N−1 untouched.
    for (let k = 0; k < N; k++) {
      const got = peek(r, bufs[k], P + 8);
      const want = new Uint8Array(P + 8);
      for (let i = 0; i < P; i++) want[i] = k < N - 2 && i < 64 ? ROGUE_BYTE : packetByte(k, i);
      expect(got).toEqual(want);
    }

    // Packet processing is as without rogue: same other accesses, same interrupt ticks and latencies.
    const h = rig(params());
    const hIrqs = runRx(h, bufs);
    const rogueSet = new Set(rogue);
    expect(r.slave.accepted.filter((a) => !rogueSet.has(a))).toEqual(h.slave.accepted);
    expect(irqs).toEqual(hIrqs);
    const lat = r.ctx.stats.get(`${PATH}.packet_latency_ns`) as Histogram;
    expect([lat.samples, lat.min, lat.max]).toEqual([N, 150, 150]);
  });

  it('lag 1 with 16-byte writes, and a write clipped at the 64-byte boundary', () => {
    // Slot 3's buffer starts 24 bytes past a 64-byte boundary: its 48-byte rogue write
    // covers 40 bytes. Packets 0..11 use slots 0..11; writes go to slots 0..10.
    const odd = bufs.map((b, i) => (i === 3 ? b + 24 : b));
    const r = rig(params({ rogue: { lagPackets: 1, bytes: 48 } }));
    runRx(r, odd);
    const rogue = r.slave.accepted.filter((a) => a.cmd === Cmd.Write && a.tick % US === 3 * L && a.size !== 16);
    expect(rogue.map((a) => [a.tick, a.addr, a.size])).toEqual(
      Array.from({ length: N - 1 }, (_v, j) => [(j + 2) * US + 3 * L, odd[j], j === 3 ? 40 : 48]));
    expect(stat(r, 'rogue_writes')).toBe(N - 1);
    expect(stat(r, 'rogue_writes_ok')).toBe(N - 1);
    const got3 = peek(r, odd[3], 48);
    for (let i = 0; i < 48; i++) expect(got3[i]).toBe(i < 40 ? ROGUE_BYTE : packetByte(3, i));
    expect(peek(r, odd[11], 4)).toEqual(Uint8Array.from([11, 0, 0, 0]));
  });

  it('remembers buffers across ring wrap: lag 3 on an 8-slot ring refilled by the driver', () => {
    const M = 30;
    const r = rig(params({ rx: { packetBytes: 200, packetsPerSecond: 1e6, packets: M }, rogue: { lagPackets: 3, bytes: 12 } }));
    for (let i = 0; i < 8; i++) r.mem.write(RING + 16 * i, encodeE1000RxDesc(bufs[i]));
    r.dev.setRxRing(RING, 8);
    r.dev.setRxTail(7);
    // Give each completed descriptor back at once (tail = its index), as a refilling driver does.
    r.dev.onInterrupt(() => {
      r.mem.write(RING + 16 * ((r.dev.rxHead + 7) % 8), encodeE1000RxDesc(bufs[(r.dev.rxHead + 7) % 8]));
      r.dev.setRxTail((r.dev.rxHead + 7) % 8);
    });
    r.slave.accepted.length = 0;
    r.dev.setRxEnable(true);
    r.ctx.engine.runUntilIdle();
    expect(stat(r, 'rx_packets')).toBe(M);
    // Payload bursts are 64, 64, 64 and 8 bytes, descriptors 16: the 12-byte writes are the rogue ones.
    const rogue = r.slave.accepted.filter((a) => a.size === 12);
    expect(rogue.map((a) => [a.tick, a.addr])).toEqual(Array.from({ length: M - 3 }, (_v, j) => [(j + 4) * US + 3 * L, bufs[j % 8]]));
    expect(stat(r, 'rogue_writes')).toBe(M - 3);
    expect(stat(r, 'rogue_writes_ok')).toBe(M - 3);
  });

  it('rogue writes the memory rejects count as faulted; receive goes on, no dma_errors', () => {
    // Memory ends 16 bytes past X (64-aligned). 16-byte packets fit in a buffer at X, but
    // the 64-byte rogue write at X does not: a decode error. Slots i ≡ 1 (mod 3) use X.
    const X = 0x100_0000;
    const LIMIT = X + 16;
    const r = rig(params({ rx: { packetBytes: 16, packetsPerSecond: 1e6, packets: N }, rogue: { lagPackets: 2 } }), { memLimit: LIMIT });
    const mixed = bufs.map((b, i) => (i % 3 === 1 ? X : b));
    runRx(r, mixed);
    // Rogue writes target packets 0..N−3 = slots 0..9; slots 1, 4, 7 are at X.
    const bad = [1, 4, 7];
    expect(stat(r, 'rx_packets')).toBe(N);
    expect(r.dev.rxHalted).toBe(false);
    expect(r.dev.rxHead).toBe(N);
    expect(stat(r, 'dma_errors')).toBe(0);
    expect(stat(r, 'rogue_writes')).toBe(N - 2);
    expect(stat(r, 'rogue_writes_faulted')).toBe(bad.length);
    expect(stat(r, 'rogue_writes_ok')).toBe(N - 2 - bad.length);
    expect(r.window.decodeErrors).toBe(bad.length);
    // The memory saw only the accepted rogue writes, at the expected buffers.
    const rogue = r.slave.accepted.filter((a) => a.size === 64);
    const okSlots = Array.from({ length: N - 2 }, (_v, j) => j).filter((j) => !bad.includes(j));
    expect(rogue.map((a) => [a.tick, a.addr])).toEqual(okSlots.map((j) => [(j + 3) * US + 3 * L, mixed[j]]));
    // X last held packet 10 (slot 10), untouched by any rogue write.
    expect(peek(r, X, 16)).toEqual(Uint8Array.from({ length: 16 }, (_v, i) => packetByte(10, i)));
    for (const j of okSlots) expect(peek(r, mixed[j], 16)).toEqual(new Uint8Array(16).fill(ROGUE_BYTE));
    // Every packet still took 3L.
    const lat = r.ctx.stats.get(`${PATH}.packet_latency_ns`) as Histogram;
    expect([lat.samples, lat.min, lat.max]).toEqual([N, 150, 150]);
  });
});
