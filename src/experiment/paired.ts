// Paired comparison of rows over seeds (docs/results.md): for each seed, a row's Avg. Gap minus the
// reference row's (both ran on that seed's original and forget set); the mean difference with a 95%
// bootstrap interval over the seeds and an exact two-sided sign test. Negative: the row is closer to
// Retrain than the reference.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { bootstrapInterval, type Interval } from '../privacy/bootstrap.js';

export interface PairedRecord {
  seed: number;
  avgGap: number | null;
}

export interface PairedRow {
  name: string;
  records: PairedRecord[];
}

export interface PairedComparison {
  row: string;
  reference: string;
  seeds: number[]; // those both rows have a finite Avg. Gap for
  differences: number[]; // row minus reference, per seed
  mean: number;
  interval: Interval; // 95% percentile bootstrap over the seeds
  sign: { below: number; above: number; ties: number; p: number }; // below: row's gap < reference's
}

/** Two-sided exact sign test: P(a result as unbalanced as `k` of `n` under Binomial(n, 1/2)). */
export function signTestP(below: number, above: number): number {
  const n = below + above;
  if (n === 0) return 1;
  const k = Math.min(below, above);
  let tail = 0;
  let term = 0.5 ** n; // C(n, 0) / 2^n
  for (let i = 0; i <= k; i++) {
    tail += term;
    term = (term * (n - i)) / (i + 1);
  }
  return Math.min(1, 2 * tail);
}

/** The tag that names the selection rule of a tuned row (`SalUn [lr 0.01; gap]` -> `gap`), or ''. */
function ruleOf(name: string): string {
  return /;\s*([^\]]+)\]\s*$/.exec(name)?.[1].trim() ?? '';
}

/** Each row matching `rows` against the reference row: the row named `reference`, or for tuned rows
 * (`reference [values; rules]`) the reference row chosen by the same rules. */
export function pairedComparisons(
  raw: PairedRow[],
  o: { reference: string; rows: RegExp; resamples?: number; seed?: number },
): PairedComparison[] {
  const references = raw.filter((r) => r.name === o.reference || r.name.startsWith(`${o.reference} [`));
  if (!references.length) throw new Error(`no row named ${o.reference} (rows: ${raw.map((r) => r.name).join(', ')})`);
  const out: PairedComparison[] = [];
  for (const row of raw) {
    if (references.includes(row) || !o.rows.test(row.name)) continue;
    const reference = references.find((r) => ruleOf(r.name) === ruleOf(row.name)) ?? references[0];
    const gapOf = (r: PairedRow) =>
      new Map(r.records.filter((x) => typeof x.avgGap === 'number').map((x) => [x.seed, x.avgGap as number]));
    const [mine, theirs] = [gapOf(row), gapOf(reference)];
    const seeds = [...mine.keys()].filter((s) => theirs.has(s)).sort((a, b) => a - b);
    if (!seeds.length) continue;
    const differences = seeds.map((s) => mine.get(s)! - theirs.get(s)!);
    const meanOf = (picks: ArrayLike<number>) => {
      let sum = 0;
      for (let i = 0; i < picks.length; i++) sum += differences[picks[i]];
      return sum / picks.length;
    };
    const below = differences.filter((d) => d < 0).length;
    const above = differences.filter((d) => d > 0).length;
    out.push({
      row: row.name,
      reference: reference.name,
      seeds,
      differences,
      mean: meanOf(differences.map((_, i) => i)),
      interval: bootstrapInterval(differences.length, meanOf, o.resamples ?? 10000, o.seed ?? 0),
      sign: { below, above, ties: differences.length - below - above, p: signTestP(below, above) },
    });
  }
  return out;
}

/** The rows of a compare output folder (results.json). */
export async function readCompareRows(dir: string): Promise<PairedRow[]> {
  const path = join(dir, 'results.json');
  let parsed: { raw?: PairedRow[] };
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new Error(
      `${path}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file (is it a compare output folder?)' : (error as Error).message}`,
    );
  }
  if (!Array.isArray(parsed.raw)) throw new Error(`${path}: no per-seed records (raw)`);
  return parsed.raw;
}

/** As a Markdown table. */
export function pairedTable(comparisons: PairedComparison[]): { columns: string[]; rows: string[][] } {
  const columns = [
    'Row',
    'Reference',
    'Seeds',
    'Mean diff. Avg. Gap',
    '95% bootstrap CI',
    'Sign (below/above/ties)',
    'Sign test p',
  ];
  const rows = comparisons.map((c) => [
    c.row,
    c.reference,
    String(c.seeds.length),
    c.mean.toFixed(2),
    `[${c.interval[0].toFixed(2)}, ${c.interval[1].toFixed(2)}]`,
    `${c.sign.below}/${c.sign.above}/${c.sign.ties}`,
    c.sign.p.toFixed(3),
  ]);
  return { columns, rows };
}
