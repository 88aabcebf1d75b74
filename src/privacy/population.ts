// Populations of models for the privacy evaluation (docs/privacy.md), built from compare's steps:
// model k of a population is compare's seed run with seed firstSeed + k and the population's one
// forget set. Its original, its retrained model (the reference population), a second retrained
// model from the same initial weights with another data order (Retrain's row: the control), and
// every other row's unlearned model, each cached by its key like compare's, then the logit-scaled
// confidences of each model on the forget set and on a test sample (cached beside the model).
// `ensurePopulationModel` is one such model of one population, callable on its own;
// `populationJobs` lists them as jobs of compare's plan (stages original, retrain, row) with the
// scoring for the table job; runPrivacy runs them in this process.
import { join } from 'node:path';
import { Rng, sampleWithoutReplacement } from '../data/random.js';
import {
  type CompareConfig,
  type CompareResult,
  ensureOriginal,
  ensureRow,
  originalArtifact,
  type RowConfig,
  readJsonIfKey,
  rowArtifact,
  type SeedData,
  type SeedRun,
  safeName,
  seedData,
} from '../experiment/compare.js';
import { labelsOf } from '../experiment/data.js';
import { accuracyOn, EVAL_BATCH, type UnlearningScores } from '../experiment/evaluate.js';
import { type Reporter, silentReporter } from '../experiment/loop.js';
import type { PlanJob } from '../experiment/plan.js';
import { writeJsonAtomic } from '../io/atomic.js';
import { renderTable } from '../io/results.js';
import { CheckpointError, loadCheckpoint } from '../model/checkpoint.js';
import type { ComputeSettings } from '../native/index.js';
import { type ConfidenceMatrix, logitScaledConfidence } from './challenge-score.js';
import { writeConfidences } from './confidence-file.js';
import type { PrivacyConfig } from './config.js';
import { type PrivacyScores, privacyScores } from './evaluate.js';

/** Which population a model belongs to: the originals, the retrained reference, the control
 * retrains (the retrain row's "unlearned" population), or a method row's unlearned models. */
export type PopulationName =
  | { kind: 'original' }
  | { kind: 'reference' }
  | { kind: 'control' }
  | { kind: 'row'; row: RowConfig };

/** What is kept of each model: its confidences and the accuracies of the final score. */
export interface ModelMeasurement {
  key: string;
  id: string;
  forget: number[]; // logit-scaled confidence per forget example
  test: number[]; // per test-sample example
  RA: number;
  TA: number;
}

export interface Population {
  config: CompareConfig; // the compare config without what only compare's own seeds need
  privacy: PrivacyConfig;
  outDir: string; // <out>/privacy
  forgetSeed: number;
  compute: ComputeSettings;
  reporter: Reporter;
}

export function populationOf(
  config: CompareConfig,
  outDir: string,
  compute: ComputeSettings,
  reporter: Reporter = silentReporter,
): Population {
  if (!config.privacy) throw new Error('the config has no privacy block');
  if (!config.methods.some((m) => m.method === 'retrain')) {
    throw new Error(
      'privacy: the config needs a retrain row (the retrained population every method is scored against)',
    );
  }
  return {
    // The relearning attack and the MIA variants are compare's table's, not the populations'.
    config: { ...config, relearn: undefined, allMia: false },
    privacy: config.privacy,
    outDir: join(outDir, 'privacy'),
    forgetSeed: config.privacy.forgetSeed ?? config.seeds[0],
    compute,
    reporter,
  };
}

/** Model k's seed run: its own folder, seed firstSeed + k, the population's forget set. */
export function memberRun(p: Population, k: number, reporter = p.reporter): SeedRun {
  const seed = p.privacy.firstSeed + k;
  return {
    config: p.config,
    seed,
    dir: join(p.outDir, `model-${seed}`),
    compute: p.compute,
    reporter,
    forgetSeed: p.forgetSeed,
  };
}

