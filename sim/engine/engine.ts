import { SimInvariantError, SimTimeLimitError } from './errors';
import { handlerOwner } from './handlerOwners';
import { TIME_LIMIT_PS, type Tick } from './time';

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
 * Most events a model schedules land a few cycles ahead of `now`, and only a few dozen
 * are pending at once; those live in a short sorted list (the "near" list). Anything
 * else goes to a binary heap. NEAR_MAX bounds the list, and so the length of a scan.
 */
const NEAR_MAX = 32;

/**
 * The discrete-event engine. Events are ordered by (tick, priority, insertion sequence),
 * FIFO among equals.
 *
 * Storage, in two tiers with every near key below every heap key:
 * - near: a singly linked list of at most NEAR_MAX events, sorted by key, linked through
 *   per-slot typed arrays (an event's slot is its node). Inserting scans from the head
 *   (new events usually belong near the front) and compares (tick, priority) only: the
 *   newest event follows every pending one of equal tick and priority. Taking the first
 *   event is O(1) with no comparisons. When the list overflows, its last event moves to
 *   the heap.
 * - heap: a binary heap kept in typed arrays indexed by heap position (tick, order key
 *   and slot side by side, so a sift compares neighbouring memory). An event goes there
 *   when it sorts after the whole near list and the list is full or the heap holds
 *   something earlier. While the near list is empty, events come from the heap.
 * Handlers and arguments live in per-slot arrays that never move; slots are recycled
 * through a free list. Scheduling allocates nothing once the arrays have grown to the
 * working-set size.
 *
 * V8 notes: a double passed to (or returned from) a call V8 does not inline is boxed, an
 * allocation, and ticks past 2^31 ps (2.1 ms of simulated time) are doubles. So
 * `schedule` is a few bytecodes that V8 inlines everywhere, and the tick travels on
 * through a field (newTick) to the filing code; the heap takes its key through newTick
 * and newOrder. (Before, a 64 MiB DMA copy allocated about ten boxed numbers per bus
 * transaction, several of them here, and cost 10% more host time per MiB than a 16 MiB
 * copy, most of whose ticks are small integers.)
 */
export class Engine {
  /** Current simulated time in ps. */
  now: Tick = 0;
  /** Events dispatched since construction. */
  eventsDispatched = 0;
  /** Events dispatched by the run call in progress (added to eventsDispatched when it returns). */
  private callDispatched = 0;

  private seq = 0;
  private stopRequested = false;
  /**
   * Events the run call in progress may still dispatch before returning 'count'; stop()
   * lowers it to -1, so the dispatch loop tests one field for both.
   */
  private budget = 0;
  private running = false;

  private capacity = 1024;
  /** By slot: handler and argument. Slots are recycled through a free list. */
  private fnOf: (EventFn | undefined)[] = new Array(this.capacity).fill(undefined);
  private argOf: unknown[] = new Array(this.capacity).fill(undefined);
  private freeSlots = new Int32Array(this.capacity);
  private freeCount = 0;
  private nextSlot = 0;

  /** Heap, by position: tick, (priority, seq) order key, and the event's slot. */
  private heapSize = 0;
  private hTick = new Float64Array(this.capacity);
  private hOrder = new Float64Array(this.capacity);
  private hSlot = new Int32Array(this.capacity);

  /**
   * Near list, by slot (a near event's node is its slot: no second free list): key,
   * priority, next link (-1 = none). Meaningful only while the slot is in the list.
   */
  private nTick = new Float64Array(this.capacity);
  private nOrder = new Float64Array(this.capacity);
  private nPrio = new Int32Array(this.capacity);
  private nNext = new Int32Array(this.capacity);
  private nearHead = -1;
  private nearTail = -1;
  private nearCount = 0;
  /** Key of the event being scheduled or moved to the heap (initialised to -0, a double, so V8 stores them unboxed). */
  private newTick = -0;
  private newOrder = -0;

  /** Number of events waiting. */
  get pending(): number {
    return this.nearCount + this.heapSize;
  }

