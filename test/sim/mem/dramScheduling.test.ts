import { createSimContext } from '../../../sim/engine/context';
import { ClockDomain } from '../../../sim/engine/clock';
import { connectPorts } from '../../../sim/bus/port';
import { Cmd } from '../../../sim/bus/transaction';
import { PhysicalMemory } from '../../../sim/mem/physmem';
import { DramController } from '../../../sim/mem/dram';
import { DramSpec, type DramParamsInput } from '../../../sim/mem/dramSpec';
import { DRAM_PRESETS } from '../../../sim/mem/dramPresets';
import { firstProblem } from '../../helpers/spec';
import { TrafficMaster, reads, type TrafficRequest } from '../../helpers/trafficMaster';

const BASE = 0x8000_0000;
const SIZE = 2 ** 28;
const ROW = 8192; // DDR4-3200 preset: 8 KiB rows, 16 banks, one channel
const ROW_STRIDE = ROW * 16; // next row of the same bank ("row:bank:channel:column")

function run(p: Partial<DramParamsInput>, reqs: TrafficRequest[], outstanding: number, gap = 0) {
  const ctx = createSimContext(1);
  const dram = new DramController(ctx, 'soc.dram', new ClockDomain('dram', 1.6e9), { base: BASE, size: SIZE }, new PhysicalMemory(),
    { preset: 'DDR4-3200', channels: 1, mapping: 'row:bank:channel:column', refresh: 'none', ...p });
  const m = new TrafficMaster(ctx, 'tm', 1, reqs, outstanding, gap);
  connectPorts(m.port, dram.port);
  m.start(0);
  ctx.engine.runUntilIdle();
  expect(m.completed).toHaveLength(reqs.length);
  const stat = (n: string): number => ctx.stats.value(`soc.dram.${n}`);
  const end = Math.max(...m.completed.map((c) => c.doneTick));
  const dump = ctx.stats.dump();
  return { m, stat, end, dump };
}

/** Two sequential read streams in two rows of bank 0, interleaved request by request. */
function interleaved(n: number): TrafficRequest[] {
  const out: TrafficRequest[] = [];
  for (let i = 0; i < n; i++) {
    out.push({ cmd: Cmd.Read, addr: BASE + i * 64, size: 64 });
    out.push({ cmd: Cmd.Read, addr: BASE + ROW_STRIDE + i * 64, size: 64 });
  }
  return out;
}

