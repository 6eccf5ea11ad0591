import { SimInvariantError } from './errors';

/** Whether this host stores a Uint32Array word's low byte first (fillBytes' fast path). */
const LITTLE_ENDIAN = new Uint8Array(new Uint32Array([1]).buffer)[0] === 1;

/**
 * Seeded pseudo-random numbers: xoshiro128** 1.1 (Blackman & Vigna, 2018,
 * https://prng.di.unimi.it/xoshiro128starstar.c), state seeded by SplitMix32 from the
 * user's seed. 32-bit arithmetic only (Math.imul, >>> 0), no allocation per draw.
 * All randomness in a run comes from here (DESIGN.md "Determinism").
 */
export class Rng {
  // State words s0..s3 in an Int32Array: as object fields, values beyond the 31-bit
  // small-integer range are boxed doubles, and nextU32 ran 2.4x slower.
  private readonly s = new Int32Array(4);

  /**
   * `seed` is any safe integer. Its low 32 bits seed a SplitMix32 chain that fills the
   * four state words; a non-zero high word (seeds >= 2^32, negative seeds) is then
   * folded into s1..s3 through fmix32, a bijection with fmix32(0) = 0. So seeds below
   * 2^32 are plain SplitMix32, and distinct safe-integer seeds always give distinct
   * states (s0 fixes the low word, s1 then fixes the high word).
   */
  constructor(readonly seed: number) {
    let x = seed >>> 0;
    const next = (): number => {
      // SplitMix32 (Steele, Lea & Flood), as used to seed xoshiro from one word.
      x = (x + 0x9e3779b9) | 0;
      return fmix32(x);
    };
    const s = this.s;
    s[0] = next();
    s[1] = next();
    s[2] = next();
    s[3] = next();
    const hi = Math.floor(seed / 2 ** 32) >>> 0;
    if (hi !== 0) {
      s[1] ^= fmix32(hi);
      s[2] ^= fmix32((hi + 0x9e3779b9) | 0);
      s[3] ^= fmix32(hi ^ 0x85ebca6b);
    }
    if ((s[0] | s[1] | s[2] | s[3]) === 0) s[0] = 1; // all-zero state is a fixed point
  }

  /**
   * A generator started from an explicit xoshiro128** state (four 32-bit words, not all
   * zero), for known-answer tests and checkpoints. Its `seed` reads 0, so `fork()`
   * derives children as if the seed were 0.
   */
  static fromState(s0: number, s1: number, s2: number, s3: number): Rng {
    if (((s0 | s1 | s2 | s3) | 0) === 0) throw new SimInvariantError('xoshiro128** state must not be all zero');
    const r = new Rng(0);
    r.s[0] = s0;
    r.s[1] = s1;
    r.s[2] = s2;
    r.s[3] = s3;
    return r;
  }

  /** The current state words [s0, s1, s2, s3], each as an unsigned 32-bit integer. */
  state(): [number, number, number, number] {
    const s = this.s;
    return [s[0] >>> 0, s[1] >>> 0, s[2] >>> 0, s[3] >>> 0];
  }

  /** A uniformly distributed unsigned 32-bit integer. */
  nextU32(): number {
    const s = this.s;
    const s1 = s[1];
    const result = Math.imul(rotl(Math.imul(s1, 5), 7), 9) >>> 0;
    const t = s1 << 9;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
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

  /**
   * `words.length` draws of nextU32 into `words`, with the state in locals: a call per
   * word loaded and stored the four state words each time, and the default scenario's
   * 16 MiB source fill spent 14 ms of its 0.34 s run on it.
   */
  private fillWords(words: Int32Array): void {
    const s = this.s;
    let s0 = s[0], s1 = s[1], s2 = s[2], s3 = s[3];
    for (let w = 0; w < words.length; w++) {
      words[w] = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
    }
    s[0] = s0;
    s[1] = s1;
    s[2] = s2;
    s[3] = s3;
  }

  /** Fills `buf` with random bytes. */
  fillBytes(buf: Uint8Array): void {
    let i = 0;
    if (LITTLE_ENDIAN && (buf.byteOffset & 3) === 0) {
      // Same bytes as the loop below (little-endian words), a word per store.
      const words = new Int32Array(buf.buffer, buf.byteOffset, buf.length >>> 2);
      this.fillWords(words);
      i = words.length << 2;
    }
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
   * Depends only on (seed, label), not on how many numbers this generator has drawn.
   */
  fork(label: string): Rng {
    let h = 0x811c9dc5;
    for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
    h >>>= 0;
    // Child seed, a safe integer: low word = seed's low word ^ h; 21 high bits mix the
    // seed's high word with h (so seeds differing only above bit 31 fork differently).
    const lo = this.seed >>> 0;
    const hi = Math.floor(this.seed / 2 ** 32) >>> 0;
    const childHi = fmix32(hi ^ Math.imul(h, 0x9e3779b9)) >>> 11;
    return new Rng(((lo ^ h) >>> 0) + childHi * 2 ** 32);
  }
}

function fmix32(z: number): number {
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}
