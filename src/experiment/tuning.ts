// The tuning protocol (docs/configs.md, "tuning"): each tuned row's candidates (a learning-rate grid,
// and a mask-ratio grid for mask rows) run on a validation forget set disjoint from the reported
// one, per seed, from the same original model; two rules choose a candidate per row from the means
// over the seeds; the chosen candidates then run as the reported rows, named with their values.
// Selecting on the reported forget set would be selecting on the test set.
//
//  - gap: the lowest Avg. Gap to Retrain on the validation forget set (the SalUn paper's protocol).
//  - no-retrain: needs no Retrain. A retrained model has never seen the forget images, so its
//    accuracy on them is that of unseen images: the test accuracy for random forgetting, 0 for a
//    forgotten class. The rule takes the candidate whose forget accuracy is closest to that target
//    (its own TA, or 0), among those whose retain accuracy stays within maxRetainDrop points of the
//    original model's (else the smallest drop): forgetting by ruining the model is not selected.
import { join } from 'node:path';
import { Rng, sampleWithoutReplacement } from '../data/random.js';
import { parseForgetSpec } from '../data/splits.js';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { lockOutputFolder } from '../io/lock.js';
import { renderTable, toMarkdown } from '../io/results.js';
import type { ComputeSettings } from '../native/index.js';
import { hyperProblem } from '../unlearn/methods.js';
import {
  type CompareConfig,
  type CompareEvents,
  type CompareResult,
  ensureMask,
  ensureOriginal,
  ensureRow,
  type OriginalModel,
  type RowConfig,
  runCompare,
  type SeedRun,
  scoreOriginal,
  seedData,
  seedRun,
} from './compare.js';
import type { UnlearningScores } from './evaluate.js';
import { selectForget } from './forget.js';
import { type Reporter, silentReporter } from './loop.js';
import { SELECTION_RULES, type SelectionRule, type TuningConfig } from './tuning-config.js';

const VALIDATION_FORGET_STREAM = 0x76666f; // 'vfo'

export interface Candidate {
  base: string; // the tuned row's name
  lr: number;
  ratio?: number;
  row: RowConfig; // the base row with lr (and ratio) set, named by them
}

const candidateName = (base: string, lr: number, ratio?: number) =>
  `${base} lr=${lr}${ratio === undefined ? '' : ` ratio=${ratio}`}`;

/** Every tuned row's candidates, in grid order; refuses grids naming no row, the retrain row, or
 * a ratio for a row without a mask. */
export function candidatesOf(config: CompareConfig, tuning: TuningConfig): Map<string, Candidate[]> {
  const out = new Map<string, Candidate[]>();
  for (const [name, grid] of Object.entries(tuning.grid)) {
    const row = config.methods.find((m) => m.name === name);
    if (!row) throw new Error(`tuning.grid names ${name}, which is no row of the config`);
    if (row.method === 'retrain')
      throw new Error(`tuning.grid: ${name} is the retrain row, the reference; it is not tuned`);
    if (grid.ratio && !row.mask) throw new Error(`tuning.grid: ${name} has a ratio grid but no mask`);
    const problem = hyperProblem(row.method, { ...row.hyper, lr: grid.lr[0] });
    if (problem) throw new Error(`tuning.grid: ${name}: ${problem}`); // ssd has no learning rate
    const ratios: (number | undefined)[] = grid.ratio ?? [undefined];
    const list: Candidate[] = [];
    for (const lr of grid.lr)
      for (const ratio of ratios)
        list.push({
          base: name,
          lr,
          ratio,
          row: {
            ...row,
            name: candidateName(name, lr, ratio),
            hyper: { ...row.hyper, lr },
            mask: row.mask && ratio !== undefined ? { ...row.mask, ratio } : row.mask,
          },
        });
    out.set(name, list);
  }
  return out;
}

/** The validation forget set of a seed as a forget spec: the config's, checked disjoint from the
 * reported set, or one of the reported set's kind and size (random: other pool images, written as
 * an index file in the seed's validation folder; class C: class C+1). */
async function validationSpec(config: CompareConfig, tuning: TuningConfig, run: SeedRun, dir: string): Promise<string> {
  using reported = seedData(run);
  const { data, view } = await reported.load();
  const overlapCheck = (spec: string) => {
    const inReported = new Set(view.forget);
    const shared = selectForget(data, spec, run.seed).forget.filter((i) => inReported.has(i)).length;
    if (shared > 0)
      throw new Error(
        `tuning.validationForget ${spec} shares ${shared} images with the reported forget set (seed ${run.seed})`,
      );
    return spec;
  };
  if (tuning.validationForget) return overlapCheck(tuning.validationForget);
  const parsed = parseForgetSpec(config.forget);
  if (parsed.kind === 'class') {
    const next = (parsed.classIndex + 1) % data.loaded.classes;
    return overlapCheck(parsed.count === null ? `class:${next}` : `class:${next}:${parsed.count}`);
  }
  if (parsed.kind === 'file') throw new Error('tuning: a file forget set needs tuning.validationForget');
  const inReported = new Set(view.forget);
  const others = data.pool.filter((i) => !inReported.has(i));
  if (others.length < view.forget.length)
    throw new Error(
      `tuning: the pool has ${others.length} images besides the forget set, too few for a validation set of ${view.forget.length}`,
    );
  const picks = sampleWithoutReplacement(
    new Rng(run.seed, VALIDATION_FORGET_STREAM),
    others.length,
    view.forget.length,
  );
  const path = join(dir, 'forget.json');
  await writeFileAtomic(path, JSON.stringify(Array.from(Int32Array.from(picks, (j) => others[j]).sort())));
  return `file:${path}`;
}

