// `insalun demo`: the main job on the built-in synthetic data, sized to finish in a few minutes on
// a laptop CPU: original, retrain, FT, RL, GA, SalUn (rl + grad mask) and InSalUn (rl + ig mask).
import type { CompareConfig } from './compare.js';

export const DEMO_CONFIG: CompareConfig = {
  name: 'insalun demo',
  dataset: 'synthetic',
  valFraction: 0.1,
  splitSeed: 0,
  // 16x16 images keep a CPU run short; 2,000 training images are few enough to be memorized.
  synthetic: { trainSize: 2000, testSize: 1000, imageSize: 16, seed: 0 },
  width: 16,
  train: { epochs: 20, lr: 0.1, batchSize: 64, momentum: 0.9, weightDecay: 5e-4, schedule: 'cosine', augment: false },
  forget: 'random:10%',
  seeds: [1],
  methods: [
    // Retrain repeats the original's recipe, recorded in its checkpoint.
    { name: 'Retrain', method: 'retrain', hyper: {}, maskMode: 'hard' },
    { name: 'FT', method: 'ft', hyper: { epochs: 5, batchSize: 64, augment: false, lr: 0.02 }, maskMode: 'hard' },
    { name: 'RL', method: 'rl', hyper: { epochs: 5, batchSize: 64, augment: false, lr: 0.02 }, maskMode: 'hard' },
    { name: 'GA', method: 'ga', hyper: { epochs: 3, batchSize: 64, augment: false, lr: 0.01 }, maskMode: 'hard' },
    {
      name: 'SalUn',
      method: 'rl',
      hyper: { epochs: 5, batchSize: 64, augment: false, lr: 0.02 },
      mask: { method: 'grad', ratio: 0.5, rule: 'middle', steps: 20, baseline: 'zero', augment: false, batchSize: 256 },
      maskMode: 'hard',
    },
    {
      name: 'InSalUn',
      method: 'rl',
      hyper: { epochs: 5, batchSize: 64, augment: false, lr: 0.02 },
      mask: { method: 'ig', ratio: 0.5, rule: 'middle', steps: 8, baseline: 'zero', augment: false, batchSize: 256 },
      maskMode: 'hard',
    },
  ],
  allMia: false,
  includeOriginal: true,
  originalCheckpoint: 'best',
};
