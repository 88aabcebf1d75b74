// Methods whose loss mixes two terms per step, run batch by batch with forwardBatch/backwardBatch:
// neggrad+ (CE on retain minus CE on forget) and SCRUB (teacher-student distillation).
import { labelsOf } from '../experiment/data.js';
import type { NativeModel } from '../native/index.js';
import {
  batchesOf,
  cloneModel,
  customEpoch,
  FORGET_STREAM,
  RETAIN_STREAM,
  type StepResult,
  sgdOf,
  shuffled,
  trainForward,
  type UnlearnContext,
} from './common.js';
import type { MethodHyper, SgdHyper } from './hyper.js';
import { crossEntropy, distillKL, type LossGradient, sumLosses } from './losses.js';

/** The batches of one epoch over `indices`, in the epoch's seeded order. */
function epochBatches(
  ctx: UnlearnContext,
  h: SgdHyper,
  indices: Int32Array,
  epoch: number,
  stream: number,
): Int32Array[] {
  return batchesOf(shuffled(indices, undefined, ctx.seed, epoch, stream).indices, h.batchSize);
}

/**
 * Forward `batch` through the model (train mode), compute the loss from its logits and backpropagate
 * it into the gradient buffer. backwardBatch must follow its own forwardBatch, hence one helper.
 */
async function accumulate<L extends LossGradient>(
  model: NativeModel,
  ctx: UnlearnContext,
  h: SgdHyper,
  batch: Int32Array,
  epoch: number,
  loss: (logits: Float32Array) => L,
): Promise<L> {
  const logits = await model.forwardBatch(ctx.data.train, batch, trainForward(ctx, h, epoch));
  const result = loss(logits);
  await model.backwardBatch(result.grad);
  return result;
}

/**
 * NegGrad+: beta * CE(retain batch) - (1 - beta) * CE(forget batch), retain batch i paired with
 * forget batch i mod (forget batches); one epoch is one pass over retain.
 */
export async function negGradPlus(ctx: UnlearnContext, h: MethodHyper<'neggrad+'>): Promise<void> {
  const { model } = ctx;
  const classes = ctx.data.loaded.classes;
  for (let epoch = 0; epoch < h.epochs; epoch++) {
    const retain = epochBatches(ctx, h, ctx.view.retain, epoch, RETAIN_STREAM);
    const forget = epochBatches(ctx, h, ctx.view.forget, epoch, FORGET_STREAM);
    await customEpoch(ctx, 'neggrad+', epoch, h.epochs, retain.length, async (b): Promise<StepResult> => {
      const r = retain[b],
        f = forget[b % forget.length];
      model.zeroGradients();
      const kept = await accumulate(model, ctx, h, r, epoch, (z) =>
        crossEntropy(z, labelsOf(ctx.data, r), classes, h.beta),
      );
      const ascended = await accumulate(model, ctx, h, f, epoch, (z) =>
        crossEntropy(z, labelsOf(ctx.data, f), classes, -(1 - h.beta)),
      );
      model.step(sgdOf(h));
      return { loss: kept.loss + ascended.loss, correct: kept.correct, count: r.length };
    });
  }
}

/**
 * SCRUB (Kurmanji et al., NeurIPS 2023): the student (the model) moves away from a frozen copy of
 * the original on forget (max steps: -KL, the first `msteps` epochs) and stays close to it on
 * retain (min steps: gamma * CE + alpha * KL). The teacher sees the identical augmented images
 * (augmentation is keyed by seed, epoch and dataset index) with eval-mode BN, as in SCRUB's code.
 * SCRUB runs max steps while epoch <= msteps; here exactly `msteps` epochs have one (docs/method.md: 2
 * max steps).
 */
export async function scrub(ctx: UnlearnContext, h: MethodHyper<'scrub'>): Promise<void> {
  const { model } = ctx;
  const classes = ctx.data.loaded.classes;
  using teacher = cloneModel(model, ctx.data);
  const teacherLogits = (batch: Int32Array, epoch: number) =>
    teacher.forwardBatch(ctx.data.train, batch, { ...trainForward(ctx, h, epoch), train: false });

  const distillPass = async (
    label: string,
    batches: Int32Array[],
    epoch: number,
    loss: (student: Float32Array, teacher: Float32Array, batch: Int32Array) => LossGradient & { correct?: number },
  ) =>
    customEpoch(ctx, label, epoch, h.epochs, batches.length, async (b): Promise<StepResult> => {
      const batch = batches[b];
      const target = await teacherLogits(batch, epoch);
      model.zeroGradients();
      const result = await accumulate(model, ctx, h, batch, epoch, (z) => loss(z, target, batch));
      model.step(sgdOf(h));
      return { loss: result.loss, correct: result.correct ?? 0, count: batch.length };
    });

  for (let epoch = 0; epoch < h.epochs; epoch++) {
    if (epoch < h.msteps) {
      const forget = epochBatches(ctx, h, ctx.view.forget, epoch, FORGET_STREAM);
      await distillPass('scrub max', forget, epoch, (z, t) => distillKL(z, t, classes, h.T, -1));
    }
    const retain = epochBatches(ctx, h, ctx.view.retain, epoch, RETAIN_STREAM);
    await distillPass('scrub min', retain, epoch, (z, t, batch) => {
      const ce = crossEntropy(z, labelsOf(ctx.data, batch), classes, h.gamma);
      return { ...sumLosses(ce, distillKL(z, t, classes, h.T, h.alpha)), correct: ce.correct };
    });
  }
}
