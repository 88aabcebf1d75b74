// A sweep: a compare config's plan (comparePlan) run by workers other than the serial compare: one
// job per process (`insalun sweep job`), in parallel on this machine or as Slurm job arrays. Every
// runner runs the same jobs, which reuse what is done, so their table is the serial compare's.
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type CompareConfig, comparePlan, parseCompareConfig } from '../experiment/compare.js';
import type { Reporter } from '../experiment/loop.js';
import { findJob, type JobState, type Plan, planStates } from '../experiment/plan.js';
import type { ComputeSettings } from '../native/index.js';
import { SweepSettings } from './settings.js';

/** A sweep as its commands see it: the config (its file, parsed), its output folder, how it computes. */
export interface Sweep {
  configPath: string; // absolute
  config: CompareConfig;
  settings: SweepSettings;
  outDir: string; // absolute
  compute: ComputeSettings;
}

export async function loadSweep(configPath: string, outDir: string | undefined, compute: ComputeSettings) {
  let raw: unknown;
  try {
    raw = JSON.parse(await readFile(configPath, 'utf8'));
  } catch (error) {
    throw new Error(`${configPath}: ${(error as Error).message}`);
  }
  const config = parseCompareConfig(raw, configPath);
  // The rows after a tuning depend on what it chose, and a sweep's plan is fixed before any job
  // runs (its Slurm arrays are submitted at once): running the config's rows untuned would give a
  // table that is not the config's.
  if (config.tuning)
    throw new Error(
      `${configPath}: a config with a tuning block runs with \`insalun compare\` only (a sweep's plan is fixed before the tuning chooses its rows); run compare, or put the chosen values in the rows and drop the tuning block`,
    );
  const parsed = SweepSettings.safeParse((raw as { sweep?: unknown }).sweep ?? {});
  if (!parsed.success) {
    const issues = parsed.error.issues.map((i) => `sweep.${i.path.join('.')}: ${i.message}`).join('; ');
    throw new Error(`${configPath}: invalid sweep block: ${issues}`);
  }
  return {
    configPath: resolve(configPath),
    config,
    settings: parsed.data,
    outDir: resolve(outDir ?? defaultOutDir(config)),
    compute,
  } satisfies Sweep;
}

/** compare's default output folder, so that `sweep` and `compare` without --out share one. */
export const defaultOutDir = (config: CompareConfig) => join('runs', config.name.replace(/[^A-Za-z0-9_.-]+/g, '_'));

export function sweepPlan(sweep: Sweep, reporter?: Reporter): Plan {
  return comparePlan(sweep.config, sweep.outDir, sweep.compute, reporter);
}

/** The plan's stages in their order, and each job's state on disk. */
export async function sweepStates(sweep: Sweep): Promise<{ stages: readonly string[]; jobs: JobState[] }> {
  using plan = sweepPlan(sweep);
  return { stages: plan.stages, jobs: await planStates(plan) };
}

/** Runs one job of the plan in this process, once its dependencies are done. */
export async function runSweepJob(sweep: Sweep, id: string, reporter?: Reporter): Promise<void> {
  using plan = sweepPlan(sweep, reporter);
  const job = findJob(plan, id);
  for (const dep of job.deps) {
    if (!(await findJob(plan, dep).done()))
      throw new Error(`job ${id} needs ${dep}, which is not done (run the sweep, or resume it, to compute it first)`);
  }
  await job.run();
}

/** The folder a sweep keeps its own files in: scripts, job lists, logs, submissions. */
export const sweepDir = (sweep: Sweep) => join(sweep.outDir, 'sweep');

/** bin/insalun.js, which every worker runs (the same package as this one). */
export const cliEntry = fileURLToPath(new URL('../../bin/insalun.js', import.meta.url));

/** The arguments that give `sweep job` this sweep's config, folder and compute settings. */
export function jobArgs(sweep: Sweep): string[] {
  const { device, precision, stepCapture } = sweep.compute;
  return [
    sweep.configPath,
    '--out',
    sweep.outDir,
    '--device',
    device,
    '--precision',
    precision,
    ...(stepCapture ? [] : ['--no-step-capture']),
  ];
}
