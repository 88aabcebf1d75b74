// Crash-safe file writes: readers see either the old file or the complete new one, never a
// half-written file, because rename() within one directory is atomic on POSIX file systems.

import { randomBytes } from 'node:crypto';
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Write `data` to `path` through a temporary file in the same directory, then rename it over `path`. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  // Same directory as the target: a rename across file systems would not be atomic.
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(data);
      // Flush before the rename so that a crash cannot leave a renamed but empty file.
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
  } catch (error) {
    await unlink(temp).catch(() => undefined); // the temp file may never have been created
    throw error;
  }
}

/** Write `value` as pretty-printed JSON with a trailing newline, atomically. */
export async function writeJsonAtomic(path: string, value: unknown): Promise<void> {
  const text = JSON.stringify(value, null, 2);
  // JSON.stringify returns undefined for undefined and functions; never write the word "undefined".
  if (text === undefined) throw new TypeError(`${path}: value is not representable as JSON`);
  await writeFileAtomic(path, `${text}\n`);
}
