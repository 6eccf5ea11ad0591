import { Errno, errnoName, KernelError } from '../../drivers/errno';
import { DRAM_BASE, kernelRig } from '../helpers/kernelRig';

describe('kernel base', () => {
  test('kernel stores are bus traffic: counted by the crossbar and DRAM, with estimated time', () => {
    const { soc, kernel } = kernelRig();
    const words = new Uint32Array([0xdeadbeef, 0x12345678]);
    kernel.mem.writeWords(DRAM_BASE + 0x1000, words, 2);
    expect(soc.physmem.read32(DRAM_BASE + 0x1000)).toBe(0xdeadbeef);
    expect(soc.physmem.read32(DRAM_BASE + 0x1004)).toBe(0x12345678);
    const back = new Uint32Array(2);
    kernel.mem.readWords(DRAM_BASE + 0x1000, back, 2);
    expect([...back]).toEqual([0xdeadbeef, 0x12345678]);
    const s = soc.ctx.stats;
    expect(s.value('kernel.mem_writes')).toBe(1);
    expect(s.value('kernel.mem_reads')).toBe(1);
    expect(s.value('soc.dram.writes')).toBe(1);
    expect(s.value('soc.xbar.kernel.transactions')).toBe(2);
    expect(kernel.mem.timePs).toBeGreaterThan(0);
  });

  test('a kernel access to memory that does not exist is a simulator invariant failure', () => {
    const { kernel } = kernelRig();
    expect(() => kernel.mem.writeWords(0x10, new Uint32Array(2), 2)).toThrow(/kernel store to 0x10 failed/);
  });

  test('warnings are logged and counted', () => {
    const { soc, kernel } = kernelRig();
    kernel.warn('vcm', 'vcm_free: memory still bound');
    expect(kernel.warnings).toBe(1);
    expect(soc.ctx.stats.value('kernel.warnings')).toBe(1);
    expect(kernel.messages('vcm', 'warn')).toEqual(['vcm_free: memory still bound']);
  });

  test('KernelError carries the errno name and negative value', () => {
    const e = new KernelError('ENOSPC', 'vcm_reserve');
    expect(e.errno).toBe(-28);
    expect(e.message).toBe('vcm_reserve: ENOSPC');
    expect(errnoName(-Errno.EADDRINUSE)).toBe('EADDRINUSE');
  });
});
