// What `insalun report` reads: an output folder turned into one layout-independent ReportData.
// Each folder layout (today only `compare`'s) is a ReportLayout that says whether a folder is its
// kind and reads it; a sweep's folder would be one more entry in LAYOUTS.
import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { readSafetensors } from '../io/safetensors.js';
import { jaccard } from '../masks/specificity.js';

/** One row's scores for one seed. */
export interface SeedScores {
  method: string; // the row's name in the table
  seed: number;
  UA: number;
  RA: number;
  TA: number;
  MIA: number;
  avgGap: number | null;
}

export interface RelearnPoint {
  method: string;
  seed: number;
  step: number; // 0: before the first relearning step
  forgetAccuracy: number;
}

export interface MaskDensityPoint {
  mask: string; // e.g. "grad 0.5"
  maskMethod: 'grad' | 'ig' | string;
  seed: number;
  layer: string;
  order: number; // the layer's position in the model
  density: number;
}

export interface CompletenessPoint {
  mask: string;
  seed: number;
  sumIg: number;
  lossDifference: number;
  relativeGap: number;
}

/** A layer type's share of the parameters, of a mask's saliency or of its ones (docs/method.md 4d). */
export interface LayerTypePoint {
  mask: string;
  seed: number;
  type: string; // convolution | batchnorm | linear
  quantity: 'parameters' | 'saliency' | 'mask';
  share: number;
}

/** The Jaccard overlap of a mask with the mask of the same options on another forget set. */
export interface JaccardPoint {
  mask: string;
  seed: number;
  jaccard: number;
  against: string; // which other forget set: the tuning's validation set, or the mask's second set
}

export interface TrainingPoint {
  model: string; // "original"
  seed: number;
  epoch: number;
  loss: number;
  trainAccuracy: number;
  valAccuracy: number | null;
}

/** One privacy score of a method's population (docs/privacy.md) with its bootstrap interval. */
export interface PrivacyPoint {
  method: string;
  metric: PrivacyMetric;
  value: number;
  low: number;
  high: number;
}

export const PRIVACY_METRICS = ['F', 'score', 'uliraAccuracy', 'tprAt1', 'tprAt01'] as const;
export type PrivacyMetric = (typeof PRIVACY_METRICS)[number];

export interface ReportData {
  layout: string; // which reader read it
  dir: string;
  title: string;
  columns: string[];
  rows: (string | number)[][];
  seeds: number[];
  methods: string[]; // the table's order
  scores: SeedScores[];
  /** null with the reason when the folder has no relearning curves. */
  relearn: { points: RelearnPoint[] } | { missing: string };
  masks: MaskDensityPoint[];
  completeness: CompletenessPoint[];
  layerTypes: LayerTypePoint[];
  jaccard: JaccardPoint[];
  training: TrainingPoint[];
  /** Privacy-evaluation results (a compare run with a privacy block); absent: the section is left out. */
  privacy?: PrivacyPoint[];
}

export class ReportInputError extends Error {}

