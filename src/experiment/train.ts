// `insalun train`: the original model (docs/method.md section 3), with init/last/best checkpoints,
// a JSON summary, and exact resumption after Ctrl-C.
import { join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.js';
import { lockOutputFolder } from '../io/lock.js';
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import { type CheckpointMeta, copyInto, createModel, saveCheckpoint } from '../model/checkpoint.js';
import type { ComputeSettings, NativeModel } from '../native/index.js';
import { type DataSpec, type ExperimentData, prepareData } from './data.js';
import { accuracyOn } from './evaluate.js';
import {
  type EpochSettings,
  fit,
  lrAt,
  type Reporter,
  type Schedule,
  salunMilestones,
  silentReporter,
  type TrainRecipe,
} from './loop.js';

export interface TrainOptions extends EpochSettings {
  data: DataSpec;
  compute: ComputeSettings;
  width: number;
  outDir: string;
  resume: boolean;
}

/** A training recipe as `insalun train`'s flags and compare's `train` block spell it. */
export interface TrainSettings {
  epochs: number;
  batchSize: number;
  lr: number;
  momentum: number;
  weightDecay: number;
  nesterov?: boolean;
  schedule: Schedule['kind'];
  milestones?: number[]; // multistep; SalUn's (salunMilestones) when absent
  gamma?: number; // multistep factor, 0.1 when absent
  augment: boolean;
}

/** The options of trainOriginal: the recipe, and where the run reads, computes and writes. */
export function trainOptions(
  t: TrainSettings,
  run: Pick<TrainOptions, 'data' | 'compute' | 'width' | 'seed' | 'outDir' | 'resume'>,
): TrainOptions {
  return {
    ...run,
    epochs: t.epochs,
    batchSize: t.batchSize,
    sgd: { lr: t.lr, momentum: t.momentum, weightDecay: t.weightDecay, nesterov: t.nesterov ?? false },
    schedule: { kind: t.schedule, milestones: t.milestones ?? salunMilestones(t.epochs), gamma: t.gamma ?? 0.1 },
    augment: t.augment,
  };
}

export interface TrainSummary {
  completed: boolean;
  epochsDone: number;
  bestEpoch: number;
  bestValAccuracy: number | null;
  history: {
    epoch: number;
    lr: number;
    loss: number;
    trainAccuracy: number;
    valAccuracy: number | null;
    seconds: number;
    imagesPerSecond: number;
  }[];
  accuracy: { train: number; val: number | null; test: number } | null;
  seconds: number;
}

/** Checkpoint metadata that lets `eval`, `mask` and `unlearn` rebuild the same data split. */
export function dataMeta(data: ExperimentData): Record<string, unknown> {
  return {
    dataset: data.spec.dataset,
    data_dir: data.spec.dataDir,
    val_fraction: data.spec.valFraction,
    split_seed: data.spec.splitSeed,
    synthetic: data.spec.synthetic,
    train_limit: data.spec.trainLimit,
    test_limit: data.spec.testLimit,
    mean: data.loaded.mean,
    std: data.loaded.std,
  };
}

/** The data spec recorded in a checkpoint's metadata (the inverse of dataMeta). */
export function dataSpecFromMeta(meta: Record<string, unknown>, overrides: Partial<DataSpec> = {}): DataSpec {
  const dataset = overrides.dataset ?? meta.dataset;
  if (typeof dataset !== 'string') throw new Error('the checkpoint does not record its dataset; pass --dataset');
  return {
    dataset,
    dataDir: typeof meta.data_dir === 'string' ? meta.data_dir : undefined,
    valFraction: typeof meta.val_fraction === 'number' ? meta.val_fraction : 0.1,
    splitSeed: typeof meta.split_seed === 'number' ? meta.split_seed : 0,
    synthetic: (meta.synthetic as DataSpec['synthetic']) ?? undefined,
    trainLimit: typeof meta.train_limit === 'number' ? meta.train_limit : undefined,
    testLimit: typeof meta.test_limit === 'number' ? meta.test_limit : undefined,
    ...Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined)),
  };
}

export function recipeOf(o: TrainOptions): TrainRecipe {
  return {
    epochs: o.epochs,
    lr: o.sgd.lr,
    momentum: o.sgd.momentum,
    weightDecay: o.sgd.weightDecay,
    batchSize: o.batchSize,
    schedule: o.schedule,
    augment: o.augment,
  };
}

const STATE_FILE = 'train-state.safetensors';

async function saveTrainState(
  outDir: string,
  model: NativeModel,
  epochsDone: number,
  summary: TrainSummary,
  options: TrainOptions,
): Promise<void> {
  const state = model.getOptimizerState();
  await writeSafetensors(
    join(outDir, STATE_FILE),
    [{ name: 'momentum', shape: [state.momentum.length], data: state.momentum }],
    {
      epochs_done: String(epochsDone),
      first_step: String(state.firstStep),
      summary: JSON.stringify(summary),
      options: JSON.stringify(options),
    },
  );
}

