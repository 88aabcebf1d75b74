// How far the CPU backend's fp32 gradient of a ResNet-18 moves when its weights move a little:
// the yardstick behind the parity suite's tolerances (test/native/parity.test.ts). A ReLU input
// within rounding of zero opens or shuts under a tiny change, and that changes the gradient of every
// layer below it, so two correct backends that round differently disagree by about this much.
// Same model and data as the parity suite: width 16, 64 random 32x32 images, train-mode BN.
//
// Usage: npm run build, then  node bench/gradient-sensitivity.mjs [--width 16] [--seed 4]
import { parseArgs } from 'node:util';
import { randomImages, relativeL2, roundMantissa, seededRandom } from '../dist/bench/numerics.js';
import { loadAddon } from '../dist/native/index.js';

const { values } = parseArgs({
  options: { width: { type: 'string', default: '16' }, seed: { type: 'string', default: '4' } },
});
const width = Number(values.width),
  seed = Number(values.seed);
const addon = loadAddon();

const { images, labels, shape, mean, std, classes } = randomImages(seed);
const n = shape.n;
const data = new addon.Dataset('cpu', images, labels, shape, mean, std);
const model = new addon.Model({ classes, inChannels: 3, width, device: 'cpu' });
model.initialize(seed);
const opts = {
  indices: Int32Array.from({ length: n }, (_, i) => i),
  batchSize: 32,
  train: true,
  augment: true,
  seed: 3,
  epoch: 0,
};

const weights = model.getParameters();
const reference = await model.gradient(data, opts);
async function gradientAt(w) {
  model.setParameters(w);
  const g = await model.gradient(data, opts);
  model.setParameters(weights);
  return relativeL2(g, reference);
}

const noise = seededRandom(seed + 1);
const rows = [];
for (const size of [1e-7, 1e-6, 1e-5, 1e-4, 1e-3]) {
  const moved = weights.map((w) => w * (1 + size * (2 * noise() - 1)));
  rows.push([`each weight x (1 + u), |u| <= ${size.toExponential(0)}`, await gradientAt(moved)]);
}
rows.push(['weights rounded to TF32 (10 mantissa bits)', await gradientAt(roundMantissa(weights, 10))]);
rows.push(['weights rounded to bf16 (7 mantissa bits)', await gradientAt(roundMantissa(weights, 7))]);

console.log(`ResNet-18 width ${width}, ${n} images, seed ${seed}: relative L2 change of the fp32 gradient`);
for (const [what, change] of rows) console.log(`  ${what.padEnd(44)} ${change.toExponential(2)}`);
