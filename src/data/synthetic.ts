// The built-in synthetic data set (docs/method.md section 7): runs anywhere with no download, and is
// learnable but not trivially, so that a trained network memorizes part of its training set.
//
// Design. Every class owns PROTOTYPES_PER_CLASS smooth random colour patterns (periodic value
// noise on a 4x4 grid plus a finer 8x8 octave, each channel normalized to mean 0 and RMS 1).
// An image of class k is, in "signal units" before mapping to pixels:
//     a * (a prototype of k, circularly shifted by up to size/8 pixels)
//   + b * (a prototype of another class, shifted independently)        <- the distractor
//   + CLUTTER * (a fresh smooth pattern) + NOISE * (per-pixel noise)
// with a ~ U[OWN_MIN, 1] and b ~ U[0, DISTRACTOR_MAX], then a random contrast and brightness.
// When b comes close to or exceeds a the image looks like the distractor's class: those images are
// genuinely ambiguous, so test accuracy has a ceiling well below 100% whatever the model, while a
// network can still fit 100% of the training set by memorizing them (helped by the per-image
// clutter and noise, which make every image unique). That memorization is what random forgetting
// and membership inference measure. Labels are balanced within each split.
// Calibration (defaults, PyTorch CIFAR ResNet-18 at width 16, SGD 0.1 cosine, no augmentation):
// 100% train / 74% test after 10 epochs. DISTRACTOR_MAX 0.8 gave 99% / 80%, too close to easy.
//
// Only +, -, *, / and sqrt are used on floats (all correctly rounded in IEEE 754), so a seed gives
// the same bytes on every platform. Train and test draw from separate streams of the seed, so
// changing one size does not change the other split.

import { DataError } from './errors.js';
import type { ImageSet } from './image-set.js';
import { Rng, randomInt, shuffle } from './random.js';

export interface SyntheticOptions {
  trainSize?: number; // default 5000
  testSize?: number; // default 1000
  classes?: number; // default 10
  channels?: number; // default 3
  imageSize?: number; // default 32 (square images)
  seed?: number; // default 0
}

export interface SyntheticData {
  classes: number;
  train: ImageSet;
  test: ImageSet;
  options: Required<SyntheticOptions>;
}

export const SYNTHETIC_DEFAULTS: Readonly<Required<SyntheticOptions>> = {
  trainSize: 5000,
  testSize: 1000,
  classes: 10,
  channels: 3,
  imageSize: 32,
  seed: 0,
};

const PROTOTYPES_PER_CLASS = 3;
const COARSE_GRID = 4;
const FINE_GRID = 8;
const FINE_AMPLITUDE = 0.5;
const OWN_MIN = 0.45;
const DISTRACTOR_MAX = 0.9;
const CLUTTER = 0.6;
const NOISE = 0.5;
/** Pixel value = 128 + PIXEL_SCALE * contrast * signal + brightness. */
const PIXEL_SCALE = 36;
const CONTRAST_MIN = 0.7;
const CONTRAST_MAX = 1.3;
const BRIGHTNESS_MAX = 24;

// Stream keys: each use of the seed draws from its own stream.
const STREAM_PROTOTYPES = 1;
const STREAM_TRAIN = 2;
const STREAM_TEST = 3;

/** Per-axis bilinear lookup for a periodic grid of `grid` cells stretched over `size` pixels. */
interface AxisTable {
  i0: Int32Array;
  i1: Int32Array;
  t: Float64Array; // smoothstep-eased weight of i1
}

function axisTable(size: number, grid: number): AxisTable {
  const table = { i0: new Int32Array(size), i1: new Int32Array(size), t: new Float64Array(size) };
  for (let p = 0; p < size; p++) {
    const u = (p * grid) / size;
    const i = Math.floor(u);
    const f = u - i;
    table.i0[p] = i % grid;
    table.i1[p] = (i + 1) % grid; // wraps, so the pattern is periodic and shifts are seamless
    table.t[p] = f * f * (3 - 2 * f);
  }
  return table;
}

/** Adds amplitude * (periodic value noise with uniform [-1, 1] knots) to the size*size plane. */
function addValueNoise(
  plane: Float64Array,
  size: number,
  table: AxisTable,
  grid: number,
  amplitude: number,
  rng: Rng,
): void {
  const knots = new Float64Array(grid * grid);
  for (let k = 0; k < knots.length; k++) knots[k] = rng.nextFloat() * 2 - 1;
  for (let y = 0; y < size; y++) {
    const r0 = table.i0[y] * grid;
    const r1 = table.i1[y] * grid;
    const ty = table.t[y];
    for (let x = 0; x < size; x++) {
      const c0 = table.i0[x];
      const c1 = table.i1[x];
      const tx = table.t[x];
      const top = knots[r0 + c0] + (knots[r0 + c1] - knots[r0 + c0]) * tx;
      const bottom = knots[r1 + c0] + (knots[r1 + c1] - knots[r1 + c0]) * tx;
      plane[y * size + x] += amplitude * (top + (bottom - top) * ty);
    }
  }
}

