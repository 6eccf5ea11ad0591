import { KernelError } from '../../drivers/errno';
import { PAGE_OFFSET, UNCACHED_OFFSET } from '../../drivers/kernelCpu';
import { DmaRig, DRAM_BASE, pattern } from '../helpers/dmaRig';

describe('KernelCpu: the kernel linear map through the CPU MMU and cache', () => {
  test('a store to the linear map lands in the CPU cache, not DRAM, until cleaned', () => {
    const rig = new DmaRig();
    const va = rig.kmalloc(4096);
    const pa = rig.cpu.virtToPhys(va);
    expect(va).toBe(PAGE_OFFSET + pa);
    const data = pattern(256, 3);
    rig.poke(pa, new Uint8Array(256)); // DRAM holds zeros
    rig.cpu.write(va, data);
    expect(rig.peek(pa, 256)).toEqual(new Uint8Array(256)); // still only in the cache
    const back = new Uint8Array(256);
    rig.cpu.read(va, back);
    expect(back).toEqual(data);
    rig.cpu.cleanRange(pa, 256);
    expect(rig.peek(pa, 256)).toEqual(data);
    expect(rig.stat('soc.cpu_mmu.cache.cleaned_lines')).toBe(256 / 64);
    expect(rig.stat('kernel.cpu.cache_maint_ops')).toBe(1);
  });

  test('linear-map accesses are translated by the kernel core of the CPU MMU', () => {
    const rig = new DmaRig();
    const va = rig.kmalloc(8192);
    rig.cpu.write(va, pattern(8192, 1)); // 2 pages, 256-byte accesses: 32 stores
    expect(rig.stat('kernel.cpu.writes')).toBe(32);
    expect(rig.stat('soc.cpu_mmu.kernel.l1tlb.lookups')).toBe(32);
    // The linear map uses 1 GiB blocks: one walk covers both pages.
    expect(rig.stat('soc.cpu_mmu.walker.walks')).toBe(1);
  });

  test('an uncached-alias store goes straight to DRAM and bypasses the cache', () => {
    const rig = new DmaRig();
    const pa = rig.cpu.virtToPhys(rig.kmalloc(4096));
    const ua = rig.cpu.uncachedVirt(pa);
    expect(ua).toBe(UNCACHED_OFFSET + pa);
    const data = pattern(128, 9);
    rig.cpu.write(ua, data);
    expect(rig.peek(pa, 128)).toEqual(data);
    expect(rig.stat('soc.cpu_mmu.cache.hits') + rig.stat('soc.cpu_mmu.cache.misses')).toBe(0);
  });

  test('invalidateRange drops dirty whole lines but cleans partial lines at the edges', () => {
    const rig = new DmaRig();
    const va = rig.kmalloc(4096);
    const pa = rig.cpu.virtToPhys(va);
    rig.cpu.write(va, pattern(256, 5)); // lines 0..3 dirty
    rig.cpu.invalidateRange(pa + 32, 128); // partial line 0, whole line 1, partial line 2
    const dram = rig.peek(pa, 256);
    expect(dram.subarray(0, 64)).toEqual(pattern(256, 5).subarray(0, 64)); // edge: cleaned
    expect(dram.subarray(64, 128)).toEqual(new Uint8Array(64)); // whole line: dropped
    expect(dram.subarray(128, 192)).toEqual(pattern(256, 5).subarray(128, 192)); // edge: cleaned
    expect(rig.stat('soc.cpu_mmu.cache.dropped_dirty_lines')).toBe(1);
  });

  test('virt_to_phys of an address outside the linear map and uncached alias is an EFAULT naming the call', () => {
    const rig = new DmaRig();
    expect(() => rig.cpu.virtToPhys(0x1000, 'dma_map_single')).toThrow(KernelError);
    expect(() => rig.cpu.virtToPhys(0x1000, 'dma_map_single')).toThrow(/dma_map_single: EFAULT/);
    expect(rig.cpu.virtToPhys(rig.cpu.physToVirt(DRAM_BASE))).toBe(DRAM_BASE);
  });

  test('cache line size is the cache alignment', () => {
    expect(new DmaRig().cpu.cacheLineBytes).toBe(64);
  });
});
