/**
 * A first-in, first-out queue of objects that allocates nothing per operation once grown:
 * a ring buffer of power-of-two capacity that doubles when full (Array.shift would move
 * every element). Its array never grows in place: `Array.push` past an array's capacity
 * in optimised code deoptimised its callers the first time a long run queued more than
 * any run before it (a 256 MiB copy, after 16 MiB ones).
 */
export class Fifo<T> {
  private items: (T | null)[] = new Array<T | null>(8).fill(null);
  private head = 0;
  private count = 0;

  get length(): number {
    return this.count;
  }

  push(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[(this.head + this.count) & (this.items.length - 1)] = item;
    this.count++;
  }

  /** The oldest item, left in place; undefined when empty. */
  peek(): T | undefined {
    return this.count === 0 ? undefined : this.items[this.head]!;
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.count === 0) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head] = null;
    this.head = (this.head + 1) & (this.items.length - 1);
    this.count--;
    return item;
  }

  private grow(): void {
    const old = this.items;
    const items = new Array<T | null>(old.length * 2).fill(null);
    for (let k = 0; k < this.count; k++) items[k] = old[(this.head + k) & (old.length - 1)];
    this.items = items;
    this.head = 0;
  }
}
