// How forget-specific a mask is (docs/method.md 4d): the Jaccard overlap of the masks two forget
// sets give, and where in the network a mask (and its saliency) lies, by layer type. A mask that
// barely changes with the forget set marks general task importance, not the forget set's.
import type { TensorEntry } from '../native/index.js';

export const LAYER_TYPES = ['convolution', 'batchnorm', 'linear'] as const;
export type LayerType = (typeof LAYER_TYPES)[number];

/** The layer type of a parameter tensor of the ResNet-18 (torchvision names): 4-D weights are
 * convolutions, fc.* the classifier, the 1-D weights and biases of bn* and downsample.1 batch norm. */
export function layerTypeOf(name: string, shape: number[]): LayerType {
  if (shape.length === 4) return 'convolution';
  if (/^fc\./.test(name)) return 'linear';
  if (/(^|\.)(bn\d+|downsample\.1)\.(weight|bias)$/.test(name)) return 'batchnorm';
  throw new Error(`parameter ${name} [${shape}] is of no known layer type`);
}

export interface LayerTypeShare {
  type: LayerType;
  parameters: number; // parameters of this type
  parameterShare: number; // of all parameters
  ones: number; // of them in the mask
  maskShare: number; // of all ones of the mask
  density: number; // ones / parameters
}

/** Per layer type: its parameters, the mask's ones in it, and their shares. */
export function layerTypeShares(mask: Float32Array, tensors: TensorEntry[]): LayerTypeShare[] {
  const totals = typeTotals(mask, tensors);
  const allParameters = totals.reduce((s, t) => s + t.parameters, 0);
  const allOnes = totals.reduce((s, t) => s + t.sum, 0);
  return totals.map(({ type, parameters, sum }) => ({
    type,
    parameters,
    parameterShare: parameters / allParameters,
    ones: sum,
    maskShare: allOnes > 0 ? sum / allOnes : 0,
    density: parameters > 0 ? sum / parameters : 0,
  }));
}

/** Per layer type, the share of the total saliency (e.g. of sum |IG|) its parameters hold. */
export function saliencyShares(saliency: Float32Array, tensors: TensorEntry[]): { type: LayerType; share: number }[] {
  const totals = typeTotals(saliency, tensors);
  const all = totals.reduce((s, t) => s + t.sum, 0);
  return totals.map(({ type, sum }) => ({ type, share: all > 0 ? sum / all : 0 }));
}

function typeTotals(values: Float32Array, tensors: TensorEntry[]) {
  const totals = LAYER_TYPES.map((type) => ({ type, parameters: 0, sum: 0 }));
  let offset = 0;
  for (const t of tensors.filter((x) => x.kind === 'parameter')) {
    const size = t.shape.reduce((a, b) => a * b, 1);
    const total = totals[LAYER_TYPES.indexOf(layerTypeOf(t.name, t.shape))];
    let sum = 0; // in float64: millions of float32 values
    for (let i = offset; i < offset + size; i++) sum += values[i];
    total.parameters += size;
    total.sum += sum;
    offset += size;
  }
  if (offset !== values.length) throw new Error(`${values.length} values for ${offset} parameters`);
  return totals;
}

/** |A and B| / |A or B| of two 0/1 masks (1 when both are empty). */
export function jaccard(a: Float32Array, b: Float32Array): number {
  if (a.length !== b.length) throw new Error(`masks of ${a.length} and ${b.length} values cannot be compared`);
  let both = 0,
    either = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i] !== 0,
      y = b[i] !== 0;
    if (x && y) both++;
    if (x || y) either++;
  }
  return either === 0 ? 1 : both / either;
}
