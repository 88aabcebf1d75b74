// Reference-check helper (run by hand, see check-torch.sh): writes the un-augmented, normalized
// input images of a checkpoint's dataset for some indices, their labels, and the checkpoint's
// eval-mode logits on them, as one safetensors file that PyTorch code can read.
// Usage: node scripts/export-batch.mjs CHECKPOINT OUT.safetensors (train|test) SPEC
//   SPEC: first:N | forget:SPEC[:seed] (the forget set insalun mask/unlearn would use)

import { selectForget } from '../dist/experiment/forget.js';
import { writeSafetensors } from '../dist/io/safetensors.js';
import { openCheckpoint } from '../dist/masks/generate.js';
import { defaultCompute, loadAddon } from '../dist/native/index.js';

const [checkpoint, out, set = 'test', spec = 'first:256'] = process.argv.slice(2);
if (!checkpoint || !out) {
  console.error(
    'usage: node scripts/export-batch.mjs CHECKPOINT OUT.safetensors (train|test) (first:N|forget:SPEC[:seed])',
  );
  process.exit(2);
}
const { model, data } = await openCheckpoint(checkpoint, defaultCompute('cpu'));
let indices;
if (spec.startsWith('first:')) indices = Int32Array.from({ length: Number(spec.slice(6)) }, (_, i) => i);
else {
  const parts = spec.slice('forget:'.length).split(':');
  const seed = parts.length > 2 ? Number(parts.pop()) : 1;
  indices = selectForget(data, parts.join(':'), seed).forget;
}
const source = set === 'train' ? data.loaded.train : data.loaded.test;
const dataset = set === 'train' ? data.train : data.testSet;
const { c, h, w } = { c: source.channels, h: source.height, w: source.width };
const x = new Float32Array(indices.length * c * h * w);
indices.forEach((index, i) => {
  for (let ch = 0; ch < c; ch++)
    for (let p = 0; p < h * w; p++) {
      const raw = source.images[(index * c + ch) * h * w + p];
      x[(i * c + ch) * h * w + p] = (raw / 255 - data.loaded.mean[ch]) / data.loaded.std[ch];
    }
});
const logits = await model.predict(dataset, indices, 256);
await writeSafetensors(out, [
  { name: 'x', shape: [indices.length, c, h, w], data: x },
  { name: 'y', shape: [indices.length], data: BigInt64Array.from(indices, (i) => BigInt(source.labels[i])) },
  { name: 'indices', shape: [indices.length], data: BigInt64Array.from(indices, (i) => BigInt(i)) },
  { name: 'logits', shape: [indices.length, data.loaded.classes], data: logits },
]);
console.log(`wrote ${indices.length} ${set} images to ${out}`);
void loadAddon;
