// docs/method.md 4d: the IG variants that target the forget set, checked against references
// (plain IG of one loss, the gradient at m = 1, float64 sums), the near baselines, and the forget
// specificity figures (Jaccard overlap, layer-type shares).
import { describe, expect, it } from 'vitest';
import type { ExperimentData } from '../../src/experiment/data.js';
import type { ForgetSelection } from '../../src/experiment/forget.js';
import { baselineParameters, parseBaseline } from '../../src/masks/baseline.js';
import { igSaliency, targetedIgSaliency } from '../../src/masks/saliency.js';
import { jaccard, layerTypeOf, layerTypeShares, saliencyShares } from '../../src/masks/specificity.js';
import { addon, testRandom } from '../helpers/backends.js';
import { tinySetup } from '../helpers/tiny-model.js';

/** The parts of an experiment's data and forget view that the baselines read. */
const experimentData = (train: ReturnType<typeof tinySetup>['data']) =>
  ({ train, loaded: { train: { height: 8 } } }) as unknown as ExperimentData;
const viewOf = (forget: Int32Array, retain: Int32Array) => ({ forget, retain }) as ForgetSelection;

const gradientOf = (model: ReturnType<typeof tinySetup>['model'], data: ReturnType<typeof tinySetup>['data']) => {
  return (indices: Int32Array) =>
    model.gradient(data, { indices, batchSize: 4, train: false, augment: false, seed: 0, epoch: 0 });
};

