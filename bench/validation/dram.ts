/**
 * DRAM timing validation benches (issue 14 §2): the DRAM controller (sim/mem/dram.ts)
 * driven directly by a small closed-loop requester, against closed forms. All cases use
 * the DDR4-3200 preset (one x64 channel, 16 banks in 4 bank groups, 8 KiB rows, 64 B
 * bursts; tCL = tRCD = tRP = 13.75 ns, tBURST = tCCD_S = 2.5 ns, tCCD_L = 5 ns,
 * tRTP = 7.5 ns, tFAW = 21 ns, tREFI = 7.8 us, tRFC = 350 ns), FR-FCFS, no frontend latency.
 *
 * - Idle latency of one read (one outstanding, 1 us apart, refresh off):
 *   row hit tCL + tBURST; row miss (closed bank) tRCD + tCL + tBURST;
 *   row conflict tRP + tRCD + tCL + tBURST.
 * - Peak bandwidth per channel, streaming reads (16 outstanding, refresh off):
 *   consecutive bursts in different bank groups ("row:column:bank:channel"):
 *   burstBytes / tCCD_S (= burstBytes / tBURST, the data-bus peak); all in one bank
 *   group (rows contiguous, "row:bank:channel:column"): burstBytes / tCCD_L.
 * - Refresh overhead: the same one-bank-group stream with all-bank refresh, as the
 *   fraction of time lost against the stream without refresh, for the same bytes. Each
 *   REF stops the stream for tRFC plus closing and reopening its row (the last READ's
 *   tRTP, tRP, then tRCD) minus the tCCD_L the next burst would have waited anyway:
 *   loss = tRTP + tRP + tRFC + tRCD - tCCD_L per tREFI, overhead = n_REF × loss / T
 *   (to first order tRFC / tREFI, printed in the note).
 * - tFAW bound: reads to random rows, banks in turn (each bank reused long after tRC),
 *   closed page so every read activates, 32 outstanding, refresh off: at most 4
 *   ACTIVATEs per tFAW, so activates per ns = 4 / tFAW (tRRD_S, tRRD_L and tRC do not bind:
 *   3 × tRRD_L < tFAW).
 */
import { createSimContext, type SimContext } from '../../sim/engine/context';
import { ClockDomain } from '../../sim/engine/clock';
import { Rng } from '../../sim/engine/rng';
import { PS_PER_NS, type Tick } from '../../sim/engine/time';
import { connectPorts, RequestPort, type ResponseReceiver } from '../../sim/bus/port';
import { Cmd, Status, Transaction } from '../../sim/bus/transaction';
import { PhysicalMemory } from '../../sim/mem/physmem';
import { DramController } from '../../sim/mem/dram';
import type { DramParamsInput } from '../../sim/mem/dramSpec';
import { DRAM_PRESETS } from '../../sim/mem/dramPresets';
import { result, type ValidationResult } from './types';

const BASE = 0x8000_0000;
const SIZE = 2 ** 30;
const DDR4 = DRAM_PRESETS['DDR4-3200'].timing;

/** Issues reads from a list, at most `outstanding` at once (a new one as each completes, or `gap` ps later). */
class ReadRequester implements ResponseReceiver {
  readonly port = new RequestPort('validation.requester', this);
  readonly done: Tick[] = [];
  private next = 0;
  private inFlight = 0;
  private blocked = false;
  private readonly free: Transaction[] = [];

  constructor(private readonly ctx: SimContext, private readonly addrs: number[], private readonly outstanding: number, private readonly gap: Tick) {}

  start(): void {
    this.ctx.engine.schedule(0, () => this.issue());
  }

  private issue(): void {
    while (!this.blocked && this.inFlight < this.outstanding && this.next < this.addrs.length) {
      const t = this.free.pop() ?? new Transaction(64);
      t.cmd = Cmd.Read;
      t.addr = this.addrs[this.next];
      t.size = 64;
      t.status = Status.Pending;
      if (!this.port.sendRequest(t)) {
        this.free.push(t);
        this.blocked = true;
        return;
      }
      this.next++;
      this.inFlight++;
    }
  }

  recvResponse(txn: Transaction): void {
    if (txn.status !== Status.Ok) throw new Error(`validation read at ${txn.addr} failed`);
    this.done.push(this.ctx.engine.now);
    this.inFlight--;
    this.free.push(txn);
    if (this.gap > 0) this.ctx.engine.schedule(this.ctx.engine.now + this.gap, () => this.issue());
    else this.issue();
  }

  recvRetry(): void {
    this.blocked = false;
    this.issue();
  }
}

interface DramRun { done: Tick[]; ctx: SimContext }

function runReads(over: Partial<DramParamsInput>, addrs: number[], outstanding: number, gap: Tick): DramRun {
  const ctx = createSimContext(1);
  const params: DramParamsInput = {
    preset: 'DDR4-3200', channels: 1, mapping: 'row:bank:channel:column', queueDepth: 32,
    scheduler: 'fr-fcfs', refresh: 'none', ...over,
  };
  const dram = new DramController(ctx, 'validation.dram', new ClockDomain('dram', 1.6e9), { base: BASE, size: SIZE }, new PhysicalMemory(), params);
  const req = new ReadRequester(ctx, addrs, outstanding, gap);
  connectPorts(req.port, dram.port);
  req.start();
  ctx.engine.runUntilIdle();
  if (req.done.length !== addrs.length) throw new Error(`validation: ${req.done.length} of ${addrs.length} reads completed`);
  return { done: req.done, ctx };
}