const retrainRow = (p: Population) => p.config.methods.find((m) => m.method === 'retrain')!;

/** Model k's control retrain: same initial weights as its original and retrain, another data
 * order (seed + models), its own folder. */
const controlRun = (p: Population, run: SeedRun): SeedRun => ({
  ...run,
  seed: run.seed + p.privacy.models,
  dir: join(run.dir, 'control'),
});

/** The seed run and row whose model a population's model k is (the original's: none). */
function modelOf(
  p: Population,
  k: number,
  name: PopulationName,
  reporter = p.reporter,
): { run: SeedRun; row?: RowConfig } {
  const run = memberRun(p, k, reporter);
  if (name.kind === 'original') return { run };
  if (name.kind === 'control') return { run: controlRun(p, run), row: retrainRow(p) };
  return { run, row: name.kind === 'reference' ? retrainRow(p) : name.row };
}

/** Where a model's measurement is stored (beside the model). */
function measurementPath(p: Population, k: number, name: PopulationName): string {
  const { run, row } = modelOf(p, k, name);
  if (!row) return join(originalArtifact(run).dir, `${p.config.originalCheckpoint}.confidences.json`);
  return join(run.dir, `${safeName(row.name)}.confidences.json`);
}

/** A measurement's path and key (null while the reference record it depends on is not on disk):
 * the original's key and checkpoint, or the row record's key. */
async function measurementArtifact(p: Population, k: number, name: PopulationName) {
  const path = measurementPath(p, k, name);
  const { run, row } = modelOf(p, k, name);
  const original = originalArtifact(memberRun(p, k));
  if (!row) return { path, key: `${original.key}:${p.config.originalCheckpoint}` };
  if (name.kind !== 'row') return { path, key: rowArtifact(run, original, row).key as string | null };
  const reference = rowArtifact(run, original, retrainRow(p));
  const stored = await readJsonIfKey<{ scores: UnlearningScores }>(reference.recordPath, reference.key);
  return { path, key: stored ? rowArtifact(run, original, row, stored.scores).key : null };
}

/** The test sample: `testSample` (default: the forget set's size) test examples, one draw for all models. */
function testSample(p: Population, testIndices: Int32Array, forgetSize: number): Int32Array {
  const size = Math.min(p.privacy.testSample ?? forgetSize, testIndices.length);
  const picked = sampleWithoutReplacement(new Rng(p.forgetSeed, 0x7e57), testIndices.length, size);
  return Int32Array.from(picked, (i) => testIndices[i]).sort();
}

const readMeasurement = (path: string, key: string) => readJsonIfKey<ModelMeasurement>(path, key);

/** The confidences (and RA, TA) of the model in `modelPath`, measured once per key. */
async function measure(
  p: Population,
  data: SeedData,
  modelPath: string,
  at: { path: string; key: string | null },
  id: string,
  accuracies: { RA: number; TA: number } | null,
): Promise<ModelMeasurement> {
  const { path: cachePath, key } = at;
  if (key === null) throw new Error(`privacy: ${id}'s retrained model has no record; it must be computed first`);
  const cached = await readMeasurement(cachePath, key);
  if (cached) return cached;
  const { data: d, view } = await data.load();
  let loaded: Awaited<ReturnType<typeof loadCheckpoint>>;
  try {
    loaded = await loadCheckpoint(modelPath, p.compute);
  } catch (error) {
    const missing = (error as NodeJS.ErrnoException).code === 'ENOENT' || error instanceof CheckpointError;
    throw new Error(
      missing
        ? `privacy: model ${modelPath} is missing or unreadable though its record is there; delete its folder to recompute it (${(error as Error).message})`
        : (error as Error).message,
    );
  }
  using model = loaded.model;
  const classes = d.loaded.classes;
  const sample = testSample(p, view.testIndices, view.forget.length);
  const confidences = async (indices: Int32Array, set: 'train' | 'test') =>
    Array.from(
      logitScaledConfidence(
        await model.predict(set === 'train' ? d.train : d.testSet, indices, EVAL_BATCH),
        labelsOf(d, indices, set),
        classes,
      ),
    );
  const measurement: ModelMeasurement = {
    key,
    id,
    forget: await confidences(view.forget, 'train'),
    test: await confidences(sample, 'test'),
    RA: accuracies?.RA ?? (await accuracyOn(model, d, view.retain)),
    TA: accuracies?.TA ?? (await accuracyOn(model, d, view.testIndices, 'test')),
  };
  await writeJsonAtomic(cachePath, measurement);
  return measurement;
}

