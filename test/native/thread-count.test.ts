// The CPU backend's results must not depend on the OpenMP thread count: a sweep's workers run at
// one thread each and must reproduce a serial run at the default count bit for bit. Every sum over
// the batch is split into shares fixed by the shape (native/cpu/parallel.h), so the same run at 1,
// 2 and 3 threads gives the same bits. thread-digest.mjs runs a short training, a gradient,
// integrated gradients, predictions and the sum op in a child process and prints one digest of
// them; here it runs under each instruction set at each thread count.
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { addonPath, loadAddon } from '../../src/native/index.js';

const isas: string[] = loadAddon().backends().cpuIsas;
const child = fileURLToPath(new URL('thread-digest.mjs', import.meta.url));

function digest(isa: string, threads: number): string {
  const run = spawnSync(process.execPath, [child, addonPath()!], {
    encoding: 'utf8',
    env: { ...process.env, INSALUN_CPU_ISA: isa, OMP_NUM_THREADS: String(threads) },
  });
  expect(run.status, run.stderr).toBe(0);
  const [printedIsa, hash] = run.stdout.trim().split(' ');
  expect(printedIsa).toBe(isa);
  expect(hash).toMatch(/^[0-9a-f]{64}$/);
  return hash;
}

describe('CPU results do not depend on OMP_NUM_THREADS', () => {
  for (const isa of isas)
    it(`${isa}: training, gradient, integrated gradients, predictions and sum at 1, 2 and 3 threads`, () => {
      const [one, two, three] = [1, 2, 3].map((threads) => digest(isa, threads));
      expect(two).toBe(one);
      expect(three).toBe(one);
    }, 30_000);
});
