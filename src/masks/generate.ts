// `insalun mask`: saliency over the forget set of a trained model, turned into masks at several
// ratios, saved with a JSON summary (forget indices, per-layer density and layer-type shares, IG
// completeness, timings, and with a second forget set the masks' Jaccard overlap).
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Rng, sampleWithoutReplacement } from '../data/random.js';
import { type ExperimentData, prepareData } from '../experiment/data.js';
import { type ForgetSelection, selectForget } from '../experiment/forget.js';
import { dataSpecFromMeta } from '../experiment/train.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { lockOutputFolder } from '../io/lock.js';
import { type CheckpointMeta, loadCheckpoint } from '../model/checkpoint.js';
import { disposeOnError } from '../native/dispose.js';
import type { ComputeSettings, NativeModel } from '../native/index.js';
import { baselineParameters, parseBaseline } from './baseline.js';
import { saveMask } from './maskfile.js';
import type { Rule } from './quadrature.js';
import { type Completeness, gradSaliency, type IgTarget, targetedIgSaliency } from './saliency.js';
import { jaccard, type LayerType, type LayerTypeShare, layerTypeShares, saliencyShares } from './specificity.js';
import { layerDensity, topkMask } from './topk.js';

export type MaskMethod = 'grad' | 'ig';

export interface MaskJob {
  method: MaskMethod;
  ratios: number[];
  outDir: string;
  batchSize: number;
  seed: number;
  augment: boolean; // grad only
  baseline: string; // ig: parseBaseline's syntax (zero, init, scale:ALPHA, retain-ft:STEPS[:LR], a file)
  rule: Rule;
  steps: number;
  target?: IgTarget; // ig: forget (default), contrastive or retain-normalized
  lambda?: number; // ig contrastive
  floor?: number; // ig retain-normalized
}

/** The masks a second forget set gives, against the first's (docs/method.md 4d). */
export interface MaskSpecificity {
  forget: { spec: string; seed: number; count: number; shared: number }; // shared: images in both sets
  jaccard: { ratio: number; jaccard: number }[];
  completeness?: Completeness;
}

export interface MaskSummary {
  method: MaskMethod;
  checkpoint?: string;
  forget: { spec: string; seed: number; count: number; indices: number[] };
  options: Omit<MaskJob, 'outDir'>;
  seconds: number; // saliency + masks: the mask-generation time reported next to RTE
  completeness?: Completeness;
  retainCompleteness?: Completeness; // ig contrastive and retain-normalized: IG of the retain sample's loss
  retainSample?: number; // its size (the forget set's)
  saliencyShare: { type: LayerType; share: number }[]; // of the total saliency, per layer type
  masks: {
    ratio: number;
    file: string;
    ones: number;
    density: { name: string; density: number }[];
    layerTypes: LayerTypeShare[];
  }[];
  specificity?: MaskSpecificity;
}

export function maskFileName(method: MaskMethod, ratio: number): string {
  return `mask_${method}_${ratio}.safetensors`;
}

const RETAIN_SAMPLE_STREAM = 0x727370; // 'rsp'

/** Retain images as many as the forget set's, drawn with the seed: the retain loss of the IG targets. */
function retainSample(view: ForgetSelection, seed: number): Int32Array {
  const count = Math.min(view.forget.length, view.retain.length);
  const picks = sampleWithoutReplacement(new Rng(seed, RETAIN_SAMPLE_STREAM), view.retain.length, count);
  return Int32Array.from(picks, (j) => view.retain[j]).sort();
}

interface Saliency {
  saliency: Float32Array;
  completeness?: Completeness;
  retainCompleteness?: Completeness;
  retainSample?: number;
}

