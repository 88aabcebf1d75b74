// `insalun sweep submit --slurm`, `status`, `resume`: the plan's jobs that are not done, one Slurm
// job array per stage (`sbatch --array=0-K%P`), each array waiting for the arrays its jobs depend
// on (`--dependency=afterok:`, and `--kill-on-invalid-dep=yes`, so that a failed stage cancels the
// ones after it instead of leaving them pending forever). Each task runs `insalun sweep job` for
// one line of its stage's job list. Slurm schedules; insalun only writes the scripts and asks.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { writeFileAtomic, writeJsonAtomic } from '../io/atomic.js';
import { lockOutputFolder } from '../io/lock.js';
import { type SbatchSettings, stageSettings } from './settings.js';
import { cliEntry, jobArgs, type Sweep, sweepDir, sweepStates } from './sweep.js';

/** One submitted stage: its array's job id and the plan jobs its tasks run, task i the i-th. */
export interface SubmittedStage {
  stage: string;
  jobId: string;
  jobs: string[];
  script: string;
}

export interface Submission {
  number: number;
  submitted: string; // ISO time
  stages: SubmittedStage[];
}

/** A Slurm command's failure, with what it said. */
export class SlurmError extends Error {}

function slurm(command: string, args: string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: string };
    if (e.code === 'ENOENT')
      throw new SlurmError(`${command} not found: this machine has no Slurm client (slurm-client)`);
    const said = (e.stderr ?? '').trim().replace(/^(sbatch|squeue|sinfo|scancel|sacct): error: /gm, '');
    throw new SlurmError(`${command} ${args.join(' ')} failed: ${said || e.message}`);
  }
}

const submissionsPath = (sweep: Sweep) => join(sweepDir(sweep), 'submissions.json');

