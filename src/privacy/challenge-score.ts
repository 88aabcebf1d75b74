// The NeurIPS 2023 Machine Unlearning Challenge's score (docs/privacy.md): per forget example, how
// well any threshold rule tells the confidences of a population of unlearned models from those of a
// population of retrained ones, as an (epsilon, delta) bound; epsilons are turned into points by
// buckets and averaged into the forget score F, which the final score scales by retain and test
// accuracy. Reimplemented from the challenge's description and its published scorer
// (google-deepmind/unlearning_evaluation, metric.py), which it matches outside the test suite
// (scripts/check-challenge-score.sh).

import type { Labels } from '../metrics/accuracy.js';

/** delta of the (epsilon, delta) bound (challenge: DELTA). */
export const CHALLENGE_DELTA = 1e-5;
/** The largest epsilon reported; perfect separation and peaky populations get it (EPSILON_CAP). */
export const CHALLENGE_EPSILON_CAP = 50;
/** Thresholds per unit of confidence in both threshold grids (NUM_THRESHOLDS_PER_UNIT). */
const THRESHOLDS_PER_UNIT = 100;
/** How far the double-threshold grids reach beyond the peakier population (the scorer's `buffer`). */
const BUFFER = 2;
/** Width of a scoring bucket of epsilon. */
const BUCKET_WIDTH = 0.5;

/** A [models, examples] matrix, row-major: data[model * examples + example]. */
export interface ConfidenceMatrix {
  models: number;
  examples: number;
  data: Float64Array | Float32Array;
}

/**
 * Logit-scaled confidence log p_y - log(sum_{j != y} p_j) per example, from logits [n, classes]
 * (challenge: compute_logit_scaled_confidence, after LiRA). Stable as the challenge computes it:
 * the largest logit is subtracted before the softmax, and 1e-45 is added inside both logs, so that a
 * saturated softmax gives a finite value (about +-103.6) instead of an infinity. Computed in float64.
 */
export function logitScaledConfidence(logits: ArrayLike<number>, labels: Labels, classes: number): Float64Array {
  const n = labels.length;
  if (!Number.isInteger(classes) || classes < 2)
    throw new RangeError(`classes must be an integer >= 2, got ${classes}`);
  if (logits.length !== n * classes) {
    throw new RangeError(`logits hold ${logits.length} values, expected ${n} x ${classes}`);
  }
  const out = new Float64Array(n);
  const exps = new Float64Array(classes);
  for (let i = 0; i < n; i++) {
    const y = labels[i];
    if (!Number.isInteger(y) || y < 0 || y >= classes) throw new RangeError(`label ${y} of example ${i} out of range`);
    let max = -Infinity;
    for (let j = 0; j < classes; j++) max = Math.max(max, logits[i * classes + j]);
    let sum = 0;
    for (let j = 0; j < classes; j++) {
      exps[j] = Math.exp(logits[i * classes + j] - max);
      sum += exps[j];
    }
    let wrong = 0;
    for (let j = 0; j < classes; j++) if (j !== y) wrong += exps[j] / sum;
    const correct = exps[y] / sum;
    out[i] = Math.log(correct + 1e-45) - Math.log(wrong + 1e-45);
    if (!Number.isFinite(out[i])) throw new RangeError(`logits of example ${i} are not finite`);
  }
  return out;
}

// --- threshold grids, as the scorer builds them --------------------------------------------------

/** numpy.linspace(start, stop, num): i * step + start, the last point exactly stop. */
function numpyLinspace(start: number, stop: number, num: number): Float64Array {
  const out = new Float64Array(num);
  if (num === 1) out[0] = start;
  if (num <= 1) return out;
  const step = (stop - start) / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step + start;
  out[num - 1] = stop;
  return out;
}

/** torch.linspace(start, end, steps) on a CPU: from start up to halfway, then back from end. */
function torchLinspace(start: number, end: number, steps: number): Float64Array {
  const out = new Float64Array(Math.max(steps, 0));
  if (steps === 1) out[0] = start;
  if (steps <= 1) return out;
  const step = (end - start) / (steps - 1);
  const halfway = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < halfway ? start + step * i : end - step * (steps - i - 1);
  return out;
}

/** How many of the sorted values come before the first one for which `before` is false. */
function partitionPoint(sorted: Float64Array, before: (v: number) => boolean): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (before(sorted[mid])) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** How many of the sorted values are < x. */
const countBelow = (sorted: Float64Array, x: number) => partitionPoint(sorted, (v) => v < x);

