// The output-folder lock: one holder at a time, named in the refusal; a dead holder's lock is taken
// over with a notice, another host's never; released by its owner, by process.exit and by Ctrl-C.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { LOCK_FILE, type LockHolder, lockOutputFolder, OutputFolderBusyError } from '../../src/io/lock.js';
import { packageRoot } from '../../src/native/index.js';
import { buildDist } from '../helpers/compiled.js';

const folder = () => mkdtempSync(join(tmpdir(), 'insalun-lock-'));

/** The pid of a process that has ended. */
function deadPid(): number {
  return spawnSync(process.execPath, ['-e', '']).pid!;
}

function writeLock(dir: string, holder: Partial<LockHolder>): void {
  const full: LockHolder = {
    pid: deadPid(),
    host: hostname(),
    task: 'train',
    command: 'insalun train --out x',
    started: '2026-01-01T00:00:00.000Z',
    ...holder,
  };
  writeFileSync(join(dir, LOCK_FILE), JSON.stringify(full));
}

it('a folder has one holder at a time, named in the refusal; release frees it', () => {
  const dir = folder();
  const lock = lockOutputFolder(dir, 'train');
  const holder = JSON.parse(readFileSync(lock.path, 'utf8')) as LockHolder;
  expect(holder).toMatchObject({ pid: process.pid, host: hostname(), task: 'train' });
  expect(Date.parse(holder.started)).not.toBeNaN();

  let refusal: unknown;
  try {
    lockOutputFolder(dir, 'mask');
  } catch (error) {
    refusal = error;
  }
  expect(refusal).toBeInstanceOf(OutputFolderBusyError);
  expect((refusal as Error).message).toContain(`${dir} is in use by another run: train (`);
  expect((refusal as Error).message).toContain(`pid ${process.pid} on ${hostname()}, started ${holder.started}`);

  lock.release();
  expect(existsSync(lock.path)).toBe(false);
  lock.release(); // idempotent
  using again = lockOutputFolder(dir, 'mask');
  expect(JSON.parse(readFileSync(again.path, 'utf8')).task).toBe('mask');
});

it('a lock whose process has died on this host is taken over with a notice', () => {
  const dir = folder();
  writeLock(dir, { pid: deadPid(), command: 'insalun train --seed 7 --out x' });
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    using lock = lockOutputFolder(dir, 'train');
    expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid);
    expect(stderr).toHaveBeenCalledWith(
      expect.stringMatching(
        /taking over .*\.insalun\.lock: its holder is no longer running \(train \(insalun train --seed 7 --out x\)/,
      ),
    );
  } finally {
    stderr.mockRestore();
  }
});

it("another host's lock is never taken over, since its process cannot be checked from here", () => {
  const dir = folder();
  writeLock(dir, { host: 'some-other-host' });
  expect(() => lockOutputFolder(dir, 'train')).toThrow(
    /in use by another run: .* on some-other-host.*delete .*\.insalun\.lock/,
  );
});

// In a child process (the compiled module): process.exit and an unhandled Ctrl-C release the lock.
describe('a process holding a lock', () => {
  beforeAll(buildDist, 120_000);
  const holdThenEnd = (dir: string, end: string) =>
    `const { lockOutputFolder } = await import(${JSON.stringify(pathToFileURL(join(packageRoot, 'dist/io/lock.js')).href)});
     lockOutputFolder(${JSON.stringify(dir)}, 'compare'); console.log('locked'); ${end}`;

  it('process.exit releases the lock', () => {
    const dir = folder();
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', holdThenEnd(dir, 'process.exit(3);')], {
      encoding: 'utf8',
    });
    expect(r.stdout).toBe('locked\n');
    expect(r.status).toBe(3);
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });

  it('Ctrl-C releases the lock and ends the process as Ctrl-C does', async () => {
    const dir = folder();
    const child = spawn(
      process.execPath,
      ['--input-type=module', '-e', holdThenEnd(dir, 'setInterval(() => {}, 1000);')],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
    expect(existsSync(join(dir, LOCK_FILE))).toBe(true);
    child.kill('SIGINT');
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.once('exit', (c, s) => resolve([c, s])),
    );
    expect({ code, signal }).toEqual({ code: null, signal: 'SIGINT' });
    expect(existsSync(join(dir, LOCK_FILE))).toBe(false);
  });
});
