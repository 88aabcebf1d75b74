// Masks under each kind of method: hard masks freeze coordinates bit for bit through a whole run,
// grad masks let weight decay move them, the TypeScript updates (iu, ssd) touch only the mask's
// coordinates, and be widens the mask for its shadow class and gives back the original shape.
import { afterAll, describe, expect, it } from 'vitest';
import { runUnlearning } from '../../src/unlearn/methods.js';
import { changedCount, context, fixture, halfMask } from './fixture.js';

afterAll(async () => (await fixture()).cleanup());

describe('unlearning with masks', () => {
  it('rl with a hard mask leaves every masked-out coordinate bit-identical and moves masked-in ones', async () => {
    const f = await fixture();
    const ctx = context(f, { hyper: { epochs: 2, batchSize: 32 } });
    const mask = halfMask(ctx.model.parameterCount);
    const before = ctx.model.getParameters();
    await runUnlearning('rl', { ...ctx, mask, maskMode: 'hard' });
    const after = ctx.model.getParameters();
    expect(changedCount(before, after, (i) => mask[i] === 0)).toBe(0);
    expect(changedCount(before, after, (i) => mask[i] === 1)).toBeGreaterThan(0.5 * mask.reduce((a, b) => a + b, 0));
  });

  it('rl with a grad mask: weight decay and momentum still move masked-out weights', async () => {
    const f = await fixture();
    const ctx = context(f, { hyper: { epochs: 1, batchSize: 32 } });
    const mask = halfMask(ctx.model.parameterCount);
    const before = ctx.model.getParameters();
    await runUnlearning('rl', { ...ctx, mask, maskMode: 'grad' });
    const after = ctx.model.getParameters();
    const nonzeroOut = before.filter((v, i) => mask[i] === 0 && v !== 0).length;
    expect(changedCount(before, after, (i) => mask[i] === 0)).toBeGreaterThan(0.9 * nonzeroOut);
  });

  it('the mask is cleared after the run', async () => {
    const f = await fixture();
    const ctx = context(f, { hyper: { epochs: 1, batchSize: 64 } });
    const mask = new Float32Array(ctx.model.parameterCount); // everything frozen
    const before = ctx.model.getParameters();
    await runUnlearning('ft', { ...ctx, mask });
    expect(changedCount(before, ctx.model.getParameters())).toBe(0);
    await runUnlearning('ft', ctx);
    expect(changedCount(before, ctx.model.getParameters())).toBeGreaterThan(0);
  });

  it('neggrad+ and scrub respect a hard mask', async () => {
    const f = await fixture();
    for (const method of ['neggrad+', 'scrub'] as const) {
      const ctx = context(f, { hyper: { epochs: 1, batchSize: 64 } });
      const mask = halfMask(ctx.model.parameterCount);
      const before = ctx.model.getParameters();
      await runUnlearning(method, { ...ctx, mask });
      const after = ctx.model.getParameters();
      expect(changedCount(before, after, (i) => mask[i] === 0)).toBe(0);
      expect(changedCount(before, after, (i) => mask[i] === 1)).toBeGreaterThan(0);
    }
  });

  it('iu changes only the masked coordinates', async () => {
    const f = await fixture();
    const ctx = context(f, { hyper: { samples: 10, batchSize: 64 } });
    const mask = halfMask(ctx.model.parameterCount);
    const before = ctx.model.getParameters();
    await runUnlearning('iu', { ...ctx, mask });
    const after = ctx.model.getParameters();
    expect(changedCount(before, after, (i) => mask[i] === 0)).toBe(0);
    expect(changedCount(before, after, (i) => mask[i] === 1)).toBeGreaterThan(0.1 * mask.reduce((a, b) => a + b, 0));
  });

  it('ssd only dampens: |theta| never grows, some shrink; with a mask only masked-in ones', async () => {
    const f = await fixture();
    const ctx = context(f, { hyper: { batchSize: 32 } });
    const before = ctx.model.getParameters();
    await runUnlearning('ssd', ctx);
    const after = ctx.model.getParameters();
    let grown = 0,
      shrunk = 0;
    for (let i = 0; i < before.length; i++) {
      if (!(Math.abs(after[i]) <= Math.abs(before[i]))) grown++;
      if (Math.abs(after[i]) < Math.abs(before[i])) shrunk++;
    }
    expect(grown).toBe(0);
    expect(shrunk).toBeGreaterThan(0);

    const masked = context(f, { hyper: { batchSize: 32 } });
    const mask = halfMask(before.length);
    await runUnlearning('ssd', { ...masked, mask });
    const afterMasked = masked.model.getParameters();
    expect(changedCount(before, afterMasked, (i) => mask[i] === 0)).toBe(0);
    // the same importances, so masked-in coordinates match the unmasked run exactly
    expect(changedCount(after, afterMasked, (i) => mask[i] === 1)).toBe(0);
    expect(changedCount(before, afterMasked, (i) => mask[i] === 1)).toBeGreaterThan(0);
  });

  it('be leaves the model with the original class count; with a hard mask masked-out weights stay', async () => {
    const f = await fixture();
    const ctx = context(f, { hyper: { epochs: 2, batchSize: 8 } });
    const mask = halfMask(ctx.model.parameterCount);
    const shapes = ctx.model.tensors().map((t) => [t.name, t.shape]);
    const before = ctx.model.getParameters();
    await runUnlearning('be', { ...ctx, mask });
    expect(ctx.model.tensors().map((t) => [t.name, t.shape])).toEqual(shapes);
    expect(ctx.model.tensors().find((t) => t.name === 'fc.weight')?.shape).toEqual([f.arch.classes, 8 * f.arch.width]);
    const after = ctx.model.getParameters();
    expect(changedCount(before, after, (i) => mask[i] === 0)).toBe(0);
    expect(changedCount(before, after, (i) => mask[i] === 1)).toBeGreaterThan(0);
    const logits = await ctx.model.predict(f.data.train, f.view.forget, 64);
    expect(logits.length).toBe(f.view.forget.length * f.arch.classes);
  });
});
