// Forget sets over an experiment's data (docs/method.md 2): forget, retain, and the test indices that
// TA uses (class-wise forgetting removes the forgotten class from the test set).
import { resolveForgetSet, testIndicesFor } from '../data/splits.js';
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
