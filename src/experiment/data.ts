// The data of an experiment: a dataset loaded once, its validation hold-out, and both sets
// uploaded to the backend.
import { type LoadedDataset, loadDataset, type SyntheticOptions } from '../data/dataset.js';
import { splitValidation } from '../data/splits.js';
import { disposeOnError } from '../native/dispose.js';
import { type DeviceName, loadAddon, type NativeDataset } from '../native/index.js';

export interface DataSpec {
  dataset: string;
  dataDir?: string;
  valFraction: number;
  splitSeed: number;
  synthetic?: SyntheticOptions;
  /** Use only the first N images of the official training set (a quick subset). */
  trainLimit?: number;
  testLimit?: number;
}

/** Disposing it frees both uploaded sets (`using data = await prepareData(...)`). */
export interface ExperimentData extends Disposable {
  spec: DataSpec;
  loaded: LoadedDataset;
  pool: Int32Array; // training pool: official train minus the validation hold-out
  val: Int32Array;
  test: Int32Array; // all test indices
  train: NativeDataset; // official train set on the device
  testSet: NativeDataset;
}

function limit<
  T extends { images: Uint8Array; labels: Int32Array; n: number; channels: number; height: number; width: number },
>(set: T, n?: number): T {
  if (n === undefined || n >= set.n) return set;
  const per = set.channels * set.height * set.width;
  return { ...set, n, images: set.images.subarray(0, n * per), labels: set.labels.subarray(0, n) };
}

export async function prepareData(spec: DataSpec, device: DeviceName): Promise<ExperimentData> {
  const full = await loadDataset(spec.dataset, { dataDir: spec.dataDir, synthetic: spec.synthetic });
  const loaded = { ...full, train: limit(full.train, spec.trainLimit), test: limit(full.test, spec.testLimit) };
  const { pool, val } = splitValidation(loaded.train.labels, loaded.classes, spec.valFraction, spec.splitSeed);
  const { Dataset } = loadAddon();
  const upload = (set: LoadedDataset['train']) =>
    new Dataset(
      device,
      set.images,
      set.labels,
      { n: set.n, c: set.channels, h: set.height, w: set.width },
      loaded.mean,
      loaded.std,
    );
  const train = upload(loaded.train);
  const testSet = disposeOnError(train, () => upload(loaded.test));
  return {
    spec,
    loaded,
    pool,
    val,
    test: Int32Array.from({ length: loaded.test.n }, (_, i) => i),
    train,
    testSet,
    [Symbol.dispose]() {
      train.dispose();
      testSet.dispose();
    },
  };
}

/** Labels of the given training indices. */
export function labelsOf(data: ExperimentData, indices: Int32Array, set: 'train' | 'test' = 'train'): Int32Array {
  const labels = set === 'train' ? data.loaded.train.labels : data.loaded.test.labels;
  return indices.map((i) => labels[i]);
}
