// `insalun data download NAME`: fetches a data set from its official source (or a mirror) into the
// data folder, in the layout the loaders read. Each file is fetched into a hidden staging folder
// (<data dir>/.downloads/<name>/<file>.partial, resumed with an HTTP Range request after a broken
// connection), checked against its MD5, and only then unpacked or linked into a temporary folder
// beside the target, which is renamed into place: a loader never sees half a data set.

import { createHash, randomBytes } from 'node:crypto';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, readdir, readFile, rename, rm, rmdir, stat } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { x as untar } from 'tar';
import { z } from 'zod';
import { defaultDataDir } from './data-dir.js';
import { DataError } from './errors.js';
import { fileExists } from './files.js';

export const DOWNLOADABLE_DATASETS = ['cifar10', 'cifar100', 'mnist', 'fashion-mnist', 'svhn'] as const;
export type DownloadableName = (typeof DOWNLOADABLE_DATASETS)[number];

export interface SourceFile {
  /** The file's name at the source and in the staging folder. */
  name: string;
  /** Its MD5, lower-case hex. */
  md5: string;
}

export interface DataSource {
  title: string;
  /** The folder (URL ending in '/') that holds the files. */
  baseUrl: string;
  files: SourceFile[];
  /** 'tar.gz': each file is an archive whose top folder is `folder`; 'files': the files go into `folder` as they are. */
  kind: 'tar.gz' | 'files';
  /** The folder under the data folder that the loader reads. */
  folder: string;
  /** What must be in `folder` for the data set to count as there. */
  expect: string[];
}

const IDX_GZ = [
  'train-images-idx3-ubyte.gz',
  'train-labels-idx1-ubyte.gz',
  't10k-images-idx3-ubyte.gz',
  't10k-labels-idx1-ubyte.gz',
];

/**
 * The official sources. CIFAR: the binary versions (the loaders read those), checksums as the
 * CIFAR page lists them. MNIST, Fashion-MNIST and SVHN: URLs and checksums as torchvision lists them
 * (MNIST from torchvision's first mirror).
 */
export const DATA_SOURCES: Readonly<Record<DownloadableName, DataSource>> = {
  cifar10: {
    title: 'CIFAR-10',
    baseUrl: 'https://www.cs.toronto.edu/~kriz/',
    files: [{ name: 'cifar-10-binary.tar.gz', md5: 'c32a1d4ab5d03f1284b67883e8d87530' }],
    kind: 'tar.gz',
    folder: 'cifar-10-batches-bin',
    expect: [
      'data_batch_1.bin',
      'data_batch_2.bin',
      'data_batch_3.bin',
      'data_batch_4.bin',
      'data_batch_5.bin',
      'test_batch.bin',
    ],
  },
  cifar100: {
    title: 'CIFAR-100',
    baseUrl: 'https://www.cs.toronto.edu/~kriz/',
    files: [{ name: 'cifar-100-binary.tar.gz', md5: '03b5dce01913d631647c71ecec9e9cb8' }],
    kind: 'tar.gz',
    folder: 'cifar-100-binary',
    expect: ['train.bin', 'test.bin'],
  },
  mnist: {
    title: 'MNIST',
    baseUrl: 'https://ossci-datasets.s3.amazonaws.com/mnist/',
    files: [
      { name: IDX_GZ[0], md5: 'f68b3c2dcbeaaa9fbdd348bbdeb94873' },
      { name: IDX_GZ[1], md5: 'd53e105ee54ea40749a09fcbcd1e9432' },
      { name: IDX_GZ[2], md5: '9fb629c4189551a2d022fa330f9573f3' },
      { name: IDX_GZ[3], md5: 'ec29112dd5afa0611ce80d1b7f02629c' },
    ],
    kind: 'files',
    folder: 'mnist',
    expect: IDX_GZ,
  },
  'fashion-mnist': {
    title: 'Fashion-MNIST',
    baseUrl: 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/',
    files: [
      { name: IDX_GZ[0], md5: '8d4fb7e6c68d591d4c3dfef9ec88bf0d' },
      { name: IDX_GZ[1], md5: '25c81989df183df01b3e8a0aad5dffbe' },
      { name: IDX_GZ[2], md5: 'bef4ecab320f06d8554ea6380940ec79' },
      { name: IDX_GZ[3], md5: 'bb300cfdad3c16e7a12a480ee83cd310' },
    ],
    kind: 'files',
    folder: 'fashion-mnist',
    expect: IDX_GZ,
  },
  svhn: {
    title: 'SVHN',
    baseUrl: 'http://ufldl.stanford.edu/housenumbers/',
    files: [
      { name: 'train_32x32.mat', md5: 'e26dedcc434d2e4c54c9b2d4a06d8373' },
      { name: 'test_32x32.mat', md5: 'eb5a983be6a315427106f1b164d9cef3' },
    ],
    kind: 'files',
    folder: 'svhn',
    expect: ['train_32x32.mat', 'test_32x32.mat'],
  },
};

