import { FreeList } from '../../../sim/engine/freeList';

describe('FreeList', () => {
  test('gives back the objects put, last in first out, then undefined', () => {
    const list = new FreeList<{ n: number }>();
    expect(list.take()).toBeUndefined();
    const a = { n: 1 }, b = { n: 2 };
    list.put(a);
    list.put(b);
    expect(list.length).toBe(2);
    expect(list.take()).toBe(b);
    expect(list.take()).toBe(a);
    expect(list.take()).toBeUndefined();
    expect(list.length).toBe(0);
  });

  test('grows past its first capacity and keeps every object across growth and reuse', () => {
    const list = new FreeList<number[]>();
    const objs = Array.from({ length: 100 }, (_, i) => [i]);
    for (const o of objs) list.put(o);
    expect(list.length).toBe(100);
    const back: number[][] = [];
    for (let i = 0; i < 60; i++) back.push(list.take()!);
    expect(back).toEqual(objs.slice(40).reverse());
    // Slots above the count are reused, not appended to.
    for (const o of back) list.put(o);
    const all: number[][] = [];
    for (let o = list.take(); o !== undefined; o = list.take()) all.push(o);
    expect(all.map((o) => o[0]).sort((x, y) => x - y)).toEqual(objs.map((o) => o[0]));
  });
});
