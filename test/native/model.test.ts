// The whole ResNet-18 on each backend: its state_dict, a gradient check, and the training loop.
import { expect, it } from 'vitest';
import { relativeL2 } from '../../src/bench/numerics.js';
import { addon, describeEachBackend, maxViolation, testRandom } from '../helpers/backends.js';
import * as ref from './reference.js';

function toyData(device: 'cpu' | 'cuda', n: number, size: number, classes: number, seed: number) {
  const rand = testRandom(seed);
  const images = Uint8Array.from({ length: n * 3 * size * size }, () => Math.floor(rand() * 256));
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const data = new addon.Dataset(
    device,
    images,
    labels,
    { n, c: 3, h: size, w: size },
    [0.5, 0.5, 0.5],
    [0.25, 0.25, 0.25],
  );
  return { data, labels, indices: Int32Array.from({ length: n }, (_, i) => i) };
}

describeEachBackend('ResNet-18', (device) => {
  it('has the torchvision state_dict: names, order, shapes, 11,173,962 parameters at width 64', () => {
    const model = new addon.Model({ classes: 10, inChannels: 3, width: 64, device });
    const tensors = model.tensors();
    const params = tensors.filter((t) => t.kind === 'parameter');
    expect(params.length).toBe(62);
    expect(model.parameterCount).toBe(11_173_962);
    expect(tensors.slice(0, 6).map((t) => t.name)).toEqual([
      'conv1.weight',
      'bn1.weight',
      'bn1.bias',
      'bn1.running_mean',
      'bn1.running_var',
      'bn1.num_batches_tracked',
    ]);
    const byName = new Map(tensors.map((t) => [t.name, t]));
    expect(byName.get('layer2.0.downsample.0.weight')?.shape).toEqual([128, 64, 1, 1]);
    expect(byName.get('layer4.1.conv2.weight')?.shape).toEqual([512, 512, 3, 3]);
    expect(byName.get('fc.weight')?.shape).toEqual([10, 512]);
    expect(byName.has('layer1.0.downsample.0.weight')).toBe(false);
    expect(tensors[tensors.length - 1].name).toBe('fc.bias');
    expect(tensors.filter((t) => t.kind === 'counter').length).toBe(20);
  });

  it('initializes like PyTorch: kaiming-normal fan_out convs, unit BN, uniform fc', () => {
    const model = new addon.Model({ classes: 10, inChannels: 3, width: 16, device });
    model.initialize(42);
    const w = model.getTensor('layer3.0.conv2.weight') as Float32Array; // 64 x 64 x 3 x 3
    const std = Math.sqrt(Array.from(w).reduce((s, v) => s + v * v, 0) / w.length);
    expect(std).toBeGreaterThan(Math.sqrt(2 / (64 * 9)) * 0.95);
    expect(std).toBeLessThan(Math.sqrt(2 / (64 * 9)) * 1.05);
    expect(Array.from(model.getTensor('bn1.weight') as Float32Array).every((v) => v === 1)).toBe(true);
    expect(Array.from(model.getTensor('bn1.running_var') as Float32Array).every((v) => v === 1)).toBe(true);
    const fc = model.getTensor('fc.weight') as Float32Array;
    expect(Math.max(...Array.from(fc, Math.abs))).toBeLessThanOrEqual(1 / Math.sqrt(128));
    const again = new addon.Model({ classes: 10, inChannels: 3, width: 16, device });
    again.initialize(42);
    expect(again.getParameters()).toEqual(model.getParameters());
  });

  // ReLU kinks make finite differences of a tiny float32 network noisy along whole random
  // directions (float64 PyTorch shows the same), so this checks single coordinates, where a
  // kink is rarely crossed, and asks that nearly all agree: a wrong backward fails most of them.
  // (scripts/torch_reference.py compares every gradient with PyTorch in float64 as well.)
  for (const train of [false, true]) {
    it(`whole-network gradient matches finite differences (${train ? 'train' : 'eval'}-mode BN)`, async () => {
      const classes = 5,
        n = 8;
      const model = new addon.Model({ classes, inChannels: 3, width: 4, device, image: 16 });
      model.initialize(3);
      const { data, labels, indices } = toyData(device, n, 16, classes, 9);
      const theta = model.getParameters();
      const loss = async (params: Float32Array) => {
        model.setParameters(params);
        const logits = await model.forwardBatch(data, indices, { train, augment: false, seed: 0, epoch: 0 });
        return ref.softmaxXent(n, classes, logits, labels).loss / n;
      };
      model.setParameters(theta);
      const g = await model.gradient(data, { indices, batchSize: n, train, augment: false, seed: 0, epoch: 0 });
      // one coordinate per parameter tensor: the largest-gradient entry of each
      const coords: number[] = [];
      let offset = 0;
      for (const t of model.tensors().filter((x) => x.kind === 'parameter')) {
        const size = t.shape.reduce((a, b) => a * b, 1);
        let best = offset;
        for (let i = offset; i < offset + size; i++) if (Math.abs(g[i]) > Math.abs(g[best])) best = i;
        coords.push(best);
        offset += size;
      }
      let agree = 0;
      const eps = 1e-3;
      for (const i of coords) {
        const p = Float32Array.from(theta);
        p[i] = theta[i] + eps;
        const up = await loss(p);
        p[i] = theta[i] - eps;
        const down = await loss(p);
        if (Math.abs((up - down) / (2 * eps) - g[i]) <= 0.05 * Math.abs(g[i]) + 3e-4) agree++;
      }
      expect(coords.length).toBe(62);
      expect(agree).toBeGreaterThanOrEqual(56);
    });
  }

  it('training lowers the loss, updates BN running stats and counters; hard mask freezes coordinates bit for bit', async () => {
    const classes = 4,
      n = 64;
    const model = new addon.Model({ classes, inChannels: 3, width: 4, device, image: 8 });
    model.initialize(1);
    const { data, indices } = toyData(device, n, 8, classes, 2);
    const before = model.getParameters();
    const mask = Float32Array.from(before, (_, i) => (i % 2 === 0 ? 1 : 0));
    model.setMask(mask, 'hard');
    const first = await model.trainEpoch(data, {
      indices,
      batchSize: 16,
      augment: true,
      seed: 1,
      epoch: 0,
      sgd: { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
    });
    let last = first;
    for (let epoch = 1; epoch < 30; epoch++)
      last = await model.trainEpoch(data, {
        indices,
        batchSize: 16,
        augment: false,
        seed: 1,
        epoch,
        sgd: { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
      });
    expect(last.loss).toBeLessThan(first.loss * 0.7);
    const after = model.getParameters();
    let changed = 0;
    for (let i = 0; i < after.length; i++) {
      if (mask[i] === 0) expect(after[i]).toBe(before[i]);
      else if (after[i] !== before[i]) changed++;
    }
    expect(changed).toBeGreaterThan(after.length * 0.4);
    expect((model.getTensor('bn1.num_batches_tracked') as BigInt64Array)[0]).toBe(BigInt(30 * 4));
    expect(Array.from(model.getTensor('bn1.running_mean') as Float32Array).some((v) => v !== 0)).toBe(true);
  });

  it('capturing and replaying training steps changes nothing: weights, momentum, BN state, counters', async () => {
    // On the CPU the capture is the host-side imitation (emulateCapture): it fixes every argument
    // at capture time as a CUDA graph does, so this checks the engine's capture logic; on CUDA it
    // is the real graph against the uncaptured steps.
    const classes = 4,
      n = 70; // batch 16: four full batches and a short one of 6
    const { data, indices } = toyData(device, n, 8, classes, 3);
    const relabel = Int32Array.from(indices, (i) => (i * 7 + 1) % classes);
    const runs = [false, true].map(async (capture) => {
      const opts = { classes, inChannels: 3, width: 4, device, image: 8, stepCapture: capture };
      const model = new addon.Model(device === 'cpu' ? { ...opts, emulateCapture: capture } : opts);
      model.initialize(5);
      model.setMask(
        Float32Array.from({ length: model.parameterCount }, (_, i) => (i % 3 === 0 ? 0 : 1)),
        'grad',
      );
      const results = [];
      for (let epoch = 0; epoch < 3; epoch++) {
        const labels = epoch === 1 ? relabel : undefined; // random-label style epoch
        results.push(
          await model.trainEpoch(data, {
            indices,
            labels,
            batchSize: 16,
            augment: true,
            seed: 9,
            epoch,
            sgd: { lr: 0.05, momentum: 0.9, weightDecay: 5e-4, nesterov: epoch === 2 },
          }),
        );
      }
      return { model, results };
    });
    const [plain, captured] = await Promise.all(runs);
    expect(plain.model.stepCapture).toBe(false);
    expect(captured.model.stepCapture).toBe(true);
    expect(plain.results.map((r) => r.replayedSteps)).toEqual([0, 0, 0]);
    // The first epoch's first step eager (it plans and sizes everything), steps 2-4 replayed; later
    // epochs record their first step at once, the step having run before. The short last batch eager.
    expect(captured.results.map((r) => r.replayedSteps)).toEqual([3, 4, 4]);
    // Bit for bit on the CPU; on CUDA the two models' cuDNN searches may pick different kernels,
    // some of them with atomics: a wrong replay would be far outside this.
    const same = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      if (device === 'cpu') expect(Array.from(a)).toEqual(Array.from(b));
      else expect(maxViolation(a, b, 1e-4, 1e-3)).toBeLessThanOrEqual(1);
    };
    same(
      captured.results.map((r) => r.loss),
      plain.results.map((r) => r.loss),
    );
    same(captured.model.getParameters(), plain.model.getParameters());
    same(captured.model.getOptimizerState().momentum, plain.model.getOptimizerState().momentum);
    for (const name of ['bn1.running_var', 'layer4.1.bn2.running_mean', 'layer2.0.downsample.1.running_var'])
      same(captured.model.getTensor(name) as Float32Array, plain.model.getTensor(name) as Float32Array);
    expect((captured.model.getTensor('bn1.num_batches_tracked') as BigInt64Array)[0]).toBe(BigInt(3 * 5));
    expect((plain.model.getTensor('bn1.num_batches_tracked') as BigInt64Array)[0]).toBe(BigInt(3 * 5));
  });

  // 70 images (five batches of 16, the last short) and two small CPU models whose backends imitate
  // step capture (emulateCapture): one without it, one refusing as asked.
  const refusalCase = (refusal: 'refuse' | 'refuse-second') => {
    const classes = 4;
    const { data, indices } = toyData(device, 70, 8, classes, 8);
    const model = (emulateCapture: boolean | typeof refusal) => {
      const m = new addon.Model({ classes, inChannels: 3, width: 4, device, image: 8, emulateCapture });
      m.initialize(3);
      return m;
    };
    return {
      data,
      indices,
      eager: model(false),
      refused: model(refusal),
      sgd: { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
    };
  };

  if (device === 'cpu')
    it('when a capture is refused, the pass runs eagerly with the same results and says why', async () => {
      const { data, indices, eager, refused, sgd } = refusalCase('refuse');
      const runs = [];
      for (const model of [eager, refused])
        runs.push(await model.trainEpoch(data, { indices, batchSize: 16, augment: true, seed: 1, epoch: 0, sgd }));
      expect(runs[1].replayedSteps).toBe(0);
      expect(refused.captureError).toMatch(/capture refused/);
      expect(eager.captureError).toBe('');
      expect(Array.from(refused.getParameters())).toEqual(Array.from(eager.getParameters()));
      const gradOpts = { indices, batchSize: 16, train: true, augment: false, seed: 0, epoch: 0 };
      expect(Array.from(await refused.gradient(data, gradOpts))).toEqual(
        Array.from(await eager.gradient(data, gradOpts)),
      );
      // The refusal came part-way through the step (after the stem's batch norm had counted it):
      // every counter is exactly as without capture, 5 training steps + 5 gradient batches.
      for (const t of refused.tensors().filter((e) => e.name.endsWith('num_batches_tracked')))
        expect([t.name, (refused.getTensor(t.name) as BigInt64Array)[0]]).toEqual([t.name, 10n]);
    });

  if (device === 'cpu')
    it('a pass that records its first step on an earlier warm-up and is refused runs that step eagerly and records the next', async () => {
      const { data, indices, eager, refused: refusedOnce, sgd } = refusalCase('refuse-second');
      const replayed = [];
      for (let epoch = 0; epoch < 3; epoch++)
        for (const model of [eager, refusedOnce]) {
          const run = await model.trainEpoch(data, { indices, batchSize: 16, augment: true, seed: 1, epoch, sgd });
          if (model === refusedOnce) replayed.push(run.replayedSteps);
        }
      // Epoch 1: step 1 eager, step 2 recorded (capture 1). Epoch 2: step 1 recorded without a
      // warm-up and refused (capture 2), run eagerly; step 2 recorded (capture 3). Epoch 3: all 4.
      expect(replayed).toEqual([3, 3, 4]);
      expect(refusedOnce.captureError).toBe('');
      expect(Array.from(refusedOnce.getParameters())).toEqual(Array.from(eager.getParameters()));
      for (const t of refusedOnce.tensors().filter((e) => e.name.endsWith('num_batches_tracked')))
        expect([t.name, (refusedOnce.getTensor(t.name) as BigInt64Array)[0]]).toEqual([t.name, 15n]);
    });

  // The CUDA backend in bf16 converts the weights at each forward, for it and its backward
  // (prepare_conv_weights): a pass must read the weights as they are then, never an earlier copy.
  // bf16 at width 8, whose convolutions all have channels in multiples of 8 (the stem's 3 input
  // channels are padded to 8): at width 4 they would output 4, for which cuDNN need not have an
  // NHWC bf16 engine on a GPU (the emulation has one).
  for (const precision of device === 'cuda' ? (['fp32', 'bf16'] as const) : (['fp32'] as const)) {
    it(`every pass reads the weights as they are (${precision}): after training or setParameters, as a fresh model given them`, async () => {
      const classes = 4;
      const { data, indices } = toyData(device, 32, 8, classes, 5);
      const make = () => {
        const m = new addon.Model({
          classes,
          inChannels: 3,
          width: precision === 'bf16' ? 8 : 4,
          device,
          image: 8,
          precision,
        });
        m.initialize(3);
        return m;
      };
      const model = make(),
        fresh = make();
      const gradOpts = { indices, batchSize: 16, train: false, augment: false, seed: 1, epoch: 0 };
      const sameLogits = (a: Float32Array, b: Float32Array) =>
        expect(maxViolation(a, b, 1e-6, 1e-5)).toBeLessThanOrEqual(1);
      // cuDNN's backward algorithms may add in any order on a GPU
      const sameGradient = (a: Float32Array, b: Float32Array) => expect(relativeL2(a, b)).toBeLessThan(1e-4);
      const first = await model.predict(data, indices, 16);
      await model.gradient(data, gradOpts);
      await model.trainEpoch(data, {
        indices,
        batchSize: 16,
        augment: false,
        seed: 1,
        epoch: 0,
        sgd: { lr: 0.1, momentum: 0.9, weightDecay: 0 },
      });
      for (const t of model.tensors()) fresh.setTensor(t.name, model.getTensor(t.name));
      const trained = await model.predict(data, indices, 16);
      expect(maxViolation(trained, first, 1e-6, 1e-5)).toBeGreaterThan(1); // the weights did move
      sameLogits(trained, await fresh.predict(data, indices, 16));
      sameGradient(await model.gradient(data, gradOpts), await fresh.gradient(data, gradOpts));
      const other = Float32Array.from(model.getParameters(), (v, i) => v * (1 + 0.2 * Math.sin(i)));
      model.setParameters(other);
      fresh.setParameters(other);
      sameLogits(await model.predict(data, indices, 16), await fresh.predict(data, indices, 16));
      sameGradient(await model.gradient(data, gradOpts), await fresh.gradient(data, gradOpts));
    });
  }

  it('predict, gradient sums and integrated gradients are the same replayed as eager', async () => {
    const classes = 4,
      n = 70; // batch 16: four full batches and a short one
    const { data, indices } = toyData(device, n, 8, classes, 7);
    const make = (capture: boolean) => {
      const opts = { classes, inChannels: 3, width: 4, device, image: 8, stepCapture: capture };
      const model = new addon.Model(device === 'cpu' ? { ...opts, emulateCapture: capture } : opts);
      model.initialize(11);
      return model;
    };
    const [eager, replayed] = [make(false), make(true)];
    const same = (a: ArrayLike<number>, b: ArrayLike<number>) => {
      if (device === 'cpu') expect(Array.from(a)).toEqual(Array.from(b));
      else expect(maxViolation(a, b, 1e-4, 1e-3)).toBeLessThanOrEqual(1);
    };
    same(await replayed.predict(data, indices, 16), await eager.predict(data, indices, 16));
    const gradOpts = { indices, batchSize: 16, train: true, augment: true, seed: 2, epoch: 1 };
    same(await replayed.gradient(data, gradOpts), await eager.gradient(data, gradOpts));
    // train-mode passes count their batches in BN's num_batches_tracked, replayed or not
    expect((replayed.getTensor('bn1.num_batches_tracked') as BigInt64Array)[0]).toBe(5n);
    same(
      replayed.getTensor('layer1.0.bn1.running_mean') as Float32Array,
      eager.getTensor('layer1.0.bn1.running_mean') as Float32Array,
    );
    const baseline = new Float32Array(eager.parameterCount);
    const ig = { indices, batchSize: 16, baseline, nodes: [0.25, 0.75], weights: [0.3, 0.7] }; // unequal: a weight fixed in a recording would show
    const a = await replayed.integratedGradients(data, ig),
      b = await eager.integratedGradients(data, ig);
    same(a.ig, b.ig);
    same([a.lossAtModel], [b.lossAtModel]);
    same(replayed.getParameters(), eager.getParameters()); // back at theta after the path
  });

  it('evaluation, which may fold each batch norm into its convolution, gives the eval-mode forward its logits', async () => {
    const classes = 10,
      n = 32; // 32x32 planes, width 8: every convolution takes the CPU's direct (folding) kernels
    const model = new addon.Model({ classes, inChannels: 3, width: 8, device, image: 32 });
    model.initialize(5);
    const { data, indices } = toyData(device, n, 32, classes, 4);
    // Two epochs give every norm running statistics, and its weights values, far from their start.
    for (const epoch of [0, 1])
      await model.trainEpoch(data, {
        indices,
        batchSize: 16,
        augment: false,
        seed: 1,
        epoch,
        sgd: { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
      });
    const meanOf = (name: string) => Array.from(model.getTensor(name) as Float32Array);
    expect(meanOf('layer2.0.bn2.running_mean').some((v) => Math.abs(v) > 1e-3)).toBe(true);
    const evaluated = await model.predict(data, indices, n);
    const forward = await model.forwardBatch(data, indices, { train: false, augment: false, seed: 0, epoch: 0 });
    if (device === 'cpu') expect(Array.from(evaluated)).toEqual(Array.from(forward));
    else expect(maxViolation(evaluated, forward, 1e-4, 1e-3)).toBeLessThanOrEqual(1);
  });

  it('runs on 28x28 single-channel images (MNIST-style, odd sizes through the strides)', async () => {
    const model = new addon.Model({ classes: 10, inChannels: 1, width: 4, device, image: 28 });
    const rand = testRandom(5);
    const n = 4;
    const data = new addon.Dataset(
      device,
      Uint8Array.from({ length: n * 28 * 28 }, () => Math.floor(rand() * 256)),
      Int32Array.from([0, 1, 2, 3]),
      { n, c: 1, h: 28, w: 28 },
      [0.286],
      [0.353],
    );
    const logits = await model.predict(data, Int32Array.from([0, 1, 2, 3]), 4);
    expect(logits.length).toBe(40);
    expect(logits.every(Number.isFinite)).toBe(true);
    const g = await model.gradient(data, {
      indices: Int32Array.from([0, 1, 2, 3]),
      batchSize: 2,
      train: true,
      augment: true,
      seed: 0,
      epoch: 0,
    });
    expect(g.every(Number.isFinite)).toBe(true);
  });

  it('rejects bad input with clear errors instead of crashing', async () => {
    const model = new addon.Model({ classes: 4, inChannels: 3, width: 4, device, image: 8 });
    const { data } = toyData(device, 8, 8, 4, 2);
    await expect(model.predict(data, Int32Array.from([0, 99]), 4)).rejects.toThrow(/outside the dataset/);
    expect(() => model.setParameters(new Float32Array(3))).toThrow(/parameters/);
    expect(() => model.setTensor('nope', new Float32Array(1))).toThrow(/no tensor named 'nope'/);
    expect(() => model.setTensor('fc.bias', Float32Array.from([NaN, 0, 0, 0]))).toThrow(/NaN/);
    const other = new addon.Model({ classes: 4, inChannels: 3, width: 4, device, image: 16 });
    await expect(other.predict(data, Int32Array.from([0]), 4)).rejects.toThrow(/expects 3x16x16/);
  });
});
