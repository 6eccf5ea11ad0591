/**
 * Seeded pseudo-random numbers: xoshiro128** 1.1 (Blackman & Vigna, 2018,
 * https://prng.di.unimi.it/xoshiro128starstar.c), state seeded by SplitMix32 from the
 * user's seed. 32-bit arithmetic only (Math.imul, >>> 0), no allocation per draw.
 * All randomness in a run comes from here (DESIGN.md "Determinism").
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  /** `seed` is any safe integer; its high and low 32 bits both feed the state. */
  constructor(readonly seed: number) {
    let x = (seed >>> 0) ^ Math.imul(Math.floor(seed / 2 ** 32) >>> 0, 0x9e3779b9);
    const next = (): number => {
      // SplitMix32 (Steele, Lea & Flood), as used to seed xoshiro from one word.
      x = (x + 0x9e3779b9) | 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1; // all-zero state is a fixed point
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const s1 = this.s1;
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of resolution. */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 2^32 (multiply-shift; bias < n / 2^32). */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }

  /** Fills `buf` with random bytes. */
  fillBytes(buf: Uint8Array): void {
    let i = 0;
    for (; i + 4 <= buf.length; i += 4) {
      const v = this.nextU32();
      buf[i] = v; buf[i + 1] = v >>> 8; buf[i + 2] = v >>> 16; buf[i + 3] = v >>> 24;
    }
    if (i < buf.length) {
      let v = this.nextU32();
      for (; i < buf.length; i++, v >>>= 8) buf[i] = v;
    }
  }

  /**
   * An independent stream for one component, derived from this seed and `label`
   * (FNV-1a of the label), so adding a component does not shift others' sequences.
   */
  fork(label: string): Rng {
    let h = 0x811c9dc5;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
    return new Rng(((this.seed >>> 0) ^ (h >>> 0)) + (h >>> 0) * 2 ** 21);
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