describe('DRAM presets', () => {
  test('a preset gives organisation and timing; explicit fields override it', () => {
    const hit = (p: Partial<DramParamsInput>): number => {
      // Read 0 opens the row, read 1 (1 us later) hits it: latency tCL + tBURST.
      const r = run(p, reads([BASE, BASE + 64], 64), 1, 1_000_000);
      const c = r.m.completed[1];
      return (c.doneTick - c.issueTick) / 1000;
    };
    const t = DRAM_PRESETS['DDR4-3200'].timing;
    expect(hit({})).toBeCloseTo(t.tCL + t.tBURST, 9); // 16.25 ns
    expect(hit({ timing: { tCL: 20 } })).toBeCloseTo(20 + t.tBURST, 9);
    expect(hit({ preset: 'DDR4-2400' })).toBeCloseTo(DRAM_PRESETS['DDR4-2400'].timing.tCL + DRAM_PRESETS['DDR4-2400'].timing.tBURST, 9);
  });

  test('bad presets and timings name the field and the reason', () => {
    const base = { channels: 1 };
    expect(firstProblem(DramSpec, { ...base, preset: 'DDR3-1600' })).toMatch(/^preset: must be one of DDR4-2400, DDR4-3200, LPDDR4X-4266, LPDDR5-6400, HBM2, got "DDR3-1600"/);
    expect(firstProblem(DramSpec, { ...base, rowBytes: 2048, burstBytes: 64, timing: { tRCD: 1, tCL: 1, tRP: 1, tRAS: 1, tBURST: 1 } }))
      .toBe('banks: required (no preset gives it)');
    expect(firstProblem(DramSpec, { ...base, banks: 4, rowBytes: 2048, burstBytes: 64, timing: { tCL: 1, tRP: 1, tRAS: 1, tBURST: 1 } }))
      .toBe('timing.tRCD: required (no preset gives it)');
    expect(firstProblem(DramSpec, { ...base, preset: 'DDR4-3200', timing: { tCCD_L: 1 } })).toBe('timing.tCCD_L: must be at least tCCD_S (2.5), got 1');
    expect(firstProblem(DramSpec, { ...base, preset: 'DDR4-3200', timing: { tRFC: 8000 } })).toBe('timing.tRFC: must be less than tREFI (7800), got 8000');
    expect(firstProblem(DramSpec, { ...base, preset: 'DDR4-3200', refresh: 'per-bank' })).toBe('timing.tRFCpb: required for refresh "per-bank"');
    expect(firstProblem(DramSpec, { ...base, preset: 'DDR4-3200', bankGroups: 32 })).toBe('bankGroups: must divide banks (16), got 32');
    expect(firstProblem(DramSpec, { ...base, preset: 'DDR4-3200', writeQueueDepth: 8, writeHighWatermark: 9 })).toBe('writeHighWatermark: must be at most writeQueueDepth (8), got 9');
    expect(firstProblem(DramSpec, { ...base, preset: 'DDR4-3200', writeHighWatermark: 4, writeLowWatermark: 4 }))
      .toBe('writeLowWatermark: writeLowWatermark (4) must be less than writeHighWatermark (4)');
    expect(firstProblem(DramSpec, { ...base, preset: 'DDR4-3200', scheduler: 'frfcfs' })).toBe('scheduler: must be "fcfs" or "fr-fcfs", got "frfcfs"');
    for (const name of Object.keys(DRAM_PRESETS)) expect(firstProblem(DramSpec, { ...base, preset: name })).toBeNull();
  });
});

describe('FR-FCFS against FCFS', () => {
  test('two interleaved streams to one bank: FR-FCFS batches row hits and finishes sooner', () => {
    const reqs = interleaved(256);
    const fcfs = run({ scheduler: 'fcfs' }, reqs, 16);
    const fr = run({ scheduler: 'fr-fcfs' }, reqs, 16);
    // FCFS alternates rows: every burst after the first conflicts.
    expect(fcfs.stat('row_conflicts')).toBeGreaterThanOrEqual(510);
    expect(fcfs.stat('frfcfs_bypasses')).toBe(0);
    // FR-FCFS serves the open row first, up to 16 bypasses of the oldest at a time.
    expect(fr.stat('row_hit_rate')).toBeGreaterThan(0.8);
    expect(fr.stat('frfcfs_bypasses')).toBeGreaterThan(200);
    expect(fr.end).toBeLessThan(fcfs.end / 2);
  });

  test('a bypass cap of 0 makes FR-FCFS serve the oldest request first (same row hits as FCFS)', () => {
    const reqs = interleaved(64);
    const fcfs = run({ scheduler: 'fcfs' }, reqs, 16);
    const capped = run({ scheduler: 'fr-fcfs', rowHitBypassCap: 0 }, reqs, 16);
    expect(capped.stat('frfcfs_bypasses')).toBe(0);
    expect(capped.stat('row_hits')).toBe(fcfs.stat('row_hits'));
    expect(capped.stat('row_conflicts')).toBe(fcfs.stat('row_conflicts'));
  });

  test('the cap bounds how long the oldest request waits behind row hits', () => {
    // One request to row 1, then a long stream of hits to row 0, all queued at once.
    const reqs: TrafficRequest[] = [{ cmd: Cmd.Read, addr: BASE, size: 64 }, { cmd: Cmd.Read, addr: BASE + ROW_STRIDE, size: 64 }];
    for (let i = 1; i < 30; i++) reqs.push({ cmd: Cmd.Read, addr: BASE + i * 64, size: 64 });
    const order = (cap: number): number => {
      const r = run({ scheduler: 'fr-fcfs', rowHitBypassCap: cap }, reqs, 32);
      const sorted = [...r.m.completed].sort((a, b) => a.doneTick - b.doneTick);
      return sorted.findIndex((c) => c.addr === BASE + ROW_STRIDE);
    };
    expect(order(4)).toBe(5); // the first read, 4 bypassing hits, then the conflicting read
    expect(order(16)).toBe(17);
  });
});