/** One candidate's validation results over the seeds, and what the rules read of them. */
export interface CandidateResult {
  name: string;
  lr: number;
  ratio?: number;
  perSeed: { seed: number; scores: UnlearningScores; avgGap: number; retainDrop: number; forgetTarget: number }[];
  avgGap: number; // mean over the seeds (gap rule)
  targetDistance: number; // mean |forget accuracy - target| (no-retrain rule)
  retainDrop: number; // mean points of RA below the original's
}

export interface RowTuning {
  row: string;
  candidates: CandidateResult[];
  chosen: Record<SelectionRule, string>; // candidate names
}

export interface TuningReport {
  validationForget: Record<number, string>; // per seed
  maxRetainDrop: number;
  rows: RowTuning[];
}

const mean = (values: number[]) => values.reduce((a, b) => a + b, 0) / values.length;

/** The rules over one row's candidates (docs/configs.md). */
export function choose(candidates: CandidateResult[], maxRetainDrop: number): Record<SelectionRule, string> {
  const lowest = (list: CandidateResult[], by: (c: CandidateResult) => number) =>
    list.reduce((best, c) => (by(c) < by(best) ? c : best));
  const kept = candidates.filter((c) => c.retainDrop <= maxRetainDrop);
  return {
    gap: lowest(candidates, (c) => c.avgGap).name,
    'no-retrain': kept.length
      ? lowest(kept, (c) => c.targetDistance).name
      : lowest(candidates, (c) => c.retainDrop).name,
  };
}

/** A seed's validation experiment: its original model, the validation forget set, no relearning
 * curve, in seed-<s>/validation/. */
async function validationRun(
  config: CompareConfig,
  tuning: TuningConfig,
  outDir: string,
  seed: number,
  compute: ComputeSettings,
  reporter: Reporter,
): Promise<{ original: OriginalModel; spec: string; run: SeedRun }> {
  const main = seedRun(config, outDir, seed, compute, reporter);
  const original = await ensureOriginal(main);
  const dir = join(main.dir, 'validation');
  const spec = await validationSpec(config, tuning, main, dir);
  const valConfig: CompareConfig = { ...config, forget: spec, relearn: undefined, includeOriginal: false };
  return { original, spec, run: { ...seedRun(valConfig, outDir, seed, compute, reporter), dir } };
}

/** On the seeds the tuning skipped (tuning.seeds), the reported rows' masks on a validation forget
 * set too, so that the report's Jaccard overlap (how forget-specific each mask is) covers every seed.
 * Masks only: no candidate runs there. */
async function specificityMasks(
  config: CompareConfig,
  tuning: TuningConfig,
  rows: RowConfig[],
  outDir: string,
  compute: ComputeSettings,
  reporter: Reporter,
): Promise<void> {
  const tuned = new Set(tuningSeeds(config, tuning));
  const masked = rows.filter((r) => r.mask);
  if (!masked.length) return;
  for (const seed of config.seeds.filter((s) => !tuned.has(s))) {
    const { original, spec, run } = await validationRun(config, tuning, outDir, seed, compute, reporter);
    reporter.log(`[seed ${seed}] masks on the validation forget set ${spec}, for their overlap with the reported ones`);
    using data = seedData(run);
    for (const row of masked) await ensureMask(run, original, row, data);
  }
}

/** The seeds the tuning runs on: tuning.seeds, each of which must be a seed of the config, or all. */
export function tuningSeeds(config: CompareConfig, tuning: TuningConfig): number[] {
  const seeds = tuning.seeds ?? config.seeds;
  const stray = seeds.filter((s) => !config.seeds.includes(s));
  if (stray.length) throw new Error(`tuning.seeds: ${stray.join(', ')} is not among the config's seeds`);
  return seeds;
}

/** Runs every candidate on each tuning seed's validation forget set and applies both rules. The caller
 * holds the output folder's lock. */
