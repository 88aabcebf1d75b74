import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  decodeSafetensors,
  encodeSafetensors,
  FormatError,
  type NamedTensor,
  readSafetensors,
  writeSafetensors,
} from '../../src/io/safetensors.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'insalun-safetensors-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A file from a header object and raw data bytes, laid out exactly as given (no padding). */
function handBuilt(header: unknown, data: number[] | Uint8Array = [], headerText = JSON.stringify(header)): Uint8Array {
  const json = new TextEncoder().encode(headerText);
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

const everyDtype: NamedTensor[] = [
  { name: 'conv1.weight', shape: [2, 3], data: Float32Array.from([1.5, -2, 0, 3.25, 1e-30, -Infinity]) },
  { name: 'double', shape: [3], data: Float64Array.from([Math.PI, -0, 1e300]) },
  { name: 'bn1.num_batches_tracked', shape: [], data: BigInt64Array.from([9007199254740993n]) },
  { name: 'indices', shape: [2, 2], data: Int32Array.from([-1, 0, 2147483647, -2147483648]) },
  { name: 'mask', shape: [5], data: Uint8Array.from([0, 1, 1, 0, 255]) },
  { name: 'empty', shape: [0, 4], data: new Float32Array(0) },
];

describe('safetensors round trip', () => {
  it('keeps every dtype, shape, value, order and the metadata', async () => {
    const path = join(dir, 'roundtrip.safetensors');
    const metadata = { format: 'pt', note: 'ünïcode, "quotes"' };
    await writeSafetensors(path, everyDtype, metadata);
    const back = await readSafetensors(path);

    expect(back.metadata).toEqual(metadata);
    expect(back.order).toEqual(everyDtype.map((t) => t.name));
    for (const tensor of everyDtype) {
      const read = back.tensors.get(tensor.name)!;
      expect(read.shape).toEqual(tensor.shape);
      expect(read.data.constructor).toBe(tensor.data.constructor);
      expect(Array.from(read.data as ArrayLike<number | bigint>)).toEqual(
        Array.from(tensor.data as ArrayLike<number | bigint>),
      );
    }
  });

  it('pads the header with spaces to a multiple of 8 and lays tensors out in the given order', () => {
    const bytes = encodeSafetensors([
      { name: 'b', shape: [1], data: Uint8Array.from([7]) },
      { name: 'a', shape: [1], data: Float32Array.from([1]) },
    ]);
    const headerSize = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(headerSize % 8).toBe(0);
    const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + headerSize));
    expect(headerText.trimEnd()).toBe(
      '{"b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},"a":{"dtype":"F32","shape":[1],"data_offsets":[1,5]}}',
    );
    expect(headerText.slice(headerText.trimEnd().length)).toMatch(/^ *$/);
    expect(Array.from(bytes.subarray(8 + headerSize))).toEqual([7, 0, 0, 0x80, 0x3f]); // 1.0f little-endian
  });

  it('writes atomically, leaving only the target in the directory', async () => {
    const sub = join(dir, 'clean');
    await writeSafetensors(join(sub, 'm.safetensors'), everyDtype);
    expect(await readdir(sub)).toEqual(['m.safetensors']);
    expect((await readFile(join(sub, 'm.safetensors'))).length).toBeGreaterThan(8);
  });

  it('writes no __metadata__ key when there is none', () => {
    const bytes = encodeSafetensors([{ name: 'x', shape: [1], data: Int32Array.from([1]) }]);
    expect(new TextDecoder().decode(bytes)).not.toContain('__metadata__');
    expect(decodeSafetensors(bytes).metadata).toEqual({});
  });

  it('rejects data that does not match the shape, and repeated names', () => {
    expect(() => encodeSafetensors([{ name: 'x', shape: [2, 2], data: new Float32Array(3) }])).toThrow(/4 elements/);
    const t = { name: 'x', shape: [1], data: new Float32Array(1) };
    expect(() => encodeSafetensors([t, t])).toThrow(/repeated/);
  });
});

