// Evaluation: accuracies of a model on index sets, and the unlearning metrics of docs/method.md 6.
import { accuracy } from '../metrics/accuracy.js';
import { type LogitSet, type MiaKind, miaAll, miaEfficacy, shadowSets } from '../metrics/mia.js';
import type { NativeDataset, NativeModel } from '../native/index.js';
import { type ExperimentData, labelsOf } from './data.js';

export const EVAL_BATCH = 256;

export async function accuracyOn(
  model: NativeModel,
  data: ExperimentData,
  indices: Int32Array,
  set: 'train' | 'test' = 'train',
): Promise<number> {
  if (indices.length === 0) return NaN;
  const dataset: NativeDataset = set === 'train' ? data.train : data.testSet;
  const logits = await model.predict(dataset, indices, EVAL_BATCH);
  return accuracy(logits, labelsOf(data, indices, set), data.loaded.classes);
}

export interface UnlearningScores {
  UA: number;
  RA: number;
  TA: number;
  MIA: number;
  /** MIA-efficacy with the other features (docs/method.md 6); present when all were asked for. */
  miaVariants?: Record<MiaKind, number>;
}

export interface ForgetView {
  forget: Int32Array;
  retain: Int32Array;
  testIndices: Int32Array; // class-wise forgetting removes the class
}

/** UA, RA, TA and MIA-efficacy (SalUn's confidence attack; all variants when `allMia`). */
/** The logits and labels of `subset`, whose indices all occur in `indices`, from `set` (the
 * logits and labels of `indices`, in that order). */
function rowsOf(set: LogitSet, indices: Int32Array, subset: Int32Array, classes: number): LogitSet {
  if (subset === indices) return set;
  const position = new Map<number, number>();
  indices.forEach((index, i) => {
    position.set(index, i);
  });
  const logits = new Float32Array(subset.length * classes);
  const labels = new Int32Array(subset.length);
  subset.forEach((index, k) => {
    const i = position.get(index);
    if (i === undefined) throw new Error(`shadow-set sample ${index} is not among the evaluated samples`);
    logits.set(set.logits.subarray(i * classes, (i + 1) * classes), k * classes);
    labels[k] = set.labels[i];
  });
  return { logits, labels };
}

export async function unlearningScores(
  model: NativeModel,
  data: ExperimentData,
  view: ForgetView,
  allMia = false,
): Promise<UnlearningScores> {
  const classes = data.loaded.classes;
  const logitsOf = async (indices: Int32Array, set: 'train' | 'test') => ({
    logits: await model.predict(set === 'train' ? data.train : data.testSet, indices, EVAL_BATCH),
    labels: labelsOf(data, indices, set),
  });
  const forget = await logitsOf(view.forget, 'train');
  const retain = await logitsOf(view.retain, 'train');
  const test = await logitsOf(view.testIndices, 'test');
  // Equal-sized shadow sets: retain samples as members, test samples as non-members. Both are
  // subsets of sets just evaluated, so their rows are taken from those logits (evaluating them
  // again was over a third of a row's evaluation when the retain set is the smaller).
  const { members, nonMembers } = shadowSets(view.retain, view.testIndices);
  const shadowTrain = rowsOf(retain, view.retain, members, classes);
  const shadowTest = rowsOf(test, view.testIndices, nonMembers, classes);
  const input = { shadowTrain, shadowTest, target: forget, classes };
  const scores: UnlearningScores = {
    UA: 100 - accuracy(forget.logits, forget.labels, classes),
    RA: accuracy(retain.logits, retain.labels, classes),
    TA: accuracy(test.logits, test.labels, classes),
    MIA: 0,
  };
  if (allMia) {
    scores.miaVariants = await miaAll(input);
    scores.MIA = scores.miaVariants.confidence;
  } else {
    scores.MIA = await miaEfficacy(input, 'confidence');
  }
  return scores;
}
