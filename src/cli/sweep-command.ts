// `insalun sweep`: a compare config's plan of jobs, run by workers on this machine or as Slurm job
// arrays (docs/sweep.md). `plan` shows the jobs, `run` runs them locally, `submit`, `status` and
// `resume` drive Slurm, `job` is what each worker runs.
import { readFileSync } from 'node:fs';
import { type Command, Option } from 'commander';
import { renderTable } from '../io/results.js';
import type { ComputeSettings, Precision } from '../native/index.js';
import { runSweepLocally } from '../sweep/local.js';
import type { SbatchSettings } from '../sweep/settings.js';
import { resumeSweep, type Submission, submitSweep, sweepStatus, waitForSweep } from '../sweep/slurm.js';
import { loadSweep, runSweepJob, type Sweep, sweepStates } from '../sweep/sweep.js';
import { choice, DEVICES, type DeviceFlag, integer, numberList, PRECISIONS, resolveDevice } from './options.js';
import { terminalReporter } from './progress.js';

interface CommonFlags {
  out?: string;
  device: DeviceFlag;
  precision: Precision;
  stepCapture: boolean;
}

/** The compute settings the plan's keys name. `cuda` is taken as said, without a GPU here: a
 * login node plans and submits the jobs that run on the cluster's GPUs. */
function plannedCompute(o: CommonFlags): ComputeSettings {
  const device = o.device === 'cuda' ? 'cuda' : resolveDevice(o.device);
  if (device === 'cpu' && o.precision !== 'fp32') throw new Error(`--precision ${o.precision} needs --device cuda`);
  return { device, precision: o.precision, stepCapture: o.stepCapture };
}

/** The flags every sweep command has: the config, the output folder, the compute settings. */
function sweepCommand(parent: Command, name: string, description: string): Command {
  return parent
    .command(name)
    .description(description)
    .argument('<config>', "compare's config (JSON), with an optional sweep block (docs/configs.md)")
    .option('--out <dir>', "output folder (default: compare's, runs/<name>)")
    .addOption(
      new Option('--device <d>', 'auto | cpu | cuda (cuda: the workers must have a GPU)')
        .argParser(choice(DEVICES))
        .default('auto'),
    )
    .addOption(
      new Option('--precision <p>', 'fp32 | tf32 | bf16, as compare').argParser(choice(PRECISIONS)).default('fp32'),
    )
    .addOption(new Option('--no-step-capture', 'CUDA: every training step eagerly, as compare'));
}

const open = (config: string, o: CommonFlags): Promise<Sweep> => loadSweep(config, o.out, plannedCompute(o));

/** --partition, --account, ...: sbatch settings that override the config's sweep.slurm block. */
function sbatchOptions(command: Command): Command {
  return command
    .option('--partition <name>', 'Slurm partition')
    .option('--account <name>', 'Slurm account')
    .option('--time <limit>', "time limit per task (Slurm's format: 30, 4:00:00, 1-00:00:00)")
    .option('--mem <size>', 'memory per task (16G)')
    .option('--gpus-per-task <n>', 'GPUs per task', integer(0))
    .option('--cpus-per-task <n>', 'cores per task (OMP_NUM_THREADS)', integer(1))
    .option('--max-parallel <n>', "at most this many tasks of a stage at once (--array's %P)", integer(1))
    .option(
      '--sbatch <line>',
      'an extra #SBATCH line, e.g. --sbatch=--qos=normal (repeatable)',
      (line: string, all: string[] = []) => [...all, line],
    )
    .option('--wait', 'wait until the submitted tasks have left the queue, then print the status', false);
}

function sbatchFlags(o: object): SbatchSettings {
  const f = o as Record<string, unknown>;
  return {
    partition: f.partition as string | undefined,
    account: f.account as string | undefined,
    time: f.time as string | undefined,
    mem: f.mem as string | undefined,
    gpusPerTask: f.gpusPerTask as number | undefined,
    cpusPerTask: f.cpusPerTask as number | undefined,
    maxParallel: f.maxParallel as number | undefined,
    extra: f.sbatch as string[] | undefined,
  };
}

async function printStatus(sweep: Sweep, json: boolean): Promise<void> {
  const status = await sweepStatus(sweep);
  if (json) {
    process.stdout.write(`${JSON.stringify(status)}\n`);
    return;
  }
  const rows = status.jobs.map((j) => [
    j.id,
    j.stage,
    j.done ? 'done' : 'not done',
    j.slurm?.task ?? '-',
    j.slurm ? `${j.slurm.state || 'gone'}${j.slurm.reason ? ` (${j.slurm.reason})` : ''}` : '-',
  ]);
  process.stdout.write(`${renderTable(['Job', 'Stage', 'Cache', 'Slurm task', 'Slurm state'], rows)}\n`);
  const done = status.jobs.filter((j) => j.done).length;
  process.stdout.write(
    `${done} of ${status.jobs.length} jobs done${status.accounting ? '' : '; no Slurm accounting here (sacct): tasks that ended show as gone'}\n`,
  );
}

function reportSubmission(submission: Submission | null, dryRun = false): void {
  if (!submission) return;
  for (const s of submission.stages)
    process.stdout.write(`${dryRun ? 'wrote' : s.jobId} ${s.stage}: ${s.jobs.length} task(s), ${s.script}\n`);
}