/** How many of the sorted values are <= x. */
const countAtMost = (sorted: Float64Array, x: number) => partitionPoint(sorted, (v) => v <= x);

const f32 = Math.fround;
// The scorer's rates are float32 means over models, and its epsilon arithmetic stays in float32.
const ONE_MINUS_DELTA = f32(1 - CHALLENGE_DELTA);

/**
 * epsilon of one threshold from its rates, or NaN where the scorer discards it: infinity for a
 * perfect separation (fpr = fnr = 0, tpr = tnr = 1); discarded where only one of fpr, fnr is 0
 * (too few samples); else max(log(1 - delta - fpr) - log(fnr), log(1 - delta - fnr) - log(fpr)),
 * a log of a negative number dropping out, and clipped below at 0.
 */
function thresholdEpsilon(tpr: number, fnr: number, fpr: number, tnr: number): number {
  if (f32(fpr + fnr) === 0 && f32(tpr + tnr) === 2) return Infinity;
  if (f32(fpr * fnr) === 0) return NaN;
  const a = f32(f32(Math.log(f32(ONE_MINUS_DELTA - fpr))) - f32(Math.log(fnr)));
  const b = f32(f32(Math.log(f32(ONE_MINUS_DELTA - fnr))) - f32(Math.log(fpr)));
  const best = Number.isNaN(a) ? b : Number.isNaN(b) ? a : Math.max(a, b);
  return Number.isNaN(best) ? NaN : Math.max(best, 0);
}

/** The rate k / models as the scorer's float32 mean gives it. */
function rate(k: number, models: number): number {
  return f32(k / models);
}

/**
 * epsilon of one example from its positive and negative confidences (one per model each; positive
 * is the population with the larger median), by the challenge's two decision-rule families:
 * a single threshold (confidence >= t says positive) and a double threshold (l <= confidence <= r
 * says "the peakier population"). Returns a value in [0, CHALLENGE_EPSILON_CAP].
 */
export function exampleEpsilon(pos: ArrayLike<number>, neg: ArrayLike<number>): number {
  const models = pos.length;
  if (models < 1 || neg.length !== models)
    throw new RangeError('both populations need the same number (>= 1) of models');
  const p = Float64Array.from(pos).sort();
  const q = Float64Array.from(neg).sort();
  if (!p.every(Number.isFinite) || !q.every(Number.isFinite)) throw new RangeError('confidences must be finite');
  const posDiff = p[models - 1] - p[0];
  const negDiff = q[models - 1] - q[0];
  const largest = posDiff > negDiff ? posDiff : negDiff;
  const smallest = posDiff > negDiff ? negDiff : posDiff;
  // Peaky population: one spread under 1% of the other means a bad unlearning that the thresholds
  // may miss, so the challenge gives it the cap. (0 / 0, two constant populations, is not peaky.)
  if (smallest / largest < 0.01) return CHALLENGE_EPSILON_CAP;

  let best = NaN;
  const consider = (eps: number) => {
    if (!Number.isNaN(eps) && !(eps <= best)) best = eps;
  };

  // Double threshold: "positive" here is the peakier population (the first one when spreads tie).
  const [peaky, other] = posDiff >= negDiff ? [q, p] : [p, q];
  const width = smallest;
  const rightMin = peaky[0] + width - BUFFER;
  const rightMax = peaky[models - 1] + BUFFER;
  const rights = numpyLinspace(rightMin, rightMax, Math.ceil((rightMax - rightMin) * THRESHOLDS_PER_UNIT));
  const numLeft = Math.ceil(2 * BUFFER * THRESHOLDS_PER_UNIT);
  for (const r of rights) {
    const peakyAtMost = countAtMost(peaky, r);
    const otherAtMost = countAtMost(other, r);
    const lefts = numpyLinspace(r - width - BUFFER, r - width + BUFFER, numLeft);
    for (const l of lefts) {
      const inPeaky = Math.max(0, peakyAtMost - countBelow(peaky, l));
      const inOther = Math.max(0, otherAtMost - countBelow(other, l));
      consider(
        thresholdEpsilon(
          rate(inPeaky, models),
          rate(models - inPeaky, models),
          rate(inOther, models),
          rate(models - inOther, models),
        ),
      );
    }
  }

  // Single threshold over the range of both populations together.
  const lo = Math.min(p[0], q[0]);
  const hi = Math.max(p[models - 1], q[models - 1]);
  for (const t of torchLinspace(lo, hi, Math.ceil((hi - lo) * THRESHOLDS_PER_UNIT))) {
    const posAbove = models - countBelow(p, t);
    const negAbove = models - countBelow(q, t);
    consider(
      thresholdEpsilon(
        rate(posAbove, models),
        rate(models - posAbove, models),
        rate(negAbove, models),
        rate(models - negAbove, models),
      ),
    );
  }

  // The scorer fails when every threshold was discarded (e.g. two identical constant populations).
  if (Number.isNaN(best)) throw new RangeError('every threshold was discarded: no epsilon for this example');
  return Math.min(Math.max(best, 0), CHALLENGE_EPSILON_CAP);
}

