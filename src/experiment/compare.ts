// `insalun compare`: a whole experiment from one config (dataset, forget set, methods, masks,
// seeds): the original model, retrain, masks and every method per seed, then the table the papers
// print (UA, RA, TA, MIA, Avg. Gap, RTE; mean and std over seeds) as text, Markdown, CSV and JSON.
// Models, masks and records already computed for the same config are reused. An experiment is a plan
// of jobs (comparePlan: originals, masks, rows, the table), which runCompare runs one after another
// in this process and `insalun sweep` runs in worker processes or as Slurm job arrays.
import { createHash } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { z } from 'zod';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { lockArtifact, lockOutputFolder } from '../io/lock.js';
import { formatMeanStd, renderTable, toCsv, toMarkdown } from '../io/results.js';
import { generateMasks, maskFileName } from '../masks/generate.js';
import { RULES } from '../masks/quadrature.js';
import { IG_TARGETS } from '../masks/saliency.js';
import { avgGap } from '../metrics/gap.js';
import { loadCheckpoint } from '../model/checkpoint.js';
import { type ComputeSettings, computeOf } from '../native/index.js';
import { PrivacyConfig } from '../privacy/config.js';
import { type PrivacyResult, populationJobs, privacyJson, withPrivacyColumns } from '../privacy/population.js';
import { hyperProblem, METHOD_NAMES } from '../unlearn/methods.js';
import { type DataSpec, type ExperimentData, prepareData } from './data.js';
import { type UnlearningScores, unlearningScores } from './evaluate.js';
import { type ForgetSelection, forgetKeyOf, selectForget } from './forget.js';
import { type Reporter, silentReporter, type TrainRecipe } from './loop.js';
import { type Plan, type PlanJob, runPlanSerially } from './plan.js';
import { recipeOf, trainOptions, trainOriginal } from './train.js';
import { TuningConfig } from './tuning-config.js';
import { saveUnlearned, type UnlearnRecord, unlearnModel } from './unlearn.js';

