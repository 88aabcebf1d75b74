// Forget sets over an experiment's data (docs/method.md 2): forget, retain, and the test indices that
// TA uses (class-wise forgetting removes the forgotten class from the test set).
import { createHash } from 'node:crypto';
import { parseForgetSpec, readIndexFile, resolveForgetSet, testIndicesFor } from '../data/splits.js';
import type { ExperimentData } from './data.js';
import type { ForgetView } from './evaluate.js';

export interface ForgetSelection extends ForgetView {
  spec: string;
  seed: number;
  forgetClass: number | null;
}

export const DEFAULT_FORGET_SEED = 1;

export function selectForget(data: ExperimentData, spec: string, seed = DEFAULT_FORGET_SEED): ForgetSelection {
  const split = resolveForgetSet(spec, {
    labels: data.loaded.train.labels,
    pool: data.pool,
    val: data.val,
    classes: data.loaded.classes,
    seed,
  });
  return {
    spec,
    seed,
    forget: split.forget,
    retain: split.retain,
    forgetClass: split.forgetClass,
    testIndices: testIndicesFor(data.loaded.test.labels, split.forgetClass),
  };
}

/** What a cache key holds of a forget spec: the spec itself, or for file:PATH a digest of the
 * indices the file lists. So one list under two spellings of its path (runs/x, /abs/runs/x) shares
 * cached work, and a file edited in place does not reuse what its old list computed. */
export function forgetKeyOf(spec: string): string {
  const parsed = parseForgetSpec(spec);
  if (parsed.kind !== 'file') return spec;
  const indices = readIndexFile(parsed.path).sort((a, b) => a - b);
  return `file-indices:${createHash('sha256').update(JSON.stringify(indices)).digest('hex').slice(0, 16)}`;
}
