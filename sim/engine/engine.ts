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
 * FIFO among equals. Storage is a binary heap kept in typed arrays indexed by heap
 * position (tick, order key and slot side by side, so a sift compares neighbouring
 * memory), plus per-slot handler/argument arrays that never move. Scheduling allocates
 * nothing once the arrays have grown to the working-set size.
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
  private size = 0;
  /** Heap, by position: tick, (priority, seq) order key, and the event's slot. */
  private hTick = new Float64Array(this.capacity);
  private hOrder = new Float64Array(this.capacity);
  private hSlot = new Int32Array(this.capacity);
  /** By slot: handler and argument. Slots are recycled through a free list. */
  private fnOf: (EventFn | undefined)[] = new Array(this.capacity).fill(undefined);
  private argOf: unknown[] = new Array(this.capacity).fill(undefined);
  private freeSlots = new Int32Array(this.capacity);
  private freeCount = 0;
  private nextSlot = 0;

  /** Number of events waiting. */
  get pending(): number {
    return this.size;
  }

  /** Tick of the earliest pending event, or Infinity when idle. */
  peekTick(): Tick {
    return this.size === 0 ? Infinity : this.hTick[0];
  }

  /** Schedules `fn(arg)` at absolute tick `at` (an integer >= now). */
  schedule<T>(at: Tick, fn: EventFn<T>, arg?: T, priority = 0): void {
    if (!(at >= this.now) || !Number.isSafeInteger(at)) {
      throw new SimInvariantError(`event scheduled at tick ${at}, which is before now (${this.now}) or not an integer`);
    }
    if (priority !== 0 && (priority < PRIORITY_MIN || priority > PRIORITY_MAX || !Number.isInteger(priority))) {
      throw new SimInvariantError(`event priority ${priority} outside [${PRIORITY_MIN}, ${PRIORITY_MAX}]`);
    }
    if (this.seq >= SEQ_SPAN) this.renumber();
    let slot: number;
    if (this.freeCount > 0) slot = this.freeSlots[--this.freeCount];
    else {
      if (this.nextSlot === this.capacity) this.grow();
      slot = this.nextSlot++;
    }
    this.fnOf[slot] = fn;
    this.argOf[slot] = arg;
    this.siftUp(this.size++, at, (priority - PRIORITY_MIN) * SEQ_SPAN + this.seq++, slot);
  }

  /** Schedules `fn(arg)` `delay` ticks from now. */
  scheduleIn<T>(delay: Tick, fn: EventFn<T>, arg?: T, priority = 0): void {
    this.schedule(this.now + delay, fn, arg, priority);
  }

  /** Asks the running loop to return after the current event. */
  stop(): void {
    this.stopRequested = true;
  }

  /**
   * Runs events with tick <= limit (an integer tick or Infinity); then time advances to
   * `limit` unless stopped.
   */
  runUntil(limit: Tick): RunResult {
    if (!Number.isSafeInteger(limit) && limit !== Infinity) {
      throw new SimInvariantError(`Engine.runUntil(${limit}): limit must be an integer tick or Infinity`);
    }
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
        const at = this.hTick[0];
        if (at > limit) { result = 'limit'; break; }
        const slot = this.hSlot[0];
        const fn = this.fnOf[slot]!;
        const arg = this.argOf[slot];
        this.fnOf[slot] = undefined;
        this.argOf[slot] = undefined;
        this.freeSlots[this.freeCount++] = slot;
        this.popRoot();
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

  private grow(): void {
    const cap = this.capacity * 2;
    const tick = new Float64Array(cap); tick.set(this.hTick); this.hTick = tick;
    const order = new Float64Array(cap); order.set(this.hOrder); this.hOrder = order;
    const slot = new Int32Array(cap); slot.set(this.hSlot); this.hSlot = slot;
    const free = new Int32Array(cap); free.set(this.freeSlots); this.freeSlots = free;
    for (let i = this.capacity; i < cap; i++) {
      this.fnOf.push(undefined);
      this.argOf.push(undefined);
    }
    this.capacity = cap;
  }

  /** Places (tick, order, slot) at heap position `pos` (a hole) and restores the heap. */
  private siftUp(pos: number, tick: number, order: number, slot: number): void {
    const hTick = this.hTick, hOrder = this.hOrder, hSlot = this.hSlot;
    while (pos > 0) {
      const parent = (pos - 1) >> 1;
      const pt = hTick[parent];
      if (pt < tick || (pt === tick && hOrder[parent] < order)) break;
      hTick[pos] = pt;
      hOrder[pos] = hOrder[parent];
      hSlot[pos] = hSlot[parent];
      pos = parent;
    }
    hTick[pos] = tick;
    hOrder[pos] = order;
    hSlot[pos] = slot;
  }

  /** Removes the root: moves the last entry into the hole at 0 and sifts it down. */
  private popRoot(): void {
    const n = --this.size;
    if (n === 0) return;
    const hTick = this.hTick, hOrder = this.hOrder, hSlot = this.hSlot;
    const tick = hTick[n], order = hOrder[n], slot = hSlot[n];
    let pos = 0;
    while (true) {
      let child = 2 * pos + 1;
      if (child >= n) break;
      let ct = hTick[child];
      const right = child + 1;
      if (right < n) {
        const rt = hTick[right];
        if (rt < ct || (rt === ct && hOrder[right] < hOrder[child])) { child = right; ct = rt; }
      }
      if (tick < ct || (tick === ct && order < hOrder[child])) break;
      hTick[pos] = ct;
      hOrder[pos] = hOrder[child];
      hSlot[pos] = hSlot[child];
      pos = child;
    }
    hTick[pos] = tick;
    hOrder[pos] = order;
    hSlot[pos] = slot;
  }

  /**
   * Restarts the insertion sequence at 0 when it would overflow the order key's
   * 42 bits (after ~4.4e12 schedules), keeping the relative order of pending events.
   */
  private renumber(): void {
    const n = this.size;
    const pos = Array.from({ length: n }, (_, i) => i);
    const seqOf = (i: number): number => this.hOrder[i] % SEQ_SPAN;
    pos.sort((a, b) => seqOf(a) - seqOf(b));
    for (let k = 0; k < n; k++) {
      const i = pos[k];
      this.hOrder[i] = this.hOrder[i] - seqOf(i) + k;
    }
    this.seq = n;
  }
}
