// Boundary unlearning (Chen et al., CVPR 2023, as run by SalUn's code): move the forget images
// across the decision boundary, either to their nearest other class (shrink) or to a new shadow
// class that is then cut off (expanding).
import { Rng } from '../data/random.js';
import { createModel } from '../model/checkpoint.js';
import { computeOf, type NativeModel, type TensorEntry } from '../native/index.js';
import { architectureOf, FORGET_STREAM, trainPass, type UnlearnContext } from './common.js';
import type { MethodHyper } from './hyper.js';

/**
 * Boundary shrink. The labels are the frozen original's predictions on one-step FGSM images of the
 * (un-augmented) forget images, computed once before any update; SalUn recomputes them per batch
 * with a 5-step PGD against the same frozen model on augmented images, which gives the same kind of
 * "nearest wrong class" label. Training then sees the clean forget images, augmented like every
 * training batch (crop and flip do not change which class is nearest in any systematic way).
 */
export async function boundaryShrink(ctx: UnlearnContext, h: MethodHyper<'bs'>): Promise<void> {
  const forget = ctx.view.forget;
  const labels = await ctx.model.fgsmPredict(ctx.data.train, forget, h.eps, h.batchSize);
  for (let epoch = 0; epoch < h.epochs; epoch++) {
    await trainPass(ctx.model, ctx, h, { indices: forget, labels, stream: FORGET_STREAM, label: 'bs' }, epoch);
  }
}

// Stream key of the shadow row's initialization.
const SHADOW_STREAM = 0x736864; // 'shd'

const size = (t: TensorEntry) => t.shape.reduce((a, b) => a * b, 1);

/**
 * `narrow` extended to `length` values, the extra ones from `fill`. The fc layer's extra output is
 * its last row (row-major [classes, features]) and its last bias, so it is always a suffix.
 */
function extended(narrow: Float32Array, length: number, fill: () => number): Float32Array {
  const out = new Float32Array(length);
  out.set(narrow);
  for (let i = narrow.length; i < length; i++) out[i] = fill();
  return out;
}

/** The flat mask of the widened model: the original's mask, and 1 (trainable) on the shadow row. */
function widenMask(mask: Float32Array, narrow: NativeModel, wide: NativeModel): Float32Array {
  const narrowSizes = new Map(narrow.tensors().map((t) => [t.name, size(t)]));
  const out = new Float32Array(wide.parameterCount);
  let from = 0,
    to = 0;
  for (const t of wide.tensors().filter((x) => x.kind === 'parameter')) {
    const n = narrowSizes.get(t.name)!;
    out.set(
      extended(mask.subarray(from, from + n), size(t), () => 1),
      to,
    );
    from += n;
    to += size(t);
  }
  return out;
}

/**
 * Boundary expanding: a copy of the model with one more output (the shadow class, initialized like
 * PyTorch's Linear: uniform +-1/sqrt(fan_in) for weight and bias) learns to put every forget image
 * in the shadow class; the shadow output is then dropped and everything else copied back.
 */
export async function boundaryExpanding(ctx: UnlearnContext, h: MethodHyper<'be'>): Promise<void> {
  const arch = architectureOf(ctx.model, ctx.data);
  using wide = createModel({ ...arch, classes: arch.classes + 1 }, computeOf(ctx.model));
  const rng = new Rng(ctx.seed, SHADOW_STREAM);
  const fanIn = wide.tensors().find((t) => t.name === 'fc.weight')!.shape[1];
  const bound = 1 / Math.sqrt(fanIn);
  for (const t of wide.tensors()) {
    const data = ctx.model.getTensor(t.name);
    wide.setTensor(
      t.name,
      data instanceof Float32Array ? extended(data, size(t), () => (2 * rng.nextFloat() - 1) * bound) : data,
    );
  }
  if (ctx.mask) wide.setMask(widenMask(ctx.mask, ctx.model, wide), ctx.maskMode);

  const shadow = new Int32Array(ctx.view.forget.length).fill(arch.classes);
  for (let epoch = 0; epoch < h.epochs; epoch++) {
    await trainPass(
      wide,
      ctx,
      h,
      { indices: ctx.view.forget, labels: shadow, stream: FORGET_STREAM, label: 'be' },
      epoch,
    );
  }
  for (const t of ctx.model.tensors()) ctx.model.setTensor(t.name, wide.getTensor(t.name).subarray(0, size(t)));
}
