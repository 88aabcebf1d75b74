// The CUDA emulation's launch order (INSALUN_EMULATION_ORDER, native/cuda_emulation/schedule.h).
// CUDA promises no order between the blocks of a grid, nor between threads outside barriers; the
// backend's one atomic only elects the block that finishes a reduction (last_to_arrive, which adds
// the partials in a fixed order), so a race-free kernel gives bit-identical results in any order,
// whichever block finishes its reductions. Running training steps with blocks and threads
// forwards, backwards and shuffled, and demanding identical bits, catches a kernel that reads what
// another block (or an unsynchronized thread) writes: one fixed order would let it pass by luck.
// Emulation builds only (INSALUN_ADDON).
import { afterEach, describe, expect, it } from 'vitest';
import { randomImages } from '../../src/bench/numerics.js';
import type { Precision } from '../../src/native/index.js';
import { addon } from '../helpers/backends.js';

const info = addon.backends();
const suite = info.cudaEmulated ? describe : describe.skip;
const orders = ['forward', 'reverse', 'shuffle:1', 'shuffle:2'];

/** Where two sets of results differ (Object.is: exact, -0 apart from 0, NaN equal to NaN): one line
 * per field, at its first differing element. */
function differences(
  a: Record<string, ArrayLike<number | bigint>>,
  b: Record<string, ArrayLike<number | bigint>>,
): string[] {
  const out: string[] = [];
  for (const name of Object.keys(b)) {
    const x = Array.from(a[name]),
      y = Array.from(b[name]);
    const i = x.findIndex((v, k) => !Object.is(v, y[k]));
    if (x.length !== y.length) out.push(`${name}: ${x.length} values, not ${y.length}`);
    else if (i >= 0) out.push(`${name}[${i}]: ${x[i]}, not ${y[i]}`);
  }
  return out;
}

function withOrder<T>(order: string, body: () => T): T {
  process.env.INSALUN_EMULATION_ORDER = order;
  return body();
}

suite(`CUDA emulation: launch order${info.cudaEmulated ? '' : ' (skipped: not an emulation build)'}`, () => {
  const saved = process.env.INSALUN_EMULATION_ORDER;
  afterEach(() => {
    if (saved === undefined) delete process.env.INSALUN_EMULATION_ORDER;
    else process.env.INSALUN_EMULATION_ORDER = saved;
  });

  it('runs blocks and threads in the order INSALUN_EMULATION_ORDER names', () => {
    const trace = (order: string, barrier: boolean) => withOrder(order, () => addon.emulationTrace!(8, 40, barrier));
    const iota = (n: number) => Array.from({ length: n }, (_, i) => i);
    for (const barrier of [false, true]) {
      expect(trace('forward', barrier)).toEqual({ blocks: iota(8), threads: iota(40) });
      expect(trace('reverse', barrier)).toEqual({ blocks: iota(8).reverse(), threads: iota(40).reverse() });
      const a = trace('shuffle:3', barrier),
        b = trace('shuffle:3', barrier);
      for (const t of [a, b]) {
        expect([...t.blocks].sort((x, y) => x - y)).toEqual(iota(8));
        expect([...t.threads].sort((x, y) => x - y)).toEqual(iota(40));
      }
      expect(a.threads).not.toEqual(iota(40));
      expect(a).not.toEqual(b); // a fresh order per launch
    }
    expect(withOrder('shuffle:9', () => addon.backends().cudaEmulationOrder)).toBe('shuffle:9');
    expect(withOrder('', () => addon.backends().cudaEmulationOrder)).toBe('forward');
  });

  it('refuses an order it does not know, with one clear error, and keeps working', () => {
    const message = /INSALUN_EMULATION_ORDER must be forward, reverse or shuffle\[:SEED\].*'sideways'/;
    expect(() => withOrder('sideways', () => addon.backends())).toThrow(message);
    expect(() => withOrder('sideways', () => addon.ops('cuda').sum(new Float32Array(5000).fill(1)))).toThrow(message);
    expect(() => withOrder('shuffle:x', () => addon.emulationTrace!(2, 2, false))).toThrow(/INSALUN_EMULATION_ORDER/);
    expect(withOrder('reverse', () => addon.ops('cuda').sum(new Float32Array(5000).fill(1)))).toBe(5000);
  });

  for (const precision of ['fp32', 'bf16'] as Precision[]) {
    it(`${precision}: predictions, a gradient, three SGD steps (two through a CUDA graph) and integrated gradients are bit-identical in every order`, async () => {
      const { images, labels, shape, mean, std, classes } = randomImages(7, 24);
      const indices = Int32Array.from({ length: shape.n }, (_, i) => i);
      const results: Record<string, ArrayLike<number | bigint>>[] = [];
      for (const order of orders) {
        process.env.INSALUN_EMULATION_ORDER = order;
        const data = new addon.Dataset('cuda', images, labels, shape, mean, std);
        const model = new addon.Model({ classes, inChannels: 3, width: 8, device: 'cuda', precision });
        model.initialize(11);
        const logits = await model.predict(data, indices, 12);
        const gradient = await model.gradient(data, {
          indices,
          batchSize: 12,
          train: true,
          augment: true,
          seed: 3,
          epoch: 0,
        });
        const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
        const run = await model.trainEpoch(data, { indices, batchSize: 8, augment: true, seed: 5, epoch: 0, sgd });
        expect(run.replayedSteps).toBe(2); // the first step eager, then recorded and replayed
        const buffers = model
          .tensors()
          .filter((t) => t.kind === 'buffer')
          .flatMap((t) => Array.from(model.getTensor(t.name) as ArrayLike<number | bigint>));
        const baseline = model.getParameters().map((w) => 0.5 * w);
        const ig = await model.integratedGradients(data, {
          indices,
          batchSize: 12,
          baseline,
          nodes: [0.25, 0.75],
          weights: [0.3, 0.7],
        });
        results.push({
          logits,
          gradient,
          loss: [run.loss, run.correct],
          weights: model.getParameters(),
          momentum: model.getOptimizerState().momentum,
          buffers,
          ig: ig.ig,
          igLoss: [ig.lossAtModel, ig.lossAtBaseline],
        });
      }
      for (let i = 1; i < orders.length; i++)
        expect(differences(results[i], results[0]), `${orders[i]} vs forward`).toEqual([]);
    });
  }
});
