// Influence unlearning (IU) as in SalUn's Wfisher.py: one WoodFisher inverse-Fisher step. All
// gradients are taken with eval-mode BN on un-augmented images (SalUn calls model.eval() first).
import { batchesOf, type UnlearnContext } from './common.js';
import type { MethodHyper } from './hyper.js';

/** Sum over samples of the per-sample CE gradient: each batch-mean gradient times its batch size. */
async function gradientSum(ctx: UnlearnContext, indices: Int32Array, batchSize: number): Promise<Float64Array> {
  const sum = new Float64Array(ctx.model.parameterCount);
  for (const batch of batchesOf(indices, batchSize)) {
    const g = await gradientOf(ctx, batch);
    for (let i = 0; i < sum.length; i++) sum[i] += g[i] * batch.length;
  }
  return sum;
}

function gradientOf(ctx: UnlearnContext, batch: Int32Array): Promise<Float32Array> {
  return ctx.model.gradient(ctx.data.train, {
    indices: batch,
    batchSize: batch.length,
    train: false,
    augment: false,
    seed: ctx.seed,
    epoch: 0,
  });
}

function dot(a: Float64Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i] * b[i];
  return s;
}

/**
 * SalUn's woodfisher(): k starts at v; each per-sample retain gradient g (in dataset order, as its
 * unshuffled loader) applies the rank-one Sherman-Morrison update of the empirical Fisher with
 * dampening N. Reproduced as written: o stays a multiple of the first gradient. SalUn's loop stops
 * after index N + 1 (N + 2 samples); here exactly `samples` samples, with N = samples.
 */
async function woodFisher(ctx: UnlearnContext, v: Float64Array, samples: number): Promise<Float64Array> {
  const k = Float64Array.from(v);
  let o: Float64Array | null = null;
  for (const i of ctx.view.retain.subarray(0, samples)) {
    const g = await gradientOf(ctx, Int32Array.of(i));
    if (o === null) {
      o = Float64Array.from(g);
      continue;
    }
    const tmp = dot(o, g);
    const kStep = dot(k, g) / (samples + tmp);
    const oScale = 1 - tmp / (samples + tmp);
    for (let j = 0; j < k.length; j++) {
      k[j] -= kStep * o[j];
      o[j] *= oScale;
    }
  }
  return k;
}

/** theta += alpha * k (on the mask's coordinates), with v = forget gradient - retain gradient, weighted as in SalUn. */
export async function influenceUnlearning(ctx: UnlearnContext, h: MethodHyper<'iu'>): Promise<void> {
  const { forget, retain } = ctx.view;
  if (retain.length === 0) throw new Error('iu needs a non-empty retain set');
  const nf = forget.length,
    nr = retain.length;
  const forgetGrad = await gradientSum(ctx, forget, h.batchSize);
  const retainGrad = await gradientSum(ctx, retain, h.batchSize);
  const v = new Float64Array(forgetGrad.length);
  for (let i = 0; i < v.length; i++) v[i] = forgetGrad[i] / (nf + nr) - (retainGrad[i] * nf) / ((nf + nr) * nr);
  const k = await woodFisher(ctx, v, h.samples);
  const theta = ctx.model.getParameters();
  for (let i = 0; i < theta.length; i++) {
    if (ctx.mask?.[i] !== 0) theta[i] += h.alpha * k[i]; // masked-out weights stay bit-identical
  }
  ctx.model.setParameters(theta);
}
