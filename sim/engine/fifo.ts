/**
 * A first-in, first-out queue of objects that allocates nothing per operation once grown:
 * an array with a head index (Array.shift would move every element). The served prefix
 * is dropped when the queue empties, and now and then while it does not (a queue kept
 * busy for a whole run would otherwise grow by one slot per item).
 */
export class Fifo<T> {
  private readonly items: (T | null)[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  push(item: T): void {
    this.items.push(item);
  }

  /** The oldest item, removed; undefined when empty. */
  shift(): T | undefined {
    if (this.head === this.items.length) return undefined;
    const item = this.items[this.head]!;
    this.items[this.head++] = null;
    if (this.head === this.items.length) {
      this.items.length = 0;
      this.head = 0;
    } else if (this.head >= 64 && this.head * 2 >= this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return item;
  }
}
