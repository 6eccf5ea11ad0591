/**
 * PCIe ATS (sim/pcie/ats.ts, the IOMMU's side in sim/mmu/iommu.ts, the kernel's in
 * drivers/iommu/ats.ts): the ATC hides IOTLB lookups and walks; invalidation over the
 * link in strict mode; the stale window in lazy mode; a device that keeps translations
 * after invalidation (Thunderclap) counted; config errors naming the field.
 */
import * as path from 'path';
import { loadScenario } from '../../../scenario/load';
import { parseOverride } from '../../../scenario/overrides';
import { runLoaded } from '../../../scenario/run';

const SCENARIOS = path.join(__dirname, '..', '..', '..', 'soc-configs', 'scenarios');
const WINDOW = path.join(SCENARIOS, 'server-io-dma-window.json');
const ROGUE = path.join(SCENARIOS, 'server-io-nic-ats-rogue.json');
/** The same SoC, driver and NIC without ATS. */
const STRICT = path.join(SCENARIOS, 'server-io-nic-strict.json');
const small = ['scenario.jobs.reads.streams[0].accesses=300', 'scenario.buffers.window.size=64KiB'];

function run(file: string, sets: string[]) {
  return runLoaded(loadScenario(file, sets.map(parseOverride))).stats as Record<string, number>;
}

test('the ATC hides IOTLB lookups and walks: 300 reads over 16 pages need one Translation Request per page', () => {
  const off = run(WINDOW, small);
  const on = run(WINDOW, [...small, 'soc.devices[2].pcie.ats={"atcEntries":64}']);
  expect(off['soc.iommu.translations']).toBe(300);
  const misses = on['soc.pciebench.pcie.ats.atc.misses'];
  expect(on['soc.pciebench.pcie.ats.atc.hits'] + misses).toBe(300);
  // Each Translation Request is one IOMMU translation; the reads themselves skip the IOMMU's TLBs.
  expect(on['soc.pciebench.pcie.ats.translation_requests']).toBe(on['soc.iommu.translations']);
  expect(on['soc.iommu.translations']).toBeLessThanOrEqual(misses);
  expect(on['soc.iommu.translations']).toBeGreaterThanOrEqual(16);
  expect(on['soc.iommu.translations']).toBeLessThan(off['soc.iommu.translations'] / 4);
  expect(on['soc.iommu.pciebench.ats.translated_requests']).toBe(300);
  expect(on['soc.iommu.pciebench.ats.translated_unvouched']).toBe(0);
  expect(on['soc.iommu.pciebench.l1tlb.lookups'] + on['soc.iommu.l2tlb.lookups']).toBeLessThan(off['soc.iommu.pciebench.l1tlb.lookups'] + off['soc.iommu.l2tlb.lookups']);
  expect(on['soc.iommu.walker.walks']).toBeLessThanOrEqual(off['soc.iommu.walker.walks']);
  expect(on['soc.pciebench.errors']).toBe(0);
});

test('an ATC larger than the IOTLB\'s reach hides IOTLB misses: random reads over 1 MiB walk once per page, not once per read', () => {
  // 256 pages of 4 KiB against a 64-entry IOTLB: without ATS three reads in four miss and
  // walk; with a 512-entry ATC the device asks once per page and then reads translated.
  const reads = ['scenario.jobs.reads.streams[0].accesses=2000'];
  const off = run(WINDOW, reads);
  const on = run(WINDOW, [...reads, 'soc.devices[2].pcie.ats={"atcEntries":512,"atcWays":8}']);
  expect(off['soc.iommu.walker.walks']).toBeGreaterThan(1000);
  expect(on['soc.iommu.walker.walks']).toBeLessThanOrEqual(256);
  expect(on['soc.iommu.walker.walks']).toBeLessThan(off['soc.iommu.walker.walks'] / 4);
  // One Translation Request per page at most (misses to a page whose request is in flight wait for it).
  expect(on['soc.pciebench.pcie.ats.translation_requests']).toBeLessThanOrEqual(256);
  expect(on['soc.pciebench.pcie.ats.translation_requests']).toBeLessThanOrEqual(on['soc.pciebench.pcie.ats.atc.misses']);
  expect(on['soc.pciebench.errors']).toBe(0);
});

