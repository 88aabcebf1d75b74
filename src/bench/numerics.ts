// What the parity suite and the gradient-sensitivity bench share: seeded data, whole-vector
// comparisons.

/** A seeded generator of uniform [0, 1) numbers (mulberry32): the same data for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** |a - b| / |b| over whole vectors. */
export function relativeL2(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let diff = 0, norm = 0;
  for (let i = 0; i < a.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

/** Every value rounded to `bits` explicit mantissa bits, to nearest even (TF32: 10, bf16: 7). */
export function roundMantissa(x: Float32Array, bits: number): Float32Array {
  const out = x.slice();
  if (bits >= 23) return out; // fp32 keeps its 23
  const u = new Uint32Array(out.buffer);
  const drop = 23 - bits, half = 1 << (drop - 1);
  for (let i = 0; i < u.length; i++) u[i] = ((u[i] + half - 1 + ((u[i] >>> drop) & 1)) & ~((1 << drop) - 1)) >>> 0;
  return out;
}
