// The per-kernel bench describes the network it claims to: its layer shapes and per-step counts
// add up to ResNet-18's, and its shares are consistent. (Its speed is not asserted anywhere.)
import { expect, it } from 'vitest';
import { benchKernels, renderKernelReport } from '../../src/bench/kernels.js';
import { addon, describeEachBackend } from '../helpers/backends.js';

describeEachBackend('kernel bench', (device) => {
  it('covers every layer of a training step once per occurrence, with rates and shares', async () => {
    const width = 4,
      batch = 4;
    const report = await benchKernels({ device, precision: 'fp32', batch, width, minSeconds: 0.001 });
    const perStep = (kernel: string) =>
      report.rows.filter((r) => r.kernel === kernel).reduce((s, r) => s + r.perStep, 0);
    // 20 convolutions (stem, 16 in the blocks, 3 shortcuts), forward and filter gradient
    for (const k of ['conv forward', 'conv backward filter']) expect(perStep(k)).toBe(20);
    // the stem's data gradient (for the input images) is not part of a step
    expect(perStep('conv backward data')).toBe(19);
    // 20 batch norms: 9 followed by a ReLU, 8 ending a block (add + ReLU), 3 on shortcuts
    expect(perStep('bn train forward + relu')).toBe(9);
    expect(perStep('bn train forward + add + relu')).toBe(8);
    expect(perStep('bn train forward')).toBe(3);
    // and backward: the ReLU's backward folded in, at the block outputs keeping the gated gradient
    // for the shortcut branch (no ReLU backward pass of its own)
    expect(perStep('bn train backward + relu')).toBe(9);
    expect(perStep('bn train backward + relu, gated dy kept')).toBe(8);
    expect(perStep('bn train backward')).toBe(3);
    expect(report.rows.filter((r) => r.kernel.startsWith('relu backward'))).toEqual([]);
    const sgd = report.rows.find((r) => r.group === 'optimizer')!;
    const model = new addon.Model({ classes: 10, inChannels: 3, width, device });
    expect(sgd.shape).toBe(`${model.parameterCount} parameters`);
    const stem = report.rows.find((r) => r.kernel === 'conv forward' && r.shape.startsWith('stem'))!;
    expect(stem.flops).toBe(2 * batch * width * 32 * 32 * 3 * 9);
    for (const r of report.rows) {
      expect(r.seconds).toBeGreaterThan(0);
      expect(r.rate).toBeGreaterThan(0);
    }
    // one reference per kind; the CPU has a multiply-add loop among its arithmetic references,
    // counting 2 operations per lane per chain per round on every thread
    expect(
      report.rows
        .filter((r) => r.isPeak)
        .map((r) => r.bound)
        .sort(),
    ).toEqual(['compute', 'memory']);
    if (device === 'cpu') {
      const loop = report.rows.find((r) => r.kernel.startsWith('multiply-add loop'))!;
      expect(loop.group).toBe('peak');
      expect(loop.flops % (2 * 12 * (1 << 18))).toBe(0);
    }
    expect(report.rows.reduce((s, r) => s + r.ofStep, 0)).toBeCloseTo(1, 9);
    expect(report.stepSeconds).toBeCloseTo(
      report.rows.reduce((s, r) => s + r.seconds * r.perStep, 0),
      12,
    );
    expect(renderKernelReport(report)).toMatch(/conv backward filter/);
  });

  // bf16 (CUDA): the step makes the bf16 copies of all its convolutions' weights in one launch.
  // Width 8: channels in multiples of 8, as cuDNN's NHWC bf16 convolutions want (model.test.ts).
  if (device === 'cuda') {
    it('bf16: one row for the weight copies of every convolution, once per step', async () => {
      const width = 8;
      const report = await benchKernels({ device, precision: 'bf16', batch: 4, width, minSeconds: 0.001 });
      const copies = report.rows.filter((r) => r.kernel.startsWith('bf16 weight copies'));
      const model = new addon.Model({ classes: 10, inChannels: 3, width, device });
      const convWeights = model
        .tensors()
        .filter((t) => t.kind === 'parameter' && t.shape.length === 4)
        .reduce((s, t) => s + t.shape.reduce((a, b) => a * b, 1), 0);
      expect(copies.map((r) => [r.perStep, r.shape])).toEqual([[1, `${convWeights} weights`]]);
      expect(copies[0].bytes).toBe(6 * convWeights); // fp32 read, bf16 written
    });
  }
});
