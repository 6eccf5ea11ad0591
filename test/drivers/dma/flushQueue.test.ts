import { createSimContext } from '../../../sim/engine/context';
import { PS_PER_MS } from '../../../sim/engine/time';
import { IOVA_FQ_SIZE, IOVA_FQ_TIMEOUT_MS, IovaFlushQueue } from '../../../drivers/dma/flushQueue';
import { iommuDmaAllocIova, IovaDomain } from '../../../drivers/dma/iova';

const G = 4096;
const LIMIT = 2 ** 32 - 1;
const PREFIX = 'kernel.dev.iommu_dma';

/** A flush queue on a fresh IOVA domain, with a flusher that counts (and may run a hook). */
function setup() {
  const ctx = createSimContext(1);
  const iovad = new IovaDomain(G, 1);
  const flusher = { flushes: 0, hook: null as null | (() => void), flushIotlbAll() { this.flushes++; this.hook?.(); } };
  const fq = new IovaFlushQueue(ctx, iovad, flusher, PREFIX);
  const stat = (n: string) => ctx.stats.value(`${PREFIX}.${n}`);
  const alloc = () => iommuDmaAllocIova(iovad, G, LIMIT)!;
  return { ctx, iovad, flusher, fq, stat, alloc };
}

describe('IOVA flush queue (dma-iommu.c fq)', () => {
  test('constants are Linux v6.x: 256 slots, 10 ms', () => {
    expect(IOVA_FQ_SIZE).toBe(256);
    expect(IOVA_FQ_TIMEOUT_MS).toBe(10);
  });

  test('a queued IOVA stays allocated until the 10 ms timer flushes; the timer is not re-armed', () => {
    const { ctx, iovad, flusher, fq, stat, alloc } = setup();
    ctx.engine.runUntil(3 * PS_PER_MS); // queue at a time other than 0
    const a = alloc();
    fq.queueIova(a, 1);
    expect(fq.timerPending).toBe(true);
    expect(iovad.allocatedPages).toBe(1);
    // Not reused while queued: the allocator hands out another IOVA.
    const b = alloc();
    expect(b).not.toBe(a);
    fq.queueIova(b, 1);
    ctx.engine.runUntil(13 * PS_PER_MS - 1);
    expect(flusher.flushes).toBe(0);
    expect(fq.length).toBe(2);
    ctx.engine.runUntil(13 * PS_PER_MS);
    expect(flusher.flushes).toBe(1);
    expect(stat('fq_timer_flushes')).toBe(1);
    expect(stat('fq_flushes')).toBe(1);
    expect(stat('fq_full_flushes')).toBe(0);
    expect(stat('fq_queued')).toBe(2);
    expect(fq.length).toBe(0);
    expect(fq.timerPending).toBe(false);
    expect(fq.flushCounts).toEqual({ start: 1, finish: 1 });
    // Freed into the rcache: the last one freed is reused first.
    expect(alloc()).toBe(b);
    expect(ctx.engine.runUntilIdle()).toBe('idle');
    expect(flusher.flushes).toBe(1);
  });

  test('the 256th entry finds the ring full (255): one flush frees them all before it is queued', () => {
    const { iovad, flusher, fq, stat, alloc } = setup();
    const iovas: number[] = [];
    for (let i = 0; i < IOVA_FQ_SIZE - 1; i++) {
      iovas.push(alloc());
      fq.queueIova(iovas[i], 1);
    }
    expect(new Set(iovas).size).toBe(255); // none reused while queued
    expect(flusher.flushes).toBe(0);
    expect(fq.length).toBe(255);
    expect(iovad.allocatedPages).toBe(255);
    const last = alloc();
    fq.queueIova(last, 1);
    expect(flusher.flushes).toBe(1);
    expect(stat('fq_full_flushes')).toBe(1);
    expect(stat('fq_timer_flushes')).toBe(0);
    expect(fq.length).toBe(1);
    // 255 freed into the rcache (they stay in the tree: allocatedPages counts them), and reusable now.
    expect(iovad.cachedCount).toBe(255);
    expect(iovas).toContain(alloc());
  });

  test('an entry queued while a flush runs is not freed by that flush (flush start/finish counters)', () => {
    const { ctx, iovad, flusher, fq, alloc } = setup();
    const a = alloc();
    const late = alloc();
    fq.queueIova(a, 1);
    flusher.hook = () => {
      flusher.hook = null;
      fq.queueIova(late, 1); // between fq_flush_start_cnt++ and fq_flush_finish_cnt++
    };
    ctx.engine.runUntil(10 * PS_PER_MS);
    expect(flusher.flushes).toBe(1);
    expect(fq.length).toBe(1); // `a` freed, `late` still queued
    expect(iovad.cachedCount).toBe(1);
    expect(fq.timerPending).toBe(true); // queued with no timer pending: armed again
    ctx.engine.runUntil(20 * PS_PER_MS);
    expect(flusher.flushes).toBe(2);
    expect(fq.length).toBe(0);
    expect(iovad.cachedCount).toBe(2);
  });

  test('drain flushes once, frees everything and cancels the timer; draining an empty queue sends nothing', () => {
    const { ctx, iovad, flusher, fq, stat, alloc } = setup();
    for (let i = 0; i < 3; i++) fq.queueIova(alloc(), 1);
    fq.drain();
    expect(flusher.flushes).toBe(1);
    expect(fq.length).toBe(0);
    expect(iovad.cachedCount).toBe(3);
    expect(fq.timerPending).toBe(false);
    ctx.engine.runUntil(50 * PS_PER_MS);
    expect(flusher.flushes).toBe(1); // the cancelled timer did nothing
    expect(stat('fq_timer_flushes')).toBe(0);
    fq.drain();
    expect(flusher.flushes).toBe(1);
    // A new entry after a drain arms a fresh timer.
    fq.queueIova(alloc(), 1);
    ctx.engine.runUntil(60 * PS_PER_MS);
    expect(stat('fq_timer_flushes')).toBe(1);
  });

  test('multi-page entries are freed with their size', () => {
    const { ctx, iovad, fq } = setup();
    const a = iommuDmaAllocIova(iovad, 3 * G, LIMIT)!; // 3 pages, rounded to 4 by alloc_iova_fast
    fq.queueIova(a, 3);
    ctx.engine.runUntil(10 * PS_PER_MS);
    // order_base_2(3) = 2: the 4-page bin gives it back for a 3- or 4-page request.
    expect(iommuDmaAllocIova(iovad, 4 * G, LIMIT)).toBe(a);
  });
});
