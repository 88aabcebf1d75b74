// One method's privacy scores from its population and the retrained one (docs/privacy.md): the
// challenge's per-example epsilons, forget score F and final score, U-LiRA's accuracy and TPRs,
// each with a bootstrap interval over the forget examples.
import { bootstrapInterval, type Interval } from './bootstrap.js';
import {
  type ChallengeAccuracies,
  type ConfidenceMatrix,
  challengeEpsilons,
  challengeScore,
  forgetScoreFromEpsilons,
} from './challenge-score.js';
import { checkPopulations, uliraResult, uliraScores } from './ulira.js';

export interface PrivacyScores {
  /** The challenge's epsilon per forget example (columns of the populations). */
  epsilons: number[];
  F: number;
  /** F x (RA_u / RA_r) x (TA_u / TA_r). */
  score: number;
  uliraAccuracy: number;
  tprAt1: number;
  tprAt01: number;
  intervals: Record<'F' | 'score' | 'uliraAccuracy' | 'tprAt1' | 'tprAt01', Interval>;
}

export interface BootstrapSettings {
  resamples: number;
  seed: number;
}

export function privacyScores(
  unlearned: ConfidenceMatrix,
  retrained: ConfidenceMatrix,
  accuracies: ChallengeAccuracies,
  bootstrap: BootstrapSettings,
): PrivacyScores {
  checkPopulations(unlearned, retrained);
  const epsilons = challengeEpsilons(unlearned, retrained);
  const models = unlearned.models;
  const scale = challengeScore(1, accuracies); // the accuracy ratios, fixed over resamples
  const fOf = (examples?: Int32Array) =>
    forgetScoreFromEpsilons(examples ? Array.from(examples, (i) => epsilons[i]) : epsilons, models);
  const ulira = uliraScores(unlearned, retrained);
  const full = uliraResult(ulira);
  const n = unlearned.examples;
  // Every statistic sees the same resamples (same seed), so the intervals are of one bootstrap.
  const interval = (statistic: (examples: Int32Array) => number) =>
    bootstrapInterval(n, statistic, bootstrap.resamples, bootstrap.seed);
  const F = fOf();
  return {
    epsilons: Array.from(epsilons),
    F,
    score: F * scale,
    uliraAccuracy: full.accuracy,
    tprAt1: full.tprAt1,
    tprAt01: full.tprAt01,
    intervals: {
      F: interval((s) => fOf(s)),
      score: interval((s) => fOf(s) * scale),
      uliraAccuracy: interval((s) => uliraResult(ulira, s).accuracy),
      tprAt1: interval((s) => uliraResult(ulira, s).tprAt1),
      tprAt01: interval((s) => uliraResult(ulira, s).tprAt01),
    },
  };
}
