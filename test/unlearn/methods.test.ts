// Every method runs on a tiny experiment and changes the model; hyperparameters are validated;
// retrain starts from the initial weights; gradient ascent raises the forget loss.
import { afterAll, describe, expect, it } from 'vitest';
import { createModel, loadCheckpoint, saveCheckpoint } from '../../src/model/checkpoint.js';
import { defaultCompute } from '../../src/native/index.js';
import { METHOD_DEFAULTS, METHOD_NAMES, type MethodName, runUnlearning } from '../../src/unlearn/methods.js';
import { changedCount, context, fixture, forgetLoss } from './fixture.js';

// Small runs: one or two epochs, small batches so there are several steps.
const QUICK: Record<MethodName, Record<string, number>> = {
  retrain: { epochs: 2, batchSize: 64 },
  ft: { epochs: 1, batchSize: 64 },
  rl: { epochs: 1, batchSize: 64 },
  ga: { epochs: 1, batchSize: 8 },
  iu: { samples: 12, batchSize: 64 },
  'l1-sparse': { epochs: 1, batchSize: 64 },
  bs: { epochs: 1, batchSize: 8 },
  be: { epochs: 1, batchSize: 8 },
  'neggrad+': { epochs: 1, batchSize: 64 },
  scrub: { epochs: 2, msteps: 1, batchSize: 64 },
  ssd: { batchSize: 64 },
};

afterAll(async () => (await fixture()).cleanup());

