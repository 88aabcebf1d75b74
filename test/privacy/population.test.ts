// Populations of models through compare's privacy block, on tiny synthetic data: every model is
// cached and reused on a rerun, a removed model is recomputed alone, the files load back, and bad
// configs, missing models and mismatched populations fail with one clear error.
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { type CompareResult, comparePlan, parseCompareConfig, runCompare } from '../../src/experiment/compare.js';
import { silentReporter } from '../../src/experiment/loop.js';
import { checkPlan, planStates } from '../../src/experiment/plan.js';
import { defaultCompute } from '../../src/native/index.js';
import { readConfidences } from '../../src/privacy/confidence-file.js';
import { populationOf, runPrivacy } from '../../src/privacy/population.js';
import { runCli } from '../helpers/cli.js';

const epoch = { epochs: 1, batchSize: 16, augment: false };
const raw = {
  name: 'population',
  synthetic: { trainSize: 40, testSize: 16, imageSize: 8, seed: 3 },
  width: 2,
  train: { epochs: 1, batchSize: 16, schedule: 'constant', augment: false },
  forget: 'random:6',
  seeds: [1],
  methods: [
    { name: 'Retrain', method: 'retrain' },
    { name: 'GA', method: 'ga', hyper: { ...epoch, lr: 0.01 } },
  ],
  privacy: { models: 4, bootstrap: 100 },
};
const config = parseCompareConfig(raw, 'population test config');
const compute = defaultCompute('cpu');

function logger() {
  const lines: string[] = [];
  return { lines, reporter: { ...silentReporter, log: (m: string) => lines.push(m) } };
}

