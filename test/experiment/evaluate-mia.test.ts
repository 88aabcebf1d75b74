import { describe, expect, it } from 'vitest';
import type { ExperimentData } from '../../src/experiment/data.js';
import { unlearningScores } from '../../src/experiment/evaluate.js';
import type { NativeDataset, NativeModel } from '../../src/native/types.js';

const CLASSES = 10;

/** A model that gives each sample a fixed true-class probability, looked up by set and index. */
function fakeModel(train: NativeDataset, trainConfidence: number[], testConfidence: number[]): NativeModel {
  const predict = async (set: NativeDataset, indices: Int32Array) => {
    const logits = new Float32Array(indices.length * CLASSES);
    indices.forEach((index, row) => {
      const p = (set === train ? trainConfidence : testConfidence)[index]!;
      const rest = (1 - p) / (CLASSES - 1);
      logits.set([p, ...Array<number>(CLASSES - 1).fill(rest)].map(Math.log), row * CLASSES);
    });
    return logits;
  };
  return { predict } as unknown as NativeModel;
}

/** `count` confidences running evenly from `lo` to `hi`. */
const spread = (count: number, lo: number, hi: number) =>
  Array.from({ length: count }, (_, i) => lo + ((hi - lo) * i) / (count - 1));

describe('unlearningScores MIA-efficacy', () => {
  it('balances members and non-members when the retain set is smaller than the test set', async () => {
    // As in a Fashion-MNIST subset pilot: 90 retain samples, all fitted; 200 test samples, 70% of
    // them as confident as the training samples. The forget samples were trained on, like the
    // retain set, so an informative attack calls few of them non-members.
    const retainConfidence = spread(90, 0.95, 0.999);
    const forgetConfidence = spread(10, 0.95, 0.999);
    const high = spread(140, 0.95, 0.999);
    const low = spread(60, 0.05, 0.6);
    const testConfidence = Array.from({ length: 200 }, (_, i) => (i % 10 < 3 ? low.pop()! : high.pop()!));
    const train = {} as NativeDataset;
    const data = {
      loaded: {
        classes: CLASSES,
        train: { labels: new Int32Array(100) },
        test: { labels: new Int32Array(200) },
      },
      train,
      testSet: {} as NativeDataset,
    } as unknown as ExperimentData;
    const view = {
      retain: Int32Array.from({ length: 90 }, (_, i) => i + 10),
      forget: Int32Array.from({ length: 10 }, (_, i) => i),
      testIndices: Int32Array.from({ length: 200 }, (_, i) => i),
    };
    const model = fakeModel(train, [...forgetConfidence, ...retainConfidence], testConfidence);
    const scores = await unlearningScores(model, data, view);
    // With all 200 test samples against 90 members, the SVM called every forget sample a
    // non-member (MIA 100); with 90 against 90 it calls them members.
    expect(scores.MIA).toBeLessThan(50);
    // TA still counts the whole test set: all 140 confident samples and 54 of the 60 others.
    expect(scores.TA).toBe(97);
  });
});
