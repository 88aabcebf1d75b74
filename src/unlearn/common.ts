// What every unlearning method shares: its context, SGD settings from hyperparameters, seeded
// passes over index sets (through trainEpoch, or batch by batch for custom losses), and model copies.
import type { ExperimentData } from '../experiment/data.js';
import type { ForgetSelection } from '../experiment/forget.js';
import {
  type EpochRun,
  epochOrder,
  type Reporter,
  runEpoch,
  silentReporter,
  type TrainRecipe,
} from '../experiment/loop.js';
import { type Architecture, createModel } from '../model/checkpoint.js';
import { disposeOnError } from '../native/dispose.js';
import { computeOf, type MaskMode, type NativeModel, type SgdOptions } from '../native/index.js';
import type { HyperValues, SgdHyper } from './hyper.js';

export interface UnlearnContext {
  model: NativeModel; // starts as the original model; unlearned in place
  data: ExperimentData;
  view: ForgetSelection;
  mask: Float32Array | null; // flat 0/1 over the parameters (parameter order), or null
  maskMode: MaskMode;
  initPath?: string; // the original's init.safetensors (retrain starts from it)
  recipe?: TrainRecipe; // how the original was trained: retrain repeats it (defaults and schedule)
  hyper: HyperValues; // overrides of the defaults, validated by runUnlearning
  seed: number;
  reporter?: Reporter;
}

// Shuffling streams, so the forget and retain orders of one epoch are independent draws.
export const RETAIN_STREAM = 0;
export const FORGET_STREAM = 1;

/** SGD of every gradient method (docs/method.md 5): momentum and weight decay from the hyperparameters. */
export function sgdOf(h: SgdHyper, extra: Partial<SgdOptions> = {}): SgdOptions {
  return { lr: h.lr, momentum: h.momentum, weightDecay: h.weightDecay, ...extra };
}

export function reporterOf(ctx: UnlearnContext): Reporter {
  return ctx.reporter ?? silentReporter;
}

/** A seeded shuffle of indices with their labels kept alongside. */
export function shuffled(
  indices: Int32Array,
  labels: Int32Array | undefined,
  seed: number,
  epoch: number,
  stream: number,
): { indices: Int32Array; labels?: Int32Array } {
  const order = epochOrder(Int32Array.from(indices.keys()), seed, epoch, stream);
  return { indices: order.map((j) => indices[j]), labels: labels && order.map((j) => labels[j]) };
}

export interface Pass {
  indices: Int32Array;
  labels?: Int32Array; // per index; the true labels when absent
  lossScale?: number;
  stream: number;
  label: string; // for progress lines
  sgd?: Partial<SgdOptions>; // per-pass extras (the l1 coefficient)
}

/** One shuffled trainEpoch over a pass's indices, with augmentation and SGD from the hyperparameters. */
export async function trainPass(
  model: NativeModel,
  ctx: UnlearnContext,
  h: SgdHyper,
  pass: Pass,
  epoch: number,
): Promise<EpochRun> {
  const order = shuffled(pass.indices, pass.labels, ctx.seed, epoch, pass.stream);
  return runEpoch(
    model,
    ctx.data.train,
    {
      ...order,
      batchSize: h.batchSize,
      augment: h.augment,
      seed: ctx.seed,
      epoch,
      epochs: h.epochs,
      lossScale: pass.lossScale,
      sgd: sgdOf(h, pass.sgd),
      label: pass.label,
    },
    reporterOf(ctx),
  );
}

/** Consecutive slices of at most `size` indices. */
export function batchesOf(indices: Int32Array, size: number): Int32Array[] {
  const out: Int32Array[] = [];
  for (let begin = 0; begin < indices.length; begin += size) out.push(indices.subarray(begin, begin + size));
  return out;
}

/** One step of a custom-loss epoch: the batch's loss, and the images and hits it reports. */
export interface StepResult {
  loss: number;
  correct: number;
  count: number;
}

/** Runs `step` on each batch in order, reporting progress as runEpoch does for trainEpoch. */
export async function customEpoch(
  ctx: UnlearnContext,
  label: string,
  epoch: number,
  epochs: number,
  batches: number,
  step: (batch: number) => Promise<StepResult>,
): Promise<void> {
  const reporter = reporterOf(ctx);
  reporter.startEpoch(label, epoch, epochs, batches);
  const start = performance.now();
  let seen = 0,
    lossSum = 0,
    correct = 0;
  for (let b = 0; b < batches; b++) {
    const r = await step(b);
    seen += r.count;
    lossSum += r.loss * r.count;
    correct += r.correct;
    reporter.batch(
      { batch: b + 1, batches, loss: r.loss, correct: r.correct, count: r.count },
      seen / ((performance.now() - start) / 1000),
    );
  }
  const accuracy = seen ? (100 * correct) / seen : 0;
  reporter.endEpoch(
    `${label} epoch ${epoch + 1}/${epochs}: loss ${(lossSum / Math.max(seen, 1)).toFixed(4)}, acc ${accuracy.toFixed(2)}%`,
  );
}

/** Options for forwardBatch on training batches: train-mode BN, the run's augmentation. */
export function trainForward(ctx: UnlearnContext, h: SgdHyper, epoch: number) {
  return { train: true, augment: h.augment, seed: ctx.seed, epoch };
}

/** The architecture of a model, read off its tensors (the image size is the data's). */
export function architectureOf(model: NativeModel, data: ExperimentData): Architecture {
  const shapes = new Map(model.tensors().map((t) => [t.name, t.shape]));
  const conv1 = shapes.get('conv1.weight')!;
  const fc = shapes.get('fc.weight')!;
  return { classes: fc[0], inChannels: conv1[1], width: conv1[0], image: data.loaded.train.height };
}

/** Copies every tensor (parameters, running statistics, counters) of `from` into `to`. */
export function copyState(from: NativeModel, to: NativeModel): void {
  const source = new Map(from.tensors().map((t) => [t.name, t.shape]));
  for (const t of to.tensors()) {
    const shape = source.get(t.name);
    if (shape?.join('x') !== t.shape.join('x')) {
      throw new Error(
        `cannot copy model state: ${t.name} is [${t.shape}] here but ${shape ? `[${shape}]` : 'missing'} in the source`,
      );
    }
    to.setTensor(t.name, from.getTensor(t.name));
  }
}

/** A separate model with the same architecture and state (the frozen teacher of SCRUB); the
 * caller disposes it. */
export function cloneModel(model: NativeModel, data: ExperimentData): NativeModel {
  const copy = createModel(architectureOf(model, data), computeOf(model));
  disposeOnError(copy, () => copyState(model, copy));
  return copy;
}
