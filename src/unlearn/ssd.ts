// Selective Synaptic Dampening (Foster et al., AAAI 2024): no training. Parameters far more
// important to the forget set than to the whole training set are shrunk toward zero.
import type { UnlearnContext } from './common.js';
import type { MethodHyper } from './hyper.js';

/**
 * Diagonal Fisher importance as SSD computes it: the squared batch gradient summed over batches,
 * divided by the number of batches (eval-mode BN, un-augmented images).
 */
async function importance(ctx: UnlearnContext, indices: Int32Array, batchSize: number): Promise<Float32Array> {
  const squares = await ctx.model.gradient(ctx.data.train, {
    indices,
    batchSize,
    train: false,
    augment: false,
    squared: true,
    seed: ctx.seed,
    epoch: 0,
  });
  const batches = Math.ceil(indices.length / batchSize);
  return squares.map((s) => s / batches);
}

/** Where I_f > alpha * I_D: theta *= min(lambda * I_D / I_f, 1); only the mask's coordinates change. */
export async function selectiveSynapticDampening(ctx: UnlearnContext, h: MethodHyper<'ssd'>): Promise<void> {
  const { forget, retain } = ctx.view;
  const pool = Int32Array.from([...retain, ...forget]).sort(); // the whole training pool, dataset order
  const full = await importance(ctx, pool, h.batchSize);
  const forgetImportance = await importance(ctx, forget, h.batchSize);
  const theta = ctx.model.getParameters();
  for (let i = 0; i < theta.length; i++) {
    if (ctx.mask && ctx.mask[i] === 0) continue;
    if (forgetImportance[i] > h.alpha * full[i]) theta[i] *= Math.min((h.lambda * full[i]) / forgetImportance[i], 1);
  }
  ctx.model.setParameters(theta);
}
