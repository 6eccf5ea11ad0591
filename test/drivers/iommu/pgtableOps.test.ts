import * as path from 'path';
import { Errno, KernelError } from '../../../drivers/errno';
import { CpuAddressSpace } from '../../../drivers/iommu/cpuPgtable';
import { IommuDomain } from '../../../drivers/iommu/iommuDomain';
import { NvkmMmu, nvkmVmmNew, nvkmVmmUnref } from '../../../drivers/iommu/nvkm';
import { ioPgtableFormatOps, nvkmChipFormats, nvkmFormatOps, PGTABLE_OPS, pgtableOps } from '../../../drivers/iommu/pgtableOps';
import { BuddyAllocator } from '../../../drivers/mm/buddy';
import { bootPlatform } from '../../../drivers/platform';
import { loadScenario } from '../../../scenario/load';
import { createSimContext } from '../../../sim/engine/context';
import { ConfigError, SimInvariantError } from '../../../sim/engine/errors';
import { armLpae4k, FORMAT_NAMES, FORMATS, nvGp100 } from '../../../sim/mmu/format';
import { buildSoc, loadSocConfig } from '../../../sim/soc/builder';
import { readConfig, REPO, writeTemp } from '../../helpers/configFiles';
import { DRAM_BASE, DRAM_SIZE, kernelRig } from '../../helpers/kernelRig';

