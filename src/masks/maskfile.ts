// Masks on disk: safetensors with one uint8 0/1 tensor per parameter name (SalUn's layout), so a
// mask moves between this project and PyTorch code without conversion.
import { readSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { NativeModel, TensorEntry } from '../native/index.js';

export class MaskError extends Error {}

function parameterEntries(tensors: TensorEntry[]) {
  let offset = 0;
  return tensors
    .filter((t) => t.kind === 'parameter')
    .map((t) => {
      const size = t.shape.reduce((a, b) => a * b, 1);
      const entry = { ...t, offset, size };
      offset += size;
      return entry;
    });
}

export async function saveMask(
  path: string,
  mask: Float32Array,
  model: NativeModel,
  metadata: Record<string, string> = {},
): Promise<void> {
  const tensors = parameterEntries(model.tensors()).map((t) => ({
    name: t.name,
    shape: t.shape,
    data: Uint8Array.from(mask.subarray(t.offset, t.offset + t.size)),
  }));
  await writeSafetensors(path, tensors, { format: 'insalun-mask', ...metadata });
}

/** A mask file as a flat 0/1 vector in the model's parameter order; refuses any mismatch. */
export async function loadMask(path: string, model: NativeModel): Promise<Float32Array> {
  let content: Awaited<ReturnType<typeof readSafetensors>>;
  try {
    content = await readSafetensors(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') throw new MaskError(`${path}: no such mask file`);
    throw error;
  }
  const entries = parameterEntries(model.tensors());
  const flat = new Float32Array(model.parameterCount);
  for (const t of entries) {
    const stored = content.tensors.get(t.name);
    if (!stored) throw new MaskError(`${path}: no mask for parameter ${t.name} (does the mask belong to this model?)`);
    if (stored.shape.join('x') !== t.shape.join('x'))
      throw new MaskError(`${path}: ${t.name} mask has shape [${stored.shape}], the model's parameter is [${t.shape}]`);
    const data = stored.data;
    for (let i = 0; i < t.size; i++) {
      const v = Number(data[i]);
      if (v !== 0 && v !== 1) throw new MaskError(`${path}: ${t.name} holds ${v}; a mask holds only 0 and 1`);
      flat[t.offset + i] = v;
    }
  }
  const known = new Set(entries.map((t) => t.name));
  const extra = content.order.filter((name) => !known.has(name));
  if (extra.length) throw new MaskError(`${path}: masks for unknown parameters ${extra.slice(0, 3).join(', ')}`);
  return flat;
}