/** Progress of one file's transfer (the CLI draws a bar). */
export interface DownloadProgress {
  start(file: string, url: string, total: number | null, resumedAt: number): void;
  /** Bytes of the file on disk so far (resumed bytes included). */
  advance(bytes: number): void;
  end(): void;
}

export interface DownloadOptions {
  /** The data folder (default: defaultDataDir()). */
  dir?: string;
  /**
   * A base URL with one folder per data set (`<mirror>/cifar10/cifar-10-binary.tar.gz`); default
   * $INSALUN_DATA_MIRROR. $INSALUN_DATA_MIRROR_<NAME> (CIFAR10, FASHION_MNIST, ...) names the
   * folder of one data set's files and wins over both.
   */
  mirror?: string;
  /** Replaces entries of DATA_SOURCES (tests; mirrors whose files differ from the official ones). */
  sources?: Partial<Record<DownloadableName, Partial<DataSource>>>;
  /** Download again and replace the folder when it is already there. */
  force?: boolean;
  progress?: DownloadProgress;
  env?: NodeJS.ProcessEnv;
  /** Seconds without data before a transfer counts as failed (default 60). */
  idleTimeoutSeconds?: number;
}

export interface DownloadResult {
  name: DownloadableName;
  /** The folder the loader reads (inside the data folder). */
  folder: string;
  /** The data folder. */
  dataDir: string;
  /** False when the folder was already complete and nothing was fetched. */
  downloaded: boolean;
}

export function isDownloadable(name: string): name is DownloadableName {
  return (DOWNLOADABLE_DATASETS as readonly string[]).includes(name);
}

/** The URL a file of a data set is fetched from, after the mirror settings. */
export function sourceUrl(
  name: DownloadableName,
  source: DataSource,
  file: SourceFile,
  options: DownloadOptions = {},
): string {
  const env = options.env ?? process.env;
  const own = env[`INSALUN_DATA_MIRROR_${name.toUpperCase().replace(/-/g, '_')}`];
  const mirror = options.mirror ?? env.INSALUN_DATA_MIRROR;
  const base = own ? own : mirror ? `${withSlash(mirror)}${name}/` : source.baseUrl;
  return `${withSlash(base)}${file.name}`;
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

const sourcesFileSchema = z.partialRecord(
  z.enum(DOWNLOADABLE_DATASETS),
  z
    .object({
      baseUrl: z.string().min(1).optional(),
      files: z.array(z.object({ name: z.string().min(1), md5: z.string().regex(/^[0-9a-f]{32}$/) })).optional(),
    })
    .strict(),
);

/**
 * A JSON file of source overrides ($INSALUN_DATA_SOURCES): `{ "cifar10": { "baseUrl": "...",
 * "files": [{ "name": "...", "md5": "..." }] } }`, for mirrors whose files differ and for tests.
 */
export async function readSourceOverrides(path: string): Promise<DownloadOptions['sources']> {
  let json: unknown;
  try {
    json = JSON.parse(await readFile(path, 'utf8'));
  } catch (err) {
    throw new DataError(`data sources file ${path}: ${oneLine((err as Error).message)}`);
  }
  const parsed = sourcesFileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new DataError(`data sources file ${path}: ${issue.path.join('.')}: ${issue.message}`);
  }
  return parsed.data as DownloadOptions['sources'];
}

