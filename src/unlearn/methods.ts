// The unlearning methods of docs/method.md section 5: their names, default hyperparameters, and one
// entry point that validates the hyperparameters, applies the mask and times the run (RTE).
import type { z } from 'zod';
import type { TrainRecipe } from '../experiment/loop.js';
import { boundaryExpanding, boundaryShrink } from './boundary.js';
import type { UnlearnContext } from './common.js';
import { negGradPlus, scrub } from './custom-loss.js';
import { HYPER_SCHEMAS, type HyperValues, type MethodHyper } from './hyper.js';
import { influenceUnlearning } from './influence.js';
import { selectiveSynapticDampening } from './ssd.js';
import { fineTune, gradientAscent, l1Sparse, randomLabel, retrain } from './supervised.js';

export type { UnlearnContext } from './common.js';
export type { HyperValues, MethodHyper } from './hyper.js';

export const METHOD_NAMES = [
  'retrain',
  'ft',
  'rl',
  'ga',
  'iu',
  'l1-sparse',
  'bs',
  'be',
  'neggrad+',
  'scrub',
  'ssd',
] as const;
export type MethodName = (typeof METHOD_NAMES)[number];

export function isMethodName(name: string): name is MethodName {
  return (METHOD_NAMES as readonly string[]).includes(name);
}

// Every gradient method: SGD with momentum 0.9 and weight decay 5e-4, batches of 256, training
// augmentation on, a constant learning rate (SalUn's milestones never trigger in
// 10 epochs; retrain alone has the original's schedule).
const SGD = { batchSize: 256, momentum: 0.9, weightDecay: 5e-4, augment: true };

/** Defaults: SalUn's README values for CIFAR-10 10% random forgetting, except where noted. */
export const METHOD_DEFAULTS: { readonly [M in MethodName]: MethodHyper<M> } = {
  retrain: { ...SGD, epochs: 182, lr: 0.1 }, // the original's recipe; lr x0.1 at 50% and 75% of the epochs
  ft: { ...SGD, epochs: 10, lr: 0.01 },
  rl: { ...SGD, epochs: 10, lr: 0.013 },
  ga: { ...SGD, epochs: 5, lr: 1e-4 },
  // alpha: the step size of theta += alpha * k (SalUn's README searches [1, 20]); samples: the
  // per-sample retain gradients of the WoodFisher loop, also its dampening N (SalUn: 1000).
  iu: { alpha: 10, samples: 1000, batchSize: 256 },
  // alpha: the initial L1 coefficient, decayed linearly to 0 (SalUn's README leaves it to a search).
  'l1-sparse': { ...SGD, epochs: 10, lr: 0.01, alpha: 5e-4 },
  // Scripts derived from SalUn's code run bs and be at lr 5e-6 (the Boundary Unlearning code: 1e-5),
  // which barely moves a model trained at lr 0.1 (SalUn reports UA under 1% for both); 0.01, the
  // fine-tuning rate, makes them do something. Pass lr to reproduce the published setting.
  // eps: the FGSM step in [0, 1] pixel units (docs/method.md; the bound of SalUn's PGD).
  bs: { ...SGD, epochs: 10, lr: 0.01, eps: 0.1 },
  be: { ...SGD, epochs: 10, lr: 0.01 },
  // beta weighs the retain CE, 1 - beta the ascended forget CE (SCRUB paper's NegGrad+).
  'neggrad+': { ...SGD, epochs: 10, lr: 0.01, beta: 0.95 },
  // SCRUB's CIFAR settings: gamma (CE), alpha (KL) on retain, temperature T, msteps max epochs;
  // 5 epochs: docs/method.md gives none; SCRUB's notebooks run a handful of epochs at this rate.
  scrub: { ...SGD, epochs: 5, lr: 5e-4, gamma: 0.99, alpha: 0.001, T: 4, msteps: 2 },
  // SSD's selection weighting alpha and dampening constant lambda (its CIFAR values).
  ssd: { alpha: 10, lambda: 1, batchSize: 256 },
};

