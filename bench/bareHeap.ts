/**
 * The reference the engine bench compares against: the least an event queue can do for
 * the steady workload — a binary heap in typed arrays ordered by (tick, insertion
 * sequence), handlers in a slot array recycled through a free list, and a dispatch loop.
 * No priorities, no near list, no time limit, no stop flag, no argument per event, no
 * error checks. The engine's rate over this one's, measured in the same run, is the
 * engine's overhead (issue 16 asks for >= 0.85).
 */
export class BareHeap {
  now = 0;
  dispatched = 0;
  private size = 0;
  private seq = 0;
  private tick: Float64Array;
  private order: Float64Array;
  private slotAt: Int32Array;
  private fns: ((() => void) | undefined)[];
  private free: Int32Array;
  private freeCount = 0;
  private nextSlot = 0;

  constructor(private capacity = 4096) {
    this.tick = new Float64Array(capacity);
    this.order = new Float64Array(capacity);
    this.slotAt = new Int32Array(capacity);
    this.free = new Int32Array(capacity);
    this.fns = new Array(capacity).fill(undefined);
  }

  scheduleIn(delay: number, fn: () => void): void {
    if (this.size === this.capacity) this.grow();
    const slot = this.freeCount > 0 ? this.free[--this.freeCount] : this.nextSlot++;
    this.fns[slot] = fn;
    const at = this.now + delay;
    const ord = this.seq++;
    let i = this.size++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const pt = this.tick[p];
      if (pt < at || (pt === at && this.order[p] < ord)) break;
      this.tick[i] = pt;
      this.order[i] = this.order[p];
      this.slotAt[i] = this.slotAt[p];
      i = p;
    }
    this.tick[i] = at;
    this.order[i] = ord;
    this.slotAt[i] = slot;
  }

  /** Dispatches `count` events (or until empty). */
  run(count: number): void {
    for (let n = 0; n < count && this.size > 0; n++) {
      const slot = this.slotAt[0];
      this.now = this.tick[0];
      this.popRoot();
      const fn = this.fns[slot]!;
      this.fns[slot] = undefined;
      this.free[this.freeCount++] = slot;
      this.dispatched++;
      fn();
    }
  }

  private popRoot(): void {
    const last = --this.size;
    const at = this.tick[last];
    const ord = this.order[last];
    const slot = this.slotAt[last];
    let i = 0;
    while (true) {
      let c = 2 * i + 1;
      if (c >= last) break;
      const r = c + 1;
      if (r < last && (this.tick[r] < this.tick[c] || (this.tick[r] === this.tick[c] && this.order[r] < this.order[c]))) c = r;
      const ct = this.tick[c];
      if (at < ct || (at === ct && ord < this.order[c])) break;
      this.tick[i] = ct;
      this.order[i] = this.order[c];
      this.slotAt[i] = this.slotAt[c];
      i = c;
    }
    this.tick[i] = at;
    this.order[i] = ord;
    this.slotAt[i] = slot;
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const copy = <T extends Float64Array | Int32Array>(a: T, make: (n: number) => T): T => {
      const b = make(cap);
      b.set(a);
      return b;
    };
    this.tick = copy(this.tick, (n) => new Float64Array(n));
    this.order = copy(this.order, (n) => new Float64Array(n));
    this.slotAt = copy(this.slotAt, (n) => new Int32Array(n));
    this.free = copy(this.free, (n) => new Int32Array(n));
    this.fns.length = cap;
    this.capacity = cap;
  }
}
