// The package as a user gets it: `npm pack` (which compiles dist/), unpacked into another folder,
// and examples/library run from a folder of its own against it, importing only 'insalun'. Checks
// what the tarball holds, that its exports map is the way in, and the example's table.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { packageRoot } from '../../src/native/index.js';

const scratch = mkdtempSync(join(tmpdir(), 'insalun-package-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const installed = join(scratch, 'package');
const example = join(scratch, 'example');

beforeAll(() => {
  const [packed] = JSON.parse(
    execFileSync('npm', ['pack', '--json', '--pack-destination', scratch], {
      cwd: packageRoot,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
  execFileSync('tar', ['-xzf', join(scratch, packed.filename), '-C', scratch]);
  // What `npm install` would add: the dependencies, and the addon it builds (this checkout's).
  symlinkSync(join(packageRoot, 'node_modules'), join(installed, 'node_modules'));
  symlinkSync(join(packageRoot, 'build'), join(installed, 'build'));
  cpSync(join(packageRoot, 'examples', 'library'), example, { recursive: true });
  mkdirSync(join(example, 'node_modules'));
  symlinkSync(installed, join(example, 'node_modules', 'insalun'));
}, 180_000);

const node = (args: string[]) =>
  spawnSync(process.execPath, args, { cwd: example, encoding: 'utf8', timeout: 300_000 });

it('the tarball holds the compiled library with its types, the CLI, the sources to build the addon, and the license', () => {
  const manifest = JSON.parse(readFileSync(join(installed, 'package.json'), 'utf8'));
  for (const file of [
    manifest.main,
    manifest.types,
    manifest.exports['.'].default,
    manifest.exports['.'].types,
    manifest.bin.insalun,
    'binding.gyp',
    'LICENSE',
  ])
    expect(existsSync(join(installed, file)), file).toBe(true);
  expect(existsSync(join(installed, 'test'))).toBe(false);
});

it('the exports map is the only way in: the entry point loads, internal modules do not', () => {
  const entry = node([
    '--input-type=module',
    '-e',
    "const m = await import('insalun'); console.log(['train', 'mask', 'unlearn', 'evaluate', 'compare', 'parseCompareConfig'].map((f) => typeof m[f]).join(' '))",
  ]);
  expect(entry.stderr).toBe('');
  expect(entry.stdout.trim()).toBe('function function function function function function');
  const internal = node(['--input-type=module', '-e', "await import('insalun/dist/cli/main.js')"]);
  expect(internal.stderr).toMatch(/ERR_PACKAGE_PATH_NOT_EXPORTED/);
});

it('examples/library trains, masks, unlearns and evaluates from another folder and prints the table', () => {
  const r = node(['unlearn-synthetic.mjs', join(scratch, 'out')]);
  expect(r.stderr).toBe('');
  expect(r.status).toBe(0);
  expect(r.stdout).toMatch(/^original model: train \d+\.\d\d%, test \d+\.\d\d%\n/);
  const rows = new Map(
    r.stdout
      .split('\n')
      .map((line) =>
        line
          .split('│')
          .map((cell) => cell.trim())
          .filter(Boolean),
      )
      .filter((cells) => cells.length === 5 && cells[0] !== 'Method')
      .map(([name, ...scores]) => [name, scores.map(Number)]),
  );
  expect([...rows.keys()]).toEqual(['Original', 'FT', 'RL', 'SalUn']);
  for (const [name, scores] of rows) {
    for (const s of scores) expect(s >= 0 && s <= 100, `${name}: ${scores}`).toBe(true);
  }
  // The original has memorized its training pool; random labels (RL, SalUn) forget (UA well up, by
  // about 30 points here) and every method keeps the retain set. FT only fine-tunes on the retain
  // set: how much it forgets in 3 epochs swings with rounding (UA 3.7 on the AVX-512 kernels, 20.4
  // on the AVX2 ones), so it is held only to not remembering the forget set better than before.
  const [originalUA, originalRA] = rows.get('Original')!;
  expect(originalRA).toBeGreaterThan(80);
  for (const name of ['FT', 'RL', 'SalUn']) {
    const [UA, RA] = rows.get(name)!;
    expect(UA, name).toBeGreaterThan(name === 'FT' ? originalUA - 0.01 : originalUA + 5);
    expect(RA, name).toBeGreaterThan(70);
  }
  expect(existsSync(join(scratch, 'out', 'masks', 'mask_grad_0.5.safetensors'))).toBe(true);
}, 300_000);