  /** Tick of the earliest pending event, or Infinity when idle. */
  peekTick(): Tick {
    if (this.nearCount > 0) return this.nTick[this.nearHead];
    return this.heapSize === 0 ? Infinity : this.hTick[0];
  }

  /**
   * Schedules `fn(arg)` at absolute tick `at` (an integer >= now) with `priority` (default
   * 0). The tick travels to `file` through a field: see the class comment.
   */
  schedule<T>(at: Tick, fn: EventFn<T>, arg?: T, priority?: number): void {
    this.newTick = at;
    this.file(fn, arg, priority);
  }

  /**
   * Files `fn(arg)` at tick `newTick`. One function on purpose, bigger than V8's inlining
   * limit (460 bytes of bytecode), so that V8 never inlines it, not even into `schedule`:
   * V8 counts the code already inlined into a callee's optimised code against the
   * caller's budget, and a `schedule` carrying its filing code (778 bytes) was inlined at
   * only 5 of its 29 hot call sites.
   */
  private file(fn: EventFn, arg: unknown, priority: number | undefined): void {
    const at = this.newTick;
    if (!(at >= this.now) || !Number.isSafeInteger(at)) badTick(at, this.now, fn);
    let prio = 0;
    if (priority !== undefined && priority !== 0) {
      checkPriority(priority);
      prio = priority;
    }
    if (this.seq >= SEQ_SPAN) this.renumber();
    const slot = this.freeCount > 0 ? this.freeSlots[--this.freeCount] : this.newSlot();
    this.fnOf[slot] = fn;
    this.argOf[slot] = arg;
    const order = (prio - PRIORITY_MIN) * SEQ_SPAN + this.seq++;
    // Into the near list when it sorts before the heap's root, and the list has room or
    // the event sorts inside it (then the list's last event may spill to the heap).
    const beforeHeap = this.heapSize === 0 || at < this.hTick[0] || (at === this.hTick[0] && order < this.hOrder[0]);
    const nTick = this.nTick;
    const tail = this.nearTail;
    let inside = false;
    if (tail >= 0) {
      // The new event has the largest sequence number yet, so against an event of the
      // same tick only the priorities decide: (tick, prio) compares as (tick, order) would.
      const tt = nTick[tail];
      inside = at < tt || (at === tt && prio < this.nPrio[tail]);
    }
    if (inside) {
      // Link it before the first node it sorts before (s, which exists: the tail is one),
      // after p, scanning from the head (new events usually belong near the front).
      const nPrio = this.nPrio, nNext = this.nNext;
      nTick[slot] = at;
      this.nOrder[slot] = order;
      nPrio[slot] = prio;
      let p = -1;
      let s = this.nearHead;
      while (true) {
        const st = nTick[s];
        if (at < st || (at === st && prio < nPrio[s])) break;
        p = s;
        s = nNext[s];
      }
      nNext[slot] = s;
      if (p < 0) this.nearHead = slot;
      else nNext[p] = slot;
      if (++this.nearCount > NEAR_MAX) this.spillTail();
      return;
    }
    if (beforeHeap && this.nearCount < NEAR_MAX) {
      nTick[slot] = at;
      this.nOrder[slot] = order;
      this.nPrio[slot] = prio;
      this.nNext[slot] = -1;
      if (tail < 0) this.nearHead = slot;
      else this.nNext[tail] = slot;
      this.nearTail = slot;
      this.nearCount++;
      return;
    }
    this.newOrder = order;
    this.siftUp(this.heapSize++, slot);
  }

  /** Schedules `fn(arg)` `delay` ticks from now. */
  scheduleIn<T>(delay: Tick, fn: EventFn<T>, arg?: T, priority?: number): void {
    this.schedule(this.now + delay, fn, arg, priority);
  }

