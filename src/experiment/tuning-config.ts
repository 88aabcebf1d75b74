// The `tuning` block of a compare config (docs/configs.md): which rows get a learning-rate grid (and
// mask-ratio grid), the validation forget set they are tuned on, and the no-Retrain rule's limit.
// Its own module so that compare.ts can hold it without importing the tuning steps.
import { z } from 'zod';

export const SELECTION_RULES = ['gap', 'no-retrain'] as const;
export type SelectionRule = (typeof SELECTION_RULES)[number];

export const TuningConfig = z.object({
  /** Per row name: the candidates' learning rates (and mask ratios, for a row with a mask). */
  grid: z.record(
    z.string().min(1),
    z.object({
      lr: z.array(z.number().positive()).min(1),
      ratio: z.array(z.number().gt(0).max(1)).min(1).optional(),
    }),
  ),
  /** The validation forget set; by default one of the reported set's kind and size, disjoint from
   *  it: random:N -> N other pool images, class:C -> class (C + 1) mod classes. */
  validationForget: z.string().optional(),
  /** The no-Retrain rule keeps candidates whose retain accuracy is at most this many points below
   *  the original model's on the validation split's retain set. */
  maxRetainDrop: z.number().min(0).default(5),
  /** The seeds whose validation forget sets choose the candidates (means over them); the choice then
   *  runs on every seed of the config. Default: every seed, each tuned on its own validation set. */
  seeds: z.array(z.number().int()).min(1).optional(),
});
export type TuningConfig = z.infer<typeof TuningConfig>;
