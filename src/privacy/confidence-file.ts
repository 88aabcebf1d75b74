// Confidence populations on disk (docs/privacy.md): one safetensors file with the tensors
// `unlearned` and `retrained`, each [models, examples] float64 logit-scaled confidences, and the
// model ids and forget-example indices as JSON in the metadata, so that Python's safetensors reads
// it as it is. Optionally the same models' confidences on a test sample (`unlearned_test`,
// `retrained_test`, `test_examples`).

import { type NamedTensor, readSafetensors, writeSafetensors } from '../io/safetensors.js';
import type { ConfidenceMatrix } from './challenge-score.js';

export const CONFIDENCE_FILE_FORMAT = 'insalun-challenge-confidences/1';

export interface ConfidencePopulations {
  unlearned: ConfidenceMatrix;
  retrained: ConfidenceMatrix;
  /** One id per row of `unlearned` (e.g. the seed or checkpoint name of each model). */
  unlearnedIds: string[];
  /** One id per row of `retrained`. */
  retrainedIds: string[];
  /** One index per column: which training example of the forget set each column is. */
  examples: number[];
  /** The same models' confidences on a sample of the test set (rows as above). */
  test?: { unlearned: ConfidenceMatrix; retrained: ConfidenceMatrix; examples: number[] };
}

function check(p: ConfidencePopulations): void {
  const sets = [{ suffix: '', unlearned: p.unlearned, retrained: p.retrained, examples: p.examples }];
  if (p.test) sets.push({ suffix: '_test', ...p.test });
  for (const set of sets) {
    for (const [name, m, ids] of [
      [`unlearned${set.suffix}`, set.unlearned, p.unlearnedIds],
      [`retrained${set.suffix}`, set.retrained, p.retrainedIds],
    ] as const) {
      if (m.data.length !== m.models * m.examples)
        throw new RangeError(`${name}: data is not ${m.models} x ${m.examples}`);
      if (ids.length !== m.models) throw new RangeError(`${name}: ${ids.length} ids for ${m.models} models`);
      if (m.examples !== set.examples.length) {
        throw new RangeError(`${name}: ${m.examples} columns for ${set.examples.length} example indices`);
      }
    }
    if (!set.examples.every((i) => Number.isSafeInteger(i) && i >= 0)) {
      throw new RangeError('example indices must be non-negative integers');
    }
  }
}

export async function writeConfidences(path: string, p: ConfidencePopulations): Promise<void> {
  check(p);
  const tensor = (name: string, m: ConfidenceMatrix): NamedTensor => ({
    name,
    shape: [m.models, m.examples],
    data: Float64Array.from(m.data),
  });
  const tensors = [tensor('unlearned', p.unlearned), tensor('retrained', p.retrained)];
  if (p.test) tensors.push(tensor('unlearned_test', p.test.unlearned), tensor('retrained_test', p.test.retrained));
  await writeSafetensors(path, tensors, {
    format: CONFIDENCE_FILE_FORMAT,
    unlearned_ids: JSON.stringify(p.unlearnedIds),
    retrained_ids: JSON.stringify(p.retrainedIds),
    examples: JSON.stringify(p.examples),
    ...(p.test ? { test_examples: JSON.stringify(p.test.examples) } : {}),
  });
}

function parseList<T>(path: string, metadata: Record<string, string>, key: string, ok: (v: unknown) => v is T): T[] {
  const text = metadata[key];
  if (text === undefined) throw new RangeError(`${path}: metadata "${key}" missing`);
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new RangeError(`${path}: metadata "${key}" is not JSON`);
  }
  if (!Array.isArray(value) || !value.every(ok)) throw new RangeError(`${path}: metadata "${key}" is not a list`);
  return value;
}

export async function readConfidences(path: string): Promise<ConfidencePopulations> {
  const { tensors, metadata = {} } = await readSafetensors(path);
  if (metadata.format !== CONFIDENCE_FILE_FORMAT) {
    throw new RangeError(`${path}: not a confidence file (format ${JSON.stringify(metadata.format)})`);
  }
  const isIndex = (v: unknown): v is number => typeof v === 'number';
  const matrix = (name: string): ConfidenceMatrix => {
    const t = tensors.get(name);
    if (!t || t.shape.length !== 2) throw new RangeError(`${path}: tensor "${name}" [models, examples] missing`);
    if (!(t.data instanceof Float64Array || t.data instanceof Float32Array)) {
      throw new RangeError(`${path}: tensor "${name}" is not F64 or F32`);
    }
    return { models: t.shape[0], examples: t.shape[1], data: Float64Array.from(t.data) };
  };
  const p: ConfidencePopulations = {
    unlearned: matrix('unlearned'),
    retrained: matrix('retrained'),
    unlearnedIds: parseList(path, metadata, 'unlearned_ids', (v): v is string => typeof v === 'string'),
    retrainedIds: parseList(path, metadata, 'retrained_ids', (v): v is string => typeof v === 'string'),
    examples: parseList(path, metadata, 'examples', isIndex),
  };
  if (tensors.has('unlearned_test') || tensors.has('retrained_test') || metadata.test_examples !== undefined) {
    p.test = {
      unlearned: matrix('unlearned_test'),
      retrained: matrix('retrained_test'),
      examples: parseList(path, metadata, 'test_examples', isIndex),
    };
  }
  check(p);
  return p;
}
