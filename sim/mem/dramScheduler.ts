import { SimInvariantError } from '../engine/errors';
import type { Tick } from '../engine/time';

/**
 * One channel's read or write queue: request ids (indices into the controller's request
 * table) in arrival order. A typed array; removing from the middle shifts the tail, which
 * is cheap at controller queue depths (tens of entries) and allocates nothing.
 */
export class RequestQueue {
  private readonly ids: Int32Array;
  count = 0;

  constructor(readonly capacity: number) {
    this.ids = new Int32Array(Math.max(1, capacity));
  }

  at(i: number): number {
    return this.ids[i];
  }

  push(id: number): void {
    if (this.count >= this.ids.length) throw new SimInvariantError(`RequestQueue.push: full (${this.ids.length})`);
    this.ids[this.count++] = id;
  }

  removeAt(i: number): number {
    const id = this.ids[i];
    this.ids.copyWithin(i, i + 1, this.count);
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
