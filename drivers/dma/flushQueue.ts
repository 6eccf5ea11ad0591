/**
 * The IOVA flush queue of lazy ("non-strict", iommu.strict=0) iommu-dma: Linux v6.x
 * drivers/iommu/dma-iommu.c (struct iova_fq, queue_iova, fq_ring_free, fq_flush_iotlb,
 * fq_flush_timeout; IOVA_FQ_SIZE, IOVA_FQ_TIMEOUT).
 *
 * A lazy unmap clears the PTEs but sends no IOTLB invalidation; the IOVA goes on this
 * ring instead of back to the allocator. The device may still reach the old pages
 * through its cached translations until the next flush - the window the hardware's
 * stale-TLB oracle measures - so the IOVA must not be handed out again before a flush
 * that started after it was queued. Flushes invalidate the whole IOTLB of the domain
 * (flush_iotlb_all: one INVALIDATE-ASID + SYNC) and happen:
 * - when the ring is full (the 256th queued entry finds 255 in the ring, as fq_full does);
 * - IOVA_FQ_TIMEOUT (10 ms of simulated time) after the first entry queued while no timer
 *   was pending: an engine event at Priority.Control. The timer is not re-armed when it
 *   fires; the next queued entry arms it again.
 *
 * Counters, as Linux's fq_flush_start_cnt / fq_flush_finish_cnt: an entry records the
 * start count when queued, and is freed once the finish count is above it.
 *
 * Differences from Linux: one ring, not one per CPU (the simulated kernel has one CPU
 * context; results must not depend on which CPU ran the driver); no page freelist per
 * entry (the io-pgtable frees its table pages itself, see ioPgtableArm.ts); the timer is
 * an engine event, which `drain()` cancels by making it stale (the engine has no
 * del_timer), and a timer event that finds its generation stale does nothing.
 *
 * Stats (`<prefix>` is `kernel.<device>.iommu_dma`):
 *   <prefix>.fq_queued         IOVA ranges put on the ring
 *   <prefix>.fq_flushes        IOTLB flushes by the flush queue (any cause)
 *   <prefix>.fq_timer_flushes  ... of them by the 10 ms timer
 *   <prefix>.fq_full_flushes   ... of them because the ring was full
 */
import type { SimContext } from '../../sim/engine/context';
import { Priority } from '../../sim/engine/engine';
import type { Counter, StatsRegistry } from '../../sim/engine/stats';
import { PS_PER_MS } from '../../sim/engine/time';
import { sharedCounter } from '../iommu/kstats';
import { iommuDmaFreeIova, type IovaDomain } from './iova';

/** Ring slots; the ring holds at most IOVA_FQ_SIZE - 1 entries (fq_full). */
export const IOVA_FQ_SIZE = 256;
/** Milliseconds (simulated) from the first queued entry to the timer flush. */
export const IOVA_FQ_TIMEOUT_MS = 10;

/**
 * The flush queue's counters under `prefix` (registered, or the existing ones). Strict
 * iommu-dma registers them too, so a device's stats have the same names in both modes.
 */
export function flushQueueCounters(stats: StatsRegistry, prefix: string): { queued: Counter; flushes: Counter; timerFlushes: Counter; fullFlushes: Counter } {
  return {
    queued: sharedCounter(stats, `${prefix}.fq_queued`, 'IOVA ranges queued for freeing after the next IOTLB flush (lazy unmap)'),
    flushes: sharedCounter(stats, `${prefix}.fq_flushes`, 'IOTLB flushes by the flush queue (timer, full ring, drain)'),
    timerFlushes: sharedCounter(stats, `${prefix}.fq_timer_flushes`, 'flush-queue IOTLB flushes by the 10 ms timer'),
    fullFlushes: sharedCounter(stats, `${prefix}.fq_full_flushes`, 'flush-queue IOTLB flushes because the ring was full'),
  };
}

/** What the flush queue needs of the IOMMU domain: iommu_flush_iotlb_all. */
export interface IotlbFlusher {
  flushIotlbAll(): void;
}

/**
 * One domain's flush queue (the fq part of struct iommu_dma_cookie). IOVAs are bytes
 * (granule-aligned); `pages` are granules of `iovad`.
 */
export class IovaFlushQueue {
  // The ring: struct iova_fq_entry {iova_pfn, pages, counter} as parallel arrays.
  private readonly iova = new Float64Array(IOVA_FQ_SIZE);
  private readonly pages = new Float64Array(IOVA_FQ_SIZE);
  private readonly counter = new Float64Array(IOVA_FQ_SIZE);
  private head = 0;
  private tail = 0;
  /** fq_flush_start_cnt, fq_flush_finish_cnt. */
  private startCnt = 0;
  private finishCnt = 0;
  /** fq_timer_on. */
  private timerOn = false;
  /** Bumped by drain(): a timer event of an older generation is stale. */
  private timerGen = 0;
  private readonly timeoutPs = IOVA_FQ_TIMEOUT_MS * PS_PER_MS;

