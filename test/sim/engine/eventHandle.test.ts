import { Engine, EventHandle } from '../../../sim/engine/engine';

describe('EventHandle', () => {
  test('fires once at its tick with its argument', () => {
    const e = new Engine();
    const seen: [number, string][] = [];
    const h = new EventHandle<string>(e, (a) => seen.push([e.now, a]));
    h.schedule(100, 'x');
    expect(h.scheduled).toBe(true);
    expect(h.when).toBe(100);
    e.runUntilIdle();
    expect(seen).toEqual([[100, 'x']]);
    expect(h.scheduled).toBe(false);
    expect(h.when).toBe(-1);
  });

  test('cancel drops the pending occurrence; reschedule moves it earlier or later', () => {
    const e = new Engine();
    const seen: number[] = [];
    const h = new EventHandle(e, () => seen.push(e.now));
    h.schedule(100);
    h.cancel();
    e.runUntilIdle();
    expect(seen).toEqual([]);
    h.schedule(300);
    h.reschedule(200);
    h.reschedule(400);
    e.runUntilIdle();
    expect(seen).toEqual([400]);
  });

  test('a handle rescheduled to the tick of its stale occurrence fires once, in its new FIFO place', () => {
    const e = new Engine();
    const seen: string[] = [];
    const h = new EventHandle(e, () => seen.push('h'));
    h.schedule(50);
    h.reschedule(10);
    e.schedule(50, () => seen.push('other'));
    e.runUntil(20);
    h.schedule(50);
    e.runUntilIdle();
    expect(seen).toEqual(['h', 'other', 'h']);
  });

  test('scheduling a pending handle is a bug; the handler may reschedule itself', () => {
    const e = new Engine();
    const h = new EventHandle(e, () => undefined);
    h.schedule(10);
    expect(() => h.schedule(20)).toThrow(/already scheduled/);
    let n = 0;
    const self: EventHandle = new EventHandle(e, () => {
      if (++n < 3) self.schedule(e.now + 5);
    });
    self.schedule(1);
    e.runUntilIdle();
    expect(n).toBe(3);
    expect(e.now).toBe(11);
  });
});
