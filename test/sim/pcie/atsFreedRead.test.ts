/**
 * The ATC stale window, read side (issue 17: "a missing ATC invalidation lets a device
 * read freed memory — counted, never silent"). Lazy invalidation (iommu.strict=0) defers
 * the IOTLB and ATC invalidation of an unmapped IOVA to the flush queue. If the kernel
 * frees the page meanwhile and its next owner writes there, an ATS device that cached
 * the translation reads the new owner's bytes through its ATC, with no IOMMU check on
 * the way. socsim lets it happen, as hardware does, and counts each such hit in
 * `stale_atc_hits`.
 */
import * as path from 'path';
import { createSimContext } from '../../../sim/engine/context';
import { Status } from '../../../sim/bus/transaction';
import { buildSoc } from '../../../sim/soc/builder';
import { bootPlatform } from '../../../drivers/platform';
import { dmaMapSingle, dmaUnmapSingle } from '../../../drivers/dma/mapping';
import { DMA_MAPPING_ERROR, DMA_TO_DEVICE } from '../../../drivers/dma/types';
import { loadSocConfigWith } from '../../../scenario/load';
import { parseOverride } from '../../../scenario/overrides';
import { DeviceMaster } from '../../helpers/devicesRig';
import { REPO } from '../../helpers/configFiles';

/** Maps a page for the ATS device, lets it read, unmaps, frees and reuses the page; the device's second read. */
function readAfterFree(strict: boolean) {
  const file = path.join(REPO, 'soc-configs', 'server-io.json');
  const cfg = loadSocConfigWith(file, [parseOverride('soc.devices[2].pcie.ats={"atcEntries":64}')]);
  expect(cfg.devices[2].name).toBe('pciebench');
  const soc = buildSoc(createSimContext(1), cfg, file, { detached: ['nic', 'storage', 'pciebench'] });
  const platform = bootPlatform(soc, { iommuStrict: strict, dmaDebug: false });
  const dev = platform.dmaDevice('pciebench');
  const device = new DeviceMaster(soc, 'pciebench');
  const stale = () => soc.ctx.stats.value('soc.pciebench.pcie.ats.stale_atc_hits');

  const page = platform.pages.allocPages(0)!;
  soc.physmem.write(page, new Uint8Array(64).fill(0xaa)); // the driver's data
  const iova = dmaMapSingle(dev, platform.kcpu.physToVirt(page), 4096, DMA_TO_DEVICE);
  expect(iova).not.toBe(DMA_MAPPING_ERROR);
  // The device reads its buffer: an ATC miss, a Translation Request, the translation cached.
  const first = device.read(iova, 64);
  expect(first.statuses).toEqual([Status.Ok]);
  expect(first.data).toEqual(new Uint8Array(64).fill(0xaa));
  expect(stale()).toBe(0);

  // The driver unmaps (lazy: the invalidations wait for the flush queue) and the page is
  // freed and reused: its next owner writes a secret there.
  dmaUnmapSingle(dev, iova, 4096, DMA_TO_DEVICE);
  platform.pages.freePages(page, 0);
  expect(platform.pages.allocPages(0)).toBe(page); // the buddy allocator hands the same page back
  soc.physmem.write(page, new Uint8Array(64).fill(0x5e));

  return { again: device.read(iova, 64), stale: stale(), faults: soc.ctx.stats.value('soc.iommu.pciebench.faults') };
}

test('lazy mode: after dma_unmap and the page\'s reuse, an ATS device still reads it through its ATC (stale_atc_hits)', () => {
  const { again, stale, faults } = readAfterFree(false);
  expect(again.statuses).toEqual([Status.Ok]); // nothing stops it ...
  expect(again.data).toEqual(new Uint8Array(64).fill(0x5e)); // ... it reads the new owner's bytes
  expect(stale).toBe(1); // ... and it is counted
  expect(faults).toBe(0);
});

test('strict mode: the unmap waited for the ATC invalidation, so the second read asks again and faults', () => {
  const { again, stale, faults } = readAfterFree(true);
  expect(again.statuses).toEqual([Status.TranslationFault]);
  expect(again.data).not.toEqual(new Uint8Array(64).fill(0x5e));
  expect(stale).toBe(0);
  expect(faults).toBe(1);
});
