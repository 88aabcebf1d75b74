// Compute settings are a value given to whatever makes a model, not process state: models of
// several settings live side by side in one process, each computing as its own settings say.
// Side by side, each run gives the bits it gives alone; fp32 and bf16 on one backend differ; a
// model's copies (BE's widened model) and its records take the model's settings.
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { selectForget } from '../../src/experiment/forget.js';
import { trainOptions, trainOriginal } from '../../src/experiment/train.js';
import { unlearnModel } from '../../src/experiment/unlearn.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { openCheckpoint } from '../../src/masks/generate.js';
import { type ComputeSettings, defaultCompute } from '../../src/native/index.js';
import { deviceCases } from '../helpers/backends.js';

const cuda = deviceCases.find((c) => c.device === 'cuda')!;
// Width 8: every bf16 convolution then has channel counts cuDNN serves on a GPU.
const recipe = {
  epochs: 2,
  batchSize: 16,
  lr: 0.05,
  momentum: 0.9,
  weightDecay: 5e-4,
  schedule: 'constant' as const,
  augment: false,
};
const data = {
  dataset: 'synthetic',
  valFraction: 0,
  splitSeed: 0,
  synthetic: { trainSize: 48, testSize: 16, imageSize: 8, seed: 3 },
};

async function train(compute: ComputeSettings): Promise<{ dir: string; weights: Float32Array }> {
  const dir = await mkdtemp(join(tmpdir(), `insalun-compute-${compute.device}-${compute.precision}-`));
  await trainOriginal(trainOptions(recipe, { data, compute, width: 8, seed: 4, outDir: dir, resume: false }));
  return {
    dir,
    weights: (await readSafetensors(join(dir, 'last.safetensors'))).tensors.get('conv1.weight')!.data as Float32Array,
  };
}

(cuda.available ? describe : describe.skip)(
  `models of different compute settings (CPU, CUDA fp32 and bf16) in one process${cuda.available ? '' : ` (skipped: ${cuda.why})`}`,
  () => {
    const settings: ComputeSettings[] = [
      defaultCompute('cpu'),
      defaultCompute('cuda'),
      { device: 'cuda', precision: 'bf16', stepCapture: true },
    ];

    it('train side by side to the bits each gives alone, fp32 and bf16 apart; copies and records follow the model', async () => {
      const together = await Promise.all(settings.map(train));
      const alone = [];
      for (const s of settings) alone.push(await train(s));
      for (let i = 0; i < settings.length; i++) {
        expect(together[i].weights, JSON.stringify(settings[i])).toEqual(alone[i].weights);
        const summary = JSON.parse(await readFile(join(together[i].dir, 'summary.json'), 'utf8'));
        expect(summary.options.compute).toEqual(settings[i]);
      }
      // fp32 on the CPU and on CUDA are not compared: their sums may round apart. bf16 must move
      // the result away from CUDA fp32, or the precision never reached the model.
      expect(together[2].weights).not.toEqual(together[1].weights);

      // BE trains a widened copy of the model and copies it back: from the same weights, the copy of
      // a bf16 model must compute in bf16 (and the CPU's in fp32 on the CPU).
      const start = join(together[1].dir, 'last.safetensors');
      const unlearned = await Promise.all(
        settings.map(async (compute) => {
          using opened = await openCheckpoint(start, compute);
          const view = selectForget(opened.data, 'random:8', 1);
          const record = await unlearnModel(opened.model, opened.data, view, {
            method: 'be',
            maskMode: 'hard',
            hyper: { epochs: 1, batchSize: 16 },
            seed: 1,
          });
          return { record, weights: opened.model.getTensor('conv1.weight') };
        }),
      );
      expect(unlearned[2].weights).not.toEqual(unlearned[1].weights);
      const expected = settings.map((s) => ({ ...s, stepCapture: s.device === 'cuda' })); // the CPU captures nothing
      expect(unlearned.map((u) => u.record.compute)).toEqual(expected);
    }, 300_000);
  },
);
