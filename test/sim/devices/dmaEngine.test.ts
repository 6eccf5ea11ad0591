import { run } from '../../../scenario/run';
import { resolveDramParams } from '../../../sim/mem/dramSpec';
import { copyScenario, MINIMAL, readConfig, writeTemp } from '../../helpers/configFiles';

const MiB = 1 << 20;

describe('DMA copy engine on the minimal SoC', () => {
  test('destination bytes equal source bytes and the run time lies within the bus/DRAM bounds', () => {
    const cfg = readConfig(MINIMAL);
    const dram = cfg.memories[0];
    const xbar = cfg.buses[0];
    const bytes = MiB;
    const out = run(writeTemp(copyScenario(writeTemp(cfg), { bytes })));
    const job = out.jobs[0];
    expect(job.status).toBe('ok');
    expect(job.verified).toBe(true);

    const duration = out.stats['scenario.copy.duration_ps'] as number;
    const d = resolveDramParams(dram);
    const t = d.timing;
    const bursts = bytes / d.burstBytes;
    // Every byte crosses the single DRAM data bus twice (read, then write): 2 × bursts × tBURST.
    const dramBound = 2 * bursts * t.tBURST * 1000;
    // The crossbar moves at most widthBytes per 1 ns cycle on each layer.
    const busBound = (bytes / xbar.widthBytes) * 1000;
    const lower = Math.max(dramBound, busBound);
    // Upper: the minimal mapping keeps a stream's row in one bank group, so bursts go at most
    // one per tCCD_L; at worst every read also waits out a write-to-read turnaround (tCWL +
    // tBURST + tWTR_L); one row open (tRP + tRCD + tCL) per 8 KiB row of each stream; all of
    // it stretched by refresh (tRFC per tREFI); plus a microsecond of pipeline fill and drain.
    const rowOpens = 2 * (bytes / d.rowBytes);
    const busy = 2 * bursts * t.tCCD_L! + bursts * (t.tCWL! + t.tBURST + t.tWTR_L!) + rowOpens * (t.tRP + t.tRCD + t.tCL);
    const upper = busy * (1 + t.tRFC! / t.tREFI!) * 1000 + 1e6;
    expect(duration).toBeGreaterThanOrEqual(lower);
    expect(duration).toBeLessThanOrEqual(upper);
    expect(out.stats['soc.dram.bytes_read']).toBe(bytes);
    expect(out.stats['soc.dram.bytes_written']).toBe(bytes);
  });

  test('a decode miss completes the copy with an error status; nothing throws, memory untouched', () => {
    // 0x4000_0000 decodes to nothing on the minimal SoC.
    const s = copyScenario(MINIMAL, { bytes: 4096, dst: 0x4000_0000 });
    const out = run(writeTemp(s));
    const job = out.jobs[0];
    expect(job.done).toBe(true);
    expect(job.status).toBe('decode_error');
    expect(job.verified).toBe(false);
    expect(job.detail.fault_addr).toBe('0x40000000');
    expect(out.stats['scenario.copy.ok']).toBe(0);
    expect(out.stats['soc.dma0.errors']).toBeGreaterThan(0);
    expect(out.stats['soc.dram.bytes_written']).toBe(0);
    expect(out.soc.physmem.read32(0x4000_0000)).toBe(0);
  });

  test('a read from unmapped memory fails before anything is written', () => {
    const s = copyScenario(MINIMAL, { bytes: 256, src: 0x0, dst: 0x8000_0000 });
    s.init = [];
    const out = run(writeTemp(s));
    expect(out.jobs[0].status).toBe('decode_error');
    expect(out.jobs[0].detail.bytes_written).toBe(0);
    expect(out.jobs[0].detail.fault_addr).toBe('0x0');
  });

  test('copies into SRAM work across memories', () => {
    const s = copyScenario(MINIMAL, { bytes: 16 * 1024, dst: 0x1000_0000 });
    const out = run(writeTemp(s));
    expect(out.jobs[0].status).toBe('ok');
    expect(out.jobs[0].verified).toBe(true);
    expect(out.stats['soc.sram.bytes_written']).toBe(16 * 1024);
  });
});
