// The CUDA backend against the CPU backend on the same model, data and steps (skipped, saying
// why, where no GPU is present). fp32 with TF32 off: tight tolerances.
import { describe, expect, it } from 'vitest';
import { igSaliency } from '../../src/masks/saliency.js';
import { topkMask } from '../../src/masks/topk.js';
import type { DeviceName } from '../../src/native/index.js';
import { addon, deviceCases, maxViolation, testRandom } from '../helpers/backends.js';

const cuda = deviceCases.find((c) => c.device === 'cuda')!;
const suite = cuda.available ? describe : describe.skip;

function pair(width: number, seed: number) {
  const rand = testRandom(seed);
  const n = 64, classes = 10;
  const images = Uint8Array.from({ length: n * 3 * 32 * 32 }, () => Math.floor(rand() * 256));
  const labels = Int32Array.from({ length: n }, (_, i) => i % classes);
  const make = (device: DeviceName) => {
    const data = new addon.Dataset(device, images, labels, { n, c: 3, h: 32, w: 32 }, [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]);
    const model = new addon.Model({ classes, inChannels: 3, width, device });
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
    const scale = Math.max(...Array.from(ga, Math.abs));
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
});
