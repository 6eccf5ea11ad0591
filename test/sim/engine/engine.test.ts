import { Engine, Priority } from '../../../sim/engine/engine';
import { SimInvariantError } from '../../../sim/engine/errors';
import { Rng } from '../../../sim/engine/rng';

/** Records (label, now) for each dispatched event. */
function recorder(engine: Engine): { log: [string, number][]; ev: (label: string) => () => void } {
  const log: [string, number][] = [];
  return { log, ev: (label) => () => { log.push([label, engine.now]); } };
}

describe('Engine ordering', () => {
  test('orders by tick, then priority, then insertion sequence', () => {
    const e = new Engine();
    const { log, ev } = recorder(e);
    e.schedule(20, ev('t20'));
    e.schedule(10, ev('t10-default-a'));
    e.schedule(10, ev('t10-late'), undefined, Priority.Late);
    e.schedule(10, ev('t10-control'), undefined, Priority.Control);
    e.schedule(10, ev('t10-default-b'));
    e.schedule(5, ev('t5-late'), undefined, Priority.Late);
    e.schedule(10, ev('t10-p1'), undefined, 1);
    e.schedule(10, ev('t10-pm1'), undefined, -1);
    expect(e.runUntilIdle()).toBe('idle');
    expect(log.map((l) => l[0])).toEqual([
      't5-late', 't10-control', 't10-pm1', 't10-default-a', 't10-default-b', 't10-p1', 't10-late', 't20',
    ]);
    expect(log.map((l) => l[1])).toEqual([5, 10, 10, 10, 10, 10, 10, 20]);
    expect(e.now).toBe(20);
    expect(e.eventsDispatched).toBe(8);
  });

  test('FIFO among many events with equal (tick, priority)', () => {
    const e = new Engine();
    const seen: number[] = [];
    const fn = (i: number): void => { seen.push(i); };
    const N = 5000;
    // Interleave three ticks and two priorities so the heap reorders a lot.
    for (let i = 0; i < N; i++) e.schedule(100 * (i % 3), fn, i, i % 2 === 0 ? 0 : 5);
    e.runUntilIdle();
    const expected: number[] = [];
    for (const tick of [0, 1, 2]) {
      for (const par of [0, 1]) {
        for (let i = 0; i < N; i++) if (i % 3 === tick && i % 2 === par) expected.push(i);
      }
    }
    expect(seen).toEqual(expected);
  });

  test('passes the argument to the handler', () => {
    const e = new Engine();
    const got: unknown[] = [];
    const obj = { x: 1 };
    e.schedule(1, (a: { x: number }) => got.push(a), obj);
    e.schedule(2, (a: number) => got.push(a), 42);
    e.schedule(3, (a: undefined) => got.push(a));
    e.runUntilIdle();
    expect(got).toEqual([obj, 42, undefined]);
    expect(got[0]).toBe(obj);
  });

  test('events scheduled from a handler at the current tick run in the same run, after it', () => {
    const e = new Engine();
    const { log, ev } = recorder(e);
    e.schedule(10, () => {
      log.push(['outer', e.now]);
      e.schedule(e.now, ev('same-tick'));
      e.scheduleIn(0, ev('same-tick-2'));
      e.schedule(e.now, ev('same-tick-control'), undefined, Priority.Control);
      e.scheduleIn(5, ev('later'));
    });
    e.schedule(10, ev('sibling'));
    expect(e.runUntil(10)).toBe('limit');
    // Control priority jumps ahead of the still-pending default sibling; FIFO otherwise.
    expect(log).toEqual([
      ['outer', 10], ['same-tick-control', 10], ['sibling', 10], ['same-tick', 10], ['same-tick-2', 10],
    ]);
    expect(e.pending).toBe(1);
    e.runUntilIdle();
    expect(log[log.length - 1]).toEqual(['later', 15]);
  });

  test('heap grows past its initial 1024 capacity: 100k random ticks come out sorted', () => {
    const e = new Engine();
    const rng = new Rng(2024);
    const N = 100_000;
    const ticks: number[] = [];
    const out: number[] = [];
    const outIdx: number[] = [];
    const fn = (i: number): void => { out.push(e.now); outIdx.push(i); };
    for (let i = 0; i < N; i++) {
      const t = rng.nextInt(50_000); // plenty of duplicates, to exercise the FIFO tie-break
      ticks.push(t);
      e.schedule(t, fn, i);
    }
    expect(e.pending).toBe(N);
    expect(e.peekTick()).toBe(Math.min(...ticks));
    expect(e.runUntilIdle()).toBe('idle');
    expect(out.length).toBe(N);
    const sorted = [...ticks].sort((a, b) => a - b);
    // Plain loops, one expect each: 100k expect() calls would dominate the test time.
    let firstMismatch = -1, fifoViolations = 0, wrongTick = 0;
    for (let k = 0; k < N; k++) {
      if (firstMismatch < 0 && out[k] !== sorted[k]) firstMismatch = k;
      if (k > 0 && out[k] === out[k - 1] && outIdx[k] < outIdx[k - 1]) fifoViolations++;
      if (ticks[outIdx[k]] !== out[k]) wrongTick++;
    }
    expect(firstMismatch).toBe(-1);
    expect(fifoViolations).toBe(0); // equal ticks keep insertion order
    expect(wrongTick).toBe(0); // each handler ran at its own tick
    expect(new Set(outIdx).size).toBe(N);
  });

  test('interleaved schedule/dispatch with slot reuse matches a naive reference queue', () => {
    // The same random workload drives the engine and a linear-scan reference queue; since
    // handlers draw from their RNG in dispatch order, equal dispatch sequences mean equal
    // ordering decisions all the way through.
    type Key = { t: number; p: number; s: number };
    const simulate = (useEngine: boolean): number[] => {
      const rng = new Rng(7);
      const got: number[] = [];
      let seq = 0;
      let now = 0;
      const e = new Engine();
      const ref: Key[] = [];
      const add = (t: number, p: number): void => {
        const s = seq++;
        if (useEngine) e.schedule(t, fn, s, p);
        else ref.push({ t, p, s });
      };
      const fn = (id: number): void => {
        got.push(id);
        const k = rng.nextInt(3); // 0..2 follow-ups, some at the current tick
        for (let j = 0; j < k && seq < 30_000; j++) add((useEngine ? e.now : now) + rng.nextInt(50), rng.nextInt(3) - 1);
      };
      for (let i = 0; i < 3000; i++) add(rng.nextInt(1000), rng.nextInt(3) - 1);
      if (useEngine) e.runUntilIdle();
      else {
        while (ref.length) {
          let best = 0;
          for (let i = 1; i < ref.length; i++) {
            const a = ref[i], b = ref[best];
            if (a.t < b.t || (a.t === b.t && (a.p < b.p || (a.p === b.p && a.s < b.s)))) best = i;
          }
          const [ev] = ref.splice(best, 1);
          now = ev.t;
          fn(ev.s);
        }
      }
      return got;
    };
    const fromEngine = simulate(true);
    const fromRef = simulate(false);
    expect(fromEngine.length).toBeGreaterThan(3000);
    expect(fromEngine).toEqual(fromRef);
  });
});

