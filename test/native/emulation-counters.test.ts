// The structure of the CUDA backend's passes, counted by the emulated runtime (emulationCounters,
// native/cuda_emulation/counters.h): no host synchronization and no host copy inside an epoch, the
// loss and accuracy read once at its end, no allocation per step, every step replayed from a CUDA
// graph once the step has run before, and that graph updated in place rather than instantiated
// anew from pass to pass. Results cannot show these; a pass that waited for the device at every
// step would give the same numbers, only slower on a GPU. Emulation builds only (INSALUN_ADDON).
import { describe, expect, it } from 'vitest';
import type { NativeDataset, NativeModel } from '../../src/native/index.js';
import { addon } from '../helpers/backends.js';

const info = addon.backends();
const suite = info.cudaEmulated ? describe : describe.skip;
type Counters = ReturnType<NonNullable<typeof addon.emulationCounters>>;

// The counters are the process's: a model collected mid-pass would synchronize in its destructor,
// so every native object of this file stays reachable until the end.
const keep: (NativeModel | NativeDataset)[] = [];
const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
const first = (n: number) => Int32Array.from({ length: n }, (_, i) => i);

async function counted(pass: () => Promise<unknown>): Promise<Counters> {
  const before = addon.emulationCounters!();
  await pass();
  const after = addon.emulationCounters!();
  return Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k as keyof Counters]])) as Counters;
}

