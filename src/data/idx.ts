// MNIST-style IDX files (MNIST, Fashion-MNIST), plain or gzip-compressed. Header: a big-endian
// magic 0x000008DD (type 0x08 = unsigned byte, DD = number of dimensions), one big-endian uint32
// per dimension, then the data row-major.

import { join } from 'node:path';
import { promisify } from 'node:util';
import { gunzip } from 'node:zlib';
import { DataError } from './errors.js';
import { fileExists, readDataFile } from './files.js';
import type { ImageSet } from './image-set.js';

const gunzipAsync = promisify(gunzip);

const IMAGES_MAGIC = 0x00000803; // ubyte, 3 dimensions [n, rows, cols]
const LABELS_MAGIC = 0x00000801; // ubyte, 1 dimension [n]
const CLASSES = 10;

/** Where Debian's `dataset-fashion-mnist` package installs the four gzip files. */
export const DEBIAN_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

/** The standard file names, without the optional `.gz`. */
export const IDX_FILES = {
  trainImages: 'train-images-idx3-ubyte',
  trainLabels: 'train-labels-idx1-ubyte',
  testImages: 't10k-images-idx3-ubyte',
  testLabels: 't10k-labels-idx1-ubyte',
} as const;

export interface IdxImages {
  n: number;
  rows: number;
  cols: number;
  data: Uint8Array; // [n, rows, cols]
}

export interface IdxData {
  classes: number;
  train: ImageSet;
  test: ImageSet;
  /** The directory the files were read from. */
  dir: string;
}

/** Reads a file, gunzipping it when it starts with the gzip magic 1f 8b. */
export async function readMaybeGzip(path: string): Promise<Uint8Array> {
  const bytes = await readDataFile(path, 'IDX');
  if (bytes.length < 2 || bytes[0] !== 0x1f || bytes[1] !== 0x8b) return bytes;
  try {
    return await gunzipAsync(bytes);
  } catch (err) {
    throw new DataError(`IDX: ${path} is not a valid gzip file (${(err as Error).message})`);
  }
}

/** Checks the magic and returns the dimensions and the data that follows them. */
function parseIdx(bytes: Uint8Array, file: string, magic: number, what: string): { dims: number[]; data: Uint8Array } {
  if (bytes.length < 4) throw new DataError(`IDX: ${file} is ${bytes.length} bytes, too short for an IDX ${what} file`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const found = view.getUint32(0);
  if (found !== magic) {
    throw new DataError(
      `IDX: ${file} has magic 0x${found.toString(16).padStart(8, '0')}, expected ` +
        `0x${magic.toString(16).padStart(8, '0')} (${what})`,
    );
  }
  const rank = magic & 0xff;
  const headerSize = 4 + 4 * rank;
  if (bytes.length < headerSize) {
    throw new DataError(`IDX: ${file} is ${bytes.length} bytes, too short for an IDX ${what} header`);
  }
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - headerSize;
  if (actual !== expected) {
    const problem = actual < expected ? 'truncated' : 'has trailing bytes';
    throw new DataError(
      `IDX: ${file} ${problem}: header [${dims.join(', ')}] needs ${expected} data bytes, found ${actual}`,
    );
  }
  // A plain Uint8Array view (not a Buffer) over the data, without copying it.
  return { dims, data: new Uint8Array(bytes.buffer, bytes.byteOffset + headerSize, expected) };
}

export function parseIdxImages(bytes: Uint8Array, file: string): IdxImages {
  const { dims, data } = parseIdx(bytes, file, IMAGES_MAGIC, 'images');
  const [n, rows, cols] = dims;
  return { n, rows, cols, data };
}

/** Labels as Int32Array, each checked to be below `classes`. */
export function parseIdxLabels(bytes: Uint8Array, file: string, classes = CLASSES): Int32Array {
  const { data } = parseIdx(bytes, file, LABELS_MAGIC, 'labels');
  const labels = Int32Array.from(data);
  const bad = labels.findIndex((label) => label >= classes);
  if (bad >= 0) {
    throw new DataError(`IDX: ${file} label ${bad} is ${labels[bad]}, outside 0..${classes - 1}`);
  }
  return labels;
}

/** `name` or `name.gz` in dir, whichever exists (plain first). */
async function findIdxFile(dir: string, name: string): Promise<string | null> {
  for (const file of [name, `${name}.gz`]) {
    const path = join(dir, file);
    if (await fileExists(path)) return path;
  }
  return null;
}

/**
 * The directory holding the files: `dir` itself, or a subfolder named after the data set, or
 * torchvision's `<Name>/raw` layout.
 */
async function findIdxDir(dir: string, title: string, subfolders: string[]): Promise<string> {
  const candidates = [dir, ...subfolders.map((sub) => join(dir, sub))];
  for (const candidate of candidates) {
    if (await findIdxFile(candidate, IDX_FILES.testLabels)) return candidate;
  }
  throw new DataError(
    `${title}: ${IDX_FILES.testLabels}[.gz] not found in ${candidates.join(' or ')} ` +
      `(expected the four IDX files, plain or .gz)`,
  );
}

async function requireIdxFile(dir: string, name: string, title: string): Promise<string> {
  const path = await findIdxFile(dir, name);
  if (path === null) throw new DataError(`${title}: missing file ${join(dir, name)} (or ${name}.gz)`);
  return path;
}

async function loadImageSet(dir: string, title: string, imagesName: string, labelsName: string): Promise<ImageSet> {
  const imagesPath = await requireIdxFile(dir, imagesName, title);
  const labelsPath = await requireIdxFile(dir, labelsName, title);
  const images = parseIdxImages(await readMaybeGzip(imagesPath), imagesPath);
  const labels = parseIdxLabels(await readMaybeGzip(labelsPath), labelsPath);
  if (images.n !== labels.length) {
    throw new DataError(
      `${title}: ${imagesPath} holds ${images.n} images but ${labelsPath} holds ${labels.length} labels`,
    );
  }
  return { images: images.data, labels, n: images.n, channels: 1, height: images.rows, width: images.cols };
}

/** Loads the train and test IDX pairs of an MNIST-style data set from `dir`. */
export async function loadIdxDataset(dir: string, title: string, subfolders: string[] = []): Promise<IdxData> {
  const found = await findIdxDir(dir, title, subfolders);
  const train = await loadImageSet(found, title, IDX_FILES.trainImages, IDX_FILES.trainLabels);
  const test = await loadImageSet(found, title, IDX_FILES.testImages, IDX_FILES.testLabels);
  if (train.height !== test.height || train.width !== test.width) {
    throw new DataError(
      `${title}: train images are ${train.height}x${train.width} but test images ${test.height}x${test.width} in ${found}`,
    );
  }
  return { classes: CLASSES, train, test, dir: found };
}
