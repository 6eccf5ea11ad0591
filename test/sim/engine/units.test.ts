import {
  ADDR_LIMIT, GiB, KiB, MiB, alignDown, alignUp, bitsAt, hex, isAligned, isPowerOfTwo, log2Exact, pageIndex,
} from '../../../sim/engine/addr';
import { UnitError, parseAddress, parseFrequency, parseSize, parseTime } from '../../../sim/engine/units';

describe('parseSize', () => {
  test.each<[unknown, number]>([
    [4096, 4096],
    ['4096', 4096],
    [0, 0],
    ['4KiB', 4096],
    ['16MiB', 16 * 2 ** 20],
    ['1GiB', 2 ** 30],
    ['2TiB', 2 * 2 ** 40],
    ['16 MiB', 16 * 2 ** 20],
    [' 8B ', 8],
    ['1.5KiB', 1536],
    ['0.5MiB', 512 * 1024],
    ['4KB', 4000],
    ['16.1KB', 16100], // 16.1 * 1000 is 16100.000000000002 in floating point
    ['2.01KB', 2010],
    ['1.5MB', 1_500_000],
    ['4.35GB', 4_350_000_000],
  ])('%p → %d', (input, bytes) => {
    expect(parseSize(input)).toBe(bytes);
  });

  test('bad unit: error names the unit', () => {
    expect(() => parseSize('4XB')).toThrow(UnitError);
    expect(() => parseSize('4XB')).toThrow(/"XB"/);
    expect(() => parseSize('4kib')).toThrow(/unknown size unit "kib"/);
    expect(() => parseSize('4 Kib')).toThrow(/use B, KiB, MiB/);
  });

  test.each<[unknown, RegExp]>([
    [-1, /size in bytes/],
    [1.5, /size in bytes/],
    [NaN, /size in bytes/],
    [Infinity, /size in bytes/],
    [2 ** 53, /size in bytes/],
    ['-4KiB', /expected a size/],
    ['1.3KiB', /whole number of bytes/], // 1331.2 bytes
    ['0.1B', /whole number of bytes/],
    ['', /expected a size/],
    ['KiB', /expected a size/],
    ['4 KiB B', /expected a size/],
    ['0x1000', /size unit|expected a size/],
    [null, /expected a size/],
    [{}, /expected a size/],
  ])('rejects %p', (input, msg) => {
    expect(() => parseSize(input)).toThrow(UnitError);
    expect(() => parseSize(input)).toThrow(msg);
  });
});

describe('parseAddress', () => {
  test.each<[unknown, number]>([
    ['0x8000_0000', 0x8000_0000],
    ['0x80000000', 2147483648],
    ['0xABCdef', 0xabcdef],
    ['4096', 4096],
    [4096, 4096],
  ])('%p → %d', (input, addr) => {
    expect(parseAddress(input)).toBe(addr);
  });

  test('hex with underscores, decimal strings, numbers, large values', () => {
    expect(parseAddress('0x8000_0000')).toBe(2 ** 31);
    expect(parseAddress('0xdead_beef_0000')).toBe(0xdeadbeef0000);
    expect(parseAddress('0xFFFF_FFFF_FFFF')).toBe(2 ** 48 - 1);
    expect(parseAddress(' 0x1000 ')).toBe(4096);
    expect(parseAddress('4096')).toBe(4096);
    expect(parseAddress('1_000_000')).toBe(1_000_000);
    expect(parseAddress(0)).toBe(0);
    expect(parseAddress(2147483648)).toBe(2147483648);
    expect(parseAddress(2 ** 52)).toBe(2 ** 52);
    expect(parseAddress(2 ** 53 - 1)).toBe(2 ** 53 - 1);
    expect(parseAddress('0x1f_ffff_ffff_ffff')).toBe(2 ** 53 - 1);
    expect(parseAddress('9007199254740991')).toBe(2 ** 53 - 1);
  });

  test.each<unknown>([
    2 ** 53, 2 ** 64, '0x20_0000_0000_0000', '0xffff_ffff_ffff_ffff', '9007199254740992', '18446744073709551615',
    -1, 1.5, NaN, '-4096', '0x', '0xg', 'abc', '12ab', '', '4KiB', '1e6', null, undefined, true,
  ])('rejects %p', (input) => {
    expect(() => parseAddress(input)).toThrow(UnitError);
  });

  test('out-of-range message mentions 2^53', () => {
    expect(() => parseAddress(2 ** 53)).toThrow(/2\^53/);
    expect(() => parseAddress('garbage')).toThrow(/expected an address like "0x8000_0000", got "garbage"/);
  });
});

describe('parseTime', () => {
  test.each<[unknown, number]>([
    ['10us', 10_000_000],
    ['250ns', 250_000],
    ['250 ns', 250_000],
    ['1.5ms', 1_500_000_000],
    ['2s', 2e12],
    ['1ps', 1],
    ['100', 100],
    ['0.25ns', 250],
    ['1.001us', 1_001_000],
    [12345, 12345],
    [0, 0],
  ])('%p → %d ps', (input, ps) => {
    expect(parseTime(input)).toBe(ps);
  });

  test.each<unknown>(['10 minutes', '-1ns', 'ns', -5, 1.5, NaN, null, '10 US'])('rejects %p', (input) => {
    expect(() => parseTime(input)).toThrow(UnitError);
  });
});

