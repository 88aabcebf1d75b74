// The properties of docs/method.md 4b/4c: IG identities, completeness, exact mask counts, file format.
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { loadMask, saveMask } from '../../src/masks/maskfile.js';
import { quadrature, RULES } from '../../src/masks/quadrature.js';
import { gradSaliency, igSaliency } from '../../src/masks/saliency.js';
import { layerDensity, topkMask } from '../../src/masks/topk.js';
import { addon, testRandom } from '../helpers/backends.js';
import { tinySetup } from '../helpers/tiny-model.js';

describe('quadrature rules', () => {
  it('weights sum to 1 and nodes lie in [0, 1] for every rule', () => {
    for (const rule of RULES) {
      const { nodes, weights } = quadrature(rule, 7);
      expect(weights.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
      expect(nodes.every((a) => a >= 0 && a <= 1)).toBe(true);
    }
  });
  it('follows docs/method.md: left, right, middle, trapezoid', () => {
    expect(quadrature('left', 4).nodes).toEqual([0, 0.25, 0.5, 0.75]);
    expect(quadrature('right', 4).nodes).toEqual([0.25, 0.5, 0.75, 1]);
    expect(quadrature('middle', 4).nodes).toEqual([0.125, 0.375, 0.625, 0.875]);
    const t = quadrature('trapezoid', 5);
    expect(t.nodes).toEqual([0, 0.25, 0.5, 0.75, 1]);
    expect(t.weights).toEqual([0.125, 0.25, 0.25, 0.25, 0.125]);
  });
  it('Gauss-Legendre with m points integrates x^(2m-1) exactly on [0, 1]', () => {
    for (const m of [1, 2, 5, 20]) {
      const { nodes, weights } = quadrature('gauss-legendre', m);
      const degree = 2 * m - 1;
      const integral = nodes.reduce((s, a, k) => s + weights[k] * a ** degree, 0);
      expect(integral).toBeCloseTo(1 / (degree + 1), 10);
    }
  });
  it('rejects bad step counts', () => {
    expect(() => quadrature('middle', 0)).toThrow(/positive integer/);
    expect(() => quadrature('trapezoid', 1)).toThrow(/at least 2/);
  });
});

describe('integrated gradients over the weights', () => {
  it("theta' = theta gives IG = 0 exactly", async () => {
    const { data, model, forget } = tinySetup();
    const r = await igSaliency(model, data, forget, {
      baseline: model.getParameters(),
      rule: 'middle',
      steps: 3,
      batchSize: 4,
    });
    expect(r.ig.every((v) => v === 0)).toBe(true);
    expect(r.completeness.lossDifference).toBe(0);
  });

  it('zero baseline, m = 1, right rule is exactly theta * dL/dtheta', async () => {
    const { data, model, forget } = tinySetup();
    const theta = model.getParameters();
    const r = await igSaliency(model, data, forget, {
      baseline: new Float32Array(theta.length),
      rule: 'right',
      steps: 1,
      batchSize: 4,
    });
    const g = await model.gradient(data, {
      indices: forget,
      batchSize: 4,
      train: false,
      augment: false,
      seed: 0,
      epoch: 0,
    });
    const expected = Float32Array.from(theta, (t, i) => t * g[i]);
    expect(r.ig).toEqual(expected);
    expect(model.getParameters()).toEqual(theta); // the model is restored after the path
  });

  it('the relative completeness gap shrinks as m grows', async () => {
    const { data, model, forget } = tinySetup(6);
    const theta = model.getParameters();
    // A smooth case: the baseline differs from theta only in the classifier (fc), so the loss along
    // the path is softmax-CE of a linear function (no ReLU kinks are crossed).
    const fcStart = theta.length - 3 * 16 - 3; // fc.weight [3, 16] and fc.bias [3] come last
    const baseline = Float32Array.from(theta, (t, i) => (i >= fcStart ? -2 * t : t));
    const gaps: number[] = [];
    for (const rule of ['left', 'middle'] as const) {
      for (const steps of [1, 4, 16]) {
        const r = await igSaliency(model, data, forget, { baseline, rule, steps, batchSize: 6 });
        gaps.push(r.completeness.relativeGap);
      }
    }
    for (const start of [0, 3]) {
      expect(gaps[start + 1]).toBeLessThan(gaps[start]);
      expect(gaps[start + 2]).toBeLessThan(gaps[start + 1]);
    }
    expect(gaps[5]).toBeLessThan(1e-3); // the midpoint rule converges as 1/m^2
  });

  it('SalUn gradient saliency is |sum of gradients of -mean CE| over forget batches', async () => {
    const { data, model, forget } = tinySetup();
    const s = await gradSaliency(model, data, forget, { batchSize: 4, augment: false, seed: 0 });
    const g = await model.gradient(data, {
      indices: forget,
      batchSize: 4,
      train: false,
      augment: false,
      seed: 0,
      epoch: 0,
    });
    expect(s).toEqual(g.map(Math.abs));
  });
});

describe('masks from saliency', () => {
  const rand = testRandom(3);
  const saliency = Float32Array.from({ length: 1003 }, () => Math.floor(rand() * 50)); // many ties

  it('ratio r keeps exactly floor(N*r) ones, the largest values, ties to the lower index', () => {
    for (const r of [0.1, 0.25, 0.5, 0.77]) {
      const mask = topkMask(saliency, r);
      const ones = mask.reduce((a, b) => a + b, 0);
      expect(ones).toBe(Math.floor(saliency.length * r));
      let minIn = Infinity,
        maxOut = -Infinity;
      mask.forEach((m, i) => {
        if (m) minIn = Math.min(minIn, saliency[i]);
        else maxOut = Math.max(maxOut, saliency[i]);
      });
      expect(minIn).toBeGreaterThanOrEqual(maxOut);
      // among values equal to the threshold, the kept ones come first in index order
      const tied = Array.from(saliency.keys()).filter((i) => saliency[i] === minIn);
      const keptTied = tied.filter((i) => mask[i] === 1);
      expect(keptTied).toEqual(tied.slice(0, keptTied.length));
    }
  });

  it('ratio 1 gives all ones and ratio 0 none', () => {
    expect(topkMask(saliency, 1).every((v) => v === 1)).toBe(true);
    expect(topkMask(saliency, 0).every((v) => v === 0)).toBe(true);
    expect(() => topkMask(saliency, 1.5)).toThrow(/\[0, 1\]/);
  });

  it('mask files round-trip as uint8 per parameter, with per-layer density', async () => {
    const { model } = tinySetup();
    const s = Float32Array.from({ length: model.parameterCount }, () => rand());
    const mask = topkMask(s, 0.3);
    const dir = await mkdtemp(join(tmpdir(), 'insalun-mask-'));
    await saveMask(join(dir, 'm.safetensors'), mask, model);
    expect(await loadMask(join(dir, 'm.safetensors'), model)).toEqual(mask);
    const density = layerDensity(mask, model.tensors());
    expect(density.length).toBe(62);
    expect(density.reduce((a, d) => a + d.ones, 0)).toBe(Math.floor(model.parameterCount * 0.3));
  });

  it('refuses a mask of another model or with values other than 0/1', async () => {
    const { model } = tinySetup();
    const other = new addon.Model({ classes: 3, inChannels: 3, width: 4, device: 'cpu', image: 8 });
    const dir = await mkdtemp(join(tmpdir(), 'insalun-mask-'));
    await saveMask(join(dir, 'other.safetensors'), new Float32Array(other.parameterCount).fill(1), other);
    await expect(loadMask(join(dir, 'other.safetensors'), model)).rejects.toThrow(/conv1.weight mask has shape/);
    await writeSafetensors(
      join(dir, 'bad.safetensors'),
      model
        .tensors()
        .filter((t) => t.kind === 'parameter')
        .map((t) => ({
          name: t.name,
          shape: t.shape,
          data: new Uint8Array(t.shape.reduce((a, b) => a * b, 1)).fill(2),
        })),
    );
    await expect(loadMask(join(dir, 'bad.safetensors'), model)).rejects.toThrow(/only 0 and 1/);
    await writeFile(join(dir, 'junk.safetensors'), 'not a safetensors file');
    await expect(loadMask(join(dir, 'junk.safetensors'), model)).rejects.toThrow();
    await expect(loadMask(join(dir, 'missing.safetensors'), model)).rejects.toThrow(/no such mask file/);
  });
});
