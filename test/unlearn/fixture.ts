// A tiny experiment for the unlearning tests: 8x8 synthetic images, a width-4 ResNet-18 trained
// for a few epochs as the "original", its init.safetensors on disk, and a random forget set.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type ExperimentData, labelsOf, prepareData } from '../../src/experiment/data.js';
import { type ForgetSelection, selectForget } from '../../src/experiment/forget.js';
import { fit } from '../../src/experiment/loop.js';
import { type Architecture, createModel, saveCheckpoint } from '../../src/model/checkpoint.js';
import { defaultCompute, type NativeModel } from '../../src/native/index.js';
import { copyState } from '../../src/unlearn/common.js';
import { crossEntropy } from '../../src/unlearn/losses.js';
import type { UnlearnContext } from '../../src/unlearn/methods.js';

export interface Fixture {
  data: ExperimentData;
  view: ForgetSelection;
  arch: Architecture;
  original: NativeModel;
  initPath: string;
  cleanup(): void;
}

async function build(): Promise<Fixture> {
  const data = await prepareData(
    {
      dataset: 'synthetic',
      valFraction: 0.1,
      splitSeed: 0,
      synthetic: { trainSize: 240, testSize: 40, imageSize: 8, classes: 4, seed: 3 },
    },
    'cpu',
  );
  const view = selectForget(data, 'random:24', 1);
  const arch: Architecture = { classes: 4, inChannels: 3, width: 4, image: 8 };
  const original = createModel(arch, defaultCompute('cpu'));
  original.initialize(7);
  const dir = mkdtempSync(join(tmpdir(), 'insalun-unlearn-'));
  const initPath = join(dir, 'init.safetensors');
  await saveCheckpoint(initPath, original, { ...arch });
  // biome-ignore lint/suspicious/noFocusedTests: fit is the project's training loop, not Jasmine's focused test
  await fit(original, data.train, data.pool, {
    epochs: 8,
    batchSize: 32,
    sgd: { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
    schedule: { kind: 'constant', milestones: [], gamma: 1 },
    seed: 5,
    augment: false,
    label: 'original',
  });
  return { data, view, arch, original, initPath, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

let cached: Promise<Fixture> | undefined;
export function fixture(): Promise<Fixture> {
  cached ??= build();
  return cached;
}

/** A copy of the original, to unlearn. */
export function originalCopy(f: Fixture): NativeModel {
  const model = createModel(f.arch, defaultCompute('cpu'));
  copyState(f.original, model);
  return model;
}

export function context(f: Fixture, over: Partial<UnlearnContext> = {}): UnlearnContext {
  return {
    model: originalCopy(f),
    data: f.data,
    view: f.view,
    mask: null,
    maskMode: 'hard',
    initPath: f.initPath,
    hyper: {},
    seed: 11,
    ...over,
  };
}

/** Eval-mode mean cross-entropy of the model on the forget set. */
export async function forgetLoss(model: NativeModel, f: Fixture): Promise<number> {
  const logits = await model.predict(f.data.train, f.view.forget, 256);
  return crossEntropy(logits, labelsOf(f.data, f.view.forget), f.arch.classes).loss;
}

/** A fixed 0/1 mask with about half the coordinates free. */
export function halfMask(n: number): Float32Array {
  return Float32Array.from({ length: n }, (_, i) => ((i * 2654435761) >>> 0) % 2);
}

/** Counts coordinates that differ (as float32 values) between two parameter vectors. */
export function changedCount(a: Float32Array, b: Float32Array, where: (i: number) => boolean = () => true): number {
  let n = 0;
  for (let i = 0; i < a.length; i++) if (where(i) && !Object.is(a[i], b[i])) n++;
  return n;
}
