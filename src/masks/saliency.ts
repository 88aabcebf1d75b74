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
  return {
    ig: r.ig,
    saliency: r.ig.map(Math.abs),
    completeness: completenessOf(r.ig, r.lossAtModel, r.lossAtBaseline),
  };
}

/** How far sum_i IG_i is from L(theta) - L(theta'), which it equals in the limit of many steps. */
export function completenessOf(ig: Float32Array, lossAtModel: number, lossAtBaseline: number): Completeness {
  let sumIg = 0;
  for (const v of ig) sumIg += v;
  const lossDifference = lossAtModel - lossAtBaseline;
  return {
    sumIg,
    lossDifference,
    lossAtModel,
    lossAtBaseline,
    relativeGap: Math.abs(sumIg - lossDifference) / Math.max(Math.abs(lossDifference), 1e-30),
  };
}

// IG that targets what is specific to the forget set (docs/method.md 4d). Both variants use the IG
// of the retain loss on a retain sample along the same path: IG is linear in the loss, so
// IG(L_f - lambda L_r) = IG(L_f) - lambda IG(L_r) exactly, point by point of the quadrature.
export const IG_TARGETS = ['forget', 'contrastive', 'retain-normalized'] as const;
export type IgTarget = (typeof IG_TARGETS)[number];

export interface TargetedIgOptions extends IgOptions {
  target: IgTarget;
  retain?: Int32Array; // the retain sample (contrastive, retain-normalized)
  lambda?: number; // contrastive: weight of the retain loss (default 1)
  floor?: number; // retain-normalized: the denominator's floor, as a fraction of mean |IG_r| (default 0.1)
}

export interface TargetedIg {
  saliency: Float32Array;
  /** forget and retain-normalized: of IG(L_f); contrastive: of IG(L_f - lambda L_r). */
  completeness: Completeness;
  /** Of IG(L_r) on the retain sample (contrastive, retain-normalized). */
  retainCompleteness?: Completeness;
}

export const DEFAULT_CONTRAST_LAMBDA = 1;
export const DEFAULT_RETAIN_FLOOR = 0.1;

/**
 * forget: |IG(L_f)|. contrastive: |IG(L_f) - lambda IG(L_r)|, completeness against
 * [L_f - lambda L_r](theta) - [..](theta'). retain-normalized: |IG(L_f)| / max(|IG(L_r)|, floor x
 * mean |IG(L_r)|), as SSD divides forget by retain importance; the floor keeps parameters the retain
 * loss does not use from dominating by a near-zero denominator.
 */
export async function targetedIgSaliency(
  model: NativeModel,
  data: NativeDataset,
  forget: Int32Array,
  o: TargetedIgOptions,
): Promise<TargetedIg> {
  const f = await igSaliency(model, data, forget, o);
  if (o.target === 'forget') return { saliency: f.saliency, completeness: f.completeness };
  if (!o.retain?.length) throw new Error(`IG target ${o.target} needs a retain sample`);
  const r = await igSaliency(model, data, o.retain, o);
  if (o.target === 'contrastive') {
    const lambda = o.lambda ?? DEFAULT_CONTRAST_LAMBDA;
    const ig = f.ig.map((v, i) => v - lambda * r.ig[i]);
    const [cf, cr] = [f.completeness, r.completeness];
    return {
      saliency: ig.map(Math.abs),
      completeness: completenessOf(
        ig,
        cf.lossAtModel - lambda * cr.lossAtModel,
        cf.lossAtBaseline - lambda * cr.lossAtBaseline,
      ),
      retainCompleteness: r.completeness,
    };
  }
  let meanRetain = 0;
  for (const v of r.saliency) meanRetain += v;
  meanRetain /= r.saliency.length;
  const floor = (o.floor ?? DEFAULT_RETAIN_FLOOR) * meanRetain;
  const saliency = f.saliency.map((v, i) => v / (Math.max(r.saliency[i], floor) || 1));
  return { saliency, completeness: f.completeness, retainCompleteness: r.completeness };
}
