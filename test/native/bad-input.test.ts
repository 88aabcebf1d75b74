// Bad input to the addon becomes one JavaScript exception with a message that names the problem,
// on every backend, and never a crash of the Node process (a crash would take this test file's
// worker down with it) or a silent NaN that spreads through the weights. The cases come from a
// sweep of the whole native API with wrong types, sizes and values: a convolution of kernel or
// stride 0 divided by zero (SIGFPE), and a negative label, a dataset label beyond the model's
// classes, a NaN learning rate, loss scale, path point or seed, an out-of-range eps and a
// non-function callback were accepted.
import { describe, expect, it } from 'vitest';
import type { DeviceName, NativeDataset, NativeModel } from '../../src/native/index.js';
import { addon, describeEachBackend } from '../helpers/backends.js';

/** The error a call throws or its promise rejects with; fails the test when it is accepted. */
async function refusal(call: () => unknown): Promise<Error> {
  try {
    await call();
  } catch (e) {
    return e as Error;
  }
  throw new Error('the call was accepted');
}

async function expectRefused(call: () => unknown, message: RegExp): Promise<void> {
  const e = await refusal(call);
  expect(e).toBeInstanceOf(Error);
  expect(e.message).toMatch(message);
}

const n = 8;
const images = new Uint8Array(n * 3 * 64).fill(7);
const labels = Int32Array.from({ length: n }, (_, i) => i % 4);
const shape = { n, c: 3, h: 8, w: 8 };
const all = Int32Array.from({ length: n }, (_, i) => i);
const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };

