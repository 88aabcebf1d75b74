// The CUDA backend against the CPU backend on the same model, data and steps (skipped, saying
// why, where no GPU is present). Forward values (logits, batch statistics) are compared element by
// element. Gradients and weight updates are compared in relative L2 norm: a ReLU whose input lies
// within rounding error of zero can be open on one backend and shut on the other, and one such
// position changes the gradient of every layer below it. Measured on this model (width 16, 64
// random images): moving the weights by 1e-6 of their size moves the fp32 gradient by 2e-3 in
// relative L2, rounding them to TF32 by 7 %, to bf16 by 19 %; an fp32 CUDA gradient is 2e-6 from
// the CPU's when no ReLU decision differs and up to 6e-3 when some do. So fp32 gets a fixed bound,
// and tf32/bf16 a bound measured in the test: a few times what rounding the weights alone does.
import { describe, expect, it } from 'vitest';
import { randomImages, relativeL2, roundMantissa } from '../../src/bench/numerics.js';
import { igSaliency } from '../../src/masks/saliency.js';
import { topkMask } from '../../src/masks/topk.js';
import type { DeviceName, NativeModel, Precision } from '../../src/native/index.js';
import { addon, deviceCases, maxAbs, maxViolation, randomArray, testRandom } from '../helpers/backends.js';

const cuda = deviceCases.find((c) => c.device === 'cuda')!;
const suite = cuda.available ? describe : describe.skip;

function pair(width: number, seed: number, precision: Precision = 'fp32') {
  const { images, labels, shape, mean, std, classes } = randomImages(seed);
  const make = (device: DeviceName) => {
    const data = new addon.Dataset(device, images, labels, shape, mean, std);
    const model = new addon.Model({
      classes,
      inChannels: 3,
      width,
      device,
      precision: device === 'cuda' ? precision : 'fp32',
    });
    model.initialize(seed);
    return { data, model };
  };
  return { cpu: make('cpu'), gpu: make('cuda'), indices: Int32Array.from({ length: shape.n }, (_, i) => i) };
}

const difference = (a: Float32Array, b: Float32Array) => a.map((v, i) => v - b[i]);

/** Copies weights, optimizer state and BN buffers from one model to another. */
function copyState(from: NativeModel, to: NativeModel): void {
  to.setParameters(from.getParameters());
  to.setOptimizerState(from.getOptimizerState());
  for (const t of from.tensors()) if (t.kind !== 'parameter') to.setTensor(t.name, from.getTensor(t.name));
}

const bnBuffers = (m: NativeModel) =>
  m
    .tensors()
    .filter((t) => t.kind === 'buffer')
    .map((t) => t.name);

