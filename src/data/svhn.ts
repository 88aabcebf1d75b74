// SVHN (cropped digits) in the official train_32x32.mat / test_32x32.mat files: MATLAB level-5
// MAT-files holding X, uint8 [32, 32, 3, N] in column-major order (so X(r, c, ch, i) sits at
// r + 32 c + 1024 ch + 3072 i), and y, a double [N, 1] whose label 10 means the digit 0
// (torchvision maps it to 0 too). MATLAB writes each variable as one zlib-compressed element
// (miCOMPRESSED) that inflates to an miMATRIX element; the numeric data inside may be stored in a
// smaller type than the array's class (y, a double array, is usually stored as uint8).
//
// The reader below handles what MAT v5 files of numeric arrays contain: the 128-byte header (either
// byte order), plain and compressed elements, small-format sub-elements and every numeric storage
// type. It does not read cells, structs, sparse or complex arrays (SVHN has none).

import { join } from 'node:path';
import { promisify } from 'node:util';
import { inflate } from 'node:zlib';
import { DataError } from './errors.js';
import { fileExists, readDataFile } from './files.js';
import type { ImageSet } from './image-set.js';

const inflateAsync = promisify(inflate);

const SIDE = 32;
const CHANNELS = 3;
const CLASSES = 10;

export const SVHN_FILES = { train: 'train_32x32.mat', test: 'test_32x32.mat' } as const;

// MAT v5 data types (the tag's type field).
const MI = {
  INT8: 1,
  UINT8: 2,
  INT16: 3,
  UINT16: 4,
  INT32: 5,
  UINT32: 6,
  SINGLE: 7,
  DOUBLE: 9,
  INT64: 12,
  UINT64: 13,
  MATRIX: 14,
  COMPRESSED: 15,
} as const;

const ELEMENT_SIZE: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 2, 5: 4, 6: 4, 7: 4, 9: 8, 12: 8, 13: 8 };

// Array classes (the low byte of the array-flags word) that hold plain numeric data.
const NUMERIC_CLASSES = new Set([6, 7, 8, 9, 10, 11, 12, 13, 14, 15]); // double, single, int8..uint64

/** One numeric variable of a MAT-file: its dimensions and its data in MATLAB's column-major order. */
export interface MatArray {
  name: string;
  /** The array class: 6 double, 7 single, 8 int8, 9 uint8, 10 int16, ... 15 uint64. */
  classId: number;
  dims: number[];
  /** The stored type's values: a Uint8Array when stored as miUINT8 (no copy), else as numbers. */
  data: Uint8Array | Float64Array;
}

interface Element {
  type: number;
  /** The element's data bytes. */
  body: Uint8Array;
  /** Where the next element starts. */
  next: number;
}

function readElement(bytes: Uint8Array, view: DataView, at: number, little: boolean, file: string): Element {
  if (at + 8 > bytes.length) throw new DataError(`MAT-file ${file}: truncated element tag at byte ${at}`);
  const first = view.getUint32(at, little);
  // Small data element format: the upper 16 bits hold the byte count, the data sits in the tag.
  if (first >>> 16 !== 0) {
    const size = first >>> 16;
    if (size > 4) throw new DataError(`MAT-file ${file}: bad small element (${size} bytes) at byte ${at}`);
    return { type: first & 0xffff, body: bytes.subarray(at + 4, at + 4 + size), next: at + 8 };
  }
  const size = view.getUint32(at + 4, little);
  const start = at + 8;
  if (start + size > bytes.length) {
    throw new DataError(
      `MAT-file ${file}: element at byte ${at} needs ${size} bytes, only ${bytes.length - start} left (truncated?)`,
    );
  }
  // Compressed elements are not padded; the others are padded to a multiple of 8 bytes.
  const next = first === MI.COMPRESSED ? start + size : start + Math.ceil(size / 8) * 8;
  return { type: first, body: bytes.subarray(start, start + size), next };
}

