// The CPU GEMM's instruction-set variants against float64 (bench/gemm.cpp in its check mode). The
// GEMM carries an AVX2 and an AVX-512 copy, chosen at run time (native/cpu/isa.h); this builds the
// harness as the addon is built and checks every ResNet-18 product and the edge shapes with each
// copy this CPU can run (INSALUN_CPU_ISA), sequential and with every thread.
import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { arch, tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadAddon, packageRoot } from '../../src/native/index.js';

const compiler = process.env.CXX ?? 'g++';
const hasCompiler = spawnSync(compiler, ['--version']).status === 0;
const march = arch() === 'x64' ? 'x86-64-v3' : 'native';
const isas = loadAddon().backends().cpuIsas;
const title = hasCompiler ? 'CPU GEMM against float64' : `CPU GEMM against float64 (skipped: no ${compiler})`;

describe.skipIf(!hasCompiler)(title, () => {
  const dir = mkdtempSync(join(tmpdir(), 'insalun-gemm-'));
  const binary = join(dir, 'gemm');
  let built: ReturnType<typeof spawnSync> | undefined;
  const build = () => {
    built ??= spawnSync(
      compiler,
      [
        '-O2',
        `-march=${march}`,
        '-fopenmp',
        '-std=c++17',
        join(packageRoot, 'bench/gemm.cpp'),
        join(packageRoot, 'native/cpu/gemm.cpp'),
        join(packageRoot, 'native/cpu/isa.cpp'),
        '-o',
        binary,
      ],
      { encoding: 'utf8' },
    );
    return built;
  };
  for (const isa of isas) {
    it(`${isa} (built for -march=${march}): every product, sequential and parallel`, () => {
      const b = build();
      expect(b.status, String(b.stderr)).toBe(0);
      for (const mode of [['check'], ['check', 'parallel']]) {
        const run = spawnSync(binary, mode, {
          encoding: 'utf8',
          env: { ...process.env, OMP_NUM_THREADS: mode.length > 1 ? '2' : '1', INSALUN_CPU_ISA: isa },
        });
        expect(run.stdout).not.toContain('WRONG');
        expect(run.status, run.stdout + run.stderr).toBe(0);
        expect(run.stdout).toContain(`instruction set: ${isa}`);
        expect(run.stdout.trim().split('\n').length).toBeGreaterThan(20); // header + every product
      }
    }, 120_000);
  }
});
