// File access shared by the parsers: failures become DataErrors that name the file.

import { access, readFile } from 'node:fs/promises';
import { DataError } from './errors.js';

export async function fileExists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

/** The whole file; `what` prefixes the message (e.g. 'CIFAR-10'). */
export async function readDataFile(path: string, what: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const problem = code === 'ENOENT' ? 'missing file' : `cannot read (${code ?? String(err)})`;
    throw new DataError(`${what}: ${problem} ${path}`);
  }
}