suite(`CUDA emulation: what a pass asks of the host${info.cudaEmulated ? '' : ' (skipped: not an emulation build)'}`, () => {
  const n = 64,
    batch = 8;
  let state = 5;
  const images = Uint8Array.from({ length: n * 3 * 1024 }, () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return state % 256;
  });
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  const data = () => {
    const d = new addon.Dataset('cuda', images, labels, { n, c: 3, h: 32, w: 32 }, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
    keep.push(d);
    return d;
  };
  const model = (stepCapture: boolean) => {
    const m = new addon.Model({ classes: 10, inChannels: 3, width: 4, device: 'cuda', stepCapture });
    m.initialize(3);
    keep.push(m);
    return m;
  };

  for (const stepCapture of [true, false]) {
    it(`a training epoch (${stepCapture ? 'steps captured' : 'eager steps'}): as many synchronizations and host copies for 8 steps as for 3, no allocation, ${stepCapture ? 'every step replayed from the graph of the epoch before, updated' : 'no graph'}`, async () => {
      const d = data(),
        m = model(stepCapture);
      const epoch = (images: number, e: number) => () =>
        m.trainEpoch(d, { indices: first(images), batchSize: batch, augment: true, seed: 1, epoch: e, sgd });
      await epoch(n, 0)(); // buffers grow to the largest pass once
      const short = await counted(epoch(3 * batch, 1)),
        long = await counted(epoch(8 * batch, 2));
      expect(long.kernelsRun).toBeGreaterThan(2 * short.kernelsRun); // the counters see the steps
      for (const c of [short, long]) {
        expect(c.synchronizations).toBeGreaterThanOrEqual(1); // the loss is read, once
        expect(c.allocations).toBe(0);
      }
      expect(long.synchronizations).toBe(short.synchronizations);
      expect(long.copiesToHost).toBe(short.copiesToHost);
      expect(long.copiesToDevice).toBe(short.copiesToDevice);
      // The first epoch ran the step eagerly once (planning, sizing); these record their first
      // step at once and replay it for every step, in the graph the epoch before left, updated.
      expect([short.graphLaunches, long.graphLaunches]).toEqual(stepCapture ? [3, 8] : [0, 0]);
      expect([short.graphInstantiations, long.graphInstantiations]).toEqual([0, 0]);
      expect([short.graphUpdates, long.graphUpdates]).toEqual(stepCapture ? [1, 1] : [0, 0]);
    });
  }

  it('gradients, predictions and integrated gradients: the synchronizations and host copies do not grow with the batches', async () => {
    const d = data(),
      m = model(true);
    const baseline = new Float32Array(m.parameterCount);
    const passes: Record<string, (images: number) => () => Promise<unknown>> = {
      gradient: (images) => () =>
        m.gradient(d, { indices: first(images), batchSize: batch, train: true, augment: false, seed: 1, epoch: 0 }),
      predict: (images) => () => m.predict(d, first(images), batch),
      'integrated gradients': (images) => () =>
        m.integratedGradients(d, {
          indices: first(images),
          batchSize: batch,
          baseline,
          nodes: [0.25, 0.75],
          weights: [0.5, 0.5],
        }),
    };
    for (const [name, pass] of Object.entries(passes)) {
      await pass(n)();
      const short = await counted(pass(3 * batch)),
        long = await counted(pass(8 * batch));
      expect(long.kernelsRun, name).toBeGreaterThan(2 * short.kernelsRun);
      expect([long.synchronizations, long.copiesToHost, long.copiesToDevice], name).toEqual([
        short.synchronizations,
        short.copiesToHost,
        short.copiesToDevice,
      ]);
      expect(long.allocations, name).toBe(short.allocations); // per pass, not per batch
      expect([short.graphInstantiations, long.graphInstantiations], name).toEqual([0, 0]);
    }
  });

  // The launches of one training step, the structure a CUDA graph replays: every launch is a node
  // and a dependency, so a launch removed is time saved however small its work (ResNet-18 on
  // CIFAR is launch-bound below batch 256). fp32 at a width whose channels need no padding:
  //   batch norm, 20 layers x 4: statistics (one launch: the slices' partials and, in the last
  //     block of each channel, the statistics themselves) and normalize; the backward's gradient
  //     sums (one launch likewise) and dx, which at the 8 block outputs also keeps the gradient
  //     through the output ReLU for the shortcut branch (no ReLU backward pass of its own)      80
  //   linear: forward, data and weight gradient (3 GEMMs), bias gradient                          4
  //   data gather, average pool forward and backward, loss with its batch sums, SGD               5
  // cuDNN's convolutions come on top (they are not the emulator's launches). bf16 adds the bf16
  // copies of all the weights, made in one launch at the forward and read by the backward too
  // (1), the widening of all the bf16 weight gradients into the fp32 ones, in one launch at the
  // end of the backward (1), and the stem's input channel padding for its forward and filter
  // gradient (2).
  for (const [precision, launches] of [
    ['fp32', 89],
    ['bf16', 93],
  ] as const) {
    it(`a training step in ${precision} is ${launches} kernel launches`, async () => {
      const d = data();
      const m = new addon.Model({
        classes: 10,
        inChannels: 3,
        width: 8,
        device: 'cuda',
        stepCapture: false,
        precision,
      });
      m.initialize(3);
      keep.push(m);
      const epoch = (images: number, e: number) => () =>
        m.trainEpoch(d, { indices: first(images), batchSize: batch, augment: true, seed: 1, epoch: e, sgd });
      await epoch(n, 0)();
      const short = await counted(epoch(2 * batch, 1)),
        long = await counted(epoch(5 * batch, 2));
      expect((long.kernelsRun - short.kernelsRun) / 3).toBe(launches);
    });
  }

  it('passes of different kinds keep a graph each: alternating them updates graphs, instantiates none', async () => {
    const d = data(),
      m = model(true);
    const train = (e: number) => () =>
      m.trainEpoch(d, { indices: first(3 * batch), batchSize: batch, augment: true, seed: 1, epoch: e, sgd });
    const predict = () => m.predict(d, first(3 * batch), batch);
    await train(0)(); // the optimizer's first step, eager
    await train(1)();
    await predict();
    const again = await counted(async () => {
      for (let e = 2; e < 5; e++) {
        await train(e)();
        await predict();
      }
    });
    expect([again.graphInstantiations, again.graphUpdates]).toEqual([0, 6]);
    expect(again.graphLaunches).toBe(6 * 3);
  });
});
