import { describe, expect, it } from 'vitest';
import { channelStats, DataError, type ImageSet, loadDataset } from '../../src/data/dataset.js';
import { generateSynthetic } from '../../src/data/synthetic.js';

const small = { trainSize: 400, testSize: 200, imageSize: 16 };

/** Byte-for-byte equality of two image sets (toEqual is slow on large typed arrays). */
function expectSameSet(a: ImageSet, b: ImageSet): void {
  expect([b.n, b.channels, b.height, b.width]).toEqual([a.n, a.channels, a.height, a.width]);
  expect(Buffer.compare(b.images, a.images)).toBe(0);
  expect(Buffer.compare(new Uint8Array(b.labels.buffer), new Uint8Array(a.labels.buffer))).toBe(0);
}

describe('synthetic data set', () => {
  it('has the default shape: 5000 train / 1000 test, 10 classes, 3x32x32', async () => {
    const d = await loadDataset('synthetic', {});
    expect(d.name).toBe('synthetic');
    expect(d.classes).toBe(10);
    expect([d.train.n, d.train.channels, d.train.height, d.train.width]).toEqual([5000, 3, 32, 32]);
    expect([d.test.n, d.test.channels, d.test.height, d.test.width]).toEqual([1000, 3, 32, 32]);
    expect(d.train.images.length).toBe(5000 * 3 * 32 * 32);
    expect(d.test.labels.length).toBe(1000);
    expect(d.source).toBe('built-in synthetic (seed 0, 5000 train / 1000 test, 10 classes, 3x32x32)');
  });

  it('is the same bytes for the same seed and different bytes for another seed', () => {
    const a = generateSynthetic({ ...small, seed: 11 });
    const b = generateSynthetic({ ...small, seed: 11 });
    const c = generateSynthetic({ ...small, seed: 12 });
    expectSameSet(a.train, b.train);
    expectSameSet(a.test, b.test);
    const differing = c.train.images.filter((v, i) => v !== a.train.images[i]).length;
    expect(differing / a.train.images.length).toBeGreaterThan(0.9);
    expect(Array.from(c.train.labels)).not.toEqual(Array.from(a.train.labels));
  });

  it('draws train and test independently: changing one size leaves the other split alone', () => {
    const a = generateSynthetic({ ...small, seed: 3 });
    const b = generateSynthetic({ ...small, seed: 3, testSize: 50 });
    expectSameSet(a.train, b.train);
    const trainBytes = new Set(Array.from(a.train.images.subarray(0, 768)).join());
    expect(trainBytes.has(Array.from(a.test.images.subarray(0, 768)).join())).toBe(false);
  });

  it('balances the labels of each split', () => {
    const d = generateSynthetic({ ...small, trainSize: 403, classes: 4 });
    const counts = [0, 0, 0, 0];
    for (const l of d.train.labels) counts[l]++;
    expect(counts).toEqual([101, 101, 101, 100]);
  });

  it('honours channels, classes and image size', () => {
    const d = generateSynthetic({ trainSize: 30, testSize: 10, classes: 3, channels: 1, imageSize: 9, seed: 1 });
    expect([d.train.channels, d.train.height, d.train.width]).toEqual([1, 9, 9]);
    expect(d.train.images.length).toBe(30 * 81);
    expect(Math.max(...d.train.labels)).toBe(2);
  });

  it('uses the byte range without saturating, and loadDataset reports its own statistics', async () => {
    const d = await loadDataset('synthetic', { synthetic: { ...small, seed: 4 } });
    const { images } = d.train;
    const clipped = images.filter((v) => v === 0 || v === 255).length / images.length;
    expect(clipped).toBeLessThan(0.01);
    expect(channelStats(d.train)).toEqual({ mean: d.mean, std: d.std });
    for (const m of d.mean) expect(m).toBeGreaterThan(0.4);
    for (const m of d.mean) expect(m).toBeLessThan(0.6);
    for (const s of d.std) expect(s).toBeGreaterThan(0.08);
  });

  it('is learnable but not separable by class means', () => {
    // A nearest-class-mean classifier: far above chance (the classes carry signal), far below
    // 100% (shifts, several prototypes per class and distractors defeat a template).
    const d = generateSynthetic({ trainSize: 2000, testSize: 500, imageSize: 16, seed: 5 });
    const size = 3 * 16 * 16;
    const means = Array.from({ length: 10 }, () => new Float64Array(size));
    const counts = new Array(10).fill(0);
    for (let i = 0; i < d.train.n; i++) {
      const label = d.train.labels[i];
      counts[label]++;
      for (let p = 0; p < size; p++) means[label][p] += d.train.images[i * size + p];
    }
    for (const [k, m] of means.entries()) for (const [p, v] of m.entries()) m[p] = v / counts[k];
    let correct = 0;
    for (let i = 0; i < d.test.n; i++) {
      let best = -1;
      let bestDistance = Infinity;
      means.forEach((m, k) => {
        let distance = 0;
        for (let p = 0; p < size; p++) distance += (d.test.images[i * size + p] - m[p]) ** 2;
        if (distance < bestDistance) [best, bestDistance] = [k, distance];
      });
      if (best === d.test.labels[i]) correct++;
    }
    const accuracy = correct / d.test.n;
    expect(accuracy).toBeGreaterThan(0.3);
    expect(accuracy).toBeLessThan(0.85);
  });

  it('refuses bad options', () => {
    expect(() => generateSynthetic({ trainSize: 0 })).toThrow(DataError);
    expect(() => generateSynthetic({ classes: 1 })).toThrow('synthetic: classes must be an integer >= 2, got 1');
    expect(() => generateSynthetic({ imageSize: 2.5 })).toThrow(/imageSize must be a positive integer/);
    expect(() => generateSynthetic({ seed: 0.5 })).toThrow(/seed must be an integer/);
  });
});