/** Model k of one population: trained (with what it depends on) or found, then measured. */
export async function ensurePopulationModel(
  p: Population,
  k: number,
  name: PopulationName,
  data: SeedData,
  reporter = p.reporter,
): Promise<ModelMeasurement> {
  const run = memberRun(p, k, reporter);
  const id = `model-${run.seed}`;
  const original = await ensureOriginal(run);
  const at = () => measurementArtifact(p, k, name);
  if (name.kind === 'original') return measure(p, data, original.checkpoint, await at(), id, null);
  // Every row's key (and Avg. Gap) needs model k's retrained model, so it comes first.
  const reference = await ensureRow(run, original, retrainRow(p), data);
  const model = modelOf(p, k, name, reporter);
  const row = model.row!;
  const record =
    name.kind === 'reference'
      ? reference
      : await ensureRow(model.run, original, row, data, name.kind === 'row' ? reference.scores : undefined);
  const modelPath = join(model.run.dir, `${safeName(row.name)}.safetensors`);
  return measure(p, data, modelPath, await at(), name.kind === 'control' ? `${id}/control` : id, record.scores);
}

/** The populations a table row is scored with: the row's own against the retrained reference. */
export interface PrivacyRow {
  name: string; // the table row: 'Original' or a config row's name
  population: PopulationName;
  scores: PrivacyScores;
  unlearnedIds: string[];
}

export interface PrivacyResult {
  forgetSeed: number;
  models: number;
  examples: number[]; // training-set indices of the forget examples
  testExamples: number[];
  rows: PrivacyRow[];
}

