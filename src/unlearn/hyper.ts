// The hyperparameters of each unlearning method as a zod schema: the methods receive typed objects
// inferred from these, and configs and --set overrides are checked against them (names, types,
// ranges). The defaults are in methods.ts (METHOD_DEFAULTS).
import { z } from 'zod';
import type { MethodName } from './methods.js';

// The kinds of value; each description completes "hyperparameter X of M must be ...".
const nonNegative = z.number().min(0).describe('a number >= 0');
const positive = z.number().gt(0).describe('a number > 0');
const fraction = z.number().min(0).max(1).describe('a number in [0, 1]');
const whole = z.number().int().min(0).describe('a whole number >= 0');
const count = z.number().int().min(1).describe('a whole number >= 1');
const flag = z.boolean().describe('true or false');

// Every gradient method's SGD run.
const SGD = {
  batchSize: count,
  momentum: fraction,
  weightDecay: nonNegative,
  augment: flag,
  epochs: count,
  lr: nonNegative,
};

// Keys in the order METHOD_DEFAULTS lists them, which is the order errors list the valid ones in.
export const HYPER_SCHEMAS = {
  retrain: z.strictObject(SGD),
  ft: z.strictObject(SGD),
  rl: z.strictObject(SGD),
  ga: z.strictObject(SGD),
  iu: z.strictObject({ alpha: nonNegative, samples: count, batchSize: count }),
  'l1-sparse': z.strictObject({ ...SGD, alpha: nonNegative }),
  bs: z.strictObject({ ...SGD, eps: fraction.describe('a number in [0, 1] (pixel units)') }),
  be: z.strictObject(SGD),
  'neggrad+': z.strictObject({ ...SGD, beta: fraction }),
  scrub: z.strictObject({ ...SGD, gamma: nonNegative, alpha: nonNegative, T: positive, msteps: whole }),
  ssd: z.strictObject({ alpha: nonNegative, lambda: nonNegative, batchSize: count }),
} satisfies Record<MethodName, z.ZodObject>;

/** The resolved hyperparameters of method M: its defaults with the overrides applied. */
export type MethodHyper<M extends MethodName> = z.infer<(typeof HYPER_SCHEMAS)[M]>;

/** What the SGD helpers shared by the gradient methods read. */
export type SgdHyper = MethodHyper<'ft'>;

/** Hyperparameters by name, untyped: overrides as a config or caller gives them (validated by
 * resolveHyper), or any method's resolved values as a record stores them. */
export type HyperValues = Readonly<Record<string, number | boolean>>;