/** Downloads, checks and installs one data set; see the file comment. */
export async function downloadDataset(name: string, options: DownloadOptions = {}): Promise<DownloadResult> {
  if (!isDownloadable(name)) {
    throw new DataError(`cannot download '${name}'; downloadable data sets: ${DOWNLOADABLE_DATASETS.join(', ')}`);
  }
  const source: DataSource = { ...DATA_SOURCES[name], ...options.sources?.[name] };
  const dataDir = options.dir ?? defaultDataDir(options.env ?? process.env);
  const target = join(dataDir, source.folder);
  const missing = await missingFiles(target, source.expect);
  const present = (await fileExists(target)) && missing.length === 0;
  if (present && !options.force) return { name, folder: target, dataDir, downloaded: false };
  if ((await fileExists(target)) && !present && !options.force) {
    throw new DataError(
      `${name}: ${target} exists but lacks ${missing.join(', ')}; move it away, or pass --force to replace it`,
    );
  }

  const downloads = join(dataDir, '.downloads');
  const staging = join(downloads, name);
  await guardFs(name, staging, () => mkdir(staging, { recursive: true }));
  const staged: string[] = [];
  for (const file of source.files) {
    const path = join(staging, file.name);
    staged.push(path);
    if ((await fileExists(path)) && (await md5Of(path)) === file.md5) continue; // checked by an earlier run
    const url = sourceUrl(name, source, file, options);
    const partial = `${path}.partial`;
    try {
      await fetchResumable(name, url, partial, options);
    } catch (err) {
      // Keep a partial file to resume from; leave no empty folders behind.
      const size = await stat(partial).then(
        (s) => s.size,
        () => 0,
      );
      if (size === 0) await rm(partial, { force: true });
      await removeIfEmpty(staging);
      await removeIfEmpty(downloads);
      throw err;
    }
    const digest = await md5Of(partial);
    if (digest !== file.md5) {
      await rm(partial, { force: true });
      await removeIfEmpty(staging);
      await removeIfEmpty(downloads);
      throw new DataError(
        `${name}: checksum mismatch for ${file.name} from ${url}: md5 ${digest}, expected ${file.md5}; ` +
          `the file was deleted (a corrupted transfer or a wrong mirror), run the command again to retry`,
      );
    }
    await guardFs(name, path, () => rename(partial, path));
  }

  await install(name, source, dataDir, staged, target);
  await rm(staging, { recursive: true, force: true });
  await removeIfEmpty(downloads);
  return { name, folder: target, dataDir, downloaded: true };
}

