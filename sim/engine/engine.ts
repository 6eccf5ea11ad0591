import { SimInvariantError } from './errors';
import type { Tick } from './time';

/** An event handler. Hot paths pass pre-bound handlers plus a pooled argument. */
export type EventFn<T = any> = (arg: T) => void;

/** Why a run call returned. */
export type RunResult = 'idle' | 'limit' | 'stopped' | 'count';

/** Event priorities: lower runs first among events at the same tick. */
export const Priority = {
  /** Control plane (stop, stats reset) before any data-path work at that tick. */
  Control: -100,
  Default: 0,
  /** Bookkeeping that must see every data-path event of its tick. */
  Late: 100,
} as const;

const PRIORITY_MIN = -512;
const PRIORITY_MAX = 511;
/** order = (priority - PRIORITY_MIN) * 2^42 + seq: one float comparison for (priority, seq). */
const SEQ_SPAN = 2 ** 42;

/**
 * The discrete-event engine. Events are ordered by (tick, priority, insertion sequence),
 * FIFO among equals. Storage is a binary heap of slot numbers over typed arrays, so
 * scheduling allocates nothing once the arrays have grown to the working-set size.
 */
export class Engine {
  /** Current simulated time in ps. */
  now: Tick = 0;
  /** Events dispatched since construction. */
  eventsDispatched = 0;

  private seq = 0;
  private stopRequested = false;
  private running = false;

  private capacity = 1024;
  private heap = new Int32Array(this.capacity);
  private size = 0;
  private tickOf = new Float64Array(this.capacity);
  private orderOf = new Float64Array(this.capacity);
  private fnOf: (EventFn | undefined)[] = new Array(this.capacity);
  private argOf: unknown[] = new Array(this.capacity);
  private freeSlots = new Int32Array(this.capacity);
  private freeCount = 0;
  private nextSlot = 0;

  /** Number of events waiting. */
  get pending(): number {
    return this.size;
  }

  /** Tick of the earliest pending event, or Infinity when idle. */
  peekTick(): Tick {
    return this.size === 0 ? Infinity : this.tickOf[this.heap[0]];
  }

  /** Schedules `fn(arg)` at absolute tick `at` (>= now). */
  schedule<T>(at: Tick, fn: EventFn<T>, arg?: T, priority = 0): void {
    if (!(at >= this.now) || !Number.isSafeInteger(at)) {
      throw new SimInvariantError(`event scheduled at tick ${at}, which is before now (${this.now}) or not an integer`);
    }
    if (priority < PRIORITY_MIN || priority > PRIORITY_MAX || !Number.isInteger(priority)) {
      throw new SimInvariantError(`event priority ${priority} outside [${PRIORITY_MIN}, ${PRIORITY_MAX}]`);
    }
    const slot = this.allocSlot();
    this.tickOf[slot] = at;
    this.orderOf[slot] = (priority - PRIORITY_MIN) * SEQ_SPAN + this.seq++;
    this.fnOf[slot] = fn;
    this.argOf[slot] = arg;
    this.siftUp(this.size++, slot);
  }

  /** Schedules `fn(arg)` `delay` ticks from now. */
  scheduleIn<T>(delay: Tick, fn: EventFn<T>, arg?: T, priority = 0): void {
    this.schedule(this.now + delay, fn, arg, priority);
  }

  /** Asks the running loop to return after the current event. */
  stop(): void {
    this.stopRequested = true;
  }

  /** Runs events with tick <= limit; then time advances to `limit` unless stopped. */
  runUntil(limit: Tick): RunResult {
    return this.loop(limit, Infinity);
  }

  /** Runs until no events remain (or stop()). */
  runUntilIdle(): RunResult {
    return this.loop(Infinity, Infinity);
  }

  /** Runs at most `count` events. */
  runEvents(count: number): RunResult {
    return this.loop(Infinity, count);
  }

  private loop(limit: Tick, maxEvents: number): RunResult {
    if (this.running) throw new SimInvariantError('Engine.run* called from inside an event handler');
    this.running = true;
    this.stopRequested = false;
    let dispatched = 0;
    let result: RunResult = 'idle';
    try {
      while (true) {
        if (this.stopRequested) { result = 'stopped'; break; }
        if (dispatched >= maxEvents) { result = 'count'; break; }
        if (this.size === 0) { result = 'idle'; break; }
        const slot = this.heap[0];
        const at = this.tickOf[slot];
        if (at > limit) { result = 'limit'; break; }
        const fn = this.fnOf[slot]!;
        const arg = this.argOf[slot];
        this.fnOf[slot] = undefined;
        this.argOf[slot] = undefined;
        this.popRoot();
        this.freeSlots[this.freeCount++] = slot;
        this.now = at;
        dispatched++;
        fn(arg);
      }
    } finally {
      this.eventsDispatched += dispatched;
      this.running = false;
    }
    if ((result === 'limit' || result === 'idle') && limit !== Infinity && limit > this.now) this.now = limit;
    return result;
  }

  private allocSlot(): number {
    if (this.freeCount > 0) return this.freeSlots[--this.freeCount];
    if (this.nextSlot === this.capacity) this.grow();
    return this.nextSlot++;
  }

  private grow(): void {
    const cap = this.capacity * 2;
    const heap = new Int32Array(cap); heap.set(this.heap); this.heap = heap;
    const ticks = new Float64Array(cap); ticks.set(this.tickOf); this.tickOf = ticks;
    const order = new Float64Array(cap); order.set(this.orderOf); this.orderOf = order;
    const free = new Int32Array(cap); free.set(this.freeSlots); this.freeSlots = free;
    this.fnOf.length = cap;
    this.argOf.length = cap;
    this.capacity = cap;
  }

  private before(a: number, b: number): boolean {
    const ta = this.tickOf[a], tb = this.tickOf[b];
    return ta < tb || (ta === tb && this.orderOf[a] < this.orderOf[b]);
  }

  private siftUp(pos: number, slot: number): void {
    const heap = this.heap;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      const p = heap[parent];
      if (!this.before(slot, p)) break;
      heap[pos] = p;
      pos = parent;
    }
    heap[pos] = slot;
  }

  private popRoot(): void {
    const heap = this.heap;
    const n = --this.size;
    if (n === 0) return;
    const slot = heap[n];
    let pos = 0;
    while (true) {
      let child = 2 * pos + 1;
      if (child >= n) break;
      const right = child + 1;
      if (right < n && this.before(heap[right], heap[child])) child = right;
      if (!this.before(heap[child], slot)) break;
      heap[pos] = heap[child];
      pos = child;
    }
    heap[pos] = slot;
  }
}
