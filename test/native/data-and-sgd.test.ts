// The batch gather (augmentation + normalization) and the optimizer, on every backend.
import { expect, it } from 'vitest';
import { addon, describeEachBackend, maxViolation, randomArray, testRandom } from '../helpers/backends.js';
import { augmentation } from './philox.js';

describeEachBackend('gather batch', (device) => {
  const ops = addon.ops(device);
  const shape = { n: 6, c: 3, h: 8, w: 8 };
  const images = Uint8Array.from({ length: 6 * 3 * 64 }, (_, i) => (i * 37 + 11) % 256);
  const labels = Int32Array.from([3, 1, 4, 1, 5, 9]);
  const mean = Float32Array.from([0.4, 0.5, 0.6]),
    std = Float32Array.from([0.2, 0.25, 0.3]);
  const indices = Int32Array.from([5, 0, 3, 3]);

  // The documented augmentation: crop with zero padding then horizontal flip, keyed by
  // (seed, epoch, dataset index); zero padding happens before normalization.
  function expected(augment: boolean, seed: number, epoch: number, pad = 4): Float32Array {
    const out = new Float32Array(indices.length * 3 * 64);
    indices.forEach((index, i) => {
      const a = augment ? augmentation(seed, epoch, index, pad) : { dy: pad, dx: pad, flip: false };
      for (let c = 0; c < 3; c++)
        for (let y = 0; y < 8; y++)
          for (let x = 0; x < 8; x++) {
            const sy = y + a.dy - pad,
              sx = (a.flip ? 7 - x : x) + a.dx - pad;
            const raw = sy >= 0 && sy < 8 && sx >= 0 && sx < 8 ? images[((index * 3 + c) * 8 + sy) * 8 + sx] : 0;
            out[((i * 3 + c) * 8 + y) * 8 + x] = (raw / 255 - mean[c]) / std[c];
          }
    });
    return out;
  }

  it('without augmentation: normalized images and their labels', () => {
    const got = ops.gatherBatch(images, labels, shape, mean, std, indices, { augment: false, seed: 0, epoch: 0 });
    expect(maxViolation(got.x, expected(false, 0, 0), 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    expect(Array.from(got.labels)).toEqual([9, 3, 1, 1]);
  });

  it('label overrides replace the dataset labels position by position, images unchanged', () => {
    const plain = ops.gatherBatch(images, labels, shape, mean, std, indices, { augment: true, seed: 4, epoch: 2 });
    const labelOverride = Int32Array.from([5, 0, 7, 2]);
    const got = ops.gatherBatch(images, labels, shape, mean, std, indices, {
      augment: true,
      seed: 4,
      epoch: 2,
      labelOverride,
    });
    expect(Array.from(got.labels)).toEqual([5, 0, 7, 2]);
    expect(Array.from(got.x)).toEqual(Array.from(plain.x));
  });

  it('with augmentation: Philox crop and flip keyed by (seed, epoch, index)', () => {
    for (const [seed, epoch] of [
      [1, 0],
      [1, 1],
      [12345, 7],
    ]) {
      const got = ops.gatherBatch(images, labels, shape, mean, std, indices, { augment: true, seed, epoch });
      expect(maxViolation(got.x, expected(true, seed, epoch), 1e-5, 1e-5)).toBeLessThanOrEqual(1);
    }
    // the same index twice in a batch gets the same augmentation; another epoch a different one
    const a = ops.gatherBatch(images, labels, shape, mean, std, indices, { augment: true, seed: 3, epoch: 0 }).x;
    const b = ops.gatherBatch(images, labels, shape, mean, std, indices, { augment: true, seed: 3, epoch: 1 }).x;
    const per = 3 * 64;
    expect(Array.from(a.subarray(2 * per, 3 * per))).toEqual(Array.from(a.subarray(3 * per, 4 * per)));
    expect(Array.from(a)).not.toEqual(Array.from(b));
  });
});

describeEachBackend('SGD with PyTorch semantics', (device) => {
  const ops = addon.ops(device);
  const rand = testRandom(5);
  const n = 1000;
  const w = randomArray(n, rand),
    g = randomArray(n, rand),
    buf = randomArray(n, rand);
  const mask = Float32Array.from({ length: n }, (_, i) => (i % 3 === 0 ? 0 : 1));
  const lr = 0.1,
    mu = 0.9,
    wd = 5e-4;

  // PyTorch's torch.optim.SGD step written out in float64.
  function torchStep(opts: { first: boolean; nesterov: boolean; gradMask?: Float32Array }) {
    const outW = new Float64Array(n),
      outBuf = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const gi = g[i] * (opts.gradMask ? opts.gradMask[i] : 1) + wd * w[i];
      const b = opts.first ? gi : mu * buf[i] + gi;
      outBuf[i] = b;
      outW[i] = w[i] - lr * (opts.nesterov ? gi + mu * b : b);
    }
    return { w: outW, buf: outBuf };
  }

  for (const first of [true, false])
    for (const nesterov of [false, true]) {
      it(`unmasked step (first=${first}, nesterov=${nesterov})`, () => {
        const got = ops.sgdStep({ lr, momentum: mu, weightDecay: wd, nesterov, firstStep: first }, w, g, buf);
        const want = torchStep({ first, nesterov });
        expect(maxViolation(got.w, want.w, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
        expect(maxViolation(got.buf, want.buf, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
      });
    }

  it('grad mask mode: gradient masked, weight decay and momentum still move masked weights', () => {
    const got = ops.sgdStep({ lr, momentum: mu, weightDecay: wd, maskMode: 'grad', firstStep: false }, w, g, buf, mask);
    const want = torchStep({ first: false, nesterov: false, gradMask: mask });
    expect(maxViolation(got.w, want.w, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
    expect(maxViolation(got.buf, want.buf, 1e-6, 1e-6)).toBeLessThanOrEqual(1);
    const movedMasked = Array.from(mask).some((m, i) => m === 0 && got.w[i] !== w[i]);
    expect(movedMasked).toBe(true);
  });

  it('L1 penalty adds l1 * sign(w) to the gradient, masked with it in grad mode', () => {
    const l1 = 0.01;
    const got = ops.sgdStep(
      { lr, momentum: mu, weightDecay: wd, l1, maskMode: 'grad', firstStep: true },
      w,
      g,
      buf,
      mask,
    );
    for (let i = 0; i < n; i++) {
      const gi = (g[i] + l1 * Math.sign(w[i])) * mask[i] + wd * w[i];
      expect(Math.abs(got.w[i] - (w[i] - lr * gi))).toBeLessThan(1e-6);
    }
  });

  it('hard mask mode: masked coordinates and their momentum unchanged bit for bit', () => {
    const got = ops.sgdStep({ lr, momentum: mu, weightDecay: wd, maskMode: 'hard', firstStep: false }, w, g, buf, mask);
    const want = torchStep({ first: false, nesterov: false });
    for (let i = 0; i < n; i++) {
      if (mask[i] === 0) {
        expect(got.w[i]).toBe(w[i]);
        expect(got.buf[i]).toBe(buf[i]);
      } else {
        expect(Math.abs(got.w[i] - want.w[i])).toBeLessThan(1e-6);
      }
    }
  });
});
