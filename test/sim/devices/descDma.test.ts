import type { Histogram } from '../../../sim/engine/stats';
import {
  decodeSgDesc, encodeSgDesc, SGD_CTRL_IRQ, SGD_CTRL_LAST, SGD_STAT_DONE, SGD_STAT_ERROR, type SgDesc,
} from '../../../sim/devices/descriptors';
import { DescDma, descDmaDeviceKind, type DescDmaParams } from '../../../sim/devices/descDma';
import { makeNicRig, type NicRig } from '../../helpers/nicRig';

const PATH = 'soc.sgdma';
const NS = 1000;
const L = 100 * NS;
const LIMIT = 0x100_0000;
const D0 = 0x1000;
const D1 = 0x2000;
const D2 = 0x1040;

function rig(p: Partial<DescDmaParams> = {}, queueLimit?: number): NicRig<DescDma> {
  const params: DescDmaParams = { burstBytes: 64, maxOutstanding: 4, ...p };
  return makeNicRig({ latency: L, memLimit: LIMIT, queueLimit }, (ctx, clock) => new DescDma(ctx, PATH, clock, 7, params));
}

const stat = (r: NicRig<DescDma>, name: string): number => r.ctx.stats.value(`${PATH}.${name}`);

function pattern(n: number, seed: number): Uint8Array {
  return Uint8Array.from({ length: n }, (_v, i) => (seed * 53 + i * 11 + (i >> 7)) & 0xff);
}

function peek(r: NicRig<DescDma>, addr: number, n: number): Uint8Array {
  const out = new Uint8Array(n);
  r.mem.read(addr, out);
  return out;
}

interface Seg { src: number; dst: number; len: number }

/** Writes sources (pattern), 0xaa guards around each destination, and the descriptors. */
function setup(r: NicRig<DescDma>, descs: [number, SgDesc][]): Uint8Array[] {
  const srcs: Uint8Array[] = [];
  descs.forEach(([at, d], i) => {
    const data = pattern(d.len, i + 1);
    if (d.src + d.len <= LIMIT) r.mem.write(d.src, data);
    if (d.dst + d.len + 16 <= LIMIT) r.mem.fill(d.dst - 16, d.len + 32, 0xaa);
    r.mem.write(at, encodeSgDesc(d));
    srcs.push(data);
  });
  return srcs;
}

function expectCopied(r: NicRig<DescDma>, seg: Seg, data: Uint8Array): void {
  const got = peek(r, seg.dst - 16, seg.len + 32);
  const want = new Uint8Array(seg.len + 32).fill(0xaa);
  want.set(data, 16);
  expect(got).toEqual(want);
}

function expectUntouched(r: NicRig<DescDma>, seg: Seg): void {
  expect(peek(r, seg.dst - 16, seg.len + 32)).toEqual(new Uint8Array(seg.len + 32).fill(0xaa));
}

/** Records interrupts: [tick, descriptor, error, busy at the time]. */
function listen(r: NicRig<DescDma>): [number, number, boolean, boolean][] {
  const irqs: [number, number, boolean, boolean][] = [];
  r.dev.onInterrupt((desc, error) => irqs.push([r.ctx.engine.now, desc, error, r.dev.busy]));
  return irqs;
}

describe('descdma device spec', () => {
  const base = { name: 'sgdma', bus: 'xbar', clock: 'sys', kind: 'descdma' };
  it('accepts good params, with defaults for the common fields, and names the bad field', () => {
    const ok = descDmaDeviceKind.spec.safeParse({ ...base, burstBytes: '64B', maxOutstanding: 4 });
    expect(ok.success).toBe(true);
    expect(ok.data).toMatchObject({ burstBytes: 64, priority: 0, coherent: false, translation: { kind: 'direct', dmaMaskBits: 64 } });
    const paths = (over: object) => descDmaDeviceKind.spec.safeParse({ ...base, burstBytes: 64, maxOutstanding: 4, ...over }).error?.issues.map((i) => i.path.join('.'));
    expect(paths({ burstBytes: 0 })).toEqual(['burstBytes']);
    expect(paths({ maxOutstanding: 2.5 })).toEqual(['maxOutstanding']);
    expect(paths({ fifoBytes: 64 })).toEqual(['']);
  });
});

