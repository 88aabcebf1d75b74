// Reference check, run by hand (see check-mia-sklearn.sh): makes CIFAR-like random logits for
// shadow members, shadow non-members and a target set, runs this project's MIA on them, and writes
// logits, labels, our per-sample features and our MIA numbers to a JSON file for
// check_mia_sklearn.py to recompute with scikit-learn.
//
// usage: node scripts/mia-reference-data.mjs <compiled src dir> <out.json> [members] [nonMembers] [targets]

import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const [compiled, outPath, members = '5000', nonMembers = '5000', targets = '2000'] = process.argv.slice(2);
if (!compiled || !outPath) {
  console.error(
    'usage: node scripts/mia-reference-data.mjs <compiled src dir> <out.json> [members] [nonMembers] [targets]',
  );
  process.exit(2);
}
const load = (file) => import(pathToFileURL(resolve(compiled, file)).href);
const { miaAll } = await load('metrics/mia.js');
const { confidence, entropy, modifiedEntropy, correctness } = await load('metrics/accuracy.js');

const CLASSES = 10;

// mulberry32 and Box-Muller: a seeded generator, so every run checks the same numbers.
let state = 20240521;
function uniform() {
  state = (state + 0x6d2b79f5) | 0;
  let t = Math.imul(state ^ (state >>> 15), 1 | state);
  t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
function normal() {
  return Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

/**
 * Noise logits plus a margin on the true class. Members get a large margin (confidence skewed to 1,
 * as on training data); non-members a smaller, wider one (spread out, some misclassified).
 */
function sampleSet(count, memberShare) {
  const logits = new Float32Array(count * CLASSES);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const label = Math.floor(uniform() * CLASSES);
    const member = uniform() < memberShare;
    const margin = member ? 9 + 2.5 * normal() : 4 + 3.5 * normal();
    for (let c = 0; c < CLASSES; c++) logits[i * CLASSES + c] = 1.5 * normal() + (c === label ? margin : 0);
    labels[i] = label;
  }
  return { logits, labels };
}

const input = {
  shadowTrain: sampleSet(Number(members), 1),
  shadowTest: sampleSet(Number(nonMembers), 0),
  target: sampleSet(Number(targets), 0.85), // a forget set after imperfect unlearning
  classes: CLASSES,
};

const start = performance.now();
const mia = await miaAll(input);
const seconds = (performance.now() - start) / 1000;

const plain = ({ logits, labels }) => ({ logits: Array.from(logits), labels: Array.from(labels) });
const ourFeatures = ({ logits, labels }) => ({
  confidence: Array.from(confidence(logits, labels, CLASSES)),
  entropy: Array.from(entropy(logits, CLASSES)),
  'modified-entropy': Array.from(modifiedEntropy(logits, labels, CLASSES)),
  correctness: Array.from(correctness(logits, labels, CLASSES)),
});
const sets = ['shadowTrain', 'shadowTest', 'target'];
writeFileSync(
  outPath,
  JSON.stringify({
    classes: CLASSES,
    ...Object.fromEntries(sets.map((name) => [name, plain(input[name])])),
    ourFeatures: Object.fromEntries(sets.map((name) => [name, ourFeatures(input[name])])),
    ourMia: mia,
    ourSeconds: seconds,
  }),
);
console.log(`insalun MIA (${seconds.toFixed(1)} s for all five kinds):`, mia);
