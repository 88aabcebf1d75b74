// compare's plan and the local runner: the jobs and their dependencies, what is done after a run,
// `sweep run --workers 2` giving the serial compare's table, Ctrl-C stopping the workers with
// nothing half-written and a rerun finishing the table; and the batch scripts a Slurm stage gets.
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { comparePlan, parseCompareConfig } from '../../src/experiment/compare.js';
import { checkPlan, planStates } from '../../src/experiment/plan.js';
import { defaultCompute } from '../../src/native/index.js';
import { workerEnv } from '../../src/sweep/local.js';
import { stageSettings } from '../../src/sweep/settings.js';
import { batchScript } from '../../src/sweep/slurm.js';
import { loadSweep } from '../../src/sweep/sweep.js';
import { runCli } from '../helpers/cli.js';
import { buildDist, cliEntry } from '../helpers/compiled.js';
import { configFile, expectSameTable, type Results, readResults, serialResults, sweepConfig } from './fixture.js';

const config = sweepConfig();
let serial: Results;
beforeAll(async () => {
  buildDist();
  serial = await serialResults(config);
}, 300_000);

it('a config is a plan: originals, masks, the retrain row, the rows, the table, each after its dependencies', async () => {
  const { dir } = await configFile(config);
  using plan = comparePlan(parseCompareConfig(config, 'test'), join(dir, 'out'), defaultCompute('cpu'));
  checkPlan(plan);
  const ids = plan.jobs.map((j) => j.id);
  expect(ids.filter((id) => id.endsWith('seed-1') || id.includes('/seed-1/'))).toEqual([
    'original/seed-1',
    'row/seed-1/Retrain',
    'row/seed-1/FT',
    expect.stringMatching(/^mask\/seed-1\/masks-[0-9a-f]{16}\/0\.5$/),
    'row/seed-1/SalUn',
    'original-row/seed-1',
  ]);
  const salun = plan.jobs.find((j) => j.id === 'row/seed-1/SalUn')!;
  expect(salun.deps).toEqual(['original/seed-1', ids[3], 'row/seed-1/Retrain']);
  expect(plan.jobs.at(-1)!.deps).toHaveLength(8); // 4 rows (Original's too) x 2 seeds
  const states = await planStates(plan);
  expect(states.every((s) => !s.done)).toBe(true);
  // Keys known before anything ran: the originals', masks' and Retrain's; the others need Retrain's scores.
  expect(states.filter((s) => s.key !== null).map((s) => s.stage)).toEqual([
    'original',
    'retrain',
    'mask',
    'original',
    'retrain',
    'mask',
  ]);
});

it('sweep run --workers 2 gives the serial table; the plan then says every job is done', async () => {
  const { file, dir } = await configFile(config);
  const out = join(dir, 'out');
  const run = await runCli('sweep', 'run', file, '--out', out, '--device', 'cpu', '--workers', '2', '--cores', '2');
  expect(run.err).toMatch(/\[worker 1\]/);
  expect(run.code).toBe(0);
  expect(run.out).toContain('| SalUn |');
  expectSameTable(readResults(out), serial);
  const plan = await runCli('sweep', 'plan', file, '--out', out, '--device', 'cpu', '--json');
  const jobs = JSON.parse(plan.out).jobs as { done: boolean; key: string }[];
  expect(jobs).toHaveLength(13);
  expect(jobs.every((j) => j.done && /^[0-9a-f]{16}$/.test(j.key))).toBe(true);
}, 300_000);