describe('Engine run control', () => {
  test('runUntil(limit) runs events <= limit, leaves later ones, and advances now to the limit', () => {
    const e = new Engine();
    const { log, ev } = recorder(e);
    e.schedule(100, ev('a'));
    e.schedule(200, ev('b'));
    e.schedule(201, ev('c'));
    expect(e.runUntil(200)).toBe('limit');
    expect(log.map((l) => l[0])).toEqual(['a', 'b']);
    expect(e.now).toBe(200);
    expect(e.pending).toBe(1);
    expect(e.peekTick()).toBe(201);

    // A limit between events: now moves to the limit even though nothing ran.
    e.schedule(500, ev('d'));
    expect(e.runUntil(300)).toBe('limit');
    expect(e.now).toBe(300);
    expect(log.length).toBe(3);
    expect(log[2]).toEqual(['c', 201]);

    // A limit past the last event: 'idle', and time still advances to the limit.
    expect(e.runUntil(1000)).toBe('idle');
    expect(e.now).toBe(1000);
    expect(log.map((l) => l[0])).toEqual(['a', 'b', 'c', 'd']);
  });

  test('runUntil on an empty engine advances time; never moves time backwards', () => {
    const e = new Engine();
    expect(e.runUntil(50)).toBe('idle');
    expect(e.now).toBe(50);
    expect(e.runUntil(10)).toBe('idle');
    expect(e.now).toBe(50);
  });

  test('runUntil rejects NaN and fractional limits', () => {
    const e = new Engine();
    expect(() => e.runUntil(NaN)).toThrow(SimInvariantError);
    expect(() => e.runUntil(1.5)).toThrow(SimInvariantError);
    expect(e.runUntil(Infinity)).toBe('idle');
  });

  test('runUntilIdle drains everything, including events scheduled while running', () => {
    const e = new Engine();
    let n = 0;
    const chain = (): void => { if (++n < 1000) e.scheduleIn(3, chain); };
    e.schedule(0, chain);
    expect(e.runUntilIdle()).toBe('idle');
    expect(n).toBe(1000);
    expect(e.now).toBe(999 * 3);
    expect(e.pending).toBe(0);
    expect(e.peekTick()).toBe(Infinity);
    expect(e.runUntilIdle()).toBe('idle');
  });

  test("runEvents(n) returns 'count' after exactly n events", () => {
    const e = new Engine();
    let n = 0;
    const fn = (): void => { n++; };
    for (let i = 0; i < 10; i++) e.schedule(i, fn);
    expect(e.runEvents(4)).toBe('count');
    expect(n).toBe(4);
    expect(e.now).toBe(3);
    expect(e.eventsDispatched).toBe(4);
    expect(e.runEvents(0)).toBe('count');
    expect(n).toBe(4);
    expect(e.runEvents(6)).toBe('count');
    expect(n).toBe(10);
    expect(e.runEvents(5)).toBe('idle');
    expect(e.eventsDispatched).toBe(10);
  });

  test("stop() from a handler returns 'stopped' after that event; a later run continues", () => {
    const e = new Engine();
    const { log, ev } = recorder(e);
    e.schedule(1, ev('a'));
    e.schedule(2, () => { log.push(['stopper', e.now]); e.stop(); });
    e.schedule(2, ev('b'));
    e.schedule(3, ev('c'));
    expect(e.runUntil(100)).toBe('stopped');
    expect(log.map((l) => l[0])).toEqual(['a', 'stopper']);
    expect(e.now).toBe(2); // stopped: time does not jump to the limit
    expect(e.pending).toBe(2);
    expect(e.runUntilIdle()).toBe('idle');
    expect(log.map((l) => l[0])).toEqual(['a', 'stopper', 'b', 'c']);
  });

  test('stop() outside a run does not stop the next run', () => {
    const e = new Engine();
    let n = 0;
    e.schedule(1, () => n++);
    e.stop();
    expect(e.runUntilIdle()).toBe('idle');
    expect(n).toBe(1);
  });

  test('scheduling in the past, at NaN/fractional ticks or bad priorities throws SimInvariantError', () => {
    const e = new Engine();
    const fn = (): void => {};
    e.schedule(100, fn);
    e.runUntilIdle();
    expect(() => e.schedule(99, fn)).toThrow(SimInvariantError);
    expect(() => e.scheduleIn(-1, fn)).toThrow(SimInvariantError);
    expect(() => e.schedule(NaN, fn)).toThrow(SimInvariantError);
    expect(() => e.schedule(100.5, fn)).toThrow(SimInvariantError);
    expect(() => e.schedule(200, fn, undefined, 10_000)).toThrow(SimInvariantError);
    expect(() => e.schedule(200, fn, undefined, 0.5)).toThrow(SimInvariantError);
    expect(e.pending).toBe(0);
    // Scheduling at exactly now is fine.
    e.schedule(100, fn);
    expect(e.pending).toBe(1);
  });

  test('scheduling in the past from inside a handler throws out of the run', () => {
    const e = new Engine();
    e.schedule(10, () => e.schedule(5, () => {}));
    expect(() => e.runUntilIdle()).toThrow(SimInvariantError);
    // The engine is usable afterwards.
    let ran = false;
    e.scheduleIn(1, () => { ran = true; });
    expect(e.runUntilIdle()).toBe('idle');
    expect(ran).toBe(true);
  });

  test('a reentrant run call throws', () => {
    const e = new Engine();
    let caught: unknown;
    e.schedule(1, () => {
      try { e.runUntilIdle(); } catch (err) { caught = err; }
    });
    e.schedule(2, () => e.runEvents(1));
    expect(() => e.runUntilIdle()).toThrow(SimInvariantError);
    expect(caught).toBeInstanceOf(SimInvariantError);
    // Not left in the running state.
    expect(e.runUntilIdle()).toBe('idle');
  });

  test('an exception from a handler leaves the engine consistent', () => {
    const e = new Engine();
    const { log, ev } = recorder(e);
    e.schedule(1, ev('a'));
    e.schedule(2, () => { throw new Error('boom'); });
    e.schedule(3, ev('c'));
    expect(() => e.runUntilIdle()).toThrow('boom');
    expect(e.now).toBe(2);
    expect(e.eventsDispatched).toBe(2);
    expect(e.pending).toBe(1);
    expect(e.runUntilIdle()).toBe('idle');
    expect(log.map((l) => l[0])).toEqual(['a', 'c']);
  });

  test('insertion sequence renumbering keeps order when the 42-bit counter would overflow', () => {
    const e = new Engine();
    const seen: number[] = [];
    const fn = (i: number): void => { seen.push(i); };
    // Jump the private counter close to its limit (only reachable after ~4.4e12 schedules).
    (e as unknown as { seq: number }).seq = 2 ** 42 - 3;
    for (let i = 0; i < 10; i++) e.schedule(5, fn, i, i % 2 === 0 ? Priority.Default : Priority.Late);
    e.schedule(4, fn, 100);
    e.runUntilIdle();
    expect(seen).toEqual([100, 0, 2, 4, 6, 8, 1, 3, 5, 7, 9]);
    expect((e as unknown as { seq: number }).seq).toBeLessThan(100);
  });
});
