import { FRAME_BYTES, PhysicalMemory } from '../../../sim/mem/physmem';
import { SimInvariantError } from '../../../sim/engine/errors';

describe('PhysicalMemory', () => {
  test('unwritten memory reads as zeros and allocates nothing', () => {
    const m = new PhysicalMemory();
    expect(m.read8(0x1234)).toBe(0);
    expect(m.read32(0x8000_0000)).toBe(0);
    expect(m.read64(2 ** 40)).toBe(0);
    const buf = new Uint8Array(10000).fill(0xaa);
    m.read(0x10_0000 - 17, buf);
    expect(buf.every((b) => b === 0)).toBe(true);
    m.fill(0x5000, 8192, 0); // zero fill allocates nothing new
    expect(m.framesAllocated).toBe(0);
    // Word reads zero exactly the words asked for, and leave the rest of the array alone.
    const words = new Int32Array(8).fill(-1);
    m.readWords(0x8000_1000, words, 5);
    expect([...words]).toEqual([0, 0, 0, 0, 0, -1, -1, -1]);
    expect(m.framesAllocated).toBe(0);
  });

  test('frames are allocated only on write, one per touched 4 KiB frame', () => {
    const m = new PhysicalMemory();
    m.write8(0x1000, 1);
    expect(m.framesAllocated).toBe(1);
    m.write8(0x1fff, 2); // same frame
    expect(m.framesAllocated).toBe(1);
    m.write32(0x2ffe, 0xdeadbeef); // straddles frames 2 and 3
    expect(m.framesAllocated).toBe(3);
    m.read(0x9000, new Uint8Array(4096));
    expect(m.framesAllocated).toBe(3);
  });

  test('8/16/32/64-bit little-endian round trips', () => {
    const m = new PhysicalMemory();
    m.write8(0x100, 0xab);
    expect(m.read8(0x100)).toBe(0xab);
    m.write16(0x200, 0xbeef);
    expect(m.read16(0x200)).toBe(0xbeef);
    expect(m.read8(0x200)).toBe(0xef);
    expect(m.read8(0x201)).toBe(0xbe);
    m.write32(0x300, 0xdeadbeef);
    expect(m.read32(0x300)).toBe(0xdeadbeef);
    expect([0, 1, 2, 3].map((i) => m.read8(0x300 + i))).toEqual([0xef, 0xbe, 0xad, 0xde]);
    const v = 2 ** 53 - 12345;
    m.write64(0x400, v);
    expect(m.read64(0x400)).toBe(v);
    expect(m.read32(0x400)).toBe(v % 2 ** 32);
    expect(m.read32(0x404)).toBe(Math.floor(v / 2 ** 32));
  });

  test('round trips across a 4 KiB frame boundary', () => {
    const m = new PhysicalMemory();
    m.write16(0x0fff, 0x1234);
    expect(m.read16(0x0fff)).toBe(0x1234);
    expect(m.read8(0x0fff)).toBe(0x34);
    expect(m.read8(0x1000)).toBe(0x12);
    for (const a of [0x1ffd, 0x1ffe, 0x1fff]) {
      m.write32(a, 0xcafef00d);
      expect(m.read32(a)).toBe(0xcafef00d);
    }
    m.write32(0x1ffd, 0x89abcdef);
    expect([0, 1, 2, 3].map((i) => m.read8(0x1ffd + i))).toEqual([0xef, 0xcd, 0xab, 0x89]);
    const v = 0x1f_ffff_1234_5678;
    for (const a of [0x2ff9, 0x2ffc, 0x2fff]) {
      m.write64(a, v);
      expect(m.read64(a)).toBe(v);
    }
  });

  test('read64 of a value >= 2^53 throws; read64Halves works', () => {
    const m = new PhysicalMemory();
    m.write64Halves(0x800, 0x89abcdef, 0xffff0001);
    expect(() => m.read64(0x800)).toThrow(SimInvariantError);
    const out = new Uint32Array(2);
    m.read64Halves(0x800, out);
    expect(out[0]).toBe(0x89abcdef);
    expect(out[1]).toBe(0xffff0001);
    // The largest representable value still reads.
    m.write64Halves(0x900, 0xffffffff, 0x1fffff);
    expect(m.read64(0x900)).toBe(2 ** 53 - 1);
    m.write64Halves(0xa00, 0, 0x200000);
    expect(() => m.read64(0xa00)).toThrow(SimInvariantError);
  });

  test('write64 rejects non-integers, negatives and values >= 2^53', () => {
    const m = new PhysicalMemory();
    expect(() => m.write64(0, 1.5)).toThrow(SimInvariantError);
    expect(() => m.write64(0, -1)).toThrow(SimInvariantError);
    expect(() => m.write64(0, 2 ** 53)).toThrow(SimInvariantError);
    expect(() => m.write64(0, NaN)).toThrow(SimInvariantError);
    expect(m.framesAllocated).toBe(0);
  });

  test('bulk read/write across several frames, with offsets', () => {
    const m = new PhysicalMemory();
    const src = new Uint8Array(3 * 4096 + 100);
    for (let i = 0; i < src.length; i++) src[i] = (i * 7 + 3) & 0xff;
    const base = 0x4000_0000 + 4000; // starts near the end of a frame
    m.write(base, src, 50, src.length - 50);
    expect(m.framesAllocated).toBe(4); // [4000, 16338) of frames 0..3
    const dst = new Uint8Array(src.length + 10);
    m.read(base, dst, 10, src.length - 50);
    for (let i = 0; i < src.length - 50; i++) {
      if (dst[10 + i] !== src[50 + i]) throw new Error(`mismatch at ${i}`);
    }
    expect(dst[0]).toBe(0);
    expect(m.read8(base - 1)).toBe(0);
    expect(m.read8(base + src.length - 50)).toBe(0);
    expect(m.read8(base + 4096)).toBe(src[50 + 4096]);
  });

  test('copy moves bytes, including overlapping ranges like memmove', () => {
    const m = new PhysicalMemory();
    const src = new Uint8Array(6000);
    for (let i = 0; i < src.length; i++) src[i] = i % 251;
    m.write(0x10000, src);
    m.copy(0x30000 + 123, 0x10000, 6000);
    const out = new Uint8Array(6000);
    m.read(0x30000 + 123, out);
    expect(Buffer.from(out).equals(Buffer.from(src))).toBe(true);
    // Overlapping, forward by 100 bytes.
    m.copy(0x10000 + 100, 0x10000, 6000);
    m.read(0x10000 + 100, out);
    expect(Buffer.from(out).equals(Buffer.from(src))).toBe(true);
    expect(m.read8(0x10000 + 99)).toBe(99);
  });

  test('accesses outside [0, 2^53) throw', () => {
    const m = new PhysicalMemory();
    expect(() => m.read8(-1)).toThrow(SimInvariantError);
    expect(() => m.write(2 ** 53 - 2, new Uint8Array(4))).toThrow(SimInvariantError);
  });

  test('readWords/writeWords move the same bytes as read/write, aligned, unaligned and across a frame', () => {
    const m = new PhysicalMemory();
    const bytes = new Uint8Array(64);
    for (let i = 0; i < 64; i++) bytes[i] = (i * 37 + 11) & 0xff;
    const words = new Int32Array(bytes.buffer.slice(0));
    for (const addr of [0x4000, 0x4ff0 - 32, 0x4fe8 + 2, 0x5000 - 8]) {
      m.writeWords(addr, words, 16);
      const back = new Uint8Array(64);
      m.read(addr, back);
      expect(Array.from(back)).toEqual(Array.from(bytes));
      const w = new Int32Array(16);
      m.readWords(addr, w, 16);
      expect(Array.from(new Uint8Array(w.buffer))).toEqual(Array.from(bytes));
    }
    // Only the words asked for are touched.
    const w = new Int32Array(4).fill(-1);
    m.readWords(0x9000, w, 2);
    expect(Array.from(w)).toEqual([0, 0, -1, -1]);
    expect(() => m.readWords(0x4000, new Int32Array(2), 3)).toThrow(/3 words asked of an array of 2/);
    expect(() => m.writeWords(2 ** 53 - 4, new Int32Array(2), 2)).toThrow(SimInvariantError);
  });

  test('the frame-number word copies (the bus data path) agree with the address ones, and refuse what they refuse', () => {
    const m = new PhysicalMemory();
    const src = Int32Array.from({ length: 16 }, (_, i) => i * 0x01010101 - 7);
    // Past 2^31 (DRAM at 0x8000_0000), at a frame's last words, and a high frame number.
    for (const addr of [0x8000_0040, 0x8000_0fc0, 2 ** 52 + 4096 * 3 + 64]) {
      const frameNo = Math.floor(addr / FRAME_BYTES);
      m.writeFrameWords(frameNo, addr - frameNo * FRAME_BYTES, src, 16);
      const viaAddr = new Int32Array(16);
      m.readWords(addr, viaAddr, 16);
      expect(Array.from(viaAddr)).toEqual(Array.from(src));
      const viaFrame = new Int32Array(16);
      m.readFrameWords(frameNo, addr - frameNo * FRAME_BYTES, viaFrame, 16);
      expect(Array.from(viaFrame)).toEqual(Array.from(src));
      expect(m.read32(addr + 60)).toBe(src[15] >>> 0);
    }
    // Across a frame boundary, and unaligned: the byte path, same bytes.
    m.writeFrameWords(0x9000 / FRAME_BYTES, FRAME_BYTES - 8, src, 4);
    expect(m.read32(0x9000 + FRAME_BYTES + 4)).toBe(src[3] >>> 0);
    m.writeFrameWords(0x9000 / FRAME_BYTES, 2, src, 1);
    expect(m.read32(0x9002)).toBe(src[0] >>> 0);
    // A fractional or out-of-range address still fails as the byte path does.
    expect(() => m.readWords(2 ** 31 + 0.5, new Int32Array(2), 2)).toThrow(SimInvariantError);
    expect(() => m.readWords(-8, new Int32Array(2), 2)).toThrow(SimInvariantError);
    expect(() => m.readFrameWords(2 ** 41, 0, new Int32Array(2), 2)).toThrow(SimInvariantError);
    expect(() => m.readFrameWords(NaN, 0, new Int32Array(2), 2)).toThrow(SimInvariantError);
  });

  test('a frame read while absent and written afterwards reads back its data (the lookup cache keeps absent frames)', () => {
    const m = new PhysicalMemory();
    for (const addr of [0x7000, 0x7000 + 64 * 4096]) { // the same cache slot
      expect(m.read32(addr)).toBe(0);
      const w = new Int32Array(2);
      m.readWords(addr + 8, w, 2);
      expect(Array.from(w)).toEqual([0, 0]);
      m.write32(addr, 0x12345678);
      expect(m.read32(addr)).toBe(0x12345678);
      m.writeWords(addr + 8, Int32Array.of(7, -1), 2);
      m.readWords(addr + 8, w, 2);
      expect(Array.from(w)).toEqual([7, -1]);
    }
    expect(m.framesAllocated).toBe(2);
    expect(m.read32(0x7000)).toBe(0x12345678);
  });

  test('frames scattered over many 2 MiB regions, including ones that share a lookup-cache entry and the top of the address space, keep their own bytes', () => {
    const m = new PhysicalMemory();
    const REGION = 2 ** 21;
    // 300 regions (more than the region cache holds), a frame in each at a varying offset,
    // plus the last frame below 2^53; two passes so that later reads miss the cache.
    const addrs: number[] = [];
    for (let r = 0; r < 300; r++) addrs.push(0x8000_0000 + r * 7 * REGION + (r % 512) * 4096 + 8);
    addrs.push(2 ** 53 - 4096, 2 ** 40 + 4096);
    addrs.forEach((a, k) => {
      expect(m.read32(a)).toBe(0);
      m.write32(a, k + 1);
    });
    expect(m.framesAllocated).toBe(addrs.length);
    for (let pass = 0; pass < 2; pass++) {
      addrs.forEach((a, k) => {
        expect(m.read32(a)).toBe(k + 1);
        expect(m.read32(a - 4096)).toBe(0); // the frame before was never written
      });
    }
    expect(m.framesAllocated).toBe(addrs.length);
  });
});
