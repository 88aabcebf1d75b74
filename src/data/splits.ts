// Validation hold-out, forget/retain sets and random labels (docs/method.md section 2). All indices
// count in the official training set in file order; every draw is reproducible from its seed.

import { readFileSync } from 'node:fs';
import { DataError } from './errors.js';
import { Rng, randomInt, sampleWithoutReplacement } from './random.js';

// Stream keys, so one seed used for several draws gives independent streams.
const STREAM_VALIDATION = 0x76616c; // 'val'
const STREAM_FORGET = 0x666f72; // 'for'
const STREAM_RANDOM_LABELS = 0x726c62; // 'rlb'

function ascending(values: ArrayLike<number>): Int32Array {
  return Int32Array.from(values).sort();
}

/** Indices of each class, in file order. */
function indicesByClass(labels: Int32Array, classes: number, among?: Int32Array): number[][] {
  const byClass: number[][] = Array.from({ length: classes }, () => []);
  const positions = among ?? labels.keys();
  for (const i of positions) {
    const label = labels[i];
    if (!(label >= 0 && label < classes))
      throw new DataError(`label ${label} at index ${i} is outside 0..${classes - 1}`);
    byClass[label].push(i);
  }
  return byClass;
}

/**
 * Per-class validation hold-out (SalUn): floor(fraction * size of the class) indices of each class,
 * drawn with the seed, go to `val`; the rest is the training `pool`. Rounding down follows SalUn's
 * int(0.1 * len(class)); a 1e-9 slack keeps products like 0.29 * 100 = 28.999999999999996 at 29.
 */
export function splitValidation(
  labels: Int32Array,
  classes: number,
  fraction: number,
  seed: number,
): { pool: Int32Array; val: Int32Array } {
  if (!(fraction >= 0 && fraction < 1)) throw new DataError(`validation fraction must be in [0, 1), got ${fraction}`);
  const rng = new Rng(seed, STREAM_VALIDATION);
  const inVal = new Uint8Array(labels.length);
  for (const members of indicesByClass(labels, classes)) {
    const count = Math.floor(fraction * members.length + 1e-9);
    for (const j of sampleWithoutReplacement(rng, members.length, count)) inVal[members[j]] = 1;
  }
  const pool: number[] = [];
  const val: number[] = [];
  inVal.forEach((flag, i) => {
    (flag ? val : pool).push(i);
  });
  return { pool: Int32Array.from(pool), val: Int32Array.from(val) };
}

export type ForgetSpec =
  | { kind: 'random'; count: number; unit: 'images' | 'percent' } // random:N or random:P%
  | { kind: 'class'; classIndex: number; count: number | null } // class:C (all) or class:C:N
  | { kind: 'file'; path: string }; // file:PATH

const FORGET_SYNTAX = 'expected random:N, random:P%, class:C, class:C:N or file:PATH';

function parseCount(text: string, spec: string, what: string, min: number): number {
  if (text === '') throw new DataError(`forget set '${spec}': ${what} is missing (${FORGET_SYNTAX})`);
  if (!/^\d+$/.test(text))
    throw new DataError(`forget set '${spec}': ${what} '${text}' is not a whole number (${FORGET_SYNTAX})`);
  const value = Number(text);
  if (value < min) throw new DataError(`forget set '${spec}': ${what} must be at least ${min}`);
  return value;
}

export function parseForgetSpec(spec: string): ForgetSpec {
  const colon = spec.indexOf(':');
  const kind = colon < 0 ? spec : spec.slice(0, colon);
  const rest = colon < 0 ? '' : spec.slice(colon + 1);
  switch (kind) {
    case 'random': {
      const percent = rest.endsWith('%');
      if (percent) {
        const value = Number(rest.slice(0, -1));
        if (rest.length < 2 || !Number.isFinite(value) || value <= 0 || value > 100) {
          throw new DataError(`forget set '${spec}': percentage must be in (0, 100]`);
        }
        return { kind: 'random', count: value, unit: 'percent' };
      }
      return { kind: 'random', count: parseCount(rest, spec, 'count', 1), unit: 'images' };
    }
    case 'class': {
      const parts = rest.split(':');
      if (parts.length > 2) throw new DataError(`forget set '${spec}': too many fields (${FORGET_SYNTAX})`);
      const classIndex = parseCount(parts[0], spec, 'class', 0);
      const count = parts.length === 2 ? parseCount(parts[1], spec, 'count', 1) : null;
      return { kind: 'class', classIndex, count };
    }
    case 'file':
      if (rest === '') throw new DataError(`forget set '${spec}': missing path (${FORGET_SYNTAX})`);
      return { kind: 'file', path: rest };
    default:
      throw new DataError(`forget set '${spec}': unknown kind '${kind}' (${FORGET_SYNTAX})`);
  }
}

export interface ForgetContext {
  labels: Int32Array; // training labels, file order
  pool: Int32Array; // from splitValidation
  val: Int32Array;
  classes: number;
  seed: number;
}

export interface ForgetSplit {
  forget: Int32Array; // ascending
  retain: Int32Array; // pool minus forget, ascending
  forgetClass: number | null; // set when a whole class is forgotten
}

