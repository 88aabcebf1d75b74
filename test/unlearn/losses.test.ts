// The custom losses' gradients against central finite differences, and their known values.
import { describe, expect, it } from 'vitest';
import { crossEntropy, distillKL, sumLosses } from '../../src/unlearn/losses.js';

const classes = 3;
const logits = Float32Array.from([0.5, -1.2, 2.0, 0.1, 0.3, -0.7]);
const teacher = Float32Array.from([1.5, 0.2, -0.4, -0.3, 0.9, 0.6]);
const labels = Int32Array.from([2, 0]);

function finiteDifference(loss: (z: Float32Array) => number, z: Float32Array): number[] {
  const eps = 1e-3;
  return Array.from(z, (_, j) => {
    const up = Float32Array.from(z),
      down = Float32Array.from(z);
    up[j] += eps;
    down[j] -= eps;
    return (loss(up) - loss(down)) / (up[j] - down[j]);
  });
}

describe('unlearning losses', () => {
  it('cross-entropy: mean over the batch, gradient (softmax - onehot) / n, scaled', () => {
    const uniform = crossEntropy(new Float32Array(6), labels, classes);
    expect(uniform.loss).toBeCloseTo(Math.log(3), 12);
    const scaled = crossEntropy(logits, labels, classes, -0.05);
    const fd = finiteDifference((z) => crossEntropy(z, labels, classes, -0.05).loss, logits);
    for (const [j, g] of scaled.grad.entries()) expect(g).toBeCloseTo(fd[j], 4);
    expect(crossEntropy(logits, labels, classes).correct).toBe(1); // row 0 predicts 2 (right), row 1 predicts 1 (wrong)
  });

  it('DistillKL: zero for identical logits; gradient T (p_s - p_t) / n', () => {
    expect(distillKL(teacher, teacher, classes, 4).loss).toBeCloseTo(0, 12);
    expect(distillKL(logits, teacher, classes, 4).loss).toBeGreaterThan(0);
    const fd = finiteDifference((z) => distillKL(z, teacher, classes, 4, 0.3).loss, logits);
    for (const [j, g] of distillKL(logits, teacher, classes, 4, 0.3).grad.entries()) expect(g).toBeCloseTo(fd[j], 4);
  });

  it('sums of losses add values and gradients', () => {
    const a = crossEntropy(logits, labels, classes, 0.99);
    const b = distillKL(logits, teacher, classes, 4, 0.001);
    const sum = sumLosses(a, b);
    expect(sum.loss).toBeCloseTo(a.loss + b.loss, 12);
    for (const [j, g] of sum.grad.entries()) expect(g).toBeCloseTo(a.grad[j] + b.grad[j], 7);
  });
});
