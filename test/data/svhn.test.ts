import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DataError, loadDataset } from '../../src/data/dataset.js';
import { parseMat } from '../../src/data/svhn.js';
import { svhnMat, svhnPixel, writeMat, writeSvhnFolder } from '../helpers/datasets.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'insalun-svhn-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('MAT v5 reader', () => {
  it('reads compressed numeric variables with their dimensions, in either storage type', async () => {
    const bytes = writeMat([
      { name: 'small', dims: [2, 3], classId: 9, values: [1, 2, 3, 4, 5, 6], storage: 2 },
      { name: 'longer_name', dims: [1, 2], classId: 6, values: [0.5, -2], storage: 9 },
    ]);
    const vars = await parseMat(bytes, 'x.mat');
    expect(vars.get('small')).toMatchObject({ dims: [2, 3], classId: 9 });
    expect(Array.from(vars.get('small')?.data ?? [])).toEqual([1, 2, 3, 4, 5, 6]);
    expect(Array.from(vars.get('longer_name')?.data ?? [])).toEqual([0.5, -2]);
  });

  it('refuses files that are not level-5 MAT-files, and truncated ones, with the file named', async () => {
    await expect(parseMat(new Uint8Array(200), 'a.mat')).rejects.toThrow(/a\.mat: not a MATLAB level-5/);
    const whole = svhnMat(1, [1, 2]);
    await expect(parseMat(whole.subarray(0, whole.length - 100), 'b.mat')).rejects.toThrow(
      /b\.mat: element at byte 128 needs \d+ bytes.*truncated/,
    );
  });
});

describe('SVHN', () => {
  it('loads train and test from <dir>/svhn: CHW pixels from column-major X, label 10 as digit 0', async () => {
    await writeSvhnFolder(join(dir, 'svhn'), [1, 10, 5], [10, 3]);
    const data = await loadDataset('svhn', { dataDir: dir });
    expect(data.classes).toBe(10);
    expect(data.train).toMatchObject({ n: 3, channels: 3, height: 32, width: 32 });
    expect(Array.from(data.train.labels)).toEqual([1, 0, 5]);
    expect(Array.from(data.test.labels)).toEqual([0, 3]); // y stored as miDOUBLE in the test file
    for (const [set, tag] of [
      [data.train, 1],
      [data.test, 2],
    ] as const) {
      for (let i = 0; i < set.n; i++)
        for (const [ch, r, c] of [
          [0, 0, 0],
          [1, 3, 17],
          [2, 31, 0],
          [0, 0, 31],
          [2, 20, 9],
        ])
          expect(set.images[i * 3072 + ch * 1024 + r * 32 + c]).toBe(svhnPixel(tag, i, ch, r, c));
    }
    expect(data.mean).toEqual([0.4377, 0.4438, 0.4728]);
    expect(data.source).toContain(join(dir, 'svhn'));
  });

  it('names the missing file and a bad label', async () => {
    await expect(loadDataset('svhn', { dataDir: dir })).rejects.toThrow(/SVHN: test_32x32\.mat not found/);
    await writeSvhnFolder(dir, [1, 11], [1]);
    await expect(loadDataset('svhn', { dataDir: dir })).rejects.toThrow(DataError);
    await expect(loadDataset('svhn', { dataDir: dir })).rejects.toThrow(/train_32x32\.mat label 1 is 11/);
    await writeFile(join(dir, 'train_32x32.mat'), svhnMat(1, [1]).subarray(0, 300));
    await expect(loadDataset('svhn', { dataDir: dir })).rejects.toThrow(/train_32x32\.mat/);
  });
});
