// CIFAR-10 / CIFAR-100 in the official binary layout. Each record is the label byte(s) followed by
// 3072 bytes: the R, G and B planes of a 32x32 image, row-major -- already the CHW layout ImageSet
// wants, so a record's pixels are copied as one block.

import { join } from 'node:path';
import { DataError } from './errors.js';
import { fileExists, readDataFile } from './files.js';
import type { ImageSet } from './image-set.js';

const CHANNELS = 3;
const SIDE = 32;
const PIXELS = CHANNELS * SIDE * SIDE;

interface CifarLayout {
  title: string;
  classes: number;
  /** Label bytes before the pixels; the label used is the last of them (CIFAR-100: fine label). */
  labelBytes: number;
  /** The folder the official archive unpacks to, looked for under the given directory. */
  archiveFolder: string;
  trainFiles: string[];
  testFile: string;
}

const CIFAR10: CifarLayout = {
  title: 'CIFAR-10',
  classes: 10,
  labelBytes: 1,
  archiveFolder: 'cifar-10-batches-bin',
  trainFiles: [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`),
  testFile: 'test_batch.bin',
};

const CIFAR100: CifarLayout = {
  title: 'CIFAR-100',
  classes: 100,
  labelBytes: 2, // coarse label, then fine label
  archiveFolder: 'cifar-100-binary',
  trainFiles: ['train.bin'],
  testFile: 'test.bin',
};

export interface CifarData {
  classes: number;
  train: ImageSet;
  test: ImageSet;
  /** The directory the files were read from. */
  dir: string;
}

export function loadCifar10(dir: string): Promise<CifarData> {
  return loadCifar(CIFAR10, dir);
}

export function loadCifar100(dir: string): Promise<CifarData> {
  return loadCifar(CIFAR100, dir);
}

async function loadCifar(layout: CifarLayout, dir: string): Promise<CifarData> {
  const found = await findCifarDir(layout, dir);
  const train = await readRecordFiles(layout, found, layout.trainFiles);
  const test = await readRecordFiles(layout, found, [layout.testFile]);
  return { classes: layout.classes, train, test, dir: found };
}

/** The given directory, or the archive's folder inside it: whichever holds the test file. */
async function findCifarDir(layout: CifarLayout, dir: string): Promise<string> {
  const candidates = [dir, join(dir, layout.archiveFolder)];
  for (const candidate of candidates) {
    if (await fileExists(join(candidate, layout.testFile))) return candidate;
  }
  throw new DataError(
    `${layout.title}: ${layout.testFile} not found in ${candidates.join(' or ')} ` +
      `(expected the binary version of the data set, as unpacked from the official archive)`,
  );
}

/** Reads and concatenates record files, checking sizes and labels. */
async function readRecordFiles(layout: CifarLayout, dir: string, names: string[]): Promise<ImageSet> {
  const recordSize = layout.labelBytes + PIXELS;
  const buffers: { path: string; bytes: Uint8Array }[] = [];
  for (const name of names) {
    const path = join(dir, name);
    const bytes = await readDataFile(path, layout.title);
    if (bytes.length === 0 || bytes.length % recordSize !== 0) {
      throw new DataError(
        `${layout.title}: ${path} is ${bytes.length} bytes, not a whole number of ${recordSize}-byte records ` +
          `(truncated or not a ${layout.title} binary file)`,
      );
    }
    buffers.push({ path, bytes });
  }

  const n = buffers.reduce((sum, b) => sum + b.bytes.length / recordSize, 0);
  const images = new Uint8Array(n * PIXELS);
  const labels = new Int32Array(n);
  let i = 0;
  for (const { path, bytes } of buffers) {
    for (let offset = 0; offset < bytes.length; offset += recordSize, i++) {
      const label = bytes[offset + layout.labelBytes - 1];
      if (label >= layout.classes) {
        throw new DataError(
          `${layout.title}: ${path} record ${offset / recordSize} has label ${label}, ` +
            `outside 0..${layout.classes - 1}`,
        );
      }
      labels[i] = label;
      images.set(bytes.subarray(offset + layout.labelBytes, offset + recordSize), i * PIXELS);
    }
  }
  return { images, labels, n, channels: CHANNELS, height: SIDE, width: SIDE };
}
