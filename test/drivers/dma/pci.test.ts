import { Status } from '../../../sim/bus/transaction';
import { DmaDevice } from '../../../drivers/dma/device';
import * as dma from '../../../drivers/dma/mapping';
import * as pool from '../../../drivers/dma/pool';
import * as pci from '../../../drivers/dma/pci';
import {
  DMA_BIDIRECTIONAL,
  DMA_BIT_MASK,
  DMA_FROM_DEVICE,
  DMA_MAPPING_ERROR,
  DMA_NONE,
  DMA_TO_DEVICE,
  GFP_ATOMIC,
  sgInitTable,
  sgSetPage,
  type DmaCoherentBuffer,
  type ScatterlistEntry,
} from '../../../drivers/dma/types';
import { DmaRig, pattern } from '../../helpers/dmaRig';

/** One DMA API flavour: the calls the lifecycle below makes, with the pci_ argument lists. */
interface Api {
  supported(d: DmaDevice, mask: number): number;
  setMask(d: DmaDevice, mask: number): number;
  setCoherentMask(d: DmaDevice, mask: number): number;
  allocConsistent(d: DmaDevice, size: number): DmaCoherentBuffer | null;
  freeConsistent(d: DmaDevice, size: number, cpu: number, handle: number): void;
  mapSingle(d: DmaDevice, cpu: number, size: number, dir: number): number;
  unmapSingle(d: DmaDevice, addr: number, size: number, dir: number): void;
  mapPage(d: DmaDevice, page: number, off: number, size: number, dir: number): number;
  unmapPage(d: DmaDevice, addr: number, size: number, dir: number): void;
  mappingError(d: DmaDevice, addr: number): number;
  mapSg(d: DmaDevice, sg: ScatterlistEntry[], n: number, dir: number): number;
  unmapSg(d: DmaDevice, sg: ScatterlistEntry[], n: number, dir: number): void;
  syncSingle(d: DmaDevice, addr: number, size: number, dir: number): void;
  syncSingleForCpu(d: DmaDevice, addr: number, size: number, dir: number): void;
  syncSingleForDevice(d: DmaDevice, addr: number, size: number, dir: number): void;
  syncSg(d: DmaDevice, sg: ScatterlistEntry[], n: number, dir: number): void;
  syncSgForCpu(d: DmaDevice, sg: ScatterlistEntry[], n: number, dir: number): void;
  syncSgForDevice(d: DmaDevice, sg: ScatterlistEntry[], n: number, dir: number): void;
  poolCreate(name: string, d: DmaDevice, size: number, align: number, alloc: number): pool.DmaPool | null;
  poolAlloc(p: pool.DmaPool, gfp: number): DmaCoherentBuffer | null;
  poolFree(p: pool.DmaPool, vaddr: number, addr: number): void;
  poolDestroy(p: pool.DmaPool): void;
  dirs: { bidi: number; toDev: number; fromDev: number };
}

const PCI: Api = {
  supported: pci.pciDmaSupported,
  setMask: pci.pciSetDmaMask,
  setCoherentMask: pci.pciSetConsistentDmaMask,
  allocConsistent: pci.pciAllocConsistent,
  freeConsistent: pci.pciFreeConsistent,
  mapSingle: pci.pciMapSingle,
  unmapSingle: pci.pciUnmapSingle,
  mapPage: pci.pciMapPage,
  unmapPage: pci.pciUnmapPage,
  mappingError: pci.pciDmaMappingError,
  mapSg: pci.pciMapSg,
  unmapSg: pci.pciUnmapSg,
  syncSingle: pci.pciDmaSyncSingle,
  syncSingleForCpu: pci.pciDmaSyncSingleForCpu,
  syncSingleForDevice: pci.pciDmaSyncSingleForDevice,
  syncSg: pci.pciDmaSyncSg,
  syncSgForCpu: pci.pciDmaSyncSgForCpu,
  syncSgForDevice: pci.pciDmaSyncSgForDevice,
  poolCreate: pci.pciPoolCreate,
  poolAlloc: pci.pciPoolAlloc,
  poolFree: pci.pciPoolFree,
  poolDestroy: pci.pciPoolDestroy,
  dirs: { bidi: pci.PCI_DMA_BIDIRECTIONAL, toDev: pci.PCI_DMA_TODEVICE, fromDev: pci.PCI_DMA_FROMDEVICE },
};

