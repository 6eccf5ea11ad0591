/**
 * A stack of pooled objects kept for reuse (transactions, walks, miss entries). Unlike an
 * array used with `pop` and `push`, its array never shrinks: V8's `pop` trims the backing
 * store of an array that falls well below its capacity, and the `push` after it then went
 * through the generic `Array.prototype.push` builtin, not inlined code (about 1.3% of the
 * walk bench's time in `perf`). Here the array only grows, by doubling, and a slot above
 * the count keeps its last object, which the pool owns anyway.
 */
export class FreeList<T> {
  private items: (T | null)[] = new Array<T | null>(8).fill(null);
  private count = 0;

  /** Objects waiting for reuse. */
  get length(): number {
    return this.count;
  }

  /** The most recently put object, or undefined when there is none. */
  take(): T | undefined {
    if (this.count === 0) return undefined;
    return this.items[--this.count]!;
  }

  put(item: T): void {
    if (this.count === this.items.length) this.grow();
    this.items[this.count++] = item;
  }

  private grow(): void {
    const items = new Array<T | null>(this.items.length * 2).fill(null);
    for (let i = 0; i < this.count; i++) items[i] = this.items[i];
    this.items = items;
  }
}
