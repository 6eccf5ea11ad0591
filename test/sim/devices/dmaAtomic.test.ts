import { connectPorts } from '../../../sim/bus/port';
import { Status } from '../../../sim/bus/transaction';
import { createSimContext, type SimContext } from '../../../sim/engine/context';
import { SimInvariantError } from '../../../sim/engine/errors';
import { DmaEngine, type DmaCopyResult } from '../../../sim/devices/dmaEngine';
import { buildSoc, loadSocConfig, type Soc } from '../../../sim/soc/builder';
import { MINIMAL } from '../../helpers/configFiles';
import type { AccessMode } from '../../../sim/engine/accessMode';

const MiB = 1 << 20;
const SRC = 0x8000_0000;
const DST = 0x8100_2000;
const SRAM = 0x1000_0000;

interface Rig {
  ctx: SimContext;
  soc: Soc;
  dma: DmaEngine;
}

/**
 * A fresh minimal SoC plus a DMA engine `dmat` (64-byte bursts, 16 outstanding) on its
 * crossbar. Its DRAM is the simple one these numbers were worked out on: FCFS, each
 * request answered when its data has moved, with only the five core timings of DDR4-3200
 * (no bank groups or refresh). The estimate's arithmetic is about the engine; FR-FCFS's
 * early write acknowledgements would hide the write half of every round trip.
 */
function rig(mode: AccessMode | undefined, maxOutstanding = 16): Rig {
  const ctx = createSimContext(11);
  const cfg = loadSocConfig(MINIMAL);
  cfg.memories = cfg.memories.map((m) => (m.kind !== 'dram' ? m : {
    ...m, preset: undefined, scheduler: 'fcfs' as const, banks: 16, rowBytes: 8192, burstBytes: 64,
    timing: { tRCD: 13.75, tCL: 13.75, tRP: 13.75, tRAS: 32, tBURST: 2.5 },
  }));
  const soc = buildSoc(ctx, cfg, MINIMAL);
  const xbar = soc.buses.get('xbar')!;
  const params = mode === undefined ? { burstBytes: 64, maxOutstanding } : { burstBytes: 64, maxOutstanding, mode };
  const dma = new DmaEngine(ctx, 'soc.dmat', soc.clocks.get('sys')!, 7, params);
  connectPorts(dma.port, xbar.addInput('dmat'));
  return { ctx, soc, dma };
}

function fillSource(soc: Soc, addr: number, bytes: number): void {
  const buf = new Uint8Array(bytes);
  createSimContext(42).rng.fillBytes(buf);
  soc.physmem.write(addr, buf);
}

function copy(r: Rig, src: number, dst: number, bytes: number): DmaCopyResult {
  let result: DmaCopyResult | null = null;
  r.dma.copy(src, dst, bytes, (res) => { result = res; });
  r.ctx.engine.runUntilIdle();
  expect(result).not.toBeNull();
  return result!;
}

function bytesAt(soc: Soc, addr: number, n: number): Buffer {
  const b = new Uint8Array(n);
  soc.physmem.read(addr, b);
  return Buffer.from(b);
}

const DMA_COUNTERS = ['copies', 'bytes_read', 'bytes_written', 'errors'];
const BYTE_COUNTERS = [
  'soc.dram.bytes_read', 'soc.dram.bytes_written', 'soc.dram.reads', 'soc.dram.writes', 'soc.dram.ch0.bytes',
  'soc.xbar.dmat.transactions', 'soc.xbar.dmat.bytes', 'soc.xbar.dram.transactions', 'soc.xbar.dram.bytes',
];

