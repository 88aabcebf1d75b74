// U-LiRA (Hayes et al., "Inexact unlearning needs more careful evaluations to avoid a false sense of
// privacy", SaTML 2025), over populations of models that share one forget set (docs/privacy.md):
// per forget example, one Gaussian is fitted to the confidences of the unlearned shadow models and
// one to the retrained shadow models; a held-out target model's confidence is called "unlearned"
// when its likelihood under the first is larger. Two folds: the first half of each population is
// the shadow half and the second the targets, then the other way round.

import type { ConfidenceMatrix } from './challenge-score.js';

/** Smallest variance a fitted Gaussian gets, so that a population whose confidences are all equal
 * (saturated, or identical models) still has a density; 1e-4 is a standard deviation of 0.01 on a
 * scale where confidences span about +-100. */
export const ULIRA_VARIANCE_FLOOR = 1e-4;

/** Likelihood-ratio scores of every (example, target model) pair, per example. */
export interface UliraScores {
  examples: number;
  /** scores of unlearned targets: [example][target]; positive says "unlearned". */
  unlearned: Float64Array[];
  /** scores of retrained targets: [example][target]. */
  retrained: Float64Array[];
}

function gaussianOf(values: number[]): { mean: number; variance: number } {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const sq = values.reduce((a, v) => a + (v - mean) ** 2, 0);
  return { mean, variance: Math.max(sq / (values.length - 1), ULIRA_VARIANCE_FLOOR) };
}

const logDensity = (x: number, g: { mean: number; variance: number }) =>
  -0.5 * Math.log(2 * Math.PI * g.variance) - (x - g.mean) ** 2 / (2 * g.variance);

export function checkPopulations(unlearned: ConfidenceMatrix, retrained: ConfidenceMatrix): void {
  if (unlearned.models !== retrained.models || unlearned.examples !== retrained.examples) {
    throw new RangeError(
      `mismatched populations: unlearned is ${unlearned.models} models x ${unlearned.examples} examples, retrained ${retrained.models} x ${retrained.examples}`,
    );
  }
  if (unlearned.models < 4 || unlearned.models % 2 !== 0) {
    throw new RangeError(`U-LiRA needs an even number of models, at least 4, per population; got ${unlearned.models}`);
  }
}

/** The per-example likelihood-ratio scores of both folds' target models. */
export function uliraScores(unlearned: ConfidenceMatrix, retrained: ConfidenceMatrix): UliraScores {
  checkPopulations(unlearned, retrained);
  const { models, examples } = unlearned;
  const half = models / 2;
  const at = (m: ConfidenceMatrix, model: number, example: number) => m.data[model * examples + example];
  const folds = [
    { shadow: [0, half], target: [half, models] },
    { shadow: [half, models], target: [0, half] },
  ];
  const out: UliraScores = { examples, unlearned: [], retrained: [] };
  for (let e = 0; e < examples; e++) {
    const u = new Float64Array(models);
    const r = new Float64Array(models);
    let n = 0;
    for (const { shadow, target } of folds) {
      const fit = (m: ConfidenceMatrix) => {
        const values: number[] = [];
        for (let k = shadow[0]; k < shadow[1]; k++) values.push(at(m, k, e));
        return gaussianOf(values);
      };
      const gu = fit(unlearned);
      const gr = fit(retrained);
      const score = (x: number) => logDensity(x, gu) - logDensity(x, gr);
      for (let k = target[0]; k < target[1]; k++, n++) {
        u[n] = score(at(unlearned, k, e));
        r[n] = score(at(retrained, k, e));
      }
    }
    out.unlearned.push(u);
    out.retrained.push(r);
  }
  return out;
}

export interface UliraResult {
  /** Share of target (example, model) pairs the attack labels right, in %; 50 = indistinguishable. */
  accuracy: number;
  /** True-positive rates (unlearned called unlearned), in %, at 1% and 0.1% false positives. */
  tprAt1: number;
  tprAt01: number;
}

/** TPR at false-positive rate `fpr`: the share of positives above the threshold that lets at most
 * floor(fpr x negatives) negatives through (strictly above it, so ties do not count as passed). */
export function tprAtFpr(positives: Float64Array, negatives: Float64Array, fpr: number): number {
  const allowed = Math.floor(fpr * negatives.length);
  if (allowed >= negatives.length) return 1;
  const sorted = Float64Array.from(negatives).sort().reverse();
  const threshold = sorted[allowed];
  let hits = 0;
  for (const s of positives) if (s > threshold) hits++;
  return hits / positives.length;
}

/** U-LiRA's accuracy and TPRs over the given examples (all of them by default; repeats allowed, as
 * a bootstrap resample has). The decision rule is the likelihood ratio's sign (> 0: unlearned). */
export function uliraResult(scores: UliraScores, examples?: ArrayLike<number>): UliraResult {
  const chosen = examples ?? Array.from({ length: scores.examples }, (_, i) => i);
  const pos: number[] = [];
  const neg: number[] = [];
  for (let i = 0; i < chosen.length; i++) {
    for (const s of scores.unlearned[chosen[i]]) pos.push(s);
    for (const s of scores.retrained[chosen[i]]) neg.push(s);
  }
  let right = 0;
  for (const s of pos) if (s > 0) right++;
  for (const s of neg) if (!(s > 0)) right++;
  const p = Float64Array.from(pos);
  const n = Float64Array.from(neg);
  return {
    accuracy: (100 * right) / (pos.length + neg.length),
    tprAt1: 100 * tprAtFpr(p, n, 0.01),
    tprAt01: 100 * tprAtFpr(p, n, 0.001),
  };
}
