// compare's steps (ensureOriginal, ensureRow with its mask, summarize) are callable one at a time,
// as a worker given one row would call them: what they compute is what a serial runCompare over
// the same folder finds and reuses, under the same keys.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative as relativePath } from 'node:path';
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
const rawConfig = {
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
};
const config = parseCompareConfig(rawConfig, 'steps test config');

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

it('a file forget set is keyed by the indices it lists, not by how its path is spelled', async () => {
  const out = await mkdtemp(join(tmpdir(), 'insalun-forget-file-'));
  const list = join(out, 'forget.json');
  await writeFile(list, JSON.stringify([3, 1, 4, 10, 5, 9, 2, 6]));
  const withForget = (forget: string) =>
    parseCompareConfig(
      { ...rawConfig, forget, methods: [{ name: 'Retrain', method: 'retrain' }] },
      'forget file test config',
    );
  const compute = defaultCompute('cpu');
  const runWith = async (forget: string) => {
    const logs: string[] = [];
    await runCompare(withForget(forget), out, compute, { ...silentReporter, log: (m) => logs.push(m) });
    return logs.filter((l) => !l.includes('original model'));
  };
  expect(await runWith(`file:${list}`)).toEqual(['[seed 1] Retrain (retrain)']);
  // The same list under a relative spelling of the path, in another order: everything reused.
  const relative = relativePath(process.cwd(), list);
  await writeFile(list, JSON.stringify([1, 2, 3, 4, 5, 6, 9, 10]));
  expect(await runWith(`file:${relative}`)).toEqual(['[seed 1] reusing Retrain']);
  // The same path with another list: computed again.
  await writeFile(list, JSON.stringify([1, 2, 3, 4, 5, 6, 9, 11]));
  expect(await runWith(`file:${list}`)).toEqual(['[seed 1] Retrain (retrain)']);
}, 120_000);