const matrixOf = (ms: ModelMeasurement[], pick: (m: ModelMeasurement) => number[]): ConfidenceMatrix => {
  const examples = pick(ms[0]).length;
  const data = new Float64Array(ms.length * examples);
  ms.forEach((m, k) => {
    const values = pick(m);
    if (values.length !== examples) {
      throw new Error(
        `privacy: mismatched populations: ${m.id} has ${values.length} confidences, ${ms[0].id} ${examples}`,
      );
    }
    data.set(values, k * examples);
  });
  return { models: ms.length, examples, data };
};

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** The populations of every row in the order the table prints them (Retrain's is the control). */
function populationsOf(p: Population): { name: string; population: PopulationName }[] {
  return [
    { name: 'Original', population: { kind: 'original' } },
    ...p.config.methods.map((row) => ({
      name: row.name,
      population: row.method === 'retrain' ? ({ kind: 'control' } as const) : ({ kind: 'row', row } as const),
    })),
  ];
}

function formatSeconds(s: number): string {
  if (!Number.isFinite(s)) return '?';
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m ${Math.round(s % 60)}s` : `${Math.round(s)}s`;
}

/** A population's label in job ids and logs. */
const labelOf = (name: PopulationName) => (name.kind === 'row' ? `row/${name.row.name}` : name.kind);

/** The jobs of a privacy block (model k of each population, in compare's stages) and the scoring
 * the table job runs once they are done. Disposing releases the data the jobs loaded. */
export interface PopulationJobs extends Disposable {
  jobs: PlanJob[];
  /** Each row's scores from the models' measurements (all on disk); writes <out>/privacy/. */
  score(): Promise<PrivacyResult>;
}

export function populationJobs(
  config: CompareConfig,
  outDir: string,
  compute: ComputeSettings,
  reporter: Reporter = silentReporter,
): PopulationJobs {
  const p = populationOf(config, outDir, compute, reporter);
  const N = p.privacy.models;
  const names: PopulationName[] = [{ kind: 'reference' }, ...populationsOf(p).map((r) => r.population)];
  // One forget set for every model: the data and its view are loaded once, for all of them.
  const data = seedData(memberRun(p, 0));
  // Models done are counted on disk, so the count is right in any runner (a sweep's workers too);
  // time left is at the pace of the models this process computed (a reused one costs next to
  // nothing): a job that trained an epoch counted as computed.
  const progress = { computed: 0, computedSeconds: 0, trained: false, done: new Set<PlanJob>() };
  const tracking: Reporter = {
    ...reporter,
    startEpoch: (...args) => {
      progress.trained = true;
      reporter.startEpoch(...args);
    },
  };
  const stageOf = (name: PopulationName) =>
    name.kind === 'original' ? 'original' : name.kind === 'row' ? 'row' : 'retrain';
  const jobs: PlanJob[] = [];
  for (let k = 0; k < N; k++) {
    const id = (name: PopulationName) => `privacy/model-${p.privacy.firstSeed + k}/${labelOf(name)}`;
    const original = id({ kind: 'original' });
    // The original population first: every other job of model k depends on its original.
    for (const name of [names[1], names[0], ...names.slice(2)]) {
      const deps =
        name.kind === 'original' ? [] : name.kind === 'row' ? [original, id({ kind: 'reference' })] : [original];
      jobs.push({
        id: id(name),
        stage: stageOf(name),
        deps,
        artifact: measurementPath(p, k, name),
        key: async () => (await measurementArtifact(p, k, name)).key,
        async done() {
          const { path, key } = await measurementArtifact(p, k, name);
          return key !== null && (await readMeasurement(path, key)) !== null;
        },
        async run() {
          const started = performance.now();
          progress.trained = false;
          await ensurePopulationModel(p, k, name, data, tracking);
          if (progress.trained) {
            progress.computed++;
            progress.computedSeconds += (performance.now() - started) / 1000;
          }
          // A job once done stays done, so only the others are looked up again.
          for (const j of jobs) if (!progress.done.has(j) && (await j.done())) progress.done.add(j);
          const done = progress.done.size;
          const { computed, computedSeconds } = progress;
          const left = computed ? formatSeconds((computedSeconds / computed) * (jobs.length - done)) : 'unknown time';
          reporter.log(`[privacy] ${done}/${jobs.length} models done, ${left} left`);
        },
      });
    }
  }
  return {
    jobs,
    score: () => scorePopulations(p, data, names),
    [Symbol.dispose]() {
      data[Symbol.dispose]();
    },
  };
}

/** Every model of every population in this process (resuming whatever is on disk), then each
 * row's scores. The caller holds the output folder's lock. */
export async function runPrivacy(
  config: CompareConfig,
  outDir: string,
  compute: ComputeSettings,
  reporter: Reporter = silentReporter,
): Promise<PrivacyResult> {
  using populations = populationJobs(config, outDir, compute, reporter);
  for (const job of populations.jobs) await job.run();
  return populations.score();
}

async function scorePopulations(p: Population, data: SeedData, names: PopulationName[]): Promise<PrivacyResult> {
  const N = p.privacy.models;
  const byPopulation: ModelMeasurement[][] = [];
  for (const name of names) {
    const models: ModelMeasurement[] = [];
    for (let k = 0; k < N; k++) {
      const { path, key } = await measurementArtifact(p, k, name);
      const found = key === null ? null : await readMeasurement(path, key);
      if (!found) throw new Error(`privacy: model ${k + 1} of the ${labelOf(name)} population is missing (${path})`);
      models.push(found);
    }
    byPopulation.push(models);
  }
  const { view } = await data.load();
  const examples = Array.from(view.forget);
  const testExamples = Array.from(testSample(p, view.testIndices, view.forget.length));
  const reference = byPopulation[0];
  // Every row is scored before any file is written: a row that cannot be scored leaves no files.
  const forgetOf = (ms: ModelMeasurement[]) => matrixOf(ms, (m) => m.forget);
  const rows: PrivacyRow[] = populationsOf(p).map(({ name, population }, i) => {
    const unlearned = byPopulation[i + 1];
    const scores = privacyScores(
      forgetOf(unlearned),
      forgetOf(reference),
      {
        retainUnlearned: mean(unlearned.map((m) => m.RA)),
        retainRetrained: mean(reference.map((m) => m.RA)),
        testUnlearned: mean(unlearned.map((m) => m.TA)),
        testRetrained: mean(reference.map((m) => m.TA)),
      },
      { resamples: p.privacy.bootstrap, seed: p.privacy.bootstrapSeed },
    );
    return { name, population, scores, unlearnedIds: unlearned.map((m) => m.id) };
  });
  for (const [i, { name }] of rows.entries()) {
    const unlearned = byPopulation[i + 1];
    await writeConfidences(join(p.outDir, `confidences-${safeName(name)}.safetensors`), {
      unlearned: forgetOf(unlearned),
      retrained: forgetOf(reference),
      unlearnedIds: unlearned.map((m) => m.id),
      retrainedIds: reference.map((m) => m.id),
      examples,
      test: {
        unlearned: matrixOf(unlearned, (m) => m.test),
        retrained: matrixOf(reference, (m) => m.test),
        examples: testExamples,
      },
    });
  }
  const result: PrivacyResult = { forgetSeed: p.forgetSeed, models: N, examples, testExamples, rows };
  await writeJsonAtomic(join(p.outDir, 'results.json'), { privacy: p.privacy, ...privacyJson(result) });
  return result;
}

/** The result as results.json stores it (a population named by its kind). */
export function privacyJson(result: PrivacyResult) {
  return { ...result, rows: result.rows.map((r) => ({ ...r, population: r.population.kind })) };
}

/** The privacy columns, in the table's units: F and score in [0, 1], U-LiRA's in %. */
export const PRIVACY_COLUMNS = ['F', 'Score', 'U-LiRA acc', 'TPR@1%', 'TPR@0.1%'];

function cells(s: PrivacyScores): string[] {
  const f = (v: number, [lo, hi]: [number, number], digits: number) =>
    `${v.toFixed(digits)} [${lo.toFixed(digits)}, ${hi.toFixed(digits)}]`;
  return [
    f(s.F, s.intervals.F, 3),
    f(s.score, s.intervals.score, 3),
    f(s.uliraAccuracy, s.intervals.uliraAccuracy, 1),
    f(s.tprAt1, s.intervals.tprAt1, 1),
    f(s.tprAt01, s.intervals.tprAt01, 1),
  ];
}

/** compare's table with the privacy columns beside its own; an Original row is added when the
 * config does not print one (the attack's sanity check belongs in the table). */
export function withPrivacyColumns(result: CompareResult, privacy: PrivacyResult): CompareResult {
  const columns = [...result.columns, ...PRIVACY_COLUMNS];
  const blank = () => result.columns.slice(1).map(() => '-');
  const rows = result.rows.map((row) => {
    const p = privacy.rows.find((r) => r.name === row[0]);
    return [...row, ...(p ? cells(p.scores) : PRIVACY_COLUMNS.map(() => '-'))];
  });
  const original = privacy.rows.find((r) => r.population.kind === 'original')!;
  if (!rows.some((row) => row[0] === 'Original')) rows.push(['Original', ...blank(), ...cells(original.scores)]);
  const title = `${result.title}; privacy: ${privacy.models} models per population, ${privacy.examples.length} forget examples (95% bootstrap intervals)`;
  return { ...result, title, columns, rows, text: `${title}\n${renderTable(columns, rows)}` };
}
