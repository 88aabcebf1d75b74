// The CPU backend's vector kernels have an AVX2 and an AVX-512 copy, chosen once per process
// (native/cpu/isa.h). The op suites run in this process with the widest set the CPU has; here they
// run again, in a child process, under every other set it can run (INSALUN_CPU_ISA), so that each
// copy is checked against the float64 references on a machine that has both. The child inherits
// this environment (INSALUN_ADDON, a sanitizer's LD_PRELOAD).
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { addonPath, loadAddon, packageRoot } from '../../src/native/index.js';

const info = loadAddon().backends();
const others = info.cpuIsas.filter((isa) => isa !== info.cpuIsa);
const title =
  others.length > 0
    ? `CPU op suites under the other instruction sets (${others.join(', ')})`
    : `CPU op suites under the other instruction sets (skipped: this CPU runs only ${info.cpuIsa})`;

describe.skipIf(others.length === 0)(title, () => {
  it('INSALUN_CPU_ISA picks the set, and refuses one it does not know', () => {
    const probe = (isa: string) =>
      spawnSync(process.execPath, ['-e', 'console.log(require(process.argv[1]).backends().cpuIsa)', addonPath()!], {
        encoding: 'utf8',
        env: { ...process.env, INSALUN_CPU_ISA: isa },
      });
    for (const isa of info.cpuIsas) expect(probe(isa).stdout.trim()).toBe(isa);
    const bad = probe('sse9');
    expect(bad.status).not.toBe(0);
    expect(bad.stderr).toContain('INSALUN_CPU_ISA=sse9: expected avx2, avx512, auto or generic');
  });
  for (const isa of others) {
    it(`test/native/ops.test.ts with INSALUN_CPU_ISA=${isa}`, () => {
      const vitest = join(packageRoot, 'node_modules', 'vitest', 'vitest.mjs');
      const run = spawnSync(
        process.execPath,
        [vitest, 'run', 'test/native/ops.test.ts', '-t', '\\[cpu', '--reporter=verbose'],
        { cwd: packageRoot, encoding: 'utf8', env: { ...process.env, INSALUN_CPU_ISA: isa } },
      );
      expect(run.status, run.stdout + run.stderr).toBe(0);
      expect(run.stdout).toContain(`conv2d [cpu ${isa}]`);
      expect(run.stdout).not.toMatch(/\b0 passed/);
    }, 600_000);
  }
});
