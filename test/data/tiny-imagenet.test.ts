import { chmod, mkdtemp, rm, stat, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { loadDataset } from '../../src/data/dataset.js';
import { TINY_IMAGENET_CACHE_FILE } from '../../src/data/tiny-imagenet.js';
import { tinyPixels, writeTinyImageNet } from '../helpers/datasets.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'insalun-tiny-'));
});
afterEach(async () => {
  await chmod(join(dir, 'tiny-imagenet-200'), 0o755).catch(() => {});
  await rm(dir, { recursive: true, force: true });
});

/** Largest absolute difference between a decoded CHW image and the HWC pixels written. */
function maxDiff(chw: Uint8Array, hwc: Uint8Array): number {
  let worst = 0;
  for (let p = 0; p < 64 * 64; p++)
    for (let c = 0; c < 3; c++) worst = Math.max(worst, Math.abs(chw[c * 4096 + p] - hwc[3 * p + c]));
  return worst;
}

describe('Tiny-ImageNet', () => {
  it('labels by sorted wnid, val is the test set, pixels match the JPEGs, and the second load reads the cache', async () => {
    const root = join(dir, 'tiny-imagenet-200');
    const folder = await writeTinyImageNet(root, 3, 2);
    const first = await loadDataset('tiny-imagenet', { dataDir: dir });
    expect(first.classes).toBe(3);
    expect(first.train).toMatchObject({ n: 9, channels: 3, height: 64, width: 64 });
    expect(Array.from(first.train.labels)).toEqual([0, 0, 0, 1, 1, 1, 2, 2, 2]);
    expect(first.test.n).toBe(6);
    // val in ImageFolder order: by class, then file name
    const expectedVal = [...folder.val].sort((a, b) => a[1] - b[1] || (a[0] < b[0] ? -1 : 1));
    expect(Array.from(first.test.labels)).toEqual(expectedVal.map((v) => v[1]));
    for (let i = 0; i < 9; i++) {
      const image = first.train.images.subarray(i * 12288, (i + 1) * 12288);
      expect(maxDiff(image, tinyPixels(Math.floor(i / 3), i % 3))).toBeLessThanOrEqual(6); // JPEG q100, lossy
      expect(maxDiff(image, tinyPixels((Math.floor(i / 3) + 1) % 3, i % 3))).toBeGreaterThan(40);
    }
    expectedVal.forEach(([, label, k], i) => {
      expect(maxDiff(first.test.images.subarray(i * 12288, (i + 1) * 12288), tinyPixels(label, k))).toBeLessThanOrEqual(
        6,
      );
    });
    expect(first.mean).toEqual([0.4802, 0.4481, 0.3975]);
    expect(first.source).toMatch(/decoded cache written/);
    const cacheStat = await stat(join(root, TINY_IMAGENET_CACHE_FILE));
    expect(cacheStat.size).toBeGreaterThan(15 * 12288);

    const second = await loadDataset('tiny-imagenet', { dataDir: dir });
    expect(second.source).toMatch(/decoded cache read/);
    expect(Buffer.from(second.train.images).equals(Buffer.from(first.train.images))).toBe(true);
    expect(Buffer.from(second.test.images).equals(Buffer.from(first.test.images))).toBe(true);
    expect(Array.from(second.test.labels)).toEqual(Array.from(first.test.labels));

    // a changed file (new mtime) invalidates the cache
    const touched = join(root, 'val', 'images', 'val_0.JPEG');
    await utimes(touched, new Date(), new Date(Date.now() + 5000));
    expect((await loadDataset('tiny-imagenet', { dataDir: dir })).source).toMatch(/decoded cache written/);
  });

  it('reads a folder it cannot write without a cache, and names a missing folder or file', async () => {
    await expect(loadDataset('tiny-imagenet', { dataDir: dir })).rejects.toThrow(/Tiny-ImageNet: wnids\.txt not found/);
    const root = join(dir, 'tiny-imagenet-200');
    await writeTinyImageNet(root, 1, 1);
    if (process.getuid?.() !== 0) {
      await chmod(root, 0o555);
      const data = await loadDataset('tiny-imagenet', { dataDir: root });
      expect(data.source).toMatch(/no cache/);
      await chmod(root, 0o755);
    }
    await rm(join(root, 'val', 'images', 'val_1.JPEG'));
    await expect(loadDataset('tiny-imagenet', { dataDir: dir })).rejects.toThrow(/missing file .*val_1\.JPEG/);
  });
});
