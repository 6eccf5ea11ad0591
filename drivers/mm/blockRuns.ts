/**
 * A set of equal, aligned blocks kept as sorted runs of consecutive blocks: the free
 * list of the buddy allocator's top order. At boot all of DRAM is free in top-order
 * blocks, one run, so memory is proportional to the number of runs (which only allocations
 * and reservations create), not to the size of DRAM: a 128 TiB DRAM costs one run, not
 * 2^25 set entries (issue 15).
 *
 * Block heads are page frame numbers, multiples of `blockPages`; runs are [start, end) in
 * pfns, disjoint, non-adjacent (adjacent runs are merged) and sorted by start.
 */
export class BlockRuns {
  private starts: number[] = [];
  private ends: number[] = [];
  /** Blocks in the set. */
  size = 0;

  constructor(readonly blockPages: number) {}

  /** Index of the run containing `pfn`, or -1. */
  private find(pfn: number): number {
    let lo = 0;
    let hi = this.starts.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (pfn < this.starts[mid]) hi = mid - 1;
      else if (pfn >= this.ends[mid]) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  /** Index of the first run starting after `pfn`. */
  private upper(pfn: number): number {
    let lo = 0;
    let hi = this.starts.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.starts[mid] <= pfn) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  has(head: number): boolean {
    return this.find(head) >= 0;
  }

  /** Adds the blocks of [start, end) (block-aligned; none of them in the set). */
  addRun(start: number, end: number): void {
    if (end <= start) return;
    const i = this.upper(start);
    const joinsLeft = i > 0 && this.ends[i - 1] === start;
    const joinsRight = i < this.starts.length && this.starts[i] === end;
    if (joinsLeft && joinsRight) {
      this.ends[i - 1] = this.ends[i];
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
    } else if (joinsLeft) {
      this.ends[i - 1] = end;
    } else if (joinsRight) {
      this.starts[i] = start;
    } else {
      this.starts.splice(i, 0, start);
      this.ends.splice(i, 0, end);
    }
    this.size += (end - start) / this.blockPages;
  }

  add(head: number): void {
    this.addRun(head, head + this.blockPages);
  }

  /** Removes the block at `head`; false when it is not in the set. */
  delete(head: number): boolean {
    const i = this.find(head);
    if (i < 0) return false;
    const s = this.starts[i];
    const e = this.ends[i];
    const next = head + this.blockPages;
    if (s === head && e === next) {
      this.starts.splice(i, 1);
      this.ends.splice(i, 1);
    } else if (s === head) {
      this.starts[i] = next;
    } else if (e === next) {
      this.ends[i] = head;
    } else {
      this.ends[i] = head;
      this.starts.splice(i + 1, 0, next);
      this.ends.splice(i + 1, 0, e);
    }
    this.size--;
    return true;
  }

  /** Removes and returns the lowest block head, or -1 when empty. */
  takeLowest(): number {
    if (this.starts.length === 0) return -1;
    const head = this.starts[0];
    this.delete(head);
    return head;
  }
}