it('Ctrl-C stops the workers, leaves no job half-done, and a rerun finishes with the serial table', async () => {
  const longer = sweepConfig(40); // originals long enough to be stopped mid-way
  const { file, dir } = await configFile(longer);
  const out = join(dir, 'out');
  const args = [cliEntry, 'sweep', 'run', file, '--out', out, '--device', 'cpu', '--workers', '2', '--cores', '2'];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (d) => {
    err += d;
  });
  await new Promise<void>((resolve) => {
    const poll = setInterval(() => {
      if (/\[worker 1\] original\/seed-2/.test(err)) {
        clearInterval(poll);
        resolve();
      }
    }, 50);
  });
  await new Promise((r) => setTimeout(r, 1500)); // both workers inside their training
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  expect(err).toContain('interrupted, stopping the workers');
  expect(code).toBe(130);
  // The originals were stopped before their key (the last thing written): neither counts as done.
  for (const seed of [1, 2]) expect(existsSync(join(out, `seed-${seed}`, 'original', 'key.json'))).toBe(false);
  expect(readdirSync(out).filter((f) => f.endsWith('.lock'))).toEqual([]);

  const rerun = await runCli('sweep', 'run', file, '--out', out, '--device', 'cpu', '--workers', '2', '--cores', '2');
  expect(rerun.err.split('\n').filter((l) => /failed|error/.test(l))).toEqual([]);
  expect(rerun.code).toBe(0);
  expectSameTable(readResults(out), await serialResults(longer));
}, 600_000);

it("a stage's batch script: settings from the config, its stage's, then the flags; one job per task", async () => {
  const { file, dir } = await configFile({
    ...config,
    sweep: {
      slurm: {
        partition: 'gpu',
        time: '1:00:00',
        gpusPerTask: 1,
        cpusPerTask: 8,
        extra: ['--qos=normal'],
        stages: { original: { time: '12:00:00', mem: '32G' } },
      },
    },
  });
  const sweep = await loadSweep(file, join(dir, 'out'), defaultCompute('cpu'));
  const settings = stageSettings(sweep.settings, { partition: 'a100', maxParallel: 4 }, 'original');
  expect(settings).toEqual({
    partition: 'a100',
    time: '12:00:00',
    mem: '32G',
    gpusPerTask: 1,
    cpusPerTask: 8,
    extra: ['--qos=normal'],
    maxParallel: 4,
  });
  const script = batchScript(sweep, 'original', '/lists/1-original.jobs', settings, 3);
  const lines = script.split('\n');
  expect(lines.filter((l) => l.startsWith('#SBATCH'))).toEqual([
    '#SBATCH --job-name=insalun-sweep-test-original',
    '#SBATCH --array=0-2%4',
    `#SBATCH --output=${join(dir, 'out', 'sweep', 'logs', 'original-%A_%a.out')}`,
    '#SBATCH --kill-on-invalid-dep=yes',
    '#SBATCH --partition=a100',
    '#SBATCH --time=12:00:00',
    '#SBATCH --mem=32G',
    '#SBATCH --gpus-per-task=1',
    '#SBATCH --cpus-per-task=8',
    '#SBATCH --qos=normal',
  ]);
  expect(lines.at(-2)).toMatch(/'sweep' 'job' .*'--list' '\/lists\/1-original\.jobs' --index "\$SLURM_ARRAY_TASK_ID"$/);
  expect(script).toContain('export OMP_NUM_THREADS="$' + '{SLURM_CPUS_PER_TASK:-1}"');
});

describe('workers', () => {
  it('each worker gets one GPU, or its share of the cores', () => {
    expect(workerEnv(1, { workers: 2, gpus: [2, 3], cores: 16 })).toMatchObject({
      CUDA_VISIBLE_DEVICES: '3',
      OMP_NUM_THREADS: '8',
    });
    const cpu = workerEnv(0, { workers: 3, cores: 8 });
    expect(cpu.OMP_NUM_THREADS).toBe('2');
    expect(cpu.CUDA_VISIBLE_DEVICES).toBe(process.env.CUDA_VISIBLE_DEVICES);
  });

  it('a bad sweep block is one clear error', async () => {
    const { file } = await configFile({ ...config, sweep: { workers: 0 } });
    const r = await runCli('sweep', 'plan', file, '--device', 'cpu');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/invalid sweep block: sweep\.workers: /);
    expect(readFileSync(file, 'utf8')).toContain('"workers":0');
  });

  it('a config with a tuning block is refused, not run untuned', async () => {
    const { file } = await configFile({ ...config, tuning: { grid: { [config.methods[1].name]: { lr: [0.01] } } } });
    const r = await runCli('sweep', 'plan', file, '--device', 'cpu');
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/tuning block runs with `insalun compare` only/);
  });
});
