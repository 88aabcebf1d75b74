// The NeurIPS 2023 unlearning-challenge score (docs/privacy.md); checked against the challenge's
// own scorer by scripts/check-challenge-score.sh, outside this suite.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  bucketPoints,
  CHALLENGE_DELTA,
  CHALLENGE_EPSILON_CAP,
  challengeEpsilons,
  challengeForgetScore,
  challengeScore,
  exampleEpsilon,
  forgetScoreFromEpsilons,
  logitScaledConfidence,
} from '../../src/privacy/challenge-score.js';
import { readConfidences, writeConfidences } from '../../src/privacy/confidence-file.js';

const spread = (n: number, from: number, step: number) => Array.from({ length: n }, (_, i) => from + i * step);

describe('logit-scaled confidence', () => {
  it('matches a float64 naive computation on moderate logits', () => {
    const classes = 10;
    const logits = Float64Array.from({ length: 20 * classes }, (_, i) => 6 * Math.sin(i * 1.7));
    const labels = Array.from({ length: 20 }, (_, i) => (i * 3) % classes);
    const conf = logitScaledConfidence(logits, labels, classes);
    for (let i = 0; i < 20; i++) {
      const p = Array.from({ length: classes }, (_, j) => Math.exp(logits[i * classes + j]));
      const sum = p.reduce((a, b) => a + b, 0);
      const naive = Math.log(p[labels[i]] / sum) - Math.log((sum - p[labels[i]]) / sum);
      expect(conf[i]).toBeCloseTo(naive, 9);
    }
  });

  it('is finite on extreme logits', () => {
    const logits = Float32Array.from([1e4, -1e4, 0, -1e4, 1e4, 0, 3e38, -3e38, 1]);
    const conf = logitScaledConfidence(logits, [0, 0, 1], 3);
    expect(Array.from(conf).every(Number.isFinite)).toBe(true);
    expect(conf[0]).toBeGreaterThan(100); // saturated correct: about +103.6
    expect(conf[1]).toBeLessThan(-100);
    expect(conf[2]).toBeLessThan(-100);
  });
});

describe('epsilon per example', () => {
  it('is 0 for identical populations', () => {
    const pop = spread(16, -1, 0.13);
    expect(exampleEpsilon(pop, pop)).toBe(0);
  });

  it('is the cap for separable populations', () => {
    expect(exampleEpsilon(spread(16, 10, 0.1), spread(16, 0, 0.1))).toBe(CHALLENGE_EPSILON_CAP);
  });

  it('is the cap for a peaky population (spread under 1% of the other)', () => {
    expect(exampleEpsilon(spread(16, 0, 0.1), spread(16, 0.5, 0.0001))).toBe(CHALLENGE_EPSILON_CAP);
  });

  it('gives a known TPR/FPR pair its epsilon by the formula', () => {
    // 8 models each, overlapping by one sample each way: the best any rule can do with fpr and fnr
    // both above 0 is fpr = fnr = 1/8 (a single threshold between 0.7 and 0.75).
    const pos = [7, 8, 9, 10, 11, 12, 13, 14].map((v) => v * 0.1);
    const neg = [0, 1, 2, 3, 4, 5, 6, 7.5].map((v) => v * 0.1);
    const fpr = 1 / 8;
    const fnr = 1 / 8;
    const expected = Math.log(1 - CHALLENGE_DELTA - fpr) - Math.log(fnr);
    expect(exampleEpsilon(pos, neg)).toBeCloseTo(expected, 5);
  });

  it('takes the retrained population as positive only when its median is larger', () => {
    const u = { models: 4, examples: 1, data: Float64Array.from([0, 1, 2, 3]) };
    const r = { models: 4, examples: 1, data: Float64Array.from([2, 3, 4, 5]) };
    expect(challengeEpsilons(u, r)[0]).toBe(exampleEpsilon([2, 3, 4, 5], [0, 1, 2, 3]));
  });
});

describe('forget score', () => {
  it('buckets of 0.5 halve their points up to ceil(ln(models - 1))', () => {
    // ln(15) = 2.71 -> 3: six buckets
    expect(bucketPoints(16).map((b) => b.points)).toEqual([1, 0.5, 0.25, 0.125, 0.0625, 0.03125]);
    // ln(63) = 4.14 -> 5: ten buckets
    expect(bucketPoints(64)).toHaveLength(10);
  });

  it('aggregates epsilons into F', () => {
    // 16 models: 0 -> 1, 0.5 -> 0.5, 1.2 -> 0.25, 2.9 -> 1/32, 3 and 50 -> 0
    const eps = [0, 0.5, 1.2, 2.9, 3, 50];
    expect(forgetScoreFromEpsilons(eps, 16)).toBeCloseTo((1 + 0.5 + 0.25 + 1 / 32) / 6, 12);
  });

  it('is 1 for identical populations and 0 for separable ones', () => {
    const models = 16;
    const examples = 3;
    const data = Float64Array.from({ length: models * examples }, (_, i) => Math.sin(i) * 2);
    const same = { models, examples, data };
    expect(challengeForgetScore(same, { ...same, data: data.slice() })).toBe(1);
    const far = { models, examples, data: data.map((v) => v + 100) };
    expect(challengeForgetScore(far, same)).toBe(0);
  });

  it('scales F by the accuracy ratios', () => {
    expect(
      challengeScore(0.5, { retainUnlearned: 0.9, retainRetrained: 1, testUnlearned: 0.8, testRetrained: 0.8 }),
    ).toBeCloseTo(0.45, 12);
  });
});

describe('confidence file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'insalun-conf-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes and reads populations with model ids and example indices', async () => {
    const path = join(dir, 'c.safetensors');
    const p = {
      unlearned: { models: 2, examples: 3, data: Float64Array.from([1, 2, 3, 4, 5, 6]) },
      retrained: { models: 2, examples: 3, data: Float64Array.from([0.5, 1.5, 2.5, 3.5, 4.5, 5.5]) },
      unlearnedIds: ['salun-seed1', 'salun-seed2'],
      retrainedIds: ['retrain-seed1', 'retrain-seed2'],
      examples: [7, 42, 1000],
    };
    await writeConfidences(path, p);
    expect(await readConfidences(path)).toEqual(p);
  });

  it('carries the same models on a test sample, when given', async () => {
    const path = join(dir, 't.safetensors');
    const m = (v: number[]) => ({ models: 2, examples: v.length / 2, data: Float64Array.from(v) });
    const p = {
      unlearned: m([1, 2, 3, 4]),
      retrained: m([5, 6, 7, 8]),
      unlearnedIds: ['a', 'b'],
      retrainedIds: ['c', 'd'],
      examples: [3, 9],
      test: { unlearned: m([0.1, 0.2]), retrained: m([0.3, 0.4]), examples: [12] },
    };
    await writeConfidences(path, p);
    expect(await readConfidences(path)).toEqual(p);
    await expect(
      writeConfidences(join(dir, 'bad-test.safetensors'), { ...p, test: { ...p.test, examples: [1, 2] } }),
    ).rejects.toThrow(/unlearned_test: 1 columns for 2 example indices/);
  });

  it('refuses ids that do not match the rows', async () => {
    const m = { models: 2, examples: 1, data: Float64Array.from([1, 2]) };
    await expect(
      writeConfidences(join(dir, 'bad.safetensors'), {
        unlearned: m,
        retrained: m,
        unlearnedIds: ['a'],
        retrainedIds: ['a', 'b'],
        examples: [0],
      }),
    ).rejects.toThrow(/ids/);
  });
});