  private readonly sQueued: Counter;
  private readonly sFlushes: Counter;
  private readonly sTimerFlushes: Counter;
  private readonly sFullFlushes: Counter;
  private readonly onTimeout = (gen: number) => this.fqFlushTimeout(gen);

  /**
   * iommu_dma_init_fq: an empty ring for `iovad`, flushing with `domain.flushIotlbAll`.
   * Stats go under `statsPrefix` (e.g. `kernel.dma_smmu.iommu_dma`).
   */
  constructor(
    private readonly ctx: SimContext,
    private readonly iovad: IovaDomain,
    private readonly domain: IotlbFlusher,
    statsPrefix: string,
  ) {
    const c = flushQueueCounters(ctx.stats, statsPrefix);
    this.sQueued = c.queued;
    this.sFlushes = c.flushes;
    this.sTimerFlushes = c.timerFlushes;
    this.sFullFlushes = c.fullFlushes;
  }

  /** Entries waiting in the ring. */
  get length(): number {
    return (this.tail - this.head + IOVA_FQ_SIZE) % IOVA_FQ_SIZE;
  }

  /** Whether the timeout flush is armed (fq_timer_on). */
  get timerPending(): boolean {
    return this.timerOn;
  }

  /** fq_flush_start_cnt and fq_flush_finish_cnt. */
  get flushCounts(): { start: number; finish: number } {
    return { start: this.startCnt, finish: this.finishCnt };
  }

  /**
   * queue_iova(cookie, pfn, pages): defers freeing [iova, iova + pages granules) until a
   * flush that starts after now. Entries already flushed are freed first; a full ring is
   * flushed at once; the first entry with no timer pending arms the 10 ms timer.
   */
  queueIova(iova: number, pages: number): void {
    // First remove all entries that have already been flushed out.
    this.fqRingFree();
    if ((this.tail + 1) % IOVA_FQ_SIZE === this.head) {
      this.sFullFlushes.value++;
      this.fqFlushIotlb();
      this.fqRingFree();
    }
    const idx = this.tail;
    this.tail = (idx + 1) % IOVA_FQ_SIZE;
    this.iova[idx] = iova;
    this.pages[idx] = pages;
    this.counter[idx] = this.startCnt;
    this.sQueued.value++;
    if (!this.timerOn) this.armTimer();
  }

  /** mod_timer(&fq_timer, jiffies + msecs_to_jiffies(IOVA_FQ_TIMEOUT)) with fq_timer_on set. */
  private armTimer(): void {
    this.timerOn = true;
    const engine = this.ctx.engine;
    engine.schedule(engine.now + this.timeoutPs, this.onTimeout, this.timerGen, Priority.Control);
  }

  /**
   * Driver teardown (iommu_dma_free_fq after a final flush): if anything is queued, one
   * IOTLB flush, then every entry goes back to the IOVA allocator and the pending timer
   * is cancelled.
   */
  drain(): void {
    this.timerGen++;
    this.timerOn = false;
    if (this.head === this.tail) return;
    this.fqFlushIotlb();
    this.fqRingFree();
    // Anything queued while that flush ran (it started before them) waits for the timer.
    if (this.head !== this.tail) this.armTimer();
  }

  /** fq_flush_iotlb: start count, flush_iotlb_all, finish count. */
  private fqFlushIotlb(): void {
    this.startCnt++;
    this.sFlushes.value++;
    this.domain.flushIotlbAll();
    this.finishCnt++;
  }

  /** fq_ring_free: frees entries from the head while their counter is below the finish count. */
  private fqRingFree(): void {
    const counter = this.finishCnt;
    while (this.head !== this.tail) {
      const idx = this.head;
      if (this.counter[idx] >= counter) break;
      iommuDmaFreeIova(this.iovad, this.iova[idx], this.pages[idx] * this.iovad.granule);
      this.head = (idx + 1) % IOVA_FQ_SIZE;
    }
  }

  /** fq_flush_timeout: the timer fired; flush and free everything flushed. */
  private fqFlushTimeout(gen: number): void {
    if (gen !== this.timerGen) return; // cancelled by drain()
    this.timerOn = false;
    this.sTimerFlushes.value++;
    this.fqFlushIotlb();
    this.fqRingFree();
  }
}
