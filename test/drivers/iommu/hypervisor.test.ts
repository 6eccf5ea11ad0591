import { dmaAllocCoherent } from '../../../drivers/dma/mapping';
import { KernelError } from '../../../drivers/errno';
import { SZ_2M, SZ_4K } from '../../../drivers/iommu/ioPgtableArm';
import { Stage2Domain } from '../../../drivers/iommu/stage2Domain';
import { stage2Tag } from '../../../sim/mmu/walker';
import { DmaRig, DRAM_BASE, pattern } from '../../helpers/dmaRig';

/** A guest kernel over a hypervisor: a coherent source and destination on dma_smmu, and one copy between them. */
function guestCopy(stage2PageSize: number) {
  const rig = new DmaRig({ hypervisor: { vmid: 2, stage2PageSize } });
  const dev = rig.dev('dma_smmu');
  const src = dmaAllocCoherent(dev, SZ_4K)!;
  const dst = dmaAllocCoherent(dev, SZ_4K)!;
  const data = pattern(SZ_4K, 7);
  const pa = (b: { cpuAddr: number }) => rig.cpu.virtToPhys(b.cpuAddr);
  rig.poke(pa(src), data);
  const walksBefore = rig.stat('soc.smmu.walker.walks');
  const readsBefore = { s1: rig.stat('soc.smmu.walker.s1.mem_reads'), s2: rig.stat('soc.smmu.walker.s2.mem_reads') };
  const r = rig.copy('dma_smmu', src.dmaHandle, dst.dmaHandle, SZ_4K);
  return { rig, src, dst, data, pa, r, walksBefore, readsBefore };
}

describe('a guest kernel over a hypervisor (platform option hypervisor)', () => {
  test('the stream is nested over the VM\'s stage 2; stage 2 maps DRAM at IPA = PA in 2 MiB blocks', () => {
    const rig = new DmaRig({ hypervisor: { vmid: 2, stage2PageSize: SZ_2M } });
    const p = rig.platform;
    const s2 = p.stage2!;
    expect(s2.vmid).toBe(2);
    expect(s2.pgtable.format.name).toBe('arm-lpae-s2-4k');
    const ctx = p.soc.iommu('smmu').streamContext(1)!;
    expect(ctx.stage2).toMatchObject({ vmid: 2, nested: true, root: s2.pgtable.ttbr });
    const domain = p.platdata('dma_smmu');
    expect(domain.kind).toBe('iommu');
    if (domain.kind === 'iommu') expect(ctx.asid).toBe(stage2Tag(2, domain.domain.asid % 65536));
    expect(s2.pgtable.iovaToPhys(DRAM_BASE + 0x1234_5678)).toBe(DRAM_BASE + 0x1234_5678);
    // 4 GiB of DRAM in 2 MiB blocks: the root, one L1, four L2 tables.
    expect(rig.stat('kernel.hyp.s2.pgtable.pages')).toBe(6);
  });

  test('guest DMA goes through both stages: data intact, each walk\'s reads split by stage, 3-level stage-2 walks', () => {
    const g = guestCopy(SZ_2M);
    expect(g.r.status).toBe(1);
    expect(g.rig.peek(g.pa(g.dst), SZ_4K)).toEqual(g.data);
    const walks = g.rig.stat('soc.smmu.walker.walks') - g.walksBefore;
    const s1 = g.rig.stat('soc.smmu.walker.s1.mem_reads') - g.readsBefore.s1;
    const s2 = g.rig.stat('soc.smmu.walker.s2.mem_reads') - g.readsBefore.s2;
    expect(walks).toBe(2); // one page each side
    // Every stage-1 read (table or leaf) needed a 3-read stage-2 walk of its table, and each walk a final one.
    expect(s2).toBe(3 * (s1 + walks));
    expect(g.rig.stat('soc.smmu.walker.s2.walks')).toBe(s1 + walks);
  });

  test('4 KiB stage-2 pages: 4-level stage-2 walks', () => {
    const g = guestCopy(SZ_4K);
    expect(g.r.status).toBe(1);
    const s1 = g.rig.stat('soc.smmu.walker.s1.mem_reads') - g.readsBefore.s1;
    const s2 = g.rig.stat('soc.smmu.walker.s2.mem_reads') - g.readsBefore.s2;
    expect(s2).toBe(4 * (s1 + 2));
  });

  test('the hypervisor takes a guest page away: stage-2 unmap invalidates IPA then VMID, and the device faults at stage 2', () => {
    const g = guestCopy(SZ_2M);
    const s2 = g.rig.platform.stage2!;
    const block = g.pa(g.dst) - (g.pa(g.dst) % SZ_2M);
    expect(s2.unmap(block, SZ_2M)).toBe(SZ_2M);
    expect(g.rig.stat('kernel.hyp.s2.inval_cmds')).toBe(2);
    expect(g.rig.stat('soc.smmu.cmd.invalidate_ipa')).toBe(1);
    expect(g.rig.stat('soc.smmu.cmd.invalidate_vmid')).toBe(1);
    const again = g.rig.copy('dma_smmu', g.src.dmaHandle, g.dst.dmaHandle, SZ_4K);
    expect(again.status).not.toBe(1);
    expect(g.rig.platform.soc.iommu('smmu').faults.at(-1)).toMatchObject({ reason: 'not_present', level: expect.stringMatching(/^s2:/) });
    // Mapping it back restores the guest's DMA.
    expect(s2.map(block, block, SZ_2M)).toBe(0);
    expect(g.rig.copy('dma_smmu', g.src.dmaHandle, g.dst.dmaHandle, SZ_4K).status).toBe(1);
  });

  test('with iommu.passthrough in the guest, the stream is stage 2 only: DMA addresses are IPAs (= PAs)', () => {
    const rig = new DmaRig({ hypervisor: { vmid: 3, stage2PageSize: SZ_2M }, iommuPassthrough: true });
    const ctx = rig.platform.soc.iommu('smmu').streamContext(1)!;
    expect(ctx).toMatchObject({ mode: 'translate', asid: stage2Tag(3, 0), stage2: { nested: false, vmid: 3 } });
    const dev = rig.dev('dma_smmu');
    const src = dmaAllocCoherent(dev, SZ_4K)!;
    const dst = dmaAllocCoherent(dev, SZ_4K)!;
    expect(src.dmaHandle).toBe(rig.cpu.virtToPhys(src.cpuAddr));
    rig.poke(src.dmaHandle, pattern(SZ_4K, 3));
    expect(rig.copy('dma_smmu', src.dmaHandle, dst.dmaHandle, SZ_4K).status).toBe(1);
    expect(rig.peek(dst.dmaHandle, SZ_4K)).toEqual(pattern(SZ_4K, 3));
    expect(rig.stat('soc.smmu.walker.s1.mem_reads')).toBe(0);
    expect(rig.stat('soc.smmu.walker.s2.mem_reads')).toBeGreaterThan(0);
  });

  test('Stage2Domain refuses a bad VMID or page size', () => {
    const rig = new DmaRig();
    expect(() => new Stage2Domain(rig.kernel, rig.platform.pages, { vmid: 0 })).toThrow(KernelError);
    expect(() => new Stage2Domain(rig.kernel, rig.platform.pages, { vmid: 1, maxPageSize: 0x4000 })).toThrow(/4 KiB, 2 MiB or 1 GiB/);
  });
});
