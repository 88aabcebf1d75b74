// `insalun data download` against a local HTTP server that serves small archives in the official
// formats: checksums, resumption with Range, atomic installation, and the loaders reading the result.
import { mkdir, mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { defaultDataDir } from '../../src/data/data-dir.js';
import { loadDataset } from '../../src/data/dataset.js';
import { DATA_SOURCES, type DownloadOptions, downloadDataset, sourceUrl } from '../../src/data/download.js';
import { DataError } from '../../src/data/errors.js';
import { md5, TestServer, tinyCifar10Archive, tinyMnist } from '../helpers/download-server.js';

let server: TestServer;
let base: string;
let work: string;
let dataDir: string;
let cifarArchive: Buffer;

beforeAll(async () => {
  server = new TestServer();
  base = await server.start();
  const archiveDir = await mkdtemp(join(tmpdir(), 'insalun-archive-'));
  cifarArchive = await tinyCifar10Archive(archiveDir);
  await rm(archiveDir, { recursive: true, force: true });
});
afterAll(() => server.close());

beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'insalun-download-'));
  dataDir = join(work, 'data');
  server.files.clear();
  server.requests = [];
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

/** Options that fetch cifar10 from the test server with the test archive's checksum. */
function cifarOptions(extra: Partial<DownloadOptions> = {}): DownloadOptions {
  return {
    dir: dataDir,
    mirror: base,
    env: {},
    sources: { cifar10: { files: [{ name: 'cifar-10-binary.tar.gz', md5: md5(cifarArchive) }] } },
    ...extra,
  };
}

