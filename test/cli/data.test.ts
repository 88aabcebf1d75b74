// `insalun data download` in-process, against a local server; then `insalun train` reads the data
// set from the default data folder without --data-dir.
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { md5, TestServer, tinyCifar10Archive } from '../helpers/download-server.js';

let server: TestServer;
let work: string;
let archive: Buffer;
const savedEnv = { ...process.env };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'insalun-cli-data-'));
  archive = await tinyCifar10Archive(join(work, 'archive'));
  server = new TestServer();
  process.env.INSALUN_DATA_MIRROR = await server.start();
  process.env.INSALUN_DATA_DIR = join(work, 'data');
});
afterAll(async () => {
  process.env = savedEnv;
  await server.close();
  await rm(work, { recursive: true, force: true });
});

it('data download fetches CIFAR-10 into the default data folder, and train finds it without --data-dir', async () => {
  server.files.set('/cifar10/cifar-10-binary.tar.gz', { body: archive });
  const sources = join(work, 'sources.json');
  await writeFile(
    sources,
    JSON.stringify({ cifar10: { files: [{ name: 'cifar-10-binary.tar.gz', md5: md5(archive) }] } }),
  );
  process.env.INSALUN_DATA_SOURCES = sources;
  try {
    const r = await runCli('data', 'download', 'cifar10');
    expect(r.err).toContain('cifar-10-binary.tar.gz: ');
    expect(r.out).toBe(`cifar10: ready in ${join(work, 'data', 'cifar-10-batches-bin')}\n`);
    expect(r.code).toBe(0);
  } finally {
    delete process.env.INSALUN_DATA_SOURCES;
  }
  const train = await runCli(
    'train',
    '--dataset',
    'cifar10',
    '--epochs',
    '1',
    '--width',
    '4',
    '--batch-size',
    '5',
    '--val-fraction',
    '0',
    '--device',
    'cpu',
    '--out',
    join(work, 'run'),
  );
  expect(train.err).not.toMatch(/error/);
  expect(train.code).toBe(0);
  expect(train.out).toMatch(/^done: train .* test .*%/);
});

it('a checksum mismatch is one line on stderr and a non-zero exit, with nothing left behind', async () => {
  const dir = join(work, 'other');
  server.files.set('/cifar100/cifar-100-binary.tar.gz', { body: archive });
  const r = await runCli('data', 'download', 'cifar100', '--dir', dir);
  expect(r.code).toBe(1);
  expect(r.err.trim().split('\n').at(-1)).toMatch(
    /^insalun: error: cifar100: checksum mismatch for cifar-100-binary\.tar\.gz from .*: md5 [0-9a-f]{32}, expected 03b5dce01913d631647c71ecec9e9cb8; /,
  );
  expect(r.err.split('\n').filter((l) => l.startsWith('insalun: error'))).toHaveLength(1);
  expect(await readdir(dir)).toEqual([]);
});

it('an unknown data set name is refused with the list', async () => {
  const r = await runCli('data', 'download', 'imagenet');
  expect(r.code).toBe(1);
  expect(r.err).toBe(
    "insalun: error: cannot download 'imagenet'; downloadable data sets: cifar10, cifar100, mnist, fashion-mnist, svhn\n",
  );
});
