// The safetensors file format (https://github.com/huggingface/safetensors), as PyTorch and the
// Hugging Face libraries read and write it:
//   8 bytes   little-endian u64 N, the header size
//   N bytes   JSON: {"__metadata__"?: {string: string}, name: {dtype, shape, data_offsets: [begin, end]}}
//             padded with spaces so that the data starts 8-byte aligned
//   rest      the tensors' bytes, little-endian; offsets are relative to the start of this part,
//             and the tensors cover it exactly, without gaps or overlaps.

import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from './atomic.js';

export type TensorData = Float32Array | BigInt64Array | Int32Array | Uint8Array | Float64Array;

export interface NamedTensor {
  name: string;
  shape: number[];
  data: TensorData;
}

export interface SafetensorsContent {
  tensors: Map<string, NamedTensor>;
  /** tensor names in the order of their bytes in the file */
  order: string[];
  metadata: Record<string, string>;
}

/** dtypes this module reads. BF16 is widened to Float32Array on read and never written. */
export type Dtype = 'F32' | 'F64' | 'I64' | 'I32' | 'U8' | 'BF16';

const ITEM_BYTES: Record<Dtype, number> = { F32: 4, F64: 8, I64: 8, I32: 4, U8: 1, BF16: 2 };

// The reference implementation refuses larger headers; so do we, before allocating a string for one.
const MAX_HEADER_BYTES = 100_000_000;

const METADATA_KEY = '__metadata__';

export class FormatError extends Error {
  override name = 'FormatError';
}

// Typed arrays use the host's byte order and the format is little-endian; every platform Node
// supports today is little-endian, so a check replaces byte swapping.
if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
  throw new Error('safetensors.ts assumes a little-endian host');
}

/** The safetensors dtype a typed array is written as. */
export function dtypeOf(data: TensorData): Exclude<Dtype, 'BF16'> {
  if (data instanceof Float32Array) return 'F32';
  if (data instanceof Float64Array) return 'F64';
  if (data instanceof BigInt64Array) return 'I64';
  if (data instanceof Int32Array) return 'I32';
  if (data instanceof Uint8Array) return 'U8';
  throw new TypeError('unsupported tensor data type');
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((count, dim) => count * dim, 1);
}

function isShape(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((dim) => Number.isSafeInteger(dim) && dim >= 0);
}