describe('the source table', () => {
  it('lists the binary CIFAR archives and torchvision files with their MD5s, mirrors overridable', () => {
    expect(DATA_SOURCES.cifar10.files).toEqual([
      { name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530' },
    ]);
    expect(DATA_SOURCES.cifar100.files[0].md5).toBe('03b5dce01913d631647c71ecec9e9cb8');
    const mnist = DATA_SOURCES.mnist;
    expect(sourceUrl('mnist', mnist, mnist.files[0], { env: {} })).toBe(
      'https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz',
    );
    expect(sourceUrl('mnist', mnist, mnist.files[0], { env: { INSALUN_DATA_MIRROR: 'http://m/x' } })).toBe(
      'http://m/x/mnist/train-images-idx3-ubyte.gz',
    );
    const svhn = DATA_SOURCES.svhn;
    expect(
      sourceUrl('svhn', svhn, svhn.files[1], {
        env: { INSALUN_DATA_MIRROR: 'http://m/', INSALUN_DATA_MIRROR_SVHN: 'http://s/h' },
      }),
    ).toBe('http://s/h/test_32x32.mat');
  });

  it('the default data folder is $INSALUN_DATA_DIR, else $XDG_CACHE_HOME/insalun/data, else ~/.cache/insalun/data', () => {
    expect(defaultDataDir({ INSALUN_DATA_DIR: '/d', XDG_CACHE_HOME: '/x' })).toBe('/d');
    expect(defaultDataDir({ XDG_CACHE_HOME: '/x' })).toBe(join('/x', 'insalun', 'data'));
    expect(defaultDataDir({ XDG_CACHE_HOME: 'relative' })).toMatch(/\.cache[/\\]insalun[/\\]data$/);
  });
});

describe('downloadDataset', () => {
  it('fetches CIFAR-10, checks it and unpacks it where the loader finds it, leaving nothing else', async () => {
    server.files.set('/cifar10/cifar-10-binary.tar.gz', { body: cifarArchive });
    const result = await downloadDataset('cifar10', cifarOptions());
    expect(result).toEqual({
      name: 'cifar10',
      folder: join(dataDir, 'cifar-10-batches-bin'),
      dataDir,
      downloaded: true,
    });
    expect(await readdir(dataDir)).toEqual(['cifar-10-batches-bin']);
    const d = await loadDataset('cifar10', { dataDir });
    expect([d.train.n, d.test.n]).toEqual([10, 3]);
    expect(Array.from(d.test.labels)).toEqual([9, 0, 3]);

    // A second run finds it there and fetches nothing.
    const again = await downloadDataset('cifar10', cifarOptions());
    expect(again.downloaded).toBe(false);
    expect(server.requests).toHaveLength(1);
  });

  it('a corrupted archive fails its checksum with one line, and nothing is left in the data folder', async () => {
    const corrupted = Buffer.from(cifarArchive);
    corrupted[corrupted.length >> 1] ^= 0xff;
    server.files.set('/cifar10/cifar-10-binary.tar.gz', { body: corrupted });
    const err = await downloadDataset('cifar10', cifarOptions()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    const message = (err as Error).message;
    expect(message).not.toContain('\n');
    expect(message).toBe(
      `cifar10: checksum mismatch for cifar-10-binary.tar.gz from ${base}/cifar10/cifar-10-binary.tar.gz: ` +
        `md5 ${md5(corrupted)}, expected ${md5(cifarArchive)}; the file was deleted (a corrupted transfer or a wrong mirror), ` +
        'run the command again to retry',
    );
    expect(await readdir(dataDir)).toEqual([]);
    await expect(loadDataset('cifar10', { dataDir })).rejects.toThrow(/test_batch\.bin not found/);
  });

  it('a connection dropped midway keeps the .partial; the next run resumes it with a Range request', async () => {
    const half = cifarArchive.length >> 1;
    server.files.set('/cifar10/cifar-10-binary.tar.gz', { body: cifarArchive, dropAfter: { bytes: half, times: 1 } });
    const err = await downloadDataset('cifar10', cifarOptions()).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DataError);
    const url = `${base}/cifar10/cifar-10-binary.tar.gz`;
    expect((err as Error).message).toMatch(
      new RegExp(
        `^cifar10: download of ${url.replace(/[.]/g, '\\.')} failed \\(.+\\) after ${half} of ${cifarArchive.length} bytes; run the command again to resume$`,
      ),
    );
    const partial = join(dataDir, '.downloads', 'cifar10', 'cifar-10-binary.tar.gz.partial');
    expect((await stat(partial)).size).toBe(half);
    expect(await readdir(dataDir)).toEqual(['.downloads']); // nothing a loader would read

    const seen: number[] = [];
    const result = await downloadDataset(
      'cifar10',
      cifarOptions({ progress: { start: (_f, _u, _t, at) => seen.push(at), advance: () => {}, end: () => {} } }),
    );
    expect(result.downloaded).toBe(true);
    expect(seen).toEqual([half]);
    expect(server.requests.map((r) => r.range)).toEqual([undefined, `bytes=${half}-`]);
    expect(await readdir(dataDir)).toEqual(['cifar-10-batches-bin']);
    expect((await loadDataset('cifar10', { dataDir })).train.n).toBe(10);
  });

  it('fetches the four MNIST gz files into <dir>/mnist, read by the IDX loader', async () => {
    const files = tinyMnist();
    for (const [name, body] of Object.entries(files)) server.files.set(`/mnist/${name}`, { body });
    const result = await downloadDataset('mnist', {
      dir: dataDir,
      env: { INSALUN_DATA_MIRROR: base },
      sources: { mnist: { files: Object.entries(files).map(([name, body]) => ({ name, md5: md5(body) })) } },
    });
    expect(result.folder).toBe(join(dataDir, 'mnist'));
    expect((await readdir(join(dataDir, 'mnist'))).sort()).toEqual(Object.keys(files).sort());
    expect(await readdir(dataDir)).toEqual(['mnist']);
    const d = await loadDataset('mnist', { dataDir });
    expect([d.train.n, d.test.n, d.train.height]).toEqual([6, 3, 28]);
  });

  it('a server that cannot be reached is one line naming the URL', async () => {
    const err = await downloadDataset('svhn', { dir: dataDir, mirror: 'http://127.0.0.1:1', env: {} }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(DataError);
    expect((err as Error).message).toMatch(
      /^svhn: download of http:\/\/127\.0\.0\.1:1\/svhn\/train_32x32\.mat failed \(.*ECONNREFUSED.*\)$/,
    );
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('an HTTP error status is one line', async () => {
    const err = await downloadDataset('cifar100', { dir: dataDir, mirror: base, env: {} }).catch((e: unknown) => e);
    expect((err as Error).message).toBe(
      `cifar100: download of ${base}/cifar100/cifar-100-binary.tar.gz failed (HTTP 404 Not Found)`,
    );
    expect(await readdir(dataDir)).toEqual([]);
  });

  it('refuses an incomplete folder that is in the way unless --force', async () => {
    await mkdir(join(dataDir, 'cifar-10-batches-bin'), { recursive: true });
    server.files.set('/cifar10/cifar-10-binary.tar.gz', { body: cifarArchive });
    await expect(downloadDataset('cifar10', cifarOptions())).rejects.toThrow(
      /cifar-10-batches-bin exists but lacks data_batch_1\.bin, .*pass --force to replace it$/,
    );
    const result = await downloadDataset('cifar10', cifarOptions({ force: true }));
    expect(result.downloaded).toBe(true);
    expect(await readdir(dataDir)).toEqual(['cifar-10-batches-bin']);
  });

  it('loadDataset without a data directory reads the default data folder ($INSALUN_DATA_DIR)', async () => {
    server.files.set('/cifar10/cifar-10-binary.tar.gz', { body: cifarArchive });
    await downloadDataset('cifar10', cifarOptions());
    const saved = process.env.INSALUN_DATA_DIR;
    process.env.INSALUN_DATA_DIR = dataDir;
    try {
      const d = await loadDataset('cifar10');
      expect(d.source).toContain(join(dataDir, 'cifar-10-batches-bin'));
    } finally {
      if (saved === undefined) delete process.env.INSALUN_DATA_DIR;
      else process.env.INSALUN_DATA_DIR = saved;
    }
  });
});
