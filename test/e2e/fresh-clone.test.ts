// What a new user does after `npm install`, in order, with no data on the machine: download
// Fashion-MNIST (from a local server serving files in the official format, as a mirror), train,
// compare and report, every command finding the data in the default data folder.
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { md5, TestServer } from '../helpers/download-server.js';

/** An IDX file (big-endian header: magic, then each dimension) of `data`, gzipped as the official files are. */
function idxGz(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  for (const [i, d] of dims.entries()) header.writeUInt32BE(d, 4 + 4 * i);
  return gzipSync(Buffer.concat([header, data]));
}

/** n 28x28 images whose class shows in their brightness, so a tiny model learns something. */
function images(n: number, seed: number): Buffer {
  let state = seed;
  const pixels = new Uint8Array(n * 784);
  for (let i = 0; i < pixels.length; i++) {
    state = (state * 1103515245 + 12345) % 2147483648;
    pixels[i] = ((Math.floor(i / 784) % 10) * 25 + (state % 20)) & 0xff;
  }
  return idxGz(0x803, [n, 28, 28], pixels);
}

const labels = (n: number) =>
  idxGz(
    0x801,
    [n],
    Uint8Array.from({ length: n }, (_, i) => i % 10),
  );

const files: Record<string, Buffer> = {
  'train-images-idx3-ubyte.gz': images(120, 1),
  'train-labels-idx1-ubyte.gz': labels(120),
  't10k-images-idx3-ubyte.gz': images(40, 2),
  't10k-labels-idx1-ubyte.gz': labels(40),
};

let work: string;
let server: TestServer;
const savedEnv = { ...process.env };

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'insalun-fresh-'));
  server = new TestServer();
  for (const [name, body] of Object.entries(files)) server.files.set(`/fashion-mnist/${name}`, { body });
  process.env.INSALUN_DATA_MIRROR = await server.start();
  process.env.INSALUN_DATA_DIR = join(work, 'data');
  const sources = join(work, 'sources.json');
  await writeFile(
    sources,
    JSON.stringify({
      'fashion-mnist': { files: Object.entries(files).map(([name, body]) => ({ name, md5: md5(body) })) },
    }),
  );
  process.env.INSALUN_DATA_SOURCES = sources;
});
afterAll(async () => {
  process.env = savedEnv;
  await server.close();
  await rm(work, { recursive: true, force: true });
});

it('data download fashion-mnist, then train, compare and report find it without --data-dir', async () => {
  const download = await runCli('data', 'download', 'fashion-mnist');
  expect(download.code, download.err).toBe(0);
  expect(download.out).toBe(`fashion-mnist: ready in ${join(work, 'data', 'fashion-mnist')}\n`);

  const trained = join(work, 'train');
  const train = await runCli(
    ...['train', '--dataset', 'fashion-mnist', '--width', '4', '--epochs', '1', '--batch-size', '32'],
    ...['--device', 'cpu', '--out', trained],
  );
  expect(train.code, train.err).toBe(0);
  expect(existsSync(join(trained, 'best.safetensors'))).toBe(true);

  const config = join(work, 'compare.json');
  await writeFile(
    config,
    JSON.stringify({
      name: 'fresh clone',
      dataset: 'fashion-mnist',
      width: 4,
      train: { epochs: 2, batchSize: 32, schedule: 'cosine', augment: false },
      forget: 'random:10%',
      seeds: [1],
      includeOriginal: true,
      methods: [
        { name: 'Retrain', method: 'retrain' },
        {
          name: 'SalUn',
          method: 'rl',
          hyper: { epochs: 1, batchSize: 32, augment: false },
          mask: { method: 'grad', ratio: 0.5 },
        },
      ],
    }),
  );
  const compared = join(work, 'compare');
  const compare = await runCli('compare', '--config', config, '--device', 'cpu', '--out', compared);
  expect(compare.code, compare.err).toBe(0);
  expect(compare.out).toMatch(/SalUn/);

  const report = await runCli('report', compared);
  expect(report.code, report.err).toBe(0);
  const html = await readFile(join(compared, 'report.html'), 'utf8');
  expect(html).toMatch(/<svg/);
  expect(html).toMatch(/SalUn/);
  expect(html).toMatch(/Retrain/);
}, 120_000);