export function resolveForgetSet(spec: ForgetSpec | string, ctx: ForgetContext): ForgetSplit {
  const parsed = typeof spec === 'string' ? parseForgetSpec(spec) : spec;
  const forget = ascending(pickForget(parsed, ctx));
  const inForget = new Uint8Array(ctx.labels.length);
  for (const i of forget) inForget[i] = 1;
  const retain = ctx.pool.filter((i) => !inForget[i]).sort();
  return { forget, retain, forgetClass: wholeClassForgotten(parsed, ctx, inForget) };
}

function pickForget(spec: ForgetSpec, ctx: ForgetContext): Int32Array {
  const rng = new Rng(ctx.seed, STREAM_FORGET);
  switch (spec.kind) {
    case 'random': {
      const count = spec.unit === 'percent' ? Math.round((spec.count / 100) * ctx.pool.length) : spec.count;
      if (count < 1 || count > ctx.pool.length) {
        throw new DataError(
          `forget set random:${spec.count}${spec.unit === 'percent' ? '%' : ''}: needs ${count} images, the training pool holds ${ctx.pool.length}`,
        );
      }
      return sampleWithoutReplacement(rng, ctx.pool.length, count).map((j) => ctx.pool[j]);
    }
    case 'class': {
      const members = classMembers(spec.classIndex, ctx);
      if (spec.count === null) return Int32Array.from(members);
      if (spec.count > members.length) {
        throw new DataError(
          `forget set class:${spec.classIndex}:${spec.count}: the training pool holds only ${members.length} images of class ${spec.classIndex}`,
        );
      }
      return sampleWithoutReplacement(rng, members.length, spec.count).map((j) => members[j]);
    }
    case 'file':
      return validateForgetIndices(readIndexFile(spec.path), spec.path, ctx);
  }
}

function classMembers(classIndex: number, ctx: ForgetContext): number[] {
  if (classIndex >= ctx.classes)
    throw new DataError(`forget set: class ${classIndex} is outside 0..${ctx.classes - 1}`);
  const members = indicesByClass(ctx.labels, ctx.classes, ctx.pool)[classIndex];
  if (members.length === 0) throw new DataError(`forget set: the training pool holds no images of class ${classIndex}`);
  return members;
}

/** The class whose every pool image is forgotten (class:C, or class:C:N with N = all of them). */
function wholeClassForgotten(spec: ForgetSpec, ctx: ForgetContext, inForget: Uint8Array): number | null {
  if (spec.kind !== 'class') return null;
  const all = classMembers(spec.classIndex, ctx).every((i) => inForget[i]);
  return all ? spec.classIndex : null;
}

/** A JSON array of integers, or one integer per line (blank lines and # comments ignored). */
export function readIndexFile(path: string): number[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (err) {
    throw new DataError(
      `forget index file ${path}: cannot read (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  }
  if (text.trimStart().startsWith('[')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch (err) {
      throw new DataError(`forget index file ${path}: invalid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(parsed)) throw new DataError(`forget index file ${path}: expected a JSON array of integers`);
    parsed.forEach((v, k) => {
      if (!Number.isSafeInteger(v))
        throw new DataError(`forget index file ${path}: element ${k} (${JSON.stringify(v)}) is not an integer`);
    });
    return parsed as number[];
  }
  const indices: number[] = [];
  text.split(/\r?\n/).forEach((raw, lineNo) => {
    const line = raw.replace(/#.*/, '').trim();
    if (line === '') return;
    if (!/^-?\d+$/.test(line))
      throw new DataError(`forget index file ${path}: line ${lineNo + 1} ('${raw.trim()}') is not an integer`);
    indices.push(Number(line));
  });
  return indices;
}

function validateForgetIndices(indices: number[], path: string, ctx: ForgetContext): Int32Array {
  if (indices.length === 0) throw new DataError(`forget index file ${path}: holds no indices`);
  const n = ctx.labels.length;
  const inVal = new Uint8Array(n);
  for (const i of ctx.val) inVal[i] = 1;
  const inPool = new Uint8Array(n);
  for (const i of ctx.pool) inPool[i] = 1;
  const seen = new Uint8Array(n);
  for (const i of indices) {
    if (i < 0 || i >= n)
      throw new DataError(
        `forget index file ${path}: index ${i} is out of range (the training set has ${n} images, 0..${n - 1})`,
      );
    if (inVal[i]) {
      throw new DataError(
        `forget index file ${path}: index ${i} is in the validation hold-out (seed ${ctx.seed}); ` +
          `only training-pool images can be forgotten`,
      );
    }
    if (!inPool[i]) throw new DataError(`forget index file ${path}: index ${i} is not in the training pool`);
    if (seen[i]) throw new DataError(`forget index file ${path}: index ${i} appears more than once`);
    seen[i] = 1;
  }
  return Int32Array.from(indices);
}

/** Test positions to evaluate: all of them, or those not of the forgotten class. */
export function testIndicesFor(testLabels: Int32Array, forgetClass: number | null): Int32Array {
  const kept: number[] = [];
  testLabels.forEach((label, i) => {
    if (label !== forgetClass) kept.push(i);
  });
  return Int32Array.from(kept);
}

/** Uniform labels in [0, classes) (may equal the true label), one stream per (seed, epoch). */
export function randomLabels(count: number, classes: number, seed: number, epoch: number): Int32Array {
  const rng = new Rng(seed, STREAM_RANDOM_LABELS, epoch);
  const labels = new Int32Array(count);
  for (let i = 0; i < count; i++) labels[i] = randomInt(rng, classes);
  return labels;
}