describe('ATC invalidation on the malicious-NIC scenario (500 packets)', () => {
  const short = ['scenario.jobs.rx.rx.packets=500'];
  const honest = [...short, 'soc.devices[0].pcie.ats.ignoreInvalidations=false'];

  test('strict: every unmap waits for an Invalidate Completion over the link (one round trip each)', () => {
    const ats = run(ROGUE, honest);
    const noAts = run(STRICT, short);
    const n = ats['soc.iommu.nic.ats.atc_invalidations'];
    expect(n).toBe(ats['kernel.iommu.pgtable.inval_cmds']);
    expect(n).toBe(500);
    // Idle round trip, PCIe 2.0 x8 (4 bytes/ns): Invalidate Request 8 + 16 + 8 = 32 B (8 ns) down,
    // 100 ns link, 100 ns in the device, Invalidate Completion 8 + 16 = 24 B (6 ns) up, 100 ns link.
    const idle = (8 + 100 + 100 + 6 + 100) * 1000;
    const sum = ats['soc.iommu.nic.ats.atc_invalidation_ps'];
    expect(sum).toBeGreaterThanOrEqual(n * idle);
    expect(sum).toBeLessThan(n * idle * 1.2);
    // The kernel's unmap waits for them: its IOMMU time grows by exactly the round trips.
    expect(ats['kernel.iommu_time_ps'] - noAts['kernel.iommu_time_ps']).toBe(sum);
    // An honest device drops its entries: no stale hit, no translation kept past its invalidation.
    expect(ats['soc.nic.pcie.ats.atc.invalidated_entries']).toBeGreaterThan(0);
    expect(ats['soc.nic.pcie.ats.stale_atc_hits']).toBe(0);
    expect(ats['soc.iommu.nic.ats.translated_unvouched']).toBe(0);
  });

  test('lazy: before the flush the device still uses its cached translations of unmapped buffers (counted)', () => {
    const s = run(ROGUE, [...honest, 'scenario.kernel.iommuStrict=false']);
    expect(s['kernel.iommu.pgtable.atc_inval_cmds']).toBe(s['kernel.iommu.pgtable.inval_cmds']);
    expect(s['kernel.iommu.pgtable.atc_inval_cmds']).toBeLessThan(10); // a flush per 256 unmaps, not one per unmap
    // The rogue write of each packet hits the ATC entry of a buffer unmapped four packets earlier.
    expect(s['soc.nic.pcie.ats.stale_atc_hits']).toBeGreaterThan(0);
    expect(s['soc.nic.pcie.ats.stale_atc_hits']).toBeLessThanOrEqual(s['soc.nic.rogue_writes']);
    expect(s['soc.iommu.nic.ats.translated_unvouched']).toBe(0); // the grants live until the flush
  });

  test('strict, a device that ignores invalidations: its translated writes pass the IOMMU, each counted (Thunderclap)', () => {
    const s = run(ROGUE, short);
    expect(s['soc.nic.pcie.ats.invalidations_ignored']).toBe(500);
    expect(s['soc.iommu.faults']).toBe(0); // nothing stops them
    expect(s['soc.iommu.nic.ats.translated_unvouched']).toBe(s['soc.nic.rogue_writes']);
    expect(s['soc.iommu.ats.translated_unvouched']).toBe(s['soc.nic.rogue_writes']);
    expect(s['soc.nic.rogue_writes']).toBe(496);
    // Without ATS the same rogue writes are translated by the IOMMU and not counted as unvouched.
    const noAts = run(STRICT, short);
    expect(noAts['soc.iommu.ats.translated_unvouched']).toBeUndefined();
  });
});

test('bad ATS config values name the field', () => {
  expect(() => loadScenario(ROGUE, [parseOverride('soc.devices[0].pcie.ats.atcWays=3')])).toThrow(/soc\.devices\[0\]\.pcie\.ats\.atcWays.*must divide atcEntries \(64\), got 3/);
  expect(() => loadScenario(ROGUE, [parseOverride('soc.devices[0].pcie.ats.atcEntries=0')])).toThrow(/soc\.devices\[0\]\.pcie\.ats\.atcEntries/);
  expect(() => loadScenario(ROGUE, [parseOverride('soc.devices[0].pcie.ats.maxTranslationRequests=1000')])).toThrow(/soc\.devices\[0\]\.pcie\.ats\.maxTranslationRequests.*256/);
  expect(() => loadScenario(ROGUE, [parseOverride('soc.devices[0].translation={"kind":"direct"}')])).toThrow(/soc\.devices\[0\]\.pcie\.ats.*needs an IOMMU/);
});