function checkMatrix(name: string, m: ConfidenceMatrix): void {
  if (!Number.isInteger(m.models) || !Number.isInteger(m.examples) || m.data.length !== m.models * m.examples) {
    throw new RangeError(`${name}: data of ${m.data.length} values is not ${m.models} models x ${m.examples} examples`);
  }
}

function column(m: ConfidenceMatrix, example: number): Float64Array {
  const out = new Float64Array(m.models);
  for (let k = 0; k < m.models; k++) out[k] = m.data[k * m.examples + example];
  return out;
}

/** numpy.median of a column: the middle value, or the mean of the two middle ones. */
function median(values: Float64Array): number {
  const s = Float64Array.from(values).sort();
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/**
 * epsilon per example from the unlearned and retrained populations' confidences. Per example the
 * positive class is whichever population has the larger median confidence, the retrained one only
 * when its median is strictly larger (challenge: compute_forget_score_from_confs).
 */
export function challengeEpsilons(unlearned: ConfidenceMatrix, retrained: ConfidenceMatrix): Float64Array {
  checkMatrix('unlearned', unlearned);
  checkMatrix('retrained', retrained);
  if (unlearned.models !== retrained.models || unlearned.examples !== retrained.examples) {
    throw new RangeError(
      `unlearned is ${unlearned.models} x ${unlearned.examples} but retrained is ${retrained.models} x ${retrained.examples}`,
    );
  }
  const eps = new Float64Array(unlearned.examples);
  for (let i = 0; i < eps.length; i++) {
    const u = column(unlearned, i);
    const r = column(retrained, i);
    eps[i] = median(r) > median(u) ? exampleEpsilon(r, u) : exampleEpsilon(u, r);
  }
  return eps;
}

/**
 * The points of each 0.5-wide epsilon bucket for a population of `models` models: 1 for [0, 0.5),
 * halving per bucket, while the bucket ends at or below ceil(ln(models - 1)) (natural log), the
 * challenge's estimate of the largest epsilon that many samples can show. Keyed by bucket start.
 */
export function bucketPoints(models: number): { start: number; points: number }[] {
  const maxEpsilon = Math.ceil(Math.log(models - 1));
  const buckets: { start: number; points: number }[] = [];
  let points = 1;
  for (let start = 0; start + BUCKET_WIDTH <= maxEpsilon; start += BUCKET_WIDTH) {
    buckets.push({ start, points });
    points /= 2;
  }
  return buckets;
}

/** The forget score F from per-example epsilons: each example earns its bucket's points (0 past the
 * last bucket), averaged over examples. */
export function forgetScoreFromEpsilons(epsilons: ArrayLike<number>, models: number): number {
  const buckets = bucketPoints(models);
  let total = 0;
  for (let i = 0; i < epsilons.length; i++) {
    const bucket = buckets.find(({ start }) => epsilons[i] < start + BUCKET_WIDTH);
    if (bucket) total += bucket.points;
  }
  return total / epsilons.length;
}

/** The forget score F of an unlearned population against a retrained one (models >= 2). */
export function challengeForgetScore(unlearned: ConfidenceMatrix, retrained: ConfidenceMatrix): number {
  if (unlearned.models < 2) throw new RangeError('the forget score needs at least 2 models per population');
  return forgetScoreFromEpsilons(challengeEpsilons(unlearned, retrained), unlearned.models);
}

/** Mean accuracies (fractions or percentages, the same for all four) of the two populations. */
export interface ChallengeAccuracies {
  retainUnlearned: number;
  retainRetrained: number;
  testUnlearned: number;
  testRetrained: number;
}

/** The challenge's final score: F x (RA_u / RA_r) x (TA_u / TA_r). */
export function challengeScore(forgetScore: number, acc: ChallengeAccuracies): number {
  if (acc.retainRetrained <= 0 || acc.testRetrained <= 0) throw new RangeError('retrained accuracies must be > 0');
  return forgetScore * (acc.retainUnlearned / acc.retainRetrained) * (acc.testUnlearned / acc.testRetrained);
}
