import { Fifo } from '../../../sim/engine/fifo';

test('Fifo keeps first-in, first-out order across emptying and across dropping a served prefix while never empty', () => {
  const q = new Fifo<number>();
  expect(q.shift()).toBeUndefined();
  const out: number[] = [];
  // Keep 3 waiting while 500 pass through: the served prefix is dropped every 64 or so.
  let next = 0;
  for (; next < 3; next++) q.push(next);
  while (out.length < 500) {
    out.push(q.shift()!);
    q.push(next++);
    expect(q.length).toBe(3);
  }
  while (q.length > 0) out.push(q.shift()!);
  expect(out).toEqual(Array.from({ length: 503 }, (_, i) => i));
  q.push(7);
  expect(q.shift()).toBe(7);
  expect(q.length).toBe(0);
});

test('Fifo grows past its first capacity in order, with items waiting across the wrap, and peek leaves the head in place', () => {
  const q = new Fifo<number>();
  expect(q.peek()).toBeUndefined();
  const out: number[] = [];
  let next = 0;
  // Wrap the ring a few times, then grow it while its head is not at slot 0.
  for (let i = 0; i < 5; i++) q.push(next++);
  for (let i = 0; i < 20; i++) { out.push(q.shift()!); q.push(next++); }
  for (let i = 0; i < 100; i++) q.push(next++);
  expect(q.length).toBe(105);
  expect(q.peek()).toBe(20);
  expect(q.length).toBe(105);
  while (q.length > 0) out.push(q.shift()!);
  expect(out).toEqual(Array.from({ length: next }, (_, i) => i));
  expect(q.shift()).toBeUndefined();
});
