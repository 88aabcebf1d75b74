// The command line in-process: bad input ends in one clear message and a non-zero exit code.
import { expect, it } from 'vitest';
import { resolveDevice } from '../../src/cli/options.js';
import { collectHyper } from '../../src/cli/unlearning-commands.js';
import { loadAddon } from '../../src/native/index.js';
import { runCli } from '../helpers/cli.js';

it('doctor reports the CPU backend and says why CUDA is or is not there', async () => {
  const r = await runCli('doctor');
  expect(r.code).toBe(0);
  expect(r.out).toMatch(/cpu backend: available, \d+ OpenMP threads, (avx2|avx512|generic) kernels \(this CPU runs /);
  expect(r.out).toMatch(/cuda backend: (available|not available \(.+\)|not built into this addon)/);
  expect(r.out).toMatch(/^addon: \S+insalun\.node \(CPU code for -march=/m);
});

const emulated = loadAddon().backends().cudaEmulated;
it.skipIf(!emulated)(
  `the CPU emulation of CUDA is used only when asked for, never benchmarked, and doctor says so${emulated ? '' : ' (skipped: this addon is not the emulation build)'}`,
  async () => {
    expect(resolveDevice('auto')).toBe('cpu');
    expect(resolveDevice('cuda')).toBe('cuda');
    const doctor = await runCli('doctor');
    expect(doctor.out).toMatch(/emulation: .*no GPU is used/);
    const bench = await runCli('bench', '--device', 'cuda', '--quick');
    expect(bench.code).toBe(1);
    expect(bench.err.trim().split('\n')).toHaveLength(1);
    expect(bench.err).toMatch(/CPU emulation of CUDA .* say nothing about a GPU/);
  },
);

it('a precision the CPU backend does not have is refused before any work', async () => {
  const r = await runCli(
    'train',
    '--dataset',
    'synthetic',
    '--epochs',
    '1',
    '--device',
    'cpu',
    '--precision',
    'tf32',
    '--out',
    'runs/never-written',
  );
  expect(r.code).toBe(1);
  expect(r.err.trim().split('\n')).toHaveLength(1);
  expect(r.err).toMatch(/--precision tf32 needs the CUDA backend/);
});

it('an unknown precision or device is a usage error naming the choices', async () => {
  const precision = await runCli('train', '--dataset', 'synthetic', '--precision', 'fp16');
  expect(precision.code).not.toBe(0);
  expect(precision.err).toMatch(/expected one of fp32, tf32, bf16, got 'fp16'/);
  const device = await runCli('eval', '--checkpoint', 'x.safetensors', '--device', 'gpu');
  expect(device.code).not.toBe(0);
  expect(device.err).toMatch(/expected one of auto, cpu, cuda, got 'gpu'/);
  const demo = await runCli('demo', '--device', 'gpu');
  expect(demo.code).not.toBe(0);
  expect(demo.err).toMatch(/expected one of auto, cpu, cuda, got 'gpu'/);
});

it('--set is checked against the method before any work: an unknown key or a bad value is one line and exit 1', async () => {
  const unlearn = (...set: string[]) =>
    runCli(
      'unlearn',
      ...set,
      '--method',
      'rl',
      '--checkpoint',
      'runs/no-such-checkpoint.safetensors',
      '--forget',
      'random:5',
      '--device',
      'cpu',
    );
  const unknown = await unlearn('--set', 'epoch=3');
  expect(unknown.code).toBe(1);
  expect(unknown.err.trim().split('\n')).toHaveLength(1);
  expect(unknown.err).toMatch(
    /--set: unknown hyperparameter 'epoch' for rl; valid: batchSize, momentum, weightDecay, augment, epochs, lr$/m,
  );
  const numeric = await unlearn('--set', 'augment=1');
  expect(numeric.code).toBe(1);
  expect(numeric.err.trim().split('\n')).toHaveLength(1);
  expect(numeric.err).toMatch(/hyperparameter augment of rl must be true or false, got 1/);
  expect((await unlearn('--set', 'lr=fast')).err).toMatch(/hyperparameter lr of rl must be a number >= 0, got 'fast'/);
  // valid values (booleans as true/false) pass, and the command goes on to the checkpoint
  const valid = await unlearn('--set', 'augment=false,lr=0.02', '--set', 'epochs=2');
  expect(valid.code).toBe(1);
  expect(valid.err).toMatch(/no-such-checkpoint/);
  expect(valid.err).not.toMatch(/hyperparameter/);
});

it('--set reads true and false as booleans and numbers as numbers', () => {
  expect(collectHyper('augment=true, lr=1e-3', {})).toEqual({ augment: true, lr: 0.001 });
  expect(collectHyper('augment=false', { epochs: 2 })).toEqual({ epochs: 2, augment: false });
  expect(collectHyper('augment=yes', {})).toEqual({ augment: 'yes' }); // refused by the method's schema
  expect(() => collectHyper('epochs', {})).toThrow(/expected key=value, got 'epochs'/);
});