export function registerSweepCommand(program: Command): void {
  const sweep = program
    .command('sweep')
    .description(
      "a compare config's jobs (originals, masks, rows, table) in parallel: local workers or Slurm job arrays",
    );

  sweepCommand(sweep, 'plan', 'print the jobs, their dependencies, the cache key of each artifact and which are done')
    .option('--json', 'one JSON object', false)
    .action(async (config: string, o: CommonFlags & { json: boolean }) => {
      const { jobs: states } = await sweepStates(await open(config, o));
      if (o.json) {
        process.stdout.write(`${JSON.stringify({ jobs: states })}\n`);
        return;
      }
      const rows = states.map((s) => [
        s.id,
        s.stage,
        s.deps.length > 4 ? `${s.deps.length} jobs (--json lists them)` : s.deps.join('\n') || '-',
        s.key ?? '(after its deps)',
        s.done ? 'done' : '',
      ]);
      process.stdout.write(`${renderTable(['Job', 'Stage', 'Depends on', 'Key', 'Done'], rows)}\n`);
      process.stdout.write(`${states.filter((s) => s.done).length} of ${states.length} jobs done\n`);
    });

  sweepCommand(sweep, 'run', 'run the jobs that are not done in worker processes on this machine, then print the table')
    .option('--workers <n>', 'worker processes (default: the config, else 1 or one per --gpus)', integer(1))
    .option(
      '--gpus <list>',
      'GPU indices, one per worker (CUDA_VISIBLE_DEVICES); without: the cores are split',
      numberList(0),
    )
    .option(
      '--cores <n>',
      "cores split between the workers (default: this machine's); the CPU backend's sums depend on the thread count",
      integer(1),
    )
    .action(async (config: string, o: CommonFlags & { workers?: number; gpus?: number[]; cores?: number }) => {
      const s = await open(config, o);
      const gpus = o.gpus ?? s.settings.gpus;
      const workers = o.workers ?? s.settings.workers ?? gpus?.length ?? 1;
      const summary = await runSweepLocally(s, { workers, gpus, cores: o.cores });
      if (summary.interrupted) {
        process.stderr.write(`interrupted: ${summary.ran.length} job(s) finished; run the same command to continue\n`);
        process.exitCode = 130;
        return;
      }
      if (summary.failed.length) {
        throw new Error(
          `${summary.failed.length} job(s) failed (${summary.failed.join(', ')}), ${summary.skipped.length} not run after them; the log above says why`,
        );
      }
      process.stdout.write(readFileSync(`${s.outDir}/results.md`, 'utf8'));
    });

  sbatchOptions(
    sweepCommand(
      sweep,
      'submit',
      'submit the jobs that are not done to Slurm: one job array per stage, each after the one before',
    ),
  )
    .option('--slurm', 'submit to Slurm (the scheduler insalun drives)', false)
    .option('--dry-run', 'write the batch scripts and print the sbatch commands; submit nothing', false)
    .action(async (config: string, o: CommonFlags & { slurm: boolean; dryRun: boolean; wait: boolean }) => {
      if (!o.slurm) throw new Error('sweep submit needs a scheduler: --slurm');
      const s = await open(config, o);
      const submission = await submitSweep(s, { flags: sbatchFlags(o), dryRun: o.dryRun });
      reportSubmission(submission, o.dryRun);
      if (o.wait && submission && !o.dryRun) {
        await waitForSweep(s);
        await printStatus(s, false);
      }
    });

  sweepCommand(
    sweep,
    'status',
    "each job's state in the cache beside its Slurm task's (squeue; sacct where accounting exists)",
  )
    .option('--json', 'one JSON object', false)
    .action(async (config: string, o: CommonFlags & { json: boolean }) => printStatus(await open(config, o), o.json));

  sbatchOptions(
    sweepCommand(
      sweep,
      'resume',
      'resubmit exactly the jobs that are not done (failed, cancelled, never run) to Slurm',
    ),
  ).action(async (config: string, o: CommonFlags & { wait: boolean }) => {
    const s = await open(config, o);
    const submission = await resumeSweep(s, { flags: sbatchFlags(o) });
    if (!submission) process.stdout.write('nothing to resubmit: every job is done\n');
    reportSubmission(submission);
    if (o.wait && submission) {
      await waitForSweep(s);
      await printStatus(s, false);
    }
  });

  sweepCommand(sweep, 'job', 'run one job of the plan in this process (what each worker and Slurm task runs)')
    .option('--id <job>', "the job's id, as sweep plan prints it")
    .option('--list <file>', 'a file of job ids, one a line (a Slurm stage)')
    .option('--index <i>', 'with --list: run the job on line i+1', integer(0))
    .action(async (config: string, o: CommonFlags & { id?: string; list?: string; index?: number }) => {
      let id = o.id;
      if (o.list !== undefined) {
        if (o.index === undefined) throw new Error('--list needs --index');
        id = readFileSync(o.list, 'utf8').split('\n')[o.index];
        if (!id) throw new Error(`${o.list} has no line ${o.index + 1}`);
      }
      if (!id) throw new Error('sweep job needs --id, or --list and --index');
      await runSweepJob(await open(config, o), id, terminalReporter());
    });
}