/** Unpacks or links the checked files into a temporary folder beside the target, then renames it into place. */
async function install(
  name: DownloadableName,
  source: DataSource,
  dataDir: string,
  staged: string[],
  target: string,
): Promise<void> {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const work = join(dataDir, `.${name}.tmp-${tag}`);
  const old = join(dataDir, `.${name}.old-${tag}`);
  try {
    await guardFs(name, work, () => mkdir(work));
    let ready: string;
    if (source.kind === 'tar.gz') {
      for (const archive of staged) {
        await guardFs(name, work, async () => {
          try {
            await untar({ file: archive, cwd: work, strict: true });
          } catch (err) {
            const code = (err as NodeJS.ErrnoException).code;
            if (code && FS_CODES.has(code)) throw err;
            throw new DataError(`${name}: cannot unpack ${archive}: ${oneLine((err as Error).message)}`);
          }
        });
      }
      ready = join(work, source.folder);
    } else {
      ready = join(work, source.folder);
      await mkdir(ready);
      for (const file of staged) {
        const to = join(ready, file.slice(file.lastIndexOf('/') + 1));
        await guardFs(name, to, () => link(file, to).catch(() => copyFile(file, to)));
      }
    }
    const missing = await missingFiles(ready, source.expect);
    if (missing.length > 0) {
      throw new DataError(
        `${name}: the download did not hold ${missing.map((f) => `${source.folder}/${f}`).join(', ')}; nothing was installed`,
      );
    }
    const replacing = await fileExists(target);
    if (replacing) await rename(target, old);
    try {
      await rename(ready, target);
    } catch (err) {
      if (replacing) await rename(old, target).catch(() => {});
      throw err;
    }
    if (replacing) await rm(old, { recursive: true, force: true });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

async function missingFiles(dir: string, names: string[]): Promise<string[]> {
  const missing: string[] = [];
  for (const f of names) if (!(await fileExists(join(dir, f)))) missing.push(f);
  return missing;
}

async function removeIfEmpty(dir: string): Promise<void> {
  try {
    if ((await readdir(dir)).length === 0) await rmdir(dir);
  } catch {
    // gone already, or not ours to remove
  }
}

async function md5Of(path: string): Promise<string> {
  const hash = createHash('md5');
  await pipeline(createReadStream(path), hash);
  return hash.digest('hex');
}

const FS_CODES = new Set(['ENOSPC', 'EDQUOT', 'EROFS', 'EACCES', 'EPERM', 'EMFILE', 'EIO']);

/** Runs a file-system step; a full disk (or another file-system failure) becomes one clear DataError. */
async function guardFs<T>(name: string, path: string, step: () => Promise<T>): Promise<T> {
  try {
    return await step();
  } catch (err) {
    throw fsError(name, path, err);
  }
}

function fsError(name: string, path: string, err: unknown): unknown {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') {
    return new DataError(
      `${name}: no space left on the device writing ${path} (${code}); free some space and run the command again ` +
        `(a download resumes where it stopped, nothing was installed)`,
    );
  }
  if (code && FS_CODES.has(code)) return new DataError(`${name}: cannot write ${path} (${code})`);
  return err;
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim();
}

class NetworkError extends Error {}

/** Fetches `url` into `partial`, continuing an earlier partial file with a Range request. */
async function fetchResumable(
  name: DownloadableName,
  url: string,
  partial: string,
  options: DownloadOptions,
): Promise<void> {
  let have = 0;
  try {
    have = (await stat(partial)).size;
  } catch {
    have = 0;
  }
  const timeout = (options.idleTimeoutSeconds ?? 60) * 1000;
  let received = have;
  let total: number | null = null;
  const progress = options.progress;
  try {
    const response = await get(url, have > 0 ? { range: `bytes=${have}-` } : {}, timeout);
    const status = response.statusCode ?? 0;
    let append = false;
    if (status === 416 && have > 0) {
      // The partial file already holds everything; its checksum decides.
      response.resume();
      return;
    }
    if (status === 206 && have > 0) {
      const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(String(response.headers['content-range'] ?? ''));
      if (!range || Number(range[1]) !== have) {
        response.resume();
        throw new NetworkError(`answered a Range request with the wrong range (${response.headers['content-range']})`);
      }
      append = true;
      total = range[2] === '*' ? null : Number(range[2]);
    } else if (status === 200) {
      const length = Number(response.headers['content-length']);
      total = Number.isFinite(length) && length > 0 ? length : null;
      received = 0; // the server sends the whole file: start over
    } else {
      response.resume();
      throw new NetworkError(`HTTP ${status} ${response.statusMessage ?? ''}`.trim());
    }
    progress?.start(partial.slice(partial.lastIndexOf('/') + 1, -'.partial'.length), url, total, append ? have : 0);
    const counter = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        received += chunk.length;
        progress?.advance(received);
        done(null, chunk);
      },
    });
    const out = createWriteStream(partial, { flags: append ? 'a' : 'w' });
    let writeError: unknown = null;
    out.on('error', (err) => {
      writeError = err;
    });
    try {
      await pipeline(response, counter, out);
    } catch (err) {
      if (writeError) throw fsError(name, partial, writeError);
      throw err;
    } finally {
      progress?.end();
    }
    if (total !== null && received < total) throw new NetworkError('the connection closed early');
  } catch (err) {
    if (err instanceof DataError) throw err;
    const code = (err as NodeJS.ErrnoException).code;
    if (code && FS_CODES.has(code)) throw fsError(name, partial, err);
    const reason = oneLine(err instanceof Error ? err.message : String(err));
    const detail = code && !reason.includes(code) ? `${reason}, ${code}` : reason;
    const kept = await stat(partial).then(
      (s) => s.size,
      () => 0,
    );
    const got = total === null ? `${kept} bytes` : `${kept} of ${total} bytes`;
    throw new DataError(
      kept > 0
        ? `${name}: download of ${url} failed (${detail}) after ${got}; run the command again to resume`
        : `${name}: download of ${url} failed (${detail})`,
    );
  }
}

/** GET with redirects followed (up to 5) and an idle timeout; resolves with the final response. */
function get(
  url: string,
  headers: Record<string, string>,
  timeoutMs: number,
  redirects = 5,
): Promise<http.IncomingMessage> {
  return new Promise((resolve, reject) => {
    let parsed: URL;
    try {
      parsed = new URL(url);
    } catch {
      reject(new NetworkError(`not a URL: ${url}`));
      return;
    }
    const client = parsed.protocol === 'https:' ? https : parsed.protocol === 'http:' ? http : null;
    if (!client) {
      reject(new NetworkError(`unsupported protocol ${parsed.protocol}`));
      return;
    }
    const request = client.get(parsed, { headers: { 'user-agent': 'insalun', ...headers } }, (response) => {
      const status = response.statusCode ?? 0;
      const location = response.headers.location;
      if (status >= 300 && status < 400 && location) {
        response.resume();
        if (redirects === 0) {
          reject(new NetworkError('too many redirects'));
          return;
        }
        get(new URL(location, parsed).toString(), headers, timeoutMs, redirects - 1).then(resolve, reject);
        return;
      }
      resolve(response);
    });
    request.setTimeout(timeoutMs, () => request.destroy(new NetworkError(`no data for ${timeoutMs / 1000} s`)));
    request.on('error', reject);
  });
}
