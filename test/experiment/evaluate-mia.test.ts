import { describe, expect, it } from 'vitest';
import type { ExperimentData } from '../../src/experiment/data.js';
import { unlearningScores } from '../../src/experiment/evaluate.js';
import { miaEfficacy } from '../../src/metrics/mia.js';
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

/** As in a Fashion-MNIST subset pilot: 90 retain samples, all fitted; 200 test samples, 70% of them
 * as confident as the training samples. The forget samples were trained on, like the retain set. */
function pilot() {
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
  return { data, view, model };
}

describe('unlearningScores MIA-efficacy', () => {
  it('balances members and non-members when the retain set is smaller than the test set', async () => {
    const { data, view, model } = pilot();
    const scores = await unlearningScores(model, data, view);
    // With all 200 test samples against 90 members, the SVM called every forget sample a
    // non-member (MIA 100); with 90 against 90 it calls them members.
    expect(scores.MIA).toBeLessThan(50);
    // TA still counts the whole test set: all 140 confident samples and 54 of the 60 others.
    expect(scores.TA).toBe(97);
  });

  it('takes the shadow sets from the logits already computed: the same MIA as predicting them again', async () => {
    const { data, view, model } = pilot();
    // Sets in a shuffled order: the shadow sets are the first samples in dataset order, wherever
    // they sit in the evaluated sets.
    const shuffled = (a: Int32Array) => Int32Array.from(a).reverse();
    const mixed = { ...view, retain: shuffled(view.retain), testIndices: shuffled(view.testIndices) };
    const calls: number[] = [];
    const counting = {
      predict: (set: NativeDataset, indices: Int32Array) => {
        calls.push(indices.length);
        return model.predict(set, indices, 0);
      },
    } as unknown as NativeModel;
    const scores = await unlearningScores(counting, data, mixed);
    expect(calls).toEqual([10, 90, 200]); // forget, retain, test: nothing evaluated twice
    const predicted = async (indices: Int32Array, set: NativeDataset) => ({
      logits: await model.predict(set, indices, 0),
      labels: new Int32Array(indices.length),
    });
    const first90 = Int32Array.from({ length: 90 }, (_, i) => i);
    const want = await miaEfficacy(
      {
        shadowTrain: await predicted(view.retain, data.train),
        shadowTest: await predicted(first90, data.testSet),
        target: await predicted(view.forget, data.train),
        classes: CLASSES,
      },
      'confidence',
    );
    expect(scores.MIA).toBe(want);
  });
});
