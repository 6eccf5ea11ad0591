import { SimInvariantError } from '../engine/errors';
import type { Tick } from '../engine/time';

/**
 * One channel's read or write queue: request ids (indices into the controller's request
 * table) in arrival order, in a ring. Taking the oldest is O(1); taking entry i moves
 * the i older ones up by one (FR-FCFS mostly takes an entry near the head). Allocates
 * nothing.
 */
export class RequestQueue {
  private readonly ids: Int32Array;
  private head = 0;
  count = 0;

  constructor(readonly capacity: number) {
    this.ids = new Int32Array(Math.max(1, capacity));
  }

  /** The i-th oldest id (0 = oldest). */
  at(i: number): number {
    let j = this.head + i;
    if (j >= this.ids.length) j -= this.ids.length;
    return this.ids[j];
  }

  push(id: number): void {
    const n = this.ids.length;
    if (this.count >= n) throw new SimInvariantError(`RequestQueue.push: full (${n})`);
    let j = this.head + this.count;
    if (j >= n) j -= n;
    this.ids[j] = id;
    this.count++;
  }

  /** Removes and returns the i-th oldest id. */
  removeAt(i: number): number {
    const ids = this.ids, n = ids.length;
    let j = this.head + i;
    if (j >= n) j -= n;
    const id = ids[j];
    // Shift the i older entries one step towards the removed slot, then advance the head.
    for (let k = i; k > 0; k--) {
      const prev = j === 0 ? n - 1 : j - 1;
      ids[j] = ids[prev];
      j = prev;
    }
    this.head = this.head + 1 === n ? 0 : this.head + 1;
    this.count--;
    return id;
  }
}

/** What the FR-FCFS picker reads about each queued request (the controller's request table). */
export interface RequestTable {
  /** Tick the request reaches the scheduler (accept + frontend latency). */
  readonly arrive: Float64Array;
  /** Bank index (channel * banks + bank) and row of the request's first burst. */
  readonly bank: Int32Array;
  readonly row: Float64Array;
}

/**
 * The index in `q` of the request to issue at `now`, or -1 if none has arrived.
 *
 * FCFS: the oldest arrived request. FR-FCFS (Rixner et al., ISCA 2000): the oldest
 * arrived request whose first burst hits an open row, else the oldest; but once
 * `bypassesLeft` reaches 0 (the cap on consecutive row-hit bypasses of the oldest
 * request) the oldest goes next, so no request starves behind a stream of hits.
 * Queues are in arrival order and arrival = accept + a constant, so the arrived requests
 * are a prefix.
 */
export function pickRequest(q: RequestQueue, now: Tick, req: RequestTable, openRow: Float64Array, frFcfs: boolean, bypassesLeft: number): number {
  if (q.count === 0 || req.arrive[q.at(0)] > now) return -1;
  if (!frFcfs || bypassesLeft <= 0) return 0;
  for (let i = 0; i < q.count; i++) {
    const id = q.at(i);
    if (req.arrive[id] > now) break;
    if (openRow[req.bank[id]] === req.row[id]) return i;
  }
  return 0;
}
