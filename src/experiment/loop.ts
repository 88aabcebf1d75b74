// Epoch loops over the native engine: learning-rate schedules, seeded shuffling, progress.
import { permutation, Rng } from '../data/random.js';
import type { BatchProgress, NativeDataset, NativeModel, SgdOptions } from '../native/index.js';

export interface Schedule {
  kind: 'multistep' | 'cosine' | 'constant';
  milestones: number[]; // epochs (0-based count of finished epochs) where lr *= gamma
  gamma: number;
}

export function lrAt(base: number, schedule: Schedule, epoch: number, epochs: number): number {
  switch (schedule.kind) {
    case 'constant':
      return base;
    case 'cosine':
      return 0.5 * base * (1 + Math.cos((Math.PI * epoch) / epochs));
    case 'multistep':
      return base * schedule.gamma ** schedule.milestones.filter((m) => epoch >= m).length;
  }
}

/** SalUn's multistep milestones for a run of `epochs` epochs: lr x0.1 after half and after three
 * quarters of them, rounded down, as docs/method.md's 91 and 136 of 182 epochs (SalUn's
 * `--decreasing_lr 91,136`). */
export function salunMilestones(epochs: number): number[] {
  return [Math.floor(epochs / 2), Math.floor((3 * epochs) / 4)];
}

/** How the original model was trained; recorded in its checkpoints so Retrain can repeat it. */
export interface TrainRecipe {
  epochs: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  batchSize: number;
  schedule: Schedule;
  augment: boolean;
}

/** The schedule for a run of `epochs` epochs: multistep milestones scale with the epoch count. */
export function scaleSchedule(recipe: TrainRecipe, epochs: number): Schedule {
  if (recipe.schedule.kind !== 'multistep' || epochs === recipe.epochs) return recipe.schedule;
  return {
    ...recipe.schedule,
    milestones: recipe.schedule.milestones.map((m) => Math.round((m * epochs) / recipe.epochs)),
  };
}

/** What the user sees while epochs run; the CLI draws a progress bar, tests pass nothing. */
export interface Reporter {
  startEpoch(label: string, epoch: number, epochs: number, batches: number): void;
  batch(progress: BatchProgress, imagesPerSecond: number): void;
  endEpoch(summary: string): void;
  log(message: string): void;
}

export const silentReporter: Reporter = { startEpoch() {}, batch() {}, endEpoch() {}, log() {} };

export interface EpochRun {
  loss: number;
  accuracy: number; // percent, on the (augmented) training batches
  seconds: number;
  imagesPerSecond: number;
  stopped: boolean;
}

export interface EpochPlan {
  indices: Int32Array;
  labels?: Int32Array;
  batchSize: number;
  augment: boolean;
  seed: number;
  epoch: number;
  epochs: number;
  lossScale?: number;
  sgd: SgdOptions;
  label: string;
}

/** One epoch through trainEpoch with progress reporting. */
export async function runEpoch(
  model: NativeModel,
  data: NativeDataset,
  plan: EpochPlan,
  reporter: Reporter = silentReporter,
): Promise<EpochRun> {
  const batches = Math.ceil(plan.indices.length / plan.batchSize);
  reporter.startEpoch(plan.label, plan.epoch, plan.epochs, batches);
  const start = performance.now();
  let seen = 0;
  const result = await model.trainEpoch(data, {
    indices: plan.indices,
    labels: plan.labels,
    batchSize: plan.batchSize,
    augment: plan.augment,
    seed: plan.seed,
    epoch: plan.epoch,
    lossScale: plan.lossScale ?? 1,
    sgd: plan.sgd,
    // On a GPU every report is a host sync: about 50 reports an epoch keep the bar alive.
    progressEvery: model.device === 'cuda' ? Math.max(1, Math.floor(batches / 50)) : 1,
    onBatch: (p) => {
      seen += p.count;
      reporter.batch(p, seen / ((performance.now() - start) / 1000));
    },
  });
  const seconds = (performance.now() - start) / 1000;
  const run: EpochRun = {
    loss: result.loss,
    accuracy: result.count ? (100 * result.correct) / result.count : 0,
    seconds,
    imagesPerSecond: result.count / seconds,
    stopped: result.stopped,
  };
  reporter.endEpoch(
    `${plan.label} epoch ${plan.epoch + 1}/${plan.epochs}: loss ${run.loss.toFixed(4)}, acc ${run.accuracy.toFixed(2)}%, ${run.imagesPerSecond.toFixed(1)} img/s`,
  );
  return run;
}

/** The visiting order of an epoch: a permutation of `indices` drawn from (seed, epoch). */
export function epochOrder(indices: Int32Array, seed: number, epoch: number, stream = 0): Int32Array {
  const order = permutation(indices.length, new Rng(seed, 0x5eed, stream, epoch));
  return order.map((j) => indices[j]);
}

/** The settings of a run of supervised epochs, shared by `fit` and `insalun train`. */
export interface EpochSettings {
  epochs: number;
  batchSize: number;
  sgd: SgdOptions;
  schedule: Schedule;
  seed: number;
  augment: boolean;
}

export interface FitOptions extends EpochSettings {
  label: string;
  startEpoch?: number;
  /** Called after every complete epoch; may save checkpoints. */
  afterEpoch?: (epoch: number, run: EpochRun) => Promise<void>;
}

/** Plain supervised training on `indices` (train, retrain, fine-tune). Returns false when stopped. */
export async function fit(
  model: NativeModel,
  data: NativeDataset,
  indices: Int32Array,
  o: FitOptions,
  reporter: Reporter = silentReporter,
): Promise<boolean> {
  for (let epoch = o.startEpoch ?? 0; epoch < o.epochs; epoch++) {
    const run = await runEpoch(
      model,
      data,
      {
        indices: epochOrder(indices, o.seed, epoch),
        batchSize: o.batchSize,
        augment: o.augment,
        seed: o.seed,
        epoch,
        epochs: o.epochs,
        sgd: { ...o.sgd, lr: lrAt(o.sgd.lr, o.schedule, epoch, o.epochs) },
        label: o.label,
      },
      reporter,
    );
    if (run.stopped) return false;
    await o.afterEpoch?.(epoch, run);
  }
  return true;
}
