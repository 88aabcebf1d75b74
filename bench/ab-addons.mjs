// A/B of addon builds in one process: CPU training and evaluation throughput of each build,
// measured in alternation and kept as the best of several rounds.
//
// Why: on a shared machine the speed of the same build drifts by 10-20% from one minute to the
// next, so a figure from one run and a figure from another say little about a change of a few
// percent. Loaded side by side and measured turn about, both builds see the same drift.
//
// Usage: copy each build aside (cp build/Release/insalun.node /tmp/before.node), then
//   node bench/ab-addons.mjs /tmp/before.node build/Release/insalun.node [--width 16] [--rounds 6]
//        [--batch 64] [--eval-batch 256] [--steps 12] [--image 32] [--channels 3]
// (--image 28 --channels 1: Fashion-MNIST's shapes, whose 14x14 and 7x7 planes take other paths.)
// Run it twice with the order of the builds swapped: the first one loaded can be favoured.
import { createRequire } from 'node:module';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    width: { type: 'string', default: '16' },
    rounds: { type: 'string', default: '6' },
    batch: { type: 'string', default: '64' },
    'eval-batch': { type: 'string', default: '256' },
    steps: { type: 'string', default: '12' },
    image: { type: 'string', default: '32' },
    channels: { type: 'string', default: '3' },
  },
});
if (positionals.length < 2) {
  console.error(
    'usage: node bench/ab-addons.mjs A.node B.node [...] [--width W] [--rounds R] [--batch B] [--eval-batch E] [--steps S] [--image N] [--channels C]',
  );
  process.exit(2);
}
const width = Number(values.width),
  rounds = Number(values.rounds),
  batch = Number(values.batch);
const evalBatch = Number(values['eval-batch']),
  steps = Number(values.steps);
const size = Number(values.image),
  channels = Number(values.channels);
const require = createRequire(import.meta.url);

// Fixed pseudo-random images (CIFAR-sized by default): every build sees the same data.
const n = Math.max(batch * steps, evalBatch * 4);
let seed = 12345;
const images = Uint8Array.from({ length: n * channels * size * size }, () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed >>> 24;
});
const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
const all = Int32Array.from({ length: n }, (_, i) => i);
const sgd = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };

const builds = positionals.map((path) => {
  const addon = require(resolve(path));
  const data = new addon.Dataset(
    'cpu',
    images,
    labels,
    { n, c: channels, h: size, w: size },
    Array(channels).fill(0.47),
    Array(channels).fill(0.25),
  );
  const model = new addon.Model({
    classes: 10,
    inChannels: channels,
    image: size,
    width,
    device: 'cpu',
    precision: 'fp32',
    stepCapture: false,
  });
  return { path, data, model, train: 0, eval: 0 };
});
const train = (b, count, epoch) =>
  b.model.trainEpoch(b.data, { indices: all.subarray(0, count), batchSize: batch, augment: true, seed: 0, epoch, sgd });
const timed = async (run) => {
  const start = performance.now();
  await run();
  return (performance.now() - start) / 1000;
};
for (const b of builds) {
  // warm-up: buffers and plans for both batch sizes
  await train(b, batch * 2, 0);
  await b.model.predict(b.data, all.subarray(0, evalBatch), evalBatch);
}
for (let r = 0; r < rounds; ++r)
  for (const b of builds) {
    b.train = Math.max(b.train, (batch * steps) / (await timed(() => train(b, batch * steps, 1))));
    b.eval = Math.max(
      b.eval,
      (evalBatch * 4) / (await timed(() => b.model.predict(b.data, all.subarray(0, evalBatch * 4), evalBatch))),
    );
  }
console.log(
  `width ${width}, ${channels}x${size}x${size} images, train batch ${batch} (${steps} steps), eval batch ${evalBatch}; best of ${rounds} rounds, img/s`,
);
for (const b of builds)
  console.log(`${b.path.padEnd(40)} train ${b.train.toFixed(1).padStart(8)}  eval ${b.eval.toFixed(1).padStart(8)}`);
