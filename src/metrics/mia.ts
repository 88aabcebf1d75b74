// MIA-efficacy as SalUn measures it (docs/method.md section 6): an SVM learns to tell training members
// (shadow train, retain samples) from non-members (shadow test, the test set) by a per-sample
// feature of the model's output; MIA-efficacy is the share of forget samples it calls non-members.

import { confidence, correctness, entropy, type Labels, modifiedEntropy, softmax } from './accuracy.js';
import { fitPredictRbfSvc } from './svm.js';

export interface LogitSet {
  logits: Float32Array; // [n, classes]
  labels: Labels;
}

export interface MiaInput {
  shadowTrain: LogitSet;
  shadowTest: LogitSet;
  target: LogitSet;
  classes: number;
}

export type MiaKind = 'confidence' | 'entropy' | 'modified-entropy' | 'correctness' | 'probabilities';

export const MIA_KINDS: readonly MiaKind[] = [
  'confidence',
  'entropy',
  'modified-entropy',
  'correctness',
  'probabilities',
];

// SalUn's SVC(C=3, gamma="auto", kernel="rbf").
const SVM_COST = 3;

/** One feature vector per sample: a single number, or the whole probability vector. */
function features({ logits, labels }: LogitSet, classes: number, kind: MiaKind): number[][] {
  const single = (values: Float64Array) => Array.from(values, (v) => [v]);
  switch (kind) {
    case 'confidence':
      return single(confidence(logits, labels, classes));
    case 'entropy':
      return single(entropy(logits, classes));
    case 'modified-entropy':
      return single(modifiedEntropy(logits, labels, classes));
    case 'correctness':
      return single(correctness(logits, labels, classes));
    case 'probabilities': {
      const probs = softmax(logits, classes);
      return Array.from({ length: probs.length / classes }, (_, i) =>
        Array.from(probs.subarray(i * classes, (i + 1) * classes)),
      );
    }
  }
}

/** Percentage of target samples that the attack classifies as non-members. */
export async function miaEfficacy(input: MiaInput, kind: MiaKind = 'confidence'): Promise<number> {
  const members = features(input.shadowTrain, input.classes, kind);
  const nonMembers = features(input.shadowTest, input.classes, kind);
  const targets = features(input.target, input.classes, kind);
  if (members.length === 0 || nonMembers.length === 0 || targets.length === 0) {
    throw new RangeError('MIA needs non-empty shadow train, shadow test and target sets');
  }
  // Members first, as SalUn concatenates them; libsvm's result can depend on sample order.
  const predicted = await fitPredictRbfSvc(
    [...members, ...nonMembers],
    [...members.map(() => 1), ...nonMembers.map(() => 0)],
    targets,
    { cost: SVM_COST, gamma: 1 / members[0]!.length }, // gamma "auto" = 1 / n_features, no scaling
  );
  return (100 * predicted.filter((label) => label === 0).length) / predicted.length;
}

/** MIA-efficacy for every feature kind. */
export async function miaAll(input: MiaInput): Promise<Record<MiaKind, number>> {
  const result = {} as Record<MiaKind, number>;
  for (const kind of MIA_KINDS) result[kind] = await miaEfficacy(input, kind);
  return result;
}

/**
 * SalUn's shadow sets: members are the first |test| retain samples in dataset order, non-members the
 * test set, so both classes have the same size. Where the retain set is the smaller one (subsets of
 * a data set), the non-members are the first |retain| test samples instead: with more non-members
 * than members, an RBF SVM on overlapping confidences calls everything a non-member (MIA-efficacy
 * 100 for every model, the original included).
 */
export function shadowSets(retain: Int32Array, test: Int32Array): { members: Int32Array; nonMembers: Int32Array } {
  if (retain.length >= test.length) return { members: firstInDatasetOrder(retain, test.length), nonMembers: test };
  return { members: firstInDatasetOrder(retain, retain.length), nonMembers: firstInDatasetOrder(test, retain.length) };
}

/** The first `count` indices in dataset order (sorting a copy, whatever order the caller keeps). */
function firstInDatasetOrder(indices: Int32Array, count: number): Int32Array {
  return Int32Array.from(indices).sort().slice(0, count);
}
