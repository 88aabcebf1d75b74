// The IG baseline theta' (docs/method.md 4b): where the straight path to the trained model starts.
// zero and init start at a high loss, so their IG measures general task importance; the near
// baselines (scale:ALPHA, retain-ft:STEPS) start inside the trained model's basin.
import { dirname, join } from 'node:path';
import { Rng, sampleWithoutReplacement } from '../data/random.js';
import type { ExperimentData } from '../experiment/data.js';
import type { ForgetSelection } from '../experiment/forget.js';
import { readParameters } from '../model/checkpoint.js';
import type { NativeModel } from '../native/index.js';
import { cloneModel } from '../unlearn/common.js';

export type Baseline =
  | { kind: 'zero' }
  | { kind: 'init' } // the checkpoint directory's init.safetensors
  | { kind: 'scale'; alpha: number } // alpha * theta
  | { kind: 'retain-ft'; steps: number; lr: number } // theta after SGD steps on retain batches
  | { kind: 'file'; path: string };

export const BASELINE_SYNTAX =
  'zero | init | scale:ALPHA (ALPHA x the model) | retain-ft:STEPS[:LR] (the model after STEPS SGD steps on retain batches, lr 0.01) | a checkpoint file';

const RETAIN_FT_LR = 0.01;
const RETAIN_FT_STREAM = 0x62736c; // 'bsl'

export function parseBaseline(spec: string): Baseline {
  if (spec === 'zero' || spec === 'init') return { kind: spec };
  const scale = /^scale:(.*)$/.exec(spec);
  if (scale) {
    const alpha = Number(scale[1]);
    if (scale[1] === '' || !Number.isFinite(alpha)) throw new Error(`baseline '${spec}': ALPHA must be a number`);
    return { kind: 'scale', alpha };
  }
  const ft = /^retain-ft:([^:]*)(?::(.*))?$/.exec(spec);
  if (ft) {
    const steps = Number(ft[1]);
    const lr = ft[2] === undefined ? RETAIN_FT_LR : Number(ft[2]);
    if (!(Number.isInteger(steps) && steps >= 1))
      throw new Error(`baseline '${spec}': STEPS must be a whole number >= 1`);
    if (!(Number.isFinite(lr) && lr > 0)) throw new Error(`baseline '${spec}': LR must be a positive number`);
    return { kind: 'retain-ft', steps, lr };
  }
  if (/^[a-z-]+:/.test(spec) && !spec.includes('/')) throw new Error(`baseline '${spec}': expected ${BASELINE_SYNTAX}`);
  return { kind: 'file', path: spec };
}

export interface BaselineContext {
  model: NativeModel; // theta
  data: ExperimentData;
  view: ForgetSelection;
  checkpoint?: string;
  batchSize: number;
  seed: number;
}

/** The flat parameters of theta'; the model is left as it was. */
export async function baselineParameters(b: Baseline, ctx: BaselineContext): Promise<Float32Array> {
  const { model } = ctx;
  switch (b.kind) {
    case 'zero':
      return new Float32Array(model.parameterCount);
    case 'init':
      if (!ctx.checkpoint) throw new Error("baseline init needs the checkpoint's directory to hold init.safetensors");
      return readParameters(join(dirname(ctx.checkpoint), 'init.safetensors'), model);
    case 'scale':
      return model.getParameters().map((v) => b.alpha * v);
    case 'retain-ft':
      return retainFineTuned(b, ctx);
    case 'file':
      return readParameters(b.path, model);
  }
}

/** A copy of the model after `steps` plain SGD steps (momentum 0.9, weight decay 5e-4, no
 * augmentation) on distinct retain images, drawn with the seed; its running statistics are the
 * copy's, and the path is evaluated with the model's (eval-mode batch norm). */
async function retainFineTuned(b: { steps: number; lr: number }, ctx: BaselineContext): Promise<Float32Array> {
  const { retain } = ctx.view;
  const count = Math.min(retain.length, b.steps * ctx.batchSize);
  const picks = sampleWithoutReplacement(new Rng(ctx.seed, RETAIN_FT_STREAM), retain.length, count);
  using copy = cloneModel(ctx.model, ctx.data);
  copy.resetOptimizer();
  await copy.trainEpoch(ctx.data.train, {
    indices: Int32Array.from(picks, (j) => retain[j]),
    batchSize: Math.ceil(count / b.steps),
    augment: false,
    seed: ctx.seed,
    epoch: 0,
    sgd: { lr: b.lr, momentum: 0.9, weightDecay: 5e-4 },
  });
  return copy.getParameters();
}
