// Philox4x32-10 in TypeScript, written from the paper's definition, to check that the native
// gather draws the documented augmentation for (seed, epoch, index).
function mulhilo(a: number, b: number): [number, number] {
  const p = BigInt(a >>> 0) * BigInt(b >>> 0);
  return [Number(p >> 32n) >>> 0, Number(p & 0xffffffffn) >>> 0];
}

export function philox(ctr: [number, number, number, number], key0: number, key1: number): number[] {
  let [c0, c1, c2, c3] = ctr.map((v) => v >>> 0);
  let k0 = key0 >>> 0,
    k1 = key1 >>> 0;
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulhilo(0xd2511f53, c0);
    const [hi1, lo1] = mulhilo(0xcd9e8d57, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + 0x9e3779b9) >>> 0;
    k1 = (k1 + 0xbb67ae85) >>> 0;
  }
  return [c0, c1, c2, c3];
}

export function augmentation(seed: number, epoch: number, index: number, pad: number) {
  const r = philox([index, epoch, 0, 0], seed >>> 0, Math.floor(seed / 2 ** 32));
  const span = 2 * pad + 1;
  return { dy: r[0] % span, dx: r[1] % span, flip: (r[2] & 1) === 1 };
}
