// Checkpoints are safetensors files with torchvision's state_dict names (float32 parameters and
// buffers, int64 num_batches_tracked) plus string metadata, so they load into PyTorch's CIFAR
// ResNet-18 with load_state_dict and PyTorch's files load here.
import { type NamedTensor, readSafetensors, type SafetensorsContent, writeSafetensors } from '../io/safetensors.js';
import { disposeOnError } from '../native/dispose.js';
import { type ComputeSettings, computeOf, loadAddon, type NativeModel } from '../native/index.js';

export interface Architecture {
  classes: number;
  inChannels: number;
  width: number;
  image: number;
}

/** Metadata stored with a checkpoint: the architecture, plus anything the caller records. */
export type CheckpointMeta = Architecture & Record<string, unknown>;

export class CheckpointError extends Error {}

/** A new model computing as `compute` says. Its owner disposes it. */
export function createModel(arch: Architecture, compute: ComputeSettings): NativeModel {
  const { Model } = loadAddon();
  const { device, precision, stepCapture } = compute;
  return new Model({
    classes: arch.classes,
    inChannels: arch.inChannels,
    width: arch.width,
    image: arch.image,
    device,
    precision,
    stepCapture,
  });
}

export function stateDict(model: NativeModel): NamedTensor[] {
  return model.tensors().map((t) => ({ name: t.name, shape: t.shape, data: model.getTensor(t.name) }));
}

export async function saveCheckpoint(path: string, model: NativeModel, meta: CheckpointMeta): Promise<void> {
  const strings: Record<string, string> = { format: 'insalun-resnet18' };
  for (const [key, value] of Object.entries(meta)) {
    // metadata keys are snake_case, as PyTorch-side code expects (in_channels, val_fraction, ...)
    const name = key === 'inChannels' ? 'in_channels' : key;
    if (value !== undefined) strings[name] = typeof value === 'string' ? value : JSON.stringify(value);
  }
  await writeSafetensors(path, stateDict(model), strings);
}

/** Parses metadata values written by saveCheckpoint back into numbers/objects where they were. */
function parseMeta(raw: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    try {
      out[key] = key === 'format' ? value : JSON.parse(value);
    } catch {
      out[key] = value;
    }
  }
  return out;
}

/** Architecture from the metadata, or read off the tensor shapes (a PyTorch state_dict has none). */
function inferArchitecture(content: SafetensorsContent, path: string, meta: Record<string, unknown>): Architecture {
  const conv1 = content.tensors.get('conv1.weight');
  const fc = content.tensors.get('fc.weight');
  if (!conv1 || !fc || conv1.shape.length !== 4 || fc.shape.length !== 2) {
    throw new CheckpointError(
      `${path}: not a ResNet-18 checkpoint (needs conv1.weight [w, c, 3, 3] and fc.weight [classes, 8w])`,
    );
  }
  const arch: Architecture = {
    classes: fc.shape[0],
    inChannels: conv1.shape[1],
    width: conv1.shape[0],
    image: typeof meta.image === 'number' ? meta.image : 32,
  };
  if (fc.shape[1] !== 8 * arch.width)
    throw new CheckpointError(`${path}: fc.weight has ${fc.shape[1]} inputs, expected 8 x width = ${8 * arch.width}`);
  return arch;
}

export interface LoadedCheckpoint {
  model: NativeModel;
  meta: CheckpointMeta;
}

export async function loadCheckpoint(path: string, compute: ComputeSettings): Promise<LoadedCheckpoint> {
  let content: SafetensorsContent;
  try {
    content = await readSafetensors(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT')
      throw new CheckpointError(`${path}: no such checkpoint file`);
    throw error;
  }
  const rawMeta = parseMeta(content.metadata);
  const arch = inferArchitecture(content, path, rawMeta);
  const model = createModel(arch, compute);
  disposeOnError(model, () => copyInto(model, content, path));
  return { model, meta: { ...rawMeta, ...arch } };
}

/** Copies every tensor of a state_dict into the model, refusing any mismatch with a clear message. */
export function copyInto(model: NativeModel, content: SafetensorsContent, path: string): void {
  const expected = model.tensors();
  const missing = expected.filter((t) => !content.tensors.has(t.name) && t.kind !== 'counter').map((t) => t.name);
  if (missing.length)
    throw new CheckpointError(
      `${path}: missing tensors ${missing.slice(0, 5).join(', ')}${missing.length > 5 ? ` and ${missing.length - 5} more` : ''}`,
    );
  const known = new Set(expected.map((t) => t.name));
  const extra = content.order.filter((name) => !known.has(name));
  if (extra.length)
    throw new CheckpointError(
      `${path}: unexpected tensors ${extra.slice(0, 5).join(', ')} (not a CIFAR ResNet-18 of this shape)`,
    );
  for (const t of expected) {
    const stored = content.tensors.get(t.name);
    if (!stored) continue; // a missing num_batches_tracked stays 0
    if (stored.shape.join('x') !== t.shape.join('x')) {
      throw new CheckpointError(`${path}: ${t.name} has shape [${stored.shape}] but the model needs [${t.shape}]`);
    }
    if (t.kind === 'counter') {
      if (!(stored.data instanceof BigInt64Array)) throw new CheckpointError(`${path}: ${t.name} must be int64`);
      model.setTensor(t.name, stored.data);
    } else {
      if (!(stored.data instanceof Float32Array)) throw new CheckpointError(`${path}: ${t.name} must be float32`);
      try {
        model.setTensor(t.name, stored.data);
      } catch (error) {
        throw new CheckpointError(`${path}: ${(error as Error).message}`);
      }
    }
  }
}

/** The flat parameter vector stored in a checkpoint (for IG baselines), checked against a model. */
export async function readParameters(path: string, like: NativeModel): Promise<Float32Array> {
  const content = await readSafetensors(path);
  using shadow = createModel(inferArchitecture(content, path, parseMeta(content.metadata)), computeOf(like));
  copyInto(shadow, content, path);
  const flat = shadow.getParameters();
  if (flat.length !== like.parameterCount)
    throw new CheckpointError(`${path}: ${flat.length} parameters, the model has ${like.parameterCount}`);
  return flat;
}
