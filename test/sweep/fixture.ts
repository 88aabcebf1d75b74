// A small compare config for the sweep tests (synthetic data, width 4, one or two epochs), its
// serial table, and the comparison of two tables: every score bit for bit, and every column but the
// timings (RTE, Mask: seconds of wall time, which no two runs share). The CPU backend's results do
// not depend on its OpenMP thread count, so the serial compare runs at the default count and the
// workers at one thread each (on a one-core machine both run one thread).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect } from 'vitest';
import { cliEntry } from '../helpers/compiled.js';

const hyper = { epochs: 1, batchSize: 16, augment: false };

export function sweepConfig(originalEpochs = 2, seeds = [1, 2]) {
  return {
    name: 'sweep-test',
    synthetic: { trainSize: 48, testSize: 16, imageSize: 8, seed: 3 },
    width: 4,
    train: { epochs: originalEpochs, batchSize: 16, schedule: 'cosine', augment: false },
    forget: 'random:8',
    seeds,
    includeOriginal: true,
    methods: [
      { name: 'Retrain', method: 'retrain', hyper },
      { name: 'FT', method: 'ft', hyper },
      { name: 'SalUn', method: 'rl', hyper, mask: { method: 'grad', ratio: 0.5, batchSize: 16, augment: false } },
    ],
  };
}

/** The config written to a new folder: its file and the folder. */
export async function configFile(config: object): Promise<{ file: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'insalun-sweep-'));
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  return { file, dir };
}

/**
 * results.json of a serial compare of the config (the compiled CLI: buildDist first), at OpenMP's
 * default thread count: the sweeps it is compared with run one thread per worker, and the CPU
 * backend's results do not depend on the count.
 */
export async function serialResults(config: object): Promise<Results> {
  const { file, dir } = await configFile(config);
  const out = join(dir, 'serial');
  const { OMP_NUM_THREADS: _, ...env } = process.env;
  execFileSync(process.execPath, [cliEntry, 'compare', '--config', file, '--out', out, '--device', 'cpu'], {
    env,
    stdio: 'pipe',
  });
  return readResults(out);
}

export interface Results {
  columns: string[];
  rows: string[][];
  raw: { name: string; records: { seed: number; scores: unknown; avgGap: number | null }[] }[];
  key: string;
}

export const readResults = (dir: string): Results => JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8'));

/** The same table: scores and Avg. Gap of every record bit for bit, every column but the timings. */
export function expectSameTable(actual: Results, expected: Results): void {
  const timing = ['RTE (s)', 'Mask (s)'].map((c) => expected.columns.indexOf(c));
  const untimed = (r: Results) => r.rows.map((row) => row.filter((_, i) => !timing.includes(i)));
  const scores = (r: Results) =>
    r.raw.map((row) => ({
      name: row.name,
      records: row.records.map(({ seed, scores, avgGap }) => ({ seed, scores, avgGap })),
    }));
  expect(actual.columns).toEqual(expected.columns);
  expect(untimed(actual)).toEqual(untimed(expected));
  expect(scores(actual)).toEqual(scores(expected));
  expect(actual.key).toBe(expected.key);
}