describe('DmaEngine in atomic mode', () => {
  test('a 1 MiB copy: same destination bytes and byte counters as timing mode, one event, duration within 2x', () => {
    const t = rig('timing');
    const a = rig('atomic');
    for (const r of [t, a]) fillSource(r.soc, SRC, MiB);
    const rt = copy(t, SRC, DST, MiB);
    const eventsBefore = a.ctx.engine.eventsDispatched;
    const ra = copy(a, SRC, DST, MiB);
    const atomicEvents = a.ctx.engine.eventsDispatched - eventsBefore;

    expect(rt.status).toBe(Status.Ok);
    expect(ra.status).toBe(Status.Ok);
    expect(ra.bytesWritten).toBe(MiB);
    expect(bytesAt(a.soc, DST, MiB).equals(bytesAt(a.soc, SRC, MiB))).toBe(true);
    expect(bytesAt(a.soc, DST, MiB).equals(bytesAt(t.soc, DST, MiB))).toBe(true);
    for (const k of DMA_COUNTERS) expect({ k, v: a.ctx.stats.value(`soc.dmat.${k}`) }).toEqual({ k, v: t.ctx.stats.value(`soc.dmat.${k}`) });
    for (const k of BYTE_COUNTERS) expect({ k, v: a.ctx.stats.value(k) }).toEqual({ k, v: t.ctx.stats.value(k) });
    expect(a.ctx.stats.value('soc.dmat.bytes_written')).toBe(MiB);
    expect(a.ctx.stats.dump()['soc.dmat.txn_latency_ns.samples']).toBe(2 * MiB / 64);

    expect(atomicEvents).toBe(1);
    expect(a.ctx.engine.eventsDispatched).toBeLessThan(5);
    expect(t.ctx.engine.eventsDispatched).toBeGreaterThan(10_000);

    const timingDuration = rt.endTick - rt.startTick;
    const atomicDuration = ra.endTick - ra.startTick;
    const ratio = atomicDuration / timingDuration;
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
    // The estimate knows no bandwidth limit and this copy is DRAM-bound, so it runs short:
    // 49.57 us estimated against 86.86 us simulated (ratio 0.571).
    expect(atomicDuration).toBe(49_570_000);

    // Source and destination streams never share a bank at the same time, so the open-row
    // classification of the whole copy is the same in both modes.
    for (const k of ['row_hits', 'row_misses', 'row_conflicts']) {
      expect({ k, v: a.ctx.stats.value(`soc.dram.${k}`) }).toEqual({ k, v: t.ctx.stats.value(`soc.dram.${k}`) });
    }
  });

  test('the estimate is max(ceil(Σ burst round trips / maxOutstanding), the longest round trip)', () => {
    // One 64-byte burst DRAM → DRAM: read miss 37 ns round trip, write miss (other bank) 37 ns.
    const one = rig('atomic');
    const r1 = copy(one, SRC, DST, 64);
    expect(r1.endTick - r1.startTick).toBe(37_000 + 37_000);
    // 16 bursts, 16 outstanding: the first is a pair of misses (74 ns), the other 15 pairs of
    // hits (24 + 24 ns); sum / 16 = (74 + 15 × 48) / 16 = 49.625 ns, below the longest, 74 ns.
    const many = rig('atomic');
    const r16 = copy(many, SRC, DST, 16 * 64);
    expect(r16.endTick - r16.startTick).toBe(74_000);
    // With 1 outstanding the estimate is the plain sum.
    const serial = rig('atomic', 1);
    const rs = copy(serial, SRC, DST, 16 * 64);
    expect(rs.endTick - rs.startTick).toBe(74_000 + 15 * 48_000);
    // ... and with 4 outstanding, ceil(sum / 4).
    const four = rig('atomic', 4);
    const r4 = copy(four, SRC, DST, 16 * 64);
    expect(r4.endTick - r4.startTick).toBe(Math.ceil((74_000 + 15 * 48_000) / 4));
  });

  test('the data moves at once; busy and the callback follow the single completion event', () => {
    const r = rig('atomic');
    fillSource(r.soc, SRC, 4096);
    const seen: DmaCopyResult[] = [];
    r.dma.copy(SRC, SRAM, 4096, (res) => seen.push(res));
    expect(bytesAt(r.soc, SRAM, 4096).equals(bytesAt(r.soc, SRC, 4096))).toBe(true);
    expect(r.dma.busy).toBe(true);
    expect(r.dma.progress).toBe(1);
    expect(r.ctx.engine.pending).toBe(1);
    expect(seen).toHaveLength(0);
    r.ctx.engine.runUntilIdle();
    expect(seen).toHaveLength(1);
    expect(seen[0].status).toBe(Status.Ok);
    expect(seen[0].endTick).toBe(r.ctx.engine.now);
    expect(r.dma.busy).toBe(false);
    expect(r.ctx.stats.value('soc.sram.bytes_written')).toBe(4096);
  });

  test('queued copies run one after another, one event each', () => {
    const r = rig('atomic');
    fillSource(r.soc, SRC, 8192);
    const done: DmaCopyResult[] = [];
    r.dma.copy(SRC, DST, 4096, (res) => done.push(res));
    r.dma.copy(SRC + 4096, DST + 4096, 4096, (res) => done.push(res));
    // The second copy has not moved anything yet: it starts when the first completes.
    expect(bytesAt(r.soc, DST + 4096, 4096).equals(Buffer.alloc(4096))).toBe(true);
    r.ctx.engine.runUntilIdle();
    expect(r.ctx.engine.eventsDispatched).toBe(2);
    expect(done.map((d) => d.status)).toEqual([Status.Ok, Status.Ok]);
    expect(done[1].startTick).toBe(done[0].endTick);
    expect(bytesAt(r.soc, DST, 8192).equals(bytesAt(r.soc, SRC, 8192))).toBe(true);
    expect(r.ctx.stats.value('soc.dmat.copies')).toBe(2);
  });

  test('errors stop the copy at the first failing burst, as in timing mode', () => {
    // Destination unmapped: the first write fails; nothing is written.
    const a = rig('atomic');
    fillSource(a.soc, SRC, 4096);
    const r = copy(a, SRC, 0x4000_0000, 4096);
    expect(r.status).toBe(Status.DecodeError);
    expect(r.faultAddr).toBe(0x4000_0000);
    expect(r.bytesWritten).toBe(0);
    expect(a.ctx.stats.value('soc.dmat.errors')).toBe(1);
    expect(a.ctx.stats.value('soc.dmat.bytes_read')).toBe(64);
    expect(a.ctx.stats.value('soc.dmat.copies')).toBe(1);
    expect(a.ctx.stats.value('soc.xbar.decode_errors')).toBe(1);
    expect(a.soc.physmem.read32(0x4000_0000)).toBe(0);
    expect(a.ctx.engine.eventsDispatched).toBe(1);

    // Source unmapped: the first read fails before anything is written.
    const b = rig('atomic');
    const rb = copy(b, 0x0, SRC, 256);
    expect([rb.status, rb.faultAddr, rb.bytesWritten]).toEqual([Status.DecodeError, 0, 0]);
    expect(b.ctx.stats.value('soc.dram.bytes_written')).toBe(0);

    // Destination runs off the end of the SRAM after two bursts: the same status, address
    // and bytes written as timing mode (timing also fails the in-flight fourth burst).
    const tail = SRAM + 0x4_0000 - 128;
    const results = (['timing', 'atomic'] as const).map((mode) => {
      const r2 = rig(mode);
      fillSource(r2.soc, SRC, 256);
      const res = copy(r2, SRC, tail, 256);
      expect(bytesAt(r2.soc, tail, 128).equals(bytesAt(r2.soc, SRC, 128))).toBe(true);
      return { res, errors: r2.ctx.stats.value('soc.dmat.errors') };
    });
    const [tm, am] = results;
    expect([am.res.status, am.res.faultAddr, am.res.bytesWritten]).toEqual([tm.res.status, tm.res.faultAddr, tm.res.bytesWritten]);
    expect(am.res.bytesWritten).toBe(128);
    expect(am.errors).toBe(1);
    expect(tm.errors).toBe(2);
  });

  test('mode defaults to timing; a bad mode is refused', () => {
    expect(rig(undefined).dma.mode).toBe('timing');
    expect(rig('atomic').dma.mode).toBe('atomic');
    const ctx = createSimContext();
    const soc = buildSoc(ctx, loadSocConfig(MINIMAL), MINIMAL);
    expect(() => new DmaEngine(ctx, 'soc.bad', soc.clocks.get('sys')!, 9, { burstBytes: 64, maxOutstanding: 4, mode: 'fast' as AccessMode }))
      .toThrow(SimInvariantError);
  });
});
