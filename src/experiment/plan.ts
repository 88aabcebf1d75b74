// An experiment as a plan: jobs, each computing one artifact (a model, a mask, a record, a table)
// from the artifacts of the jobs it depends on. A job is done when its artifact is on disk under
// its cache key, so any runner (this process in order, child processes, Slurm job arrays) can run
// the jobs that are not done, and a stopped run continues where it was. Jobs are grouped into
// stages that depend only on earlier stages, which a cluster runs as one job array each.

export interface PlanJob {
  /** Unique and stable across runs of the same config: `row/seed-1/SalUn`. */
  id: string;
  /** The stage it belongs to: one of its plan's stages. */
  stage: string;
  /** Ids of the jobs whose artifacts it reads. */
  deps: readonly string[];
  /** The file that marks the artifact done (it holds the key). */
  artifact: string;
  /** The artifact's cache key; null while it depends on a result no dependency has computed yet. */
  key(): Promise<string | null>;
  /** Whether the artifact is on disk under its key. */
  done(): Promise<boolean>;
  /** Computes the artifact (its dependencies are done): in this process, reusing what it finds. */
  run(): Promise<void>;
}

export interface Plan extends Disposable {
  name: string;
  /** In the order they run: every job depends only on jobs of earlier stages. */
  stages: readonly string[];
  /** In an order that runs them one after another (each after its dependencies). */
  jobs: readonly PlanJob[];
}

/** Throws when ids repeat, a dependency is missing or belongs to the same or a later stage. */
export function checkPlan(plan: Plan): void {
  const stageOf = new Map<string, number>();
  for (const job of plan.jobs) {
    if (stageOf.has(job.id)) throw new Error(`plan ${plan.name}: job ${job.id} appears twice`);
    const stage = plan.stages.indexOf(job.stage);
    if (stage < 0) throw new Error(`plan ${plan.name}: job ${job.id} has an unknown stage ${job.stage}`);
    for (const dep of job.deps) {
      const depStage = stageOf.get(dep);
      if (depStage === undefined) throw new Error(`plan ${plan.name}: job ${job.id} depends on ${dep}, not before it`);
      if (depStage >= stage) throw new Error(`plan ${plan.name}: job ${job.id} depends on ${dep} of a later stage`);
    }
    stageOf.set(job.id, stage);
  }
}

export function findJob(plan: Plan, id: string): PlanJob {
  const job = plan.jobs.find((j) => j.id === id);
  if (!job) throw new Error(`plan ${plan.name} has no job ${id}`);
  return job;
}

/** Each job's state: done, or not yet (with its key where known). */
export interface JobState {
  id: string;
  stage: string;
  deps: readonly string[];
  artifact: string;
  key: string | null;
  done: boolean;
}

export async function planStates(plan: Plan): Promise<JobState[]> {
  const states: JobState[] = [];
  for (const job of plan.jobs) {
    const { id, stage, deps, artifact } = job;
    states.push({ id, stage, deps, artifact, key: await job.key(), done: await job.done() });
  }
  return states;
}

/** Every job in turn, in this process; jobs already done are not computed again (their runs reuse). */
export async function runPlanSerially(plan: Plan): Promise<void> {
  checkPlan(plan);
  for (const job of plan.jobs) await job.run();
}
