// compare's steps (ensureOriginal, ensureRow with its mask, summarize) are callable one at a time,
// as a worker given one row would call them: what they compute is what a serial runCompare over
// the same folder finds and reuses, under the same keys.
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, it } from 'vitest';
import {
  ensureOriginal,
  ensureRow,
  parseCompareConfig,
  runCompare,
  seedData,
  seedRun,
} from '../../src/experiment/compare.js';
import { silentReporter } from '../../src/experiment/loop.js';
import type { UnlearnRecord } from '../../src/experiment/unlearn.js';
import { defaultCompute } from '../../src/native/index.js';

const epoch = { epochs: 1, batchSize: 16, augment: false };
const config = parseCompareConfig(
  {
    name: 'steps',
    synthetic: { trainSize: 48, testSize: 16, imageSize: 8, seed: 3 },
    width: 4,
    train: { epochs: 2, batchSize: 16, schedule: 'multistep', augment: false },
    forget: 'random:8',
    seeds: [1],
    methods: [
      {
        name: 'SalUn',
        method: 'rl',
        hyper: epoch,
        mask: { method: 'grad', ratio: 0.5, batchSize: 16, augment: false },
      },
      { name: 'Retrain', method: 'retrain' },
    ],
  },
  'steps test config',
);

it('rows computed one at a time are the records a serial run then reuses', async () => {
  const out = await mkdtemp(join(tmpdir(), 'insalun-steps-'));
  const compute = defaultCompute('cpu');
  const run = seedRun(config, out, 1, compute);
  const original = await ensureOriginal(run);
  const [salunRow, retrainRow] = config.methods;
  let retrain: UnlearnRecord;
  let salun: UnlearnRecord;
  {
    using data = seedData(run);
    retrain = await ensureRow(run, original, retrainRow, data);
    salun = await ensureRow(run, original, salunRow, data, retrain.scores);
  }
  expect(retrain.avgGap).toBe(0);
  expect(salun.mask?.file).toMatch(/mask_grad_0\.5\.safetensors$/);

  const logs: string[] = [];
  const result = await runCompare(config, out, compute, { ...silentReporter, log: (m) => logs.push(m) });
  expect(logs).toEqual([
    `[seed 1] reusing the original model in ${original.dir}`,
    '[seed 1] reusing Retrain',
    '[seed 1] reusing SalUn',
  ]);
  expect(result.raw.map((r) => r.records[0].scores)).toEqual([salun.scores, retrain.scores]);
}, 120_000);
