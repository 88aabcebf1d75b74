// Child of thread-count.test.ts: loads the addon named by argv[2], runs a short CPU training with
// every reduction the backend has (convolution filter gradients over the batch, batch-norm
// statistics, the loss, a gradient, integrated gradients, the sum op) on fixed data, and prints one
// digest of every result's bits. The parent runs it at several OMP_NUM_THREADS.
import { createHash } from 'node:crypto';
import { createRequire } from 'node:module';
import { resolve } from 'node:path';

const addon = createRequire(import.meta.url)(resolve(process.argv[2]));
const n = 48,
  batch = 24;
let state = 12345;
const next = () => {
  state = (Math.imul(state, 1103515245) + 12345) >>> 0;
  return state / 2 ** 32;
};
const images = Uint8Array.from({ length: n * 3 * 32 * 32 }, () => Math.floor(next() * 256));
const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
const data = new addon.Dataset('cpu', images, labels, { n, c: 3, h: 32, w: 32 }, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
const model = new addon.Model({ classes: 10, inChannels: 3, width: 16, device: 'cpu' });
model.initialize(7);
const indices = Int32Array.from({ length: n }, (_, i) => i);
const results = {
  epoch: await model.trainEpoch(data, {
    indices,
    batchSize: batch,
    augment: true,
    seed: 1,
    epoch: 0,
    sgd: { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 },
  }),
  weights: model.getParameters(),
  gradient: await model.gradient(data, { indices, batchSize: batch, train: true, augment: false, seed: 1, epoch: 0 }),
  ig: await model.integratedGradients(data, {
    indices,
    batchSize: batch,
    baseline: new Float32Array(model.parameterCount),
    nodes: [0.5],
    weights: [1],
  }),
  logits: await model.predict(data, indices, batch),
  sum: addon.ops('cpu').sum(Float32Array.from({ length: 100_000 }, () => next() - 0.5)),
};
const hash = createHash('sha256');
const feed = (value) => {
  if (ArrayBuffer.isView(value)) hash.update(Buffer.from(value.buffer, value.byteOffset, value.byteLength));
  else if (value && typeof value === 'object')
    for (const key of Object.keys(value).sort()) {
      hash.update(key);
      feed(value[key]);
    }
  else hash.update(String(value));
};
feed(results);
console.log(`${addon.backends().cpuIsa} ${hash.digest('hex')}`);
