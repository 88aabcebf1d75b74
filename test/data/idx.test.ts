import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { channelStats, DataError, loadDataset } from '../../src/data/dataset.js';
import { DEBIAN_FASHION_MNIST_DIR, parseIdxImages, parseIdxLabels } from '../../src/data/idx.js';

/** An IDX file: big-endian magic and dimensions, then the bytes. */
function idx(magic: number, dims: number[], data: ArrayLike<number>): Uint8Array {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint32(0, magic);
  dims.forEach((d, i) => {
    header.setUint32(4 + 4 * i, d);
  });
  const out = new Uint8Array(header.byteLength + data.length);
  out.set(new Uint8Array(header.buffer));
  out.set(Array.from(data), header.byteLength);
  return out;
}

const imagesFile = (n: number, rows: number, cols: number, seed: number): Uint8Array =>
  idx(
    0x803,
    [n, rows, cols],
    Array.from({ length: n * rows * cols }, (_, i) => (i * 13 + seed) & 0xff),
  );
const labelsFile = (labels: number[]): Uint8Array => idx(0x801, [labels.length], labels);

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'insalun-idx-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Four small MNIST-style files (4x5 images); `gz` names which ones to gzip. */
async function writeMnist(target: string, gz: (name: string) => boolean = () => false): Promise<void> {
  await mkdir(target, { recursive: true });
  const files: [string, Uint8Array][] = [
    ['train-images-idx3-ubyte', imagesFile(3, 4, 5, 1)],
    ['train-labels-idx1-ubyte', labelsFile([5, 0, 9])],
    ['t10k-images-idx3-ubyte', imagesFile(2, 4, 5, 2)],
    ['t10k-labels-idx1-ubyte', labelsFile([7, 1])],
  ];
  for (const [name, bytes] of files) {
    if (gz(name)) await writeFile(join(target, `${name}.gz`), gzipSync(bytes));
    else await writeFile(join(target, name), bytes);
  }
}

describe('IDX parsing', () => {
  it('reads dimensions and data', () => {
    const parsed = parseIdxImages(imagesFile(2, 3, 4, 0), 'x');
    expect([parsed.n, parsed.rows, parsed.cols]).toEqual([2, 3, 4]);
    expect(Array.from(parsed.data.subarray(0, 3))).toEqual([0, 13, 26]);
    expect(parsed.data.length).toBe(24);
    expect(Array.from(parseIdxLabels(labelsFile([3, 1, 4]), 'y'))).toEqual([3, 1, 4]);
  });

  it('refuses a wrong magic, naming the file and both magics', () => {
    expect(() => parseIdxImages(labelsFile([1]), 'lbl')).toThrow(
      'IDX: lbl has magic 0x00000801, expected 0x00000803 (images)',
    );
    expect(() => parseIdxLabels(imagesFile(1, 2, 2, 0), 'img')).toThrow(
      /img has magic 0x00000803, expected 0x00000801/,
    );
  });

  it('refuses truncated data, a truncated header and trailing bytes', () => {
    const whole = imagesFile(2, 3, 4, 0);
    expect(() => parseIdxImages(whole.subarray(0, whole.length - 1), 'f')).toThrow(
      'IDX: f truncated: header [2, 3, 4] needs 24 data bytes, found 23',
    );
    expect(() => parseIdxImages(whole.subarray(0, 10), 'f')).toThrow(/too short for an IDX images header/);
    const longer = new Uint8Array(whole.length + 2);
    longer.set(whole);
    expect(() => parseIdxImages(longer, 'f')).toThrow(/f has trailing bytes/);
  });

  it('refuses labels of 10 and above', () => {
    expect(() => parseIdxLabels(labelsFile([0, 9, 10]), 'lab')).toThrow('IDX: lab label 2 is 10, outside 0..9');
  });
});

