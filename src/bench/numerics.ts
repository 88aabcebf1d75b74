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

/** n random 32x32 RGB images (64 by default) and cycling labels from a seed: the parity suite's data, which the
 * sensitivity bench measures on too. */
export function randomImages(seed: number, n = 64, classes = 10) {
  const rand = seededRandom(seed);
  return {
    images: Uint8Array.from({ length: n * 3 * 32 * 32 }, () => Math.floor(rand() * 256)),
    labels: Int32Array.from({ length: n }, (_, i) => i % classes),
    shape: { n, c: 3, h: 32, w: 32 },
    mean: [0.49, 0.48, 0.45],
    std: [0.25, 0.24, 0.26],
    classes,
  };
}

/** |a - b| / |b| over whole vectors. */
export function relativeL2(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`length ${a.length} != ${b.length}`);
  let diff = 0,
    norm = 0;
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
  const drop = 23 - bits,
    half = 1 << (drop - 1);
  for (let i = 0; i < u.length; i++) u[i] = ((u[i] + half - 1 + ((u[i] >>> drop) & 1)) & ~((1 << drop) - 1)) >>> 0;
  return out;
}
