// `insalun sweep submit --slurm` against a real Slurm (scripts/slurm-single-node.sh starts a
// one-node cluster): the job arrays finish with the serial table; a task cancelled mid-way (scancel)
// leaves its job not done, and resume resubmits exactly what is missing; a bad partition is one
// clear error with nothing submitted. Without a cluster these tests skip and say why; .ci/run starts
// one and sets INSALUN_REQUIRE_SLURM=1, which makes its absence a failure.
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { buildDist } from '../helpers/compiled.js';
import { SLURM_PARTITION, slurmMissing } from '../helpers/slurm.js';
import { configFile, expectSameTable, readResults, serialResults, sweepConfig } from './fixture.js';

const PARTITION = SLURM_PARTITION;
const missing = slurmMissing();
const skipWhy = missing ? ` (skipped: ${missing}; sudo bash scripts/slurm-single-node.sh start)` : '';

const squeue = (job: string) =>
  execFileSync('squeue', ['-h', '-r', '-t', 'all', '-j', job, '-o', '%i %T'], { encoding: 'utf8' });

describe.skipIf(missing !== '')(`a sweep on Slurm${skipWhy}`, () => {
  beforeAll(buildDist, 120_000);
  const flags = ['--device', 'cpu', '--partition', PARTITION, '--cpus-per-task', '1'];

  it('submitted as job arrays, one per stage, it finishes with the serial table', async () => {
    const config = sweepConfig();
    const { file, dir } = await configFile(config);
    const out = join(dir, 'out');
    const submit = await runCli('sweep', 'submit', file, '--out', out, '--slurm', '--wait', ...flags);
    expect(submit.code).toBe(0);
    // One array per stage, in order, each after the one before.
    expect(submit.err).toMatch(/submitted original: 2 task\(s\) as job array \d+\n/);
    expect(submit.err).toMatch(/submitted table: 1 task\(s\) as job array \d+ after \d+/);
    // One node: a folder on a local file system is fine (a note at most, no warning).
    expect(submit.err).not.toMatch(/warning: .* local file system/);
    expect(submit.out).toContain('13 of 13 jobs done');
    expectSameTable(readResults(out), await serialResults(config));
    const script = readFileSync(join(out, 'sweep', 'slurm', '1-row.sbatch'), 'utf8');
    expect(script).toMatch(/#SBATCH --array=0-5\n/);
    expect(script).toContain(`#SBATCH --partition=${PARTITION}`);
  }, 600_000);

  it('a task cancelled mid-way is redone by resume, nothing else is', async () => {
    const config = sweepConfig(60, [1, 2]); // originals long enough to be cancelled mid-way
    const { file, dir } = await configFile(config);
    const out = join(dir, 'out');
    const submit = await runCli('sweep', 'submit', file, '--out', out, '--slurm', ...flags);
    expect(submit.code).toBe(0);
    const original = /(\d+) original:/.exec(submit.out)![1];
    // Cancel seed 1's original once it trains.
    for (let i = 0; !/_0 RUNNING/.test(squeue(original)); i++) {
      expect(i).toBeLessThan(600);
      await sleep(100);
    }
    await sleep(1500);
    execFileSync('scancel', [`${original}_0`]);
    const status = async () =>
      JSON.parse((await runCli('sweep', 'status', file, '--out', out, '--device', 'cpu', '--json')).out);
    // The later stages, waiting on a failed array, are cancelled by Slurm (--kill-on-invalid-dep).
    for (let i = 0; ; i++) {
      const { jobs } = await status();
      const live = jobs.filter((j: { slurm: { state: string } | null }) =>
        /PENDING|RUNNING|COMPLETING/.test(j.slurm?.state ?? ''),
      );
      if (live.length === 0) break;
      expect(i).toBeLessThan(600);
      await sleep(500);
    }
    const { jobs } = await status();
    const state = (id: string) => jobs.find((j: { id: string }) => j.id === id);
    expect(state('original/seed-1')).toMatchObject({ done: false });
    expect(state('original/seed-1').slurm.state).toMatch(/CANCELLED|^$/);
    expect(existsSync(join(out, 'seed-1', 'original', 'key.json'))).toBe(false); // nothing counts as done
    expect(state('original/seed-2')).toMatchObject({ done: true });
    expect(state('table')).toMatchObject({ done: false });

    const resume = await runCli('sweep', 'resume', file, '--out', out, '--wait', ...flags);
    expect(resume.code).toBe(0);
    // Exactly what was missing: seed 1's original, not seed 2's.
    expect(resume.err).toMatch(/submitted original: 1 task\(s\)/);
    expect(readFileSync(join(out, 'sweep', 'slurm', '2-original.jobs'), 'utf8')).toBe('original/seed-1\n');
    expect(resume.out).toContain('13 of 13 jobs done');
    expectSameTable(readResults(out), await serialResults(config));
  }, 900_000);

  it('a partition Slurm does not have is one clear error, and nothing is submitted', async () => {
    const { file, dir } = await configFile(sweepConfig());
    const out = join(dir, 'out');
    const r = await runCli(
      'sweep',
      'submit',
      file,
      '--out',
      out,
      '--slurm',
      '--device',
      'cpu',
      '--partition',
      'no-such-partition',
    );
    expect(r.code).toBe(1);
    expect(r.err).toBe(
      `insalun: error: Slurm has no partition 'no-such-partition' (partitions: ${PARTITION}); set sweep.slurm.partition or --partition\n`,
    );
    expect(existsSync(join(out, 'sweep', 'submissions.json'))).toBe(false);
  });
});

it.runIf(missing !== '')(`Slurm tests skipped: ${missing}`, () => {
  expect(process.env.INSALUN_REQUIRE_SLURM).not.toBe('1');
});
