// Seeded pseudo-random numbers for everything the project draws in TypeScript: the synthetic data
// set, validation hold-outs, forget sets, random labels, epoch orders. Pure 32-bit integer math
// (xoshiro128** seeded through splitmix32), so a seed gives the same numbers on every platform.

const TWO_32 = 0x1_0000_0000;

/** splitmix32 finalizer: a bijective mix of one 32-bit word. */
function mix32(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x21f0aaad);
  x = Math.imul(x ^ (x >>> 15), 0x735a2d97);
  return (x ^ (x >>> 15)) >>> 0;
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

/** Splits a safe integer into its low and high 32-bit words (two's complement for negatives). */
function words(value: number): [number, number] {
  if (!Number.isSafeInteger(value)) throw new RangeError(`seed words must be safe integers, got ${value}`);
  return [value >>> 0, Math.floor(value / TWO_32) | 0];
}

/**
 * xoshiro128** generator. `new Rng(seed, ...keys)` gives an independent stream per key tuple, e.g.
 * `new Rng(seed, epoch)` for per-epoch random labels, without the streams overlapping by construction.
 */
export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;

  constructor(seed: number, ...keys: number[]) {
    // Absorb every word (and the word count, so (1) and (1, 0) differ) into one splitmix32 state.
    let h = mix32(keys.length + 1);
    for (const v of [seed, ...keys]) {
      for (const w of words(v)) h = mix32((h ^ w) + 0x9e3779b9);
    }
    // Expand with splitmix32 into the four state words; xoshiro only needs them not all zero.
    let state = h;
    const next = (): number => {
      state = (state + 0x9e3779b9) | 0;
      return mix32(state);
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Uniform integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Fills `out` with uniform 32-bit integers: the same values as repeated nextUint32(), faster. */
  fillUint32(out: Uint32Array): void {
    let s0 = this.s0;
    let s1 = this.s1;
    let s2 = this.s2;
    let s3 = this.s3;
    for (let i = 0; i < out.length; i++) {
      out[i] = Math.imul(rotl(Math.imul(s1, 5), 7), 9);
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = rotl(s3, 11);
    }
    this.s0 = s0;
    this.s1 = s1;
    this.s2 = s2;
    this.s3 = s3;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const hi = this.nextUint32() >>> 5; // 27 bits
    const lo = this.nextUint32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }
}

/** Uniform integer in [0, n), unbiased (rejection of the incomplete last block). 1 <= n <= 2^32. */
export function randomInt(rng: Rng, n: number): number {
  if (!Number.isInteger(n) || n < 1 || n > TWO_32)
    throw new RangeError(`randomInt: n must be an integer in [1, 2^32], got ${n}`);
  const limit = TWO_32 - (TWO_32 % n);
  for (;;) {
    const x = rng.nextUint32();
    if (x < limit) return x % n;
  }
}

/** Anything indexable and writable: arrays and typed arrays. */
export interface MutableIndexable<T> {
  length: number;
  [index: number]: T;
}

/** Fisher-Yates shuffle in place; returns the same array. */
export function shuffle<A extends MutableIndexable<unknown>>(array: A, rng: Rng): A {
  for (let i = array.length - 1; i > 0; i--) {
    const j = randomInt(rng, i + 1);
    const t = array[i];
    array[i] = array[j];
    array[j] = t;
  }
  return array;
}

/** A random permutation of 0..n-1. */
export function permutation(n: number, rng: Rng): Int32Array {
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = i;
  return shuffle(out, rng);
}

/**
 * k distinct integers of [0, n), uniform, in draw order (sort them if order should not matter).
 * A partial Fisher-Yates: the first k draws of a full shuffle, so sampling k is a prefix of sampling k+1.
 */
export function sampleWithoutReplacement(rng: Rng, n: number, k: number): Int32Array {
  if (!Number.isInteger(k) || k < 0 || k > n) throw new RangeError(`cannot sample ${k} distinct values from ${n}`);
  const pool = new Int32Array(n);
  for (let i = 0; i < n; i++) pool[i] = i;
  for (let i = 0; i < k; i++) {
    const j = i + randomInt(rng, n - i);
    const t = pool[i];
    pool[i] = pool[j];
    pool[j] = t;
  }
  return pool.slice(0, k);
}
