// SVHN and Tiny-ImageNet through every command (train, mask, unlearn, eval) on tiny folders in the
// official formats: the data load, the model adapts to 32x32 and 64x64, and the runs complete.
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { writeSvhnFolder, writeTinyImageNet } from '../helpers/datasets.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'insalun-cli-datasets-'));
  const digits = Array.from({ length: 20 }, (_, i) => (i % 10) + 1);
  await writeSvhnFolder(join(dir, 'data', 'svhn'), digits, digits.slice(0, 10));
  await writeTinyImageNet(join(dir, 'data', 'tiny-imagenet-200'), 4, 2);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe.each([
  ['svhn', 32],
  ['tiny-imagenet', 64],
])('%s through every command', (dataset, image) => {
  it(`trains 1 epoch at ${image}x${image}, builds a mask, unlearns and evaluates`, async () => {
    const out = join(dir, dataset);
    const common = ['--device', 'cpu'];
    const train = await runCli(
      'train',
      '--dataset',
      dataset,
      '--data-dir',
      join(dir, 'data'),
      '--val-fraction',
      '0',
      '--width',
      '4',
      '--epochs',
      '1',
      '--batch-size',
      '4',
      '--out',
      out,
      ...common,
    );
    expect(train.err).not.toMatch(/error/i);
    expect(train.code).toBe(0);
    const summary = JSON.parse(await readFile(join(out, 'summary.json'), 'utf8'));
    expect(JSON.stringify(summary)).toContain(dataset);
    const checkpoint = join(out, 'last.safetensors');
    const mask = await runCli(
      'mask',
      '--method',
      'grad',
      '--checkpoint',
      checkpoint,
      '--forget',
      'random:2',
      '--ratios',
      '0.5',
      '--batch-size',
      '2',
      '--out',
      join(out, 'masks'),
      ...common,
    );
    expect(mask.code, mask.err).toBe(0);
    const unlearn = await runCli(
      'unlearn',
      '--method',
      'rl',
      '--checkpoint',
      checkpoint,
      '--forget',
      'random:2',
      '--set',
      'epochs=1',
      '--set',
      'batchSize=4',
      '--out',
      join(out, 'unlearned.safetensors'),
      ...common,
    );
    expect(unlearn.code, unlearn.err).toBe(0);
    const evaluate = await runCli('eval', '--checkpoint', join(out, 'unlearned.safetensors'), ...common);
    expect(evaluate.code, evaluate.err).toBe(0);
  }, 120_000);
});