describe('DescDma', () => {
  // Three segments, descriptors not contiguous; the last one's `next` is ignored (LAST).
  const seg0: Seg = { src: 0x10_0000, dst: 0x20_0000, len: 100 };
  const seg1: Seg = { src: 0x11_0003, dst: 0x21_0005, len: 300 };
  const seg2: Seg = { src: 0x12_0000, dst: 0x22_0000, len: 1 };
  const chain = (): [number, SgDesc][] => [
    [D0, { ...seg0, control: SGD_CTRL_IRQ, next: D1 }],
    [D1, { ...seg1, control: 0, next: D2 }],
    [D2, { ...seg2, control: SGD_CTRL_IRQ | SGD_CTRL_LAST, next: 0x9999_0000 }],
  ];

  it('copies a 3-descriptor chain: exact bytes, status words, interrupts and ticks', () => {
    const r = rig();
    const data = setup(r, chain());
    const irqs = listen(r);
    expect(r.dev.start(D0)).toBe(true);
    expect(r.dev.busy).toBe(true);
    expect(r.dev.start(D1)).toBe(false);
    r.ctx.engine.runUntilIdle();

    expectCopied(r, seg0, data[0]);
    expectCopied(r, seg1, data[1]);
    expectCopied(r, seg2, data[2]);
    expect(decodeSgDesc(peek(r, D0, 32))).toEqual({ ...seg0, control: SGD_STAT_DONE + SGD_CTRL_IRQ, next: D1 });
    expect(decodeSgDesc(peek(r, D1, 32))).toEqual({ ...seg1, control: SGD_STAT_DONE, next: D2 });
    expect(decodeSgDesc(peek(r, D2, 32))).toEqual({ ...seg2, control: SGD_STAT_DONE + SGD_CTRL_IRQ + SGD_CTRL_LAST, next: 0x9999_0000 });
    // Per descriptor: fetch L + copy + write-back L. Copies: 2 bursts (one wave of read
    // + write, 2L); 5 bursts with 4 in flight (the fifth starts when the first ends, 4L); 1 burst (2L).
    const end0 = 4 * L;
    const end1 = end0 + 6 * L;
    const end2 = end1 + 4 * L;
    expect(irqs).toEqual([[end0, D0, false, true], [end2, D2, false, false]]);
    expect(r.ctx.engine.now).toBe(end2);
    expect(stat(r, 'descriptors')).toBe(3);
    expect(stat(r, 'bytes_copied')).toBe(401);
    expect(stat(r, 'chains')).toBe(1);
    expect(stat(r, 'errors')).toBe(0);
    const h = r.ctx.stats.get(`${PATH}.desc_fetch_latency_ns`) as Histogram;
    expect([h.samples, h.min, h.max]).toEqual([3, 100, 100]);
    // Memory saw: 3 fetches of 32 bytes, 8 reads + 8 writes of data, 3 status writes of 4 bytes.
    const acc = r.slave.accepted;
    expect(acc.filter((a) => a.size === 32).map((a) => a.addr)).toEqual([D0, D1, D2]);
    expect(acc.filter((a) => a.size === 4).map((a) => [a.addr, a.tick])).toEqual([[D0 + 20, 3 * L], [D1 + 20, end1 - L], [D2 + 20, end2 - L]]);
    expect(acc.length).toBe(3 + 16 + 3);
    expect(acc.every((a) => a.masterId === 7)).toBe(true);
  });

  it('ends the chain at next = 0 without LAST and interrupts only where asked', () => {
    const r = rig();
    const data = setup(r, [[D0, { ...seg0, control: 0, next: D1 }], [D1, { ...seg1, control: 0, next: 0 }]]);
    const irqs = listen(r);
    r.dev.start(D0);
    r.ctx.engine.runUntilIdle();
    expectCopied(r, seg0, data[0]);
    expectCopied(r, seg1, data[1]);
    expect(irqs).toEqual([]);
    expect(r.dev.busy).toBe(false);
    expect(stat(r, 'descriptors')).toBe(2);
    expect(stat(r, 'chains')).toBe(1);
    // A second chain may start once idle.
    expect(r.dev.start(D1)).toBe(true);
    r.ctx.engine.runUntilIdle();
    expect(stat(r, 'chains')).toBe(2);
    expect(stat(r, 'descriptors')).toBe(3);
  });

  it('keeps bytes exact under back-pressure (one request at a time)', () => {
    const r = rig({}, 1);
    const data = setup(r, chain());
    r.dev.start(D0);
    r.ctx.engine.runUntilIdle();
    expect(r.slave.refusals).toBeGreaterThan(0);
    expectCopied(r, seg0, data[0]);
    expectCopied(r, seg1, data[1]);
    expectCopied(r, seg2, data[2]);
    // Every access is serial: 3 fetches + 2·(2 + 5 + 1) data + 3 status writes, L each.
    expect(r.ctx.engine.now).toBe((3 + 16 + 3) * L);
  });

  it('a decode error writes the error status and stops the chain there', () => {
    const r = rig();
    const bad: Seg = { ...seg1, dst: LIMIT + 0x1000, len: 200 };
    const data = setup(r, [
      [D0, { ...seg0, control: SGD_CTRL_IRQ, next: D1 }],
      [D1, { ...bad, control: 0, next: D2 }],
      [D2, { ...seg2, control: SGD_CTRL_IRQ | SGD_CTRL_LAST, next: 0 }],
    ]);
    const irqs = listen(r);
    r.dev.start(D0);
    r.ctx.engine.runUntilIdle();
    expectCopied(r, seg0, data[0]);
    expectUntouched(r, seg2);
    expect(decodeSgDesc(peek(r, D1, 32)).control).toBe(SGD_STAT_ERROR);
    expect(decodeSgDesc(peek(r, D2, 32)).control).toBe(SGD_CTRL_IRQ | SGD_CTRL_LAST);
    // D1: fetch L, its 4 bursts read (L) and fail on write (L), status L.
    expect(irqs).toEqual([[4 * L, D0, false, true], [8 * L, D1, true, false]]);
    expect(stat(r, 'errors')).toBe(4);
    expect(r.window.decodeErrors).toBe(4);
    expect(stat(r, 'descriptors')).toBe(1);
    expect(stat(r, 'bytes_copied')).toBe(100);
    expect(stat(r, 'chains')).toBe(1);
    expect(r.dev.busy).toBe(false);
  });

  it('a descriptor that cannot be fetched stops the chain with an error interrupt', () => {
    const r = rig();
    const data = setup(r, [[D0, { ...seg0, control: 0, next: LIMIT + 0x100 }]]);
    const irqs = listen(r);
    r.dev.start(D0);
    r.ctx.engine.runUntilIdle();
    expectCopied(r, seg0, data[0]);
    expect(irqs).toEqual([[5 * L, LIMIT + 0x100, true, false]]);
    expect(stat(r, 'errors')).toBe(1);
    expect(stat(r, 'descriptors')).toBe(1);
    expect(stat(r, 'chains')).toBe(1);
  });

  describe('atomic mode', () => {
    // 256 bytes = 4 bursts = maxOutstanding: atomic's estimate equals timing here.
    const atomicChain = (): [number, SgDesc][] => [
      [D0, { ...seg0, control: SGD_CTRL_IRQ, next: D1 }],
      [D1, { ...seg1, len: 256, control: SGD_CTRL_IRQ, next: D2 }],
      [D2, { ...seg2, control: SGD_CTRL_LAST, next: 0 }],
    ];

    function runBoth(descs: () => [number, SgDesc][]) {
      return (['timing', 'atomic'] as const).map((mode) => {
        const r = rig({ mode });
        setup(r, descs());
        const irqs = listen(r);
        r.dev.start(D0);
        r.ctx.engine.runUntilIdle();
        const mem = [D0, D1, D2].map((d) => peek(r, d, 32));
        const dsts = [seg0.dst, seg1.dst, seg2.dst].map((d) => peek(r, d - 16, 300));
        const h = r.ctx.stats.get(`${PATH}.desc_fetch_latency_ns`) as Histogram;
        const stats = [...['descriptors', 'bytes_copied', 'chains', 'errors'].map((n) => stat(r, n)), h.samples, h.sum];
        return { r, irqs, mem, dsts, stats, end: r.ctx.engine.now };
      });
    }

    it('matches timing mode: bytes, status words, interrupt ticks and stats', () => {
      const [t, a] = runBoth(atomicChain);
      expect(a.r.dev.mode).toBe('atomic');
      expect(a.dsts).toEqual(t.dsts);
      expect(a.mem).toEqual(t.mem);
      expect(a.irqs).toEqual(t.irqs);
      expect(a.irqs).toEqual([[4 * L, D0, false, true], [8 * L, D1, false, true]]);
      expect(a.end).toBe(12 * L);
      expect(a.stats).toEqual(t.stats);
      expect(a.stats.slice(0, 4)).toEqual([3, 357, 1, 0]);
      // Every access reaches memory once, with one event per descriptor and per interrupt.
      expect(a.r.slave.accepted.length).toBe(3 + 2 * (2 + 4 + 1) + 3);
      expect(a.r.ctx.engine.eventsDispatched).toBe(3 + 2);
    });

    it('stops at the first failing burst and writes the error status', () => {
      const descs = (): [number, SgDesc][] => [
        [D0, { ...seg0, control: 0, next: D1 }],
        [D1, { ...seg1, src: LIMIT + 64, len: 256, control: 0, next: D2 }],
        [D2, { ...seg2, control: SGD_CTRL_LAST | SGD_CTRL_IRQ, next: 0 }],
      ];
      const [t, a] = runBoth(descs);
      expect(a.mem).toEqual(t.mem);
      expect(decodeSgDesc(a.mem[1]).control).toBe(SGD_STAT_ERROR);
      expect(decodeSgDesc(a.mem[2]).control).toBe(SGD_CTRL_LAST | SGD_CTRL_IRQ);
      expect(a.irqs).toEqual(t.irqs);
      // D1 starts at 4L: fetch L, the reads fail after L, status write L.
      expect(a.irqs).toEqual([[7 * L, D1, true, false]]);
      // Timing mode had all four reads in flight; atomic stops after the first.
      expect(t.stats[3]).toBe(4);
      expect(a.stats[3]).toBe(1);
    });
  });
});
