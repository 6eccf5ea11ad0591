import { connectPorts } from '../../sim/bus/port';
import { Cmd, Status } from '../../sim/bus/transaction';
import { bootPlatform, type Platform } from '../../drivers/platform';
import { vcmActivate, vcmDeactivate, vcmDestroy, vcmDestroyBinding, vcmMakeBinding, vcmMap, vcmUnmap, type VcmRes } from '../../drivers/vcm';
import { KernelError } from '../../drivers/errno';
import { deviceCopy, kernelRig } from '../helpers/kernelRig';
import { TrafficMaster, type TrafficRequest } from '../helpers/trafficMaster';

const SZ_4K = 4096;
const SZ_1M = 1 << 20;
const SZ_2M = 2 << 20;

function boot(): Platform {
  const { soc, kernel } = kernelRig();
  return bootPlatform(soc, {}, kernel);
}

/** A CPU master on the platform's first CPU MMU (so its accesses are translated). */
function cpuMaster(p: Platform): { m: TrafficMaster; run: (reqs: TrafficRequest[]) => TrafficMaster['completed'] } {
  const script: TrafficRequest[] = [];
  const m = new TrafficMaster(p.soc.ctx, 'cpu', 0, script, 4);
  connectPorts(m.port, p.soc.cpuMmu(p.cpu().mmu).cpuSidePort);
  return {
    m,
    run: (reqs) => {
      const before = m.completed.length;
      script.push(...reqs);
      m.start();
      p.soc.ctx.engine.runUntilIdle();
      return m.completed.slice(before);
    },
  };
}

/** The physical bytes behind a binding, read functionally. */
function physBytes(p: Platform, res: VcmRes, len: number): Uint8Array {
  const out = new Uint8Array(len);
  let done = 0;
  for (const part of res.phys!.parts) {
    const n = Math.min(part.size, len - done);
    p.soc.physmem.read(part.start, out, done, n);
    done += n;
    if (done === len) break;
  }
  return out;
}

describe('platform boot', () => {
  test('every device gets its context: IOMMU streams a VCM MMU context, direct devices one-to-one, nv streams the nvkm VMM', () => {
    const p = boot();
    expect(p.platdata('dma_smmu')).toMatchObject({ kind: 'iommu', streamId: 1 });
    expect(p.platdata('dma_direct')).toMatchObject({ kind: 'direct', dmaMaskBits: 32 });
    expect(p.platdata('dma_gpu')).toMatchObject({ kind: 'unsupported' });
    expect(p.soc.iommu('smmu').streamContext(1)).toMatchObject({ mode: 'translate' });
    // The CMA region is carved out of the page allocator.
    expect(p.pages.isAllocated(p.cma.base)).toBe(true);
  });
});

describe('VCM document: device driver example (vcm_make_binding on an MMU and a one-to-one context)', () => {
  test.each(['dma_smmu', 'dma_direct'])('%s: probe allocates firmware, activates, the device reads it, remove frees it', (device) => {
    const p = boot();
    const vcm = p.deviceVcm(device);
    // foo_probe: priv->fw = __foo_alloc(dev, 1 << 20)
    const fw = vcmMakeBinding(vcm, SZ_1M, 0, 0);
    // "copy firmware to fw": the kernel writes it into the physical pages.
    const image = new Uint8Array(SZ_1M);
    p.soc.ctx.rng.fork('fw').fillBytes(image);
    let off = 0;
    for (const part of fw.phys!.parts) {
      p.kernel.mem.write(part.start, image, off, part.size);
      off += part.size;
    }
    expect(vcmActivate(vcm)).toBe(0);
    // foo_do_something: a buffer the device writes to; buf->start is its device address.
    const buf = vcmMakeBinding(vcm, SZ_1M, 0, 0);
    const r = deviceCopy(p.soc, device, fw.start, buf.start, SZ_1M);
    expect(r.status).toBe(Status.Ok);
    // Buffer.compare: jest's toEqual on a 1 MiB typed array takes seconds.
    expect(Buffer.compare(physBytes(p, buf, SZ_1M), image)).toBe(0);
    if (device === 'dma_direct') expect(fw.start).toBe(fw.phys!.parts[0].start); // one-to-one: address = physical
    else expect(p.soc.ctx.stats.value('soc.smmu.walker.walks')).toBeGreaterThan(0);
    // __foo_free(buf); foo_remove
    vcmDestroyBinding(buf);
    vcmDeactivate(vcm); // void in vcm.h
    vcmDestroyBinding(fw);
    expect(p.kernel.warnings).toBe(0);
  });
});

