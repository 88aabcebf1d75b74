// Retrain repeats the original's recorded training recipe.
import { expect, it } from 'vitest';
import { salunMilestones, scaleSchedule, type TrainRecipe } from '../../src/experiment/loop.js';
import { trainOptions } from '../../src/experiment/train.js';
import { defaultCompute } from '../../src/native/index.js';
import { METHOD_DEFAULTS, resolveHyper } from '../../src/unlearn/methods.js';

const recipe: TrainRecipe = {
  epochs: 40,
  lr: 0.05,
  momentum: 0.8,
  weightDecay: 1e-4,
  batchSize: 128,
  schedule: { kind: 'multistep', milestones: [20, 30], gamma: 0.1 },
  augment: false,
};

it('retrain takes its defaults from the recipe; overrides still win; other methods keep theirs', () => {
  expect(resolveHyper('retrain', {}, recipe)).toEqual({
    batchSize: 128,
    momentum: 0.8,
    weightDecay: 1e-4,
    augment: false,
    epochs: 40,
    lr: 0.05,
  });
  expect(resolveHyper('retrain', { epochs: 10 }, recipe).epochs).toBe(10);
  expect(resolveHyper('retrain', {})).toEqual(METHOD_DEFAULTS.retrain);
  expect(resolveHyper('ft', {}, recipe)).toEqual(METHOD_DEFAULTS.ft);
});

it('multistep milestones scale with a different epoch count', () => {
  expect(scaleSchedule(recipe, 40).milestones).toEqual([20, 30]);
  expect(scaleSchedule(recipe, 20).milestones).toEqual([10, 15]);
  const cosine = { ...recipe, schedule: { kind: 'cosine' as const, milestones: [], gamma: 0.1 } };
  expect(scaleSchedule(cosine, 7)).toEqual(cosine.schedule);
});

it("SalUn's milestones are half and three quarters of the epochs rounded down, wherever a recipe gets them", () => {
  expect(salunMilestones(182)).toEqual([91, 136]); // docs/method.md: lr x0.1 at epochs 91 and 136
  expect(salunMilestones(20)).toEqual([10, 15]);
  expect(salunMilestones(7)).toEqual([3, 5]);
  // insalun train and compare build their options with trainOptions
  const run = {
    data: { dataset: 'synthetic', valFraction: 0.1, splitSeed: 0 },
    compute: defaultCompute('cpu'),
    width: 8,
    seed: 0,
    outDir: 'unused',
    resume: false,
  };
  const flags = {
    epochs: 182,
    batchSize: 256,
    lr: 0.1,
    momentum: 0.9,
    weightDecay: 5e-4,
    schedule: 'multistep' as const,
    augment: true,
  };
  expect(trainOptions(flags, run).schedule).toEqual({ kind: 'multistep', milestones: [91, 136], gamma: 0.1 });
  expect(trainOptions({ ...flags, milestones: [5], gamma: 0.5 }, run).schedule).toEqual({
    kind: 'multistep',
    milestones: [5],
    gamma: 0.5,
  });
});
