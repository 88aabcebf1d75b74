// Test helpers for `insalun data download`: a local HTTP file server with Range support and
// small archives in the official formats.
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { c as createTar } from 'tar';

const PIXELS = 3072;

export function md5(bytes: Uint8Array): string {
  return createHash('md5').update(bytes).digest('hex');
}

/** CIFAR-10 binary records with the given labels. */
function cifarRecords(labels: number[]): Uint8Array {
  const out = new Uint8Array(labels.length * (1 + PIXELS));
  labels.forEach((label, r) => {
    out[r * (1 + PIXELS)] = label;
    for (let p = 0; p < PIXELS; p++) out[r * (1 + PIXELS) + 1 + p] = (r * 7 + p) & 0xff;
  });
  return out;
}

/** A tiny cifar-10-binary.tar.gz with the official folder and file names. */
export async function tinyCifar10Archive(work: string): Promise<Buffer> {
  const folder = join(work, 'cifar-10-batches-bin');
  await mkdir(folder, { recursive: true });
  for (let b = 1; b <= 5; b++)
    await writeFile(join(folder, `data_batch_${b}.bin`), cifarRecords([b % 10, (b + 1) % 10]));
  await writeFile(join(folder, 'test_batch.bin'), cifarRecords([9, 0, 3]));
  await writeFile(
    join(folder, 'batches.meta.txt'),
    'airplane\nautomobile\nbird\ncat\ndeer\ndog\nfrog\nhorse\nship\ntruck\n',
  );
  await writeFile(join(folder, 'readme.html'), '<html></html>\n');
  const file = join(work, 'cifar-10-binary.tar.gz');
  await createTar({ gzip: true, cwd: work, file, portable: true }, ['cifar-10-batches-bin']);
  return readFile(file);
}

function idx(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => {
    header.writeUInt32BE(d, 4 + 4 * i);
  });
  return gzipSync(Buffer.concat([header, data]));
}

/** The four MNIST gz files: `n` 28x28 images each. */
export function tinyMnist(): Record<string, Buffer> {
  const images = (n: number) =>
    idx(
      0x803,
      [n, 28, 28],
      Uint8Array.from({ length: n * 784 }, (_, i) => i & 0xff),
    );
  const labels = (n: number) =>
    idx(
      0x801,
      [n],
      Uint8Array.from({ length: n }, (_, i) => i % 10),
    );
  return {
    'train-images-idx3-ubyte.gz': images(6),
    'train-labels-idx1-ubyte.gz': labels(6),
    't10k-images-idx3-ubyte.gz': images(3),
    't10k-labels-idx1-ubyte.gz': labels(3),
  };
}

interface Served {
  body: Buffer;
  /** Requests of this path that send only this many bytes, then drop the connection. */
  dropAfter?: { bytes: number; times: number };
}

/** A local file server that honours `Range: bytes=N-` and records the Range header of each request. */
export class TestServer {
  files = new Map<string, Served>();
  requests: { path: string; range: string | undefined }[] = [];
  private server: Server = createServer((req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    this.requests.push({ path, range: req.headers.range });
    const served = this.files.get(path);
    if (!served) {
      res.writeHead(404).end();
      return;
    }
    const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
    const from = range ? Number(range[1]) : 0;
    const size = served.body.length;
    if (from >= size) {
      res.writeHead(416, { 'content-range': `bytes */${size}` }).end();
      return;
    }
    const headers: Record<string, string | number> = { 'content-length': size - from };
    if (range) headers['content-range'] = `bytes ${from}-${size - 1}/${size}`;
    res.writeHead(range ? 206 : 200, headers);
    if (served.dropAfter && served.dropAfter.times > 0) {
      served.dropAfter.times--;
      res.write(served.body.subarray(from, from + served.dropAfter.bytes), () => {
        setTimeout(() => res.socket?.destroy(), 20);
      });
      return;
    }
    res.end(served.body.subarray(from));
  });

  async start(): Promise<string> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}