describe('IG targets', () => {
  it('contrastive with lambda = 0 is plain IG of the forget loss, value for value', async () => {
    const { data, model, forget, retain } = tinySetup();
    const o = { baseline: new Float32Array(model.parameterCount), rule: 'middle' as const, steps: 3, batchSize: 4 };
    const plain = await igSaliency(model, data, forget, o);
    const c = await targetedIgSaliency(model, data, forget, { ...o, target: 'contrastive', retain, lambda: 0 });
    expect(c.saliency).toEqual(plain.saliency);
    expect(c.completeness.sumIg).toBe(plain.completeness.sumIg);
    expect(c.completeness.lossDifference).toBeCloseTo(plain.completeness.lossDifference, 12);
  });

  it('contrastive at m = 1 (right rule, zero baseline) is |theta (g_f - lambda g_r)|, against float64', async () => {
    const { data, model, forget, retain } = tinySetup();
    const theta = model.getParameters();
    const grad = gradientOf(model, data);
    const [gf, gr] = [await grad(forget), await grad(retain)];
    const lambda = 0.7;
    const c = await targetedIgSaliency(model, data, forget, {
      baseline: new Float32Array(theta.length),
      rule: 'right',
      steps: 1,
      batchSize: 4,
      target: 'contrastive',
      retain,
      lambda,
    });
    let worst = 0,
      scale = 0;
    for (let i = 0; i < theta.length; i++) {
      const expected = Math.abs(theta[i] * gf[i] - lambda * theta[i] * gr[i]);
      worst = Math.max(worst, Math.abs(c.saliency[i] - expected));
      scale = Math.max(scale, expected);
    }
    expect(worst).toBeLessThanOrEqual(1e-6 * scale);
    expect(model.getParameters()).toEqual(theta);
  });

  it("contrastive completeness: sum IG -> [L_f - lambda L_r](theta) - [..](theta') as m grows", async () => {
    const { data, model, forget, retain } = tinySetup(6);
    const theta = model.getParameters();
    // Only the classifier differs from theta: the path crosses no ReLU kink, the loss is smooth.
    const fcStart = theta.length - 3 * 16 - 3;
    const baseline = Float32Array.from(theta, (t, i) => (i >= fcStart ? -2 * t : t));
    const gaps: number[] = [];
    for (const steps of [2, 8, 32]) {
      const r = await targetedIgSaliency(model, data, forget, {
        baseline,
        rule: 'middle',
        steps,
        batchSize: 6,
        target: 'contrastive',
        retain,
        lambda: 0.5,
      });
      const f = await igSaliency(model, data, forget, { baseline, rule: 'middle', steps, batchSize: 6 });
      const rr = await igSaliency(model, data, retain, { baseline, rule: 'middle', steps, batchSize: 6 });
      expect(r.completeness.lossAtModel).toBeCloseTo(
        f.completeness.lossAtModel - 0.5 * rr.completeness.lossAtModel,
        10,
      );
      expect(r.retainCompleteness).toEqual(rr.completeness);
      gaps.push(r.completeness.relativeGap);
    }
    expect(gaps[1]).toBeLessThan(gaps[0]);
    expect(gaps[2]).toBeLessThan(gaps[1]);
    expect(gaps[2]).toBeLessThan(1e-3);
  });

  it('retain-normalized is |IG_f| / max(|IG_r|, floor x mean |IG_r|), against a float64 recomputation', async () => {
    const { data, model, forget, retain } = tinySetup();
    const o = { baseline: new Float32Array(model.parameterCount), rule: 'middle' as const, steps: 2, batchSize: 4 };
    const f = await igSaliency(model, data, forget, o);
    const r = await igSaliency(model, data, retain, o);
    const floorFraction = 0.5;
    const n = r.saliency.length;
    const mean = r.saliency.reduce((s, v) => s + v, 0) / n;
    const s = await targetedIgSaliency(model, data, forget, {
      ...o,
      target: 'retain-normalized',
      retain,
      floor: floorFraction,
    });
    let floored = 0;
    for (let i = 0; i < n; i++) {
      const denominator = Math.max(r.saliency[i], floorFraction * mean);
      if (r.saliency[i] < floorFraction * mean) floored++;
      expect(Math.abs(s.saliency[i] - f.saliency[i] / denominator)).toBeLessThanOrEqual(
        1e-6 * (f.saliency[i] / denominator) + 1e-30,
      );
    }
    expect(floored).toBeGreaterThan(0); // the floor was exercised
    expect(floored).toBeLessThan(n);
    expect(s.completeness).toEqual(f.completeness);
    expect(s.retainCompleteness).toEqual(r.completeness);
  });

  it('the retain targets refuse to run without a retain sample', async () => {
    const { data, model, forget } = tinySetup();
    const o = { baseline: new Float32Array(model.parameterCount), rule: 'middle' as const, steps: 1, batchSize: 4 };
    await expect(targetedIgSaliency(model, data, forget, { ...o, target: 'contrastive' })).rejects.toThrow(
      /retain sample/,
    );
  });
});

