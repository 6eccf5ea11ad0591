import { Status } from '../../../sim/bus/transaction';
import type { DeviceBuffer } from '../../../drivers/devices/buffers';
import { DeviceDriver } from '../../../drivers/devices/driver';
import { dmaMapSingle, dmaMappingError, dmaUnmapSingle } from '../../../drivers/dma/mapping';
import { DMA_FROM_DEVICE, DMA_TO_DEVICE, type DmaDataDirection } from '../../../drivers/dma/types';
import { DevicesRig, PAGE } from '../../helpers/devicesRig';

const KiB = 1024;

/** A kernel buffer of 2^order pages; its linear-map address. */
function kbuf(r: DevicesRig, order: number): number {
  const pa = r.platform.pages.allocPages(order);
  if (pa === null) throw new Error('out of pages');
  return r.platform.kcpu.physToVirt(pa);
}

/** Makes dma-debug report an error on `device` (an unmap of an address never mapped) and returns the message. */
function provokeDmaDebug(r: DevicesRig, device: string): string {
  const before = r.kernel.messages('dma-debug').length;
  dmaUnmapSingle(r.platform.dmaDevice(device), 0x7000_0000, PAGE, DMA_TO_DEVICE);
  const msgs = r.kernel.messages('dma-debug');
  expect(msgs.length).toBe(before + 1);
  return msgs[msgs.length - 1];
}

describe('DeviceDriver: probe', () => {
  test('binds the driver: dma-debug names it in its reports; after remove it names the bus again', () => {
    const r = new DevicesRig('mobile');
    const dev = r.platform.dmaDevice('codec');
    expect(provokeDmaDebug(r, 'codec')).toMatch(/^DMA-API: platform codec: device driver tries to free DMA memory it has not allocated/);
    const drv = new DeviceDriver('socsim_traffic', r.contexts, 'codec');
    drv.probe();
    expect(dev.driverName).toBe('socsim_traffic');
    expect(provokeDmaDebug(r, 'codec')).toMatch(/^DMA-API: socsim_traffic codec: device driver tries to free DMA memory it has not allocated \[device address=0x0*70000000\]/);
    drv.remove();
    expect(dev.driverName).toBeNull();
    expect(provokeDmaDebug(r, 'codec')).toMatch(/^DMA-API: platform codec: /);
    // Only the three provoked errors: probe and remove themselves report nothing.
    expect(r.debug.errorCount).toBe(3);
  });

  test('obtain before probe is refused, and nothing is allocated', () => {
    const r = new DevicesRig('mobile');
    const before = r.accounts();
    const drv = new DeviceDriver('socsim_dma', r.contexts, 'dma0');
    expect(() => drv.obtain({ name: 'b', device: 'dma0', size: PAGE, via: 'dma-alloc-coherent' })).toThrow('socsim_dma: obtain before probe');
    expect(r.accounts()).toEqual(before);
  });

  test('a GPU behind an nv MMU has no DMA API device: probe and remove still work, and its nvkm buffers are released', () => {
    const r = new DevicesRig('mobile');
    r.gpuVmm('gpu');
    const before = r.accounts();
    const drv = new DeviceDriver('socsim_gpu', r.contexts, 'gpu');
    drv.probe();
    const buf = drv.obtain({ name: 'tex', device: 'gpu', size: 256 * KiB, via: 'nvkm', pageSize: 64 * KiB });
    expect(r.accounts().cmaUsedBytes).toBe(256 * KiB);
    const m = r.master('gpu');
    expect(m.functionalRead(buf.deviceAddr, 64).statuses).toEqual([Status.Ok]);
    drv.remove();
    expect(m.functionalRead(buf.deviceAddr, 64).statuses).toEqual([Status.TranslationFault]);
    expect(r.accounts()).toEqual(before);
    expect(r.kernel.warnings).toBe(0);
  });
});