/** Mean 0, RMS 1, so mixing weights mean the same for every pattern. */
function normalize(plane: Float64Array): void {
  let sum = 0;
  for (const v of plane) sum += v;
  const mean = sum / plane.length;
  let squares = 0;
  for (const v of plane) squares += (v - mean) * (v - mean);
  const scale = 1 / Math.sqrt(squares / plane.length || 1);
  for (let i = 0; i < plane.length; i++) plane[i] = (plane[i] - mean) * scale;
}

interface Generator {
  size: number;
  channels: number;
  classes: number;
  coarse: AxisTable;
  /** wrap[j] = j % size for j < 2 * size: circular shifts without a division per pixel. */
  wrap: Int32Array;
  /** prototypes[class][prototype]: channels planes of size*size, concatenated. */
  prototypes: Float64Array[][];
}

function makeGenerator(o: Required<SyntheticOptions>): Generator {
  const rng = new Rng(o.seed, STREAM_PROTOTYPES);
  const plane = o.imageSize * o.imageSize;
  const coarse = axisTable(o.imageSize, COARSE_GRID);
  const fine = axisTable(o.imageSize, FINE_GRID);
  const prototypes: Float64Array[][] = [];
  for (let k = 0; k < o.classes; k++) {
    const ofClass: Float64Array[] = [];
    for (let p = 0; p < PROTOTYPES_PER_CLASS; p++) {
      const proto = new Float64Array(o.channels * plane);
      for (let c = 0; c < o.channels; c++) {
        const channel = proto.subarray(c * plane, (c + 1) * plane);
        addValueNoise(channel, o.imageSize, coarse, COARSE_GRID, 1, rng);
        addValueNoise(channel, o.imageSize, fine, FINE_GRID, FINE_AMPLITUDE, rng);
        normalize(channel);
      }
      ofClass.push(proto);
    }
    prototypes.push(ofClass);
  }
  const wrap = new Int32Array(2 * o.imageSize).map((_, j) => j % o.imageSize);
  return { size: o.imageSize, channels: o.channels, classes: o.classes, coarse, wrap, prototypes };
}

/** The random choices behind one image (see the design note at the top). */
interface Recipe {
  own: Float64Array;
  ownWeight: number;
  ownDy: number;
  ownDx: number;
  distractor: Float64Array;
  distractorWeight: number;
  distractorDy: number;
  distractorDx: number;
  clutterKnots: Float64Array; // COARSE_GRID^2 uniform [-1, 1] knots per channel
  scale: number; // PIXEL_SCALE * contrast
  offset: number; // 128 + brightness
  noise: Uint32Array; // two triangular noise values per word
}

function drawRecipe(g: Generator, label: number, rng: Rng, recipe: Recipe): void {
  const maxShift = Math.max(1, Math.round(g.size / 8));
  const shift = (): number => (randomInt(rng, 2 * maxShift + 1) - maxShift + g.size) % g.size;
  const other = (label + 1 + randomInt(rng, g.classes - 1)) % g.classes;
  recipe.own = g.prototypes[label][randomInt(rng, PROTOTYPES_PER_CLASS)];
  recipe.ownWeight = OWN_MIN + (1 - OWN_MIN) * rng.nextFloat();
  recipe.ownDy = shift();
  recipe.ownDx = shift();
  recipe.distractor = g.prototypes[other][randomInt(rng, PROTOTYPES_PER_CLASS)];
  recipe.distractorWeight = DISTRACTOR_MAX * rng.nextFloat();
  recipe.distractorDy = shift();
  recipe.distractorDx = shift();
  for (let k = 0; k < recipe.clutterKnots.length; k++) recipe.clutterKnots[k] = rng.nextFloat() * 2 - 1;
  recipe.scale = PIXEL_SCALE * (CONTRAST_MIN + (CONTRAST_MAX - CONTRAST_MIN) * rng.nextFloat());
  recipe.offset = 128 + BRIGHTNESS_MAX * (2 * rng.nextFloat() - 1);
  rng.fillUint32(recipe.noise);
}