export function readSubmissions(sweep: Sweep): Submission[] {
  try {
    return JSON.parse(readFileSync(submissionsPath(sweep), 'utf8')) as Submission[];
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/** The batch script of one stage: every setting as an #SBATCH line, the task runs one job. */
export function batchScript(
  sweep: Sweep,
  stage: string,
  list: string,
  settings: SbatchSettings,
  count: number,
): string {
  const name = `insalun-${sweep.config.name}-${stage}`.replace(/[^A-Za-z0-9_.-]+/g, '_');
  const lines = [
    `--job-name=${name}`,
    `--array=0-${count - 1}${settings.maxParallel ? `%${settings.maxParallel}` : ''}`,
    `--output=${join(sweepDir(sweep), 'logs', `${stage}-%A_%a.out`)}`,
    '--kill-on-invalid-dep=yes',
    ...(settings.partition ? [`--partition=${settings.partition}`] : []),
    ...(settings.account ? [`--account=${settings.account}`] : []),
    ...(settings.time ? [`--time=${settings.time}`] : []),
    ...(settings.mem ? [`--mem=${settings.mem}`] : []),
    ...(settings.gpusPerTask ? [`--gpus-per-task=${settings.gpusPerTask}`] : []),
    `--cpus-per-task=${settings.cpusPerTask ?? 1}`,
    ...(settings.extra ?? []),
  ];
  const quote = (s: string) => `'${s.replace(/'/g, `'\\''`)}'`;
  const command = [process.execPath, cliEntry, 'sweep', 'job', ...jobArgs(sweep), '--list', list].map(quote);
  return [
    '#!/bin/bash',
    ...lines.map((l) => `#SBATCH ${l}`),
    `# insalun sweep, stage ${stage}: ${count} task(s), task i runs the job on line i+1 of`,
    `# ${list}`,
    'set -euo pipefail',
    `cd ${quote(process.cwd())}`,
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell expansion in the script
    'export OMP_NUM_THREADS="${SLURM_CPUS_PER_TASK:-1}"',
    `exec ${command.join(' ')} --index "$SLURM_ARRAY_TASK_ID"`,
    '',
  ].join('\n');
}

export interface SubmitOptions {
  flags: SbatchSettings;
  /** Write the scripts and print the sbatch commands, submit nothing. */
  dryRun?: boolean;
  log?: (line: string) => void;
}

/** Writes the scripts and submits the stages with jobs to run; returns the submission (null: all done). */
export async function submitSweep(sweep: Sweep, options: SubmitOptions): Promise<Submission | null> {
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  // A compare or sweep run writing the folder now would race the tasks: refuse, as they would.
  if (!options.dryRun) lockOutputFolder(sweep.outDir, 'sweep submit').release();
  const { stages: order, jobs: states } = await sweepStates(sweep);
  const todo = states.filter((s) => !s.done);
  if (todo.length === 0) {
    log(`sweep ${sweep.config.name}: all ${states.length} jobs are done`);
    return null;
  }
  const stages = order.filter((stage) => todo.some((s) => s.stage === stage));
  if (!options.dryRun) {
    for (const stage of stages) checkPartition(stageSettings(sweep.settings, options.flags, stage));
    const filesystem = sharedFilesystemNote(sweep.outDir, stageSettings(sweep.settings, options.flags, stages[0]));
    if (filesystem) log(filesystem);
  }

  const previous = readSubmissions(sweep);
  const number = (previous.at(-1)?.number ?? 0) + 1;
  const dir = join(sweepDir(sweep), 'slurm');
  mkdirSync(join(sweepDir(sweep), 'logs'), { recursive: true });
  // The config as it is now: the tasks read this copy, whatever happens to the file meanwhile.
  const snapshot = join(dir, `${number}-config.json`);
  await writeFileAtomic(snapshot, readFileSync(sweep.configPath));
  const submitted: SubmittedStage[] = [];
  try {
    for (const stage of stages) {
      const jobs = todo.filter((s) => s.stage === stage).map((s) => s.id);
      const settings = stageSettings(sweep.settings, options.flags, stage);
      const list = join(dir, `${number}-${stage}.jobs`);
      const script = join(dir, `${number}-${stage}.sbatch`);
      await writeFileAtomic(list, `${jobs.join('\n')}\n`);
      await writeFileAtomic(
        script,
        batchScript({ ...sweep, configPath: snapshot }, stage, list, settings, jobs.length),
      );
      // After the arrays of this submission its jobs depend on (a done dependency needs no wait): a
      // stage starts once those end, not every stage before it (masks and Retrain run side by side).
      const stageOf = new Map(todo.map((s) => [s.id, s.stage]));
      const needed = new Set(todo.filter((s) => s.stage === stage).flatMap((s) => s.deps.map((d) => stageOf.get(d))));
      const after = submitted.filter((s) => needed.has(s.stage)).map((s) => s.jobId);
      const dependency = after.length ? [`--dependency=afterok:${after.join(':')}`] : [];
      if (options.dryRun) {
        log(`sbatch --parsable ${[...dependency, script].join(' ')}   # ${jobs.length} task(s)`);
        submitted.push({ stage, jobId: `<${stage} job id>`, jobs, script });
        continue;
      }
      const jobId = slurm('sbatch', ['--parsable', ...dependency, script])
        .trim()
        .split(';')[0];
      log(
        `submitted ${stage}: ${jobs.length} task(s) as job array ${jobId}${after.length ? ` after ${after.join(', ')}` : ''}`,
      );
      submitted.push({ stage, jobId, jobs, script });
    }
  } catch (error) {
    // All or nothing: an array that waits for stages never submitted would only confuse status.
    if (submitted.length)
      slurm(
        'scancel',
        submitted.map((s) => s.jobId),
      );
    throw error;
  }
  const submission: Submission = { number, submitted: new Date().toISOString(), stages: submitted };
  if (options.dryRun) return submission;
  await writeJsonAtomic(submissionsPath(sweep), [...previous, submission]);
  return submission;
}

/** A clear error for a partition this cluster does not have, before anything is submitted. */
function checkPartition(settings: SbatchSettings): void {
  if (!settings.partition) return;
  const known = slurm('sinfo', ['-h', '-o', '%R'])
    .split('\n')
    .map((s) => s.trim())
    .filter(Boolean);
  if (!known.includes(settings.partition))
    throw new SlurmError(
      `Slurm has no partition '${settings.partition}' (partitions: ${known.join(', ') || 'none'}); set sweep.slurm.partition or --partition`,
    );
}

// File systems that live on one machine: a task on another node cannot see what they hold.
const LOCAL_FILESYSTEMS = ['ext2/ext3', 'ext4', 'xfs', 'btrfs', 'tmpfs', 'ramfs', 'overlayfs', 'f2fs', 'zfs'];

/** The file system type of a folder, as `stat -f` names it. */
export function filesystemType(dir: string): string {
  return execFileSync('stat', ['-f', '-c', '%T', dir], { encoding: 'utf8' }).trim();
}

/** What to say about the output folder's file system (null: nothing to say): the tasks assume every
 * node sees it; a local one is fine only where the partition has one node. */
export function sharedFilesystemNote(dir: string, settings: SbatchSettings): string | null {
  let type: string;
  try {
    type = filesystemType(dir);
  } catch {
    return `note: could not tell the file system of ${dir}; the tasks assume every node sees it`;
  }
  if (!LOCAL_FILESYSTEMS.includes(type)) return null;
  const nodes = new Set(
    slurm('sinfo', ['-h', '-N', '-o', '%N', ...(settings.partition ? ['-p', settings.partition] : [])])
      .split('\n')
      .filter(Boolean),
  ).size;
  if (nodes <= 1) return `note: ${dir} is on a local file system (${type}); fine on this one-node cluster`;
  return `warning: ${dir} is on a local file system (${type}) but the partition has ${nodes} nodes: tasks on other nodes will not see it; use a shared folder (NFS, Lustre, GPFS, BeeGFS)`;
}

/** A task of a submission as Slurm sees it now. */
export interface TaskState {
  job: string; // plan job id
  task: string; // <array job>_<index>
  state: string; // PENDING, RUNNING, ...; COMPLETED etc. from sacct; '' when Slurm no longer knows it
  reason: string;
}

/** The tasks of the latest submission with their Slurm states, and whether sacct answered. */
export function taskStates(sweep: Sweep): { tasks: TaskState[]; accounting: boolean } {
  const submission = readSubmissions(sweep).at(-1);
  if (!submission) return { tasks: [], accounting: false };
  const ids = submission.stages.map((s) => s.jobId);
  const known = new Map<string, { state: string; reason: string }>();
  // -t all: also the tasks that ended recently (COMPLETED, FAILED, CANCELLED), while the
  // controller remembers them (MinJobAge).
  for (const line of slurm('squeue', ['-h', '-r', '-t', 'all', '-j', ids.join(','), '-o', '%i|%T|%r']).split('\n')) {
    const [task, state, reason] = line.split('|');
    if (task) known.set(task.trim(), { state, reason: reason === 'None' ? '' : reason });
  }
  // A pending array is one line (12_[0-3%2]) until its tasks start: expand it.
  for (const [task, value] of [...known]) {
    const range = /^(\d+)_\[(.+)\]$/.exec(task);
    if (!range) continue;
    for (const part of range[2].split('%')[0].split(',')) {
      const [a, b] = part.split('-').map(Number);
      for (let i = a; i <= (b ?? a); i++) known.set(`${range[1]}_${i}`, value);
    }
  }
  let accounting = false;
  try {
    const out = slurm('sacct', ['-n', '-P', '-X', '-j', ids.join(','), '-o', 'JobID,State']);
    accounting = true;
    for (const line of out.split('\n')) {
      const [task, state] = line.split('|');
      if (task && !known.has(task)) known.set(task, { state: state.split(' ')[0], reason: '' });
    }
  } catch {
    // No accounting storage (a small cluster): squeue alone knows the tasks that have not ended.
  }
  const tasks = submission.stages.flatMap((stage) =>
    stage.jobs.map((job, i) => {
      const task = `${stage.jobId}_${i}`;
      const { state, reason } = known.get(task) ?? { state: '', reason: '' };
      return { job, task, state, reason };
    }),
  );
  return { tasks, accounting };
}

const LIVE = ['PENDING', 'RUNNING', 'CONFIGURING', 'COMPLETING', 'REQUEUED', 'RESIZING', 'SUSPENDED'];

/** Whether a task still holds the queue (a task pending on a failed dependency never runs). */
const live = (t: TaskState) => LIVE.includes(t.state) && t.reason !== 'DependencyNeverSatisfied';

/** Resubmits exactly the jobs that are not done, once no task of the latest submission is queued. */
export async function resumeSweep(sweep: Sweep, options: SubmitOptions): Promise<Submission | null> {
  const { tasks } = taskStates(sweep);
  const stuck = tasks.filter((t) => LIVE.includes(t.state) && !live(t)).map((t) => t.task);
  if (stuck.length) slurm('scancel', stuck);
  const busy = tasks.filter(live);
  if (busy.length)
    throw new SlurmError(
      `${busy.length} task(s) of this sweep are still queued or running (${busy
        .slice(0, 5)
        .map((t) => `${t.task} ${t.state}`)
        .join(
          ', ',
        )}${busy.length > 5 ? ', ...' : ''}); wait for them (insalun sweep status) or scancel them, then resume`,
    );
  return submitSweep(sweep, options);
}

/** Waits until no task of the latest submission is queued. */
export async function waitForSweep(sweep: Sweep, pollMs = 2000): Promise<void> {
  while (taskStates(sweep).tasks.some(live)) await sleep(pollMs);
}

/** Each plan job's state on disk beside its latest Slurm task's. */
export async function sweepStatus(sweep: Sweep) {
  const { jobs: states } = await sweepStates(sweep);
  const { tasks, accounting } = taskStates(sweep);
  const byJob = new Map(tasks.map((t) => [t.job, t]));
  return {
    accounting,
    jobs: states.map((s) => ({ ...s, slurm: byJob.get(s.id) ?? null })),
  };
}