describeEachBackend('the addon refuses bad input', (device: DeviceName) => {
  const model = (over: Record<string, unknown> = {}) =>
    new addon.Model({ classes: 4, inChannels: 3, width: 4, device, image: 8, ...over } as never);
  const dataset = (labelValues = labels) => new addon.Dataset(device, images, labelValues, shape, [0, 0, 0], [1, 1, 1]);

  it('model and dataset shapes', async () => {
    await expectRefused(() => model({ classes: 0 }), /classes must be a positive integer/);
    await expectRefused(() => model({ width: 1e9 }), /width must be at most 1024/);
    await expectRefused(() => model({ image: 1e6 }), /image size must be at most 1024/);
    await expectRefused(
      () =>
        new addon.Dataset(
          device,
          images,
          Int32Array.from(labels, () => -3),
          shape,
          [0, 0, 0],
          [1, 1, 1],
        ),
      /labels must not be negative/,
    );
    // 65536^4 wraps to 0 in 64 bits: an empty array must not pass for it.
    await expectRefused(
      () =>
        new addon.Dataset(
          device,
          new Uint8Array(0),
          new Int32Array(65536),
          { n: 65536, c: 65536, h: 65536, w: 65536 },
          [0],
          [1],
        ),
      /expected n\*c\*h\*w = 65536\*65536\*65536\*65536/,
    );
    await expectRefused(
      () => new addon.Dataset(device, images, labels, shape, [0, NaN, 0], [1, 1, 1]),
      /mean values must be finite/,
    );
    await expectRefused(
      () => new addon.Dataset(device, images, labels, shape, [0, 0, 0], [1, Infinity, 1]),
      /std values must be positive and finite/,
    );
  });

  describe('passes', () => {
    let m: NativeModel, d: NativeDataset;
    const epoch = (over: Record<string, unknown>) =>
      m.trainEpoch(d, { indices: all, batchSize: 4, augment: false, seed: 1, epoch: 0, sgd, ...over } as never);

    it('numbers that would turn the weights into NaN, and callbacks that are not functions', async () => {
      m = model();
      m.initialize(1);
      d = dataset();
      const before = m.getParameters();
      await expectRefused(() => epoch({ sgd: { ...sgd, lr: NaN } }), /option 'lr' must be a finite number/);
      await expectRefused(
        () => epoch({ sgd: { ...sgd, momentum: Infinity } }),
        /option 'momentum' must be a finite number/,
      );
      await expectRefused(() => epoch({ lossScale: NaN }), /option 'lossScale' must be a finite number/);
      await expectRefused(() => epoch({ seed: -1 }), /option 'seed' must be an integer in \[0, 9007199254740991\]/);
      await expectRefused(() => epoch({ epoch: 0.5 }), /option 'epoch' must be an integer/);
      await expectRefused(() => epoch({ progressEvery: -1 }), /option 'progressEvery' must be an integer/);
      await expectRefused(() => epoch({ onBatch: 5 }), /option 'onBatch' must be a function/);
      await expectRefused(() => m.step({ ...sgd, lr: NaN }), /option 'lr' must be a finite number/);
      await expectRefused(
        () =>
          m.gradient(d, {
            indices: all,
            batchSize: 4,
            train: false,
            augment: false,
            seed: 0,
            epoch: 0,
            lossScale: Infinity,
          }),
        /lossScale/,
      );
      await expectRefused(() => m.initialize(NaN), /seed must be an integer/);
      await expectRefused(() => m.fgsmPredict(d, all, NaN, 4), /eps must lie in \[0, 1\]/);
      await expectRefused(() => m.fgsmPredict(d, all, -0.1, 4), /eps must lie in \[0, 1\]/);
      expect(m.getParameters()).toEqual(before); // nothing ran
    });

    it('integrated gradients: path points in [0, 1], finite weights and baseline', async () => {
      const ig = (over: Record<string, unknown>) =>
        m.integratedGradients(d, {
          indices: all,
          batchSize: 4,
          baseline: new Float32Array(m.parameterCount),
          nodes: [0.5],
          weights: [1],
          ...over,
        } as never);
      await expectRefused(() => ig({ nodes: [NaN] }), /path points must lie in \[0, 1\]/);
      await expectRefused(() => ig({ nodes: [1.5] }), /path points must lie in \[0, 1\]/);
      await expectRefused(() => ig({ weights: [Infinity] }), /weights be finite/);
      await expectRefused(
        () => ig({ baseline: new Float32Array(m.parameterCount).fill(NaN) }),
        /baseline contains NaN/,
      );
      await expectRefused(() => ig({ onPoint: 'later' }), /option 'onPoint' must be a function/);
    });

    it("a loss over dataset labels beyond the model's classes (predictions need no labels)", async () => {
      const wide = dataset(Int32Array.from(labels, (l) => l + 6)); // labels up to 9, 4 classes
      await expectRefused(
        () => m.trainEpoch(wide, { indices: all, batchSize: 4, augment: false, seed: 1, epoch: 0, sgd }),
        /the dataset has label 9 but the model has 4 classes/,
      );
      await expectRefused(
        () => m.gradient(wide, { indices: all, batchSize: 4, train: false, augment: false, seed: 0, epoch: 0 }),
        /label 9/,
      );
      await expectRefused(() => m.fgsmPredict(wide, all, 0.1, 4), /label 9/);
      expect((await m.predict(wide, all, 4)).length).toBe(n * 4);
      // Labels of the pass itself (random-label unlearning) stand in for the dataset's.
      const result = await m.trainEpoch(wide, {
        indices: all,
        labels: Int32Array.from(all, (i) => i % 4),
        batchSize: 4,
        augment: false,
        seed: 1,
        epoch: 0,
        sgd,
      });
      expect(Number.isFinite(result.loss)).toBe(true);
    });
  });

  describe('op-level calls', () => {
    const ops = addon.ops(device);
    const conv = { n: 1, cin: 2, h: 4, w: 4, cout: 3, k: 3, stride: 1, pad: 1 };
    const x = new Float32Array(32),
      w = new Float32Array(54);

    it('convolution shapes: no division by zero, no negative sizes', async () => {
      await expectRefused(
        () => ops.conv2dForward({ ...conv, k: 0 }, x, new Float32Array(0)),
        /shape.k must be an integer of at least 1/,
      );
      await expectRefused(
        () => ops.conv2dForward({ ...conv, stride: 0 }, x, w),
        /shape.stride must be an integer of at least 1/,
      );
      await expectRefused(
        () => ops.conv2dBackwardData({ ...conv, stride: 0 }, new Float32Array(48), w),
        /shape.stride/,
      );
      await expectRefused(() => ops.conv2dBackwardFilter({ ...conv, k: 0 }, x, new Float32Array(48)), /shape.k/);
      await expectRefused(
        () => ops.conv2dForward({ ...conv, pad: -1 }, x, w),
        /shape.pad must be an integer of at least 0/,
      );
      await expectRefused(
        () => ops.conv2dForward({ ...conv, k: 9, pad: 0 }, x, new Float32Array(2 * 3 * 81)),
        /padded input must be at least the kernel's size/,
      );
      await expectRefused(() => ops.conv2dForward({ ...conv, h: 2.5 }, x, w), /shape.h must be an integer/);
      await expectRefused(() => ops.conv2dForward({ ...conv, n: 2 ** 30, cin: 2 ** 10 }, x, w), /input would have/);
    });

    it('other shapes and values', async () => {
      await expectRefused(
        () => ops.avgpoolForward({ n: 2, c: 0, hw: 4 }, new Float32Array(0)),
        /shape.c must be an integer of at least 1/,
      );
      await expectRefused(
        () =>
          ops.linearForward({ n: 0, in: 3, out: 4 }, new Float32Array(0), new Float32Array(12), new Float32Array(4)),
        /shape.n/,
      );
      await expectRefused(
        () => ops.softmaxXent(2, 0, new Float32Array(0), Int32Array.from([0, 0]), 1),
        /classes must be an integer of at least 1/,
      );
      await expectRefused(
        () =>
          ops.gatherBatch(
            images,
            labels,
            shape,
            new Float32Array(3),
            new Float32Array(3).fill(1),
            Int32Array.from([0]),
            { augment: true, seed: 0, epoch: 0, pad: -1 },
          ),
        /pad must be an integer of at least 0/,
      );
      // Read past their ends before (AddressSanitizer showed it).
      const gather = (labelValues: Int32Array, mean: Float32Array, std: Float32Array) =>
        ops.gatherBatch(images, labelValues, shape, mean, std, Int32Array.from([7]), {
          augment: false,
          seed: 0,
          epoch: 0,
        });
      await expectRefused(
        () => gather(labels.subarray(0, 2), new Float32Array(3), new Float32Array(3).fill(1)),
        /labels must have n entries/,
      );
      await expectRefused(
        () => gather(labels, new Float32Array(1), new Float32Array(3).fill(1)),
        /mean has 1 values, expected 3/,
      );
      await expectRefused(
        () => gather(labels, new Float32Array(3), new Float32Array(1).fill(1)),
        /std has 1 values, expected 3/,
      );
      await expectRefused(
        () =>
          ops.gatherBatch(
            new Float32Array(4) as never,
            labels,
            shape,
            new Float32Array(3),
            new Float32Array(3).fill(1),
            Int32Array.from([0]),
            { augment: false, seed: 0, epoch: 0 },
          ),
        /images must be a Uint8Array/,
      );
    });

    it('an out-of-range label makes the loss NaN on every backend instead of being read', () => {
      const r = ops.softmaxXent(2, 3, new Float32Array(6), Int32Array.from([0, 7]), 1);
      expect(r.lossSum).toBeNaN();
      expect(r.correct).toBe(1); // row 0, all logits tied: the first class, its label
    });
  });
});
