// Retrain repeats the original's recorded training recipe.
import { expect, it } from 'vitest';
import { scaleSchedule, type TrainRecipe } from '../../src/experiment/loop.js';
import { METHOD_DEFAULTS, resolveHyper } from '../../src/unlearn/methods.js';

const recipe: TrainRecipe = { epochs: 40, lr: 0.05, momentum: 0.8, weightDecay: 1e-4, batchSize: 128, schedule: { kind: 'multistep', milestones: [20, 30], gamma: 0.1 }, augment: false };

it('retrain takes its defaults from the recipe; overrides still win; other methods keep theirs', () => {
  expect(resolveHyper('retrain', {}, recipe)).toEqual({ batchSize: 128, momentum: 0.8, weightDecay: 1e-4, augment: false, epochs: 40, lr: 0.05 });
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
