// `insalun compare`: a whole experiment from one config (dataset, forget set, methods, masks,
// seeds): the original model, retrain, masks and every method per seed, then the table the papers
// print (UA, RA, TA, MIA, Avg. Gap, RTE; mean and std over seeds) as text, Markdown, CSV and JSON.
// Models, masks and records already computed for the same config are reused.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { lockOutputFolder } from '../io/lock.js';
import { formatMeanStd, renderTable, toCsv, toMarkdown } from '../io/results.js';
import { generateMasks, maskFileName, openCheckpoint } from '../masks/generate.js';
import { RULES } from '../masks/quadrature.js';
import { computeOf, type ComputeSettings } from '../native/index.js';
import { hyperProblem, METHOD_NAMES } from '../unlearn/methods.js';
import { avgGap } from '../metrics/gap.js';
import { unlearningScores } from './evaluate.js';
import { selectForget } from './forget.js';
import { silentReporter, type Reporter, type TrainRecipe } from './loop.js';
import { trainOriginal } from './train.js';
import { saveUnlearned, unlearnModel, type UnlearnRecord } from './unlearn.js';

const MaskConfig = z.object({
  method: z.enum(['grad', 'ig']),
  ratio: z.number().gt(0).max(1).default(0.5),
  rule: z.enum(RULES).default('middle'),
  steps: z.number().int().min(1).default(20),
  baseline: z.string().default('zero'),
  augment: z.boolean().default(true),
  batchSize: z.number().int().min(1).default(256),
});

const RowConfig = z
  .object({
    name: z.string().min(1),
    method: z.enum(METHOD_NAMES),
    hyper: z.record(z.string(), z.union([z.number(), z.boolean()])).default({}),
    mask: MaskConfig.optional(),
    maskMode: z.enum(['hard', 'grad']).default('hard'),
  })
  .superRefine((row, ctx) => {
    // The method's own schema: a typo or a bad value fails here, before anything is trained.
    const problem = hyperProblem(row.method, row.hyper);
    if (problem) ctx.addIssue({ code: 'custom', path: ['hyper'], message: problem });
  });
type RowConfig = z.infer<typeof RowConfig>;

export const CompareConfig = z.object({
  name: z.string().default('compare'),
  dataset: z.string().default('synthetic'),
  dataDir: z.string().optional(),
  valFraction: z.number().min(0).max(0.9).default(0.1),
  splitSeed: z.number().int().min(0).default(0),
  synthetic: z.object({ trainSize: z.number().int().optional(), testSize: z.number().int().optional(), classes: z.number().int().optional(), channels: z.number().int().optional(), imageSize: z.number().int().optional(), seed: z.number().int().optional() }).optional(),
  trainLimit: z.number().int().min(1).optional(),
  testLimit: z.number().int().min(1).optional(),
  width: z.number().int().min(1).default(64),
  train: z
    .object({
      epochs: z.number().int().min(1).default(182),
      lr: z.number().positive().default(0.1),
      batchSize: z.number().int().min(1).default(256),
      momentum: z.number().min(0).max(1).default(0.9),
      weightDecay: z.number().min(0).default(5e-4),
      schedule: z.enum(['multistep', 'cosine', 'constant']).default('multistep'),
      augment: z.boolean().default(true),
    })
    .prefault({}),
  forget: z.string().default('random:10%'),
  seeds: z.array(z.number().int().min(0)).min(1).default([1]),
  methods: z.array(RowConfig).min(1),
  allMia: z.boolean().default(false),
  /** Also print the original model's row (no unlearning): the starting point the methods move from. */
  includeOriginal: z.boolean().default(false),
  /** Which of the original's checkpoints the masks and methods start from: the best validation
   *  accuracy (SalUn's released scripts load `model_SA_best`) or the last epoch. */
  originalCheckpoint: z.enum(['best', 'last']).default('best'),
  relearn: z.object({ steps: z.number().int().min(1), count: z.number().int().min(1).default(100), lr: z.number().positive().default(0.01) }).optional(),
});
export type CompareConfig = z.infer<typeof CompareConfig>;

export function parseCompareConfig(value: unknown, source: string): CompareConfig {
  const result = CompareConfig.safeParse(value);
  if (!result.success) {
    const issues = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new Error(`${source}: invalid compare config: ${issues}`);
  }
  const names = result.data.methods.map((m) => m.name);
  if (new Set(names).size !== names.length) throw new Error(`${source}: method names must be unique`);
  return result.data;
}

/** A short stable key of everything that determines an artifact, for reuse checks. */
function keyOf(value: unknown): string {
  return createHash('sha256').update(JSON.stringify(value)).digest('hex').slice(0, 16);
}

