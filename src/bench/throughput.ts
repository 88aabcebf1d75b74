// Throughput of the three workloads the project runs most: the training step, evaluation, and the
// integrated-gradient mask (IG over the weights). Random CIFAR-shaped data resident on the device,
// as the PyTorch peer measures it, so neither side pays for loading.
import { igSaliency } from '../masks/saliency.js';
import { type DeviceName, loadAddon, type NativeDataset, type NativeModel, type Precision } from '../native/index.js';

export interface ThroughputOptions {
  device: DeviceName;
  precision: Precision;
  stepCapture: boolean;
  width: number;
  trainBatches: number[];
  /**
   * Timed training steps per batch size, after one warm-up epoch of two steps. With captured steps
   * an epoch of this many and one of twice as many are timed, and a step is their difference.
   */
  trainSteps: number;
  evalBatch: number;
  evalImages: number;
  /** IG: images x path points at igBatch; 0 images skips it. */
  igImages: number;
  igPoints: number;
  igBatch: number;
}

export interface ThroughputRow {
  kind: 'train' | 'eval' | 'ig';
  precision: Precision;
  batch: number;
  captured: boolean; // training steps replayed from a captured step
  work: string;
  seconds: number;
  images: number;
  imagesPerSecond: number;
  /** Captured training or evaluation: what a pass costs beyond its steps (recording, graph update or instantiation). */
  epochOverheadSeconds?: number;
}

export function benchData(device: DeviceName, n: number): NativeDataset {
  const { Dataset } = loadAddon();
  let seed = 12345;
  const images = Uint8Array.from({ length: n * 3 * 32 * 32 }, () => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed >>> 24;
  });
  const labels = Int32Array.from({ length: n }, (_, i) => i % 10);
  return new Dataset(device, images, labels, { n, c: 3, h: 32, w: 32 }, [0.49, 0.48, 0.45], [0.25, 0.24, 0.26]);
}

function benchModel(o: ThroughputOptions): NativeModel {
  const { Model } = loadAddon();
  return new Model({
    classes: 10,
    inChannels: 3,
    width: o.width,
    device: o.device,
    precision: o.precision,
    stepCapture: o.stepCapture,
  });
}

export async function measureThroughput(
  o: ThroughputOptions,
  onRow: (row: ThroughputRow) => void = () => {},
): Promise<ThroughputRow[]> {
  const largestBatch = Math.max(...o.trainBatches);
  const n = Math.max(largestBatch * (o.trainSteps + 2), o.evalImages, o.igImages);
  using data = benchData(o.device, n);
  using model = benchModel(o);
  const all = Int32Array.from({ length: n }, (_, i) => i);
  // Longer epochs than the data go round it again: a step's cost does not depend on which images.
  const epochIndices = (count: number) => Int32Array.from({ length: count }, (_, i) => i % n);
  const sgd = { lr: 0.01, momentum: 0.9, weightDecay: 5e-4 };
  const rows: ThroughputRow[] = [];
  const capturing = o.stepCapture && model.stepCapture;
  const push = (
    kind: ThroughputRow['kind'],
    batch: number,
    work: string,
    seconds: number,
    images: number,
    extra: Partial<ThroughputRow> = {},
  ) => {
    const row = {
      kind,
      precision: o.precision,
      batch,
      captured: capturing,
      work,
      seconds,
      images,
      imagesPerSecond: images / seconds,
      ...extra,
    };
    rows.push(row);
    onRow(row);
  };
  const mode = `${o.precision}${capturing ? ', captured steps' : ''}`;
  // A captured pass pays once for its recording and the graph's update or instantiation (and, the
  // first time, an eager step). PyTorch's figures are of steady-state steps, so ours are too: the
  // difference between a pass of twice the work and one of `once`, with the fixed cost beside it.
  const steadyState = (once: number, twice: number, what: string) => {
    const seconds = twice - once;
    if (!(seconds > 0))
      throw new Error(`${what} timing: twice the work took no longer than once (${twice} s, ${once} s)`);
    return { seconds, overhead: once - seconds };
  };
  for (const batch of o.trainBatches) {
    // Warm-up: convolution plans and buffers for this batch size, outside the timing.
    await model.trainEpoch(data, {
      indices: all.subarray(0, batch * 2),
      batchSize: batch,
      augment: true,
      seed: 0,
      epoch: 0,
      sgd,
    });
    const timeEpoch = async (steps: number, epoch: number) => {
      const start = performance.now();
      const run = await model.trainEpoch(data, {
        indices: epochIndices(batch * steps),
        batchSize: batch,
        augment: true,
        seed: 0,
        epoch,
        sgd,
      });
      return { seconds: (performance.now() - start) / 1000, replayed: run.replayedSteps };
    };
    const steps = o.trainSteps,
      images = batch * steps;
    const short = await timeEpoch(steps, 1);
    if (!capturing || short.replayed === 0) {
      const why = capturing ? `; not captured: ${model.captureError || 'no step was replayed'}` : '';
      push('train', batch, `train step ${o.precision}, batch ${batch} (${steps} steps${why})`, short.seconds, images, {
        captured: false,
      });
      continue;
    }
    const { seconds, overhead } = steadyState(short.seconds, (await timeEpoch(2 * steps, 2)).seconds, 'train step');
    push(
      'train',
      batch,
      `train step ${mode}, batch ${batch} (steady state over ${steps} steps; ${(overhead * 1000).toFixed(1)} ms more per epoch)`,
      seconds,
      images,
      { epochOverheadSeconds: overhead },
    );
  }
  if (o.evalImages > 0) {
    await model.predict(data, all.subarray(0, Math.min(o.evalBatch, o.evalImages)), o.evalBatch);
    const timePredict = async (images: number) => {
      const start = performance.now();
      await model.predict(data, epochIndices(images), o.evalBatch);
      return (performance.now() - start) / 1000;
    };
    const once = await timePredict(o.evalImages);
    if (!capturing) {
      push('eval', o.evalBatch, `eval ${mode}, batch ${o.evalBatch}`, once, o.evalImages);
    } else {
      const { seconds, overhead } = steadyState(once, await timePredict(2 * o.evalImages), 'eval');
      push(
        'eval',
        o.evalBatch,
        `eval ${mode}, batch ${o.evalBatch} (steady state; ${(overhead * 1000).toFixed(1)} ms more per pass)`,
        seconds,
        o.evalImages,
        { epochOverheadSeconds: overhead },
      );
    }
  }
  if (o.igImages > 0) {
    const forget = all.subarray(0, o.igImages);
    const baseline = new Float32Array(model.parameterCount);
    // Warm-up, as the peer's warm run: one path point plans the last, smaller batch (4,500 = 17 x
    // 256 + 148) outside the timing.
    await igSaliency(model, data, forget, { baseline, rule: 'middle', steps: 1, batchSize: o.igBatch });
    const start = performance.now();
    await igSaliency(model, data, forget, { baseline, rule: 'middle', steps: o.igPoints, batchSize: o.igBatch });
    push(
      'ig',
      o.igBatch,
      `IG ${mode}, ${o.igImages} images x ${o.igPoints} points, batch ${o.igBatch}`,
      (performance.now() - start) / 1000,
      o.igImages * o.igPoints,
    );
  }
  return rows;
}
