// From saliency to masks (docs/method.md 4c): one global ranking over every parameter; ratio r keeps
// exactly floor(N*r) largest saliencies; ties go to the lower flat index, so masks are deterministic.
import type { TensorEntry } from '../native/index.js';

export function topkMask(saliency: Float32Array, ratio: number): Float32Array {
  if (!(ratio >= 0 && ratio <= 1)) throw new RangeError(`mask ratio must be in [0, 1], got ${ratio}`);
  const n = saliency.length;
  const keep = Math.floor(n * ratio);
  const mask = new Float32Array(n);
  if (keep === 0) return mask;
  if (keep === n) return mask.fill(1);
  for (const v of saliency) if (Number.isNaN(v)) throw new RangeError('saliency contains NaN');
  // The keep-th largest value is the threshold: everything above it is in, then equal values in
  // index order until the count is reached.
  const sorted = Float32Array.from(saliency).sort();
  const threshold = sorted[n - keep];
  let taken = 0;
  for (let i = 0; i < n; i++) {
    if (saliency[i] > threshold) {
      mask[i] = 1;
      taken++;
    }
  }
  for (let i = 0; i < n && taken < keep; i++) {
    if (saliency[i] === threshold) {
      mask[i] = 1;
      taken++;
    }
  }
  return mask;
}

export interface LayerDensity {
  name: string;
  size: number;
  ones: number;
  density: number;
}

/** Fraction of ones per parameter tensor, in state_dict order. */
export function layerDensity(mask: Float32Array, tensors: TensorEntry[]): LayerDensity[] {
  const out: LayerDensity[] = [];
  let offset = 0;
  for (const t of tensors.filter((x) => x.kind === 'parameter')) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    let ones = 0;
    for (let i = offset; i < offset + size; i++) ones += mask[i];
    out.push({ name: t.name, size, ones, density: ones / size });
    offset += size;
  }
  return out;
}
