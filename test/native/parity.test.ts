// The CUDA backend against the CPU backend on the same model, data and steps (skipped, saying
// why, where no GPU is present). fp32 with TF32 off: tight tolerances; tf32 and bf16 against the
// same fp32 CPU reference with the tolerances their arithmetic allows (stated at each check).
import { describe, expect, it } from 'vitest';
import { igSaliency } from '../../src/masks/saliency.js';
import { topkMask } from '../../src/masks/topk.js';
import type { DeviceName, Precision } from '../../src/native/index.js';
import { addon, deviceCases, maxAbs, maxViolation, randomArray, testRandom } from '../helpers/backends.js';

const cuda = deviceCases.find((c) => c.device === 'cuda')!;
const suite = cuda.available ? describe : describe.skip;

function pair(width: number, seed: number, precision: Precision = 'fp32') {
  const rand = testRandom(seed);
  const n = 64, classes = 10;
  const images = Uint8Array.from({ length: n * 3 * 32 * 32 }, () => Math.floor(rand() * 256));
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const make = (device: DeviceName) => {
    const data = new addon.Dataset(device, images, labels, { n, c: 3, h: 32, w: 32 }, [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]);
    const model = new addon.Model({ classes, inChannels: 3, width, device, precision: device === 'cuda' ? precision : 'fp32' });
    model.initialize(seed);
    return { data, model };
  };
  return { cpu: make('cpu'), gpu: make('cuda'), indices: Int32Array.from({ length: n }, (_, i) => i) };
}

suite(`CUDA vs CPU backend${cuda.available ? '' : ` (skipped: ${cuda.why})`}`, () => {
  it('eval logits and gradients agree', async () => {
    const { cpu, gpu, indices } = pair(16, 1);
    const a = await cpu.model.predict(cpu.data, indices, 32);
    const b = await gpu.model.predict(gpu.data, indices, 32);
    expect(maxViolation(b, a, 1e-4, 1e-3)).toBeLessThanOrEqual(1);
    const opts = { indices, batchSize: 32, train: true, augment: true, seed: 3, epoch: 0 };
    const ga = await cpu.model.gradient(cpu.data, opts);
    const gb = await gpu.model.gradient(gpu.data, opts);
    const scale = maxAbs(ga);
    expect(maxViolation(gb, ga, 1e-3 * scale, 1e-2)).toBeLessThanOrEqual(1);
  });

  it('several SGD steps with augmentation give the same weights', async () => {
    const { cpu, gpu, indices } = pair(16, 2);
    const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
    for (const { model, data } of [cpu, gpu]) await model.trainEpoch(data, { indices, batchSize: 16, augment: true, seed: 5, epoch: 0, sgd });
    const wa = cpu.model.getParameters(), wb = gpu.model.getParameters();
    expect(maxViolation(wb, wa, 1e-4, 1e-3)).toBeLessThanOrEqual(1);
    const ra = cpu.model.getTensor('layer1.0.bn1.running_var') as Float32Array;
    const rb = gpu.model.getTensor('layer1.0.bn1.running_var') as Float32Array;
    expect(maxViolation(rb, ra, 1e-5, 1e-3)).toBeLessThanOrEqual(1);
  });

  it('integrated-gradient masks from both backends agree', async () => {
    const { cpu, gpu } = pair(8, 3);
    const forget = Int32Array.from({ length: 24 }, (_, i) => i);
    const baseline = new Float32Array(cpu.model.parameterCount);
    const a = await igSaliency(cpu.model, cpu.data, forget, { baseline, rule: 'middle', steps: 4, batchSize: 12 });
    const b = await igSaliency(gpu.model, gpu.data, forget, { baseline, rule: 'middle', steps: 4, batchSize: 12 });
    const ma = topkMask(a.saliency, 0.5), mb = topkMask(b.saliency, 0.5);
    let same = 0;
    for (let i = 0; i < ma.length; i++) same += ma[i] === mb[i] ? 1 : 0;
    expect(same / ma.length).toBeGreaterThan(0.99);
  });

  // Relative to the largest reference value: bf16 keeps 8 significant bits (about 0.4 %), and a
  // ResNet-18 forward compounds that over 20 layers; TF32 keeps 11.
  const tolerance: Record<Precision, number> = { fp32: 1e-4, tf32: 1e-2, bf16: 6e-2 };
  const relativeToMax = (a: Float32Array, b: Float32Array) => {
    const scale = maxAbs(b);
    let worst = 0;
    for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]) / scale);
    return worst;
  };

  for (const precision of ['tf32', 'bf16'] as const) {
    it(`${precision}: logits, gradients and a training epoch stay within ${tolerance[precision]} of the fp32 CPU reference`, async () => {
      const { cpu, gpu, indices } = pair(16, 4, precision);
      expect(gpu.model.precision).toBe(precision);
      const a = await cpu.model.predict(cpu.data, indices, 32);
      const b = await gpu.model.predict(gpu.data, indices, 32);
      expect(relativeToMax(b, a)).toBeLessThan(tolerance[precision]);
      const opts = { indices, batchSize: 32, train: true, augment: true, seed: 3, epoch: 0 };
      const ga = await cpu.model.gradient(cpu.data, opts), gb = await gpu.model.gradient(gpu.data, opts);
      expect(relativeToMax(gb, ga)).toBeLessThan(2 * tolerance[precision]);
      const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
      for (const { model, data } of [cpu, gpu]) await model.trainEpoch(data, { indices, batchSize: 16, augment: true, seed: 5, epoch: 0, sgd });
      expect(relativeToMax(gpu.model.getParameters(), cpu.model.getParameters())).toBeLessThan(tolerance[precision]);
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
    for (const model of [gpu.model, eager]) runs.push(await model.trainEpoch(gpu.data, { indices, batchSize: 8, augment: true, seed: 2, epoch: 0, sgd }));
    expect(runs[0].replayedSteps).toBe(7); // 8 batches: the first eager, the rest replayed
    expect(runs[1].replayedSteps).toBe(0);
    // separate backends may pick different (and non-deterministic) cuDNN kernels: a loose bound
    expect(maxViolation(gpu.model.getParameters(), eager.getParameters(), 1e-4, 1e-3)).toBeLessThanOrEqual(1);
    expect(gpu.model.captureError).toBe('');
  });
});
