// One run per output folder: a run holds <folder>/.insalun.lock while it writes there, so that two
// runs given the same output folder cannot mix their files. The lock names its holder (pid, host,
// command, start time) for the error the second run gets. A lock whose process has died (killed,
// with no chance to remove it) is taken over with a notice; a lock from another host never is,
// since its process cannot be checked from here, unless it names the Slurm job it ran in: that job
// is asked of squeue, and a lock whose job has left the queue (cancelled, node failure, time limit)
// is taken over too.
//
// The same lock guards one artifact (an original model, a mask, a row's record) while a sweep's
// workers run side by side in one folder: lockArtifact waits for its holder instead of refusing.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export const LOCK_FILE = '.insalun.lock';

export interface LockHolder {
  pid: number;
  host: string;
  /** What the holder does there: train, mask, compare. */
  task: string;
  /** The holder's command line, e.g. `insalun train --seed 1 --out runs/x`. */
  command: string;
  started: string; // ISO time
  /** The Slurm job (`<job>` or `<array job>_<task>`) the holder runs in, if any. */
  slurmJob?: string;
}

export interface OutputLock extends Disposable {
  readonly path: string;
  release(): void;
}

/** The error of a run refused because another run holds its output folder. */
export class OutputFolderBusyError extends Error {
  constructor(
    readonly folder: string,
    readonly holder: LockHolder,
  ) {
    super(
      `${folder} is in use by another run: ${describeHolder(holder)}. Wait for it to end or choose another output folder (if that run is gone, delete ${join(folder, LOCK_FILE)})`,
    );
  }
}

export function describeHolder(h: LockHolder): string {
  const slurm = h.slurmJob ? `, Slurm job ${h.slurmJob}` : '';
  return `${h.task} (${h.command}), pid ${h.pid} on ${h.host}${slurm}, started ${h.started}`;
}

/** The error of a lock taken by someone else: the holder is named. */
class LockBusy extends Error {
  constructor(readonly holder: LockHolder) {
    super('busy');
  }
}

// Lock files this process holds: released on exit, and on a signal nothing else handles.
const held = new Set<string>();

/**
 * Takes `dir` (created if missing) for this run, or throws OutputFolderBusyError naming the run that
 * has it. Release it when the run ends (`using lock = lockOutputFolder(...)`); if the process ends
 * first (process.exit, an unhandled Ctrl-C), an exit hook releases it.
 */
export function lockOutputFolder(dir: string, task: string): OutputLock {
  mkdirSync(dir, { recursive: true });
  try {
    return takeLock(join(dir, LOCK_FILE), task);
  } catch (error) {
    if (error instanceof LockBusy) throw new OutputFolderBusyError(dir, error.holder);
    throw error;
  }
}

/**
 * Takes the lock file `path` guarding one artifact, waiting while another process holds it (a
 * sweep's worker computing the same artifact); a dead holder's lock is taken over as above.
 */
export async function lockArtifact(path: string, task: string, pollMs = 500): Promise<OutputLock> {
  mkdirSync(dirname(path), { recursive: true });
  let told = false;
  for (;;) {
    try {
      return takeLock(path, task);
    } catch (error) {
      if (!(error instanceof LockBusy)) throw error;
      if (!told) process.stderr.write(`insalun: waiting for ${path}: ${describeHolder(error.holder)}\n`);
      told = true;
    }
    await sleep(pollMs);
  }
}

function takeLock(path: string, task: string): OutputLock {
  const slurmJob = slurmJobOfThisProcess();
  const me: LockHolder = {
    pid: process.pid,
    host: hostname(),
    task,
    command: commandLine(),
    started: new Date().toISOString(),
    ...(slurmJob ? { slurmJob } : {}),
  };
  // Written whole under a name of our own, then linked to the lock's name: link() fails when that
  // name exists, so of two runs starting together exactly one gets the lock, and nobody ever reads
  // a half-written one.
  const temp = `${path}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`;
  writeFileSync(temp, `${JSON.stringify(me)}\n`);
  try {
    for (;;) {
      try {
        linkSync(temp, path);
        break;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      }
      const holder = readHolder(path);
      if (holder === null) continue; // released between our link and our read: try again
      if (holderRunning(holder, me.host)) throw new LockBusy(holder);
      process.stderr.write(
        `insalun: taking over ${path}: its holder is no longer running (${describeHolder(holder)})\n`,
      );
      rmSync(path, { force: true });
    }
  } finally {
    rmSync(temp, { force: true });
  }
  hold(path);
  return {
    path,
    release: () => release(path),
    [Symbol.dispose]: () => release(path),
  };
}

/** The holder a lock file names; null when the file is gone. */
function readHolder(path: string): LockHolder | null {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw error;
  }
  try {
    return JSON.parse(text) as LockHolder;
  } catch {
    throw new Error(`${path} is not a lock insalun can read; delete it if no run is using its folder`);
  }
}

/** Whether a lock's holder may still be running: its process on this host, else its Slurm job. */
function holderRunning(holder: LockHolder, host: string): boolean {
  if (holder.host === host) return processAlive(holder.pid);
  return holder.slurmJob ? slurmJobQueued(holder.slurmJob) : true;
}

function slurmJobOfThisProcess(): string | undefined {
  const { SLURM_ARRAY_JOB_ID: array, SLURM_ARRAY_TASK_ID: task, SLURM_JOB_ID: job } = process.env;
  return array && task ? `${array}_${task}` : job;
}

/** Whether squeue still lists a job; true when squeue cannot answer (never take a live lock). */
function slurmJobQueued(job: string): boolean {
  try {
    const out = execFileSync('squeue', ['-h', '-j', job, '-o', '%T'], { encoding: 'utf8', stdio: 'pipe' });
    return out.trim() !== '';
  } catch (error) {
    // squeue says "Invalid job id specified" for a job that has left the controller's memory.
    return !/invalid job id/i.test(String((error as { stderr?: string }).stderr ?? ''));
  }
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0); // signal 0: only checks that the process exists
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'; // exists, owned by another user
  }
}

/** `insalun train --seed 1 ...` for the CLI (bin/insalun.js), `script.mjs ...` for a script. */
function commandLine(): string {
  const script = process.argv[1] ? basename(process.argv[1]).replace(/\.[cm]?js$/, '') : 'node';
  return [script, ...process.argv.slice(2)].join(' ');
}

const SIGNALS = ['SIGINT', 'SIGTERM'] as const;

// Node ends the process on these signals without running exit hooks, unless someone listens. We
// listen while locks are held, but leave the signal to any other listener (stopOnInterrupt stops
// training at a batch boundary, and its run then releases its lock as it returns).
function onSignal(signal: NodeJS.Signals): void {
  if (process.listenerCount(signal) > 1) return;
  releaseAll();
  process.kill(process.pid, signal); // our listener is gone now: the default action ends the process
}

function hold(path: string): void {
  if (held.size === 0) {
    process.on('exit', releaseAll);
    for (const s of SIGNALS) process.on(s, onSignal);
  }
  held.add(path);
}

function release(path: string): void {
  if (!held.delete(path)) return; // released already
  rmSync(path, { force: true });
  if (held.size === 0) {
    process.off('exit', releaseAll);
    for (const s of SIGNALS) process.off(s, onSignal);
  }
}

function releaseAll(): void {
  for (const path of [...held]) release(path);
}