const ROW = 8192;
const BANK_STRIDE = ROW; // "row:bank:channel:column", 1 channel: bank bits above the 8 KiB row

/** Idle read latencies, ns: [hit, miss, conflict]. */
export function measureIdleLatencies(): { hit: number; miss: number; conflict: number } {
  // Read 0 opens row 0 of bank 0 (miss), read 1 hits it, read 2 conflicts (row 1 of bank 0).
  const rowStride = ROW * 16;
  const addrs = [BASE, BASE + 64, BASE + rowStride];
  const gap = 1_000_000; // 1 us: every earlier command long done
  const { done } = runReads({}, addrs, 1, gap);
  const issued = [0, done[0] + gap, done[1] + gap];
  const lat = done.map((t, i) => (t - issued[i]) / PS_PER_NS);
  return { miss: lat[0], hit: lat[1], conflict: lat[2] };
}

/** GB/s of `n` sequential 64 B reads with 16 outstanding. */
function streamBandwidth(mapping: string, n: number, refresh: 'none' | 'all-bank'): { GBps: number; ticks: Tick } {
  const addrs = Array.from({ length: n }, (_, i) => BASE + i * 64);
  const { done } = runReads({ mapping, refresh }, addrs, 16, 0);
  const ticks = done[done.length - 1];
  return { GBps: (n * 64 * PS_PER_NS) / ticks, ticks };
}

export function validateDramTiming(): ValidationResult[] {
  const out: ValidationResult[] = [];
  const lat = measureIdleLatencies();
  out.push(result('dram.ddr4_3200.idle_latency.row_hit_ns', DDR4.tCL + DDR4.tBURST, lat.hit, 'one read to the open row, idle controller: tCL + tBURST'));
  out.push(result('dram.ddr4_3200.idle_latency.row_miss_ns', DDR4.tRCD + DDR4.tCL + DDR4.tBURST, lat.miss, 'first read of a closed bank: tRCD + tCL + tBURST'));
  out.push(result('dram.ddr4_3200.idle_latency.row_conflict_ns', DDR4.tRP + DDR4.tRCD + DDR4.tCL + DDR4.tBURST, lat.conflict,
    'read to another row of an open bank, 1 us later: tRP + tRCD + tCL + tBURST'));

  const n = 40_000;
  const peak = streamBandwidth('row:column:bank:channel', n, 'none');
  out.push(result('dram.ddr4_3200.peak_bw.bank_groups_GBps', 64 / DDR4.tCCD_S, peak.GBps,
    `${n} sequential 64 B reads, 16 outstanding, consecutive bursts in different bank groups: burstBytes / tCCD_S (= burstBytes / tBURST)`));
  const oneGroup = streamBandwidth('row:bank:channel:column', n, 'none');
  out.push(result('dram.ddr4_3200.peak_bw.one_bank_group_GBps', 64 / DDR4.tCCD_L, oneGroup.GBps,
    `${n} sequential 64 B reads, 16 outstanding, rows contiguous (one bank at a time): burstBytes / tCCD_L`));

  const m = 64_000; // ~330 us: ~42 refresh intervals
  const ref = streamBandwidth('row:bank:channel:column', m, 'all-bank');
  const base = streamBandwidth('row:bank:channel:column', m, 'none');
  const loss = DDR4.tRTP + DDR4.tRP + DDR4.tRFC + DDR4.tRCD - DDR4.tCCD_L;
  const nRef = Math.floor(ref.ticks / PS_PER_NS / DDR4.tREFI);
  out.push(result('dram.ddr4_3200.refresh_overhead', (nRef * loss) / (ref.ticks / PS_PER_NS), (ref.ticks - base.ticks) / ref.ticks,
    `time lost to all-bank refresh by a one-bank-group stream of ${m} reads, ${nRef} REFs: n_REF x (tRTP + tRP + tRFC + tRCD - tCCD_L) / T; first order tRFC/tREFI = ${(DDR4.tRFC / DDR4.tREFI).toFixed(5)}`));

  const k = 20_000;
  const rng = new Rng(14).fork('tfaw');
  const addrs = Array.from({ length: k }, (_, i) => BASE + (i % 16) * BANK_STRIDE + (rng.nextU32() % 512) * ROW * 16);
  const faw = runReads({ pagePolicy: 'closed' }, addrs, 32, 0);
  const acts = faw.ctx.stats.value('validation.dram.row_misses') + faw.ctx.stats.value('validation.dram.row_conflicts');
  const span = (faw.done[k - 1] - faw.done[0]) / PS_PER_NS;
  out.push(result('dram.ddr4_3200.tfaw_bound.activates_per_ns', 4 / DDR4.tFAW, (acts - 1) / span,
    `${k} reads to random rows, banks in turn, closed page, 32 outstanding, ${acts} ACTs: 4 / tFAW`));
  return out;
}