describe('VCM document: IOMMU, one-to-one and VMM contexts mapping the same memory', () => {
  test('bytes the CPU writes are read by both devices through their real translation paths; after unmap the IOMMU device faults', () => {
    const p = boot();
    const vcmVmm = p.cpu().vcm;
    const vcmO2o = p.deviceVcm('dma_direct');
    const vcmIommu = p.deviceVcm('dma_smmu');

    const resO2o = vcmMakeBinding(vcmO2o, SZ_2M | SZ_4K, 0, 0);
    const resVmm = vcmMap(vcmVmm, resO2o.phys!, 0);
    const resIommu = vcmMap(vcmIommu, resO2o.phys!, 0);
    expect(vcmActivate(vcmVmm)).toBe(0);
    expect(vcmActivate(vcmO2o)).toBe(0);
    expect(vcmActivate(vcmIommu)).toBe(0);

    // The CPU writes a pattern through its MMU at the VMM address (last page included).
    const cpu = cpuMaster(p);
    const pattern = (i: number) => (i * 37 + 11) & 0xff;
    const writes: TrafficRequest[] = [];
    for (const o of [0, 64, SZ_2M - 64, SZ_2M]) {
      writes.push({ cmd: Cmd.Write, addr: resVmm.start + o, size: 64, data: Uint8Array.from({ length: 64 }, (_v, i) => pattern(o + i)) });
    }
    expect(cpu.run(writes).every((c) => c.status === Status.Ok)).toBe(true);

    // Destination buffers for the devices' reads.
    const dstO2o = vcmMakeBinding(vcmO2o, SZ_2M | SZ_4K, 0, 0);
    const dstIommu = vcmMakeBinding(vcmIommu, SZ_2M | SZ_4K, 0, 0);
    expect(deviceCopy(p.soc, 'dma_direct', resO2o.start, dstO2o.start, SZ_2M | SZ_4K).status).toBe(Status.Ok);
    expect(deviceCopy(p.soc, 'dma_smmu', resIommu.start, dstIommu.start, SZ_2M | SZ_4K).status).toBe(Status.Ok);
    const viaO2o = physBytes(p, dstO2o, SZ_2M | SZ_4K);
    const viaIommu = physBytes(p, dstIommu, SZ_2M | SZ_4K);
    for (const o of [0, 64, SZ_2M - 64, SZ_2M]) {
      for (let i = 0; i < 64; i++) {
        expect(viaO2o[o + i]).toBe(pattern(o + i));
        expect(viaIommu[o + i]).toBe(pattern(o + i));
      }
    }

    // Tear down as the document does; after vcm_unmap the IOMMU device faults.
    vcmUnmap(resVmm); // void in vcm.h
    vcmUnmap(resIommu);
    const faultsBefore = p.soc.iommu('smmu').faults.length;
    expect(deviceCopy(p.soc, 'dma_smmu', resIommu.start, dstIommu.start, 64).status).toBe(Status.TranslationFault);
    expect(p.soc.iommu('smmu').faults.length).toBe(faultsBefore + 1);
    expect(p.soc.iommu('smmu').faults[faultsBefore]).toMatchObject({ reason: 'not_present', address: resIommu.start });
    // The CPU faults too: its TLB was invalidated on unmap.
    expect(cpu.run([{ cmd: Cmd.Read, addr: resVmm.start, size: 8 }])[0].status).toBe(Status.TranslationFault);

    vcmDestroyBinding(dstIommu);
    vcmDestroyBinding(dstO2o);
    vcmDestroyBinding(resO2o);
    vcmDeactivate(vcmVmm);
    vcmDeactivate(vcmIommu);
    vcmDeactivate(vcmO2o);
    vcmDestroy(vcmVmm);
    vcmDestroy(vcmIommu);
    vcmDestroy(vcmO2o);
    expect(p.kernel.warnings).toBe(0);
  });

  test('a one-to-one context cannot map memory twice (-EBUSY), as the wrapper documents', () => {
    const p = boot();
    const vcmO2o = p.deviceVcm('dma_direct');
    const res = vcmMakeBinding(vcmO2o, SZ_1M, 0, 0);
    expect(() => vcmMap(vcmO2o, res.phys!, 0)).toThrow(KernelError);
    try { vcmMap(vcmO2o, res.phys!, 0); } catch (e) { expect((e as KernelError).errnoName).toBe('EBUSY'); }
  });
});
