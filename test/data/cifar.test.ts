import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataError, loadDataset } from '../../src/data/dataset.js';

const PIXELS = 3072;

/** Binary records: each record's label bytes, then 3072 pixel bytes derived from (fileTag, index). */
function records(labelRows: number[][], fileTag: number): Uint8Array {
  const size = labelRows[0]?.length ?? 1;
  const out = new Uint8Array(labelRows.length * (size + PIXELS));
  labelRows.forEach((labelBytes, r) => {
    const base = r * (size + PIXELS);
    out.set(labelBytes, base);
    for (let p = 0; p < PIXELS; p++) out[base + size + p] = (fileTag * 31 + r * 7 + p) & 0xff;
  });
  return out;
}

function expectedPixels(fileTag: number, r: number): Uint8Array {
  return Uint8Array.from({ length: PIXELS }, (_, p) => (fileTag * 31 + r * 7 + p) & 0xff);
}

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'insalun-cifar-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** CIFAR-10 batches: batch b holds labels [b, b+1] (mod 10); the test batch holds [9, 0, 3]. */
async function writeCifar10(target: string): Promise<void> {
  await mkdir(target, { recursive: true });
  for (let b = 1; b <= 5; b++) {
    await writeFile(join(target, `data_batch_${b}.bin`), records([[b % 10], [(b + 1) % 10]], b));
  }
  await writeFile(join(target, 'test_batch.bin'), records([[9], [0], [3]], 0));
}

describe('CIFAR-10 binary', () => {
  it('reads the five batches in order and the test batch, as CHW images', async () => {
    await writeCifar10(dir);
    const d = await loadDataset('cifar10', { dataDir: dir });
    expect(d.name).toBe('cifar10');
    expect(d.classes).toBe(10);
    expect([d.train.n, d.train.channels, d.train.height, d.train.width]).toEqual([10, 3, 32, 32]);
    expect(Array.from(d.train.labels)).toEqual([1, 2, 2, 3, 3, 4, 4, 5, 5, 6]);
    expect(Array.from(d.test.labels)).toEqual([9, 0, 3]);
    expect(d.train.images.length).toBe(10 * PIXELS);
    // The 4th training image is batch 2's second record.
    expect(d.train.images.subarray(3 * PIXELS, 4 * PIXELS)).toEqual(expectedPixels(2, 1));
    expect(d.test.images.subarray(2 * PIXELS)).toEqual(expectedPixels(0, 2));
    expect(d.mean).toEqual([0.4914, 0.4822, 0.4465]);
    expect(d.std).toEqual([0.247, 0.2435, 0.2616]);
    expect(d.source).toContain(dir);
  });

  it('finds the files in the archive folder cifar-10-batches-bin under the given directory', async () => {
    await writeCifar10(join(dir, 'cifar-10-batches-bin'));
    const d = await loadDataset('cifar10', { dataDir: dir });
    expect(d.train.n).toBe(10);
    expect(d.source).toContain('cifar-10-batches-bin');
  });

  it('names the missing batch file', async () => {
    await writeCifar10(dir);
    await rm(join(dir, 'data_batch_4.bin'));
    await expect(loadDataset('cifar10', { dataDir: dir })).rejects.toThrow(
      new DataError(`CIFAR-10: missing file ${join(dir, 'data_batch_4.bin')}`),
    );
  });

  it('says where it looked when there are no CIFAR files at all', async () => {
    const err = await loadDataset('cifar10', { dataDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toContain('test_batch.bin not found');
    expect((err as Error).message).toContain(join(dir, 'cifar-10-batches-bin'));
  });

  it('refuses a truncated batch, naming it', async () => {
    await writeCifar10(dir);
    const whole = records([[1], [2]], 3);
    await writeFile(join(dir, 'data_batch_3.bin'), whole.subarray(0, whole.length - 100));
    const err = await loadDataset('cifar10', { dataDir: dir }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toContain(join(dir, 'data_batch_3.bin'));
    expect((err as Error).message).toContain('not a whole number of 3073-byte records');
  });

  it('refuses an empty file', async () => {
    await writeCifar10(dir);
    await writeFile(join(dir, 'test_batch.bin'), new Uint8Array(0));
    await expect(loadDataset('cifar10', { dataDir: dir })).rejects.toThrow(/test_batch\.bin is 0 bytes/);
  });

  it('refuses a label outside 0..9, naming file and record', async () => {
    await writeCifar10(dir);
    await writeFile(join(dir, 'data_batch_5.bin'), records([[4], [10]], 5));
    await expect(loadDataset('cifar10', { dataDir: dir })).rejects.toThrow(
      `CIFAR-10: ${join(dir, 'data_batch_5.bin')} record 1 has label 10, outside 0..9`,
    );
  });

  it('needs a data directory', async () => {
    await expect(loadDataset('cifar10', {})).rejects.toThrow(DataError);
  });
});

describe('CIFAR-100 binary', () => {
  async function writeCifar100(target: string, train: number[][], test: number[][]): Promise<void> {
    await mkdir(target, { recursive: true });
    await writeFile(join(target, 'train.bin'), records(train, 1));
    await writeFile(join(target, 'test.bin'), records(test, 2));
  }

  it('uses the fine label (the second byte) and skips both label bytes', async () => {
    await writeCifar100(
      dir,
      [
        [3, 99],
        [19, 0],
        [0, 57],
      ],
      [[7, 42]],
    );
    const d = await loadDataset('cifar100', { dataDir: dir });
    expect(d.classes).toBe(100);
    expect(Array.from(d.train.labels)).toEqual([99, 0, 57]);
    expect(Array.from(d.test.labels)).toEqual([42]);
    expect(d.train.images.subarray(2 * PIXELS)).toEqual(expectedPixels(1, 2));
    expect(d.test.images).toEqual(expectedPixels(2, 0));
    expect(d.mean).toEqual([0.5071, 0.4866, 0.4409]);
    expect(d.std).toEqual([0.2673, 0.2564, 0.2762]);
  });

  it('finds the archive folder cifar-100-binary', async () => {
    await writeCifar100(join(dir, 'cifar-100-binary'), [[1, 2]], [[3, 4]]);
    const d = await loadDataset('cifar100', { dataDir: dir });
    expect(Array.from(d.train.labels)).toEqual([2]);
  });

  it('refuses a fine label of 100 and a file cut inside a record', async () => {
    await writeCifar100(dir, [[1, 100]], [[3, 4]]);
    await expect(loadDataset('cifar100', { dataDir: dir })).rejects.toThrow(
      /train\.bin record 0 has label 100, outside 0\.\.99/,
    );
    // CIFAR-10-sized records (3073 bytes) are not whole 3074-byte CIFAR-100 records.
    await writeFile(join(dir, 'train.bin'), records([[1], [2]], 1));
    await expect(loadDataset('cifar100', { dataDir: dir })).rejects.toThrow(
      /train\.bin is 6146 bytes, not a whole number of 3074-byte records/,
    );
  });

  it('names a missing train.bin', async () => {
    await writeCifar100(dir, [[1, 2]], [[3, 4]]);
    await rm(join(dir, 'train.bin'));
    await expect(loadDataset('cifar100', { dataDir: dir })).rejects.toThrow(`missing file ${join(dir, 'train.bin')}`);
  });
});