export interface ReportLayout {
  name: string;
  /** Whether `dir` is a folder of this layout (cheap: file names, not contents). */
  matches(dir: string): Promise<boolean>;
  read(dir: string): Promise<ReportData>;
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function readJson(path: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (error) {
    throw new ReportInputError(`${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new ReportInputError(`${path}: not JSON: ${(error as Error).message}`);
  }
}

async function readJsonIfAny(path: string): Promise<Record<string, unknown> | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8'));
  } catch {
    return null;
  }
}

const isRecord = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** The privacy object of compare's results.json as points, or undefined without one. */
function privacyPoints(results: Record<string, unknown>, path: string): PrivacyPoint[] | undefined {
  const privacy = results.privacy;
  if (privacy === undefined) return undefined;
  if (!isRecord(privacy) || !Array.isArray(privacy.rows)) throw new ReportInputError(`${path}: privacy has no rows`);
  const points: PrivacyPoint[] = [];
  for (const row of privacy.rows as unknown[]) {
    const scores = isRecord(row) && isRecord(row.scores) ? row.scores : null;
    const intervals = scores && isRecord(scores.intervals) ? scores.intervals : null;
    if (!isRecord(row) || !scores || !intervals) throw new ReportInputError(`${path}: a privacy row without scores`);
    for (const metric of PRIVACY_METRICS) {
      const value = num(scores[metric]);
      const interval = intervals[metric];
      if (value === null || !Array.isArray(interval)) continue;
      points.push({ method: String(row.name), metric, value, low: Number(interval[0]), high: Number(interval[1]) });
    }
  }
  return points;
}

interface RawRecord {
  method: string;
  seed: number;
  mask: { file: string } | null;
  scores: { UA: number; RA: number; TA: number; MIA: number };
  avgGap: number | null;
  relearn: { forgetAccuracy: number[] } | null;
}

/** `compare`'s folder: results.json (config, columns, rows, raw records per row and seed), and per
 * seed seed-N/original/summary.json and seed-N/masks-KEY/mask_METHOD.json. */
export const compareLayout: ReportLayout = {
  name: 'compare',
  matches: (dir) => exists(join(dir, 'results.json')),
  async read(dir) {
    const path = join(dir, 'results.json');
    const results = await readJson(path);
    if (
      !isRecord(results) ||
      !Array.isArray(results.columns) ||
      !Array.isArray(results.rows) ||
      !Array.isArray(results.raw)
    )
      throw new ReportInputError(`${path}: not compare's results (columns, rows and raw expected)`);
    const config = isRecord(results.config) ? results.config : {};
    const raw = results.raw as { name: string; records: RawRecord[] }[];
    const methods = raw.map((r) => String(r.name));
    const seeds = [...new Set(raw.flatMap((r) => r.records.map((x) => x.seed)))].sort((a, b) => a - b);
    if (!raw.length || !seeds.length) throw new ReportInputError(`${path}: holds no records`);

    const scores: SeedScores[] = [];
    const relearn: RelearnPoint[] = [];
    const maskFiles = new Map<string, { seed: number; path: string }>(); // mask JSON path -> seed
    for (const row of raw) {
      for (const r of row.records) {
        if (!isRecord(r.scores)) throw new ReportInputError(`${path}: ${row.name}, seed ${r.seed}: no scores`);
        scores.push({ method: row.name, seed: r.seed, ...r.scores, avgGap: num(r.avgGap) });
        r.relearn?.forgetAccuracy.forEach((a, step) => {
          relearn.push({ method: row.name, seed: r.seed, step, forgetAccuracy: a });
        });
        if (r.mask?.file) {
          // The record names the mask where it was written; the folder may have moved since.
          const maskDir = basename(dirname(r.mask.file));
          const method = /^mask_(.+)_[^_]+\.safetensors$/.exec(basename(r.mask.file))?.[1];
          if (method) {
            const json = join(dir, `seed-${r.seed}`, maskDir, `mask_${method}.json`);
            maskFiles.set(json, { seed: r.seed, path: json });
          }
        }
      }
    }

    const masks: MaskDensityPoint[] = [];
    const completeness: CompletenessPoint[] = [];
    const layerTypes: LayerTypePoint[] = [];
    const jaccardPoints: JaccardPoint[] = [];
    for (const { seed, path: maskPath } of maskFiles.values()) {
      const summary = await readJsonIfAny(maskPath);
      if (!summary || !Array.isArray(summary.masks)) continue;
      const maskMethod = String(summary.method);
      for (const m of summary.masks as MaskEntry[]) {
        const mask = maskLabel(summary, m.ratio);
        m.density?.forEach((d, order) => {
          masks.push({ mask, maskMethod, seed, layer: d.name, order, density: d.density });
        });
        layerTypes.push(...layerTypePoints(summary, m, mask, seed));
        jaccardPoints.push(...(await jaccardOf(summary, m, mask, seed, maskPath)));
        const c = summary.completeness;
        if (isRecord(c) && num(c.sumIg) !== null)
          completeness.push({
            mask,
            seed,
            sumIg: c.sumIg as number,
            lossDifference: c.lossDifference as number,
            relativeGap: c.relativeGap as number,
          });
      }
    }

    const training: TrainingPoint[] = [];
    for (const seed of seeds) {
      const summary = await readJsonIfAny(join(dir, `seed-${seed}`, 'original', 'summary.json'));
      if (!summary || !Array.isArray(summary.history)) continue;
      for (const h of summary.history as Record<string, unknown>[]) {
        const epoch = num(h.epoch);
        const loss = num(h.loss);
        const trainAccuracy = num(h.trainAccuracy);
        if (epoch === null || loss === null || trainAccuracy === null) continue;
        training.push({ model: 'original', seed, epoch, loss, trainAccuracy, valAccuracy: num(h.valAccuracy) });
      }
    }

    const privacy = privacyPoints(results, path);
    const relearnConfigured = isRecord(config.relearn);
    return {
      layout: 'compare',
      dir,
      title: `${config.name ?? 'compare'}: ${config.dataset ?? '?'}, forget ${config.forget ?? '?'}, width ${config.width ?? '?'}, seeds ${seeds.join(',')}`,
      columns: (results.columns as unknown[]).map(String),
      rows: results.rows as (string | number)[][],
      seeds,
      methods,
      scores,
      relearn: relearn.length
        ? { points: relearn }
        : {
            missing: relearnConfigured
              ? 'the config asks for a relearning attack, but no record holds its curve'
              : 'the config has no "relearn" section, so compare ran no relearning attack (see docs/configs.md)',
          },
      masks,
      completeness,
      layerTypes,
      jaccard: jaccardPoints,
      training,
      ...(privacy ? { privacy } : {}),
    };
  },
};

interface MaskEntry {
  ratio: number;
  file?: string;
  density?: { name: string; density: number }[];
  layerTypes?: { type: string; parameterShare: number; maskShare: number }[];
}

/** A mask's name in the charts: its method, IG target and baseline when not the defaults, ratio. */
function maskLabel(summary: Record<string, unknown>, ratio: number): string {
  const options = isRecord(summary.options) ? summary.options : {};
  const parts = [String(summary.method)];
  if (summary.method === 'ig') {
    if (typeof options.target === 'string' && options.target !== 'forget') parts.push(options.target);
    if (typeof options.baseline === 'string' && options.baseline !== 'zero') parts.push(options.baseline);
  }
  return `${parts.join(' ')} ${ratio}`;
}

function layerTypePoints(summary: Record<string, unknown>, m: MaskEntry, mask: string, seed: number): LayerTypePoint[] {
  if (!Array.isArray(m.layerTypes)) return []; // masks written before the shares were
  const saliency = Array.isArray(summary.saliencyShare)
    ? (summary.saliencyShare as { type: string; share: number }[])
    : [];
  return [
    ...m.layerTypes.map((t) => ({
      mask,
      seed,
      type: t.type,
      quantity: 'parameters' as const,
      share: t.parameterShare,
    })),
    ...saliency.map((t) => ({ mask, seed, type: t.type, quantity: 'saliency' as const, share: t.share })),
    ...m.layerTypes.map((t) => ({ mask, seed, type: t.type, quantity: 'mask' as const, share: t.maskShare })),
  ];
}

/** The mask's Jaccard overlap with its second forget set's (written by insalun mask), and with the
 * same mask on the tuning's validation forget set (seed-N/validation/ holds a mask folder of the same
 * name when the row was tuned): both sets come from the same original model. */
async function jaccardOf(
  summary: Record<string, unknown>,
  m: MaskEntry,
  mask: string,
  seed: number,
  maskPath: string,
): Promise<JaccardPoint[]> {
  const out: JaccardPoint[] = [];
  const specificity = isRecord(summary.specificity) ? summary.specificity : null;
  const second = Array.isArray(specificity?.jaccard)
    ? (specificity.jaccard as { ratio: number; jaccard: number }[]).find((j) => j.ratio === m.ratio)
    : undefined;
  if (second) out.push({ mask, seed, jaccard: second.jaccard, against: 'second forget set' });
  if (typeof m.file === 'string') {
    const maskDir = dirname(maskPath);
    const validation = join(dirname(maskDir), 'validation', basename(maskDir), m.file);
    if (await exists(validation)) {
      const [a, b] = await Promise.all([flatMask(join(maskDir, m.file)), flatMask(validation)]);
      if (a && b && a.length === b.length)
        out.push({ mask, seed, jaccard: jaccard(a, b), against: 'validation forget set' });
    }
  }
  return out;
}

/** A mask file's values in file order, or null when it cannot be read. */
async function flatMask(path: string): Promise<Float32Array | null> {
  try {
    const content = await readSafetensors(path);
    const parts = content.order.map((name) => content.tensors.get(name)!.data);
    const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
    let offset = 0;
    for (const p of parts) for (let i = 0; i < p.length; i++) out[offset++] = Number(p[i]);
    return out;
  } catch {
    return null;
  }
}

export const LAYOUTS: ReportLayout[] = [compareLayout];

/** The folder read by the first layout it matches; a clear error when none does. */
export async function readReportFolder(dir: string): Promise<ReportData> {
  const info = await stat(dir).catch(() => null);
  if (!info) throw new ReportInputError(`${dir}: no such folder`);
  if (!info.isDirectory()) throw new ReportInputError(`${dir}: not a folder`);
  for (const layout of LAYOUTS) if (await layout.matches(dir)) return layout.read(dir);
  const entries = await readdir(dir);
  const hint = entries.some((e) => /^seed-\d+$/.test(e))
    ? ' (it has seed folders: the compare run has not finished; rerun it to write results.json)'
    : '';
  throw new ReportInputError(
    `${dir}: not a compare output folder: no results.json${hint}; known layouts: ${LAYOUTS.map((l) => l.name).join(', ')}`,
  );
}