/** A row as its key sees it: boolean hyperparameters (augment) as the 1/0 that configs gave before
 * they were booleans, so that records computed then are still reused. */
function rowForKey(row: RowConfig) {
  const hyper = Object.fromEntries(Object.entries(row.hyper).map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : v]));
  return { ...row, hyper };
}

async function readJsonIfKey<T>(path: string, key: string): Promise<T | null> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8'));
    return value.key === key ? (value as T) : null;
  } catch {
    return null;
  }
}

export interface CompareRow {
  name: string;
  records: UnlearnRecord[]; // one per seed
}

export interface CompareResult {
  columns: string[];
  rows: (string | number)[][];
  raw: CompareRow[];
  text: string;
}

const safeName = (name: string) => name.replace(/[^A-Za-z0-9_.+-]+/g, '_');

/** The Original row of one seed: the trained model itself, scored as the methods are. */
async function originalRecord(config: CompareConfig, checkpoint: string, compute: ComputeSettings, seed: number, retrainScores: UnlearnRecord['scores'] | undefined): Promise<UnlearnRecord> {
  using opened = await openCheckpoint(checkpoint, compute);
  const { model, data } = opened;
  const view = selectForget(data, config.forget, seed);
  const scores = await unlearningScores(model, data, view, config.allMia);
  return {
    method: 'original',
    forget: { spec: view.spec, seed, count: view.forget.length },
    mask: null,
    hyper: {},
    seed,
    rteSeconds: NaN,
    compute: computeOf(model),
    scores,
    avgGap: retrainScores ? avgGap(scores, retrainScores) : null,
    relearn: null,
  };
}

export interface CompareEvents {
  /** After each row of a seed (the Original row too), when everything it created (models, their
   * copies, datasets) has been released: a long experiment's device memory must not grow. */
  onRowDone?: (row: { seed: number; name: string }) => void;
}