/** Writes one image from its recipe, in a single pass over the pixels. */
function renderImage(g: Generator, r: Recipe, out: Uint8Array, clutterRow: Float64Array): void {
  const { size, wrap } = g;
  const { i0, i1, t } = g.coarse;
  // Locals, so the hot loop reads no object fields.
  const { own, ownWeight, ownDx, distractor, distractorWeight, distractorDx, noise, scale, offset } = r;
  const plane = size * size;
  const noiseScale = NOISE / 255;
  for (let c = 0; c < g.channels; c++) {
    const knots = r.clutterKnots.subarray(c * COARSE_GRID * COARSE_GRID);
    for (let y = 0; y < size; y++) {
      // The clutter's knots interpolated to this row; columns interpolate between them below.
      for (let gx = 0; gx < COARSE_GRID; gx++) {
        const k0 = knots[i0[y] * COARSE_GRID + gx];
        clutterRow[gx] = k0 + (knots[i1[y] * COARSE_GRID + gx] - k0) * t[y];
      }
      const ownRow = c * plane + wrap[y + r.ownDy] * size;
      const distractorRow = c * plane + wrap[y + r.distractorDy] * size;
      const outRow = c * plane + y * size;
      for (let x = 0; x < size; x++) {
        const p = outRow + x;
        const clutter = clutterRow[i0[x]] + (clutterRow[i1[x]] - clutterRow[i0[x]]) * t[x];
        // Triangular noise: the sum of two random bytes, two values per 32-bit word.
        const bits = (p & 1) === 0 ? noise[p >>> 1] & 0xffff : noise[p >>> 1] >>> 16;
        const signal =
          ownWeight * own[ownRow + wrap[x + ownDx]] +
          distractorWeight * distractor[distractorRow + wrap[x + distractorDx]] +
          CLUTTER * clutter +
          noiseScale * ((bits & 0xff) + (bits >>> 8) - 255);
        out[p] = clampByte(offset + scale * signal);
      }
    }
  }
}

function clampByte(v: number): number {
  return v <= 0 ? 0 : v >= 255 ? 255 : Math.floor(v + 0.5);
}

function generateSplit(g: Generator, n: number, rng: Rng): ImageSet {
  const { size, channels, classes } = g;
  const pixels = channels * size * size;
  const images = new Uint8Array(n * pixels);
  const labels = new Int32Array(n);
  for (let i = 0; i < n; i++) labels[i] = i % classes; // balanced, then shuffled
  shuffle(labels, rng);

  const recipe: Recipe = {
    own: g.prototypes[0][0],
    ownWeight: 0,
    ownDy: 0,
    ownDx: 0,
    distractor: g.prototypes[0][0],
    distractorWeight: 0,
    distractorDy: 0,
    distractorDx: 0,
    clutterKnots: new Float64Array(channels * COARSE_GRID * COARSE_GRID),
    scale: 0,
    offset: 0,
    noise: new Uint32Array(Math.ceil(pixels / 2)),
  };
  const clutterRow = new Float64Array(COARSE_GRID);
  for (let i = 0; i < n; i++) {
    drawRecipe(g, labels[i], rng, recipe);
    renderImage(g, recipe, images.subarray(i * pixels, (i + 1) * pixels), clutterRow);
  }
  return { images, labels, n, channels, height: size, width: size };
}

function resolveOptions(opts: SyntheticOptions): Required<SyntheticOptions> {
  const o = { ...SYNTHETIC_DEFAULTS };
  for (const key of Object.keys(o) as (keyof SyntheticOptions)[]) o[key] = opts[key] ?? o[key];
  const positive: (keyof SyntheticOptions)[] = ['trainSize', 'testSize', 'channels', 'imageSize'];
  for (const key of positive) {
    if (!Number.isInteger(o[key]) || o[key] < 1)
      throw new DataError(`synthetic: ${key} must be a positive integer, got ${o[key]}`);
  }
  if (!Number.isInteger(o.classes) || o.classes < 2)
    throw new DataError(`synthetic: classes must be an integer >= 2, got ${o.classes}`);
  if (!Number.isSafeInteger(o.seed)) throw new DataError(`synthetic: seed must be an integer, got ${o.seed}`);
  return o;
}

export function generateSynthetic(opts: SyntheticOptions = {}): SyntheticData {
  const options = resolveOptions(opts);
  const g = makeGenerator(options);
  const train = generateSplit(g, options.trainSize, new Rng(options.seed, STREAM_TRAIN));
  const test = generateSplit(g, options.testSize, new Rng(options.seed, STREAM_TEST));
  return { classes: options.classes, train, test, options };
}