export async function tune(
  config: CompareConfig,
  tuning: TuningConfig,
  outDir: string,
  compute: ComputeSettings,
  reporter: Reporter = silentReporter,
): Promise<TuningReport> {
  const candidates = candidatesOf(config, tuning);
  const retainRow = config.methods.find((m) => m.method === 'retrain');
  if (!retainRow) throw new Error('tuning needs a retrain row: the gap rule measures Avg. Gap to it');
  const results = new Map<string, CandidateResult['perSeed']>();
  const validationForget: Record<number, string> = {};
  for (const seed of tuningSeeds(config, tuning)) {
    const { original, spec, run } = await validationRun(config, tuning, outDir, seed, compute, reporter);
    validationForget[seed] = spec;
    reporter.log(`[seed ${seed}] tuning on the validation forget set ${spec}`);
    using data = seedData(run);
    const { view } = await data.load();
    const retrain = await ensureRow(run, original, retainRow, data);
    const originalScores = (await scoreOriginal(run, original, data)).scores;
    for (const list of candidates.values())
      for (const c of list) {
        const record = await ensureRow(run, original, c.row, data, retrain.scores);
        const s = record.scores;
        const perSeed = results.get(c.row.name) ?? [];
        perSeed.push({
          seed,
          scores: s,
          avgGap: record.avgGap ?? NaN,
          retainDrop: originalScores.RA - s.RA,
          forgetTarget: view.forgetClass === null ? s.TA : 0,
        });
        results.set(c.row.name, perSeed);
      }
  }
  const rows: RowTuning[] = [];
  for (const [row, list] of candidates) {
    const summaries = list.map((c): CandidateResult => {
      const perSeed = results.get(c.row.name)!;
      return {
        name: c.row.name,
        lr: c.lr,
        ratio: c.ratio,
        perSeed,
        avgGap: mean(perSeed.map((p) => p.avgGap)),
        targetDistance: mean(perSeed.map((p) => Math.abs(100 - p.scores.UA - p.forgetTarget))),
        retainDrop: mean(perSeed.map((p) => p.retainDrop)),
      };
    });
    rows.push({ row, candidates: summaries, chosen: choose(summaries, tuning.maxRetainDrop) });
  }
  return { validationForget, maxRetainDrop: tuning.maxRetainDrop, rows };
}

/** The reported rows: untuned rows as they are; each tuned row as its chosen candidate, once per
 * distinct choice, named by its values and the rules that chose it. */
export function tunedRows(config: CompareConfig, tuning: TuningConfig, report: TuningReport): RowConfig[] {
  const candidates = candidatesOf(config, tuning);
  return config.methods.flatMap((row) => {
    const tuned = report.rows.find((r) => r.row === row.name);
    if (!tuned) return [row];
    const byCandidate = new Map<string, SelectionRule[]>();
    for (const rule of SELECTION_RULES)
      byCandidate.set(tuned.chosen[rule], [...(byCandidate.get(tuned.chosen[rule]) ?? []), rule]);
    return [...byCandidate].map(([name, rules]) => {
      const c = candidates.get(row.name)!.find((x) => x.row.name === name)!;
      const values = `lr ${c.lr}${c.ratio === undefined ? '' : `, ratio ${c.ratio}`}`;
      return { ...c.row, name: `${row.name} [${values}; ${rules.join(', ')}]` };
    });
  });
}

/** The validation results as a table: per candidate, what each rule reads and which rule chose it. */
export function tuningTable(report: TuningReport): { columns: string[]; rows: (string | number)[][] } {
  const columns = ['Candidate', 'UA', 'RA', 'TA', 'Avg. Gap', '|FA - target|', 'RA drop', 'Chosen by'];
  const f = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '-');
  const rows = report.rows.flatMap((r) =>
    r.candidates.map((c) => [
      c.name,
      f(mean(c.perSeed.map((p) => p.scores.UA))),
      f(mean(c.perSeed.map((p) => p.scores.RA))),
      f(mean(c.perSeed.map((p) => p.scores.TA))),
      f(c.avgGap),
      f(c.targetDistance),
      f(c.retainDrop),
      SELECTION_RULES.filter((rule) => r.chosen[rule] === c.name).join(', '),
    ]),
  );
  return { columns, rows };
}

/** compare with a tuning block: the tuning on the validation forget sets (tuning.json, tuning.md),
 * then the experiment with the chosen rows. */
export async function runTunedCompare(
  config: CompareConfig,
  outDir: string,
  compute: ComputeSettings,
  reporter: Reporter = silentReporter,
  events: CompareEvents = {},
): Promise<CompareResult & { tuning?: TuningReport }> {
  const tuning = config.tuning;
  if (!tuning) return runCompare(config, outDir, compute, reporter, events);
  let report: TuningReport;
  {
    using _lock = lockOutputFolder(outDir, 'compare');
    report = await tune(config, tuning, outDir, compute, reporter);
    const table = tuningTable(report);
    const title = `${config.name}: tuning on the validation forget set (means over seeds ${tuningSeeds(config, tuning).join(',')}; no-retrain keeps RA drop <= ${tuning.maxRetainDrop})`;
    await writeJsonAtomic(join(outDir, 'tuning.json'), report);
    await writeFileAtomic(join(outDir, 'tuning.md'), `# ${title}\n\n${toMarkdown(table.columns, table.rows)}\n`);
    reporter.log(`${title}\n${renderTable(table.columns, table.rows)}`);
    await specificityMasks(config, tuning, tunedRows(config, tuning, report), outDir, compute, reporter);
  }
  const result = await runCompare(
    { ...config, methods: tunedRows(config, tuning, report) },
    outDir,
    compute,
    reporter,
    events,
  );
  return { ...result, tuning: report };
}
