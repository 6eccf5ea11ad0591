import { Cmd } from '../../../sim/bus/transaction';
import type { ClockDomain } from '../../../sim/engine/clock';
import type { SimContext } from '../../../sim/engine/context';
import { SimInvariantError } from '../../../sim/engine/errors';
import type { Histogram } from '../../../sim/engine/stats';
import {
  decodeE1000RxDesc, decodeE1000TxDesc, E1000_RXD_STAT_DD, E1000_RXD_STAT_EOP, E1000_TXD_CMD_EOP, E1000_TXD_CMD_IFCS,
  E1000_TXD_CMD_RS, E1000_TXD_STAT_DD, encodeE1000RxDesc, encodeE1000TxDesc, readU64, writeU64,
} from '../../../sim/devices/descriptors';
import { Nic, packetByte, type NicInterruptCause, type NicParams, type NicProgram } from '../../../sim/devices/nic';
import { makeNicRig, type NicRig } from '../../helpers/nicRig';

const PATH = 'soc.nic';
const RING = 0x1000;
const BUFS = 0x10_0000;
const NS = 1000;
const US = 1_000_000;

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

function rig(p: Params, latency: number, extra: { memLimit?: number; queueLimit?: number } = {}): NicRig<Nic> {
  return makeNicRig({ latency, ...extra }, (ctx, clock) => makeNic(ctx, clock, p));
}

const stat = (r: NicRig<Nic>, name: string): number => r.ctx.stats.value(`${PATH}.${name}`);
const hist = (r: NicRig<Nic>, name: string): Histogram => r.ctx.stats.get(`${PATH}.${name}`) as Histogram;

function peek(r: NicRig<Nic>, addr: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  r.mem.read(addr, out);
  return out;
}

/**
 * A tiny e1000-style receive driver: posts one buffer per ring slot, hands `give`
 * descriptors to the NIC, and (with refill) cleans completed descriptors from the
 * interrupt handler, checking each payload against packetByte and giving the
 * descriptor back (tail = the cleaned index).
 */
class RxDriver {
  next = 0;
  tail = 0;
  readonly seqs: number[] = [];
  readonly bufOf: number[] = [];
  readonly irqTicks: number[] = [];
  badBytes = 0;
  badDescriptors = 0;

  constructor(
    private readonly r: NicRig<Nic>,
    readonly entries: number,
    readonly packetBytes: number,
    readonly bufStride: number,
    private readonly refill: boolean,
    readonly bufOffset = 0,
  ) {}

  buf(i: number): number {
    return BUFS + i * this.bufStride + this.bufOffset;
  }

  setup(give: number): void {
    for (let i = 0; i < this.entries; i++) this.r.mem.write(RING + 16 * i, encodeE1000RxDesc(this.buf(i)));
    this.r.dev.setRxRing(RING, this.entries);
    this.tail = give;
    if (give > 0) this.r.dev.setRxTail(give);
    this.r.dev.onInterrupt((cause: NicInterruptCause) => {
      if (cause !== 'rx') return;
      this.irqTicks.push(this.r.ctx.engine.now);
      if (this.refill) this.clean();
    });
  }

  /** Consumes every descriptor the NIC has completed, in ring order. */
  clean(): void {
    for (;;) {
      const at = RING + 16 * this.next;
      const d = decodeE1000RxDesc(peek(this.r, at, 16));
      if (!(d.status & E1000_RXD_STAT_DD)) break;
      if (d.status !== (E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP) || d.length !== this.packetBytes || d.addr !== this.buf(this.next)
        || d.errors !== 0 || d.csum !== 0 || d.special !== 0) this.badDescriptors++;
      const data = peek(this.r, d.addr, d.length);
      const seq = data[0] + data[1] * 256 + data[2] * 65536 + data[3] * 16777216;
      for (let i = 0; i < d.length; i++) if (data[i] !== packetByte(seq, i)) this.badBytes++;
      this.seqs.push(seq);
      this.bufOf.push(d.addr);
      this.r.mem.write(at, encodeE1000RxDesc(this.buf(this.next)));
      this.tail = this.next;
      this.next = (this.next + 1) % this.entries;
    }
    this.r.dev.setRxTail(this.tail);
  }
}

