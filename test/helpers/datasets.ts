// Tiny files in the exact formats of the official SVHN and Tiny-ImageNet downloads, for the loaders' tests.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';

/** One MAT v5 data element: tag (type, byte count) and the data padded to 8 bytes. */
function element(type: number, data: Uint8Array): Buffer {
  const tag = Buffer.alloc(8);
  tag.writeUInt32LE(type, 0);
  tag.writeUInt32LE(data.length, 4);
  const padding = Buffer.alloc((8 - (data.length % 8)) % 8);
  return Buffer.concat([tag, data, padding]);
}

/** A small-format element (1..4 bytes of data packed into the tag), as MATLAB writes short names. */
function smallElement(type: number, data: Uint8Array): Buffer {
  const out = Buffer.alloc(8);
  out.writeUInt16LE(type, 0);
  out.writeUInt16LE(data.length, 2);
  out.set(data, 4);
  return out;
}

export interface MatVariable {
  name: string;
  dims: number[];
  /** 6 double, 9 uint8. */
  classId: 6 | 9;
  /** The values in column-major order. */
  values: ArrayLike<number>;
  /** The storage type: 2 miUINT8 (MATLAB stores integer-valued doubles so), 9 miDOUBLE. */
  storage: 2 | 9;
}

/** A MATLAB level-5 MAT-file with each variable in a zlib-compressed element, as MATLAB's save writes. */
export function writeMat(variables: MatVariable[]): Buffer {
  const header = Buffer.alloc(128, 0x20);
  header.write('MATLAB 5.0 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024', 0, 'latin1');
  header.fill(0, 116, 124); // subsystem data offset
  header.writeUInt16LE(0x0100, 124);
  header.write('IM', 126, 'latin1');
  const parts: Buffer[] = [header];
  for (const v of variables) {
    const flags = Buffer.alloc(8);
    flags.writeUInt32LE(v.classId, 0);
    const dims = Buffer.alloc(4 * v.dims.length);
    v.dims.forEach((d, i) => {
      dims.writeInt32LE(d, 4 * i);
    });
    const nameBytes = Buffer.from(v.name, 'latin1');
    const name = nameBytes.length <= 4 ? smallElement(1, nameBytes) : element(1, nameBytes);
    let data: Buffer;
    if (v.storage === 2) data = Buffer.from(Uint8Array.from(v.values));
    else data = Buffer.from(Float64Array.from(v.values).buffer);
    const body = Buffer.concat([element(6, flags), element(5, dims), name, element(v.storage, data)]);
    const matrix = element(14, body);
    const compressed = deflateSync(matrix);
    const tag = Buffer.alloc(8);
    tag.writeUInt32LE(15, 0);
    tag.writeUInt32LE(compressed.length, 4);
    parts.push(tag, compressed); // compressed elements are not padded
  }
  return Buffer.concat(parts);
}

/** The pixel of SVHN test image i, channel ch, row r, column c (any pattern that tells them apart). */
export function svhnPixel(tag: number, i: number, ch: number, r: number, c: number): number {
  return (tag * 37 + i * 11 + ch * 67 + r * 5 + c * 3) & 0xff;
}

/** An SVHN .mat file of n images with the given labels (1..10), pixels from svhnPixel. */
export function svhnMat(tag: number, labels: number[], yStorage: 2 | 9 = 2): Buffer {
  const n = labels.length;
  const x = new Uint8Array(32 * 32 * 3 * n);
  for (let i = 0; i < n; i++)
    for (let ch = 0; ch < 3; ch++)
      for (let c = 0; c < 32; c++)
        for (let r = 0; r < 32; r++) x[r + 32 * c + 1024 * ch + 3072 * i] = svhnPixel(tag, i, ch, r, c);
  return writeMat([
    { name: 'X', dims: [32, 32, 3, n], classId: 9, values: x, storage: 2 },
    { name: 'y', dims: [n, 1], classId: 6, values: labels, storage: yStorage },
  ]);
}

export async function writeSvhnFolder(dir: string, trainLabels: number[], testLabels: number[]): Promise<void> {
  await mkdir(dir, { recursive: true });
  await writeFile(join(dir, 'train_32x32.mat'), svhnMat(1, trainLabels));
  await writeFile(join(dir, 'test_32x32.mat'), svhnMat(2, testLabels, 9));
}

/** A flat-coloured 64x64 image per class with a bright square whose place depends on the image. */
export function tinyPixels(classIndex: number, k: number): Uint8Array {
  const rgb = new Uint8Array(64 * 64 * 3);
  for (let y = 0; y < 64; y++)
    for (let x = 0; x < 64; x++) {
      const o = 3 * (y * 64 + x);
      const inSquare = x >= 8 * (k % 4) && x < 8 * (k % 4) + 24 && y >= 16 && y < 40;
      rgb[o] = inSquare ? 240 : 40 + 60 * classIndex;
      rgb[o + 1] = inSquare ? 240 : 200 - 50 * classIndex;
      rgb[o + 2] = inSquare ? 240 : 100 + 20 * classIndex;
    }
  return rgb;
}

export interface TinyFolder {
  /** wnids in the order wnids.txt lists them (not sorted, as in the official file). */
  wnids: string[];
  perClassTrain: number;
  /** val images: [file name, class index in sorted-wnid order, k]. */
  val: [string, number, number][];
}

/** A tiny-imagenet-200 folder in the official layout, with quality-100 JPEGs written by sharp. */
export async function writeTinyImageNet(root: string, perClassTrain = 3, valPerClass = 2): Promise<TinyFolder> {
  const wnids = ['n09999999', 'n01443537', 'n02000000']; // sorted: n01443537, n02000000, n09999999
  const sorted = [...wnids].sort();
  await mkdir(join(root, 'val', 'images'), { recursive: true });
  await writeFile(join(root, 'wnids.txt'), `${wnids.join('\n')}\n`);
  const jpeg = (rgb: Uint8Array) =>
    sharp(Buffer.from(rgb), { raw: { width: 64, height: 64, channels: 3 } })
      .jpeg({ quality: 100, chromaSubsampling: '4:4:4' })
      .toBuffer();
  for (const [label, wnid] of sorted.entries()) {
    const images = join(root, 'train', wnid, 'images');
    await mkdir(images, { recursive: true });
    await writeFile(join(root, 'train', wnid, `${wnid}_boxes.txt`), '');
    for (let k = 0; k < perClassTrain; k++)
      await writeFile(join(images, `${wnid}_${k}.JPEG`), await jpeg(tinyPixels(label, k)));
  }
  const val: TinyFolder['val'] = [];
  let index = 0;
  for (let k = 0; k < valPerClass; k++)
    for (const wnid of wnids) {
      const label = sorted.indexOf(wnid);
      const name = `val_${index++}.JPEG`;
      await writeFile(join(root, 'val', 'images', name), await jpeg(tinyPixels(label, k + 1)));
      val.push([name, label, k + 1]);
    }
  const annotations = val.map(([name, label]) => `${name}\t${sorted[label]}\t0\t0\t63\t63`).join('\n');
  await writeFile(join(root, 'val', 'val_annotations.txt'), `${annotations}\n`);
  return { wnids, perClassTrain, val };
}
