// Evaluation: accuracies of a model on index sets, and the unlearning metrics of docs/method.md 6.
import { accuracy } from '../metrics/accuracy.js';
import { type MiaKind, miaAll, miaEfficacy, shadowSets } from '../metrics/mia.js';
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
  // Equal-sized shadow sets: retain samples as members, test samples as non-members.
  const { members, nonMembers } = shadowSets(view.retain, view.testIndices);
  const shadowTrain = await logitsOf(members, 'train');
  const shadowTest = nonMembers === view.testIndices ? test : await logitsOf(nonMembers, 'test');
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
