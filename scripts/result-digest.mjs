// A digest of everything a short run computes with one addon build: two training epochs (losses,
// weights), a gradient, integrated gradients and predictions, on fixed data. Two builds that print
// the same digests compute the same bits: a check for changes meant to move no number (a kernel
// fused, a launch saved), e.g. the build before a change against the build after it:
//   node scripts/result-digest.mjs /tmp/before.node cuda      (an emulation build, say)
//   node scripts/result-digest.mjs build/emulation/insalun.node cuda
// DEVICE is cpu or cuda (default); CUDA runs fp32 and bf16.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { randomImages } from '../dist/bench/numerics.js';

const [addonPath, device = 'cuda'] = process.argv.slice(2);
if (!addonPath || !['cpu', 'cuda'].includes(device)) {
  console.error('usage: node scripts/result-digest.mjs ADDON.node [cpu|cuda]');
  process.exit(2);
}
let addon;
try {
  addon = createRequire(import.meta.url)(resolve(addonPath));
} catch (e) {
  console.error(`cannot load ${addonPath}: ${e.message.split('\n')[0]}`);
  process.exit(2);
}
const n = 64,
  batch = 16;
const { images, labels, shape, mean, std } = randomImages(5, n);

// Every typed array's bytes and every other value's text, keys in sorted order.
function feed(hash, value) {
  if (ArrayBuffer.isView(value)) hash.update(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  else if (value && typeof value === 'object')
    for (const key of Object.keys(value).sort()) {
      hash.update(key);
      feed(hash, value[key]);
    }
  else hash.update(String(value));
}

for (const precision of device === 'cuda' ? ['fp32', 'bf16'] : ['fp32']) {
  const data = new addon.Dataset(device, images, labels, shape, mean, std);
  const model = new addon.Model({ classes: 10, inChannels: 3, width: 8, device, stepCapture: true, precision });
  model.initialize(3);
  const indices = Int32Array.from({ length: n }, (_, i) => i);
  const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
  const results = {};
  for (let epoch = 0; epoch < 2; epoch++)
    results[`epoch ${epoch}`] = await model.trainEpoch(data, {
      indices,
      batchSize: batch,
      augment: true,
      seed: 1,
      epoch,
      sgd,
    });
  results.weights = model.getParameters();
  results.gradient = await model.gradient(data, {
    indices,
    batchSize: batch,
    train: true,
    augment: false,
    seed: 1,
    epoch: 0,
  });
  results.ig = await model.integratedGradients(data, {
    indices,
    batchSize: batch,
    baseline: new Float32Array(model.parameterCount),
    nodes: [0.25, 0.75],
    weights: [0.5, 0.5],
  });
  results.logits = await model.predict(data, indices, batch);
  const hash = createHash('sha256');
  feed(hash, results);
  console.log(`${device} ${precision}: ${hash.digest('hex').slice(0, 16)}`);
}