describe('decoding a hand-built file', () => {
  it('reads BF16, unaligned data, and orders tensors by their offsets', () => {
    // 7-byte-long header ("{...}" is not padded), so the data starts unaligned; JSON key order differs
    // from the byte order. bf16 0x3FC0 = 1.5, 0xC000 = -2.
    const header = {
      second: { dtype: 'I32', shape: [1], data_offsets: [4, 8] },
      __metadata__: { who: 'hand' },
      first: { dtype: 'BF16', shape: [2], data_offsets: [0, 4] },
    };
    const file = handBuilt(header, [0xc0, 0x3f, 0x00, 0xc0, 0xfe, 0xff, 0xff, 0xff]);
    const { tensors, order, metadata } = decodeSafetensors(file, 'hand.safetensors');
    expect(order).toEqual(['first', 'second']);
    expect(metadata).toEqual({ who: 'hand' });
    expect(tensors.get('first')!.data).toEqual(Float32Array.from([1.5, -2]));
    expect(tensors.get('second')!.data).toEqual(Int32Array.from([-2]));
  });

  it('copies tensors out of the file buffer, a Node Buffer included', () => {
    // A Buffer's slice() is a view, so this also checks that the copy is a real one.
    const file = Buffer.from(encodeSafetensors([{ name: 'w', shape: [2], data: Float32Array.from([1, 2]) }]));
    const w = decodeSafetensors(file).tensors.get('w')!.data;
    file.fill(0);
    expect(w.buffer).not.toBe(file.buffer);
    expect(Array.from(w as Float32Array)).toEqual([1, 2]);
  });
});

describe('corrupt files', () => {
  const valid = () => encodeSafetensors([{ name: 'w', shape: [4], data: Float32Array.from([1, 2, 3, 4]) }]);
  const info = (dtype: string, shape: number[], begin: number, end: number) => ({
    dtype,
    shape,
    data_offsets: [begin, end],
  });

  const cases: [string, () => Uint8Array, RegExp][] = [
    ['is shorter than the size field', () => Uint8Array.from([1, 2, 3]), /too short/],
    [
      'is truncated in the data',
      () => valid().subarray(0, valid().length - 3),
      /run past the 13 data bytes; truncated/,
    ],
    ['is truncated in the header', () => valid().subarray(0, 20), /header size \d+ runs past the end/],
    [
      'has a header size beyond the file',
      () => {
        const bytes = valid().slice();
        new DataView(bytes.buffer).setBigUint64(0, 1n << 40n, true);
        return bytes;
      },
      /runs past the end of the file/,
    ],
    ['has invalid JSON', () => handBuilt(null, [], '{"w": {'), /not valid JSON/],
    ['has a JSON array header', () => handBuilt([1, 2]), /not a JSON object/],
    ['has an unknown dtype', () => handBuilt({ w: info('F8_E4M3', [1], 0, 1) }, [0]), /unknown dtype "F8_E4M3"/],
    ['has offsets out of range', () => handBuilt({ w: info('U8', [4], 0, 4) }, [1, 2]), /run past the 2 data bytes/],
    [
      'has overlapping tensors',
      () => handBuilt({ a: info('U8', [2], 0, 2), b: info('U8', [2], 1, 3) }, [1, 2, 3]),
      /"b" overlaps tensor "a"/,
    ],
    [
      'has a gap between tensors',
      () => handBuilt({ a: info('U8', [1], 0, 1), b: info('U8', [1], 2, 3) }, [1, 2, 3]),
      /bytes 1\.\.2 belong to no tensor/,
    ],
    ['has trailing bytes', () => handBuilt({ a: info('U8', [1], 0, 1) }, [1, 2]), /bytes 1\.\.2 belong to no tensor/],
    ['has reversed offsets', () => handBuilt({ a: info('U8', [0], 1, 0) }, [1]), /end before they begin/],
    [
      'has a shape that does not match the bytes',
      () => handBuilt({ w: info('F32', [2, 2], 0, 8) }, new Uint8Array(8)),
      /needs 16 bytes but data_offsets span 8/,
    ],
    ['has a negative dimension', () => handBuilt({ w: info('U8', [-1], 0, 0) }), /not a list of non-negative integers/],
    ['has non-string metadata', () => handBuilt({ __metadata__: { epoch: 3 } }), /value of "epoch" is not a string/],
  ];

  it.each(cases)('a file that %s gives a FormatError naming the file', async (_, build, message) => {
    const path = join(dir, 'corrupt.safetensors');
    await writeFile(path, build());
    const error = await readSafetensors(path).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(FormatError);
    expect((error as Error).message).toContain(path);
    expect((error as Error).message).toMatch(message);
  });
});
