import { CpuAddressSpace } from '../../../drivers/iommu/cpuPgtable';
import { IommuDomain, IOMMU_PRIV, IOMMU_READ, IOMMU_WRITE } from '../../../drivers/iommu/iommuDomain';
import { iommuIotlbGatherInit, SZ_2M, SZ_4K } from '../../../drivers/iommu/ioPgtableArm';
import { connectPorts } from '../../../sim/bus/port';
import { Cmd, Status } from '../../../sim/bus/transaction';
import { copyOk, deviceCopy } from '../../helpers/kernelRig';
import { TrafficMaster, type TrafficRequest } from '../../helpers/trafficMaster';
import { DATA, iommuRig } from './rig';

const RW = IOMMU_READ | IOMMU_WRITE;
const VA = 0x40_0000; // the CPU's view of the shared page
const IOVA = 0x1000_0000; // the device's view of it
const IOVA_OUT = 0x2000_0000; // the device's output buffer
const SHARED = DATA + 0x3000;
const OUT = DATA + 0x20_0000;

function cpuRig() {
  const rig = iommuRig();
  const mmu = rig.soc.cpuMmu('cpu_mmu');
  const script: TrafficRequest[] = [];
  const cpu = new TrafficMaster(rig.soc.ctx, 'cpu', 200, script, 4);
  connectPorts(cpu.port, mmu.cpuSidePort);
  /** Runs `reqs` on the CPU through its MMU (timing path) and returns their completions. */
  const run = (...reqs: TrafficRequest[]) => {
    const first = cpu.completed.length;
    script.push(...reqs);
    cpu.start();
    rig.soc.ctx.engine.runUntilIdle();
    return cpu.completed.slice(first);
  };
  const space = new CpuAddressSpace(rig.kernel, mmu, rig.pages, 3);
  return { ...rig, mmu, cpu, run, space };
}

const bytes = (...b: number[]) => new Uint8Array(b);

describe('CpuAddressSpace: the CPU and a device see the same bytes', () => {
  test('a value the CPU stores through its MMU is what the device reads through the IOMMU, and back', () => {
    const rig = cpuRig();
    expect(rig.space.map(VA, SHARED, SZ_4K, RW)).toBe(0);
    rig.space.activate();
    expect(rig.mmu.walker.format.name).toBe('arm-lpae-4k');
    const dom = new IommuDomain(rig.kernel, rig.soc.iommu('smmu'), rig.pages, 9);
    expect(dom.attachDevice(1)).toBe(0);
    expect(dom.map(IOVA, SHARED, SZ_4K, RW)).toBe(0);
    expect(dom.map(IOVA_OUT, OUT, SZ_4K, RW)).toBe(0);

    // CPU store at VA + 0x10, through its own page tables.
    const value = bytes(0xef, 0xbe, 0xad, 0xde, 0x78, 0x56, 0x34, 0x12);
    const w = rig.run({ cmd: Cmd.Write, addr: VA + 0x10, size: 8, data: value });
    expect(w[0].status).toBe(Status.Ok);
    expect(w[0].addr).toBe(VA + 0x10); // the CPU sees its own address
    expect(rig.stat('soc.cpu_mmu.walker.walks')).toBe(1);

    // The device copies the page (IOVA) to its output buffer (IOVA_OUT → OUT).
    expect(copyOk(deviceCopy(rig.soc, 'dma_smmu', IOVA, IOVA_OUT, SZ_4K))).toBe(true);
    const out = new Uint8Array(8);
    rig.soc.physmem.read(OUT + 0x10, out);
    expect(out).toEqual(value);

    // The other way: the device writes into the shared page; the CPU loads it through VA.
    rig.soc.physmem.write(OUT + 0x100, bytes(1, 2, 3, 4));
    expect(copyOk(deviceCopy(rig.soc, 'dma_smmu', IOVA_OUT + 0x100, IOVA + 0x200, 4))).toBe(true);
    const r = rig.run({ cmd: Cmd.Read, addr: VA + 0x200, size: 4 });
    expect(r[0].data).toEqual(bytes(1, 2, 3, 4));
    expect(rig.stat('soc.cpu_mmu.walker.walks')).toBe(1); // TLB hit
    expect(rig.mmu.faults).toHaveLength(0);
  });

  test('unmap issues a TLBI for the range: the CPU then faults not_present, with no stale hit', () => {
    const rig = cpuRig();
    expect(rig.space.map(VA, SHARED, SZ_4K, RW)).toBe(0);
    rig.space.activate();
    expect(rig.run({ cmd: Cmd.Read, addr: VA, size: 8 })[0].status).toBe(Status.Ok);
    expect(rig.space.unmap(VA, SZ_4K)).toBe(SZ_4K);
    expect(rig.stat('kernel.cpu_mmu.pgtable.tlbi_ops')).toBe(1);
    const r = rig.run({ cmd: Cmd.Read, addr: VA, size: 8 });
    expect(r[0].status).toBe(Status.TranslationFault);
    expect(rig.mmu.faults[0]).toMatchObject({ address: VA, reason: 'not_present', device: 'cpu' });
    expect(rig.stat('soc.cpu_mmu.walker.walks')).toBe(2);
  });

  test('without the TLBI the CPU keeps using the stale entry (unmapFast without sync)', () => {
    const rig = cpuRig();
    rig.soc.physmem.write(SHARED, bytes(0x5a));
    expect(rig.space.map(VA, SHARED, SZ_4K, RW)).toBe(0);
    rig.space.activate();
    expect(rig.run({ cmd: Cmd.Read, addr: VA, size: 1 })[0].data[0]).toBe(0x5a);
    const gather = iommuIotlbGatherInit();
    expect(rig.space.unmapFast(VA, SZ_4K, gather)).toBe(SZ_4K);
    expect(rig.run({ cmd: Cmd.Read, addr: VA, size: 1 })[0].status).toBe(Status.Ok); // stale
    rig.space.iotlbSync(gather);
    expect(rig.run({ cmd: Cmd.Read, addr: VA, size: 1 })[0].status).toBe(Status.TranslationFault);
  });

  test('ASIDs: two address spaces over the same VA; privileged pages refuse user mode', () => {
    const rig = cpuRig();
    const other = new CpuAddressSpace(rig.kernel, rig.mmu, rig.pages, 4, { privileged: false });
    rig.soc.physmem.write(DATA, bytes(0xaa));
    rig.soc.physmem.write(DATA + SZ_2M, bytes(0xbb));
    expect(rig.space.map(0, DATA, SZ_2M, RW)).toBe(0);
    expect(other.map(0, DATA + SZ_2M, SZ_2M, RW)).toBe(0);
    expect(other.map(SZ_2M, DATA, SZ_4K, RW | IOMMU_PRIV)).toBe(0);
    rig.space.activate();
    expect(rig.run({ cmd: Cmd.Read, addr: 0, size: 1 })[0].data[0]).toBe(0xaa);
    other.activate();
    expect(rig.run({ cmd: Cmd.Read, addr: 0, size: 1 })[0].data[0]).toBe(0xbb);
    expect(rig.run({ cmd: Cmd.Read, addr: SZ_2M, size: 1 })[0].status).toBe(Status.TranslationFault);
    expect(rig.mmu.faults[0].reason).toBe('permission');
    other.free();
    expect(rig.stat('kernel.cpu_mmu.pgtable.pages')).toBe(rig.space.pgtbl.tablePages);
  });
});
