// `insalun unlearn`: one method on one forget set from a trained checkpoint, written as the
// unlearned checkpoint plus a JSON record (config, timings, metrics, relearning curve).
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { writeJsonAtomic } from '../io/atomic.js';
import { loadMask } from '../masks/maskfile.js';
import { avgGap } from '../metrics/gap.js';
import { type CheckpointMeta, saveCheckpoint } from '../model/checkpoint.js';
import { type ComputeSettings, computeOf, type MaskMode, type NativeModel } from '../native/index.js';
import { type HyperValues, type MethodName, runUnlearning } from '../unlearn/methods.js';
import { type ExperimentData, labelsOf } from './data.js';
import { accuracyOn, type UnlearningScores, unlearningScores } from './evaluate.js';
import type { ForgetSelection } from './forget.js';
import { type Reporter, silentReporter, type TrainRecipe } from './loop.js';

export interface RelearnOptions {
  steps: number; // SGD steps on the slice, forget accuracy measured after each
  count: number; // forget images in the slice (true labels)
  lr: number;
}

export interface UnlearnJob {
  method: MethodName;
  maskPath?: string;
  maskMode: MaskMode;
  hyper: HyperValues; // overrides of the method's defaults
  seed: number;
  initPath?: string;
  recipe?: TrainRecipe; // from the original checkpoint's metadata
  allMia?: boolean;
  relearn?: RelearnOptions;
  retrainScores?: UnlearningScores; // for Avg. Gap
}

export interface UnlearnRecord {
  method: MethodName | 'original'; // 'original': the trained model itself, as a reference row
  forget: { spec: string; seed: number; count: number };
  mask: { file: string; mode: MaskMode; generationSeconds: number | null } | null;
  hyper: HyperValues; // every value used: defaults with the overrides
  seed: number;
  rteSeconds: number; // the unlearning run itself
  compute: ComputeSettings; // where and how it ran (RTE depends on it)
  scores: UnlearningScores;
  avgGap: number | null;
  relearn: { forgetAccuracy: number[]; slice: number; lr: number } | null;
}

/** The mask-generation time recorded next to a mask file (mask_<method>.json), when there is one. */
async function maskGenerationSeconds(maskPath: string): Promise<number | null> {
  const method = /mask_([a-z]+)_[^/]*\.safetensors$/.exec(maskPath)?.[1];
  if (!method) return null;
  try {
    const summary = JSON.parse(await readFile(join(dirname(maskPath), `mask_${method}.json`), 'utf8'));
    return typeof summary.seconds === 'number' ? summary.seconds : null;
  } catch {
    return null;
  }
}

/**
 * Relearning attack (docs/method.md 6): fine-tune on a small slice of the forget set with true labels
 * and record forget accuracy after each step. Changes the model: run it last.
 */
export async function relearningCurve(
  model: NativeModel,
  data: ExperimentData,
  view: ForgetSelection,
  o: RelearnOptions,
): Promise<number[]> {
  const slice = view.forget.subarray(0, Math.min(o.count, view.forget.length));
  model.setMask(null, 'hard');
  model.resetOptimizer();
  const curve = [await accuracyOn(model, data, view.forget)];
  for (let step = 0; step < o.steps; step++) {
    await model.trainEpoch(data.train, {
      indices: slice,
      labels: labelsOf(data, slice),
      batchSize: slice.length,
      augment: false,
      seed: 0,
      epoch: step,
      sgd: { lr: o.lr, momentum: 0.9, weightDecay: 5e-4 },
    });
    curve.push(await accuracyOn(model, data, view.forget));
  }
  return curve;
}

export async function unlearnModel(
  model: NativeModel,
  data: ExperimentData,
  view: ForgetSelection,
  job: UnlearnJob,
  reporter: Reporter = silentReporter,
): Promise<UnlearnRecord> {
  const mask = job.maskPath ? await loadMask(job.maskPath, model) : null;
  const run = await runUnlearning(job.method, {
    model,
    data,
    view,
    mask,
    maskMode: job.maskMode,
    initPath: job.initPath,
    recipe: job.recipe,
    hyper: job.hyper,
    seed: job.seed,
    reporter,
  });
  const scores = await unlearningScores(model, data, view, job.allMia ?? false);
  return {
    method: job.method,
    forget: { spec: view.spec, seed: view.seed, count: view.forget.length },
    mask: job.maskPath
      ? { file: job.maskPath, mode: job.maskMode, generationSeconds: await maskGenerationSeconds(job.maskPath) }
      : null,
    hyper: run.hyper,
    seed: job.seed,
    rteSeconds: run.seconds,
    compute: computeOf(model),
    scores,
    avgGap: job.retrainScores ? avgGap(scores, job.retrainScores) : null,
    relearn: null,
  };
}

/** Saves the unlearned model and its record; then (optionally) runs the relearning attack. */
export async function saveUnlearned(
  model: NativeModel,
  meta: CheckpointMeta,
  record: UnlearnRecord,
  outModel: string,
  outRecord: string,
  data: ExperimentData,
  view: ForgetSelection,
  relearn?: RelearnOptions,
): Promise<UnlearnRecord> {
  await saveCheckpoint(outModel, model, {
    ...meta,
    unlearned_with: record.method,
    forget: record.forget.spec,
    forget_seed: record.forget.seed,
  });
  if (relearn) {
    record.relearn = {
      forgetAccuracy: await relearningCurve(model, data, view, relearn),
      slice: Math.min(relearn.count, view.forget.length),
      lr: relearn.lr,
    };
  }
  await writeJsonAtomic(outRecord, record);
  return record;
}
