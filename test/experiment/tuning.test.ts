// The tuning protocol (src/experiment/tuning.ts): candidates from the grid, the two selection rules on
// constructed results, and a tiny experiment end to end: the validation forget set is disjoint from
// the reported one, every candidate ran on it, the table names each tuned row's values and rules,
// and a second run reuses everything.
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseCompareConfig } from '../../src/experiment/compare.js';
import { silentReporter } from '../../src/experiment/loop.js';
import {
  type CandidateResult,
  candidatesOf,
  choose,
  runTunedCompare,
  type TuningReport,
  tunedRows,
} from '../../src/experiment/tuning.js';
import { compare } from '../../src/index.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { defaultCompute } from '../../src/native/index.js';
import { readReportFolder } from '../../src/report/read.js';

const epoch = { epochs: 1, batchSize: 16, augment: false };
const raw = {
  name: 'tuning',
  synthetic: { trainSize: 48, testSize: 16, imageSize: 8, seed: 3 },
  width: 4,
  train: { epochs: 2, batchSize: 16, schedule: 'constant', augment: false },
  forget: 'random:8',
  seeds: [1, 2],
  methods: [
    { name: 'Retrain', method: 'retrain', hyper: { epochs: 1 } },
    { name: 'FT', method: 'ft', hyper: epoch },
    { name: 'SalUn', method: 'rl', hyper: epoch, mask: { method: 'grad', batchSize: 16, augment: false } },
  ],
  tuning: { grid: { FT: { lr: [0.001, 0.05] }, SalUn: { lr: [0.01, 0.1], ratio: [0.3, 0.5] } } },
};
const config = parseCompareConfig(raw, 'tuning test config');

function result(name: string, avgGap: number, targetDistance: number, retainDrop: number): CandidateResult {
  return { name, lr: 0, perSeed: [], avgGap, targetDistance, retainDrop };
}

