import { ClockDomain } from '../../../sim/engine/clock';
import { SimInvariantError } from '../../../sim/engine/errors';
import { Rng } from '../../../sim/engine/rng';
import { parseFrequency } from '../../../sim/engine/units';

describe('ClockDomain: acceptance values', () => {
  test('1 GHz: 1000 ps per cycle', () => {
    const c = new ClockDomain('cpu', 1e9);
    expect(c.periodPs).toBe(1000);
    expect(c.cyclesToTicks(1)).toBe(1000);
    expect(c.cyclesToTicks(7)).toBe(7000);
    expect(c.cycleToTick(0)).toBe(0);
    expect(c.cycleToTick(3)).toBe(3000);
    expect(c.cycleAt(0)).toBe(0);
    expect(c.cycleAt(999)).toBe(0);
    expect(c.cycleAt(1000)).toBe(1);
    expect(c.cycleAt(2999)).toBe(2);
    expect(c.nextEdge(0)).toBe(0);
    expect(c.nextEdge(1)).toBe(1000);
    expect(c.nextEdge(1000)).toBe(1000);
    expect(c.nextEdge(1001)).toBe(2000);
    expect(c.edgeAfter(0, 0)).toBe(0);
    expect(c.edgeAfter(0, 5)).toBe(5000);
    expect(c.edgeAfter(1500, 1)).toBe(3000);
    expect(c.edgeAfter(2000, 1)).toBe(3000);
    expect(c.ticksToCycles(0)).toBe(0);
    expect(c.ticksToCycles(999)).toBe(0);
    expect(c.ticksToCycles(1000)).toBe(1);
    expect(c.ticksToCycles(123_456)).toBe(123);
    expect(c.cycleToTick(1e9)).toBe(1e12);
  });

  test('800 MHz: 1250 ps per cycle', () => {
    const c = new ClockDomain('dram', 800e6);
    expect(c.periodPs).toBe(1250);
    expect(c.cyclesToTicks(1)).toBe(1250);
    expect(c.cyclesToTicks(4)).toBe(5000);
    expect(c.cycleToTick(3)).toBe(3750);
    expect(c.cycleAt(1249)).toBe(0);
    expect(c.cycleAt(1250)).toBe(1);
    expect(c.cycleAt(3751)).toBe(3);
    expect(c.nextEdge(1)).toBe(1250);
    expect(c.nextEdge(2500)).toBe(2500);
    expect(c.nextEdge(2501)).toBe(3750);
    expect(c.edgeAfter(1, 2)).toBe(3750);
    expect(c.edgeAfter(1250, 2)).toBe(3750);
    expect(c.ticksToCycles(1249)).toBe(0);
    expect(c.ticksToCycles(1250)).toBe(1);
    expect(c.ticksToCycles(10_000)).toBe(8);
    expect(c.cycleToTick(800e6)).toBe(1e12);
  });

  test('1.2 GHz: fractional period, edges 833/834 ps apart, exact on every third edge', () => {
    const c = new ClockDomain('gpu', 1.2e9);
    expect(c.periodPs).toBeCloseTo(833.3333333, 6);
    expect([0, 1, 2, 3, 4, 5, 6].map((n) => c.cycleToTick(n))).toEqual([0, 833, 1667, 2500, 3333, 4167, 5000]);
    expect(c.cycleToTick(3)).toBe(2500);
    expect(c.cyclesToTicks(1)).toBe(833);
    expect(c.cyclesToTicks(2)).toBe(1667);
    expect(c.cyclesToTicks(3)).toBe(2500);
    expect(c.cycleAt(832)).toBe(0);
    expect(c.cycleAt(833)).toBe(1);
    expect(c.cycleAt(1666)).toBe(1);
    expect(c.cycleAt(1667)).toBe(2);
    expect(c.cycleAt(2499)).toBe(2);
    expect(c.cycleAt(2500)).toBe(3);
    expect(c.nextEdge(1)).toBe(833);
    expect(c.nextEdge(834)).toBe(1667);
    expect(c.nextEdge(2500)).toBe(2500);
    expect(c.edgeAfter(1, 2)).toBe(2500);
    expect(c.edgeAfter(2500, 3)).toBe(5000);
    expect(c.ticksToCycles(2499)).toBe(2);
    expect(c.ticksToCycles(2500)).toBe(3);
    expect(c.ticksToCycles(5000)).toBe(6);

    // Gaps between consecutive edges are 833 or 834, never anything else.
    const gaps = new Set<number>();
    for (let n = 0; n < 30_000; n++) gaps.add(c.cycleToTick(n + 1) - c.cycleToTick(n));
    expect([...gaps].sort()).toEqual([833, 834]);
  });

  test('1.2 GHz: no drift after 1.2e9 cycles (exactly 1 s = 1e12 ps)', () => {
    const c = new ClockDomain('gpu', 1.2e9);
    expect(c.cycleToTick(1.2e9)).toBe(1e12);
    expect(c.cyclesToTicks(1.2e9)).toBe(1e12);
    expect(c.cycleAt(1e12)).toBe(1.2e9);
    expect(c.cycleAt(1e12 - 1)).toBe(1.2e9 - 1);
    expect(c.ticksToCycles(1e12)).toBe(1.2e9);
    expect(c.nextEdge(1e12)).toBe(1e12);
    // 10 s and 100 s of simulated time: still exact.
    expect(c.cycleToTick(12e9)).toBe(1e13);
    expect(c.cycleToTick(120e9)).toBe(1e14);
    // Every third edge is a whole multiple of 2500 ps, far out too.
    for (const k of [1, 1000, 123_456_789, 400_000_000]) expect(c.cycleToTick(3 * k)).toBe(2500 * k);
  });

  test('frequencies from parseFrequency build the same domains', () => {
    expect(new ClockDomain('a', parseFrequency('1.2 GHz')).cycleToTick(3)).toBe(2500);
    expect(new ClockDomain('b', parseFrequency('800MHz')).periodPs).toBe(1250);
    expect(new ClockDomain('c', parseFrequency('1GHz')).periodPs).toBe(1000);
  });
});

