// The lock of one artifact, which a sweep's workers share a folder by: a second taker waits while
// the holder lives and gets it when released; a holder that died is taken over, on this host by
// its pid, on another host by its Slurm job having left the queue.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { beforeAll, expect, it, vi } from 'vitest';
import { type LockHolder, lockArtifact } from '../../src/io/lock.js';
import { packageRoot } from '../../src/native/index.js';
import { buildDist } from '../helpers/compiled.js';
import { slurmMissing } from '../helpers/slurm.js';

beforeAll(buildDist, 120_000);
const lockPath = () => join(mkdtempSync(join(tmpdir(), 'insalun-artifact-')), 'masks', '.insalun-artifact.lock');

const holder = (fields: Partial<LockHolder>): string =>
  JSON.stringify({
    pid: spawnSync(process.execPath, ['-e', '']).pid,
    host: hostname(),
    task: 'mask for SalUn',
    command: 'insalun sweep job x',
    started: '2026-01-01T00:00:00.000Z',
    ...fields,
  });

it('a second taker waits while the holder runs, and gets the lock once it is released', async () => {
  const path = lockPath();
  const lockModule = pathToFileURL(join(packageRoot, 'dist/io/lock.js')).href;
  const child = spawn(
    process.execPath,
    [
      '--input-type=module',
      '-e',
      `const { lockArtifact } = await import(${JSON.stringify(lockModule)});
       const lock = await lockArtifact(${JSON.stringify(path)}, 'row SalUn'); console.log('locked');
       setTimeout(() => lock.release(), 1500);`,
    ],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  );
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    const started = performance.now();
    using lock = await lockArtifact(path, 'row SalUn', 50);
    expect(performance.now() - started).toBeGreaterThan(500); // waited for the release
    expect(JSON.parse(readFileSync(lock.path, 'utf8')).pid).toBe(process.pid);
    expect(stderr).toHaveBeenCalledWith(expect.stringMatching(/waiting for .*: row SalUn \(.*\), pid \d+ on /));
  } finally {
    stderr.mockRestore();
  }
  expect(existsSync(path)).toBe(false);
});

it('a lock whose holder died on this host is taken over at once', async () => {
  const path = lockPath();
  await lockArtifact(path, 'first').then((l) => l.release()); // creates its folder
  writeFileSync(path, holder({}));
  const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
  try {
    using _lock = await lockArtifact(path, 'mask');
    expect(stderr).toHaveBeenCalledWith(expect.stringMatching(/taking over .*: its holder is no longer running/));
  } finally {
    stderr.mockRestore();
  }
});

// squeue alone is not enough: without a controller it cannot say that a job has left the queue.
const squeueMissing = slurmMissing();
it.skipIf(squeueMissing !== '')(
  `another host's lock is taken over once its Slurm job has left the queue${squeueMissing && ` (skipped: ${squeueMissing})`}`,
  async () => {
    const path = lockPath();
    await lockArtifact(path, 'first').then((l) => l.release());
    // A job id the controller has never seen (below Slurm's largest, 67108863): squeue says "Invalid job id".
    const ended = '67000001';
    writeFileSync(path, holder({ host: 'node-17', slurmJob: `${ended}_3` }));
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      using _lock = await lockArtifact(path, 'mask');
      expect(stderr).toHaveBeenCalledWith(
        expect.stringMatching(new RegExp(`taking over .*pid \\d+ on node-17, Slurm job ${ended}_3`)),
      );
    } finally {
      stderr.mockRestore();
    }
  },
);