describe('Nic programming', () => {
  it('register misuse throws', () => {
    const r = rig(params(), 1000);
    expect(() => r.dev.setRxTail(0)).toThrow(/before the ring is programmed/);
    expect(() => r.dev.setRxRing(RING + 8, 8)).toThrow(/16-byte aligned/);
    expect(() => r.dev.setRxRing(RING, 12)).toThrow(/multiple of 8/);
    r.dev.setRxRing(RING, 8);
    expect(() => r.dev.setRxTail(8)).toThrow(/index must be in \[0, 8\)/);
    expect(() => r.dev.setTxTail(1)).toThrow(SimInvariantError);
  });
});

describe('packetByte', () => {
  it('carries the sequence number in bytes 0..3 and a pattern after', () => {
    const seq = 0x01020304 + 5 * 2 ** 32;
    expect([0, 1, 2, 3].map((i) => packetByte(seq, i))).toEqual([4, 3, 2, 1]);
    expect(packetByte(7, 4)).toBe((7 * 37 + 4 * 13) % 256);
    expect(packetByte(7, 300)).toBe((7 * 37 + 300 * 13 + 1) % 256);
    // Neighbouring packets differ in every payload byte.
    for (let i = 4; i < 600; i++) expect(packetByte(10, i)).not.toBe(packetByte(11, i));
  });
});

