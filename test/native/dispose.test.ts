// Deterministic release of native memory: dispose() frees a model's or a dataset's memory at once
// (idempotent; every later use throws one clear error; refused while work using the object is in
// flight), `using` does the same at the end of a block, and V8 is told the bytes each object holds
// (AdjustExternalMemory), so that its collector weighs them. Over the CUDA emulation the device
// bytes are counted too: they return to their level before the objects were made.
import { describe, expect, it } from 'vitest';
import type { DeviceName, NativeDataset, NativeModel } from '../../src/native/index.js';
import { addon, describeEachBackend } from '../helpers/backends.js';

const n = 32,
  batch = 16;
const images = Uint8Array.from({ length: n * 3 * 32 * 32 }, (_, i) => (i * 37) % 256);
const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
const all = Int32Array.from({ length: n }, (_, i) => i);
const sgd = { lr: 0.05, momentum: 0.9, weightDecay: 5e-4 };
const external = () => addon.externalMemory();
const emulated = addon.backends().cudaEmulated;
const liveDeviceBytes = () => addon.emulationCounters!().liveDeviceBytes;

// Every test disposes what it makes: one left to the collector would give its bytes back at a
// moment of its choosing, in the middle of another test's count.
const makeData = (device: DeviceName) =>
  new addon.Dataset(device, images, labels, { n, c: 3, h: 32, w: 32 }, [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]);
function makeModel(device: DeviceName, width = 8): NativeModel {
  const model = new addon.Model({ classes: 10, inChannels: 3, width, device });
  model.initialize(1);
  return model;
}
function make(device: DeviceName, width = 8): { data: NativeDataset; model: NativeModel } {
  return { data: makeData(device), model: makeModel(device, width) };
}

const epoch = (model: NativeModel, data: NativeDataset) =>
  model.trainEpoch(data, { indices: all, batchSize: batch, augment: false, seed: 1, epoch: 0, sgd });

describeEachBackend('dispose', (device) => {
  it('frees a model and a dataset once; every later use throws a clear error', async () => {
    const { data, model } = make(device);
    await epoch(model, data);
    model.dispose();
    model.dispose(); // again: nothing
    expect(model.disposed).toBe(true);
    expect(model.device).toBe(device); // what needs no native memory still answers
    model.requestStop(); // a Ctrl-C after the release must not throw
    for (const use of [
      () => model.getParameters(),
      () => model.parameterCount,
      () => model.tensors(),
      () => model.setMask(null, 'hard'),
      () => model.step(sgd),
    ])
      expect(use).toThrow('this model was disposed');
    expect(() => epoch(model, data)).toThrow('this model was disposed'); // at the call, as bad arguments

    const other = makeModel(device);
    data.dispose();
    data.dispose();
    expect(data.disposed).toBe(true);
    expect(() => data.count).toThrow('this dataset was disposed');
    expect(() => other.predict(data, all, batch)).toThrow('this dataset was disposed');
    other.dispose();
  });

  it('`using` disposes at the end of the block', () => {
    let kept: NativeModel;
    {
      using model = makeModel(device);
      kept = model;
      expect(model.disposed).toBe(false);
    }
    expect(kept.disposed).toBe(true);
  });

  it('is refused while work using the object is in flight, and works once it has settled', async () => {
    const { data, model } = make(device);
    const training = epoch(model, data);
    expect(() => model.dispose()).toThrow(/work in flight .* await it before dispose\(\)/);
    expect(() => data.dispose()).toThrow(/in use by a model's work in flight .* await it before dispose\(\)/);
    expect(model.disposed).toBe(false);
    const result = await training; // the work ran to its end on the memory it was given
    expect(result.count).toBe(n);
    model.dispose();
    data.dispose();
    expect([model.disposed, data.disposed]).toEqual([true, true]);
  });

  it('each object reports the bytes it holds, as they grow, and none once disposed', async () => {
    const { data, model } = make(device, 16);
    // parameters, their gradients, the momentum and the gradient sum; the images
    expect(model.nativeBytes).toBeGreaterThan(4 * 4 * model.parameterCount);
    expect(data.nativeBytes).toBeGreaterThan(images.length);
    const created = model.nativeBytes;
    await epoch(model, data);
    expect(model.nativeBytes - created).toBeGreaterThan(2 * 4 * batch * 3 * 32 * 32); // the batch and its gradient at least
    model.dispose();
    data.dispose();
    expect([model.nativeBytes, data.nativeBytes]).toEqual([0, 0]);
  });

  it('V8 is told those bytes, and given them back on dispose', () => {
    // V8's total also moves as its collector sweeps the process's own ArrayBuffers (up to about
    // a megabyte seen in a test run): a model of some 45 MB stands well clear of that.
    const noise = 4 << 20;
    const before = external();
    const model = makeModel(device, 32);
    expect(Math.abs(external() - before - model.nativeBytes)).toBeLessThan(noise);
    expect(model.nativeBytes).toBeGreaterThan(10 * noise);
    model.dispose();
    expect(Math.abs(external() - before)).toBeLessThan(noise);
  });
});

(emulated ? describe : describe.skip)(
  `dispose over the CUDA emulation: device memory${emulated ? '' : ' (skipped: not an emulation build)'}`,
  () => {
    it('comes back to its level before the model and the dataset were made', async () => {
      const before = liveDeviceBytes();
      const { data, model } = make('cuda');
      await epoch(model, data);
      await model.predict(data, all, batch);
      const held = liveDeviceBytes() - before;
      model.dispose();
      const dataOnly = liveDeviceBytes() - before;
      data.dispose();
      expect(held).toBeGreaterThan(dataOnly);
      expect(dataOnly).toBeGreaterThan(images.length);
      expect(liveDeviceBytes()).toBe(before);
    });

    it('what V8 is told is what the device holds, to the allocator granule', async () => {
      const count = () => addon.emulationCounters!();
      const start = count();
      const { data, model } = make('cuda');
      await epoch(model, data);
      const end = count();
      const live = end.liveDeviceBytes - start.liveDeviceBytes;
      const told = model.nativeBytes + data.nativeBytes;
      // The emulated cudaMalloc hands out whole 256-byte granules.
      expect(Math.abs(live - told)).toBeLessThan(256 * (end.allocations - start.allocations));
      model.dispose();
      data.dispose();
    });
  },
);
