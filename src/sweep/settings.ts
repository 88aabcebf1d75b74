// The `sweep` block of a compare config (docs/configs.md): how `insalun sweep` runs the plan's jobs
// on this machine (workers, GPUs) and on a Slurm cluster (sbatch settings, per stage if needed).
// Flags override it. Nothing here enters an artifact's key: where a job runs never changes it.
import { z } from 'zod';

const SbatchSettings = z.object({
  partition: z.string().min(1).optional(),
  account: z.string().min(1).optional(),
  /** Slurm's time limit per task: minutes, or [days-]hours:minutes:seconds. */
  time: z.string().min(1).optional(),
  /** Memory per task: 16G, 4000M. */
  mem: z.string().min(1).optional(),
  gpusPerTask: z.number().int().min(0).optional(),
  cpusPerTask: z.number().int().min(1).optional(),
  /** At most this many tasks of an array at once (`--array=...%P`). */
  maxParallel: z.number().int().min(1).optional(),
  /** Further `#SBATCH` lines, each without its prefix: `--qos=normal`, `--constraint=a100`. */
  extra: z.array(z.string().min(1)).optional(),
});
export type SbatchSettings = z.infer<typeof SbatchSettings>;

export const SweepSettings = z.object({
  /** Worker processes of `sweep run`. */
  workers: z.number().int().min(1).optional(),
  /** GPU indices for `sweep run`, one per worker. */
  gpus: z.array(z.number().int().min(0)).optional(),
  slurm: SbatchSettings.extend({
    /** Settings for one stage only (an original trains for longer than a row runs). */
    stages: z.record(z.string(), SbatchSettings).optional(),
  }).optional(),
});
export type SweepSettings = z.infer<typeof SweepSettings>;

/** The sbatch settings of one stage: the config's, then its stage's, then the flags'. */
export function stageSettings(sweep: SweepSettings | undefined, flags: SbatchSettings, stage: string): SbatchSettings {
  const defined = (s: SbatchSettings | undefined) =>
    Object.fromEntries(Object.entries(s ?? {}).filter(([, v]) => v !== undefined)) as SbatchSettings;
  const { stages, ...base } = sweep?.slurm ?? {};
  return { ...defined(base), ...defined(stages?.[stage]), ...defined(flags) };
}
