// Weight saliency over the forget set (docs/method.md 4a, 4b).
import type { NativeDataset, NativeModel } from '../native/index.js';
import { quadrature, type Rule } from './quadrature.js';

export interface GradSaliencyOptions {
  batchSize: number;
  augment: boolean; // SalUn's code draws the forget batches with training augmentation
  seed: number;
}

/** SalUn: s = |sum over forget batches of the gradient of -mean CE|, model in eval mode. */
export async function gradSaliency(
  model: NativeModel,
  data: NativeDataset,
  forget: Int32Array,
  o: GradSaliencyOptions,
): Promise<Float32Array> {
  const g = await model.gradient(data, {
    indices: forget,
    batchSize: o.batchSize,
    train: false,
    augment: o.augment,
    seed: o.seed,
    epoch: 0,
    lossScale: -1,
  });
  return g.map(Math.abs);
}

export interface IgOptions {
  baseline: Float32Array;
  rule: Rule;
  steps: number;
  batchSize: number;
  onPoint?: (k: number, of: number) => void;
}

export interface Completeness {
  sumIg: number; // sum_i IG_i
  lossDifference: number; // L(theta) - L(theta')
  lossAtModel: number;
  lossAtBaseline: number;
  relativeGap: number; // |sumIg - lossDifference| / |lossDifference|
}

export interface IgSaliency {
  ig: Float32Array;
  saliency: Float32Array; // |IG|
  completeness: Completeness;
}

/**
 * InSalUn: integrated gradients of the forget loss along the straight path from theta' to theta,
 * IG_i = (theta_i - theta'_i) * sum_k w_k dL/dtheta_i(theta' + a_k (theta - theta')).
 * The m path points x forget batches run natively; the model's weights are restored afterwards.
 */
export async function igSaliency(
  model: NativeModel,
  data: NativeDataset,
  forget: Int32Array,
  o: IgOptions,
): Promise<IgSaliency> {
  const { nodes, weights } = quadrature(o.rule, o.steps);
  const r = await model.integratedGradients(data, {
    indices: forget,
    batchSize: o.batchSize,
    baseline: o.baseline,
    nodes,
    weights,
    onPoint: o.onPoint && ((p) => o.onPoint!(p.k, p.of)),
  });
  let sumIg = 0;
  for (const v of r.ig) sumIg += v;
  const lossDifference = r.lossAtModel - r.lossAtBaseline;
  return {
    ig: r.ig,
    saliency: r.ig.map(Math.abs),
    completeness: {
      sumIg,
      lossDifference,
      lossAtModel: r.lossAtModel,
      lossAtBaseline: r.lossAtBaseline,
      relativeGap: Math.abs(sumIg - lossDifference) / Math.max(Math.abs(lossDifference), 1e-30),
    },
  };
}