const MaskConfig = z.object({
  method: z.enum(['grad', 'ig']),
  ratio: z.number().gt(0).max(1).default(0.5),
  rule: z.enum(RULES).default('middle'),
  steps: z.number().int().min(1).default(20),
  baseline: z.string().default('zero'),
  augment: z.boolean().default(true),
  batchSize: z.number().int().min(1).default(256),
  /** ig: the loss the IG targets and its parameter (docs/method.md 4d); absent: the forget loss. */
  target: z.enum(IG_TARGETS).optional(),
  lambda: z.number().min(0).optional(),
  floor: z.number().min(0).optional(),
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
export type RowConfig = z.infer<typeof RowConfig>;

export const CompareConfig = z.object({
  name: z.string().default('compare'),
  dataset: z.string().default('synthetic'),
  dataDir: z.string().optional(),
  valFraction: z.number().min(0).max(0.9).default(0.1),
  splitSeed: z.number().int().min(0).default(0),
  synthetic: z
    .object({
      trainSize: z.number().int().optional(),
      testSize: z.number().int().optional(),
      classes: z.number().int().optional(),
      channels: z.number().int().optional(),
      imageSize: z.number().int().optional(),
      seed: z.number().int().optional(),
    })
    .optional(),
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
  /** A learning-rate (and mask-ratio) grid per row, chosen on a validation forget set (tuning.ts). */
  tuning: TuningConfig.optional(),
  allMia: z.boolean().default(false),
  /** Also print the original model's row (no unlearning): the starting point the methods move from. */
  includeOriginal: z.boolean().default(false),
  /** Which of the original's checkpoints the masks and methods start from: the best validation
   *  accuracy (SalUn's released scripts load `model_SA_best`) or the last epoch. */
  originalCheckpoint: z.enum(['best', 'last']).default('best'),
  relearn: z
    .object({
      steps: z.number().int().min(1),
      count: z.number().int().min(1).default(100),
      lr: z.number().positive().default(0.01),
    })
    .optional(),
  /** Populations of models for the privacy evaluation (docs/privacy.md). */
  privacy: PrivacyConfig.optional(),
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
  const hyper = Object.fromEntries(
    Object.entries(row.hyper).map(([k, v]) => [k, typeof v === 'boolean' ? Number(v) : v]),
  );
  return { ...row, hyper };
}

export async function readJsonIfKey<T>(path: string, key: string): Promise<T | null> {
  try {
    const value = JSON.parse(await readFile(path, 'utf8'));
    return value.key === key ? (value as T) : null;
  } catch {
    return null;
  }
}

/** The lock file guarding the artifacts of one folder (a mask folder holds its ratios' masks). */
const ARTIFACT_LOCK = '.insalun-artifact.lock';

/**
 * An artifact found on disk (`find`), else made under its lock (`make`): of two workers needing
 * it, one computes it while the other waits and then finds it. Returns whether it was reused.
 */
async function findOrMake<T>(
  lockPath: string,
  task: string,
  find: () => Promise<T | null>,
  make: () => Promise<T>,
): Promise<{ value: T; reused: boolean }> {
  const found = await find();
  if (found !== null) return { value: found, reused: true };
  using _lock = await lockArtifact(lockPath, task);
  const foundNow = await find(); // made by the worker we waited for
  if (foundNow !== null) return { value: foundNow, reused: true };
  return { value: await make(), reused: false };
}

export interface CompareRow {
  name: string;
  records: UnlearnRecord[]; // one per seed
}

export interface CompareResult {
  title: string;
  columns: string[];
  rows: (string | number)[][];
  raw: CompareRow[];
  text: string;
}

export const safeName = (name: string) => name.replace(/[^A-Za-z0-9_.+-]+/g, '_');

/** The row that is the reference for Avg. Gap: the config's (first) retrain row. */
function retrainRowOf(config: CompareConfig): RowConfig | undefined {
  return config.methods.find((m) => m.method === 'retrain');
}

// The steps of an experiment, each for one seed: ensureOriginal, then ensureMask and ensureRow
// per row (retrain first: the others' Avg. Gap needs its scores), scoreOriginal, and summarize
// over the seeds. Each step reuses what is on disk under the same key and computes the rest, so
// a serial run (runCompare), a worker given one row, or a tuning loop can call them in any
// order that respects those dependencies (comparePlan lists them). Each takes its artifact's lock
// while it computes it, so workers sharing a folder never compute one artifact twice at once.

/** One seed of an experiment: what it runs, where its files go, how it computes. */
export interface SeedRun {
  config: CompareConfig;
  seed: number;
  dir: string; // <out>/seed-<seed>
  compute: ComputeSettings;
  reporter: Reporter;
  /** The forget set's seed when it is not `seed` (a privacy population: one forget set, many models). */
  forgetSeed?: number;
}

/** What a mask's or row's key adds for a run whose forget set is not its seed's. */
const forgetSeedKey = (run: SeedRun) =>
  run.forgetSeed === undefined ? {} : { forgetSeed: run.forgetSeed, seed: run.seed };

export function seedRun(
  config: CompareConfig,
  outDir: string,
  seed: number,
  compute: ComputeSettings,
  reporter: Reporter = silentReporter,
): SeedRun {
  return { config, seed, dir: join(outDir, `seed-${seed}`), compute, reporter };
}

/** The original model of a seed, trained or found on disk. */
export interface OriginalModel {
  key: string; // what the masks' and rows' keys build on
  dir: string; // init, last and best checkpoints
  checkpoint: string; // the one masks and methods start from
  recipe: TrainRecipe; // for a checkpoint that does not record its own
}

function dataSpecOf(config: CompareConfig): DataSpec {
  return {
    dataset: config.dataset,
    dataDir: config.dataDir,
    valFraction: config.valFraction,
    splitSeed: config.splitSeed,
    synthetic: config.synthetic,
    trainLimit: config.trainLimit,
    testLimit: config.testLimit,
  };
}

/** Where a seed's original model goes, its training options and its key. */
export function originalArtifact(run: SeedRun) {
  const { config, seed, compute } = run;
  const dir = join(run.dir, 'original');
  const options = trainOptions(config.train, {
    data: dataSpecOf(config),
    compute,
    width: config.width,
    seed,
    outDir: dir,
    resume: false,
  });
  // fp32 keys stay as they were before precision modes existed, so earlier runs are reused; a
  // multistep schedule's milestones are named since their rounding changed (Math.round before).
  const { device, precision } = compute;
  const milestones = config.train.schedule === 'multistep' ? { milestones: options.schedule.milestones } : {};
  const key = keyOf({
    dataSpec: options.data,
    width: config.width,
    train: config.train,
    seed,
    device,
    ...(precision === 'fp32' ? {} : { precision }),
    ...milestones,
  });
  return { key, dir, keyPath: join(dir, 'key.json'), options };
}

export async function ensureOriginal(run: SeedRun): Promise<OriginalModel> {
  const { config, seed, reporter } = run;
  const { key, dir, keyPath, options } = originalArtifact(run);
  const { reused } = await findOrMake(
    join(dir, ARTIFACT_LOCK),
    'original',
    () => readJsonIfKey(keyPath, key),
    async () => {
      reporter.log(`[seed ${seed}] training the original model`);
      await trainOriginal(options, reporter);
      await writeJsonAtomic(keyPath, { key });
      return { key };
    },
  );
  if (reused) reporter.log(`[seed ${seed}] reusing the original model in ${dir}`);
  return { key, dir, checkpoint: join(dir, `${config.originalCheckpoint}.safetensors`), recipe: recipeOf(options) };
}

/** The data of a seed with its forget set, uploaded when a step first needs it and kept for the
 * seed's other steps; disposing it releases it (`using data = seedData(run)`). */
export interface SeedData extends Disposable {
  load(): Promise<{ data: ExperimentData; view: ForgetSelection }>;
}

export function seedData(run: SeedRun): SeedData {
  let loading: Promise<{ data: ExperimentData; view: ForgetSelection }> | undefined;
  let loaded: ExperimentData | undefined;
  return {
    load() {
      loading ??= prepareData(dataSpecOf(run.config), run.compute.device).then((data) => {
        loaded = data;
        return { data, view: selectForget(data, run.config.forget, run.forgetSeed ?? run.seed) };
      });
      return loading;
    },
    // At once, not in a promise's callback: the caller may count the device's bytes next.
    [Symbol.dispose]() {
      loaded?.[Symbol.dispose]();
    },
  };
}

/** Where a row's mask goes and its key (undefined for a row without a mask). */
function maskArtifact(run: SeedRun, original: { key: string }, row: RowConfig) {
  const { config } = run;
  const mask = row.mask;
  if (!mask) return undefined;
  const maskDir = join(run.dir, `masks-${keyOf({ ...mask, ratio: undefined, start: config.originalCheckpoint })}`);
  const key = keyOf({
    originalKey: original.key,
    start: config.originalCheckpoint,
    forget: forgetKeyOf(config.forget),
    mask,
    ...forgetSeedKey(run),
  });
  const keyPath = join(maskDir, `key_${mask.ratio}.json`);
  return { mask, maskDir, key, keyPath, path: join(maskDir, maskFileName(mask.method, mask.ratio)) };
}

/** The mask a row's method runs under (none without one), generated or found on disk. */
export async function ensureMask(
  run: SeedRun,
  original: OriginalModel,
  row: RowConfig,
  seedData: SeedData,
): Promise<string | undefined> {
  const { seed, compute, reporter } = run;
  const artifact = maskArtifact(run, original, row);
  if (!artifact) return undefined;
  const { mask, maskDir, key, keyPath } = artifact;
  const find = () => readJsonIfKey(keyPath, key);
  await findOrMake(join(maskDir, ARTIFACT_LOCK), `mask for ${row.name}`, find, async () => {
    reporter.log(`[seed ${seed}] ${mask.method} mask for ${row.name}`);
    const { data, view } = await seedData.load();
    using model = (await loadCheckpoint(original.checkpoint, compute)).model;
    await generateMasks(
      model,
      data,
      view,
      {
        method: mask.method,
        ratios: [mask.ratio],
        outDir: maskDir,
        batchSize: mask.batchSize,
        seed,
        augment: mask.augment,
        baseline: mask.baseline,
        rule: mask.rule,
        steps: mask.steps,
        target: mask.target,
        lambda: mask.lambda,
        floor: mask.floor,
      },
      original.checkpoint,
    );
    await writeJsonAtomic(keyPath, { key });
    return { key };
  });
  return artifact.path;
}

/** Where a row's record goes and its key. */
export function rowArtifact(run: SeedRun, original: { key: string }, row: RowConfig, retrainScores?: UnlearningScores) {
  const { config } = run;
  const isRetrainRow = row.name === retrainRowOf(config)?.name;
  const recordPath = join(run.dir, `${safeName(row.name)}.json`);
  // (Retrain starts from the initial weights, whichever checkpoint the others start from.)
  const start = isRetrainRow ? undefined : config.originalCheckpoint;
  const key = keyOf({
    originalKey: original.key,
    start,
    forget: forgetKeyOf(config.forget),
    row: rowForKey(row),
    allMia: config.allMia,
    relearn: config.relearn,
    retrainScores: isRetrainRow ? null : retrainScores,
    ...forgetSeedKey(run),
  });
  return { key, recordPath, isRetrainRow };
}

/** A row's record (its mask first), computed or found on disk. `retrainScores`: the retrain row's,
 * which every other row's Avg. Gap (and key) needs. */
export async function ensureRow(
  run: SeedRun,
  original: OriginalModel,
  row: RowConfig,
  seedData: SeedData,
  retrainScores?: UnlearningScores,
): Promise<UnlearnRecord> {
  const { seed, reporter } = run;
  const maskPath = await ensureMask(run, original, row, seedData);
  const { key, recordPath, isRetrainRow } = rowArtifact(run, original, row, retrainScores);
  const find = () => readJsonIfKey<UnlearnRecord & { key: string }>(recordPath, key);
  const lockPath = join(run.dir, `.${safeName(row.name)}.lock`);
  const { value, reused } = await findOrMake(lockPath, row.name, find, () =>
    unlearnRow(run, original, row, seedData, { maskPath, recordPath, key, isRetrainRow, retrainScores }),
  );
  if (reused) reporter.log(`[seed ${seed}] reusing ${row.name}`);
  return value;
}

async function unlearnRow(
  run: SeedRun,
  original: OriginalModel,
  row: RowConfig,
  seedData: SeedData,
  to: {
    maskPath?: string;
    recordPath: string;
    key: string;
    isRetrainRow: boolean;
    retrainScores?: UnlearningScores;
  },
): Promise<UnlearnRecord & { key: string }> {
  const { config, seed, compute, reporter } = run;
  const { maskPath, recordPath, key, isRetrainRow, retrainScores } = to;
  reporter.log(
    `[seed ${seed}] ${row.name} (${row.method}${row.mask ? ` + ${row.mask.method} mask ${row.mask.ratio}` : ''})`,
  );
  const { data, view } = await seedData.load();
  const loaded = await loadCheckpoint(original.checkpoint, compute);
  using model = loaded.model;
  const recipe = (loaded.meta.recipe as TrainRecipe | undefined) ?? original.recipe;
  const record = await unlearnModel(
    model,
    data,
    view,
    {
      method: row.method,
      maskPath,
      maskMode: row.maskMode,
      hyper: row.hyper,
      seed,
      initPath: join(original.dir, 'init.safetensors'),
      recipe,
      allMia: config.allMia,
      retrainScores: isRetrainRow ? undefined : retrainScores,
    },
    reporter,
  );
  if (isRetrainRow) record.avgGap = 0;
  await saveUnlearned(
    model,
    loaded.meta,
    record,
    join(run.dir, `${safeName(row.name)}.safetensors`),
    recordPath,
    data,
    view,
    config.relearn,
  );
  const stored = { ...record, key };
  await writeJsonAtomic(recordPath, stored);
  return stored;
}

/** Where the Original row of a seed is stored and its key. */
function originalRowArtifact(run: SeedRun, original: { key: string; dir: string }, retrainScores?: UnlearningScores) {
  const { config } = run;
  const key = keyOf({
    originalKey: original.key,
    start: config.originalCheckpoint,
    forget: forgetKeyOf(config.forget),
    allMia: config.allMia,
    retrainScores: retrainScores ?? null,
  });
  return { key, path: join(original.dir, 'scores.json') };
}

/** The Original row of a seed (scoreOriginal), computed or found on disk. */
export async function ensureOriginalRow(
  run: SeedRun,
  original: OriginalModel,
  seedData: SeedData,
  retrainScores?: UnlearningScores,
): Promise<UnlearnRecord> {
  const { key, path } = originalRowArtifact(run, original, retrainScores);
  const { value } = await findOrMake(
    join(original.dir, ARTIFACT_LOCK),
    'original row',
    () => readJsonIfKey<UnlearnRecord & { key: string }>(path, key),
    async () => {
      const stored = { ...(await scoreOriginal(run, original, seedData, retrainScores)), key };
      await writeJsonAtomic(path, stored);
      return stored;
    },
  );
  return { ...value, rteSeconds: NaN }; // not timed: JSON keeps NaN as null
}

/** The Original row of a seed: the trained model itself, scored as the methods are. */
export async function scoreOriginal(
  run: SeedRun,
  original: OriginalModel,
  seedData: SeedData,
  retrainScores?: UnlearningScores,
): Promise<UnlearnRecord> {
  const { data, view } = await seedData.load();
  using model = (await loadCheckpoint(original.checkpoint, run.compute)).model;
  const scores = await unlearningScores(model, data, view, run.config.allMia);
  return {
    method: 'original',
    forget: { spec: view.spec, seed: run.seed, count: view.forget.length },
    mask: null,
    hyper: {},
    seed: run.seed,
    rteSeconds: NaN,
    compute: computeOf(model),
    scores,
    avgGap: retrainScores ? avgGap(scores, retrainScores) : null,
    relearn: null,
  };
}

/** The table over the seeds (mean ± std of each column), as text and as rows. */
export function summarize(config: CompareConfig, raw: CompareRow[]): CompareResult {
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
  return { title, columns, rows, raw, text: `${title}\n${renderTable(columns, rows)}` };
}

export interface CompareEvents {
  /** After each row of a seed (the Original row too), when everything it created (its model and
   * the model's copies) has been released: a long experiment's device memory must not grow. */
  onRowDone?: (row: { seed: number; name: string }) => void;
  /** After each seed, when its data has been released too. */
  onSeedDone?: (seed: number) => void;
}

/** The steps of one seed with what they computed, so that each runs once per process. */
function seedSteps(run: SeedRun) {
  const data = seedData(run);
  const retrainRow = retrainRowOf(run.config);
  let original: Promise<OriginalModel> | undefined;
  let originalRecord: Promise<UnlearnRecord> | undefined;
  const records = new Map<string, Promise<UnlearnRecord>>();
  const steps = {
    run,
    data,
    original: () => {
      original ??= ensureOriginal(run);
      return original;
    },
    /** The retrain row's scores, which a row's Avg. Gap needs (none for the retrain row itself). */
    async retrainScoresFor(row?: RowConfig): Promise<UnlearningScores | undefined> {
      if (!retrainRow || row?.name === retrainRow.name) return undefined;
      return (await steps.record(retrainRow)).scores;
    },
    record(row: RowConfig): Promise<UnlearnRecord> {
      let record = records.get(row.name);
      if (!record) {
        record = (async () => ensureRow(run, await steps.original(), row, data, await steps.retrainScoresFor(row)))();
        records.set(row.name, record);
      }
      return record;
    },
    originalRecord(): Promise<UnlearnRecord> {
      originalRecord ??= (async () =>
        ensureOriginalRow(run, await steps.original(), data, await steps.retrainScoresFor()))();
      return originalRecord;
    },
    /** The retrain row's scores as on disk (null: not computed yet), for keys before anything runs. */
    async storedRetrainScores(row?: RowConfig): Promise<UnlearningScores | undefined | null> {
      if (!retrainRow || row?.name === retrainRow.name) return undefined;
      const { recordPath, key } = rowArtifact(run, originalArtifact(run), retrainRow);
      return (await readJsonIfKey<UnlearnRecord>(recordPath, key))?.scores ?? null;
    },
  };
  return steps;
}

/** compare's plan, whose last job writes the table (result() returns it in this process). */
export interface ComparePlan extends Plan {
  result(): Promise<CompareResult>;
}

export const COMPARE_STAGES = ['original', 'mask', 'retrain', 'row', 'table'] as const;

/**
 * An experiment as jobs: per seed its original model, each distinct mask, the retrain row, the
 * other rows and the Original row; then the table over the seeds. In the order runCompare runs
 * them: seed by seed, each seed's data uploaded once and released after its last job.
 */
export function comparePlan(
  config: CompareConfig,
  outDir: string,
  compute: ComputeSettings,
  reporter: Reporter = silentReporter,
  events: CompareEvents = {},
): ComparePlan {
  const retrainRow = retrainRowOf(config);
  const rowsInOrder = [...config.methods].sort((a, b) => Number(b === retrainRow) - Number(a === retrainRow));
  const allSteps = config.seeds.map((seed) => seedSteps(seedRun(config, outDir, seed, compute, reporter)));
  const jobs: PlanJob[] = [];
  const keyed = (job: Omit<PlanJob, 'done'>): PlanJob => ({
    ...job,
    async done() {
      const key = await job.key();
      return key !== null && (await readJsonIfKey(job.artifact, key)) !== null;
    },
  });

  for (const steps of allSteps) {
    const { run } = steps;
    const s = run.seed;
    const seedJobs: PlanJob[] = [];
    const originalId = `original/seed-${s}`;
    const original = originalArtifact(run);
    seedJobs.push(
      keyed({
        id: originalId,
        stage: 'original',
        deps: [],
        artifact: original.keyPath,
        key: async () => original.key,
        run: async () => void (await steps.original()),
      }),
    );
    const retrainId = retrainRow ? `row/seed-${s}/${retrainRow.name}` : undefined;
    const rowKey = async (row: RowConfig) => {
      const retrainScores = await steps.storedRetrainScores(row);
      return retrainScores === null ? null : rowArtifact(run, original, row, retrainScores);
    };
    for (const row of rowsInOrder) {
      const mask = maskArtifact(run, original, row);
      const maskId = mask && `mask/seed-${s}/${basename(mask.maskDir)}/${mask.mask.ratio}`;
      if (mask && maskId && !seedJobs.some((j) => j.id === maskId)) {
        seedJobs.push(
          keyed({
            id: maskId,
            stage: 'mask',
            deps: [originalId],
            artifact: mask.keyPath,
            key: async () => mask.key,
            run: async () => void (await ensureMask(run, await steps.original(), row, steps.data)),
          }),
        );
      }
      const isRetrainRow = row === retrainRow;
      seedJobs.push(
        keyed({
          id: `row/seed-${s}/${row.name}`,
          stage: isRetrainRow ? 'retrain' : 'row',
          deps: [originalId, ...(maskId ? [maskId] : []), ...(retrainId && !isRetrainRow ? [retrainId] : [])],
          artifact: rowArtifact(run, original, row).recordPath,
          key: async () => (await rowKey(row))?.key ?? null,
          run: async () => {
            await steps.record(row);
            events.onRowDone?.({ seed: s, name: row.name });
          },
        }),
      );
    }
    if (config.includeOriginal) {
      seedJobs.push(
        keyed({
          id: `original-row/seed-${s}`,
          stage: 'row',
          deps: [originalId, ...(retrainId ? [retrainId] : [])],
          artifact: originalRowArtifact(run, original).path,
          key: async () => {
            const retrainScores = await steps.storedRetrainScores();
            return retrainScores === null ? null : originalRowArtifact(run, original, retrainScores).key;
          },
          run: async () => {
            await steps.originalRecord();
            events.onRowDone?.({ seed: s, name: 'Original' });
          },
        }),
      );
    }
    // The seed's data goes when its last job has run (in this process).
    let left = seedJobs.length;
    for (const job of seedJobs) {
      const runJob = job.run;
      jobs.push({
        ...job,
        run: async () => {
          await runJob();
          if (--left > 0) return;
          steps.data[Symbol.dispose]();
          events.onSeedDone?.(s);
        },
      });
    }
  }

  // The privacy block's populations: their models are jobs of the same stages, scored by the table.
  const privacy = config.privacy ? populationJobs(config, outDir, compute, reporter) : undefined;
  if (privacy) jobs.push(...privacy.jobs);
  let result: CompareResult | undefined;
  const rowJobs = jobs.filter((j) => j.stage === 'retrain' || j.stage === 'row' || privacy?.jobs.includes(j));
  const tableKey = async () => {
    const keys = await Promise.all(rowJobs.map((j) => j.key()));
    return keys.includes(null) ? null : keyOf(keys);
  };
  jobs.push(
    keyed({
      id: 'table',
      stage: 'table',
      deps: rowJobs.map((j) => j.id),
      artifact: join(outDir, 'results.json'),
      key: tableKey,
      run: async () => {
        const raw: CompareRow[] = [];
        if (config.includeOriginal)
          raw.push({ name: 'Original', records: await Promise.all(allSteps.map((s) => s.originalRecord())) });
        for (const row of config.methods)
          raw.push({ name: row.name, records: await Promise.all(allSteps.map((s) => s.record(row))) });
        result = await writeTable(config, outDir, raw, await tableKey(), await privacy?.score());
      },
    }),
  );
  return {
    name: config.name,
    stages: COMPARE_STAGES,
    jobs,
    async result() {
      if (!result) throw new Error(`the plan of ${config.name} has not run its table job`);
      return result;
    },
    [Symbol.dispose]() {
      for (const steps of allSteps) steps.data[Symbol.dispose]();
      privacy?.[Symbol.dispose]();
    },
  };
}

/** The table over the seeds, written to outDir as Markdown, CSV and JSON (with its key). */
async function writeTable(
  config: CompareConfig,
  outDir: string,
  raw: CompareRow[],
  key: string | null,
  privacy?: PrivacyResult,
): Promise<CompareResult> {
  const summary = summarize(config, raw);
  const result = privacy ? withPrivacyColumns(summary, privacy) : summary;
  await writeFileAtomic(
    join(outDir, 'results.md'),
    `# ${result.title}\n\n${toMarkdown(result.columns, result.rows)}\n`,
  );
  await writeFileAtomic(join(outDir, 'results.csv'), toCsv(result.columns, result.rows));
  await writeJsonAtomic(join(outDir, 'results.json'), {
    config,
    columns: result.columns,
    rows: result.rows,
    raw: result.raw,
    key,
    ...(privacy ? { privacy: privacyJson(privacy) } : {}),
  });
  return result;
}

/** Every job of the config's plan in turn, in this process, then the table. */
export async function runCompare(
  config: CompareConfig,
  outDir: string,
  compute: ComputeSettings,
  reporter: Reporter = silentReporter,
  events: CompareEvents = {},
): Promise<CompareResult> {
  // Reusing cached artifacts is this run continuing an earlier one, which has ended by now.
  using _lock = lockOutputFolder(outDir, 'compare');
  using plan = comparePlan(config, outDir, compute, reporter, events);
  await runPlanSerially(plan);
  return plan.result();
}