describe('MNIST-style data sets', () => {
  it('loads plain files as 1-channel images', async () => {
    await writeMnist(dir);
    const d = await loadDataset('mnist', { dataDir: dir });
    expect(d.name).toBe('mnist');
    expect(d.classes).toBe(10);
    expect([d.train.n, d.train.channels, d.train.height, d.train.width]).toEqual([3, 1, 4, 5]);
    expect(Array.from(d.train.labels)).toEqual([5, 0, 9]);
    expect(Array.from(d.test.labels)).toEqual([7, 1]);
    expect(d.train.images).toEqual(Uint8Array.from({ length: 60 }, (_, i) => (i * 13 + 1) & 0xff));
    expect(d.mean).toEqual([0.1307]);
    expect(d.std).toEqual([0.3081]);
  });

  it('gives the same data from gzip files (detected by their magic), mixed with plain ones', async () => {
    await writeMnist(dir);
    const plain = await loadDataset('mnist', { dataDir: dir });
    const gzDir = join(dir, 'gz');
    await writeMnist(gzDir, (name) => name !== 't10k-labels-idx1-ubyte');
    const gz = await loadDataset('mnist', { dataDir: gzDir });
    expect(gz.train).toEqual(plain.train);
    expect(gz.test).toEqual(plain.test);
  });

  it('finds the files in a data-set-named subfolder and in torchvision layout', async () => {
    await writeMnist(join(dir, 'fashion-mnist'), () => true);
    expect((await loadDataset('fashion-mnist', { dataDir: dir })).train.n).toBe(3);
    await writeMnist(join(dir, 'MNIST', 'raw'));
    const d = await loadDataset('mnist', { dataDir: dir });
    expect(d.source).toContain(join('MNIST', 'raw'));
  });

  it('refuses images and labels of different counts, naming both files', async () => {
    await writeMnist(dir);
    await writeFile(join(dir, 't10k-labels-idx1-ubyte'), labelsFile([1, 2, 3]));
    await expect(loadDataset('mnist', { dataDir: dir })).rejects.toThrow(
      `MNIST: ${join(dir, 't10k-images-idx3-ubyte')} holds 2 images but ${join(dir, 't10k-labels-idx1-ubyte')} holds 3 labels`,
    );
  });

  it('names a missing file, a wrong magic, a truncated gzip member and a bad label', async () => {
    await writeMnist(dir);
    await rm(join(dir, 'train-labels-idx1-ubyte'));
    await expect(loadDataset('mnist', { dataDir: dir })).rejects.toThrow(
      `missing file ${join(dir, 'train-labels-idx1-ubyte')}`,
    );

    await writeFile(join(dir, 'train-labels-idx1-ubyte'), imagesFile(3, 1, 1, 0));
    await expect(loadDataset('mnist', { dataDir: dir })).rejects.toThrow(
      /train-labels-idx1-ubyte has magic 0x00000803/,
    );

    await rm(join(dir, 'train-labels-idx1-ubyte'));
    const gz = gzipSync(labelsFile([5, 0, 9]));
    await writeFile(join(dir, 'train-labels-idx1-ubyte.gz'), gz.subarray(0, gz.length - 6));
    const err = await loadDataset('mnist', { dataDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toContain(`${join(dir, 'train-labels-idx1-ubyte.gz')} is not a valid gzip file`);

    await writeFile(join(dir, 'train-labels-idx1-ubyte.gz'), gzipSync(labelsFile([5, 12, 9])));
    await expect(loadDataset('mnist', { dataDir: dir })).rejects.toThrow(/train-labels-idx1-ubyte\.gz label 1 is 12/);
  });

  it('refuses a truncated image file', async () => {
    await writeMnist(dir);
    const whole = imagesFile(2, 4, 5, 2);
    await writeFile(join(dir, 't10k-images-idx3-ubyte'), whole.subarray(0, whole.length - 7));
    await expect(loadDataset('mnist', { dataDir: dir })).rejects.toThrow(
      /t10k-images-idx3-ubyte truncated: header \[2, 4, 5\] needs 40 data bytes, found 33/,
    );
  });

  it('mnist needs a data directory; unknown names list the valid ones', async () => {
    await expect(loadDataset('mnist', {})).rejects.toThrow(DataError);
    await expect(loadDataset('imagenet', {})).rejects.toThrow(
      "unknown dataset 'imagenet'; valid names: synthetic, cifar10, cifar100, mnist, fashion-mnist",
    );
  });
});

const hasDebianFashion = existsSync(join(DEBIAN_FASHION_MNIST_DIR, 't10k-labels-idx1-ubyte.gz'));
if (!hasDebianFashion)
  console.warn(
    `skipping Fashion-MNIST checks: ${DEBIAN_FASHION_MNIST_DIR} absent (apt-get install dataset-fashion-mnist)`,
  );

describe('Fashion-MNIST from the Debian package', () => {
  it.skipIf(!hasDebianFashion)(`loads ${DEBIAN_FASHION_MNIST_DIR} with no data directory given`, async () => {
    const d = await loadDataset('fashion-mnist', {});
    expect(d.source).toContain(DEBIAN_FASHION_MNIST_DIR);
    expect([d.train.n, d.train.channels, d.train.height, d.train.width]).toEqual([60000, 1, 28, 28]);
    expect([d.test.n, d.test.channels, d.test.height, d.test.width]).toEqual([10000, 1, 28, 28]);
    // Balanced: 6,000 training and 1,000 test images per class.
    const perClass = (labels: Int32Array) => Array.from({ length: 10 }, (_, k) => labels.filter((l) => l === k).length);
    expect(perClass(d.train.labels)).toEqual(new Array(10).fill(6000));
    expect(perClass(d.test.labels)).toEqual(new Array(10).fill(1000));
    // The published normalization constants are the statistics of these very bytes.
    const stats = channelStats(d.train);
    expect(stats.mean[0]).toBeCloseTo(d.mean[0], 3);
    expect(stats.std[0]).toBeCloseTo(d.std[0], 3);
  });
});
