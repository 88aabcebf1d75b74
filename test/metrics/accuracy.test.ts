import { describe, expect, it } from 'vitest';
import {
  accuracy,
  argmax,
  confidence,
  correctness,
  entropy,
  modifiedEntropy,
  softmax,
} from '../../src/metrics/accuracy.js';

/** Logits whose softmax is exactly the given probabilities (up to float32 rounding). */
const logitsOf = (...rows: number[][]) => Float32Array.from(rows.flat().map(Math.log));

describe('argmax, correctness and accuracy', () => {
  const logits = Float32Array.from([
    0,
    2,
    1, // -> 1
    5,
    5,
    0, // tie -> first, 0
    -1,
    -3,
    -2, // -> 0
    0,
    0,
    9, // -> 2
  ]);

  it('takes the first maximum on ties', () => {
    expect(Array.from(argmax(logits, 3))).toEqual([1, 0, 0, 2]);
  });

  it('scores top-1 predictions against the labels', () => {
    const labels = Int32Array.from([1, 1, 0, 0]);
    expect(Array.from(correctness(logits, labels, 3))).toEqual([1, 0, 1, 0]);
    expect(accuracy(logits, labels, 3)).toBe(50);
  });

  it('rejects shapes and labels that do not fit', () => {
    expect(() => argmax(new Float32Array(5), 3)).toThrow(/whole number of rows/);
    expect(() => accuracy(logits, [1, 1, 0], 3)).toThrow(/3 labels for 4 samples/);
    expect(() => accuracy(logits, [1, 1, 0, 3], 3)).toThrow(/label 3 of sample 3/);
    expect(() => accuracy(new Float32Array(0), [], 3)).toThrow(/empty/);
  });
});

describe('softmax', () => {
  it('is stable for huge logits', () => {
    const p = softmax(Float32Array.from([1000, 0, -1000, 3e38, 3e38, 0]), 3);
    expect(Array.from(p.subarray(0, 3))).toEqual([1, Math.exp(-1000), 0]);
    expect(Array.from(p.subarray(3))).toEqual([0.5, 0.5, 0]);
  });

  it('recovers the probabilities the logits were made from', () => {
    const p = softmax(logitsOf([0.7, 0.2, 0.1]), 3);
    expect(p[0]).toBeCloseTo(0.7, 6);
    expect(p[1]).toBeCloseTo(0.2, 6);
    expect(p[2]).toBeCloseTo(0.1, 6);
  });
});

describe('per-sample MIA features', () => {
  const logits = logitsOf([0.7, 0.2, 0.1], [0.7, 0.2, 0.1]);
  const labels = [0, 1];

  it('confidence is the probability of the true class', () => {
    const c = confidence(logits, labels, 3);
    expect(c[0]).toBeCloseTo(0.7, 6);
    expect(c[1]).toBeCloseTo(0.2, 6);
  });

  it('entropy matches -sum p log p and is log(classes) for a uniform output', () => {
    const h = entropy(logits, 3);
    // -(0.7 ln 0.7 + 0.2 ln 0.2 + 0.1 ln 0.1)
    expect(h[0]).toBeCloseTo(0.8018185525, 6);
    expect(entropy(new Float32Array(10), 10)[0]).toBeCloseTo(Math.log(10), 12);
  });

  it('modified entropy matches a hand computation', () => {
    const m = modifiedEntropy(logits, labels, 3);
    // y = 0: -(1 - 0.7) ln 0.7 - 0.2 ln(1 - 0.2) - 0.1 ln(1 - 0.1)
    expect(m[0]).toBeCloseTo(0.162167245, 6);
    // y = 1: -(1 - 0.2) ln 0.2 - 0.7 ln(1 - 0.7) - 0.1 ln(1 - 0.1)
    expect(m[1]).toBeCloseTo(2.1408673445, 6);
  });

  it('modified entropy stays finite for certain predictions, floored at log(1e-30)', () => {
    const certain = Float32Array.from([0, 200]); // p = [e^-200, 1]
    const right = modifiedEntropy(certain, [1], 2)[0]!;
    const wrong = modifiedEntropy(certain, [0], 2)[0]!;
    expect(right).toBeGreaterThanOrEqual(0);
    expect(right).toBeLessThan(1e-80);
    // y = 0: -(1 - p0) * max(ln p0, ln 1e-30) - p1 * max(ln(1 - p1), ln 1e-30) = 2 * 30 ln 10
    expect(wrong).toBeCloseTo(2 * 30 * Math.log(10), 9);
  });
});
