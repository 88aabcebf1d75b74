// Two runs on one output folder (issue 26): `insalun train` twice at once with the same --out and
// different seeds: one trains, the other is refused at once, naming the first, and the folder holds
// only the first run's files. A run stopped by Ctrl-C releases the folder; a killed run's lock is
// taken over; --resume continues in the folder it left.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, expect, it } from 'vitest';
import { LOCK_FILE } from '../../src/io/lock.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { buildDist, cliEntry } from '../helpers/compiled.js';

beforeAll(buildDist, 120_000);

// A small synthetic run: a second or two per run on 2 cores.
const trainArgs = (out: string, seed: number, epochs: number) => [
  'train',
  '--dataset',
  'synthetic',
  '--synthetic-size',
  '300',
  '--synthetic-test-size',
  '100',
  '--width',
  '8',
  '--epochs',
  String(epochs),
  '--batch-size',
  '32',
  '--schedule',
  'cosine',
  '--no-augment',
  '--device',
  'cpu',
  '--seed',
  String(seed),
  '--out',
  out,
];

interface Ended {
  pid: number;
  seed: number;
  code: number | null;
  err: string;
}

function startCli(args: string[], seed = 0) {
  const child = spawn(process.execPath, [cliEntry, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
    env: { ...process.env, CI: '1' },
  });
  let err = '';
  child.stderr.on('data', (chunk) => (err += String(chunk)));
  const ended = new Promise<Ended>((resolve) =>
    child.once('close', (code) => resolve({ pid: child.pid!, seed, code, err })),
  );
  return { child, ended };
}

it('two trainings on the same --out at once: the second is refused naming the first, and the folder holds only the first run', async () => {
  const out = mkdtempSync(join(tmpdir(), 'insalun-two-runs-'));
  const [a, b] = await Promise.all([startCli(trainArgs(out, 1, 3), 1).ended, startCli(trainArgs(out, 2, 3), 2).ended]);
  const winner = a.code === 0 ? a : b;
  const refused = winner === a ? b : a;
  expect([winner.code, refused.code]).toEqual([0, 1]);
  expect(refused.err.trim().split('\n')).toHaveLength(1);
  expect(refused.err).toMatch(
    new RegExp(
      `^insalun: error: ${out} is in use by another run: train \\(insalun train .*--seed ${winner.seed} --out ${out}\\), pid ${winner.pid} on ${hostname()}, started \\S+\\. `,
    ),
  );

  expect(readdirSync(out).sort()).toEqual([
    'best.safetensors',
    'init.safetensors',
    'last.safetensors',
    'summary.json',
    'train-state.safetensors',
  ]);
  expect(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')).options.seed).toBe(winner.seed);
  for (const file of ['init', 'last', 'best'])
    expect((await readSafetensors(join(out, `${file}.safetensors`))).metadata.seed).toBe(String(winner.seed));
}, 120_000);

it('Ctrl-C releases the folder; a killed run’s lock is taken over with a notice; --resume finishes the run', async () => {
  const out = mkdtempSync(join(tmpdir(), 'insalun-resume-'));
  const run = startCli(trainArgs(out, 3, 12));
  // Ctrl-C once the first epoch is on disk: training stops at the next batch boundary.
  while (!existsSync(join(out, 'train-state.safetensors'))) await sleep(20);
  run.child.kill('SIGINT');
  const stopped = await run.ended;
  expect(stopped.code).toBe(130);
  expect(stopped.err).toMatch(/continue with --resume/);
  expect(existsSync(join(out, LOCK_FILE))).toBe(false);

  // As a run killed outright leaves it: a lock naming a process that has ended.
  const dead = spawnSync(process.execPath, ['-e', '']).pid;
  writeFileSync(
    join(out, LOCK_FILE),
    JSON.stringify({
      pid: dead,
      host: hostname(),
      task: 'train',
      command: 'insalun train --out x',
      started: new Date().toISOString(),
    }),
  );
  const resumed = await startCli([...trainArgs(out, 3, 12), '--resume']).ended;
  expect(resumed.err).toMatch(
    new RegExp(
      `insalun: taking over ${out}/\\.insalun\\.lock: its holder is no longer running \\(train \\(insalun train --out x\\), pid ${dead} `,
    ),
  );
  expect(resumed.err).toMatch(/resuming after epoch \d+ of 12/);
  expect(resumed.code).toBe(0);
  const summary = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
  expect(summary.completed).toBe(true);
  expect(summary.history.map((h: { epoch: number }) => h.epoch)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12]);
  expect(existsSync(join(out, LOCK_FILE))).toBe(false);
}, 120_000);