describe('DeviceDriver: remove', () => {
  test('releases the buffers in reverse order of obtaining, unmaps them all and unbinds', () => {
    const r = new DevicesRig('mobile');
    const before = r.accounts();
    const drv = new DeviceDriver('socsim_traffic', r.contexts, 'codec');
    drv.probe();
    const order: string[] = [];
    const bufs: DeviceBuffer[] = [];
    for (const [name, via] of [['ring', 'dma-alloc-coherent'], ['data', 'dma-map-single'], ['frags', 'dma-map-sg'], ['fw', 'vcm']] as const) {
      const b = drv.obtain({ name, device: 'codec', size: 16 * KiB, via, direction: 'to-device' });
      const release = b.release;
      jest.spyOn(b, 'release').mockImplementation(() => {
        order.push(name);
        release();
      });
      bufs.push(b);
    }
    const dev = r.platform.dmaDevice('codec');
    expect(r.debug.activeEntries(dev)).toHaveLength(3); // coherent, single, one merged sg segment (vcm is not the DMA API)
    expect(r.accounts().iommuDmaLiveMappings).toBe(3);
    const domain = (r.platform.platdata('codec') as { domain: { iovaToPhys(a: number): number | null } }).domain;
    for (const b of bufs) expect(domain.iovaToPhys(b.deviceAddr)).toBe(r.backingPa(b, 0));

    drv.remove();
    expect(order).toEqual(['fw', 'frags', 'data', 'ring']);
    for (const b of bufs) expect(domain.iovaToPhys(b.deviceAddr)).toBeNull();
    expect(dev.driverName).toBeNull();
    expect(r.accounts()).toEqual(before);
    expect(r.debug.errorCount).toBe(0);
    expect(r.kernel.messages('dma-debug')).toEqual([]);

    // A second remove does nothing (no double free, no second unbind report).
    drv.remove();
    expect(order).toHaveLength(4);
    expect(r.accounts()).toEqual(before);
  });

  test.each([
    ['codec', 'behind the SMMU'],
    ['dma0', 'direct'],
  ])('%s (%s): a leaked mapping is reported at remove with the count and one entry\'s details', (device) => {
    const r = new DevicesRig('mobile');
    const drv = new DeviceDriver('leaky_drv', r.contexts, device);
    drv.probe();
    const dev = r.platform.dmaDevice(device);
    // Released by remove: not a leak.
    drv.obtain({ name: 'ok', device, size: 8 * KiB, via: 'dma-map-single', direction: 'from-device' });
    // Mapped by the driver itself and never unmapped.
    const leaks = ([
      { va: kbuf(r, 0), size: 512, dir: DMA_TO_DEVICE },
      { va: kbuf(r, 1), size: 8 * KiB, dir: DMA_FROM_DEVICE },
    ] as Array<{ va: number; size: number; dir: DmaDataDirection }>).map((l) => {
      const addr = dmaMapSingle(dev, l.va, l.size, l.dir);
      expect(dmaMappingError(dev, addr)).toBe(0);
      return { ...l, addr };
    });
    expect(r.debug.activeEntries(dev)).toHaveLength(3);
    const warnings = r.kernel.warnings;

    drv.remove();
    const msgs = r.kernel.messages('dma-debug');
    expect(msgs).toHaveLength(1);
    const m = /^DMA-API: leaky_drv (\S+): device driver has pending DMA allocations while released from device \[count=(\d+)\]\nOne of leaked entries details: \[device address=0x([0-9a-f]+)\] \[size=(\d+) bytes\] \[mapped with (\S+)\] \[mapped as single\]$/.exec(msgs[0]);
    expect(m).not.toBeNull();
    expect(m![1]).toBe(device);
    expect(m![2]).toBe('2');
    // The entry shown is one of the two leaks, with its own size and direction.
    const shown = leaks.find((l) => l.addr === parseInt(m![3], 16));
    expect(shown).toBeDefined();
    expect(Number(m![4])).toBe(shown!.size);
    expect(m![5]).toBe(shown!.dir === DMA_TO_DEVICE ? 'DMA_TO_DEVICE' : 'DMA_FROM_DEVICE');
    expect(r.kernel.warnings).toBe(warnings + 1);
    expect(r.debug.checkCount('pending_at_unbind')).toBe(1);
    expect(r.debug.errorCount).toBe(1);
    // The leaks are still mapped (the driver core does not clean up after the driver); the obtained buffer is not.
    expect(r.debug.activeEntries(dev).map((e) => e.devAddr).sort()).toEqual(leaks.map((l) => l.addr).sort());
    expect(dev.driverName).toBeNull();
  });

  test('a driver that released everything: no report at remove', () => {
    const r = new DevicesRig('mobile');
    const drv = new DeviceDriver('tidy_drv', r.contexts, 'dma0');
    drv.probe();
    const dev = r.platform.dmaDevice('dma0');
    const va = kbuf(r, 0);
    const addr = dmaMapSingle(dev, va, PAGE, DMA_TO_DEVICE);
    expect(dmaMappingError(dev, addr)).toBe(0);
    dmaUnmapSingle(dev, addr, PAGE, DMA_TO_DEVICE);
    drv.remove();
    expect(r.debug.checkCount('pending_at_unbind')).toBe(0);
    expect(r.kernel.warnings).toBe(0);
  });
});