type Dir = 0 | 1 | 2 | 3;
const DMA: Api = {
  supported: dma.dmaSupported,
  setMask: dma.dmaSetMask,
  setCoherentMask: dma.dmaSetCoherentMask,
  allocConsistent: (d, size) => dma.dmaAllocCoherent(d, size, GFP_ATOMIC),
  freeConsistent: dma.dmaFreeCoherent,
  mapSingle: (d, cpu, size, dir) => dma.dmaMapSingle(d, cpu, size, dir as Dir),
  unmapSingle: (d, a, size, dir) => dma.dmaUnmapSingle(d, a, size, dir as Dir),
  mapPage: (d, p, o, size, dir) => dma.dmaMapPage(d, p, o, size, dir as Dir),
  unmapPage: (d, a, size, dir) => dma.dmaUnmapPage(d, a, size, dir as Dir),
  mappingError: dma.dmaMappingError,
  mapSg: (d, sg, n, dir) => dma.dmaMapSg(d, sg, n, dir as Dir),
  unmapSg: (d, sg, n, dir) => dma.dmaUnmapSg(d, sg, n, dir as Dir),
  syncSingle: (d, a, size, dir) => dma.dmaSyncSingle(d, a, size, dir as Dir),
  syncSingleForCpu: (d, a, size, dir) => dma.dmaSyncSingleForCpu(d, a, size, dir as Dir),
  syncSingleForDevice: (d, a, size, dir) => dma.dmaSyncSingleForDevice(d, a, size, dir as Dir),
  syncSg: (d, sg, n, dir) => dma.dmaSyncSg(d, sg, n, dir as Dir),
  syncSgForCpu: (d, sg, n, dir) => dma.dmaSyncSgForCpu(d, sg, n, dir as Dir),
  syncSgForDevice: (d, sg, n, dir) => dma.dmaSyncSgForDevice(d, sg, n, dir as Dir),
  poolCreate: pool.dmaPoolCreate,
  poolAlloc: pool.dmaPoolAlloc,
  poolFree: pool.dmaPoolFree,
  poolDestroy: pool.dmaPoolDestroy,
  dirs: { bidi: DMA_BIDIRECTIONAL, toDev: DMA_TO_DEVICE, fromDev: DMA_FROM_DEVICE },
};

/** The PCI function's struct device: the rig's direct-mapped 64-bit DMA engine, on PCI. */
function pciDev(rig: DmaRig, name: string): DmaDevice {
  const d = rig.dev(name);
  const hw = new DmaDevice(name, d.env, d.ops, { coherent: d.coherent, busDmaLimit: d.busDmaLimit, pci: true });
  hw.bindDriver('e1000');
  return hw;
}

/**
 * A driver's whole DMA life on `device` through `api`: masks, a consistent buffer, a
 * single mapping the device reads, a page mapping it writes, a scatterlist, a pool. Every
 * returned value and every byte the CPU reads back is recorded.
 */
function lifecycle(rig: DmaRig, api: Api, device: string): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const hw = pciDev(rig, device);
  const { bidi, toDev, fromDev } = api.dirs;
  const cpuRead = (va: number, n: number) => {
    const b = new Uint8Array(n);
    rig.cpu.read(va, b);
    return b;
  };

  out.supported = [api.supported(hw, DMA_BIT_MASK(24)), api.supported(hw, DMA_BIT_MASK(64))];
  out.setMasks = [api.setMask(hw, DMA_BIT_MASK(64)), api.setCoherentMask(hw, DMA_BIT_MASK(32))];
  out.masks = [hw.dmaMask, hw.coherentDmaMask];

  const ring = api.allocConsistent(hw, 3 * 4096)!;
  out.ring = ring;

  // A single mapping the device reads (TODEVICE), copied into the ring.
  const tx = rig.kmalloc(4096);
  rig.cpu.write(tx, pattern(4096, 1));
  const txAddr = api.mapSingle(hw, tx, 4096, toDev);
  out.tx = [txAddr, api.mappingError(hw, txAddr)];
  out.txCopy = rig.copy(device, txAddr, ring.dmaHandle, 4096).status;
  out.txBytes = cpuRead(ring.cpuAddr, 4096);
  api.syncSingle(hw, txAddr, 4096, toDev);
  api.unmapSingle(hw, txAddr, 4096, toDev);

  // A page mapping the device writes (FROMDEVICE): partial page, then sync for the CPU.
  const rxVa = rig.kmalloc(4096);
  const rxPage = rig.cpu.virtToPhys(rxVa);
  rig.cpu.write(rxVa, new Uint8Array(4096).fill(0x55)); // stale lines in the CPU cache
  const rxAddr = api.mapPage(hw, rxPage, 256, 1024, fromDev);
  out.rx = [rxAddr, api.mappingError(hw, rxAddr)];
  rig.cpu.write(ring.cpuAddr + 4096, pattern(1024, 2));
  out.rxCopy = rig.copy(device, ring.dmaHandle + 4096, rxAddr, 1024).status;
  api.syncSingleForCpu(hw, rxAddr, 1024, fromDev);
  out.rxBytes = cpuRead(rxVa + 256, 1024);
  api.syncSingleForDevice(hw, rxAddr, 1024, fromDev);
  api.unmapPage(hw, rxAddr, 1024, fromDev);

  // A three-entry scatterlist, bidirectional.
  const sgVa = rig.kmalloc(4 * 4096);
  const sgPa = rig.cpu.virtToPhys(sgVa);
  const sg = sgInitTable(3);
  sgSetPage(sg[0], sgPa, 2048, 0);
  sgSetPage(sg[1], sgPa + 4096, 4096, 0);
  sgSetPage(sg[2], sgPa + 3 * 4096, 512, 128);
  const n = api.mapSg(hw, sg, 3, bidi);
  out.sg = [n, sg.map((e) => [e.dmaAddress, e.dmaLength])];
  rig.cpu.write(ring.cpuAddr + 8192, pattern(512, 3));
  api.syncSgForDevice(hw, sg, 3, bidi);
  out.sgCopy = rig.copy(device, ring.dmaHandle + 8192, sg[n - 1].dmaAddress + sg[n - 1].dmaLength - 512, 512).status;
  api.syncSgForCpu(hw, sg, 3, bidi);
  out.sgBytes = cpuRead(sgVa + 3 * 4096 + 128, 512);
  api.syncSg(hw, sg, 3, bidi);
  api.unmapSg(hw, sg, 3, bidi);

  // A pool of descriptors.
  const descs = api.poolCreate('e1000_desc', hw, 48, 16, 4096)!;
  const d1 = api.poolAlloc(descs, GFP_ATOMIC)!;
  const d2 = api.poolAlloc(descs, GFP_ATOMIC)!;
  out.descs = [d1, d2];
  out.geometry = [descs.size, descs.boundary, descs.blocksPerPage];
  rig.cpu.write(d1.cpuAddr, pattern(48, 4));
  out.descCopy = rig.copy(device, d1.dmaHandle, d2.dmaHandle, 48).status;
  out.descBytes = cpuRead(d2.cpuAddr, 48);
  api.poolFree(descs, d1.cpuAddr, d1.dmaHandle);
  api.poolFree(descs, d2.cpuAddr, d2.dmaHandle);
  api.poolDestroy(descs);

  api.freeConsistent(hw, 3 * 4096, ring.cpuAddr, ring.dmaHandle);
  out.liveAfter = hw.coherentAllocations.size;
  return out;
}