export async function runCompare(config: CompareConfig, outDir: string, compute: ComputeSettings, reporter: Reporter = silentReporter, events: CompareEvents = {}): Promise<CompareResult> {
  // Reusing cached artifacts is this run continuing an earlier one, which has ended by now.
  using lock = lockOutputFolder(outDir, 'compare');
  const dataSpec = { dataset: config.dataset, dataDir: config.dataDir, valFraction: config.valFraction, splitSeed: config.splitSeed, synthetic: config.synthetic, trainLimit: config.trainLimit, testLimit: config.testLimit };
  const retainRow = config.methods.find((m) => m.method === 'retrain');
  const raw: CompareRow[] = config.methods.map((m) => ({ name: m.name, records: [] }));
  const originalRow: CompareRow = { name: 'Original', records: [] };

  for (const seed of config.seeds) {
    const seedDir = join(outDir, `seed-${seed}`);
    // 1. the original model
    const t = config.train;
    const recipe: TrainRecipe = { epochs: t.epochs, lr: t.lr, momentum: t.momentum, weightDecay: t.weightDecay, batchSize: t.batchSize, schedule: { kind: t.schedule, milestones: [Math.round(t.epochs * 0.5), Math.round(t.epochs * 0.75)], gamma: 0.1 }, augment: t.augment };
    const originalDir = join(seedDir, 'original');
    // fp32 keys stay as they were before precision modes existed, so earlier runs are reused.
    const { device, precision } = compute;
    const originalKey = keyOf({ dataSpec, width: config.width, train: config.train, seed, device, ...(precision === 'fp32' ? {} : { precision }) });
    if (!(await readJsonIfKey(join(originalDir, 'key.json'), originalKey))) {
      reporter.log(`[seed ${seed}] training the original model`);
      await trainOriginal(
        {
          data: dataSpec,
          compute,
          width: config.width,
          epochs: t.epochs,
          batchSize: t.batchSize,
          sgd: { lr: recipe.lr, momentum: recipe.momentum, weightDecay: recipe.weightDecay },
          schedule: recipe.schedule,
          seed,
          augment: t.augment,
          outDir: originalDir,
          resume: false,
        },
        reporter,
      );
      await writeJsonAtomic(join(originalDir, 'key.json'), { key: originalKey });
    } else reporter.log(`[seed ${seed}] reusing the original model in ${originalDir}`);
    const checkpoint = join(originalDir, `${config.originalCheckpoint}.safetensors`);

    // 2. masks, then 3. every method (retrain first: it is the reference for Avg. Gap)
    const order = [...config.methods].sort((a, b) => Number(b === retainRow) - Number(a === retainRow));
    let retrainScores: UnlearnRecord['scores'] | undefined;
    for (const row of order) {
      let maskPath: string | undefined;
      if (row.mask) {
        const maskDir = join(seedDir, `masks-${keyOf({ ...row.mask, ratio: undefined, start: config.originalCheckpoint })}`);
        const maskKey = keyOf({ originalKey, start: config.originalCheckpoint, forget: config.forget, mask: row.mask });
        maskPath = join(maskDir, maskFileName(row.mask.method, row.mask.ratio));
        if (!(await readJsonIfKey(join(maskDir, `key_${row.mask.ratio}.json`), maskKey))) {
          reporter.log(`[seed ${seed}] ${row.mask.method} mask for ${row.name}`);
          using opened = await openCheckpoint(checkpoint, compute);
          const { model, data } = opened;
          const view = selectForget(data, config.forget, seed);
          await generateMasks(model, data, view, { method: row.mask.method, ratios: [row.mask.ratio], outDir: maskDir, batchSize: row.mask.batchSize, seed, augment: row.mask.augment, baseline: row.mask.baseline, rule: row.mask.rule, steps: row.mask.steps }, checkpoint);
          await writeJsonAtomic(join(maskDir, `key_${row.mask.ratio}.json`), { key: maskKey });
        }
      }
      const recordPath = join(seedDir, `${safeName(row.name)}.json`);
      // (Retrain starts from the initial weights, whichever checkpoint the others start from.)
      const start = row === retainRow ? undefined : config.originalCheckpoint;
      const rowKey = keyOf({ originalKey, start, forget: config.forget, row: rowForKey(row), allMia: config.allMia, relearn: config.relearn, retrainScores: row === retainRow ? null : retrainScores });
      let record = (await readJsonIfKey<UnlearnRecord & { key: string }>(recordPath, rowKey)) as UnlearnRecord | null;
      if (record) reporter.log(`[seed ${seed}] reusing ${row.name}`);
      else {
        reporter.log(`[seed ${seed}] ${row.name} (${row.method}${row.mask ? ` + ${row.mask.method} mask ${row.mask.ratio}` : ''})`);
        using opened = await openCheckpoint(checkpoint, compute);
        const { model, meta, data } = opened;
        const view = selectForget(data, config.forget, seed);
        record = await unlearnModel(model, data, view, { method: row.method, maskPath, maskMode: row.maskMode, hyper: row.hyper, seed, initPath: join(originalDir, 'init.safetensors'), recipe: (meta.recipe as TrainRecipe | undefined) ?? recipe, allMia: config.allMia, retrainScores: row === retainRow ? undefined : retrainScores }, reporter);
        if (row === retainRow) record.avgGap = 0;
        await saveUnlearned(model, meta, record, join(seedDir, `${safeName(row.name)}.safetensors`), recordPath, data, view, config.relearn);
        await writeJsonAtomic(recordPath, { ...record, key: rowKey });
      }
      if (row === retainRow) retrainScores = record.scores;
      raw.find((r) => r.name === row.name)!.records.push(record);
      events.onRowDone?.({ seed, name: row.name });
    }
    if (config.includeOriginal) {
      originalRow.records.push(await originalRecord(config, checkpoint, compute, seed, retrainScores));
      events.onRowDone?.({ seed, name: originalRow.name });
    }
  }
  if (config.includeOriginal) raw.unshift(originalRow);

  const columns = ['Method', 'UA', 'RA', 'TA', 'MIA', 'Avg. Gap', 'RTE (s)', 'Mask (s)'];
  const stat = (values: (number | null | undefined)[]) => {
    const v = values.filter((x): x is number => typeof x === 'number' && Number.isFinite(x));
    return v.length ? formatMeanStd(v) : '-';
  };
  const rows = raw.map((r) => [
    r.name,
    stat(r.records.map((x) => x.scores.UA)),
    stat(r.records.map((x) => x.scores.RA)),
    stat(r.records.map((x) => x.scores.TA)),
    stat(r.records.map((x) => x.scores.MIA)),
    stat(r.records.map((x) => x.avgGap)),
    stat(r.records.map((x) => x.rteSeconds)),
    stat(r.records.map((x) => x.mask?.generationSeconds)),
  ]);
  const title = `${config.name}: ${config.dataset}, forget ${config.forget}, width ${config.width}, seeds ${config.seeds.join(',')} (mean ± std)`;
  const text = `${title}\n${renderTable(columns, rows)}`;
  await writeFileAtomic(join(outDir, 'results.md'), `# ${title}\n\n${toMarkdown(columns, rows)}\n`);
  await writeFileAtomic(join(outDir, 'results.csv'), toCsv(columns, rows));
  await writeJsonAtomic(join(outDir, 'results.json'), { config, columns, rows, raw });
  return { columns, rows, raw, text };
}