async function saliencyOf(
  model: NativeModel,
  data: ExperimentData,
  view: ForgetSelection,
  job: MaskJob,
  checkpoint: string | undefined,
  onPoint?: (k: number, of: number) => void,
): Promise<Saliency> {
  if (job.method === 'grad') return { saliency: await gradSaliency(model, data.train, view.forget, job) };
  const target = job.target ?? 'forget';
  const baseline = await baselineParameters(parseBaseline(job.baseline), {
    model,
    data,
    view,
    checkpoint,
    batchSize: job.batchSize,
    seed: job.seed,
  });
  const retain = target === 'forget' ? undefined : retainSample(view, job.seed);
  const result = await targetedIgSaliency(model, data.train, view.forget, {
    baseline,
    rule: job.rule,
    steps: job.steps,
    batchSize: job.batchSize,
    onPoint,
    target,
    retain,
    lambda: job.lambda,
    floor: job.floor,
  });
  return { ...result, retainSample: retain?.length };
}

/** Computes the saliency and writes every mask file plus mask_<method>.json. */
export async function generateMasks(
  model: NativeModel,
  data: ExperimentData,
  view: ForgetSelection,
  job: MaskJob,
  checkpoint?: string,
  onPoint?: (k: number, of: number) => void,
  second?: ForgetSelection, // a second forget set: the masks' Jaccard overlap is reported
): Promise<MaskSummary> {
  for (const r of job.ratios) if (!(r > 0 && r <= 1)) throw new RangeError(`mask ratios must be in (0, 1], got ${r}`);
  if (job.method === 'ig') parseBaseline(job.baseline); // a bad baseline fails before any work
  using _lock = lockOutputFolder(job.outDir, 'mask');
  const start = performance.now();
  const { saliency, ...igInfo } = await saliencyOf(model, data, view, job, checkpoint, onPoint);
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
      layerTypes: layerTypeShares(mask, tensors),
    });
  }
  const seconds = (performance.now() - start) / 1000; // the second set's saliency is analysis, not cost
  const { outDir: _outDir, ...options } = job;
  const summary: MaskSummary = {
    method: job.method,
    checkpoint,
    forget: { spec: view.spec, seed: view.seed, count: view.forget.length, indices: Array.from(view.forget) },
    options,
    seconds,
    ...igInfo,
    saliencyShare: saliencyShares(saliency, tensors),
    masks,
    specificity: second && (await specificityOf(model, data, job, checkpoint, saliency, view, second)),
  };
  const path = join(job.outDir, `mask_${job.method}.json`);
  summary.masks = [...(await earlierMasks(path, summary)), ...masks].sort((a, b) => a.ratio - b.ratio);
  await writeJsonAtomic(path, summary);
  return summary;
}

/** The masks an earlier call wrote into this folder from the same saliency (same method, options
 * but the ratios, forget set and checkpoint) at ratios this call did not make: compare makes one
 * ratio per call into one folder, and the summary lists them all. */
async function earlierMasks(path: string, now: MaskSummary): Promise<MaskSummary['masks']> {
  let before: MaskSummary;
  try {
    before = JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return []; // none yet (or unreadable: this call's summary replaces it)
  }
  const sameSaliency = (x: MaskSummary) =>
    JSON.stringify([x.method, { ...x.options, ratios: undefined }, x.forget, x.checkpoint ?? null]);
  if (!Array.isArray(before.masks) || sameSaliency(before) !== sameSaliency(now)) return [];
  const made = new Set(now.masks.map((m) => m.ratio));
  return before.masks.filter((m) => !made.has(m.ratio));
}

async function specificityOf(
  model: NativeModel,
  data: ExperimentData,
  job: MaskJob,
  checkpoint: string | undefined,
  saliency: Float32Array,
  view: ForgetSelection,
  second: ForgetSelection,
): Promise<MaskSpecificity> {
  const other = await saliencyOf(model, data, second, job, checkpoint);
  const inFirst = new Set(view.forget);
  return {
    forget: {
      spec: second.spec,
      seed: second.seed,
      count: second.forget.length,
      shared: second.forget.reduce((n, i) => n + Number(inFirst.has(i)), 0),
    },
    jaccard: job.ratios.map((ratio) => ({
      ratio,
      jaccard: jaccard(topkMask(saliency, ratio), topkMask(other.saliency, ratio)),
    })),
    completeness: other.completeness,
  };
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