/** Retrain repeats the original's recipe when the checkpoint records it. */
function retrainDefaults(r: TrainRecipe): MethodHyper<'retrain'> {
  return {
    batchSize: r.batchSize,
    momentum: r.momentum,
    weightDecay: r.weightDecay,
    augment: r.augment,
    epochs: r.epochs,
    lr: r.lr,
  };
}

const shown = (value: unknown) => (typeof value === 'string' ? `'${value}'` : String(value));

/**
 * Why `overrides` are not valid hyperparameters of `method` (one line naming every bad key, and
 * the valid keys when one is unknown), or null when they are valid.
 */
export function hyperProblem(method: MethodName, overrides: Readonly<Record<string, unknown>>): string | null {
  const schema = HYPER_SCHEMAS[method];
  const valid = Object.keys(schema.shape);
  const unknown = Object.keys(overrides).filter((key) => !valid.includes(key));
  if (unknown.length)
    return `unknown hyperparameter ${unknown.map((k) => `'${k}'`).join(', ')} for ${method}; valid: ${valid.join(', ')}`;
  // Checked on top of the defaults, so that a key given as undefined is refused, not applied.
  const result = schema.safeParse({ ...METHOD_DEFAULTS[method], ...overrides });
  if (result.success) return null;
  const bad = [...new Set(result.error.issues.map((issue) => String(issue.path[0])))];
  const shape: Record<string, z.ZodType> = schema.shape;
  return bad
    .map((key) => `hyperparameter ${key} of ${method} must be ${shape[key].description}, got ${shown(overrides[key])}`)
    .join('; ');
}

/** The defaults of `method` with `overrides` applied; unknown or invalid values are errors. */
export function resolveHyper<M extends MethodName>(
  method: M,
  overrides: Readonly<Record<string, unknown>>,
  recipe?: TrainRecipe,
): MethodHyper<M> {
  const problem = hyperProblem(method, overrides);
  if (problem) throw new Error(problem);
  const defaults = method === 'retrain' && recipe ? retrainDefaults(recipe) : METHOD_DEFAULTS[method];
  return { ...defaults, ...overrides } as MethodHyper<M>;
}

// Each method takes its own typed hyperparameters (a mapped type, so that IMPLEMENTATIONS[method]
// is called with MethodHyper of that same method).
const IMPLEMENTATIONS: { [M in MethodName]: (ctx: UnlearnContext, h: MethodHyper<M>) => Promise<void> } = {
  retrain,
  ft: fineTune,
  rl: randomLabel,
  ga: gradientAscent,
  iu: influenceUnlearning,
  'l1-sparse': l1Sparse,
  bs: boundaryShrink,
  be: boundaryExpanding,
  'neggrad+': negGradPlus,
  scrub,
  ssd: selectiveSynapticDampening,
};

export interface UnlearnRun {
  method: MethodName;
  hyper: HyperValues; // the values used: defaults with overrides
  seconds: number; // wall clock of the unlearning itself (RTE)
}

/** Unlearns ctx.model in place. The mask (when given) is set for the run and cleared after it. */
export async function runUnlearning<M extends MethodName>(method: M, ctx: UnlearnContext): Promise<UnlearnRun> {
  if (!isMethodName(method))
    throw new Error(`unknown unlearning method '${method}'; valid: ${METHOD_NAMES.join(', ')}`);
  const hyper = resolveHyper(method, ctx.hyper, ctx.recipe);
  const { model, mask } = ctx;
  if (mask) {
    if (method === 'retrain') throw new Error('retrain takes no mask: it trains every weight from the initial ones');
    if (mask.length !== model.parameterCount)
      throw new Error(`the mask has ${mask.length} values, the model ${model.parameterCount} parameters`);
  }
  const start = performance.now();
  model.resetOptimizer(); // a fresh optimizer, as SalUn builds one per unlearning run
  if (mask) model.setMask(mask, ctx.maskMode);
  try {
    await IMPLEMENTATIONS[method](ctx, hyper);
  } finally {
    if (mask) model.setMask(null, ctx.maskMode);
  }
  return { method, hyper, seconds: (performance.now() - start) / 1000 };
}
