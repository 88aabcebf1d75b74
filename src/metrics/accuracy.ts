// Per-sample quantities of a classifier's output. Logits are row-major [n, classes] float32;
// everything derived from them is computed in float64.

export type Labels = ArrayLike<number>;

// Logarithms are floored at log(1e-30), as in Song & Mittal's and SalUn's code, so that a
// probability of exactly 0 or 1 gives a large finite feature instead of an infinite one.
const LOG_FLOOR = Math.log(1e-30);

function rowCount(logits: Float32Array, classes: number): number {
  if (!Number.isInteger(classes) || classes < 1)
    throw new RangeError(`classes must be a positive integer, got ${classes}`);
  if (logits.length % classes !== 0) {
    throw new RangeError(`${logits.length} logits is not a whole number of rows of ${classes} classes`);
  }
  return logits.length / classes;
}

function checkLabels(labels: Labels, n: number, classes: number): void {
  if (labels.length !== n) throw new RangeError(`${labels.length} labels for ${n} samples`);
  for (let i = 0; i < n; i++) {
    const y = labels[i]!;
    if (!Number.isInteger(y) || y < 0 || y >= classes)
      throw new RangeError(`label ${y} of sample ${i} is not in [0, ${classes})`);
  }
}

/** Log-probabilities of row `row` into `out`, shifted by the row maximum so exp() cannot overflow. */
function logSoftmaxRow(logits: Float32Array, row: number, classes: number, out: Float64Array): void {
  const base = row * classes;
  let max = -Infinity;
  for (let c = 0; c < classes; c++) max = Math.max(max, logits[base + c]!);
  let sum = 0;
  for (let c = 0; c < classes; c++) sum += Math.exp(logits[base + c]! - max);
  const logSum = Math.log(sum);
  for (let c = 0; c < classes; c++) out[c] = logits[base + c]! - max - logSum;
}

/** Applies `perRow(logProbs, row)` to every row's log-probabilities. */
function mapRows(
  logits: Float32Array,
  classes: number,
  perRow: (logProbs: Float64Array, row: number) => number,
): Float64Array {
  const n = rowCount(logits, classes);
  const logProbs = new Float64Array(classes);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    logSoftmaxRow(logits, i, classes, logProbs);
    out[i] = perRow(logProbs, i);
  }
  return out;
}

/** Index of the largest logit per row; the first one on ties. */
export function argmax(logits: Float32Array, classes: number): Int32Array {
  const n = rowCount(logits, classes);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (logits[i * classes + c]! > logits[i * classes + best]!) best = c;
    out[i] = best;
  }
  return out;
}

/** 1 where the top-1 prediction is the label, else 0. */
export function correctness(logits: Float32Array, labels: Labels, classes: number): Float64Array {
  const predicted = argmax(logits, classes);
  checkLabels(labels, predicted.length, classes);
  return Float64Array.from(predicted, (p, i) => (p === labels[i] ? 1 : 0));
}

/** Top-1 accuracy in percent. */
export function accuracy(logits: Float32Array, labels: Labels, classes: number): number {
  const correct = correctness(logits, labels, classes);
  if (correct.length === 0) throw new RangeError('accuracy of an empty set is undefined');
  return (100 * correct.reduce((sum, c) => sum + c, 0)) / correct.length;
}

/** Row-wise softmax probabilities, [n, classes]. */
export function softmax(logits: Float32Array, classes: number): Float64Array {
  const n = rowCount(logits, classes);
  const logProbs = new Float64Array(classes);
  const out = new Float64Array(logits.length);
  for (let i = 0; i < n; i++) {
    logSoftmaxRow(logits, i, classes, logProbs);
    for (let c = 0; c < classes; c++) out[i * classes + c] = Math.exp(logProbs[c]!);
  }
  return out;
}

/** Probability of the true class. */
export function confidence(logits: Float32Array, labels: Labels, classes: number): Float64Array {
  checkLabels(labels, rowCount(logits, classes), classes);
  return mapRows(logits, classes, (logProbs, i) => Math.exp(logProbs[labels[i]!]!));
}

/** Shannon entropy of the predicted distribution, in nats. */
export function entropy(logits: Float32Array, classes: number): Float64Array {
  return mapRows(logits, classes, (logProbs) => {
    let h = 0;
    for (const logP of logProbs) h -= Math.exp(logP) * Math.max(logP, LOG_FLOOR);
    return h;
  });
}

/**
 * Modified entropy (Song & Mittal 2021): -(1 - p_y) log p_y - sum_{i != y} p_i log(1 - p_i).
 * Unlike entropy it uses the label: low for confident correct predictions, high for confident wrong ones.
 */
export function modifiedEntropy(logits: Float32Array, labels: Labels, classes: number): Float64Array {
  checkLabels(labels, rowCount(logits, classes), classes);
  return mapRows(logits, classes, (logProbs, row) => {
    const y = labels[row]!;
    let m = 0;
    for (let c = 0; c < classes; c++) {
      const logP = logProbs[c]!;
      if (c === y) {
        m -= -Math.expm1(logP) * Math.max(logP, LOG_FLOOR); // expm1 keeps 1 - p_y exact near p_y = 1
      } else {
        m -= Math.exp(logP) * Math.max(Math.log1p(-Math.exp(logP)), LOG_FLOOR);
      }
    }
    return m;
  });
}