  /** Asks the running loop to return after the current event. */
  stop(): void {
    this.stopRequested = true;
    this.budget = -1;
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

  /**
   * Runs at most `count` events with tick <= limit, and leaves time at the last event
   * dispatched (unlike runUntil): a caller that pauses at `limit` to look at the state
   * (time-series sampling) leaves the run exactly as runEvents would.
   */
  runEventsUntil(limit: Tick, count: number): RunResult {
    return this.loop(limit, count, false);
  }

  private loop(limit: Tick, maxEvents: number, advance = true): RunResult {
    if (this.running) throw new SimInvariantError('Engine.run* called from inside an event handler');
    this.running = true;
    this.stopRequested = false;
    this.budget = maxEvents;
    this.callDispatched = 0;
    let result: RunResult = 'idle';
    try {
      result = this.dispatch(limit);
    } finally {
      this.eventsDispatched += this.callDispatched;
      this.running = false;
    }
    if (advance && (result === 'limit' || result === 'idle') && limit !== Infinity && limit > this.now) this.now = limit;
    return result;
  }

  /**
   * The dispatch loop, apart from `loop`'s try/finally: V8 compiles a hot loop on stack
   * replacement, and that code deoptimised on leaving through the finally block ("insufficient
   * type feedback"), once per slice of a run (19 times in a 100,000-packet NIC run), so
   * every slice restarted in the interpreter.
   */
  private dispatch(limit: Tick): RunResult {
    let dispatched = 0;
    while (true) {
      if (dispatched >= this.budget) return this.stopRequested ? 'stopped' : 'count';
      const node = this.nearHead;
      let slot: number;
      if (node >= 0) {
        const at = this.nTick[node];
        if (at > limit) return 'limit';
        slot = node;
        const next = this.nNext[node];
        this.nearHead = next;
        if (next < 0) this.nearTail = -1;
        this.nearCount--;
        this.now = at;
      } else {
        if (this.heapSize === 0) return 'idle';
        const at = this.hTick[0];
        if (at > limit) return 'limit';
        slot = this.hSlot[0];
        this.popRoot();
        this.now = at;
      }
      const fn = this.fnOf[slot]!;
      const arg = this.argOf[slot];
      this.fnOf[slot] = undefined;
      this.argOf[slot] = undefined;
      this.freeSlots[this.freeCount++] = slot;
      // Counted before the call, so an event whose handler throws is counted too.
      this.callDispatched = ++dispatched;
      fn(arg);
    }
  }

  /**
   * Moves the near list's last event to the heap (it still sorts before everything
   * there). The list is singly linked, so the new tail is found by a walk from the head:
   * at most NEAR_MAX steps, and only when an event lands inside a full list.
   */
  private spillTail(): void {
    const nNext = this.nNext;
    const last = this.nearTail;
    let before = this.nearHead;
    while (nNext[before] !== last) before = nNext[before];
    nNext[before] = -1;
    this.nearTail = before;
    this.nearCount--;
    this.newTick = this.nTick[last];
    this.newOrder = this.nOrder[last];
    this.siftUp(this.heapSize++, last);
  }

  /** A slot never used before (growing the arrays when they are full). */
  private newSlot(): number {
    if (this.nextSlot === this.capacity) this.grow();
    return this.nextSlot++;
  }

  private grow(): void {
    const cap = this.capacity * 2;
    this.hTick = grown(this.hTick, cap);
    this.hOrder = grown(this.hOrder, cap);
    this.hSlot = grown(this.hSlot, cap);
    this.nTick = grown(this.nTick, cap);
    this.nOrder = grown(this.nOrder, cap);
    this.nPrio = grown(this.nPrio, cap);
    this.nNext = grown(this.nNext, cap);
    this.freeSlots = grown(this.freeSlots, cap);
    for (let i = this.capacity; i < cap; i++) {
      this.fnOf.push(undefined);
      this.argOf.push(undefined);
    }
    this.capacity = cap;
  }

  /** Places (newTick, newOrder, slot) at heap position `pos` (a hole) and restores the heap. */
  private siftUp(pos: number, slot: number): void {
    const hTick = this.hTick, hOrder = this.hOrder, hSlot = this.hSlot;
    const tick = this.newTick, order = this.newOrder;
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

  /** Removes the heap's root: moves the last entry into the hole at 0 and sifts it down. */
  private popRoot(): void {
    const n = --this.heapSize;
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
   * 42 bits (after ~4.4e12 schedules), keeping the relative order of pending events
   * (so the near list stays sorted, the heap stays a heap, and near stays below heap).
   */
  private renumber(): void {
    // Pending events: near nodes as n >= 0, heap positions as -1 - pos.
    const refs: number[] = [];
    for (let s = this.nearHead; s >= 0; s = this.nNext[s]) refs.push(s);
    for (let i = 0; i < this.heapSize; i++) refs.push(-1 - i);
    const orderOf = (r: number): number => (r >= 0 ? this.nOrder[r] : this.hOrder[-1 - r]);
    const seqOf = (r: number): number => orderOf(r) % SEQ_SPAN;
    refs.sort((a, b) => seqOf(a) - seqOf(b));
    const renumbered = refs.map((r, k) => orderOf(r) - seqOf(r) + k);
    for (let k = 0; k < refs.length; k++) {
      const r = refs[k];
      if (r >= 0) this.nOrder[r] = renumbered[k];
      else this.hOrder[-1 - r] = renumbered[k];
    }
    this.seq = refs.length;
  }
}

/** A copy of `a` with room for `cap` entries. */
function grown<A extends Float64Array | Int32Array>(a: A, cap: number): A {
  const b = new (a.constructor as new (n: number) => A)(cap);
  b.set(a);
  return b;
}

function badTick(at: Tick, now: Tick, fn: unknown): never {
  // Past the end of simulated time (2^53 ps, or Infinity): the input asked for too long a run.
  if (at >= now && at >= TIME_LIMIT_PS) throw new SimTimeLimitError(handlerOwner(fn), at, now);
  throw new SimInvariantError(`event scheduled at tick ${at}, which is before now (${now}) or not an integer`);
}

function checkPriority(priority: number): void {
  if (priority < PRIORITY_MIN || priority > PRIORITY_MAX || !Number.isInteger(priority)) {
    throw new SimInvariantError(`event priority ${priority} outside [${PRIORITY_MIN}, ${PRIORITY_MAX}]`);
  }
}

/**
 * A reusable event owned by a component (gem5's Event object): `schedule`, `reschedule`
 * and `cancel` act through the handle, so models keep no generation counters or
 * "which tick is live" fields of their own. At most one occurrence is pending; a
 * cancelled or superseded occurrence stays in the queue and is dropped when it comes
 * up (the engine counts it as dispatched), which keeps scheduling O(log n) and
 * allocation-free.
 */
export class EventHandle<T = undefined> {
  /** Token of the live occurrence; occurrences carrying another token are stale. */
  private live = 0;
  private at = -1;
  private arg: T | undefined = undefined;

  constructor(
    private readonly engine: Engine,
    private readonly fn: EventFn<T>,
    private readonly priority = 0,
  ) {}

  /** Whether an occurrence is pending. */
  get scheduled(): boolean {
    return this.at >= 0;
  }

  /** Tick of the pending occurrence, or -1. */
  get when(): Tick {
    return this.at;
  }

  /** Schedules the event at `at`; it must not be pending already (use `reschedule`). */
  schedule(at: Tick, arg?: T): void {
    if (this.at >= 0) throw new SimInvariantError(`EventHandle.schedule(${at}): already scheduled at ${this.at}; use reschedule`);
    this.at = at;
    this.arg = arg;
    this.engine.schedule(at, this.fire, this.live, this.priority);
  }

  /** Moves the pending occurrence (if any) to `at`. */
  reschedule(at: Tick, arg?: T): void {
    this.cancel();
    this.schedule(at, arg);
  }

  /** Drops the pending occurrence, if any. */
  cancel(): void {
    if (this.at < 0) return;
    this.at = -1;
    this.arg = undefined;
    this.live++;
  }

  private readonly fire = (token: number): void => {
    if (token !== this.live) return;
    const arg = this.arg as T;
    this.at = -1;
    this.arg = undefined;
    this.live++;
    this.fn(arg);
  };
}
