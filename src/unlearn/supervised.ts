// The methods that are plain (masked) SGD epochs through trainEpoch: retrain, ft, rl, ga, l1-sparse.

import { randomLabels } from '../data/splits.js';
import { fit, salunMilestones, scaleSchedule } from '../experiment/loop.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { computeOf } from '../native/index.js';
import {
  copyState,
  FORGET_STREAM,
  RETAIN_STREAM,
  reporterOf,
  sgdOf,
  trainPass,
  type UnlearnContext,
} from './common.js';
import type { MethodHyper } from './hyper.js';

/**
 * Retrain from the original's initial weights on retain, with the original's schedule when the
 * checkpoint records its recipe (else SalUn's: lr x0.1 at 50% and 75% of the epochs).
 */
export async function retrain(ctx: UnlearnContext, h: MethodHyper<'retrain'>): Promise<void> {
  if (!ctx.initPath) {
    throw new Error(
      "retrain needs the original model's initial weights: give the path of its init.safetensors (written next to the checkpoint by `insalun train`)",
    );
  }
  {
    // Released before the training, which does not need it.
    using init = (await loadCheckpoint(ctx.initPath, computeOf(ctx.model))).model;
    copyState(init, ctx.model);
  }
  await fit(
    ctx.model,
    ctx.data.train,
    ctx.view.retain,
    {
      epochs: h.epochs,
      batchSize: h.batchSize,
      sgd: sgdOf(h),
      schedule: ctx.recipe
        ? scaleSchedule(ctx.recipe, h.epochs)
        : { kind: 'multistep', milestones: salunMilestones(h.epochs), gamma: 0.1 },
      seed: ctx.seed,
      augment: h.augment,
      label: 'retrain',
    },
    reporterOf(ctx),
  );
}

/** Fine-tune on retain: catastrophic forgetting of the forget set. */
export async function fineTune(ctx: UnlearnContext, h: MethodHyper<'ft'>): Promise<void> {
  for (let epoch = 0; epoch < h.epochs; epoch++) {
    await trainPass(ctx.model, ctx, h, { indices: ctx.view.retain, stream: RETAIN_STREAM, label: 'ft' }, epoch);
  }
}

/**
 * l1-sparse: fine-tune with + a_t ||theta||_1, a_t = alpha (1 - epoch / epochs) (SalUn's FT_prune
 * with no_l1_epochs = 0); the native SGD adds a_t * sign(theta) to the gradient.
 */
export async function l1Sparse(ctx: UnlearnContext, h: MethodHyper<'l1-sparse'>): Promise<void> {
  for (let epoch = 0; epoch < h.epochs; epoch++) {
    const l1 = h.alpha * (1 - epoch / h.epochs);
    await trainPass(
      ctx.model,
      ctx,
      h,
      { indices: ctx.view.retain, stream: RETAIN_STREAM, label: 'l1-sparse', sgd: { l1 } },
      epoch,
    );
  }
}

/** Random labelling: forget batches with fresh uniform labels each epoch, then retain batches with true ones. */
export async function randomLabel(ctx: UnlearnContext, h: MethodHyper<'rl'>): Promise<void> {
  const { forget, retain } = ctx.view;
  for (let epoch = 0; epoch < h.epochs; epoch++) {
    const labels = randomLabels(forget.length, ctx.data.loaded.classes, ctx.seed, epoch);
    await trainPass(ctx.model, ctx, h, { indices: forget, labels, stream: FORGET_STREAM, label: 'rl forget' }, epoch);
    await trainPass(ctx.model, ctx, h, { indices: retain, stream: RETAIN_STREAM, label: 'rl retain' }, epoch);
  }
}

/** Gradient ascent on the forget set's cross-entropy. */
export async function gradientAscent(ctx: UnlearnContext, h: MethodHyper<'ga'>): Promise<void> {
  for (let epoch = 0; epoch < h.epochs; epoch++) {
    await trainPass(
      ctx.model,
      ctx,
      h,
      { indices: ctx.view.forget, lossScale: -1, stream: FORGET_STREAM, label: 'ga' },
      epoch,
    );
  }
}
