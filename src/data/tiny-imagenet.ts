// Tiny-ImageNet in the official tiny-imagenet-200/ folder: wnids.txt (the 200 class ids),
// train/<wnid>/images/*.JPEG (500 a class) and val/images/*.JPEG labelled by
// val/val_annotations.txt (file, wnid, box). As in SalUn, the val images are the test set.
//
// Labels and order follow torchvision's ImageFolder, which SalUn uses: class k is the k-th wnid in
// sorted order, and images come class by class, by file name within a class (val as well, as
// SalUn sorts val into per-class folders). JPEGs are decoded with sharp (libvips) to 64x64 RGB
// (the few greyscale files are expanded to three equal channels).
//
// Decoding 110,000 JPEGs takes a while, so the decoded arrays are cached in one file in the data
// folder (CACHE_FILE), written atomically (a temporary file renamed into place) and keyed by a
// digest of every image's relative path, size and mtime plus the annotation files: any change to
// the files makes the next load decode again. A folder that cannot be written is read without a cache.

import { createHash } from 'node:crypto';
import { open, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { DataError } from './errors.js';
import { fileExists } from './files.js';
import type { ImageSet } from './image-set.js';

const SIDE = 64;
const CHANNELS = 3;
const PIXELS = CHANNELS * SIDE * SIDE;
const FOLDER = 'tiny-imagenet-200';
export const TINY_IMAGENET_CACHE_FILE = '.insalun-decoded.bin';
const CACHE_MAGIC = 'INSALUN-TINY-IMAGENET-1\n';

export interface TinyImageNetData {
  classes: number;
  train: ImageSet;
  test: ImageSet;
  dir: string;
  /** 'read' (loaded from the cache), 'written' (decoded, cache written) or 'unwritable' (decoded, no cache). */
  cache: 'read' | 'written' | 'unwritable';
}

interface Listing {
  wnids: string[]; // sorted
  train: { path: string; label: number }[];
  test: { path: string; label: number }[];
}

async function findRoot(dir: string): Promise<string> {
  const candidates = [dir, join(dir, FOLDER), join(dir, 'tiny-imagenet', FOLDER)];
  for (const candidate of candidates) {
    if (await fileExists(join(candidate, 'wnids.txt'))) return candidate;
  }
  throw new DataError(
    `Tiny-ImageNet: wnids.txt not found in ${candidates.join(' or ')} ` +
      `(expected the official ${FOLDER} folder: wnids.txt, train/<wnid>/images, val/images, val/val_annotations.txt)`,
  );
}

async function readText(path: string): Promise<string> {
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new DataError(`Tiny-ImageNet: ${code === 'ENOENT' ? 'missing file' : `cannot read (${code})`} ${path}`);
  }
}

