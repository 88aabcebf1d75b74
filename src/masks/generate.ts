// `insalun mask`: saliency over the forget set of a trained model, turned into masks at several
// ratios, saved with a JSON summary (forget indices, per-layer density, IG completeness, timings).
import { dirname, join } from 'node:path';
import { type ExperimentData, prepareData } from '../experiment/data.js';
import { type ForgetSelection, selectForget } from '../experiment/forget.js';
import { dataSpecFromMeta } from '../experiment/train.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { lockOutputFolder } from '../io/lock.js';
import { type CheckpointMeta, loadCheckpoint, readParameters } from '../model/checkpoint.js';
import { disposeOnError } from '../native/dispose.js';
import type { ComputeSettings, NativeModel } from '../native/index.js';
import { saveMask } from './maskfile.js';
import type { Rule } from './quadrature.js';
import { type Completeness, gradSaliency, igSaliency } from './saliency.js';
import { layerDensity, topkMask } from './topk.js';

export type MaskMethod = 'grad' | 'ig';

export interface MaskJob {
  method: MaskMethod;
  ratios: number[];
  outDir: string;
  batchSize: number;
  seed: number;
  augment: boolean; // grad only
  baseline: string; // ig: 'zero' | 'init' | a checkpoint file
  rule: Rule;
  steps: number;
}

export interface MaskSummary {
  method: MaskMethod;
  checkpoint?: string;
  forget: { spec: string; seed: number; count: number; indices: number[] };
  options: Omit<MaskJob, 'outDir'>;
  seconds: number; // saliency + masks: the mask-generation time reported next to RTE
  completeness?: Completeness;
  masks: { ratio: number; file: string; ones: number; density: { name: string; density: number }[] }[];
}

export function maskFileName(method: MaskMethod, ratio: number): string {
  return `mask_${method}_${ratio}.safetensors`;
}

async function baselineParameters(
  job: MaskJob,
  model: NativeModel,
  checkpoint: string | undefined,
): Promise<Float32Array> {
  if (job.baseline === 'zero') return new Float32Array(model.parameterCount);
  if (job.baseline === 'init') {
    if (!checkpoint) throw new Error("--baseline init needs the checkpoint's directory to hold init.safetensors");
    return readParameters(join(dirname(checkpoint), 'init.safetensors'), model);
  }
  return readParameters(job.baseline, model);
}

/** Computes the saliency and writes every mask file plus mask_<method>.json. */
export async function generateMasks(
  model: NativeModel,
  data: ExperimentData,
  view: ForgetSelection,
  job: MaskJob,
  checkpoint?: string,
  onPoint?: (k: number, of: number) => void,
): Promise<MaskSummary> {
  for (const r of job.ratios) if (!(r > 0 && r <= 1)) throw new RangeError(`mask ratios must be in (0, 1], got ${r}`);
  using _lock = lockOutputFolder(job.outDir, 'mask');
  const start = performance.now();
  let saliency: Float32Array;
  let completeness: Completeness | undefined;
  if (job.method === 'grad') {
    saliency = await gradSaliency(model, data.train, view.forget, job);
  } else {
    const baseline = await baselineParameters(job, model, checkpoint);
    const result = await igSaliency(model, data.train, view.forget, {
      baseline,
      rule: job.rule,
      steps: job.steps,
      batchSize: job.batchSize,
      onPoint,
    });
    saliency = result.saliency;
    completeness = result.completeness;
  }
  const tensors = model.tensors();
  const masks: MaskSummary['masks'] = [];
  for (const ratio of job.ratios) {
    const mask = topkMask(saliency, ratio);
    const file = maskFileName(job.method, ratio);
    await saveMask(join(job.outDir, file), mask, model, {
      method: job.method,
      ratio: String(ratio),
      forget: view.spec,
    });
    const density = layerDensity(mask, tensors);
    masks.push({
      ratio,
      file,
      ones: density.reduce((s, d) => s + d.ones, 0),
      density: density.map((d) => ({ name: d.name, density: d.density })),
    });
  }
  const { outDir: _outDir, ...options } = job;
  const summary: MaskSummary = {
    method: job.method,
    checkpoint,
    forget: { spec: view.spec, seed: view.seed, count: view.forget.length, indices: Array.from(view.forget) },
    options,
    seconds: (performance.now() - start) / 1000,
    completeness,
    masks,
  };
  await writeJsonAtomic(join(job.outDir, `mask_${job.method}.json`), summary);
  return summary;
}

/** A checkpoint's model with its recorded data split; disposing it frees both. */
export interface OpenedCheckpoint extends Disposable {
  model: NativeModel;
  meta: CheckpointMeta;
  data: ExperimentData;
}

/** Loads a checkpoint with its recorded data split, for the commands that start from one
 * (`using opened = await openCheckpoint(...)`). */
export async function openCheckpoint(
  path: string,
  compute: ComputeSettings,
  overrides: { dataset?: string; dataDir?: string } = {},
): Promise<OpenedCheckpoint> {
  const { model, meta } = await loadCheckpoint(path, compute);
  const data = await disposeOnError(model, () => prepareData(dataSpecFromMeta(meta, overrides), compute.device));
  return {
    model,
    meta,
    data,
    [Symbol.dispose]() {
      model.dispose();
      data[Symbol.dispose]();
    },
  };
}

export { selectForget };