export function encodeSafetensors(tensors: NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  // A null-prototype object, so that a tensor named "__proto__" stays an ordinary key.
  const header: Record<string, unknown> = Object.create(null);
  for (const [key, value] of Object.entries(metadata)) {
    if (typeof value !== 'string') throw new TypeError(`metadata value of "${key}" is not a string`);
  }
  if (Object.keys(metadata).length > 0) header[METADATA_KEY] = { ...metadata };

  let offset = 0;
  for (const { name, shape, data } of tensors) {
    if (name === METADATA_KEY || name in header) throw new TypeError(`tensor name "${name}" is reserved or repeated`);
    if (!isShape(shape))
      throw new TypeError(`tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
    if (elementCount(shape) !== data.length) {
      throw new TypeError(
        `tensor "${name}": shape [${shape}] has ${elementCount(shape)} elements but the data has ${data.length}`,
      );
    }
    header[name] = { dtype: dtypeOf(data), shape, data_offsets: [offset, offset + data.byteLength] };
    offset += data.byteLength;
  }

  const json = new TextEncoder().encode(JSON.stringify(header));
  const headerBytes = Math.ceil(json.length / 8) * 8;
  const out = new Uint8Array(8 + headerBytes + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerBytes), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + headerBytes); // space padding
  let position = 8 + headerBytes;
  for (const { data } of tensors) {
    out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), position);
    position += data.byteLength;
  }
  return out;
}

interface TensorInfo {
  name: string;
  dtype: Dtype;
  shape: number[];
  begin: number;
  end: number;
}

function parseTensorInfo(name: string, value: unknown, fail: (message: string) => FormatError): TensorInfo {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw fail(`tensor "${name}": entry is not an object`);
  const { dtype, shape, data_offsets: offsets } = value as Record<string, unknown>;
  if (typeof dtype !== 'string' || !Object.hasOwn(ITEM_BYTES, dtype)) {
    throw fail(
      `tensor "${name}": unknown dtype ${JSON.stringify(dtype)} (supported: ${Object.keys(ITEM_BYTES).join(', ')})`,
    );
  }
  if (!isShape(shape))
    throw fail(`tensor "${name}": shape ${JSON.stringify(shape)} is not a list of non-negative integers`);
  if (!isShape(offsets) || offsets.length !== 2) {
    throw fail(`tensor "${name}": data_offsets ${JSON.stringify(offsets)} is not a pair of non-negative integers`);
  }
  const [begin, end] = offsets as [number, number];
  if (end < begin) throw fail(`tensor "${name}": data_offsets [${begin}, ${end}] end before they begin`);
  const info: TensorInfo = { name, dtype: dtype as Dtype, shape, begin, end };
  const expected = elementCount(shape) * ITEM_BYTES[info.dtype];
  if (expected !== end - begin) {
    throw fail(
      `tensor "${name}": shape [${shape}] of ${dtype} needs ${expected} bytes but data_offsets span ${end - begin}`,
    );
  }
  return info;
}

function parseMetadata(value: unknown, fail: (message: string) => FormatError): Record<string, string> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw fail(`${METADATA_KEY} is not an object`);
  const metadata: Record<string, string> = {};
  for (const [key, item] of Object.entries(value)) {
    if (typeof item !== 'string') throw fail(`${METADATA_KEY} value of "${key}" is not a string`);
    metadata[key] = item;
  }
  return metadata;
}

/** Copies the bytes into a fresh, aligned buffer: views into the file buffer could be misaligned. */
function toTypedArray(dtype: Dtype, bytes: Uint8Array): TensorData {
  // Not bytes.slice(): on a Node Buffer, slice() returns a view, not a copy.
  const copy = new Uint8Array(bytes);
  switch (dtype) {
    case 'F32':
      return new Float32Array(copy.buffer);
    case 'F64':
      return new Float64Array(copy.buffer);
    case 'I64':
      return new BigInt64Array(copy.buffer);
    case 'I32':
      return new Int32Array(copy.buffer);
    case 'U8':
      return copy;
    case 'BF16': {
      // bfloat16 is the upper half of a float32.
      const halves = new Uint16Array(copy.buffer);
      const words = new Uint32Array(halves.length);
      for (let i = 0; i < halves.length; i++) words[i] = halves[i]! << 16;
      return new Float32Array(words.buffer);
    }
  }
}

/** Parses a whole safetensors file held in memory; `source` names it in error messages. */
export function decodeSafetensors(bytes: Uint8Array, source = '<buffer>'): SafetensorsContent {
  const fail = (message: string) => new FormatError(`${source}: not a valid safetensors file: ${message}`);
  if (bytes.length < 8) throw fail(`${bytes.length} bytes is too short for the 8-byte header size`);

  const headerSize = new DataView(bytes.buffer, bytes.byteOffset, 8).getBigUint64(0, true);
  if (headerSize > BigInt(bytes.length - 8)) {
    throw fail(`header size ${headerSize} runs past the end of the file (${bytes.length} bytes); truncated?`);
  }
  if (headerSize > BigInt(MAX_HEADER_BYTES)) throw fail(`header size ${headerSize} exceeds ${MAX_HEADER_BYTES} bytes`);
  const dataStart = 8 + Number(headerSize);

  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes.subarray(8, dataStart)));
  } catch (error) {
    throw fail(`header is not valid JSON (${(error as Error).message})`);
  }
  if (typeof header !== 'object' || header === null || Array.isArray(header)) throw fail('header is not a JSON object');

  let metadata: Record<string, string> = {};
  const infos: TensorInfo[] = [];
  for (const [name, value] of Object.entries(header)) {
    if (name === METADATA_KEY) metadata = parseMetadata(value, fail);
    else infos.push(parseTensorInfo(name, value, fail));
  }

  // The tensors must tile the data part exactly; check in byte order.
  const data = bytes.subarray(dataStart);
  infos.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let covered = 0;
  let previous = '';
  for (const info of infos) {
    if (info.end > data.length) {
      throw fail(
        `tensor "${info.name}": data_offsets [${info.begin}, ${info.end}] run past the ${data.length} data bytes; truncated?`,
      );
    }
    if (info.begin < covered) throw fail(`tensor "${info.name}" overlaps tensor "${previous}"`);
    if (info.begin > covered) throw fail(`data bytes ${covered}..${info.begin} belong to no tensor`);
    covered = info.end;
    previous = info.name;
  }
  if (covered !== data.length) throw fail(`data bytes ${covered}..${data.length} belong to no tensor`);

  const tensors = new Map<string, NamedTensor>();
  for (const { name, dtype, shape, begin, end } of infos) {
    tensors.set(name, { name, shape, data: toTypedArray(dtype, data.subarray(begin, end)) });
  }
  return { tensors, order: infos.map((info) => info.name), metadata };
}

export async function readSafetensors(path: string): Promise<SafetensorsContent> {
  return decodeSafetensors(await readFile(path), path);
}

/** Writes atomically: a crash leaves the previous file or the new one, never a torn checkpoint. */
export async function writeSafetensors(
  path: string,
  tensors: NamedTensor[],
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, encodeSafetensors(tensors, metadata));
}
