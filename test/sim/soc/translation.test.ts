import { run } from '../../../scenario/run';
import { copyScenario, readConfig, writeTemp, socConfigError } from '../../helpers/configFiles';

const TLB = { entries: 32, ways: 4, latencyCycles: 1, pageSizes: ['4KiB', '2MiB'] };

/** The minimal SoC plus an SMMU-style IOMMU; dma0 behind it on stream 3. */
function withIommu(mutate: (c: any) => void = () => {}): any {
  const c = readConfig();
  c.iommus = [{
    name: 'smmu', bus: 'xbar', clock: 'sys', format: 'arm-lpae-4k',
    l1Tlb: TLB, l2Tlb: { ...TLB, entries: 512, ways: 8, latencyCycles: 4 },
    walker: { slots: 4, stepCycles: 2, walkCaches: [{ level: 'L2', entries: 16, ways: 4, latencyCycles: 1 }] },
    commandCycles: { invalidateAll: 100, invalidateAsid: 50, invalidateRange: 20, sync: 10 },
  }];
  c.cpuMmus = [{ name: 'cpu_mmu', bus: 'xbar', clock: 'sys', format: 'arm-lpae-4k', l1Tlb: TLB, l2Tlb: { ...TLB, entries: 1024, ways: 8 }, walker: { slots: 2, stepCycles: 1 } }];
  c.devices[0].translation = { kind: 'iommu', iommu: 'smmu', streamId: 3, initialMode: 'bypass' };
  const copy = JSON.parse(JSON.stringify(c)); // TLB is shared above; mutations must not leak between tests
  mutate(copy);
  return copy;
}

const configError = socConfigError;

describe('translation in SoC configs', () => {
  test('a device behind a bypassing IOMMU stream copies correctly through it', () => {
    const out = run(writeTemp(copyScenario(writeTemp(withIommu()), { bytes: 16 * 1024 })));
    expect(out.jobs[0]).toMatchObject({ status: 'ok', verified: true });
    expect(out.stats['soc.smmu.bypassed']).toBe(2 * 16 * 1024 / 64);
    expect(out.soc.cpuMmu('cpu_mmu').walker.port.connected).toBe(true);
  });

  test('an aborting stream faults the copy; the IOMMU records it', () => {
    const cfg = withIommu((c) => { c.devices[0].translation.initialMode = 'abort'; });
    const out = run(writeTemp(copyScenario(writeTemp(cfg), { bytes: 4096 })));
    expect(out.jobs[0].status).toBe('translation_fault');
    expect(out.soc.iommu('smmu').faults[0]).toMatchObject({ streamId: 3, device: 'dma0', reason: 'no_context', address: 0x8000_0000 });
    expect(out.stats['soc.dram.bytes_written']).toBe(0);
  });

  test('a direct-mapped device outside its bus window gets access errors', () => {
    const cfg = readConfig();
    cfg.devices[0].translation = { kind: 'direct', dmaMaskBits: 32, window: { base: '0x8000_0000', size: '512MiB' } };
    const out = run(writeTemp(copyScenario(writeTemp(cfg), { bytes: 4096, dst: 0xa000_0000 })));
    expect(out.jobs[0].status).toBe('access_error');
    expect(out.stats['soc.dma0.direct.window_errors']).toBeGreaterThan(0);
    expect(out.stats['soc.dram.bytes_written']).toBe(0);
  });

  test.each<[string, (c: any) => void, string, RegExp]>([
    ['unknown IOMMU', (c) => { c.devices[0].translation.iommu = 'nope'; }, 'soc.devices[0].translation.iommu', /unknown IOMMU "nope"/],
    ['device bus differs from its IOMMU', (c) => {
      c.buses.push({ name: 'other', clock: 'sys', widthBytes: 8, latencyCycles: 1 });
      c.bridges = [{ name: 'br', from: 'other', to: 'xbar', clock: 'sys', latencyCycles: 1 }];
      c.devices[0].bus = 'other';
    }, 'soc.devices[0].bus', /behind IOMMU "smmu".*set bus to "xbar"/],
    ['stream used twice', (c) => { c.devices.push({ ...c.devices[0], name: 'dma1' }); }, 'soc.devices[1].translation.streamId', /already used by device "dma0"/],
    ['unknown format', (c) => { c.iommus[0].format = 'x86-ept'; }, 'soc.iommus[0].format', /unknown page-table format "x86-ept".*arm-lpae-4k/],
    ['page size the format lacks', (c) => { c.iommus[0].l1Tlb.pageSizes = ['4KiB', '64KiB']; }, 'soc.iommus[0].l1Tlb.pageSizes[1]', /has no 65536-byte pages/],
    ['walk cache on a leaf level', (c) => { c.iommus[0].walker.walkCaches[0].level = 'L3'; }, 'soc.iommus[0].walker.walkCaches[0].level', /not a table level.*L0, L1, L2/],
    ['TLB ways not dividing entries', (c) => { c.iommus[0].l2Tlb.ways = 6; }, 'soc.iommus[0].l2Tlb.ways', /divide entries \(512\)/],
    ['unknown replacement policy', (c) => { c.cpuMmus[0].l1Tlb.replacement = 'lfu'; }, 'soc.cpuMmus[0].l1Tlb.replacement', /./],
    ['IOMMU on an unknown bus', (c) => { c.iommus[0].bus = 'nobus'; }, 'soc.iommus[0].bus', /unknown bus "nobus"/],
  ])('%s', (_name, mutate, path, reason) => {
    const e = configError(withIommu(mutate));
    expect(e.jsonPath).toBe(path);
    expect(e.reason).toMatch(reason);
  });
});

describe('atomic mode', () => {
  test('the same copy in atomic mode moves the same bytes with a handful of events', () => {
    const file = writeTemp(copyScenario(writeTemp(readConfig()), { bytes: 256 * 1024 }));
    const timing = run(file);
    const atomic = run(file, { mode: 'atomic' });
    expect(atomic.jobs[0]).toMatchObject({ status: 'ok', verified: true });
    expect(atomic.stats['soc.dram.bytes_written']).toBe(timing.stats['soc.dram.bytes_written']);
    // Both walk the same two streams of rows; the order of reads and writes at the
    // controller differs (timing overlaps bursts and FR-FCFS reorders them), so the row
    // hits agree closely, not exactly (8128 atomic, 8032 timing of 8192 bursts).
    const hits = (o: typeof timing) => o.stats['soc.dram.row_hits'] as number;
    expect(Math.abs(hits(atomic) - hits(timing)) / hits(timing)).toBeLessThan(0.02);
    expect(atomic.events).toBeLessThan(10);
    expect(timing.events).toBeGreaterThan(10_000);
  });
});