describe('pci_ equivalents of DMA-API.txt Part I', () => {
  test('PCI_DMA_* equal the DMA_* directions', () => {
    expect([pci.PCI_DMA_BIDIRECTIONAL, pci.PCI_DMA_TODEVICE, pci.PCI_DMA_FROMDEVICE, pci.PCI_DMA_NONE])
      .toEqual([DMA_BIDIRECTIONAL, DMA_TO_DEVICE, DMA_FROM_DEVICE, DMA_NONE]);
  });

  for (const device of ['dma32', 'dma64']) {
    test(`${device}: a full pci_* lifecycle gives exactly the dma_* results, stats and log`, () => {
      const viaPci = new DmaRig();
      const viaDma = new DmaRig();
      const a = lifecycle(viaPci, PCI, device);
      const b = lifecycle(viaDma, DMA, device);
      expect(a).toEqual(b);

      // The lifecycle itself worked: this is what both sides must have seen.
      expect([a.supported, a.setMasks, a.masks]).toEqual([[0, 1], [0, 0], [DMA_BIT_MASK(64), DMA_BIT_MASK(32)]]);
      const ring = a.ring as DmaCoherentBuffer;
      expect(ring.dmaHandle + 3 * 4096 - 1).toBeLessThanOrEqual(DMA_BIT_MASK(32));
      const [txAddr, txErr] = a.tx as number[];
      expect(txAddr).not.toBe(DMA_MAPPING_ERROR);
      expect(txErr).toBe(0);
      expect([a.txCopy, a.rxCopy, a.sgCopy, a.descCopy]).toEqual([Status.Ok, Status.Ok, Status.Ok, Status.Ok]);
      expect(a.txBytes).toEqual(pattern(4096, 1));
      expect((a.rx as number[])[1]).toBe(0);
      expect(a.rxBytes).toEqual(pattern(1024, 2));
      expect((a.sg as [number])[0]).toBeGreaterThanOrEqual(1);
      expect(a.sgBytes).toEqual(pattern(512, 3));
      const [d1, d2] = a.descs as DmaCoherentBuffer[];
      expect(d2.dmaHandle - d1.dmaHandle).toBe(48);
      expect(a.geometry).toEqual([48, 4096, 85]);
      expect(a.descBytes).toEqual(pattern(48, 4));
      expect(a.liveAfter).toBe(0);

      expect(viaPci.soc.ctx.stats.dump()).toEqual(viaDma.soc.ctx.stats.dump());
      expect(viaPci.kernel.log).toEqual(viaDma.kernel.log);
      expect(viaPci.kernel.warnings).toBe(0);
    });
  }

  test('a bad direction is refused by the dma_ layer under the pci_ call too', () => {
    const rig = new DmaRig();
    const hw = pciDev(rig, 'dma64');
    const va = rig.kmalloc(4096);
    expect(() => pci.pciMapSingle(hw, va, 64, pci.PCI_DMA_NONE)).toThrow(/dma_map_single: EINVAL/);
    expect(() => pci.pciMapSingle(hw, va, 64, 7)).toThrow(/EINVAL/);
  });
});
