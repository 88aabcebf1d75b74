// `insalun sweep run`: the plan's jobs in N worker processes on this machine, each job once its
// dependencies are done. A worker gets one GPU (CUDA_VISIBLE_DEVICES) or its share of the CPU cores
// (OMP_NUM_THREADS). Ctrl-C stops the workers (each job's artifact is written atomically at its
// end, so a stopped job leaves nothing half-written); a rerun continues with what is not done.
import { type ChildProcess, spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import { createInterface } from 'node:readline';
import { lockOutputFolder } from '../io/lock.js';
import { cliEntry, jobArgs, type Sweep, sweepStates } from './sweep.js';

export interface LocalRunOptions {
  workers: number;
  /** GPU index per worker (worker k gets gpus[k]); none on the CPU. */
  gpus?: number[];
  /** Cores to split between the workers (default: all of this machine's). */
  cores?: number;
  log?: (line: string) => void;
}

export interface LocalRunSummary {
  ran: string[];
  failed: string[];
  /** Not run: a dependency failed, or the run was interrupted. */
  skipped: string[];
  interrupted: boolean;
}

/** The environment of worker `slot`: its GPU, or its share of the cores. */
export function workerEnv(slot: number, options: LocalRunOptions): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  if (options.gpus?.length) env.CUDA_VISIBLE_DEVICES = String(options.gpus[slot]);
  const cores = options.cores ?? availableParallelism();
  env.OMP_NUM_THREADS = String(Math.max(1, Math.floor(cores / options.workers)));
  return env;
}

export async function runSweepLocally(sweep: Sweep, options: LocalRunOptions): Promise<LocalRunSummary> {
  if (options.gpus?.length && options.gpus.length < options.workers)
    throw new Error(`--workers ${options.workers} needs as many GPUs, --gpus names ${options.gpus.length}`);
  const log = options.log ?? ((line) => process.stderr.write(`${line}\n`));
  // The folder is this sweep's while it runs: no compare (or other sweep) writes there meanwhile.
  // The workers take only their artifacts' locks.
  using _lock = lockOutputFolder(sweep.outDir, 'sweep run');
  const { jobs: states } = await sweepStates(sweep);
  const done = new Set(states.filter((s) => s.done).map((s) => s.id));
  const waiting = states.filter((s) => !s.done);
  const summary: LocalRunSummary = { ran: [], failed: [], skipped: [], interrupted: false };
  log(`sweep ${sweep.config.name}: ${done.size} of ${states.length} jobs done, ${waiting.length} to run`);

  const running = new Map<number, { id: string; child: ChildProcess }>(); // by worker slot
  const blocked = (id: string) => summary.failed.includes(id) || summary.skipped.includes(id);
  const stop = () => {
    if (summary.interrupted) return;
    summary.interrupted = true;
    log('sweep: interrupted, stopping the workers (a rerun continues)');
    for (const { child } of running.values()) child.kill('SIGTERM');
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  try {
    await new Promise<void>((resolveAll) => {
      const launch = () => {
        for (let i = 0; i < waiting.length; i++) {
          const job = waiting[i];
          if (job.deps.some(blocked)) {
            summary.skipped.push(job.id);
            waiting.splice(i--, 1);
          }
        }
        for (let slot = 0; slot < options.workers && !summary.interrupted; slot++) {
          if (running.has(slot)) continue;
          const next = waiting.findIndex((job) => job.deps.every((dep) => done.has(dep)));
          if (next < 0) break;
          const [job] = waiting.splice(next, 1);
          running.set(slot, { id: job.id, child: startWorker(sweep, job.id, slot, options, log, finish) });
        }
        if (running.size === 0) {
          if (summary.interrupted) summary.skipped.push(...waiting.map((j) => j.id));
          resolveAll();
        }
      };
      const finish = (slot: number, ok: boolean) => {
        const { id } = running.get(slot)!;
        running.delete(slot);
        if (ok) {
          done.add(id);
          summary.ran.push(id);
        } else if (!summary.interrupted) summary.failed.push(id);
        else summary.skipped.push(id);
        launch();
      };
      launch();
    });
  } finally {
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
  }
  return summary;
}

function startWorker(
  sweep: Sweep,
  id: string,
  slot: number,
  options: LocalRunOptions,
  log: (line: string) => void,
  finish: (slot: number, ok: boolean) => void,
): ChildProcess {
  const env = workerEnv(slot, options);
  const where =
    env.CUDA_VISIBLE_DEVICES === undefined ? `${env.OMP_NUM_THREADS} cores` : `GPU ${env.CUDA_VISIBLE_DEVICES}`;
  log(`[worker ${slot}] ${id} (${where})`);
  // Its own process group: a Ctrl-C at the terminal reaches the runner only, which stops the workers.
  const child = spawn(process.execPath, [cliEntry, 'sweep', 'job', ...jobArgs(sweep), '--id', id], {
    env,
    stdio: ['ignore', 'pipe', 'pipe'],
    detached: true,
  });
  for (const stream of [child.stdout!, child.stderr!])
    createInterface({ input: stream }).on('line', (line) => log(`[worker ${slot}] ${line}`));
  child.on('error', (error) => log(`[worker ${slot}] ${id}: ${error.message}`));
  child.on('close', (code, signal) => {
    const ok = code === 0;
    if (!ok) log(`[worker ${slot}] ${id} failed (${signal ?? `exit code ${code}`})`);
    finish(slot, ok);
  });
  return child;
}