describe('write queue, page policy, refresh', () => {
  test('writes are acknowledged once queued and drained at the high watermark', () => {
    const reqs: TrafficRequest[] = [];
    for (let i = 0; i < 64; i++) reqs.push({ cmd: Cmd.Write, addr: BASE + i * 64, size: 64 });
    const r = run({ scheduler: 'fr-fcfs', frontendLatencyNs: 5, writeQueueDepth: 16, writeHighWatermark: 12, writeLowWatermark: 4 }, reqs, 16);
    // Accept to acknowledgement: the frontend latency, whatever the DRAM does meanwhile.
    expect(r.dump['soc.dram.latency_ns.min']).toBe(5);
    expect(r.dump['soc.dram.latency_ns.max']).toBe(5);
    expect(r.stat('writes')).toBe(64);
    expect(r.stat('write_drains')).toBeGreaterThan(0);
    expect(r.stat('row_hits') + r.stat('row_misses') + r.stat('row_conflicts')).toBe(64);
  });

  test('closed page: every access activates, none conflicts', () => {
    const r = run({ pagePolicy: 'closed' }, reads(Array.from({ length: 50 }, (_, i) => BASE + i * 64), 64), 4);
    expect(r.stat('row_hits')).toBe(0);
    expect(r.stat('row_conflicts')).toBe(0);
    expect(r.stat('row_misses')).toBe(50);
  });

  test('all-bank refresh: one REF per tREFI while streaming; per-bank: one per bank per tREFI', () => {
    const seq = reads(Array.from({ length: 20_000 }, (_, i) => BASE + i * 64), 64);
    const all = run({ scheduler: 'fr-fcfs', refresh: 'all-bank' }, seq, 16);
    expect(all.stat('refreshes')).toBe(Math.floor(all.end / 7_800_000));
    expect(all.stat('refresh_ps')).toBe(all.stat('refreshes') * 350_000);
    const pb = run({ preset: 'LPDDR4X-4266', scheduler: 'fr-fcfs', refresh: 'per-bank', mapping: 'row:column:bank:channel' },
      reads(Array.from({ length: 20_000 }, (_, i) => BASE + i * 32), 32), 16);
    // Bank b is refreshed at tREFI x (k + (b + 1) / 8); every bank is in use throughout.
    let expected = 0;
    for (let b = 0; b < 8; b++) expected += Math.floor((pb.end - (3_904_000 * (b + 1)) / 8) / 3_904_000) + 1;
    expect(pb.stat('refreshes')).toBe(expected);
    expect(pb.stat('refreshes')).toBeGreaterThan(8);
  });
});

describe('FR-FCFS lazy decisions', () => {
  test('a read accepted at the tick the previous read completes is decided on time (no frontend latency, one in flight)', () => {
    // The master issues each read from the previous read's response, at the tick that
    // read's completion event ran: that completion cannot make the new read's decision,
    // so the controller must wake for it. Row hits: each read takes tCL + tBURST.
    const addrs = Array.from({ length: 8 }, (_, i) => BASE + i * 64);
    const r = run({ scheduler: 'fr-fcfs', frontendLatencyNs: 0 }, reads(addrs, 64), 1, 0);
    const t = DRAM_PRESETS['DDR4-3200'].timing;
    for (const c of r.m.completed.slice(1)) expect((c.doneTick - c.issueTick) / 1000).toBeCloseTo(t.tCL + t.tBURST, 6);
  });
});
