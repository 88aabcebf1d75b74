// The compiled package (dist/), for tests that run the CLI or the library in child processes: it is
// rebuilt from src/ once per test file, so that those tests never run an older build.
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { packageRoot } from '../../src/native/index.js';

let built = false;

/** Compiles src/ into dist/ (tsc -p tsconfig.json), once per test file. */
export function buildDist(): void {
  if (built) return;
  const tsc = createRequire(import.meta.url).resolve('typescript/bin/tsc');
  try {
    execFileSync(process.execPath, [tsc, '-p', join(packageRoot, 'tsconfig.json')], {
      stdio: 'pipe',
      encoding: 'utf8',
    });
  } catch (error) {
    throw new Error(`tsc failed:\n${(error as { stdout?: string }).stdout ?? error}`);
  }
  built = true;
}

/** bin/insalun.js, the CLI as installed. */
export const cliEntry = join(packageRoot, 'bin', 'insalun.js');