describe('near baselines', () => {
  it('parses every baseline form and refuses malformed ones with the syntax', () => {
    expect(parseBaseline('zero')).toEqual({ kind: 'zero' });
    expect(parseBaseline('scale:0.9')).toEqual({ kind: 'scale', alpha: 0.9 });
    expect(parseBaseline('retain-ft:5')).toEqual({ kind: 'retain-ft', steps: 5, lr: 0.01 });
    expect(parseBaseline('retain-ft:5:0.1')).toEqual({ kind: 'retain-ft', steps: 5, lr: 0.1 });
    expect(parseBaseline('runs/x/best.safetensors')).toEqual({ kind: 'file', path: 'runs/x/best.safetensors' });
    expect(() => parseBaseline('scale:')).toThrow(/ALPHA/);
    expect(() => parseBaseline('retain-ft:0')).toThrow(/STEPS/);
    expect(() => parseBaseline('retain-ft:2:-1')).toThrow(/LR/);
    expect(() => parseBaseline('scaled:0.9')).toThrow(/zero \| init \| scale/);
  });

  it('scale:ALPHA is alpha theta, and IG along that short path converges to completeness', async () => {
    const { data, model, forget, retain } = tinySetup(5);
    const ctx = { model, data: experimentData(data), view: viewOf(forget, retain), batchSize: 4, seed: 3 };
    const baseline = await baselineParameters(parseBaseline('scale:0.9'), ctx);
    expect(baseline).toEqual(model.getParameters().map((v) => 0.9 * v));
    const gaps: number[] = [];
    for (const steps of [1, 4, 16]) {
      const r = await igSaliency(model, data, forget, { baseline, rule: 'middle', steps, batchSize: 6 });
      expect(r.completeness.lossDifference).not.toBe(0);
      gaps.push(r.completeness.relativeGap);
    }
    expect(gaps[2]).toBeLessThan(gaps[0]);
    expect(gaps[2]).toBeLessThan(1e-2);
  });

  it('retain-ft:STEPS is the model after that many SGD steps on retain images; the model is left as it was', async () => {
    const { data, model, forget, retain } = tinySetup(5);
    const ctx = { model, data: experimentData(data), view: viewOf(forget, retain), batchSize: 3, seed: 3 };
    const before = model.tensors().map((t) => model.getTensor(t.name));
    const a = await baselineParameters(parseBaseline('retain-ft:2:0.05'), ctx);
    const b = await baselineParameters(parseBaseline('retain-ft:2:0.05'), ctx);
    expect(a).toEqual(b); // seeded
    const theta = model.getParameters();
    let moved = 0;
    for (let i = 0; i < a.length; i++) moved = Math.max(moved, Math.abs(a[i] - theta[i]));
    expect(moved).toBeGreaterThan(1e-4);
    expect(model.tensors().map((t) => model.getTensor(t.name))).toEqual(before); // running statistics too
    const longer = await baselineParameters(parseBaseline('retain-ft:4:0.05'), ctx);
    expect(longer).not.toEqual(a);
  });
});

describe('forget specificity', () => {
  it('classifies the ResNet-18 parameters by layer type and sums shares to 1', () => {
    const model = new addon.Model({ classes: 3, inChannels: 3, width: 2, device: 'cpu', image: 8 });
    const tensors = model.tensors();
    const types = tensors.filter((t) => t.kind === 'parameter').map((t) => layerTypeOf(t.name, t.shape));
    expect(types.filter((t) => t === 'linear').length).toBe(2); // fc.weight, fc.bias
    expect(types.filter((t) => t === 'convolution').length).toBe(20); // 17 3x3/7x7 + 3 downsample 1x1
    expect(types.filter((t) => t === 'batchnorm').length).toBe(40);
    const rand = testRandom(2);
    const mask = Float32Array.from({ length: model.parameterCount }, () => (rand() < 0.3 ? 1 : 0));
    const shares = layerTypeShares(mask, tensors);
    expect(shares.reduce((s, t) => s + t.maskShare, 0)).toBeCloseTo(1, 12);
    expect(shares.reduce((s, t) => s + t.parameterShare, 0)).toBeCloseTo(1, 12);
    expect(shares.reduce((s, t) => s + t.ones, 0)).toBe(mask.reduce((a, b) => a + b, 0));
    const linear = shares.find((t) => t.type === 'linear')!;
    expect(linear.parameters).toBe(3 * 16 + 3);
    // A saliency that lives only in the classifier puts all its share there.
    const saliency = new Float32Array(model.parameterCount);
    saliency.fill(2, model.parameterCount - linear.parameters);
    expect(saliencyShares(saliency, tensors).find((t) => t.type === 'linear')!.share).toBe(1);
    expect(() => layerTypeOf('head.proj', [4])).toThrow(/no known layer type/);
  });

  it('Jaccard: |A and B| / |A or B|', () => {
    const a = Float32Array.from([1, 1, 0, 0, 1]);
    const b = Float32Array.from([1, 0, 1, 0, 1]);
    expect(jaccard(a, b)).toBe(2 / 4);
    expect(jaccard(a, a)).toBe(1);
    expect(jaccard(new Float32Array(3), new Float32Array(3))).toBe(1);
    expect(() => jaccard(a, new Float32Array(2))).toThrow(/cannot be compared/);
  });
});
