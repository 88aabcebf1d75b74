// Bootstrap intervals over forget examples (docs/privacy.md): the examples are resampled with
// replacement, the statistic recomputed on each resample, and the 2.5th and 97.5th percentiles of
// those values reported. Seeded, so a rerun prints the same interval.
import { Rng, randomInt } from '../data/random.js';

export type Interval = [low: number, high: number];

/** The 95% percentile interval of `statistic` over `resamples` bootstrap resamples of n examples. */
export function bootstrapInterval(
  n: number,
  statistic: (examples: Int32Array) => number,
  resamples: number,
  seed: number,
): Interval {
  if (n < 1) throw new RangeError('the bootstrap needs at least one example');
  const rng = new Rng(seed);
  const values = new Float64Array(resamples);
  const sample = new Int32Array(n);
  for (let b = 0; b < resamples; b++) {
    for (let i = 0; i < n; i++) sample[i] = randomInt(rng, n);
    values[b] = statistic(sample);
  }
  values.sort();
  const at = (q: number) => values[Math.min(resamples - 1, Math.max(0, Math.round(q * (resamples - 1))))];
  return [at(0.025), at(0.975)];
}
