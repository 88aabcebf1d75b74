// One entry point for every data set the product knows: loadDataset(name, options).

import { join } from 'node:path';
import { loadCifar10, loadCifar100 } from './cifar.js';
import { defaultDataDir } from './data-dir.js';
import { DataError } from './errors.js';
import { fileExists } from './files.js';
import { DEBIAN_FASHION_MNIST_DIR, IDX_FILES, loadIdxDataset } from './idx.js';
import type { ImageSet } from './image-set.js';
import { loadSvhn } from './svhn.js';
import { generateSynthetic, type SyntheticOptions } from './synthetic.js';
import { loadTinyImageNet } from './tiny-imagenet.js';

export { DataError } from './errors.js';
export type { ImageSet } from './image-set.js';
export type { SyntheticOptions } from './synthetic.js';

export const DATASET_NAMES = [
  'synthetic',
  'cifar10',
  'cifar100',
  'mnist',
  'fashion-mnist',
  'svhn',
  'tiny-imagenet',
] as const;
export type DatasetName = (typeof DATASET_NAMES)[number];

export interface LoadedDataset {
  name: DatasetName;
  classes: number;
  train: ImageSet;
  test: ImageSet;
  mean: number[]; // per channel, for x in [0, 1]
  std: number[];
  source: string; // where it came from, for summaries
}

export interface LoadOptions {
  dataDir?: string;
  synthetic?: SyntheticOptions;
}

/**
 * The published normalization constants (x in [0, 1]); synthetic data computes its own. SVHN and
 * Tiny-ImageNet use SalUn's (its utils.py; SVHN's std there is smaller than the per-pixel std of
 * the training set, about 0.198, 0.201, 0.197, but kept as SalUn trains with it).
 */
const NORMALIZATION: Record<Exclude<DatasetName, 'synthetic'>, { mean: number[]; std: number[] }> = {
  cifar10: { mean: [0.4914, 0.4822, 0.4465], std: [0.247, 0.2435, 0.2616] },
  cifar100: { mean: [0.5071, 0.4866, 0.4409], std: [0.2673, 0.2564, 0.2762] },
  mnist: { mean: [0.1307], std: [0.3081] },
  'fashion-mnist': { mean: [0.286], std: [0.353] },
  svhn: { mean: [0.4377, 0.4438, 0.4728], std: [0.1201, 0.1231, 0.1052] },
  'tiny-imagenet': { mean: [0.4802, 0.4481, 0.3975], std: [0.2302, 0.2265, 0.2262] },
};

export function isDatasetName(name: string): name is DatasetName {
  return (DATASET_NAMES as readonly string[]).includes(name);
}

export async function loadDataset(name: string, opts: LoadOptions = {}): Promise<LoadedDataset> {
  if (!isDatasetName(name)) {
    throw new DataError(`unknown dataset '${name}'; valid names: ${DATASET_NAMES.join(', ')}`);
  }
  if (name === 'synthetic') return loadSynthetic(opts.synthetic ?? {});

  const dir = opts.dataDir ?? (await defaultDirFor(name));
  // What every loader gives (classes, train, test), with the data set's normalization and a note on
  // where it came from.
  const loaded = (data: { classes: number; train: ImageSet; test: ImageSet }, source: string): LoadedDataset => ({
    name,
    classes: data.classes,
    train: data.train,
    test: data.test,
    ...NORMALIZATION[name],
    source,
  });
  switch (name) {
    case 'cifar10':
    case 'cifar100': {
      const data = name === 'cifar10' ? await loadCifar10(dir) : await loadCifar100(dir);
      return loaded(data, `${name} binary files in ${data.dir}`);
    }
    case 'mnist':
    case 'fashion-mnist': {
      const title = name === 'mnist' ? 'MNIST' : 'Fashion-MNIST';
      const subfolders = name === 'mnist' ? ['mnist', 'MNIST/raw'] : ['fashion-mnist', 'FashionMNIST/raw'];
      const data = await loadIdxDataset(dir, title, subfolders);
      return loaded(data, `${name} IDX files in ${data.dir}`);
    }
    case 'svhn': {
      const data = await loadSvhn(dir);
      return loaded(data, `svhn .mat files in ${data.dir}`);
    }
    case 'tiny-imagenet': {
      const data = await loadTinyImageNet(dir);
      const cache = {
        read: 'decoded cache read',
        written: 'decoded cache written',
        unwritable: 'folder not writable, no cache',
      };
      return loaded(data, `tiny-imagenet JPEG folder ${data.dir} (${cache[data.cache]})`);
    }
  }
}

/**
 * No data directory given: the default data folder (defaultDataDir: $INSALUN_DATA_DIR, else the
 * cache folder `insalun data download` fills). Fashion-MNIST falls back to Debian's
 * dataset-fashion-mnist folder when the default folder lacks it and Debian's is there.
 */
async function defaultDirFor(name: DatasetName): Promise<string> {
  const dir = defaultDataDir();
  if (name !== 'fashion-mnist') return dir;
  for (const sub of ['', 'fashion-mnist', 'FashionMNIST/raw']) {
    for (const file of [IDX_FILES.testLabels, `${IDX_FILES.testLabels}.gz`]) {
      if (await fileExists(join(dir, sub, file))) return dir;
    }
  }
  return (await fileExists(DEBIAN_FASHION_MNIST_DIR)) ? DEBIAN_FASHION_MNIST_DIR : dir;
}

function loadSynthetic(options: SyntheticOptions): LoadedDataset {
  const data = generateSynthetic(options);
  const o = data.options;
  const { mean, std } = channelStats(data.train);
  return {
    name: 'synthetic',
    classes: data.classes,
    train: data.train,
    test: data.test,
    mean,
    std,
    source:
      `built-in synthetic (seed ${o.seed}, ${o.trainSize} train / ${o.testSize} test, ` +
      `${o.classes} classes, ${o.channels}x${o.imageSize}x${o.imageSize})`,
  };
}

/** Per-channel mean and (population) standard deviation of x = pixel / 255, via byte histograms. */
export function channelStats(set: ImageSet): { mean: number[]; std: number[] } {
  const plane = set.height * set.width;
  const mean: number[] = [];
  const std: number[] = [];
  for (let c = 0; c < set.channels; c++) {
    const histogram = new Float64Array(256);
    for (let i = 0; i < set.n; i++) {
      const start = (i * set.channels + c) * plane;
      for (let p = start; p < start + plane; p++) histogram[set.images[p]]++;
    }
    let count = 0;
    let sum = 0;
    for (let v = 0; v < 256; v++) {
      count += histogram[v];
      sum += histogram[v] * v;
    }
    const m = sum / count;
    let squares = 0;
    for (let v = 0; v < 256; v++) squares += histogram[v] * (v - m) * (v - m);
    mean.push(m / 255);
    std.push(Math.sqrt(squares / count) / 255);
  }
  return { mean, std };
}
