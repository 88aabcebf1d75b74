// insalun as a library: train a small model on the built-in synthetic data, build SalUn's gradient
// mask over a forget set, unlearn with fine-tuning, random labels and SalUn (random labels under
// the mask), and print each model's scores. About 10 s on 2 CPU cores.
//   npm install && node unlearn-synthetic.mjs [output folder, default runs/library-example]
import { join } from 'node:path';
import { defaultCompute, evaluate, mask, openCheckpoint, renderTable, selectForget, train, unlearn } from 'insalun';

const out = process.argv[2] ?? join('runs', 'library-example');
const compute = defaultCompute('cpu');
const forget = 'random:10%';

// 1. The original model: 600 synthetic 8x8 images, memorized by a width-8 ResNet-18.
const original = await train({
  data: {
    dataset: 'synthetic',
    valFraction: 0.1,
    splitSeed: 0,
    synthetic: { trainSize: 600, testSize: 300, imageSize: 8, seed: 0 },
  },
  compute,
  width: 8,
  epochs: 15,
  batchSize: 32,
  sgd: { lr: 0.1, momentum: 0.9, weightDecay: 5e-4 },
  schedule: { kind: 'cosine', milestones: [], gamma: 0.1 },
  seed: 1,
  augment: false,
  outDir: join(out, 'original'),
  resume: false,
});
console.log(`original model: train ${original.accuracy.train.toFixed(2)}%, test ${original.accuracy.test.toFixed(2)}%`);
const checkpoint = join(out, 'original', 'last.safetensors');

/** Runs `work` on a fresh copy of the original model, then frees it. */
async function withOriginal(work) {
  const opened = await openCheckpoint(checkpoint, compute);
  try {
    return await work(opened.model, opened.data, selectForget(opened.data, forget));
  } finally {
    opened[Symbol.dispose]();
  }
}

// 2. SalUn's mask: the half of the weights with the largest forget-loss gradient.
const masks = await withOriginal((model, data, view) =>
  mask(
    model,
    data,
    view,
    {
      method: 'grad',
      ratios: [0.5],
      outDir: join(out, 'masks'),
      batchSize: 64,
      seed: 1,
      augment: false,
      baseline: 'zero',
      rule: 'middle',
      steps: 1,
    },
    checkpoint,
  ),
);
const maskPath = join(out, 'masks', masks.masks[0].file);

// 3. The original's scores, then each method's on its own copy of the original.
const hyper = { epochs: 3, lr: 0.01, batchSize: 32, augment: false };
const rows = [['Original', await withOriginal((model, data, view) => evaluate(model, data, view))]];
for (const [name, method, maskFile] of [
  ['FT', 'ft'],
  ['RL', 'rl'],
  ['SalUn', 'rl', maskPath],
]) {
  const record = await withOriginal((model, data, view) =>
    unlearn(model, data, view, { method, maskPath: maskFile, maskMode: 'hard', hyper, seed: 1 }),
  );
  rows.push([name, record.scores]);
}
const cells = rows.map(([name, s]) => [name, ...[s.UA, s.RA, s.TA, s.MIA].map((x) => x.toFixed(2))]);
console.log(renderTable(['Method', 'UA', 'RA', 'TA', 'MIA'], cells));
