// The hand-written paths against independent computations: the custom-loss loops reduce to plain
// fine-tuning when their extra terms are switched off, and IU's update matches the formula with
// gradients computed another way (per-sample sums from batch-size-1 passes).
import { afterAll, describe, expect, it } from 'vitest';
import { runUnlearning } from '../../src/unlearn/methods.js';
import { context, fixture, originalCopy } from './fixture.js';

afterAll(async () => (await fixture()).cleanup());

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

describe('unlearning consistency', () => {
  it('neggrad+ with beta 1 and scrub with gamma 1, alpha 0, no max steps both equal ft', async () => {
    const f = await fixture();
    const common = { epochs: 2, batchSize: 32, lr: 0.01 };
    const ft = context(f, { hyper: common });
    const start = ft.model.getParameters();
    await runUnlearning('ft', ft);
    const reference = ft.model.getParameters();
    const moved = maxAbsDiff(start, reference);
    expect(moved).toBeGreaterThan(1e-3);

    const ng = context(f, { hyper: { ...common, beta: 1 } });
    await runUnlearning('neggrad+', ng);
    const sc = context(f, { hyper: { ...common, gamma: 1, alpha: 0, msteps: 0 } });
    await runUnlearning('scrub', sc);
    // float64 softmax in TypeScript vs float32 in the engine: equal up to rounding
    expect(maxAbsDiff(ng.model.getParameters(), reference)).toBeLessThan(1e-3 * moved);
    expect(maxAbsDiff(sc.model.getParameters(), reference)).toBeLessThan(1e-3 * moved);

    // and the forget term does matter
    const ascending = context(f, { hyper: { ...common, beta: 0.5 } });
    await runUnlearning('neggrad+', ascending);
    expect(maxAbsDiff(ascending.model.getParameters(), reference)).toBeGreaterThan(0.05 * moved);
  });

  it('iu: theta moves by alpha * k, k from SalUn weighting and one WoodFisher update', async () => {
    const f = await fixture();
    const { forget, retain } = f.view;
    const model = originalCopy(f);
    const eval1 = (indices: Int32Array) =>
      model.gradient(f.data.train, { indices, batchSize: 1, train: false, augment: false, seed: 0, epoch: 0 });
    // sum over samples of the per-sample gradient
    const F = await eval1(forget);
    const R = await eval1(retain);
    const g1 = await eval1(retain.subarray(0, 1));
    const g2 = await eval1(retain.subarray(1, 2));
    const nf = forget.length,
      nr = retain.length,
      N = 2,
      alpha = 3;
    const v = Float64Array.from(F, (x, i) => x / (nf + nr) - (R[i] * nf) / ((nf + nr) * nr));
    let vg = 0,
      og = 0;
    for (let i = 0; i < v.length; i++) {
      vg += v[i] * g2[i];
      og += g1[i] * g2[i];
    }
    const k = v.map((x, i) => x - (vg / (N + og)) * g1[i]);

    const ctx = context(f, { hyper: { samples: N, alpha, batchSize: 64 } });
    const before = ctx.model.getParameters();
    await runUnlearning('iu', ctx);
    const delta = ctx.model.getParameters().map((x, i) => x - before[i]);
    const expected = k.map((x) => alpha * x);
    const scale = Math.max(...Array.from(expected, Math.abs));
    expect(scale).toBeGreaterThan(0);
    expect(maxAbsDiff(delta, expected)).toBeLessThan(1e-3 * scale);
  });
});
