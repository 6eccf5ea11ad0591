/**
 * No device transaction crosses a 4 KiB boundary (sim/bus/boundary.ts), whatever burst
 * size a config gives: the IOMMU translates a transaction by its first address, so the
 * bytes past the page went to the page physically after it. A storage engine with
 * 127-byte bursts over scattered pages corrupted memory until then (found by fuzzing:
 * the kernel's next unmap met a page-table entry the device had overwritten). The
 * IOMMU now throws on a crossing transaction, so every run here that completes also
 * shows that none was sent.
 */
import { ConfigError } from '../../sim/engine/errors';
import { resolveScenario } from '../../scenario/resolve';
import { runLoaded } from '../../scenario/run';

const stats = (name: string, sets: string[], until?: number) => runLoaded(resolveScenario(name, sets), until === undefined ? {} : { until }).stats as Record<string, number>;

describe('device bursts stop at 4 KiB boundaries', () => {
  // 4 transfers of 64 KiB, each 16 scattered pages mapped by dma_map_sg into one IOVA range.
  test.each([
    // 127-byte bursts from each page-aligned segment: 32 of 127 and one of 32 per page, a read and a write each.
    [127, 64 * 33 * 2],
    // 8 KiB bursts: one per page.
    [8192, 64 * 2],
  ])('sg copies with %i-byte bursts: exact transaction count, destination equal to source', (burst, dataTxns) => {
    const s = stats('server-io-storage-sg', [`soc.devices.storage.burstBytes=${burst}`, 'scenario.jobs.copies.transfers=4']);
    expect(s['scenario.copies.mismatches']).toBe(0);
    expect(s['soc.storage.errors']).toBe(0);
    expect(s['soc.storage.bytes_copied']).toBe(4 * 64 * 1024);
    // Plus a descriptor fetch and a write-back per descriptor.
    expect(s['soc.rc.storage.transactions']).toBe(dataTxns + 2 * s['soc.storage.descriptors']);
  });

  test('a NIC whose descriptor prefetch does not divide a page splits the fetch at the page end', () => {
    // 7 descriptors of 16 bytes from a multiple of 7: a fetch starting at entry 252 of a page would cross into the next.
    const s = stats('server-io-nic-ring-1024', ['soc.devices.nic.descPrefetch=7', 'scenario.jobs.rx.rx.packets=1000']);
    expect(s['soc.nic.rx_packets']).toBe(1000);
    expect(s['kernel.nic.driver.rx_corrupt']).toBe(0);
    expect(s['soc.nic.dma_errors']).toBe(0);
    expect(s['soc.nic.desc_fetches']).toBeGreaterThanOrEqual(Math.ceil(1000 / 7));
  });

  test('a camera with 127-byte bursts behind the SMMU', () => {
    const s = stats('mobile-camera-codec', ['soc.devices.camera.burstBytes=127'], 5e7);
    expect(s['soc.camera.errors']).toBe(0);
    expect(s['soc.camera.bytes_written']).toBeGreaterThan(0);
  });

  test('a display with 8 KiB bursts reads each line in one piece per 4 KiB page it touches', () => {
    const s = stats('mobile-display', ['soc.devices.display.burstBytes=8192', 'soc.devices.display.fifoBytes=16KiB'], 1e9);
    const line = 1920 * 4;
    const bytes = s['soc.display.bytes_read'];
    let pieces = 0;
    for (let at = 0; at < bytes; at += line) {
      const end = Math.min(at + line, bytes);
      pieces += Math.floor((end - 1) / 4096) - Math.floor(at / 4096) + 1;
    }
    expect(bytes).toBeGreaterThan(100 * line);
    expect(s['soc.xbar.display.transactions']).toBe(pieces);
  });

  test('a traffic stream cannot ask for accesses above 4 KiB', () => {
    const err = (() => {
      try {
        resolveScenario('server-io-dma-window', ['scenario.jobs.reads.streams[0].accessBytes=8192']);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(err).toBeInstanceOf(ConfigError);
    expect(String((err as Error).message)).toMatch(/accessBytes.*must be at most 4096/);
  });
});
