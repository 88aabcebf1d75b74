// The CPU GEMM's instruction-set variants against float64 (bench/gemm.cpp in its check mode). The
// addon is built with -march=native, so on an AVX-512 machine the rest of the suite only runs the
// AVX-512 tile; this also builds the AVX2 tile (x86-64-v3, what the GPU host's addon uses) and
// checks every ResNet-18 product and the edge shapes, sequential and with every thread.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/native/index.js';

const compiler = process.env.CXX ?? 'g++';
const hasCompiler = spawnSync(compiler, ['--version']).status === 0;
const variants = arch() === 'x64' ? ['native', 'x86-64-v3'] : ['native'];
const title = hasCompiler ? 'CPU GEMM against float64' : `CPU GEMM against float64 (skipped: no ${compiler})`;

describe.skipIf(!hasCompiler)(title, () => {
  const dir = mkdtempSync(join(tmpdir(), 'insalun-gemm-'));
  for (const march of variants) {
    it(`-march=${march}: every product, sequential and parallel`, () => {
      const binary = join(dir, `gemm-${march}`);
      const build = spawnSync(
        compiler,
        [
          '-O2',
          `-march=${march}`,
          '-fopenmp',
          '-std=c++17',
          join(packageRoot, 'bench/gemm.cpp'),
          join(packageRoot, 'native/cpu/gemm.cpp'),
          '-o',
          binary,
        ],
        { encoding: 'utf8' },
      );
      expect(build.status, build.stderr).toBe(0);
      for (const mode of [['check'], ['check', 'parallel']]) {
        const run = spawnSync(binary, mode, {
          encoding: 'utf8',
          env: { ...process.env, OMP_NUM_THREADS: mode.length > 1 ? '2' : '1' },
        });
        expect(run.stdout).not.toContain('WRONG');
        expect(run.status, run.stdout + run.stderr).toBe(0);
        expect(run.stdout.trim().split('\n').length).toBeGreaterThan(20); // header + every product
      }
    }, 120_000);
  }
});