function numbers(el: Element, little: boolean, file: string, what: string): Uint8Array | Float64Array {
  const size = ELEMENT_SIZE[el.type];
  if (size === undefined) throw new DataError(`MAT-file ${file}: ${what} has non-numeric storage type ${el.type}`);
  if (el.type === MI.UINT8) return el.body;
  const count = el.body.length / size;
  if (!Number.isInteger(count))
    throw new DataError(`MAT-file ${file}: ${what} is ${el.body.length} bytes, not whole values`);
  const view = new DataView(el.body.buffer, el.body.byteOffset, el.body.byteLength);
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const o = i * size;
    switch (el.type) {
      case MI.INT8:
        out[i] = view.getInt8(o);
        break;
      case MI.INT16:
        out[i] = view.getInt16(o, little);
        break;
      case MI.UINT16:
        out[i] = view.getUint16(o, little);
        break;
      case MI.INT32:
        out[i] = view.getInt32(o, little);
        break;
      case MI.UINT32:
        out[i] = view.getUint32(o, little);
        break;
      case MI.SINGLE:
        out[i] = view.getFloat32(o, little);
        break;
      case MI.DOUBLE:
        out[i] = view.getFloat64(o, little);
        break;
      case MI.INT64:
        out[i] = Number(view.getBigInt64(o, little));
        break;
      case MI.UINT64:
        out[i] = Number(view.getBigUint64(o, little));
        break;
    }
  }
  return out;
}

/** An miMATRIX element's body: flags, dimensions, name, real part. */
function parseMatrix(body: Uint8Array, little: boolean, file: string): MatArray | null {
  const view = new DataView(body.buffer, body.byteOffset, body.byteLength);
  const flags = readElement(body, view, 0, little, file);
  if (flags.type !== MI.UINT32 || flags.body.length < 4) throw new DataError(`MAT-file ${file}: bad array flags`);
  const flagWord = new DataView(flags.body.buffer, flags.body.byteOffset, 4).getUint32(0, little);
  const classId = flagWord & 0xff;
  const complex = (flagWord & 0x800) !== 0;
  const dimsEl = readElement(body, view, flags.next, little, file);
  const dims = Array.from(numbers(dimsEl, little, file, 'dimensions'));
  const nameEl = readElement(body, view, dimsEl.next, little, file);
  const name = new TextDecoder('latin1').decode(nameEl.body);
  if (!NUMERIC_CLASSES.has(classId) || complex) return null; // cells, structs, sparse, char, complex: skipped
  const realEl = readElement(body, view, nameEl.next, little, file);
  const data = numbers(realEl, little, file, `variable '${name}'`);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (data.length !== expected) {
    throw new DataError(
      `MAT-file ${file}: variable '${name}' has dimensions [${dims.join(', ')}] but ${data.length} values`,
    );
  }
  return { name, classId, dims, data };
}

/** The numeric variables of a MAT v5 file, by name (other kinds of variable are skipped). */
export async function parseMat(bytes: Uint8Array, file: string): Promise<Map<string, MatArray>> {
  if (bytes.length < 128) throw new DataError(`MAT-file ${file}: ${bytes.length} bytes, too short for a header`);
  const text = new TextDecoder('latin1').decode(bytes.subarray(0, 116));
  if (!text.startsWith('MATLAB 5.0 MAT-file')) {
    const hint = text.startsWith('MATLAB 7.3') || bytes[0] === 0x89 ? ' (v7.3 / HDF5 files are not supported)' : '';
    throw new DataError(`MAT-file ${file}: not a MATLAB level-5 MAT-file${hint}`);
  }
  const endian = String.fromCharCode(bytes[126], bytes[127]);
  if (endian !== 'IM' && endian !== 'MI') throw new DataError(`MAT-file ${file}: bad byte-order mark '${endian}'`);
  const little = endian === 'IM';
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const vars = new Map<string, MatArray>();
  let at = 128;
  while (at + 8 <= bytes.length) {
    const el = readElement(bytes, view, at, little, file);
    at = el.next;
    let matrix: Uint8Array;
    if (el.type === MI.COMPRESSED) {
      let inflated: Uint8Array;
      try {
        inflated = await inflateAsync(el.body);
      } catch (err) {
        throw new DataError(`MAT-file ${file}: a compressed element does not inflate (${(err as Error).message})`);
      }
      const innerView = new DataView(inflated.buffer, inflated.byteOffset, inflated.byteLength);
      const inner = readElement(inflated, innerView, 0, little, file);
      if (inner.type !== MI.MATRIX) continue;
      matrix = inner.body;
    } else if (el.type === MI.MATRIX) {
      matrix = el.body;
    } else {
      continue;
    }
    const array = parseMatrix(matrix, little, file);
    if (array) vars.set(array.name, array);
  }
  return vars;
}

