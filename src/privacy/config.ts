// The `privacy` block of a compare config (docs/privacy.md): how many models each population has,
// which forget set they share, the test sample, and the bootstrap over forget examples.
import { z } from 'zod';

export const PrivacyConfig = z.object({
  /** Models per population (originals, retrained, and unlearned per method); even, for U-LiRA's halves. */
  models: z
    .number()
    .int()
    .min(4)
    .refine((n) => n % 2 === 0, 'must be even (U-LiRA splits each population into two halves)'),
  /** The seed of the one forget set every model shares (default: the config's first seed). */
  forgetSeed: z.number().int().min(0).optional(),
  /** Seed of the first model; model k trains with firstSeed + k. */
  firstSeed: z.number().int().min(0).default(1),
  /** Test examples whose confidences are saved beside the forget set's (default: as many as forget). */
  testSample: z.number().int().min(1).optional(),
  /** Bootstrap resamples of the forget examples for the intervals, and their seed. */
  bootstrap: z.number().int().min(100).default(1000),
  bootstrapSeed: z.number().int().min(0).default(0),
});
export type PrivacyConfig = z.infer<typeof PrivacyConfig>;
