// Whether a Slurm cluster answers here (scripts/slurm-single-node.sh starts one): '' when its test
// partition is up, else why not. Slurm's client commands alone (squeue installed, no controller)
// count as absent. .ci/run starts a cluster and sets INSALUN_REQUIRE_SLURM=1, which makes an absent
// one a failure instead of a skip.
import { execFileSync } from 'node:child_process';

export const SLURM_PARTITION = process.env.INSALUN_SLURM_PARTITION ?? 'insalun-test';

export function slurmMissing(): string {
  let why: string;
  try {
    const up = execFileSync('sinfo', ['-h', '-p', SLURM_PARTITION, '-o', '%t'], { encoding: 'utf8', stdio: 'pipe' });
    why = /idle|mix|alloc/.test(up) ? '' : `Slurm's partition ${SLURM_PARTITION} is not up (sinfo: '${up.trim()}')`;
  } catch (error) {
    why = `no Slurm cluster answers (${(error as Error).message.split('\n')[0]})`;
  }
  if (why && process.env.INSALUN_REQUIRE_SLURM === '1') throw new Error(`INSALUN_REQUIRE_SLURM=1 but ${why}`);
  return why;
}