describe('ClockDomain: properties', () => {
  const freqs = [1e9, 800e6, 1.2e9, 1.6e9, 3.2e9, 933e6, 666_666_667, 100e6, 2.133e9, 1e12, 32_768];

  test.each(freqs)('%d Hz: edge(cycleAt(t)) <= t < edge(cycleAt(t)+1) over many ticks', (f) => {
    const c = new ClockDomain('x', f);
    const rng = new Rng(f);
    let bad = 0;
    const check = (t: number): void => {
      const n = c.cycleAt(t);
      if (!(c.cycleToTick(n) <= t && t < c.cycleToTick(n + 1))) bad++;
      // nextEdge is the first edge >= t; edgeAfter(t, 0) agrees; ticksToCycles == cycleAt.
      const e = c.nextEdge(t);
      if (!(e >= t && c.cycleAt(e - 1) < c.cycleAt(e) && c.cycleToTick(c.cycleAt(e)) === e)) bad++;
      if (c.edgeAfter(t, 0) !== e) bad++;
      if (c.edgeAfter(t, 3) !== c.cycleToTick(c.cycleAt(e) + 3)) bad++;
    };
    for (let t = 0; t < 5000; t++) check(t); // every tick near 0
    for (let i = 0; i < 20_000; i++) check(rng.nextInt(2 ** 32) * 1000 + rng.nextInt(1000)); // up to ~4.3 s
    for (let i = 0; i < 5000; i++) check(Math.floor(rng.nextFloat() * 1e15)); // up to 1000 s
    expect(bad).toBe(0);
  });

  test.each(freqs)('%d Hz: nextEdge of an edge is itself; ticksToCycles inverts cyclesToTicks', (f) => {
    const c = new ClockDomain('x', f);
    const rng = new Rng(42);
    const maxN = Math.min(2 ** 31, Math.floor(2 ** 50 / c.periodPs)); // keep ticks well below 2^53
    let bad = 0;
    for (let i = 0; i < 20_000; i++) {
      const n = i < 10_000 ? i : rng.nextInt(maxN);
      const edge = c.cycleToTick(n);
      if (c.nextEdge(edge) !== edge) bad++;
      if (c.cycleAt(edge) !== n) bad++;
      if (c.edgeAfter(edge, 1) !== c.cycleToTick(n + 1)) bad++;
      if (c.ticksToCycles(c.cyclesToTicks(n)) !== n) bad++;
      if (n > 0 && c.ticksToCycles(c.cyclesToTicks(n) - 1) !== n - 1) bad++;
      if (!Number.isInteger(edge)) bad++;
    }
    expect(bad).toBe(0);
  });

  test('fromPeriodPs keeps the period exact', () => {
    for (let p = 1; p <= 20_000; p++) {
      const c = ClockDomain.fromPeriodPs('p', p);
      if (c.periodPs !== p || c.cycleToTick(123_456_789) !== 123_456_789 * p) {
        throw new Error(`period ${p}: periodPs ${c.periodPs}`);
      }
    }
    const c = ClockDomain.fromPeriodPs('p', 833);
    expect(c.cycleToTick(1e9)).toBe(833e9);
    expect(c.frequencyHz).toBeCloseTo(1e12 / 833, 0);
  });

  test('rejects non-positive, NaN and > 1 THz frequencies', () => {
    expect(() => new ClockDomain('z', 0)).toThrow(SimInvariantError);
    expect(() => new ClockDomain('z', -1e9)).toThrow(SimInvariantError);
    expect(() => new ClockDomain('z', NaN)).toThrow(SimInvariantError);
    expect(() => new ClockDomain('z', 2e12)).toThrow(SimInvariantError);
    expect(() => ClockDomain.fromPeriodPs('z', 0.5)).toThrow(SimInvariantError);
  });
});