suite(`CUDA vs CPU backend${cuda.available ? '' : ` (skipped: ${cuda.why})`}`, () => {
  it('eval logits agree element-wise; gradients within 2e-2 in relative L2', async () => {
    const { cpu, gpu, indices } = pair(16, 1);
    const a = await cpu.model.predict(cpu.data, indices, 32);
    const b = await gpu.model.predict(gpu.data, indices, 32);
    expect(maxViolation(b, a, 1e-4, 1e-3)).toBeLessThanOrEqual(1);
    for (const seed of [3, 5]) {
      const opts = { indices, batchSize: 32, train: true, augment: true, seed, epoch: 0 };
      const ga = await cpu.model.gradient(cpu.data, opts);
      const gb = await gpu.model.gradient(gpu.data, opts);
      expect(relativeL2(gb, ga)).toBeLessThan(2e-2);
    }
  });

  it('several SGD steps: from the same state each step gives the same loss, update, momentum and BN statistics', async () => {
    const { cpu, gpu, indices } = pair(16, 2);
    const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
    const batch = 16;
    for (let step = 0; step < indices.length / batch; step++) {
      copyState(cpu.model, gpu.model);
      const before = cpu.model.getParameters();
      const opts = {
        indices: indices.subarray(step * batch, (step + 1) * batch),
        batchSize: batch,
        augment: true,
        seed: 5,
        epoch: 0,
        sgd,
      };
      const ra = await cpu.model.trainEpoch(cpu.data, opts),
        rb = await gpu.model.trainEpoch(gpu.data, opts);
      expect(Math.abs(rb.loss - ra.loss)).toBeLessThan(1e-5 * ra.loss);
      const ua = difference(cpu.model.getParameters(), before),
        ub = difference(gpu.model.getParameters(), before);
      expect(relativeL2(ub, ua)).toBeLessThan(2e-2);
      expect(relativeL2(gpu.model.getOptimizerState().momentum, cpu.model.getOptimizerState().momentum)).toBeLessThan(
        2e-2,
      );
      expect(gpu.model.getOptimizerState().firstStep).toBe(false);
      for (const name of bnBuffers(cpu.model))
        expect(
          maxViolation(
            gpu.model.getTensor(name) as Float32Array,
            cpu.model.getTensor(name) as Float32Array,
            1e-5,
            1e-4,
          ),
        ).toBeLessThanOrEqual(1);
    }
    // and uninterrupted, one epoch of four steps (three of them replayed on the GPU): the losses
    // agree while the weights drift apart as the ReLU decisions do
    const fresh = pair(16, 2);
    const epoch = { indices, batchSize: batch, augment: true, seed: 5, epoch: 0, sgd };
    const ea = await fresh.cpu.model.trainEpoch(fresh.cpu.data, epoch),
      eb = await fresh.gpu.model.trainEpoch(fresh.gpu.data, epoch);
    expect(Math.abs(eb.loss - ea.loss)).toBeLessThan(1e-3 * ea.loss);
  });

  it('integrated-gradient masks from both backends agree', async () => {
    const { cpu, gpu } = pair(8, 3);
    const forget = Int32Array.from({ length: 24 }, (_, i) => i);
    const baseline = new Float32Array(cpu.model.parameterCount);
    const a = await igSaliency(cpu.model, cpu.data, forget, { baseline, rule: 'middle', steps: 4, batchSize: 12 });
    const b = await igSaliency(gpu.model, gpu.data, forget, { baseline, rule: 'middle', steps: 4, batchSize: 12 });
    const ma = topkMask(a.saliency, 0.5),
      mb = topkMask(b.saliency, 0.5);
    let same = 0;
    for (let i = 0; i < ma.length; i++) same += ma[i] === mb[i] ? 1 : 0;
    expect(same / ma.length).toBeGreaterThan(0.99);
  });

  // Logits relative to the largest reference value: bf16 keeps 8 significant bits (about 0.4 %),
  // and a ResNet-18 forward compounds that over 20 layers; TF32 keeps 11.
  const logitTolerance: Record<Precision, number> = { fp32: 1e-4, tf32: 1e-2, bf16: 6e-2 };
  const mantissaBits: Record<Precision, number> = { fp32: 23, tf32: 10, bf16: 7 };

  for (const precision of ['tf32', 'bf16'] as const) {
    it(`${precision}: logits within ${logitTolerance[precision]} of the fp32 CPU reference; a gradient and an SGD step within 3x what rounding the weights to ${precision} does`, async () => {
      const { cpu, gpu, indices } = pair(16, 4, precision);
      expect(gpu.model.precision).toBe(precision);
      const a = await cpu.model.predict(cpu.data, indices, 32);
      const b = await gpu.model.predict(gpu.data, indices, 32);
      expect(maxAbs(difference(b, a)) / maxAbs(a)).toBeLessThan(logitTolerance[precision]);

      const opts = { indices, batchSize: 32, train: true, augment: true, seed: 3, epoch: 0 };
      const weights = cpu.model.getParameters();
      const ga = await cpu.model.gradient(cpu.data, opts);
      // the yardstick: the fp32 gradient at the weights rounded to this precision
      cpu.model.setParameters(roundMantissa(weights, mantissaBits[precision]));
      const rounding = relativeL2(await cpu.model.gradient(cpu.data, opts), ga);
      cpu.model.setParameters(weights);
      const gb = await gpu.model.gradient(gpu.data, opts);
      expect(relativeL2(gb, ga)).toBeLessThan(3 * rounding);

      const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
      const step = { indices: indices.subarray(0, 16), batchSize: 16, augment: true, seed: 5, epoch: 0, sgd };
      for (const { model, data } of [cpu, gpu]) await model.trainEpoch(data, step);
      const ua = difference(cpu.model.getParameters(), weights),
        ub = difference(gpu.model.getParameters(), weights);
      expect(relativeL2(ub, ua)).toBeLessThan(3 * rounding);
    });
  }

  it('bf16 activations round to nearest even, like PyTorch', () => {
    const x = randomArray(4096, testRandom(9), 100);
    const bits = new Uint32Array(x.buffer.slice(0));
    const want = Float32Array.from(bits, (b) => {
      const rounded = (b + 0x7fff + ((b >>> 16) & 1)) >>> 16; // round half to even on the low 16 bits
      return new Float32Array(new Uint32Array([(rounded << 16) >>> 0]).buffer)[0];
    });
    const ops = addon.ops('cuda', { precision: 'bf16' });
    expect(Array.from(ops.roundTripActivations(x))).toEqual(Array.from(want));
    // through the NHWC layout and back: the same values in the same (NCHW) places
    expect(Array.from(ops.roundTripActivations(x, { n: 4, c: 16, hw: 64 }))).toEqual(Array.from(want));
  });

  it('captured steps (CUDA graphs) train like eager steps', async () => {
    const { gpu, indices } = pair(16, 6);
    const eager = new addon.Model({ classes: 10, inChannels: 3, width: 16, device: 'cuda', stepCapture: false });
    eager.setParameters(gpu.model.getParameters());
    const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
    const runs = [];
    for (const model of [gpu.model, eager])
      runs.push(await model.trainEpoch(gpu.data, { indices, batchSize: 8, augment: true, seed: 2, epoch: 0, sgd }));
    expect(runs[0].replayedSteps).toBe(7); // 8 batches: the first eager, the rest replayed
    expect(runs[1].replayedSteps).toBe(0);
    // separate backends may pick different (and non-deterministic) cuDNN kernels: a loose bound
    expect(maxViolation(gpu.model.getParameters(), eager.getParameters(), 1e-4, 1e-3)).toBeLessThanOrEqual(1);
    expect(gpu.model.captureError).toBe('');
  });
});