export async function trainOriginal(
  options: TrainOptions,
  reporter: Reporter = silentReporter,
  onModel?: (m: NativeModel) => void,
): Promise<TrainSummary> {
  const started = performance.now();
  // A resumed run takes the folder over once the run it continues has ended.
  using _lock = lockOutputFolder(options.outDir, 'train');
  using data = await prepareData(options.data, options.compute.device);
  const arch = {
    classes: data.loaded.classes,
    inChannels: data.loaded.train.channels,
    width: options.width,
    image: data.loaded.train.height,
  };
  using model = createModel(arch, options.compute);
  onModel?.(model);
  const meta = (epoch: number, extra: Record<string, unknown> = {}): CheckpointMeta => ({
    ...arch,
    ...dataMeta(data),
    seed: options.seed,
    recipe: recipeOf(options),
    epoch,
    ...extra,
  });

  let summary: TrainSummary = {
    completed: false,
    epochsDone: 0,
    bestEpoch: -1,
    bestValAccuracy: null,
    history: [],
    accuracy: { train: NaN, val: null, test: NaN },
    seconds: 0,
  };
  let startEpoch = 0;
  if (options.resume) {
    const state = await readSafetensors(join(options.outDir, STATE_FILE)).catch(() => {
      throw new Error(`--resume: no ${STATE_FILE} in ${options.outDir} (nothing to resume)`);
    });
    const last = await readSafetensors(join(options.outDir, 'last.safetensors'));
    copyInto(model, last, join(options.outDir, 'last.safetensors'));
    model.setOptimizerState({
      momentum: state.tensors.get('momentum')!.data as Float32Array,
      firstStep: state.metadata.first_step === 'true',
    });
    startEpoch = Number(state.metadata.epochs_done);
    summary = JSON.parse(state.metadata.summary) as TrainSummary;
    reporter.log(`resuming after epoch ${startEpoch} of ${options.epochs}`);
  } else {
    model.initialize(options.seed);
    await saveCheckpoint(join(options.outDir, 'init.safetensors'), model, meta(0));
  }

  const completed = await fit(
    model,
    data.train,
    data.pool,
    {
      epochs: options.epochs,
      batchSize: options.batchSize,
      sgd: options.sgd,
      schedule: options.schedule,
      seed: options.seed,
      augment: options.augment,
      label: 'train',
      startEpoch,
      afterEpoch: async (epoch, run) => {
        const valAccuracy = data.val.length ? await accuracyOn(model, data, data.val) : null;
        summary.history.push({
          epoch: epoch + 1,
          lr: lrAt(options.sgd.lr, options.schedule, epoch, options.epochs),
          loss: run.loss,
          trainAccuracy: run.accuracy,
          valAccuracy,
          seconds: run.seconds,
          imagesPerSecond: run.imagesPerSecond,
        });
        summary.epochsDone = epoch + 1;
        // Without a validation set, "best" is the last epoch.
        const better =
          valAccuracy === null || summary.bestValAccuracy === null || valAccuracy > summary.bestValAccuracy;
        if (better) {
          summary.bestEpoch = epoch + 1;
          summary.bestValAccuracy = valAccuracy;
          await saveCheckpoint(
            join(options.outDir, 'best.safetensors'),
            model,
            meta(epoch + 1, { val_accuracy: valAccuracy }),
          );
        }
        await saveCheckpoint(join(options.outDir, 'last.safetensors'), model, meta(epoch + 1));
        await saveTrainState(options.outDir, model, epoch + 1, summary, options);
        if (valAccuracy !== null) reporter.log(`  val accuracy ${valAccuracy.toFixed(2)}%${better ? ' (best)' : ''}`);
      },
    },
    reporter,
  );
  summary.completed = completed && summary.epochsDone === options.epochs;
  if (!completed) {
    // Stopped mid-epoch: the weights in memory are partial; the files on disk are the last
    // complete epoch, and --resume continues from there.
    summary.seconds += (performance.now() - started) / 1000;
    await writeJsonAtomic(join(options.outDir, 'summary.json'), { options, ...summary, accuracy: null });
    return summary;
  }
  summary.accuracy = {
    train: await accuracyOn(model, data, data.pool),
    val: data.val.length ? await accuracyOn(model, data, data.val) : null,
    test: await accuracyOn(model, data, data.test, 'test'),
  };
  summary.seconds += (performance.now() - started) / 1000;
  await writeJsonAtomic(join(options.outDir, 'summary.json'), { options, ...summary });
  return summary;
}