/** X and y of an SVHN file as an ImageSet (CHW planes, row-major; label 10 becomes 0). */
export function svhnImageSet(vars: Map<string, MatArray>, file: string): ImageSet {
  const x = vars.get('X');
  const y = vars.get('y');
  if (!x || !y) throw new DataError(`SVHN: ${file} has no ${x ? 'y' : 'X'} variable`);
  const [h, w, c, n] = x.dims.length === 3 ? [...x.dims, 1] : x.dims;
  if (x.dims.length > 4 || h !== SIDE || w !== SIDE || c !== CHANNELS || !(x.data instanceof Uint8Array)) {
    throw new DataError(
      `SVHN: ${file} variable X is [${x.dims.join(', ')}] stored as ${x.data instanceof Uint8Array ? 'uint8' : 'numbers'}, expected uint8 [32, 32, 3, N]`,
    );
  }
  if (y.data.length !== n) throw new DataError(`SVHN: ${file} holds ${n} images but ${y.data.length} labels`);
  const plane = SIDE * SIDE;
  const images = new Uint8Array(n * CHANNELS * plane);
  const src = x.data;
  // Column-major X(r, col, ch, i) -> row-major [i][ch][r][col].
  for (let p = 0; p < n * CHANNELS; p++) {
    const base = p * plane;
    for (let col = 0; col < SIDE; col++) {
      const from = base + col * SIDE;
      for (let r = 0; r < SIDE; r++) images[base + r * SIDE + col] = src[from + r];
    }
  }
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const v = y.data[i];
    if (!(Number.isInteger(v) && v >= 0 && v <= CLASSES)) {
      throw new DataError(`SVHN: ${file} label ${i} is ${v}, expected 1..10 (10 for the digit 0)`);
    }
    labels[i] = v === 10 ? 0 : v;
  }
  return { images, labels, n, channels: CHANNELS, height: SIDE, width: SIDE };
}

export interface SvhnData {
  classes: number;
  train: ImageSet;
  test: ImageSet;
  dir: string;
}

/** Reads train_32x32.mat and test_32x32.mat from `dir` or `dir/svhn`. */
export async function loadSvhn(dir: string): Promise<SvhnData> {
  const candidates = [dir, join(dir, 'svhn')];
  let found: string | undefined;
  for (const candidate of candidates) {
    if (await fileExists(join(candidate, SVHN_FILES.test))) {
      found = candidate;
      break;
    }
  }
  if (found === undefined) {
    throw new DataError(
      `SVHN: ${SVHN_FILES.test} not found in ${candidates.join(' or ')} ` +
        `(expected the official ${SVHN_FILES.train} and ${SVHN_FILES.test})`,
    );
  }
  const read = async (name: string) => {
    const path = join(found, name);
    return svhnImageSet(await parseMat(await readDataFile(path, 'SVHN'), path), path);
  };
  const train = await read(SVHN_FILES.train);
  const test = await read(SVHN_FILES.test);
  return { classes: CLASSES, train, test, dir: found };
}
