// What the emulated CUDA runtime makes show that a GPU leaves unsaid (native/cuda_emulation/
// runtime.cpp): a kernel's fault, which a GPU reports at the stream's next synchronization under
// that call's name (INSALUN_EMULATION_FAULT=KERNEL injects one), and a cudaFree of memory that work
// queued on a stream still uses, which CUDA's cudaFree need not wait for (refused until the stream
// is synchronized). Against these: the backend's debugging switch INSALUN_CUDA_SYNC=1, which waits
// for every kernel launched outside a graph capture and names the kernel and its op in the error,
// and the backend's waits before each free. Emulation builds only (INSALUN_ADDON).
import { afterEach, describe, expect, it } from 'vitest';
import { randomImages } from '../../src/bench/numerics.js';
import type { NativeDataset, NativeModel } from '../../src/native/index.js';
import { addon } from '../helpers/backends.js';

const info = addon.backends();
const suite = info.cudaEmulated ? describe : describe.skip;
type Counters = ReturnType<NonNullable<typeof addon.emulationCounters>>;

/** Runs body with the environment switches set (those of the backend are read when a model or op set is made). */
function withEnv<T>(vars: Record<string, string>, body: () => T): T {
  const saved = Object.fromEntries(Object.keys(vars).map((k) => [k, process.env[k]]));
  Object.assign(process.env, vars);
  try {
    return body();
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
}

function errorOf(body: () => unknown): string {
  try {
    body();
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected an error');
}

suite(`CUDA emulation: kernel faults and frees${info.cudaEmulated ? '' : ' (skipped: not an emulation build)'}`, () => {
  afterEach(() => {
    delete process.env.INSALUN_EMULATION_FAULT;
  });
  // Every native object stays reachable: one collected mid-test would synchronize (and free), and
  // the counters are the process's.
  const keep: unknown[] = [];
  const s = { n: 2, c: 4, hw: 16 };
  const x = Float32Array.from({ length: s.n * s.c * s.hw }, (_, i) => Math.sin(i));
  const ones = new Float32Array(s.c).fill(1),
    zeros = new Float32Array(s.c);
  const normalize = (ops: ReturnType<typeof addon.ops>) =>
    ops.bnForward(s, x, ones, zeros, zeros, ones, { train: false, momentum: 0.1, eps: 1e-5 });

  it('a faulting kernel is reported at the next synchronization, unnamed; with INSALUN_CUDA_SYNC=1 under its name and op', () => {
    const plain = addon.ops('cuda');
    const waiting = withEnv({ INSALUN_CUDA_SYNC: '1' }, () => addon.ops('cuda'));
    keep.push(plain, waiting);
    const want = Array.from(normalize(plain).y);
    process.env.INSALUN_EMULATION_FAULT = 'normalize_kernel';
    const late = errorOf(() => normalize(plain));
    expect(late).toMatch(/cudaStreamSynchronize.*cudaErrorIllegalAddress/);
    expect(late).not.toMatch(/normalize_kernel|bn_forward/);
    const named = errorOf(() => normalize(waiting));
    expect(named).toMatch(
      /kernel normalize_kernel of bn_forward_eval \(waited for by INSALUN_CUDA_SYNC=1\) failed at native\/cuda\/batchnorm\.cu:\d+: cudaErrorIllegalAddress/,
    );
    // Another kernel's fault names that kernel; and the emulated fault is not sticky, so the same
    // op sets go on, with the switch computing the same bits as without it.
    process.env.INSALUN_EMULATION_FAULT = 'eval_stats_kernel';
    expect(errorOf(() => normalize(waiting))).toMatch(/kernel eval_stats_kernel of bn_forward_eval/);
    delete process.env.INSALUN_EMULATION_FAULT;
    expect(Array.from(normalize(waiting).y)).toEqual(want);
    expect(Array.from(normalize(plain).y)).toEqual(want);
    expect(() => withEnv({ INSALUN_CUDA_SYNC: 'yes' }, () => addon.ops('cuda'))).toThrow(
      /INSALUN_CUDA_SYNC must be 0 or 1, got 'yes'/,
    );
  });

  // A small model's data and a model of width `width`.
  const n = 40,
    batch = 8;
  const { images, labels } = randomImages(11, n);
  const first = (k: number) => Int32Array.from({ length: k }, (_, i) => i);
  const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
  function make(width: number, stepCapture: boolean, env: Record<string, string> = {}) {
    return withEnv(env, () => {
      const data = new addon.Dataset(
        'cuda',
        images,
        labels,
        { n, c: 3, h: 32, w: 32 },
        [0.5, 0.5, 0.5],
        [0.25, 0.25, 0.25],
      );
      const model = new addon.Model({ classes: 10, inChannels: 3, width, device: 'cuda', stepCapture });
      model.initialize(3);
      keep.push(data, model);
      return { data, model };
    });
  }
  async function counted(pass: () => Promise<unknown>): Promise<Counters> {
    const before = addon.emulationCounters!();
    await pass();
    const after = addon.emulationCounters!();
    return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof Counters]])) as Counters;
  }

  // Eager steps wait once per kernel and once per cuDNN call: 59 a step (20 convolutions forward and
  // filter gradient, 19 data gradients: the stem's input needs none). Captured steps never do.
  it('INSALUN_CUDA_SYNC=1: an eager step waits for each kernel and convolution, a captured one for none; the same bits either way', async () => {
    const epoch = (m: { data: NativeDataset; model: NativeModel }, images: number, e: number) => () =>
      m.model.trainEpoch(m.data, { indices: first(images), batchSize: batch, augment: true, seed: 1, epoch: e, sgd });
    for (const stepCapture of [false, true]) {
      const plain = make(8, stepCapture),
        waiting = make(8, stepCapture, { INSALUN_CUDA_SYNC: '1' });
      const runs: Counters[][] = [];
      for (const m of [plain, waiting]) {
        await epoch(m, n, 0)();
        runs.push([await counted(epoch(m, 3 * batch, 1)), await counted(epoch(m, 5 * batch, 2))]);
        expect(m.model.captureError).toBe('');
      }
      expect(Array.from(waiting.model.getParameters())).toEqual(Array.from(plain.model.getParameters()));
      const perStep = (r: Counters[], k: keyof Counters) => (r[1][k] - r[0][k]) / 2;
      if (stepCapture) {
        expect(runs[1][1].graphLaunches).toBe(5);
        expect(perStep(runs[1], 'synchronizations')).toBe(0);
      } else {
        const kernels = perStep(runs[1], 'kernelsRun');
        expect(kernels).toBe(89); // the training step of emulation-counters.test.ts
        expect(perStep(runs[1], 'synchronizations') - perStep(runs[0], 'synchronizations')).toBe(kernels + 59);
      }
    }
  });

  // At width 5 the convolution weights sit in the parameter vector at offsets that are not
  // 16-byte aligned, so each is copied into the weight buffer before cuDNN reads it, and the buffer
  // grows from layer to layer in the middle of a step, while the convolutions queued before still
  // read the old one. The emulated cudaFree refuses to free it until the stream is synchronized.
  it('buffers grown part-way through a step are freed after the work queued before has finished', async () => {
    for (const stepCapture of [false, true]) {
      const { data, model } = make(5, stepCapture);
      for (let epoch = 0; epoch < 2; epoch++)
        await model.trainEpoch(data, { indices: first(n), batchSize: batch, augment: true, seed: 1, epoch, sgd });
      await model.predict(data, first(n), 2 * batch); // a larger batch: the buffers grow again
      const gradient = await model.gradient(data, {
        indices: first(n),
        batchSize: batch,
        train: true,
        augment: false,
        seed: 1,
        epoch: 0,
      });
      expect(gradient.every(Number.isFinite)).toBe(true);
    }
  });
});