describe('Nic receive', () => {
  const L = 50 * NS;

  it('writes N packets into N buffers: exact bytes, descriptors, accesses and ticks', () => {
    const P = 200;
    const r = rig(params(), L);
    // Buffers start 24 bytes past a 64-byte boundary: bursts of 40, 64, 64, 32 bytes.
    const drv = new RxDriver(r, 16, P, 2048, false, 24);
    for (let i = 0; i < 16; i++) r.mem.fill(drv.buf(i) - 8, P + 16, 0xee);
    drv.setup(15);
    r.slave.accepted.length = 0;
    r.dev.setRxEnable(true);
    r.ctx.engine.runUntilIdle();

    expect(r.dev.rxHead).toBe(12);
    for (let k = 0; k < 12; k++) {
      const buf = drv.buf(k);
      const got = peek(r, buf - 8, P + 16);
      const want = new Uint8Array(P + 16).fill(0xee);
      for (let i = 0; i < P; i++) want[8 + i] = packetByte(k, i);
      expect(got).toEqual(want);
      expect(decodeE1000RxDesc(peek(r, RING + 16 * k, 16))).toEqual({
        addr: buf, length: P, csum: 0, status: E1000_RXD_STAT_DD | E1000_RXD_STAT_EOP, errors: 0, special: 0,
      });
    }
    for (let k = 12; k < 16; k++) expect(decodeE1000RxDesc(peek(r, RING + 16 * k, 16)).status).toBe(0);
    // Memory sees, per packet k arriving at a_k = (k+1) µs: the 16-byte descriptor read at
    // a_k, four payload writes at a_k + L, the 16-byte write-back at a_k + 2L.
    const expected = [];
    for (let k = 0; k < 12; k++) {
      const a = (k + 1) * US;
      const buf = drv.buf(k);
      expected.push({ tick: a, masterId: 3, cmd: Cmd.Read, addr: RING + 16 * k, size: 16 });
      expected.push({ tick: a + L, masterId: 3, cmd: Cmd.Write, addr: buf, size: 40 });
      expected.push({ tick: a + L, masterId: 3, cmd: Cmd.Write, addr: buf + 40, size: 64 });
      expected.push({ tick: a + L, masterId: 3, cmd: Cmd.Write, addr: buf + 104, size: 64 });
      expected.push({ tick: a + L, masterId: 3, cmd: Cmd.Write, addr: buf + 168, size: 32 });
      expected.push({ tick: a + 2 * L, masterId: 3, cmd: Cmd.Write, addr: RING + 16 * k, size: 16 });
    }
    expect(r.slave.accepted).toEqual(expected);
    expect(drv.irqTicks).toEqual(Array.from({ length: 12 }, (_v, k) => (k + 1) * US + 3 * L));
    expect(stat(r, 'rx_arrivals')).toBe(12);
    expect(stat(r, 'rx_packets')).toBe(12);
    expect(stat(r, 'rx_bytes')).toBe(12 * P);
    expect(stat(r, 'interrupts')).toBe(12);
    expect(stat(r, 'desc_fetches')).toBe(12);
    expect(stat(r, 'rx_missed')).toBe(0);
    expect(stat(r, 'rx_no_descriptor')).toBe(0);
    expect(stat(r, 'dma_errors')).toBe(0);
    const h = hist(r, 'packet_latency_ns');
    expect([h.samples, h.min, h.max]).toEqual([12, 150, 150]);
  });

  it('prefetches descriptors several at a time', () => {
    const r = rig(params({ descPrefetch: 4 }), L);
    const drv = new RxDriver(r, 16, 200, 2048, false);
    drv.setup(15);
    r.slave.accepted.length = 0;
    r.dev.setRxEnable(true);
    r.ctx.engine.runUntilIdle();
    const fetches = r.slave.accepted.filter((a) => a.cmd === Cmd.Read);
    expect(fetches.map((a) => [a.tick, a.addr, a.size])).toEqual([
      [1 * US, RING, 64], [5 * US, RING + 64, 64], [9 * US, RING + 128, 64],
    ]);
    expect(stat(r, 'desc_fetches')).toBe(3);
    expect(stat(r, 'rx_packets')).toBe(12);
    // Packets that had to fetch take 3L, the others 2L.
    const h = hist(r, 'packet_latency_ns');
    expect([h.samples, h.min, h.max, h.sum]).toEqual([12, 100, 150, 3 * 150 + 9 * 100]);
    for (let k = 0; k < 12; k++) expect(peek(r, drv.buf(k), 4)).toEqual(Uint8Array.from([k, 0, 0, 0]));
  });

  it('retries refused requests: one write at a time makes a packet 6L', () => {
    const r = rig(params({ rx: { packetBytes: 256, packetsPerSecond: 1e5, packets: 3 } }), L, { queueLimit: 1 });
    const drv = new RxDriver(r, 8, 256, 2048, true);
    drv.setup(7);
    r.dev.setRxEnable(true);
    r.ctx.engine.runUntilIdle();
    expect(r.slave.refusals).toBeGreaterThan(0);
    expect(drv.seqs).toEqual([0, 1, 2]);
    expect(drv.badBytes).toBe(0);
    const h = hist(r, 'packet_latency_ns');
    expect([h.min, h.max]).toEqual([300, 300]);
  });

  it('wraps the ring: refilling from the interrupt sustains M > entries packets', () => {
    const M = 50;
    const r = rig(params({ rx: { packetBytes: 200, packetsPerSecond: 1e6, packets: M } }), L);
    const drv = new RxDriver(r, 8, 200, 2048, true);
    drv.setup(7);
    r.dev.setRxEnable(true);
    r.ctx.engine.runUntilIdle();
    expect(drv.seqs).toEqual(Array.from({ length: M }, (_v, k) => k));
    expect(drv.bufOf).toEqual(Array.from({ length: M }, (_v, k) => drv.buf(k % 8)));
    expect(drv.badBytes).toBe(0);
    expect(drv.badDescriptors).toBe(0);
    expect(r.dev.rxHead).toBe(M % 8);
    expect(stat(r, 'rx_packets')).toBe(M);
    expect(stat(r, 'interrupts')).toBe(M);
    expect(stat(r, 'rx_missed')).toBe(0);
    expect(stat(r, 'rx_no_descriptor')).toBe(0);
  });

  it('moderates interrupts: every 4 packets, and a timer for the rest', () => {
    const M = 50;
    const r = rig(params({ rx: { packetBytes: 200, packetsPerSecond: 1e6, packets: M }, interruptEvery: 4, interruptTimerNs: 10_000 }), L);
    const drv = new RxDriver(r, 8, 200, 2048, true);
    drv.setup(7);
    r.dev.setRxEnable(true);
    r.ctx.engine.runUntilIdle();
    const done = (k: number) => (k + 1) * US + 3 * L;
    const want = Array.from({ length: 12 }, (_v, j) => done(4 * j + 3));
    // Packets 48 and 49: the timer started at packet 48's completion.
    want.push(done(48) + 10 * US);
    expect(drv.irqTicks).toEqual(want);
    expect(stat(r, 'interrupts')).toBe(13);
    expect(drv.seqs).toEqual(Array.from({ length: M }, (_v, k) => k));
    expect(drv.badBytes).toBe(0);
  });

  it('holds packets without descriptors in the FIFO and drops what does not fit', () => {
    // FIFO of 5 packets; no descriptor until 9.5 µs, then 7.
    const r = rig(params({ rxFifoBytes: 1000 }), L);
    const drv = new RxDriver(r, 8, 200, 2048, false);
    drv.setup(0);
    r.dev.setRxEnable(true);
    r.ctx.engine.runUntil(9.5 * US);
    expect(stat(r, 'rx_arrivals')).toBe(9);
    expect(stat(r, 'rx_no_descriptor')).toBe(5);
    expect(stat(r, 'rx_missed')).toBe(4);
    expect(r.dev.rxFifoPackets).toBe(5);
    r.dev.setRxTail(7);
    r.ctx.engine.runUntil(12.5 * US);
    // Packets 0..4 back to back (3L each) from 9.5 µs; 9 and 10 arrive with descriptors
    // free; 11 arrives at 12 µs when head = tail again.
    expect(stat(r, 'rx_packets')).toBe(7);
    expect(stat(r, 'rx_no_descriptor')).toBe(6);
    expect(stat(r, 'rx_missed')).toBe(4);
    expect(drv.irqTicks.slice(0, 5)).toEqual([1, 2, 3, 4, 5].map((j) => 9.5 * US + j * 3 * L));
    r.dev.setRxTail(0);
    r.ctx.engine.runUntilIdle();
    drv.clean();
    expect(drv.seqs).toEqual([0, 1, 2, 3, 4, 9, 10, 11]);
    expect(drv.badBytes).toBe(0);
    expect(stat(r, 'rx_packets')).toBe(8);
  });

  describe('throughput = min(offered, 1 / per-packet time)', () => {
    // 1024-byte packets in 64-byte bursts, 4 in flight: 16 writes = 4 waves of L. Per
    // packet: descriptor read L + 4 L + write-back L = 6 L.
    const SLOW = 400 * NS;
    const P = 1024;
    const S = 6 * SLOW;
    const T = 2000 * US;

    function run(pps: number) {
      const r = rig(params({ rx: { packetBytes: P, packetsPerSecond: pps }, rxFifoBytes: 8192 }), SLOW);
      const drv = new RxDriver(r, 64, P, 2048, true);
      drv.setup(63);
      r.dev.setRxEnable(true);
      r.ctx.engine.runUntil(T);
      return { r, drv };
    }

    it('overloaded: drops, and delivers exactly one packet per 6L', () => {
      const { r, drv } = run(1e6);
      const a0 = 1 * US;
      const delivered = Math.floor((T - a0) / S);
      expect(stat(r, 'rx_arrivals')).toBe(2000);
      expect(stat(r, 'rx_packets')).toBe(delivered);
      // At T the FIFO is full (8 packets) and one more is in write-back.
      expect(r.dev.rxFifoPackets).toBe(8);
      expect(stat(r, 'rx_missed')).toBe(2000 - delivered - 8 - 1);
      expect(stat(r, 'rx_missed')).toBeGreaterThan(1000);
      const gbps = stat(r, 'rx_throughput_gbps');
      expect(gbps).toBeCloseTo((delivered * P * 8) / (T / 1000), 9);
      expect(Math.abs(gbps / ((P * 8) / (S / 1000)) - 1)).toBeLessThan(0.01);
      // The driver sees increasing sequence numbers with gaps, each payload intact.
      expect(drv.badBytes).toBe(0);
      for (let i = 1; i < drv.seqs.length; i++) expect(drv.seqs[i]).toBeGreaterThan(drv.seqs[i - 1]);
      expect(drv.seqs[drv.seqs.length - 1]).toBeGreaterThan(drv.seqs.length);
    });

    it.each([2e5, 4e5])('under capacity (%d packets/s): no drops, throughput = offered', (pps) => {
      expect(pps).toBeLessThan(1e12 / S);
      const { r, drv } = run(pps);
      const gap = 1e12 / pps;
      const arrivals = Math.floor(T / gap);
      // Every packet takes exactly S; those that arrived by T − S are done.
      const delivered = Math.floor((T - S) / gap);
      expect(stat(r, 'rx_arrivals')).toBe(arrivals);
      expect(stat(r, 'rx_packets')).toBe(delivered);
      expect(stat(r, 'rx_missed')).toBe(0);
      const h = hist(r, 'packet_latency_ns');
      expect([h.min, h.max]).toEqual([S / NS, S / NS]);
      expect(Math.abs(stat(r, 'rx_throughput_gbps') / ((pps * P * 8) / 1e9) - 1)).toBeLessThan(0.01);
      expect(drv.seqs).toEqual(Array.from({ length: delivered }, (_v, k) => k));
    });
  });

  it('takes its traffic after construction (setRxTraffic)', () => {
    const r = rig(params({ rx: null, rxFifoBytes: 2048 }), L);
    expect(() => r.dev.setRxTraffic({ packetBytes: 4096, packetsPerSecond: 1e3 })).toThrow(/does not fit in rxFifoBytes \(2048\)/);
    r.dev.setRxTraffic({ packetBytes: 300, packetsPerSecond: 5e5, packets: 10 });
    const drv = new RxDriver(r, 8, 300, 2048, true);
    drv.setup(7);
    r.dev.setRxEnable(true);
    expect(() => r.dev.setRxTraffic(null)).toThrow(SimInvariantError);
    r.ctx.engine.runUntilIdle();
    expect(drv.seqs).toEqual(Array.from({ length: 10 }, (_v, k) => k));
    expect(drv.badBytes).toBe(0);
    // 300 bytes = 5 bursts, 4 in flight: two waves, so 4L per packet.
    expect(drv.irqTicks[9]).toBe(10 * 2 * US + 4 * L);
    expect(stat(r, 'rx_bytes')).toBe(3000);
  });

  it('a descriptor fetch error halts receive until the ring is reprogrammed', () => {
    const LIMIT = 0x100_0000;
    const r = rig(params({ rxFifoBytes: 1000 }), L, { memLimit: LIMIT });
    r.dev.setRxRing(LIMIT, 8); // no memory there
    r.dev.setRxTail(7);
    r.dev.setRxEnable(true);
    r.ctx.engine.runUntil(8.5 * US);
    expect(stat(r, 'dma_errors')).toBe(1);
    expect(r.window.decodeErrors).toBe(1);
    expect(r.dev.rxHalted).toBe(true);
    expect(stat(r, 'rx_packets')).toBe(0);
    expect(r.dev.rxFifoPackets).toBe(5);
    expect(stat(r, 'rx_missed')).toBe(3);
    // Reprogram onto real memory at 8.5 µs: the five queued packets (0..4) go out, 3L
    // each; packet 8 arrives at 9 µs into the space they left.
    const drv = new RxDriver(r, 8, 200, 2048, false);
    drv.setup(7);
    expect(r.dev.rxHalted).toBe(false);
    r.ctx.engine.runUntil(9.5 * US);
    drv.clean();
    expect(drv.seqs).toEqual([0, 1, 2, 3, 4, 8]);
    expect(stat(r, 'rx_missed')).toBe(3);
    expect(stat(r, 'dma_errors')).toBe(1);
    expect(drv.badBytes).toBe(0);
  });

  it('a buffer outside memory loses the packet and halts', () => {
    const LIMIT = 0x100_0000;
    const r = rig(params(), L, { memLimit: LIMIT });
    for (let i = 0; i < 8; i++) r.mem.write(RING + 16 * i, encodeE1000RxDesc(i === 1 ? LIMIT - 100 : BUFS + 2048 * i));
    r.dev.setRxRing(RING, 8);
    r.dev.setRxTail(7);
    r.dev.setRxEnable(true);
    r.ctx.engine.runUntilIdle();
    expect(stat(r, 'rx_packets')).toBe(1);
    expect(r.dev.rxHead).toBe(1);
    expect(r.dev.rxHalted).toBe(true);
    // 200 bytes at LIMIT − 100: bursts of 36 and 64 inside, then 64 and 36 outside.
    expect(stat(r, 'dma_errors')).toBe(2);
    expect(decodeE1000RxDesc(peek(r, RING + 16, 16)).status).toBe(0);
  });
});

