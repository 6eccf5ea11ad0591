import { alignedBurstBytes, bytesToBusBoundary, copyBurstBytes } from '../../../sim/bus/boundary';
import { Cmd } from '../../../sim/bus/transaction';
import { armLpae4k } from '../../../sim/mmu/format';
import { MEM_BASE, MmuRig } from '../../helpers/mmuRig';

describe('4 KiB bus boundary (AXI A3.4.1, PCIe 2.2.7)', () => {
  test('bytes to the next boundary, above 2^32 too', () => {
    expect([0, 1, 0xfff, 0x1000, 0x1001].map(bytesToBusBoundary)).toEqual([4096, 4095, 1, 4096, 4095]);
    expect(bytesToBusBoundary(0x12_3456_7ff0)).toBe(16);
    expect(bytesToBusBoundary(2 ** 52 + 0x40)).toBe(4096 - 0x40);
  });

  test('a copy burst stops at the nearer boundary of its source and destination', () => {
    expect(copyBurstBytes(0x1000, 0x9000, 128, 10_000)).toBe(128);
    expect(copyBurstBytes(0x1fc0, 0x9000, 128, 10_000)).toBe(64); // source page ends
    expect(copyBurstBytes(0x1000, 0x9fe0, 128, 10_000)).toBe(32); // destination page ends
    expect(copyBurstBytes(0x1000, 0x9000, 8192, 10_000)).toBe(4096); // a burst above 4 KiB
    expect(copyBurstBytes(0x1000, 0x9000, 128, 20)).toBe(20); // the copy's last bytes
  });

  test('an aligned burst stops at the next burst-aligned address, 4 KiB boundary or the end', () => {
    expect(alignedBurstBytes(0x1010, 64, 1000)).toBe(48);
    expect(alignedBurstBytes(0x1000 - 100, 127, 1000)).toBe(Math.min(127 - ((0x1000 - 100) % 127), 100));
    expect(alignedBurstBytes(0x1f00, 127, 1000)).toBe(127 - (0x1f00 % 127));
    expect(alignedBurstBytes(0x1000 - 8, 127, 1000)).toBe(8);
    expect(alignedBurstBytes(0x3000, 16384, 1e6)).toBe(4096);
    expect(alignedBurstBytes(0x3000, 64, 10)).toBe(10);
  });

  test('an IOMMU refuses to translate a transaction that crosses one: its bytes past the page would land in another page', () => {
    const r = new MmuRig(armLpae4k);
    r.tables.map(0x4000, MEM_BASE + 0x10_0000, 12);
    r.tables.map(0x5000, MEM_BASE + 0x20_0000, 12);
    const { master } = r.device([{ cmd: Cmd.Write, addr: 0x4fc0, size: 128 }]);
    master.start();
    expect(() => r.run()).toThrow(/dev0 sent a write of 128 bytes at 0x4fc0, across a 4 KiB boundary/);
  });
});