describe('parseFrequency', () => {
  test.each<[unknown, number]>([
    ['1GHz', 1e9],
    ['800MHz', 800e6],
    ['1.2 GHz', 1.2e9],
    ['1.2GHz', 1_200_000_000],
    ['4.1GHz', 4_100_000_000], // 4.1 * 1e9 is 4099999999.9999995 in floating point
    ['1.07GHz', 1_070_000_000],
    ['16.1MHz', 16_100_000],
    ['32.768kHz', 32_768],
    ['100 Hz', 100],
    [1e9, 1e9],
  ])('%p → %d Hz', (input, hz) => {
    expect(parseFrequency(input)).toBe(hz);
  });

  test.each<unknown>(['1 GHZ', '1ghz', 'fast', '0Hz', 0, -1, NaN, Infinity, '2THz', 2e12, null])('rejects %p', (input) => {
    expect(() => parseFrequency(input)).toThrow(UnitError);
  });

  test('above 1 THz: message says why', () => {
    expect(() => parseFrequency(2e12)).toThrow(/1 THz/);
  });
});

describe('addr helpers', () => {
  const big = 0x1_2345_6789_a000; // > 2^32, 4 KiB aligned

  test('alignDown / alignUp / isAligned above 2^32', () => {
    expect(alignDown(big + 123, 4096)).toBe(big);
    expect(alignUp(big + 123, 4096)).toBe(big + 4096);
    expect(alignUp(big, 4096)).toBe(big);
    expect(alignDown(big, 4096)).toBe(big);
    expect(alignDown(2 ** 52 + 2 ** 21 + 5, 2 ** 21)).toBe(2 ** 52 + 2 ** 21);
    expect(alignUp(2 ** 40 + 1, GiB)).toBe(2 ** 40 + GiB);
    expect(alignDown(0x8000_0fff, 4 * KiB)).toBe(0x8000_0000);
    expect(isAligned(big, 4096)).toBe(true);
    expect(isAligned(big + 2048, 4096)).toBe(false);
    expect(isAligned(2 ** 48, 2 * MiB)).toBe(true);
  });

  test('pageIndex above 2^32', () => {
    expect(pageIndex(big, 12)).toBe(0x1_2345_6789a);
    expect(pageIndex(big + 4095, 12)).toBe(0x1_2345_6789a);
    expect(pageIndex(2 ** 52 - 1, 12)).toBe(2 ** 40 - 1);
    expect(pageIndex(2 ** 48, 21)).toBe(2 ** 27);
    expect(pageIndex(0xffff_ffff, 12)).toBe(0xfffff);
  });

  test('bitsAt extracts page-table indices from 48- and 52-bit addresses', () => {
    // AArch64 4 KiB granule: L0 [47:39], L1 [38:30], L2 [29:21], L3 [20:12].
    const va = 0xffff_8012_3456_7000 % 2 ** 48; // 0x8012_3456_7000
    expect(bitsAt(va, 39, 9)).toBe(0x100);
    expect(bitsAt(va, 30, 9)).toBe(0x048);
    expect(bitsAt(va, 21, 9)).toBe(0x1a2);
    expect(bitsAt(va, 12, 9)).toBe(0x167);
    expect(bitsAt(2 ** 52 - 1, 40, 12)).toBe(0xfff);
    expect(bitsAt(2 ** 52 + 2 ** 33, 33, 1)).toBe(1);
    expect(bitsAt(2 ** 52 + 2 ** 33, 32, 1)).toBe(0);
    expect(bitsAt(0xdead_beef, 0, 31)).toBe(0xdead_beef % 2 ** 31);
  });

  test('helpers agree with BigInt arithmetic on random addresses below 2^53', () => {
    let x = 0x1234567;
    let bad = 0;
    for (let i = 0; i < 5000; i++) {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      const addr = (x % 2 ** 21) * 2 ** 32 + ((x * 7919) >>> 0);
      const a = BigInt(addr);
      const shift = 12 + (i % 20);
      if (BigInt(pageIndex(addr, shift)) !== a >> BigInt(shift)) bad++;
      if (BigInt(alignDown(addr, 2 ** shift)) !== (a >> BigInt(shift)) << BigInt(shift)) bad++;
      if (BigInt(bitsAt(addr, shift, 9)) !== ((a >> BigInt(shift)) & 0x1ffn)) bad++;
    }
    expect(bad).toBe(0);
  });

  test('isPowerOfTwo and log2Exact', () => {
    for (let k = 0; k <= 53; k++) {
      expect(isPowerOfTwo(2 ** k)).toBe(true);
      expect(log2Exact(2 ** k)).toBe(k);
    }
    for (const n of [0, -2, 3, 6, 4095, 4097, 2 ** 40 + 2 ** 20, 0.5, 1.5, NaN, Infinity, -Infinity]) {
      expect(isPowerOfTwo(n)).toBe(false);
      expect(log2Exact(n)).toBeNaN();
    }
  });

  test('constants and hex', () => {
    expect(KiB).toBe(1024);
    expect(MiB).toBe(2 ** 20);
    expect(GiB).toBe(2 ** 30);
    expect(ADDR_LIMIT).toBe(2 ** 53);
    expect(hex(0x8000_0000)).toBe('0x80000000');
    expect(hex(big)).toBe('0x123456789a000');
  });
});