describe('Nic transmit', () => {
  const L = 100 * NS;
  const TX_RING = 0x2000;

  function fillPattern(r: NicRig<Nic>, addr: number, n: number, seed: number): Uint8Array {
    const b = Uint8Array.from({ length: n }, (_v, i) => (seed * 41 + i * 7 + (i >> 8)) & 0xff);
    r.mem.write(addr, b);
    return b;
  }

  it('reads exact bytes, writes DD back where RS is set, and sends at line rate', () => {
    const r = rig(params({ rx: null, maxOutstanding: 8, lineRateGbps: 1 }), L);
    const a = fillPattern(r, 0x1_0000, 1500, 1);
    const b1 = fillPattern(r, 0x2_0010, 100, 2);
    const b2 = fillPattern(r, 0x3_0000, 300, 3);
    const c = fillPattern(r, 0x4_0000, 60, 4);
    const descs = [
      encodeE1000TxDesc(0x1_0000, 1500, E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS),
      encodeE1000TxDesc(0x2_0010, 100, E1000_TXD_CMD_IFCS),
      encodeE1000TxDesc(0x3_0000, 300, E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS),
      encodeE1000TxDesc(0x4_0000, 60, E1000_TXD_CMD_EOP | E1000_TXD_CMD_IFCS | E1000_TXD_CMD_RS),
    ];
    descs.forEach((d, i) => r.mem.write(TX_RING + 16 * i, d));
    const sent: { tick: number; bytes: Uint8Array }[] = [];
    const irqs: [number, NicInterruptCause][] = [];
    r.dev.onTransmit((data, len) => sent.push({ tick: r.ctx.engine.now, bytes: data.slice(0, len) }));
    r.dev.onInterrupt((cause) => irqs.push([r.ctx.engine.now, cause]));
    r.dev.setTxRing(TX_RING, 8);
    r.dev.setTxTail(4);
    r.ctx.engine.runUntilIdle();

    // A: fetch L, 24 reads in 3 waves, on the wire at 400 ns for 1500 × 8 ns.
    // B: fetched at 500 ns, two descriptors (2 reads, then 5 reads), ready at 900 ns,
    //    queued behind A until 12.4 µs, 400 × 8 ns.
    // C: descriptor fetched at 1 µs, its buffer read waits for B to start (12.4 µs);
    //    ready at 12.5 µs, written back at 12.6 µs, sent after B: 60 × 8 ns.
    const aEnd = 400 * NS + 12_000 * NS;
    const bEnd = aEnd + 3200 * NS;
    const cEnd = bEnd + 480 * NS;
    const concat = new Uint8Array(400);
    concat.set(b1, 0);
    concat.set(b2, 100);
    expect(sent.map((s) => s.tick)).toEqual([aEnd, bEnd, cEnd]);
    expect(sent[0].bytes).toEqual(a);
    expect(sent[1].bytes).toEqual(concat);
    expect(sent[2].bytes).toEqual(c);
    expect(irqs).toEqual([[500 * NS, 'tx'], [1000 * NS, 'tx'], [12_600 * NS, 'tx']]);
    // Reads of B's first buffer split at the 64-byte boundary.
    expect(r.slave.accepted.filter((x) => x.addr >= 0x2_0000 && x.addr < 0x3_0000).map((x) => [x.addr, x.size]))
      .toEqual([[0x2_0010, 48], [0x2_0040, 52]]);
    const after = [0, 1, 2, 3].map((i) => decodeE1000TxDesc(peek(r, TX_RING + 16 * i, 16)));
    expect(after.map((d) => d.status)).toEqual([E1000_TXD_STAT_DD, 0, E1000_TXD_STAT_DD, E1000_TXD_STAT_DD]);
    after.forEach((d, i) => expect({ ...d, status: 0 }).toEqual(decodeE1000TxDesc(descs[i])));
    expect(r.dev.txHead).toBe(4);
    expect(stat(r, 'tx_packets')).toBe(3);
    expect(stat(r, 'tx_bytes')).toBe(1960);
    expect(stat(r, 'desc_fetches')).toBe(4);
    expect(stat(r, 'interrupts')).toBe(3);
    expect(stat(r, 'tx_throughput_gbps')).toBeCloseTo((1960 * 8) / (cEnd / 1000), 9);
  });

  it('a buffer outside memory halts transmit and sends nothing', () => {
    const LIMIT = 0x100_0000;
    const r = rig(params({ rx: null }), L, { memLimit: LIMIT });
    r.mem.write(TX_RING, encodeE1000TxDesc(LIMIT + 4096, 64, E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS));
    let sent = 0;
    r.dev.onTransmit(() => sent++);
    r.dev.setTxRing(TX_RING, 8);
    r.dev.setTxTail(1);
    r.ctx.engine.runUntilIdle();
    expect(sent).toBe(0);
    expect(r.dev.txHalted).toBe(true);
    expect(r.dev.txHead).toBe(0);
    expect(stat(r, 'dma_errors')).toBe(1);
    expect(decodeE1000TxDesc(peek(r, TX_RING, 16)).status).toBe(0);
  });
});