describe('the page-table ops table', () => {
  test('every bundled hardware format has an entry with its codec; nothing else does', () => {
    expect(Object.keys(PGTABLE_OPS).sort()).toEqual([...FORMAT_NAMES].sort());
    for (const name of FORMAT_NAMES) {
      const ops = pgtableOps(name);
      expect(ops.format).toBe(FORMATS[name]);
      expect(pgtableOps(FORMATS[name])).toBe(ops);
      // Page sizes are sizes of the format, smallest first.
      const sizes = FORMATS[name].pageSizes.map((p) => 2 ** p.shift);
      expect(ops.pageSizes.length).toBeGreaterThan(0);
      for (const s of ops.pageSizes) expect(sizes).toContain(s);
      expect([...ops.pageSizes]).toEqual([...ops.pageSizes].sort((a, b) => a - b));
      if (ops.family === 'nvkm') {
        expect(ops.chips).toContain(ops.defaultChip);
        for (const chip of ops.chips) expect(nvkmChipFormats(chip)).toContain(name);
      }
    }
  });

  test('data the kernel asks: family, DMA API, page sizes', () => {
    expect(pgtableOps(armLpae4k)).toMatchObject({ family: 'io-pgtable', usesDmaApi: true, pageSizes: [4096, 2 ** 21, 2 ** 30], fmt: 'ARM_64_LPAE_S1' });
    // gp100's sparse-only levels (2^29 and up) map no memory.
    expect(pgtableOps(nvGp100)).toMatchObject({ family: 'nvkm', usesDmaApi: false, pageSizes: [4096, 2 ** 16, 2 ** 21], chips: ['gp100'], defaultChip: 'gp100' });
    expect(pgtableOps('nv-gf100')).toMatchObject({ family: 'nvkm', chips: ['gf100', 'gk104', 'gm200'], defaultChip: 'gm200' });
    expect(ioPgtableFormatOps(nvGp100)).toBeNull();
    expect(nvkmFormatOps(armLpae4k)).toBeNull();
  });

  test('a made-up format name: ConfigError listing the known formats (from a config), SimInvariantError (from a built unit)', () => {
    let err: unknown = null;
    try {
      pgtableOps('x86-ept', { file: 'soc.json', jsonPath: 'soc.iommus[0].format' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).jsonPath).toBe('soc.iommus[0].format');
    expect((err as ConfigError).reason).toBe(`unknown page-table format "x86-ept" (known: ${FORMAT_NAMES.join(', ')})`);
    expect(() => pgtableOps({ ...armLpae4k, name: 'x86-ept' })).toThrow(SimInvariantError);
  });

  test('a SoC config naming an unknown format is still a ConfigError with the list', () => {
    const cfg = readConfig(path.join(REPO, 'soc-configs', 'mobile.json'));
    cfg.iommus[1].format = 'x86-ept';
    expect(() => loadSocConfig(writeTemp(cfg))).toThrow(/soc\.iommus\[1\]\.format: unknown page-table format "x86-ept" \(known: .*arm-lpae-4k/);
  });
});

describe('the kernel picks its page-table code through the table', () => {
  test('an IOMMU domain or CPU address space on a format io-pgtable does not build: EINVAL', () => {
    const { soc, kernel } = kernelRig();
    const pages = new BuddyAllocator(DRAM_BASE, DRAM_SIZE);
    for (const unit of ['gpu_mmu', 'fermi_mmu']) {
      const iommu = soc.iommu(unit);
      expect(pgtableOps(iommu.format).family).toBe('nvkm');
      let err: unknown = null;
      try {
        new IommuDomain(kernel, iommu, pages, 1);
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(KernelError);
      expect((err as KernelError).errno).toBe(-Errno.EINVAL);
      expect((err as KernelError).message).toBe(`iommuDomainAlloc: EINVAL (soc.${unit} walks ${iommu.format.name} tables, which io-pgtable does not build)`);
    }
    // The io-pgtable entry's page sizes are a domain's default.
    const d = new IommuDomain(kernel, soc.iommu('smmu'), pages, 1);
    expect(d.pageSizes).toEqual(pgtableOps(armLpae4k).pageSizes);
    expect(new CpuAddressSpace(kernel, soc.cpuMmu('cpu_mmu'), pages, 2).pageSizes).toEqual(pgtableOps(armLpae4k).pageSizes);
  });

  test('nvkmVmmNew: the entry names the default backend and the chips that may drive the format', () => {
    const { soc, kernel } = kernelRig();
    const mmu = new NvkmMmu(kernel, new BuddyAllocator(DRAM_BASE, DRAM_SIZE), 'gpu');
    for (const unit of ['gpu_mmu', 'fermi_mmu']) {
      const iommu = soc.iommu(unit);
      const ops = nvkmFormatOps(iommu.format)!;
      const vmm = nvkmVmmNew(mmu, iommu, 2 ** 32, 2 ** 30);
      if (typeof vmm === 'number') throw new Error(`nvkmVmmNew: ${vmm}`);
      expect(vmm.chip).toBe(ops.defaultChip);
      nvkmVmmUnref(vmm);
    }
    expect(nvkmVmmNew(mmu, soc.iommu('gpu_mmu'), 2 ** 32, 2 ** 30, { chip: 'gf100' })).toBe(-Errno.EINVAL);
    expect(nvkmVmmNew(mmu, soc.iommu('fermi_mmu'), 2 ** 32, 2 ** 30, { chip: 'gp100' })).toBe(-Errno.EINVAL);
    expect(nvkmVmmNew(mmu, soc.iommu('smmu'), 2 ** 32, 2 ** 30)).toBe(-Errno.EINVAL);
  });

  test('platform: a domain and a DMA API device exactly where the entry says so', () => {
    const file = path.join(REPO, 'soc-configs', 'mobile.json');
    const soc = buildSoc(createSimContext(1), loadSocConfig(file), file);
    const p = bootPlatform(soc);
    let checked = 0;
    for (const d of soc.config.devices) {
      if (d.translation.kind !== 'iommu') continue;
      const ops = pgtableOps(soc.iommu(d.translation.iommu).format);
      expect(p.platdata(d.name).kind).toBe(ops.family === 'io-pgtable' ? 'iommu' : 'unsupported');
      expect(p.hasDmaDevice(d.name)).toBe(ops.usesDmaApi);
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(2);
  });

  test('scenario checks: nvkm buffers only behind formats nvkm drives', () => {
    const scenario = readConfig(path.join(REPO, 'soc-configs', 'scenarios', 'mobile-gpu-texture-4k.json'));
    scenario.soc = path.join(REPO, 'soc-configs', 'mobile.json');
    const gpuBuffer = scenario.buffers.findIndex((b: { via: string }) => b.via === 'nvkm');
    expect(gpuBuffer).toBeGreaterThanOrEqual(0);
    expect(() => loadScenario(writeTemp(scenario))).not.toThrow();
    scenario.buffers[gpuBuffer].via = 'dma-alloc-coherent';
    expect(() => loadScenario(writeTemp(scenario))).toThrow(/its buffers come from the nvkm VMM/);
  });
});