async function listJpegs(dir: string): Promise<string[]> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    throw new DataError(`Tiny-ImageNet: cannot list ${dir} (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  }
  return names.filter((name) => /\.jpe?g$/i.test(name)).sort();
}

const byName = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);

async function listFiles(root: string): Promise<Listing> {
  const wnids = (await readText(join(root, 'wnids.txt')))
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '')
    .sort(byName);
  if (new Set(wnids).size !== wnids.length) throw new DataError(`Tiny-ImageNet: ${root}/wnids.txt repeats a class`);
  const labelOf = new Map(wnids.map((w, i) => [w, i]));
  const train: Listing['train'] = [];
  for (const [label, wnid] of wnids.entries()) {
    const folder = join('train', wnid, 'images');
    const names = await listJpegs(join(root, folder));
    if (names.length === 0) throw new DataError(`Tiny-ImageNet: no JPEG images in ${join(root, folder)}`);
    for (const name of names) train.push({ path: join(folder, name), label });
  }
  const annotations = join(root, 'val', 'val_annotations.txt');
  const test: Listing['test'] = [];
  (await readText(annotations)).split(/\r?\n/).forEach((line, lineNo) => {
    if (line.trim() === '') return;
    const [name, wnid] = line.split('\t');
    const label = labelOf.get(wnid?.trim() ?? '');
    if (!name || label === undefined) {
      throw new DataError(
        `Tiny-ImageNet: ${annotations} line ${lineNo + 1} ('${line.trim()}') does not name an image and a class of wnids.txt`,
      );
    }
    test.push({ path: join('val', 'images', name.trim()), label });
  });
  if (test.length === 0) throw new DataError(`Tiny-ImageNet: ${annotations} lists no images`);
  test.sort((a, b) => a.label - b.label || byName(a.path, b.path));
  return { wnids, train, test };
}

/** A digest of the listing and every file's size and mtime. */
async function cacheKey(root: string, listing: Listing): Promise<string> {
  const hash = createHash('sha256');
  hash.update(`${CACHE_MAGIC}${listing.wnids.join(',')}\n`);
  const files = [...listing.train, ...listing.test];
  const stats = await mapLimited(files, 64, async (f) => {
    try {
      const s = await stat(join(root, f.path));
      return `${f.path}\t${f.label}\t${s.size}\t${s.mtimeMs}\n`;
    } catch {
      throw new DataError(`Tiny-ImageNet: missing file ${join(root, f.path)}`);
    }
  });
  for (const line of stats) hash.update(line);
  return hash.digest('hex');
}

async function mapLimited<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}

async function decodeSet(root: string, files: { path: string; label: number }[]): Promise<ImageSet> {
  const { default: sharp } = await import('sharp');
  const n = files.length;
  const images = new Uint8Array(n * PIXELS);
  const labels = Int32Array.from(files, (f) => f.label);
  const plane = SIDE * SIDE;
  await mapLimited(files, 32, async (f, i) => {
    const path = join(root, f.path);
    let decoded: { data: Buffer; info: { width: number; height: number; channels: number } };
    try {
      decoded = await sharp(path).removeAlpha().toColourspace('srgb').raw().toBuffer({ resolveWithObject: true });
    } catch (err) {
      throw new DataError(`Tiny-ImageNet: cannot decode ${path} (${(err as Error).message})`);
    }
    const { data, info } = decoded;
    if (info.width !== SIDE || info.height !== SIDE || info.channels !== CHANNELS) {
      throw new DataError(
        `Tiny-ImageNet: ${path} is ${info.width}x${info.height} with ${info.channels} channels, expected 64x64 RGB`,
      );
    }
    // HWC (interleaved) -> CHW planes.
    const base = i * PIXELS;
    for (let p = 0; p < plane; p++) {
      images[base + p] = data[3 * p];
      images[base + plane + p] = data[3 * p + 1];
      images[base + 2 * plane + p] = data[3 * p + 2];
    }
  });
  return { images, labels, n, channels: CHANNELS, height: SIDE, width: SIDE };
}

// Cache layout: CACHE_MAGIC, a 4-byte little-endian header length, a JSON header
// {key, train, test} (the two counts), then train images, train labels (int32 LE), test images, test labels.

async function readCache(path: string, key: string): Promise<{ train: ImageSet; test: ImageSet } | null> {
  let handle: Awaited<ReturnType<typeof open>>;
  try {
    handle = await open(path, 'r');
  } catch {
    return null;
  }
  try {
    const prefix = Buffer.alloc(CACHE_MAGIC.length + 4);
    if ((await handle.read(prefix, 0, prefix.length, 0)).bytesRead !== prefix.length) return null;
    if (prefix.toString('latin1', 0, CACHE_MAGIC.length) !== CACHE_MAGIC) return null;
    const headerLength = prefix.readUInt32LE(CACHE_MAGIC.length);
    if (headerLength > 4096) return null;
    const headerBytes = Buffer.alloc(headerLength);
    await handle.read(headerBytes, 0, headerLength, prefix.length);
    const header = JSON.parse(headerBytes.toString('utf8')) as { key: string; train: number; test: number };
    if (header.key !== key) return null;
    let position = prefix.length + headerLength;
    const size = (await handle.stat()).size;
    if (size !== position + (header.train + header.test) * (PIXELS + 4)) return null;
    const readInto = async (target: Uint8Array) => {
      const chunk = 1 << 28;
      for (let done = 0; done < target.length; ) {
        const { bytesRead } = await handle.read(target, done, Math.min(chunk, target.length - done), position);
        if (bytesRead === 0) throw new Error('short read');
        done += bytesRead;
        position += bytesRead;
      }
    };
    const set = async (n: number): Promise<ImageSet> => {
      const images = new Uint8Array(n * PIXELS);
      await readInto(images);
      const labelBytes = new Uint8Array(n * 4);
      await readInto(labelBytes);
      const view = new DataView(labelBytes.buffer);
      const labels = Int32Array.from({ length: n }, (_, i) => view.getInt32(4 * i, true));
      return { images, labels, n, channels: CHANNELS, height: SIDE, width: SIDE };
    };
    const train = await set(header.train);
    const test = await set(header.test);
    return { train, test };
  } catch {
    return null;
  } finally {
    await handle.close();
  }
}

async function writeCache(path: string, key: string, train: ImageSet, test: ImageSet): Promise<boolean> {
  const temporary = `${path}.${process.pid}.${Date.now()}.tmp`;
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(temporary, 'wx');
    const header = Buffer.from(JSON.stringify({ key, train: train.n, test: test.n }), 'utf8');
    const prefix = Buffer.alloc(CACHE_MAGIC.length + 4);
    prefix.write(CACHE_MAGIC, 0, 'latin1');
    prefix.writeUInt32LE(header.length, CACHE_MAGIC.length);
    await handle.write(prefix);
    await handle.write(header);
    for (const set of [train, test]) {
      await handle.write(set.images);
      const labels = Buffer.alloc(set.n * 4);
      set.labels.forEach((label, i) => {
        labels.writeInt32LE(label, 4 * i);
      });
      await handle.write(labels);
    }
    await handle.sync();
    await handle.close();
    handle = undefined;
    await rename(temporary, path);
    return true;
  } catch {
    await handle?.close().catch(() => {});
    await unlink(temporary).catch(() => {});
    return false;
  }
}

/** Loads Tiny-ImageNet from `dir`, `dir/tiny-imagenet-200` or `dir/tiny-imagenet/tiny-imagenet-200`. */
export async function loadTinyImageNet(dir: string): Promise<TinyImageNetData> {
  const root = await findRoot(dir);
  const listing = await listFiles(root);
  const key = await cacheKey(root, listing);
  const cachePath = join(root, TINY_IMAGENET_CACHE_FILE);
  const classes = listing.wnids.length;
  const cached = await readCache(cachePath, key);
  if (cached) return { classes, ...cached, dir: root, cache: 'read' };
  const train = await decodeSet(root, listing.train);
  const test = await decodeSet(root, listing.test);
  const written = await writeCache(cachePath, key, train, test);
  return { classes, train, test, dir: root, cache: written ? 'written' : 'unwritable' };
}
