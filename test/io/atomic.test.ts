import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { writeFileAtomic, writeJsonAtomic } from '../../src/io/atomic.js';

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'insalun-atomic-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('writeFileAtomic', () => {
  it('creates parent directories and leaves no temp file', async () => {
    const path = join(dir, 'a', 'b', 'out.bin');
    await writeFileAtomic(path, Uint8Array.from([1, 2, 3]));
    expect(Array.from(await readFile(path))).toEqual([1, 2, 3]);
    expect(await readdir(join(dir, 'a', 'b'))).toEqual(['out.bin']);
  });

  it('replaces an existing file', async () => {
    const path = join(dir, 'out.txt');
    await writeFile(path, 'old contents, longer than the new ones');
    await writeFileAtomic(path, 'new');
    expect(await readFile(path, 'utf8')).toBe('new');
    expect(await readdir(dir)).toEqual(['out.txt']);
  });

  it('keeps the old target and removes the temp file when writing fails midway', async () => {
    const path = join(dir, 'out.txt');
    await writeFile(path, 'old');
    // Not a string or bytes: the temp file is opened, then writing it throws.
    const bad = { not: 'data' } as unknown as string;
    await expect(writeFileAtomic(path, bad)).rejects.toThrow();
    expect(await readFile(path, 'utf8')).toBe('old');
    expect(await readdir(dir)).toEqual(['out.txt']);
  });

  it('removes the temp file when the final rename fails (the target is a directory)', async () => {
    const path = join(dir, 'taken');
    await mkdir(path);
    await expect(writeFileAtomic(path, 'data')).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['taken']);
    expect((await stat(path)).isDirectory()).toBe(true);
  });

  it('fails without writing anything when the parent directory is a file', async () => {
    await writeFile(join(dir, 'file'), 'x');
    await expect(writeFileAtomic(join(dir, 'file', 'out.txt'), 'data')).rejects.toThrow();
    expect(await readdir(dir)).toEqual(['file']);
    expect(await readFile(join(dir, 'file'), 'utf8')).toBe('x');
  });
});

describe('writeJsonAtomic', () => {
  it('writes pretty JSON with a trailing newline', async () => {
    const path = join(dir, 'v.json');
    await writeJsonAtomic(path, { a: 1, b: [true, null] });
    expect(await readFile(path, 'utf8')).toBe('{\n  "a": 1,\n  "b": [\n    true,\n    null\n  ]\n}\n');
  });

  it('refuses a value JSON cannot represent', async () => {
    await expect(writeJsonAtomic(join(dir, 'u.json'), undefined)).rejects.toThrow(/not representable/);
    expect(await readdir(dir)).toEqual([]);
  });
});