describe('unlearning methods', () => {
  it('lists every method with defaults (gradient methods: momentum 0.9, wd 5e-4, batch 256, augment on)', () => {
    expect([...METHOD_NAMES]).toEqual([
      'retrain',
      'ft',
      'rl',
      'ga',
      'iu',
      'l1-sparse',
      'bs',
      'be',
      'neggrad+',
      'scrub',
      'ssd',
    ]);
    for (const m of METHOD_NAMES) {
      const d = METHOD_DEFAULTS[m];
      expect(d.batchSize).toBe(256);
      if (m !== 'iu' && m !== 'ssd')
        expect({ momentum: d.momentum, weightDecay: d.weightDecay, augment: d.augment }).toEqual({
          momentum: 0.9,
          weightDecay: 5e-4,
          augment: true,
        });
    }
    expect(METHOD_DEFAULTS.rl).toMatchObject({ epochs: 10, lr: 0.013 });
    expect(METHOD_DEFAULTS.ga).toMatchObject({ epochs: 5, lr: 1e-4 });
    expect(METHOD_DEFAULTS['neggrad+']).toMatchObject({ beta: 0.95, lr: 0.01 });
    expect(METHOD_DEFAULTS.scrub).toMatchObject({ gamma: 0.99, alpha: 0.001, T: 4, msteps: 2, lr: 5e-4 });
    expect(METHOD_DEFAULTS.ssd).toMatchObject({ alpha: 10, lambda: 1 });
  });

  for (const method of METHOD_NAMES) {
    it(`${method} runs, reports its hyperparameters and time, and changes the weights`, async () => {
      const f = await fixture();
      const ctx = context(f, { hyper: QUICK[method] });
      const before = ctx.model.getParameters();
      const run = await runUnlearning(method, ctx);
      expect(run.method).toBe(method);
      expect(run.hyper).toEqual({ ...METHOD_DEFAULTS[method], ...QUICK[method] });
      expect(run.seconds).toBeGreaterThan(0);
      const after = ctx.model.getParameters();
      expect(after.every(Number.isFinite)).toBe(true);
      expect(changedCount(before, after)).toBeGreaterThan(0);
    });
  }

  it('rejects unknown hyperparameters, listing the valid ones, and invalid values', async () => {
    const f = await fixture();
    await expect(runUnlearning('rl', context(f, { hyper: { epoch: 3 } }))).rejects.toThrow(
      /unknown hyperparameter 'epoch' for rl; valid: .*epochs.*lr/,
    );
    await expect(runUnlearning('ssd', context(f, { hyper: { lr: 0.1 } }))).rejects.toThrow(
      /valid: alpha, lambda, batchSize/,
    );
    await expect(runUnlearning('ft', context(f, { hyper: { epochs: 1.5 } }))).rejects.toThrow(
      /epochs of ft must be a whole number >= 1, got 1.5/,
    );
    await expect(runUnlearning('ft', context(f, { hyper: { augment: 1 } }))).rejects.toThrow(
      /augment of ft must be true or false, got 1/,
    );
    await expect(runUnlearning('ft', context(f, { hyper: { lr: NaN } }))).rejects.toThrow(
      /lr of ft must be a number >= 0, got NaN/,
    );
    await expect(runUnlearning('scrub', context(f, { hyper: { msteps: -1 } }))).rejects.toThrow(
      /msteps of scrub must be a whole number >= 0/,
    );
    await expect(runUnlearning('bs', context(f, { hyper: { eps: 2 } }))).rejects.toThrow(
      /eps of bs must be a number in \[0, 1\] \(pixel units\)/,
    );
  });

  it('retrain needs the initial weights and takes no mask', async () => {
    const f = await fixture();
    await expect(runUnlearning('retrain', context(f, { initPath: undefined }))).rejects.toThrow(
      /retrain needs .*init\.safetensors/,
    );
    const ctx = context(f);
    await expect(
      runUnlearning('retrain', { ...ctx, mask: new Float32Array(ctx.model.parameterCount).fill(1) }),
    ).rejects.toThrow(/retrain takes no mask/);
  });

  it('retrain refuses initial weights of another architecture', async () => {
    const f = await fixture();
    const other = createModel({ ...f.arch, classes: f.arch.classes + 1 }, defaultCompute('cpu'));
    const path = f.initPath.replace('init.safetensors', 'other.safetensors');
    await saveCheckpoint(path, other, { ...f.arch, classes: f.arch.classes + 1 });
    await expect(runUnlearning('retrain', context(f, { initPath: path }))).rejects.toThrow(
      /fc\.weight is \[4,32\] here but \[5,32\]/,
    );
    await expect(runUnlearning('retrain', context(f, { initPath: `${path}.missing` }))).rejects.toThrow(
      /no such checkpoint file/,
    );
  });

  it('retrain starts from the initial weights (at lr 0 they stay exactly the init)', async () => {
    const f = await fixture();
    const init = context(f);
    const initParams = (await loadCheckpoint(f.initPath, defaultCompute('cpu'))).model.getParameters();
    expect(changedCount(initParams, init.model.getParameters())).toBeGreaterThan(0);
    await runUnlearning('retrain', { ...init, hyper: { epochs: 1, lr: 0 } });
    expect(changedCount(initParams, init.model.getParameters())).toBe(0);
  });

  it('gradient ascent raises the forget loss', async () => {
    // Against the same passes at lr 0, which move only BN's running statistics: on this tiny model
    // that drift alone shifts the eval-mode loss either way (by the build's rounding), so comparing
    // with the loss before would test the drift. Augmentation off: ascending the loss of crops of
    // 8x8 images need not raise the loss of the images themselves.
    const f = await fixture();
    const hyper = { epochs: 2, batchSize: 8, lr: 0.01, augment: false };
    const drifted = context(f, { hyper: { ...hyper, lr: 0 } });
    await runUnlearning('ga', drifted);
    const ascended = context(f, { hyper });
    await runUnlearning('ga', ascended);
    expect(await forgetLoss(ascended.model, f)).toBeGreaterThan((await forgetLoss(drifted.model, f)) + 0.3);
  });

  it('a mask of the wrong length is refused', async () => {
    const f = await fixture();
    await expect(runUnlearning('ft', context(f, { mask: new Float32Array(5) }))).rejects.toThrow(/mask has 5 values/);
  });
});