describe('tuning', () => {
  it('expands a grid into named candidates: lr x ratio for mask rows', () => {
    const candidates = candidatesOf(config, config.tuning!);
    expect(candidates.get('FT')!.map((c) => c.row.name)).toEqual(['FT lr=0.001', 'FT lr=0.05']);
    const salun = candidates.get('SalUn')!;
    expect(salun.map((c) => c.row.name)).toEqual([
      'SalUn lr=0.01 ratio=0.3',
      'SalUn lr=0.01 ratio=0.5',
      'SalUn lr=0.1 ratio=0.3',
      'SalUn lr=0.1 ratio=0.5',
    ]);
    expect(salun[2].row.hyper.lr).toBe(0.1);
    expect(salun[2].row.mask?.ratio).toBe(0.3);
    expect(salun[2].row.hyper.epochs).toBe(1); // the rest of the row is kept
    const bad = (grid: object) => () => candidatesOf(config, { ...config.tuning!, grid } as never);
    expect(bad({ GA: { lr: [0.1] } })).toThrow(/GA, which is no row/);
    expect(bad({ Retrain: { lr: [0.1] } })).toThrow(/retrain row/);
    expect(bad({ FT: { lr: [0.1], ratio: [0.5] } })).toThrow(/ratio grid but no mask/);
    const withSsd = parseCompareConfig({ ...raw, methods: [...raw.methods, { name: 'SSD', method: 'ssd' }] }, 'ssd');
    expect(() => candidatesOf(withSsd, { ...config.tuning!, grid: { SSD: { lr: [0.1] } } })).toThrow(
      /tuning.grid: SSD: unknown hyperparameter/,
    );
  });

  it("the examples' tuning grids expand into valid candidates", () => {
    const dir = fileURLToPath(new URL('../../examples', import.meta.url));
    const tuned = readdirSync(dir)
      .filter((f) => f.endsWith('.json'))
      .map((f) => parseCompareConfig(JSON.parse(readFileSync(join(dir, f), 'utf8')), f))
      .filter((c) => c.tuning);
    expect(tuned.length).toBeGreaterThanOrEqual(3); // the study's random, class and pilot configs
    for (const c of tuned) expect(candidatesOf(c, c.tuning!).size).toBeGreaterThan(0);
  });

  it('the gap rule takes the lowest Avg. Gap; no-retrain the closest forget accuracy within the RA limit', () => {
    const list = [result('a', 3, 1, 12), result('b', 2, 4, 1), result('c', 5, 2, 3)];
    expect(choose(list, 5)).toEqual({ gap: 'b', 'no-retrain': 'c' }); // a is closest but drops RA by 12
    expect(choose(list, 20)).toEqual({ gap: 'b', 'no-retrain': 'a' });
    expect(choose(list, 0.5)['no-retrain']).toBe('b'); // none kept: the smallest RA drop
  });

  it('reported rows: one per distinct choice, named by its values and rules', () => {
    const report: TuningReport = {
      validationForget: {},
      maxRetainDrop: 5,
      rows: [
        { row: 'FT', candidates: [], chosen: { gap: 'FT lr=0.05', 'no-retrain': 'FT lr=0.05' } },
        {
          row: 'SalUn',
          candidates: [],
          chosen: { gap: 'SalUn lr=0.1 ratio=0.5', 'no-retrain': 'SalUn lr=0.01 ratio=0.3' },
        },
      ],
    };
    const rows = tunedRows(config, config.tuning!, report);
    expect(rows.map((r) => r.name)).toEqual([
      'Retrain',
      'FT [lr 0.05; gap, no-retrain]',
      'SalUn [lr 0.1, ratio 0.5; gap]',
      'SalUn [lr 0.01, ratio 0.3; no-retrain]',
    ]);
    expect(rows[3].hyper.lr).toBe(0.01);
    expect(rows[3].mask?.ratio).toBe(0.3);
  });

  it('class-wise forgetting is tuned on the next class; a validation set that overlaps is refused', async () => {
    const classWise = parseCompareConfig(
      {
        ...raw,
        forget: 'class:2',
        seeds: [1],
        methods: raw.methods.slice(0, 2),
        tuning: { grid: { FT: { lr: [0.01] } } },
      },
      'class-wise',
    );
    const out = await mkdtemp(join(tmpdir(), 'insalun-tuning-class-'));
    const result = await runTunedCompare(classWise, out, defaultCompute('cpu'));
    expect(result.tuning!.validationForget).toEqual({ 1: 'class:3' }); // class 2 + 1
    const [candidate] = result.tuning!.rows[0].candidates;
    expect(candidate.perSeed[0].forgetTarget).toBe(0); // a forgotten class: 0% forget accuracy
    const overlapping = { ...classWise, tuning: { ...classWise.tuning!, validationForget: 'class:2:4' } };
    await expect(runTunedCompare(overlapping, out, defaultCompute('cpu'))).rejects.toThrow(
      /validationForget class:2:4 shares 4 images with the reported forget set/,
    );
  }, 120_000);

  it('tuning.seeds tunes on those seeds only and runs the choice on every seed; a stray seed is refused', async () => {
    const once = parseCompareConfig(
      {
        ...raw,
        tuning: { grid: { FT: { lr: [0.01, 0.05] }, SalUn: { lr: [0.05], ratio: [0.5] } }, seeds: [2] },
      },
      'tuned once',
    );
    const out = await mkdtemp(join(tmpdir(), 'insalun-tuning-once-'));
    const result = await runTunedCompare(once, out, defaultCompute('cpu'));
    expect(Object.keys(result.tuning!.validationForget)).toEqual(['2']);
    for (const row of result.tuning!.rows)
      for (const c of row.candidates) expect(c.perSeed.map((p) => p.seed)).toEqual([2]);
    expect(readFileSync(join(out, 'tuning.md'), 'utf8')).toMatch(/means over seeds 2;/);
    // The chosen rows were reported on both seeds.
    for (const seed of [1, 2])
      expect(readdirSync(join(out, `seed-${seed}`)).some((f) => /^FT_lr_.*\.json$/.test(f))).toBe(true);
    // Seed 1 ran no candidate, but has the SalUn mask on a validation forget set, so that the
    // report's Jaccard overlap covers both seeds.
    const seed1Validation = readdirSync(join(out, 'seed-1', 'validation'));
    expect(seed1Validation.filter((f) => !f.startsWith('masks-')).sort()).toEqual(['forget.json']);
    const folder = await readReportFolder(out);
    const overlaps = folder.jaccard.filter((j) => j.against === 'validation forget set');
    expect(overlaps.map((j) => j.seed).sort()).toEqual([1, 2]);
    const stray = { ...once, tuning: { ...once.tuning!, seeds: [3] } };
    await expect(runTunedCompare(stray, out, defaultCompute('cpu'))).rejects.toThrow(
      /tuning.seeds: 3 is not among the config's seeds/,
    );
  }, 120_000);

  it('runs the candidates on a disjoint validation forget set, then the chosen rows; a rerun reuses', async () => {
    const out = await mkdtemp(join(tmpdir(), 'insalun-tuning-'));
    const compute = defaultCompute('cpu');
    // Through the library's compare, which tunes when the config has a tuning block.
    const result = await compare(config, out, compute);
    const report = result.tuning!;
    for (const seed of config.seeds) {
      const spec = report.validationForget[seed];
      expect(spec).toBe(`file:${join(out, `seed-${seed}`, 'validation', 'forget.json')}`);
      const validation: number[] = JSON.parse(await readFile(spec.slice('file:'.length), 'utf8'));
      // The forget sets the masks were computed on: the reported one, and the validation one.
      const forgetOf = async (dir: string) => {
        const maskDir = (await readdir(dir)).find((f) => f.startsWith('masks-'))!;
        return JSON.parse(await readFile(join(dir, maskDir, 'mask_grad.json'), 'utf8')).forget.indices as number[];
      };
      const reported = await forgetOf(join(out, `seed-${seed}`));
      expect(await forgetOf(join(out, `seed-${seed}`, 'validation'))).toEqual(validation);
      expect(validation).toHaveLength(8);
      expect(reported).toHaveLength(8);
      expect(validation.filter((i) => reported.includes(i))).toEqual([]);
    }
    // Every candidate ran on every seed, against the validation Retrain.
    for (const row of report.rows)
      for (const c of row.candidates) {
        expect(c.perSeed.map((p) => p.seed)).toEqual([1, 2]);
        expect(c.perSeed.every((p) => Number.isFinite(p.avgGap))).toBe(true);
      }
    const names = result.rows.map((r) => String(r[0]));
    expect(names[0]).toBe('Retrain');
    expect(names.filter((n) => n.startsWith('FT [lr ')).length).toBeGreaterThanOrEqual(1);
    expect(names.filter((n) => /^SalUn \[lr [\d.]+, ratio 0\.[35]; /.test(n)).length).toBeGreaterThanOrEqual(1);
    expect(names.join(' ')).toMatch(/gap/);
    expect(names.join(' ')).toMatch(/no-retrain/);
    expect(await readFile(join(out, 'tuning.md'), 'utf8')).toMatch(/\| SalUn lr=0\.1 ratio=0\.5 \|/);
    // The report: each seed's SalUn mask against the same mask on the validation forget set.
    const folder = await readReportFolder(out);
    const overlaps = folder.jaccard.filter((j) => j.against === 'validation forget set');
    // One per seed and reported ratio (the two rules may choose different ratios).
    expect([...new Set(overlaps.map((j) => j.seed))].sort()).toEqual([1, 2]);
    for (const j of overlaps) {
      const [maskDir] = (await readdir(join(out, `seed-${j.seed}`))).filter((f) => f.startsWith('masks-'));
      const file = `mask_grad_${j.mask.split(' ').at(-1)}.safetensors`;
      const ones = async (path: string) => {
        const content = await readSafetensors(path);
        return content.order.flatMap((name) => Array.from(content.tensors.get(name)!.data, Number));
      };
      const a = await ones(join(out, `seed-${j.seed}`, maskDir, file));
      const b = await ones(join(out, `seed-${j.seed}`, 'validation', maskDir, file));
      const both = a.filter((v, i) => v && b[i]).length;
      const either = a.filter((v, i) => v || b[i]).length;
      expect(j.jaccard).toBe(both / either);
      expect(j.jaccard).toBeLessThan(1);
    }
    expect(folder.layerTypes.some((t) => t.quantity === 'saliency' && t.type === 'batchnorm')).toBe(true);
    const logs: string[] = [];
    await runTunedCompare(config, out, compute, { ...silentReporter, log: (m) => logs.push(m) });
    expect(logs.filter((l) => /^\[seed \d\] (?!reusing|tuning on)/.test(l))).toEqual([]);
  }, 300_000);
});