describe('Nic both directions at once', () => {
  it('shares its port: every received and transmitted byte is exact', () => {
    const TX_RING = 0x2000;
    const r = rig(params({ descPrefetch: 4, rx: { packetBytes: 200, packetsPerSecond: 1e6, packets: 20 } }), 200 * NS);
    const drv = new RxDriver(r, 8, 200, 2048, true);
    drv.setup(7);
    let txIrqs = 0;
    r.dev.onInterrupt((cause) => {
      if (cause === 'tx') txIrqs++;
      else drv.clean();
    });
    const sizes = [60, 1500, 333, 64, 999, 1];
    const packets = sizes.map((n, i) => Uint8Array.from({ length: n }, (_v, j) => (i * 97 + j * 5) & 0xff));
    packets.forEach((p, i) => {
      r.mem.write(0x40_0000 + i * 4096 + 8, p);
      r.mem.write(TX_RING + 16 * i, encodeE1000TxDesc(0x40_0000 + i * 4096 + 8, p.length, E1000_TXD_CMD_EOP | E1000_TXD_CMD_RS));
    });
    const sent: Uint8Array[] = [];
    r.dev.onTransmit((data, len) => sent.push(data.slice(0, len)));
    r.dev.setTxRing(TX_RING, 8);
    r.dev.setRxEnable(true);
    r.ctx.engine.runUntil(1500);
    r.dev.setTxTail(6);
    r.ctx.engine.runUntilIdle();
    expect(sent).toEqual(packets);
    expect(txIrqs).toBe(6);
    expect(drv.seqs).toEqual(Array.from({ length: 20 }, (_v, k) => k));
    expect(drv.badBytes).toBe(0);
    expect(drv.badDescriptors).toBe(0);
    expect(stat(r, 'interrupts')).toBe(26);
    // RX: each packet is done (and refilled) before the next arrives, so fetches read
    // descriptors 0-3, 4-7, 0-3, ...: 5 for 20 packets. TX: 4, then 2.
    expect(stat(r, 'desc_fetches')).toBe(5 + 2);
    expect(stat(r, 'tx_bytes')).toBe(sizes.reduce((a, b) => a + b, 0));
  });
});

describe('descriptor helpers', () => {
  it('round-trip 64-bit addresses and reject values of 2^53 or more', () => {
    const b = new Uint8Array(8);
    writeU64(b, 0, 0x1f_ffff_ffff_fff0);
    expect(readU64(b, 0)).toBe(0x1f_ffff_ffff_fff0);
    b[6] = 0x20; // 2^53
    expect(readU64(b, 0)).toBe(-1);
  });
});
