// A real CUDA build (nvcc, static CUDA runtime, cuDNN loaded at run time) on a machine where cuDNN
// is missing, too old, for another CUDA, or lacks an engine library: the addon still loads, CPU
// commands run, and doctor names the cause and the fix. Also: the build has no load-time tie to
// cuDNN and runs from a copy of the package in another folder (a lab's shared build).
//
// Needs INSALUN_CUDA_BUILD (a CUDA insalun.node) and INSALUN_CUDNN_LIBRARIES (a folder holding a
// complete cuDNN 9 of the headers' version: lib/libcudnn*.so.9, as the nvidia-cudnn wheel lays it
// out); .ci/run provides both wherever nvcc exists, and sets INSALUN_REQUIRE_CUDA_BUILD_TESTS=1 so
// that they cannot skip there. Runs the compiled CLI (dist/) in child processes: the environment
// that decides where cuDNN is found is read once per process.
import { execFileSync, spawnSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  linkSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { packageRoot } from '../../src/native/index.js';

const cudaBuild = process.env.INSALUN_CUDA_BUILD;
const cudnnLibraries = process.env.INSALUN_CUDNN_LIBRARIES;
const required = process.env.INSALUN_REQUIRE_CUDA_BUILD_TESTS === '1';
const missing = !cudaBuild
  ? 'INSALUN_CUDA_BUILD is not set'
  : !cudnnLibraries
    ? 'INSALUN_CUDNN_LIBRARIES is not set'
    : '';
if (missing && required) throw new Error(`CUDA build tests required but ${missing}`);
const skipWhy = missing ? ` (skipped: ${missing}; .ci/run sets it where nvcc exists)` : '';

const scratch = mkdtempSync(join(tmpdir(), 'insalun-cuda-faults-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const cli = join(packageRoot, 'bin', 'insalun.js');

// A python3 that has no nvidia-cudnn wheel, or one whose wheel is the given folder: the last place
// the loader looks, so the outcome does not depend on what this machine's python3 has installed.
function fakePython(wheel?: string): string {
  const dir = mkdtempSync(join(scratch, 'python-'));
  const body = wheel ? `echo '${wheel}'` : 'echo "ModuleNotFoundError: No module named nvidia" >&2; exit 1';
  writeFileSync(join(dir, 'python3'), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return dir;
}

/** The CLI on the CUDA build, with only the given cuDNN-related environment. */
function run(args: string[], env: Record<string, string | undefined>, addon = cudaBuild!, entry = cli) {
  const base = { ...process.env };
  for (const key of ['CUDNN_ROOT', 'LD_LIBRARY_PATH', 'INSALUN_CUDNN_ALLOW_OLDER', 'INSALUN_ADDON']) delete base[key];
  const r = spawnSync(process.execPath, [entry, ...args], {
    env: { ...base, INSALUN_ADDON: addon, PATH: `${fakePython()}:${process.env.PATH}`, ...env },
    encoding: 'utf8',
    timeout: 120_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function cudnnLine(out: string): string {
  return out.split('\n').find((l) => l.startsWith('cuDNN: ')) ?? `(no cuDNN line in: ${out})`;
}

/** A cuDNN folder (lib/ of hard links, or copies, of the complete one) without the named files. */
function cudnnWithout(...omitted: string[]): string {
  const root = mkdtempSync(join(scratch, 'cudnn-'));
  mkdirSync(join(root, 'lib'));
  for (const name of readdirSync(join(cudnnLibraries!, 'lib'))) {
    if (omitted.includes(name)) continue;
    try {
      linkSync(join(cudnnLibraries!, 'lib', name), join(root, 'lib', name));
    } catch {
      cpSync(join(cudnnLibraries!, 'lib', name), join(root, 'lib', name));
    }
  }
  return root;
}

/** A cuDNN of two files answering cudnnGetVersion and cudnnGetCudartVersion as told: libcudnn.so.9,
 * and libcudnn_graph.so.9, where the real cuDNN implements them (and where the loader asks). */
function stubCudnn(version: number, cudaVersion: number): string {
  const root = mkdtempSync(join(scratch, 'stub-'));
  mkdirSync(join(root, 'lib'));
  const source = join(root, 'stub.c');
  writeFileSync(
    source,
    `#include <stddef.h>\nsize_t cudnnGetVersion(void) { return ${version}; }\nsize_t cudnnGetCudartVersion(void) { return ${cudaVersion}; }\n`,
  );
  for (const file of ['libcudnn.so.9', 'libcudnn_graph.so.9'])
    execFileSync('cc', ['-shared', '-fPIC', '-o', join(root, 'lib', file), source]);
  return root;
}

const trainArgs = (out: string) => [
  'train',
  '--dataset',
  'synthetic',
  '--synthetic-size',
  '64',
  '--synthetic-test-size',
  '20',
  '--width',
  '4',
  '--epochs',
  '1',
  '--batch-size',
  '32',
  '--out',
  out,
];

describe.skipIf(Boolean(missing))(`a CUDA build where cuDNN is missing or wrong${skipWhy}`, () => {
  it('has no load-time dependency on cuDNN and no cuDNN symbol left for the loader to find', () => {
    const dynamic = execFileSync('readelf', ['-d', cudaBuild!], { encoding: 'utf8' });
    expect(dynamic).not.toMatch(/NEEDED.*cudnn/);
    expect(dynamic).not.toMatch(/NEEDED.*libcudart/); // the runtime is linked statically
    // Every cuDNN function the backend calls is a forwarder inside the addon.
    const undefinedSymbols = execFileSync('nm', ['-D', '--undefined-only', cudaBuild!], { encoding: 'utf8' });
    expect(undefinedSymbols).not.toMatch(/cudnn/);
    expect(execFileSync('nm', ['-D', '--defined-only', cudaBuild!], { encoding: 'utf8' })).not.toMatch(/cudnn/);
  });

  it('a complete cuDNN of the right version is found through CUDNN_ROOT, and doctor says where', () => {
    const r = run(['doctor'], { CUDNN_ROOT: cudnnLibraries });
    expect(r.code, r.err).toBe(0);
    expect(cudnnLine(r.out)).toMatch(
      new RegExp(
        `^cuDNN: 9\\.\\d+\\.\\d+ \\(for CUDA 13\\), ${resolve(cudnnLibraries!)}/lib/libcudnn\\.so\\.9, found by CUDNN_ROOT$`,
      ),
    );
    expect(r.out).toMatch(/^cuDNN needed: 9\.\d+\.\d+ or a newer 9\.x/m);
  });

  it('the same cuDNN is found through the nvidia-cudnn wheel of python3, and through LD_LIBRARY_PATH', () => {
    const wheel = run(['doctor'], { PATH: `${fakePython(resolve(cudnnLibraries!))}:${process.env.PATH}` });
    expect(cudnnLine(wheel.out)).toMatch(/found by the nvidia-cudnn wheel of python3$/);
    const loaderPath = run(['doctor'], { LD_LIBRARY_PATH: join(cudnnLibraries!, 'lib') });
    expect(cudnnLine(loaderPath.out)).toMatch(/found by the library search path$/);
  });

  it('no cuDNN anywhere: CPU commands run, auto picks the CPU, and doctor says what to install', () => {
    const doctor = run(['doctor'], {});
    expect(doctor.code, doctor.err).toBe(0);
    expect(doctor.out).toMatch(/cpu backend: available/);
    expect(cudnnLine(doctor.out)).toMatch(
      /^cuDNN: unusable: cuDNN 9 \(libcudnn\.so\.9\) was not found; install it: pip install nvidia-cudnn-cu13/,
    );
    expect(doctor.out).toMatch(
      /^cuDNN searched: the library search path .*; the nvidia-cudnn wheel of python3 \(none\)$/m,
    );
    expect(doctor.out).toMatch(/--device auto selects: cpu/);
    for (const device of ['cpu', 'auto']) {
      const out = join(scratch, `train-${device}`);
      const train = run([...trainArgs(out), '--device', device], {});
      expect(train.code, train.err).toBe(0);
      expect(existsSync(join(out, 'last.safetensors'))).toBe(true);
    }
  });

  it('a CUDNN_ROOT that holds no cuDNN (a moved folder) is named, not searched around', () => {
    const gone = join(scratch, 'moved-away');
    const r = run(['doctor'], { CUDNN_ROOT: gone, LD_LIBRARY_PATH: join(cudnnLibraries!, 'lib') });
    expect(r.code).toBe(0);
    expect(cudnnLine(r.out)).toBe(
      `cuDNN: unusable: CUDNN_ROOT=${gone} holds no lib/libcudnn.so.9; point CUDNN_ROOT at the folder that holds include/cudnn.h and lib/libcudnn.so.9 (for the pip wheel: python3 -c 'import nvidia.cudnn as c; print(c.__path__[0])'), or unset it to search the system`,
    );
  });

  it('a cuDNN older than the headers is refused with the versions and the fix; the override only lets it past that check', () => {
    const old = stubCudnn(90100, 13000);
    const refused = run(['doctor'], { CUDNN_ROOT: old });
    expect(cudnnLine(refused.out)).toMatch(
      /^cuDNN: unusable: cuDNN 9\.1\.0 at .*\/lib\/libcudnn\.so\.9 is older than the 9\.\d+\.\d+ this addon was built against .*INSALUN_CUDNN_ALLOW_OLDER=1 runs it anyway, unsupported$/,
    );
    const train = run([...trainArgs(join(scratch, 'train-old')), '--device', 'cpu'], { CUDNN_ROOT: old });
    expect(train.code, train.err).toBe(0);
    const cuda = run([...trainArgs(join(scratch, 'train-old-cuda')), '--device', 'cuda'], { CUDNN_ROOT: old });
    expect(cuda.code).toBe(1);
    expect(cuda.err.trim().split('\n')).toHaveLength(1);
    expect(cuda.err).toMatch(/--device cuda: /);
    // With the override the stub gets past the version and fails where a real cuDNN would not: it
    // lacks the other sub-libraries.
    const allowed = run(['doctor'], { CUDNN_ROOT: old, INSALUN_CUDNN_ALLOW_OLDER: '1' });
    expect(cudnnLine(allowed.out)).toMatch(/^cuDNN: unusable: cuDNN is incomplete: libcudnn_ops\.so\.9 is missing/);
  });

  it('a cuDNN of another major version, or built for another CUDA, is refused', () => {
    expect(cudnnLine(run(['doctor'], { CUDNN_ROOT: stubCudnn(80907, 12020) }).out)).toMatch(
      /^cuDNN: unusable: cuDNN 8\.9\.7 at .* is not cuDNN 9; this addon needs 9\.\d+\.\d+ or a newer 9\.x/,
    );
    expect(cudnnLine(run(['doctor'], { CUDNN_ROOT: stubCudnn(99900, 12080) }).out)).toMatch(
      /^cuDNN: unusable: cuDNN 9\.99\.0 at .* is built for CUDA 12 but this addon uses the CUDA 13 runtime; install the cuDNN for CUDA 13 \(pip install nvidia-cudnn-cu13\)$/,
    );
  });

  it('a cuDNN with only its front library (what a build needs) is refused without calling into it', () => {
    // libcudnn.so.9 alone aborts the process on its first call, cudnnGetVersion included.
    const front = cudnnWithout(...readdirSync(join(cudnnLibraries!, 'lib')).filter((f) => f !== 'libcudnn.so.9'));
    const doctor = run(['doctor'], { CUDNN_ROOT: front });
    expect(doctor.code, doctor.err).toBe(0);
    expect(cudnnLine(doctor.out)).toMatch(/^cuDNN: unusable: cuDNN is incomplete: libcudnn_graph\.so\.9 is missing/);
  });

  it('a cuDNN without its engine library is refused before any cuDNN call, naming the file', () => {
    const incomplete = cudnnWithout('libcudnn_engines_precompiled.so.9');
    const doctor = run(['doctor'], { CUDNN_ROOT: incomplete });
    expect(doctor.code, doctor.err).toBe(0);
    expect(cudnnLine(doctor.out)).toMatch(
      /^cuDNN: unusable: cuDNN is incomplete: libcudnn_engines_precompiled\.so\.9 is missing \(looked beside .*\/lib\/libcudnn\.so\.9 and on the library search path\); it holds cuDNN's convolution kernels/,
    );
    const train = run([...trainArgs(join(scratch, 'train-incomplete')), '--device', 'cpu'], { CUDNN_ROOT: incomplete });
    expect(train.code, train.err).toBe(0);
  });

  it('runs from a copy of the package in another folder (a shared build), and doctor reports the build', () => {
    const copy = join(scratch, 'shared', 'insalun');
    for (const part of ['bin', 'dist', 'package.json'])
      cpSync(join(packageRoot, part), join(copy, part), { recursive: true });
    symlinkSync(join(packageRoot, 'node_modules'), join(copy, 'node_modules'));
    mkdirSync(join(copy, 'build', 'Release'), { recursive: true });
    cpSync(cudaBuild!, join(copy, 'build', 'Release', 'insalun.node'));
    const r = run(
      ['doctor'],
      { CUDNN_ROOT: cudnnLibraries, INSALUN_ADDON: undefined },
      cudaBuild!,
      join(copy, 'bin', 'insalun.js'),
    );
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(
      new RegExp(
        `^addon: ${copy}/build/Release/insalun\\.node \\(CPU code for -march=\\S+, CUDA 13\\.\\d for sm_[\\d/]+, cuDNN headers 9\\.\\d+\\.\\d+\\)$`,
        'm',
      ),
    );
    expect(cudnnLine(r.out)).toMatch(/found by CUDNN_ROOT$/);
    // Nothing of the machine that built it is baked in: no RPATH/RUNPATH at all.
    expect(
      execFileSync('readelf', ['-d', join(copy, 'build', 'Release', 'insalun.node')], { encoding: 'utf8' }),
    ).not.toMatch(/R(UN)?PATH/);
  });
});
