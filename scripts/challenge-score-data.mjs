// Data and insalun's side of scripts/check-challenge-score.sh: random confidence populations of
// several sizes and shapes, written as confidence files (docs/privacy.md), with insalun's epsilons
// and forget score for each in a JSON summary.
// usage: node scripts/challenge-score-data.mjs COMPILED_DIR OUT_DIR [examples]
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

const [compiled, outDir, examplesArg] = process.argv.slice(2);
const score = await import(pathToFileURL(join(compiled, 'privacy', 'challenge-score.js')).href);
const files = await import(pathToFileURL(join(compiled, 'privacy', 'confidence-file.js')).href);
const examples = Number(examplesArg ?? 8);

// The project's seeded generator, so every run checks the same numbers.
const { Rng } = await import(pathToFileURL(join(compiled, 'data', 'random.js')).href);
const rng = new Rng(0x2545f491);
const uniform = () => rng.nextFloat();
function normal() {
  return Math.sqrt(-2 * Math.log(1 - uniform())) * Math.cos(2 * Math.PI * uniform());
}

// Each shape draws, per example, a retrained population and an unlearned one.
const shapes = {
  identical: (m, r) => r.slice(),
  'same-distribution': (m, r, mean, sd) => Array.from({ length: m }, () => mean + sd * normal()),
  'shifted-0.5': (m, r, mean, sd) => Array.from({ length: m }, () => mean + sd * (0.5 + normal())),
  'shifted-2': (m, r, mean, sd) => Array.from({ length: m }, () => mean - sd * (2 + normal())),
  'wider-3x': (m, r, mean, sd) => Array.from({ length: m }, () => mean + 3 * sd * normal()),
  'narrower-0.2x': (m, r, mean, sd) => Array.from({ length: m }, () => mean + 0.2 * sd * normal()),
  'random-mix': (m, r, mean, sd) => {
    const shift = 3 * (uniform() - 0.5);
    const scale = 0.1 + 2 * uniform();
    return Array.from({ length: m }, () => mean + sd * (shift + scale * normal()));
  },
  peaky: (m, r, mean, sd) => Array.from({ length: m }, () => mean + 0.001 * sd * normal()),
  separable: (m, r, mean, sd) => Array.from({ length: m }, () => mean + sd * (20 + normal())),
};

const cases = [];
for (const models of [16, 32, 64]) {
  for (const [shape, draw] of Object.entries(shapes)) {
    const retrained = new Float64Array(models * examples);
    const unlearned = new Float64Array(models * examples);
    for (let i = 0; i < examples; i++) {
      const mean = 8 * (uniform() - 0.3);
      const sd = 0.2 + 2 * uniform();
      const r = Array.from({ length: models }, () => mean + sd * normal());
      const u = draw(models, r, mean, sd);
      for (let k = 0; k < models; k++) {
        retrained[k * examples + i] = r[k];
        unlearned[k * examples + i] = u[k];
      }
    }
    const u = { models, examples, data: unlearned };
    const r = { models, examples, data: retrained };
    const file = join(outDir, `${shape}-${models}.safetensors`);
    const ids = (prefix) => Array.from({ length: models }, (_, k) => `${prefix}-${k}`);
    await files.writeConfidences(file, {
      unlearned: u,
      retrained: r,
      unlearnedIds: ids('unlearned'),
      retrainedIds: ids('retrained'),
      examples: Array.from({ length: examples }, (_, i) => i),
    });
    const epsilons = Array.from(score.challengeEpsilons(u, r));
    const forget = score.forgetScoreFromEpsilons(epsilons, models);
    cases.push({ name: `${shape}, ${models} models`, file, epsilons, forget });
  }
}
writeFileSync(join(outDir, 'insalun.json'), JSON.stringify(cases));