describe('privacy populations', () => {
  let out: string;
  let first: CompareResult;
  let firstLog: string[];
  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'insalun-population-'));
    const { lines, reporter } = logger();
    first = await runCompare(config, out, compute, reporter);
    firstLog = lines;
  });

  it('prints the privacy columns for every row and Original, and reports progress', async () => {
    expect(first.columns.slice(-5)).toEqual(['F', 'Score', 'U-LiRA acc', 'TPR@1%', 'TPR@0.1%']);
    expect(first.rows.map((r) => r[0])).toEqual(['Retrain', 'GA', 'Original']);
    for (const row of first.rows) expect(String(row.at(-5))).toMatch(/^\d\.\d{3} \[\d\.\d{3}, \d\.\d{3}\]$/);
    // 4 models x (reference, Original, control, GA)
    expect(firstLog.filter((l) => l.startsWith('[privacy]')).at(-1)).toMatch(/^\[privacy\] 16\/16 models done/);
    expect(firstLog.filter((l) => l.includes('training the original')).length).toBe(1 + 4);
  });

  it("are jobs of compare's plan, in its stages, which the table waits for and which are all done", async () => {
    using plan = comparePlan(config, out, compute);
    checkPlan(plan);
    const privacy = plan.jobs.filter((j) => j.id.startsWith('privacy/'));
    expect(privacy.length).toBe(16);
    expect(privacy.slice(0, 4).map((j) => [j.id, j.stage, j.deps])).toEqual([
      ['privacy/model-1/original', 'original', []],
      ['privacy/model-1/reference', 'retrain', ['privacy/model-1/original']],
      ['privacy/model-1/control', 'retrain', ['privacy/model-1/original']],
      ['privacy/model-1/row/GA', 'row', ['privacy/model-1/original', 'privacy/model-1/reference']],
    ]);
    const table = plan.jobs.at(-1)!;
    for (const job of privacy) expect(table.deps).toContain(job.id);
    expect((await planStates(plan)).every((s) => s.done)).toBe(true);
  });

  it('saves confidences with model ids, loadable, and per-example epsilons', async () => {
    const file = await readConfidences(join(out, 'privacy', 'confidences-GA.safetensors'));
    expect(file.unlearnedIds).toEqual(['model-1', 'model-2', 'model-3', 'model-4']);
    expect(file.retrainedIds).toEqual(file.unlearnedIds);
    expect(file.unlearned.models).toBe(4);
    expect(file.examples.length).toBe(6);
    expect(file.test?.examples.length).toBe(6);
    const control = await readConfidences(join(out, 'privacy', 'confidences-Retrain.safetensors'));
    expect(control.unlearnedIds[0]).toBe('model-1/control');
    const results = JSON.parse(await readFile(join(out, 'privacy', 'results.json'), 'utf8'));
    expect(results.rows.map((r: { name: string }) => r.name)).toEqual(['Original', 'Retrain', 'GA']);
    for (const row of results.rows) expect(row.scores.epsilons.length).toBe(6);
    const compareJson = JSON.parse(await readFile(join(out, 'results.json'), 'utf8'));
    expect(compareJson.privacy.rows.length).toBe(3);
  });

  it("the report draws the privacy section from compare's results", async () => {
    const r = await runCli('report', out);
    expect(r.code).toBe(0);
    const html = await readFile(join(out, 'report.html'), 'utf8');
    expect(html).toContain('<section id="privacy">');
    for (const metric of ['F', 'score', 'uliraAccuracy', 'tprAt1', 'tprAt01']) {
      const svg = html.split(`data-chart="privacy-${metric}">`)[1]?.split('</svg>')[0] ?? '';
      expect(svg).toMatch(/^<svg/);
      expect(svg).toContain('mark-rect'); // the bars drew
    }
    expect(html).toContain('<td>0.'); // the table's privacy cells
  });

  it('reuses every model on a rerun and recomputes only a removed one', async () => {
    const again = logger();
    const rerun = await runPrivacy(config, out, compute, again.reporter);
    expect(again.lines.some((l) => /training the original|\(ga\)|\(retrain\)/.test(l))).toBe(false);
    // As after a Ctrl-C in the middle of model 3's GA run: its record never got written.
    await rm(join(out, 'privacy', 'model-3', 'GA.json'));
    const resumed = logger();
    const after = await runPrivacy(config, out, compute, resumed.reporter);
    expect(resumed.lines.filter((l) => /\(ga\)|\(retrain\)|training the original/.test(l))).toEqual([
      '[seed 3] GA (ga)',
    ]);
    expect(after.rows.map((r) => r.name)).toEqual(rerun.rows.map((r) => r.name));
  });

  it('mismatched populations are one clear error, and nothing is written', async () => {
    const path = join(out, 'privacy', 'model-4', 'GA.confidences.json');
    const saved = await readFile(path, 'utf8');
    const measurement = JSON.parse(saved);
    await writeFile(path, JSON.stringify({ ...measurement, forget: measurement.forget.slice(1) }));
    const before = await readFile(join(out, 'privacy', 'results.json'), 'utf8');
    await expect(runPrivacy(config, out, compute)).rejects.toThrow(
      /mismatched populations: model-4 has 5 confidences, model-1 6/,
    );
    expect(await readFile(join(out, 'privacy', 'results.json'), 'utf8')).toBe(before);
    await writeFile(path, saved);
  });

  it('a missing model is one clear error', async () => {
    await rm(join(out, 'privacy', 'model-2', 'GA.safetensors'));
    await rm(join(out, 'privacy', 'model-2', 'GA.confidences.json'));
    await expect(runPrivacy(config, out, compute)).rejects.toThrow(/model .*GA\.safetensors is missing/);
  });
});

describe('privacy configs', () => {
  it('rejects an odd or too small population', () => {
    expect(() => parseCompareConfig({ ...raw, privacy: { models: 5 } }, 'c')).toThrow(/privacy.models: must be even/);
    expect(() => parseCompareConfig({ ...raw, privacy: { models: 2 } }, 'c')).toThrow(/privacy.models/);
  });

  it('needs a retrain row', () => {
    const noRetrain = parseCompareConfig({ ...raw, methods: [raw.methods[1]] }, 'c');
    expect(() => populationOf(noRetrain, 'out', compute)).toThrow(/needs a retrain row/);
  });
});
